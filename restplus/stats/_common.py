"""Input normalisation shared by every analysis: one validated polars frame, levels, references.

Every public function of :mod:`restplus.stats` accepts the long per-sample table described in
:mod:`restplus.schema` as a polars or pandas frame (or a pyarrow table). Only these columns are read:

- ``problem_id`` (cluster unit), ``modality`` (``text`` | ``image`` | ``mixed``), ``correct`` (bool);
- ``error`` when present: a row with an error is *missing* (a failed request), left out of every
  metric and counted (``n_missing``), see :mod:`restplus.stats.missing`;
- ``answer`` (extracted answer string, null when unparsed) for the consistency metrics;
- ``gate_passed`` (bool, null on text rows) when present;
- ``prompt_type`` when present: rows with ``prompt_type == "ocr"`` are dropped;
- the factor columns the caller names (level labels; cast to strings, null on text rows).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import polars as pl

from restplus.errors import AnalysisError, AnalysisWarning, did_you_mean, unknown_name
from restplus.schema import MODALITIES, level_label, match_level

from .missing import MISSING, missing_expr, missingness_frame

GatePolicy = Literal["exclude", "ignore", "covariate"]
GATE_POLICIES = ("exclude", "ignore", "covariate")
VISUAL = ("image", "mixed")


def warn(message: str, sink: list[str] | None = None) -> None:
    """Emit an :class:`AnalysisWarning` and record it in ``sink`` (kept on the result object)."""
    if sink is not None:
        sink.append(message)
    warnings.warn(message, AnalysisWarning, stacklevel=3)


_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_CHUNK = re.compile(r"(\d+)")


def natural_key(level: str) -> tuple[Any, ...]:
    """Sort key: numbers numerically ("50" < "100"), otherwise digit runs numerically ("f2" < "f10")."""
    if _NUM.match(level):
        return (0, float(level), level)
    parts = tuple(int(p) if p.isdigit() else p.lower() for p in _CHUNK.split(level))
    return (1, parts, level)


def to_polars(table: Any) -> pl.DataFrame:
    """Accept polars (eager or lazy), pandas or pyarrow; anything else is an :class:`AnalysisError`."""
    if isinstance(table, pl.DataFrame):
        return table
    if isinstance(table, pl.LazyFrame):
        return table.collect()
    mod = type(table).__module__.split(".")[0]
    if mod in ("pandas", "pyarrow"):
        return pl.from_pandas(table) if mod == "pandas" else pl.from_arrow(table)  # type: ignore[return-value]
    raise AnalysisError(
        f"Expected the per-sample table as a polars DataFrame, pandas DataFrame or pyarrow Table, got "
        f"{type(table).__name__}. Build it with polars.DataFrame(rows) or read it with polars.read_parquet()."
    )


def table_columns(table: Any) -> list[str]:
    """Column names of any accepted table type, without converting it."""
    if isinstance(table, pl.LazyFrame):
        return table.collect_schema().names()
    cols = getattr(table, "column_names", None) if not hasattr(table, "columns") else table.columns
    return [str(c) for c in (cols or [])]


def check_columns(df: pl.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        hints = "".join(did_you_mean(c, df.columns) for c in missing)
        raise AnalysisError(
            f"{what} needs column(s) {missing} that the table lacks.{hints} Columns present: "
            f"{', '.join(df.columns)}. See restplus.schema for the column contract."
        )


def check_factors(df: pl.DataFrame, factors: Sequence[str], *, allow_modality: bool = False) -> list[str]:
    if isinstance(factors, str):
        raise AnalysisError(f"factors must be a list of column names, got the string {factors!r}; "
                            f"write factors=[{factors!r}].")
    out = [str(f) for f in factors]
    dup = sorted({f for f in out if out.count(f) > 1})
    if dup:
        raise AnalysisError(f"factors lists {dup} more than once; give each factor column once.")
    for f in out:
        if f == "modality" and not allow_modality:
            raise AnalysisError(
                "'modality' is not a visual factor here: consistency compares modalities with each other. "
                "For a modality effect use effects(..., modality_as_factor=True)."
            )
        if f not in df.columns:
            raise unknown_name("factor column", f, df.columns)
    return out


def prepare(table: Any, factors: Sequence[str], *, what: str, need_answer: bool = False,
            extra: Sequence[str] = (), keep_missing: bool = False, sink: list[str] | None = None) -> pl.DataFrame:
    """Validate and narrow the table to the columns an analysis reads.

    Drops ``prompt_type == "ocr"`` rows, casts ``problem_id`` and factor columns to strings, and
    refuses nulls where they would silently change a result (``correct`` on an answered row; factor
    levels on image/mixed rows).

    Missing rows (a failed request: ``error`` set, see :mod:`restplus.stats.missing`) are announced
    with their count, tested for dependence on the factors (:class:`~restplus.errors.MissingnessWarning`)
    and dropped; with ``keep_missing=True`` they stay, flagged by a boolean ``_missing`` column with
    ``correct`` and ``answer`` null, for callers that count them per group (``n_missing``).
    """
    df = to_polars(table)
    need = ["problem_id", "modality", "correct", *(["answer"] if need_answer else [])]
    check_columns(df, need, what)
    factors = check_factors(df, factors)
    if "prompt_type" in df.columns:
        df = df.filter(pl.col("prompt_type").is_null() | (pl.col("prompt_type") != "ocr"))
    keep = [*need, *factors, *[c for c in ("gate_passed", "run", *extra) if c in df.columns and c not in need]]
    keep = list(dict.fromkeys([*keep, MISSING]))
    if df.height == 0:
        raise AnalysisError(f"{what}: the table has no rows (after dropping prompt_type == 'ocr' rows).")
    df = df.with_columns(missing_expr(df.columns).alias(MISSING))
    n_missing = int(df.get_column(MISSING).sum())
    if n_missing:
        warn(f"{n_missing} of {df.height} answer row(s) are missing (the request failed: error is set) and are "
             "left out of every metric; tables count them per group in n_missing. Re-run the run folder to retry "
             "them (failed requests are not cached).", sink)
        orders = level_orders(table, factors)
        missingness_frame(df, factors, by=[c for c in ("run", "model") if c in df.columns], sink=sink,
                          sort_key=lambda f: order_key(orders.get(f)))
        if n_missing == df.height:
            raise AnalysisError(f"{what}: every one of the {df.height} answer rows is missing (the request failed); "
                                "there is nothing to analyse. Check the error column for the cause.")
        # Older tables scored failed requests correct=False: null them so no count can use them.
        df = df.with_columns([pl.when(pl.col(MISSING)).then(None).otherwise(pl.col(c)).alias(c)
                              for c in ("correct", "answer") if c in df.columns])
    casts = [pl.col("problem_id").cast(pl.Utf8), pl.col("modality").cast(pl.Utf8),
             pl.col("correct").cast(pl.Boolean)]
    casts += [pl.col(f).cast(pl.Utf8) for f in factors]
    if "gate_passed" in keep:
        casts.append(pl.col("gate_passed").cast(pl.Boolean))
    if need_answer:
        casts.append(pl.col("answer").cast(pl.Utf8))
    df = df.select(keep).with_columns(casts)
    bad_mod = sorted(set(df.get_column("modality").drop_nulls().unique().to_list()) - set(MODALITIES))
    if bad_mod or df.get_column("modality").null_count():
        shown = bad_mod[0] if bad_mod else None
        hint = did_you_mean(str(shown), MODALITIES) if shown is not None else ""
        raise AnalysisError(f"modality must be one of {MODALITIES}; found {bad_mod or [None]}.{hint}")
    n_null = df.filter(~pl.col(MISSING) & pl.col("correct").is_null()).height
    if n_null:
        raise AnalysisError(
            f"{n_null} row(s) have correct = null but no error. In restplus an unparsed answer counts as wrong "
            "and a failed request is missing (error set). Mark failed requests in an 'error' column, or fill "
            "wrong answers explicitly: table.with_columns(pl.col('correct').fill_null(False))."
        )
    if factors:
        vis = df.filter(pl.col("modality") != "text")
        for f in factors:
            n = vis.get_column(f).null_count()
            if n:
                raise AnalysisError(
                    f"factor {f!r} is null on {n} image/mixed row(s); a visual factor needs a level on every "
                    f"image/mixed row. Fill it (e.g. pl.col({f!r}).fill_null('none')) or drop those rows."
                )
        txt = df.filter(pl.col("modality") == "text")
        set_on_text = [f for f in factors if txt.height and txt.get_column(f).null_count() < txt.height]
        if set_on_text:
            warn(f"factor level(s) {set_on_text} are set on text rows; visual factors do not apply to text, "
                 f"so those levels are ignored (text rows pair with every condition of their problem).")
            df = df.with_columns([pl.when(pl.col("modality") == "text").then(None).otherwise(pl.col(f)).alias(f)
                                  for f in set_on_text])
    return df if keep_missing else df.filter(~pl.col(MISSING)).drop(MISSING)


def check_gate_policy(policy: str) -> str:
    if policy not in GATE_POLICIES:
        raise unknown_name("gate_policy", policy, GATE_POLICIES)
    return policy


def level_orders(table: Any, factors: Sequence[str]) -> dict[str, list[str]]:
    """The grammar's level order of each factor column, where the table carries it.

    restplus writes factor columns as polars ``Enum`` (categories in spec order); pandas ordered
    categoricals carry the same. Columns without an order (plain strings from another harness) are
    absent from the result, and callers fall back to natural order.
    """
    out: dict[str, list[str]] = {}
    if isinstance(table, (pl.DataFrame, pl.LazyFrame)):
        schema = table.collect_schema() if isinstance(table, pl.LazyFrame) else table.schema
        for f in factors:
            dt = schema.get(f)
            if isinstance(dt, pl.Enum):
                out[f] = [str(c) for c in dt.categories.to_list()]
    elif type(table).__module__.split(".")[0] == "pandas":
        for f in factors:
            col = table[f] if f in table.columns else None
            cat = getattr(col, "cat", None) if col is not None and str(col.dtype) == "category" else None
            if cat is not None and cat.ordered:
                out[f] = [str(c) for c in cat.categories]
    elif type(table).__module__.split(".")[0] == "pyarrow":
        return level_orders(pl.from_arrow(table), factors)
    return out


def order_key(order: Sequence[str] | None) -> Any:
    """Sort key for labels of one factor: the grammar order when known, natural order otherwise."""
    rank = {lv: i for i, lv in enumerate(order or ())}
    return lambda v: (0, rank[v], "") if v in rank else (1, 0, natural_key(str(v)))


def factor_levels(df: pl.DataFrame, factors: Sequence[str],
                  orders: Mapping[str, Sequence[str]] | None = None) -> dict[str, list[str]]:
    """Levels of each factor seen on image/mixed rows: grammar order (``orders``, see
    :func:`level_orders`) when known, else natural order."""
    vis = df.filter(pl.col("modality") != "text")
    orders = orders or {}
    return {f: sorted(vis.get_column(f).drop_nulls().unique().to_list(), key=order_key(orders.get(f)))
            for f in factors}


def resolve_reference(levels: Mapping[str, list[str]], reference: Mapping[str, Any] | None,
                      sink: list[str] | None = None, columns: Sequence[str] = ()) -> dict[str, str]:
    """Reference level per factor: explicit ``reference`` first, else the first level in order.

    A reference may be written as the spec wrote it (``12``, ``12.0`` or ``"12"``): it is matched to the
    table's label by :func:`restplus.schema.match_level`.

    The implicit rule is announced with an :class:`AnalysisWarning` because the choice changes every
    contrast; pass ``reference={"dpi": "200", ...}`` to silence it. Keys naming other columns of the
    table (factors not analysed in this call) are allowed, so one reference dict can serve several
    analyses; any other key is an error (a typo would otherwise be ignored silently).
    """
    reference = dict(reference or {})
    unknown = [k for k in reference if k not in levels and k not in columns]
    if unknown:
        raise unknown_name("factor in reference", unknown[0], levels)
    out: dict[str, str] = {}
    implicit: list[str] = []
    for f, lv in levels.items():
        if f in reference:
            ref = match_level(reference[f], lv) if lv else level_label(reference[f])
            if ref is None:
                shown = level_label(reference[f])
                raise AnalysisError(
                    f"reference level {shown!r} of factor {f!r} is not among its levels {lv}."
                    f"{did_you_mean(str(shown), lv)}"
                )
            out[f] = ref
        elif lv:
            out[f] = lv[0]
            implicit.append(f"{f}={lv[0]!r}")
    if implicit:
        warn(f"no reference given for {', '.join(implicit)}: using the first level in order. "
             f"Pass reference={{...}} to choose (e.g. the paper's 200 dpi, black, DejaVu Sans).", sink)
    return out


def ensure_single_model(df_raw: Any, by: Sequence[str], what: str) -> None:
    """Refuse a table that mixes models, or runs, when the analysis is per model or run (rows would be
    mistaken for repeated samples of one model, and two runs of one model silently pooled)."""
    df = df_raw
    if "model" in df.columns and "model" not in by and "run" not in by:
        models = df.get_column("model").unique().drop_nulls().to_list()
        if len(models) > 1:
            shown = ", ".join(map(str, sorted(models)[:5]))
            raise AnalysisError(
                f"{what}: the table mixes {len(models)} models ({shown}). Analyse one model at a time "
                f"(table.filter(pl.col('model') == ...)) or pass by=['run'] where the function accepts it."
            )
    if "run" in df.columns and "run" not in by:
        keys = [b for b in by if b in df.columns]
        per = (df.group_by(keys).agg(pl.col("run").drop_nulls().unique().alias("_runs")) if keys
               else df.select(pl.col("run").drop_nulls().unique().implode().alias("_runs")))
        mixed = per.filter(pl.col("_runs").list.len() > 1)
        if mixed.height:
            runs = sorted(map(str, mixed.get_column("_runs")[0].to_list()))
            raise AnalysisError(
                f"{what}: the table mixes {len(runs)} runs ({', '.join(runs[:5])}) in one analysis. Analyse one run "
                "at a time (table.filter(pl.col('run') == ...)), pass by=['run'] where the function accepts it, or "
                "pool them on purpose: rp.read_runs(..., pool=True) / rp.concat_results(..., pool=True) "
                "(CLI: --pool).")


def z_value(ci: float) -> float:
    from scipy.stats import norm

    if not 0 < ci < 1:
        raise AnalysisError(f"ci must be a coverage level in (0, 1) such as 0.95, got {ci!r}.")
    return float(norm.ppf(0.5 + ci / 2))
