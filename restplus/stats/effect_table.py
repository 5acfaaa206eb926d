"""EffectTable: the tidy result of :func:`restplus.stats.factor_effects` and its renderings."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from . import _format as fmt

EFFECT_COLUMNS = ("term", "level", "reference", "n", "n_problems", "acc_level", "acc_reference", "delta",
                  "delta_ci_low", "delta_ci_high", "odds_ratio", "or_ci_low", "or_ci_high", "z", "p", "p_adj",
                  "dist", "df_denom", "note")
TEST_COLUMNS = ("term", "df", "chi2", "p", "dist", "df_denom", "note")

_HEADERS = ("Term", "Level", "Ref.", "n", "Acc. level (%)", "Acc. ref. (%)", "Delta (pp) [95% CI]",
            "OR [95% CI]", "p (adj.)")
_ALIGN = "lllrrrrrr"
_TEST_HEADERS = ("Term", "df", "chi2", "p", "Note")


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
    - ``delta_ci_low``, ``delta_ci_high``: delta-method interval from the cluster-robust covariance;
    - ``odds_ratio``, ``or_ci_low``, ``or_ci_high``: exp(coefficient) and its Wald interval. With
      interactions in the model a main-effect OR is conditional on the other factors at reference;
      an interaction OR is a ratio of odds ratios. Null under the LPM fallback;
    - ``z``, ``p``: Wald test of the coefficient (log odds ratio = 0); under the LPM fallback, of the
      row's delta itself. ``p_adj``: adjusted over all rows of the table (``correction``);
    - ``note``: null for a plain logit row; under the separation fallback ``"LPM fallback (...)"``,
      extended when the row is an exact comparison (matched observed contrast, cluster-bootstrap CI,
      sign test over problems; ``z`` null) because even the LPM SE of its contrast collapsed.

    ``tests`` columns: ``term``, ``df``, ``chi2`` (joint Wald test that all coefficients of the term
    are 0; under the LPM a singular block is tested on its varying directions, with ``df`` their
    number, or replaced by a Friedman/sign test over problems, or left null, as the note says), ``p``,
    ``note``.

    ``method`` is ``"gee-logit"``, ``"fe-logit"``, ``"logit"`` (a single problem), or with a fallback
    ``"gee-lpm (separation fallback)"`` / ``"gee-lpm (degenerate-fit fallback)"`` (``"lpm (...)"`` for a
    single problem); see :mod:`restplus.stats.factor_effects`.
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
        return (f"{self.method}, {self.cov_type} SE, gate_policy={self.gate_policy}, p adjusted: "
                f"{self.correction}; n_obs={self.n_obs}, n_problems={self.n_problems}")

    def _test_rows(self) -> list[list[str]]:
        return [[r["term"], str(r["df"]), fmt.num(r["chi2"], 2), fmt.pvalue(r["p"]), r["note"] or ""]
                for r in self.tests.iter_rows(named=True)]

    def to_markdown(self, path: str | os.PathLike[str] | None = None) -> str:
        """Markdown: the effect table, the joint tests, notes and warnings. Written to ``path`` if given."""
        parts = [f"**Factor effects** ({self._caption()})\n\n`{self.formula}`\n",
                 fmt.markdown(_HEADERS, self._rows(), _ALIGN)]
        if self.tests.height:
            parts.append("\n**Joint Wald tests**\n\n" + fmt.markdown(_TEST_HEADERS, self._test_rows(),
                                                                     "lrrrl"))
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
        return _write(fmt.latex(_HEADERS, self._rows(), _ALIGN, comment=self._caption()), path)

    def tests_to_latex(self, path: str | os.PathLike[str] | None = None) -> str:
        return _write(fmt.latex(_TEST_HEADERS, self._test_rows(), "lrrrl",
                                comment="joint Wald tests; " + self._caption()), path)

    def __str__(self) -> str:
        head = f"EffectTable: {self._caption()}\n{self.formula}\n"
        body = fmt.fixed_width(_HEADERS, self._rows(), _ALIGN)
        tests = fmt.fixed_width(_TEST_HEADERS, self._test_rows(), "lrrrl") if self.tests.height else ""
        warn = "".join(f"warning: {w}\n" for w in self.warnings)
        return head + body + ("\nJoint Wald tests\n" + tests if tests else "") + warn

    def __repr__(self) -> str:
        return (f"EffectTable(method={self.method!r}, rows={self.frame.height}, n_obs={self.n_obs}, "
                f"n_problems={self.n_problems}, gate_policy={self.gate_policy!r}, warnings={len(self.warnings)})")


def _write(text: str, path: str | os.PathLike[str] | None) -> str:
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(text, encoding="utf-8")
    return text
