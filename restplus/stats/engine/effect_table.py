"""EffectTable: the tidy result of :func:`restplus.stats.engine.factorial` and its renderings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from .. import _format as fmt
from .small_sample import ROW_EXACT, TEST_CHI2, TEST_EXACT, TEST_F, TEST_FRIEDMAN, TEST_HOTELLING

EFFECT_COLUMNS = ("term", "level", "reference", "n", "n_problems", "acc_level", "acc_reference", "delta",
                  "delta_ci_low", "delta_ci_high", "odds_ratio", "or_ci_low", "or_ci_high", "z", "p", "p_adj",
                  "p_coef", "p_coef_adj", "dist", "df_denom", "note")
TEST_COLUMNS = ("term", "df", "chi2", "p", "dist", "df_denom", "note")

_HEADERS = ("Term", "Level", "Ref.", "n", "Acc. level (%)", "Acc. ref. (%)", "Delta (pp) [95% CI]",
            "OR [95% CI]", "p (adj.)")
_ALIGN = "lllrrrrrr"
_TEST_HEADERS = ("Term", "df", "chi2", "Reference", "p", "Note")
_TEST_ALIGN = "lrrlrl"


@dataclass(frozen=True, slots=True, eq=False)
class EffectTable:
    """Factor effects on accuracy, one row per non-reference level (and interaction cell).

    ``frame`` columns:

    - ``term``: factor name, or factors joined by ``:`` for an interaction;
    - ``level`` / ``reference``: the level compared and the reference (``:``-joined for interactions);
    - ``n``, ``n_problems``: rows and problems at the level (interaction: at the level combination);
    - ``acc_level``, ``acc_reference``: observed accuracy at the level and at the reference
      (interaction: at the combination and at all-reference);
    - ``delta``: average marginal difference in predicted accuracy, level minus reference, averaged
      over the analysed rows with the other factors as observed (a share; x100 for points). For an
      interaction: the difference of differences (p_lm - p_l0 - p_0m + p_00);
    - ``delta_ci_low``, ``delta_ci_high``: delta-method interval from the cluster-robust covariance,
      with the critical value of the row's reference distribution (``dist``);
    - ``odds_ratio``, ``or_ci_low``, ``or_ci_high``: exp(coefficient) and its Wald interval (same
      critical value). With interactions in the model a main-effect OR is conditional on the other
      factors at reference; an interaction OR is a ratio of odds ratios. Null under the LPM fallback;
    - ``z``, ``p``: Wald statistic (delta / its delta-method SE; named ``z`` whatever its reference)
      and two-sided p-value that the row's delta is 0: the same estimand and covariance as the delta
      CI, so ``p < 1 - ci`` exactly when the CI excludes 0. ``p_adj``: adjusted over all rows of the
      table (``correction``);
    - ``p_coef``, ``p_coef_adj``: Wald test of the coefficient (logit: log odds ratio = 0; LPM: the
      linear coefficient), same reference, and its adjustment over the table. Without interactions
      it tests the same hypothesis as ``p`` on another scale; with interactions a main-effect
      coefficient is conditional on the other factors at reference (not the averaged ``delta``);
    - ``dist``: reference distribution of ``p`` and the interval: ``"t(G-1)"`` for a cluster-robust
      fit (G = problems, or informative problems for ``fe-logit``; any G, so large tables are as
      with the normal), ``"normal"`` for a model-based covariance (a single problem, ``cov_type=
      "naive"``), ``"exact"`` for an exact row (sign test, bootstrap CI), null when no p is reported.
      See :mod:`restplus.stats.engine.small_sample`;
    - ``df_denom``: the t degrees of freedom G - 1 (null unless ``dist == "t(G-1)"``);
    - ``note``: null for a plain logit row; under the separation fallback ``"LPM fallback (...)"``,
      extended when the row is an exact comparison (matched observed contrast, cluster-bootstrap CI,
      sign test over problems; ``z`` null) because even the LPM SE of its contrast collapsed.

    ``tests`` columns: ``term``, ``df`` (q, the number of restrictions), ``chi2`` (the joint Wald
    statistic that all coefficients of the term are 0; under the LPM a singular block is tested on
    its varying directions, with ``df`` their number, or replaced by a Friedman/sign test over
    problems, or left null, as the note says), ``p``, ``dist`` (``"F(q,G-q)"``: p from the
    Hotelling-type F = (G - q) / ((G - 1) q) * chi2 on (df, df_denom = G - q), for a cluster-robust
    fit with G > q problems; ``"F(q,G-1)"``: F = chi2 / q on (df, G - 1), only when G <= q;
    ``"chi2"``: p from chi2(df), for a
    model-based covariance; ``"exact"``: sign test over problems, chi2 null; ``"friedman"``: Friedman
    test over problems, ``chi2`` its statistic; null when not tested), ``df_denom`` (G - q or G - 1 for
    the F references, else null), ``note``.

    ``method`` is ``"gee-logit"``, ``"fe-logit"``, ``"logit"`` (a single problem), or with a fallback
    ``"gee-lpm (separation fallback)"`` / ``"gee-lpm (degenerate-fit fallback)"`` (``"lpm (...)"`` for a
    single problem); see :mod:`restplus.stats.engine.factorial`.
    """

    frame: pl.DataFrame
    tests: pl.DataFrame
    method: str
    formula: str
    correction: str
    gate_policy: str
    cov_type: str
    n_obs: int
    n_problems: int
    n_excluded: int
    reference: tuple[tuple[str, str], ...]
    warnings: tuple[str, ...] = ()

    def _rows(self) -> list[list[str]]:
        out = []
        for r in self.frame.iter_rows(named=True):
            out.append([r["term"], r["level"], r["reference"], str(r["n"]), fmt.pct(r["acc_level"]),
                        fmt.pct(r["acc_reference"]),
                        fmt.interval(r["delta"], r["delta_ci_low"], r["delta_ci_high"], 1, 100.0),
                        fmt.interval(r["odds_ratio"], r["or_ci_low"], r["or_ci_high"], 2),
                        fmt.pvalue(r["p_adj"]) + ("*" if r["note"] else "")])
        return out

    def _caption(self) -> str:
        return (f"{self.method}, {self.cov_type} SE, {self._reference()}, gate_policy={self.gate_policy}, "
                f"p adjusted: {self.correction}; n_obs={self.n_obs}, n_problems={self.n_problems}")

    def _reference(self) -> str:
        """The model rows' reference distribution, e.g. 't(23) reference' (exact rows carry notes)."""
        model = self.frame.filter(pl.col("dist").is_not_null() & (pl.col("dist") != ROW_EXACT))
        if model.height == 0:
            return "exact tests" if self.frame.height else "no rows"
        kinds = sorted({"normal" if d is None else f"t({d})" for d in model.get_column("df_denom").to_list()})
        return "/".join(kinds) + " reference"

    def _test_rows(self) -> list[list[str]]:
        return [[r["term"], str(r["df"]), fmt.num(r["chi2"], 2), _test_reference(r), fmt.pvalue(r["p"]),
                 r["note"] or ""] for r in self.tests.iter_rows(named=True)]

    def to_markdown(self, path: str | os.PathLike[str] | None = None) -> str:
        """Markdown: the effect table, the joint tests, notes and warnings. Written to ``path`` if given."""
        parts = [f"**Factor effects** ({self._caption()})\n\n`{self.formula}`\n",
                 fmt.markdown(_HEADERS, self._rows(), _ALIGN)]
        if self.tests.height:
            parts.append("\n**Joint Wald tests**\n\n" + fmt.markdown(_TEST_HEADERS, self._test_rows(),
                                                                     _TEST_ALIGN))
        notes = [f"- {r['term']} {r['level']}: {r['note']}" for r in self.frame.iter_rows(named=True) if r["note"]]
        if notes:
            parts.append("\n\\* rows with a note:\n\n" + "\n".join(notes) + "\n")
        if self.warnings:
            parts.append("\nWarnings:\n\n" + "\n".join(f"- {w}" for w in self.warnings) + "\n")
        return _write("\n".join(parts), path)

    def to_csv(self, path: str | os.PathLike[str] | None = None) -> str:
        """CSV of ``frame`` (every column, full precision)."""
        return _write(self.frame.write_csv(), path)

    def to_latex(self, path: str | os.PathLike[str] | None = None) -> str:
        """A booktabs ``tabular`` for ``\\input`` (needs ``\\usepackage{booktabs}``)."""
        legend = ("* row with a note (fallback or exact comparison; see the Markdown table's notes)"
                  if self.frame.get_column("note").drop_nulls().len() else "")
        return _write(fmt.latex(_HEADERS, self._rows(), _ALIGN, comment=self._caption(), legend=legend), path)

    def tests_to_latex(self, path: str | os.PathLike[str] | None = None) -> str:
        return _write(fmt.latex(_TEST_HEADERS, self._test_rows(), _TEST_ALIGN,
                                comment="joint Wald tests; " + self._caption()), path)

    def __str__(self) -> str:
        head = f"EffectTable: {self._caption()}\n{self.formula}\n"
        body = fmt.fixed_width(_HEADERS, self._rows(), _ALIGN)
        tests = fmt.fixed_width(_TEST_HEADERS, self._test_rows(), _TEST_ALIGN) if self.tests.height else ""
        warn = "".join(f"warning: {w}\n" for w in self.warnings)
        return head + body + ("\nJoint Wald tests\n" + tests if tests else "") + warn

    def __repr__(self) -> str:
        return (f"EffectTable(method={self.method!r}, rows={self.frame.height}, n_obs={self.n_obs}, "
                f"n_problems={self.n_problems}, gate_policy={self.gate_policy!r}, warnings={len(self.warnings)})")


def _test_reference(r: dict[str, object]) -> str:
    """How a joint test's p was obtained, e.g. 'F(2, 23)', 'chi2(2)', 'sign test', 'Friedman'."""
    kind = r["dist"]
    if kind in (TEST_F, TEST_HOTELLING):
        return f"F({r['df']}, {r['df_denom']})"
    if kind == TEST_CHI2:
        return f"chi2({r['df']})"
    return {TEST_EXACT: "sign test", TEST_FRIEDMAN: "Friedman"}.get(str(kind), "")


def _write(text: str, path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
