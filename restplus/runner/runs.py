"""Several runs in one long table, never silently pooled.

Every run folder has a unique ``run_id`` and a name (``run`` column; ``restplus run --name``, default
the folder name). :func:`concat_results` and :func:`read_runs` refuse the same run twice (its rows
would count double) and two different runs under one name (two experiments would share a label).
Analyses key by ``run``, so two runs of one model are two rows of every table; ``pool=True`` is the
explicit way to treat the runs of one model as one sample (their ``run`` becomes the names joined by
``+``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DuplicateRunError, SpecError
from ..schema import level_label
from .manifest import MANIFEST, RESULTS

POOL_SEPARATOR = "+"


def _ids(table: Any) -> list[str]:
    if "run_id" not in table.columns:
        return []
    return [str(x) for x in table.get_column("run_id").drop_nulls().unique(maintain_order=True).to_list()]


def _names(table: Any) -> list[str]:
    col = "run" if "run" in table.columns else "run_id"
    if col not in table.columns:
        return []
    return [str(x) for x in table.get_column(col).drop_nulls().unique(maintain_order=True).to_list()]


def check_distinct(tables: Sequence[Any], labels: Sequence[str], *, pool: bool = False) -> None:
    """Refuse the same run (``run_id``) in two tables, and, unless pooling, one name for two runs.

    ``labels`` names each table in the message (its folder path, or ``tables[i]``)."""
    seen_id: dict[str, str] = {}
    seen_name: dict[str, tuple[str, str]] = {}
    for t, where in zip(tables, labels):
        ids = _ids(t)
        for rid in ids:
            if rid in seen_id:
                raise DuplicateRunError(
                    f"run {rid} is given twice: {seen_id[rid]} and {where}. Its rows would be counted twice (n "
                    "doubles, intervals shrink). Pass each run once; a copied run folder keeps its run_id, so "
                    "re-run into a new --out (or with --no-resume) for a genuinely new run.")
            seen_id[rid] = where
        if pool:
            continue
        for name in _names(t):
            first = seen_name.get(name)
            if first is not None and first[1] not in ids:
                raise DuplicateRunError(
                    f"two different runs are both named {name!r}: {first[0]} and {where}. Analyses key by run "
                    "name, so they would be mixed under one label. Name them apart (restplus run ... --name X, "
                    "or read_runs({'a': PATH_A, 'b': PATH_B})), or pass pool=True (CLI: --pool) to pool the runs "
                    "of each model on purpose.")
            seen_name.setdefault(name, (where, ids[0] if ids else name))


def pool_runs(table: Any) -> Any:
    """The ``run`` column replaced, per model, by that model's run names joined with ``+``: the
    explicit pooling of several runs of one model into one sample."""
    import polars as pl

    if "run" not in table.columns:
        return table
    key = "model" if "model" in table.columns else None
    if key is None:
        names = POOL_SEPARATOR.join(_names(table))
        return table.with_columns(pl.lit(names).alias("run"))
    pooled = (table.group_by(key, maintain_order=True)
              .agg(pl.col("run").cast(pl.String).unique(maintain_order=True).str.join(POOL_SEPARATOR).alias("_pooled")))
    return table.join(pooled, on=key, how="left", maintain_order="left", nulls_equal=True).with_columns(
        pl.col("_pooled").alias("run")).drop("_pooled")


def concat_results(tables: Sequence[Any], *, pool: bool = False) -> Any:
    """Stack results tables (several models or runs) into one long table.

    The same run in two tables (one ``run_id``) is a :class:`~restplus.errors.DuplicateRunError`, and
    so are two runs sharing a ``run`` name unless ``pool=True``, which pools the runs of each model
    (:func:`pool_runs`). Analyses key by ``run``, so unpooled runs stay apart.

    Factor columns that are ``Enum`` in several tables get the union of their categories, in the order
    they first appear, so runs of grids with different level sets still combine (polars refuses to
    concatenate two different enums); columns missing from a table are null there.
    """
    import polars as pl

    frames = list(tables)
    check_distinct(frames, [f"tables[{i}]" for i in range(len(frames))], pool=pool)
    cats: dict[str, list[str]] = {}
    for t in frames:
        for c, dt in t.schema.items():
            if isinstance(dt, pl.Enum):
                cats.setdefault(c, [])
                cats[c] += [x for x in dt.categories.to_list() if x not in cats[c]]
    frames = [t.with_columns([pl.col(c).cast(pl.String).cast(pl.Enum(v)) for c, v in cats.items() if c in t.columns])
              for t in frames]
    out = pl.concat(frames, how="diagonal_relaxed")
    return pool_runs(out) if pool else out


@dataclass(frozen=True, slots=True)
class Runs:
    """What :func:`read_runs` returns.

    table      the long table of every run (a ``run`` column names each run)
    factors    visual factor names, in the order the manifests list them
    reference  reference level per factor, from the specs
    paths      run name -> folder
    """

    table: Any
    factors: list[str]
    reference: dict[str, str]
    paths: dict[str, Path] = field(default_factory=dict)


def read_runs(runs: Sequence[str | Path] | Mapping[str, str | Path], *, pool: bool = False) -> Runs:
    """Read evaluated run folders into one long table keyed by run name.

    ``runs`` is a list of folders, or ``{name: folder}`` to name them here (overriding the name each
    run recorded). The same run twice (same folder, or a copy with the same ``run_id``) is a
    :class:`~restplus.errors.DuplicateRunError`, and so are two runs with one name unless ``pool=True``;
    with ``pool=True`` the runs of each model are pooled into one (see :func:`pool_runs`).
    """
    import polars as pl

    items = list(runs.items()) if isinstance(runs, Mapping) else [(None, r) for r in runs]
    if not items:
        raise SpecError("read_runs needs at least one run folder (written by `restplus run ... --out DIR`).")
    tables, labels, factors, reference, paths = [], [], [], {}, {}
    resolved: dict[Path, str] = {}
    for name, run in items:
        folder = Path(run)
        res, man = folder / RESULTS, folder / MANIFEST
        if not res.exists() or not man.exists():
            raise SpecError(f"{run} is not an evaluated run folder (no {RESULTS}/{MANIFEST}); "
                            "make one with `restplus run SPEC --model ... --out DIR`.")
        key = folder.resolve()
        if key in resolved:
            raise DuplicateRunError(f"run folder {str(run)!r} is given twice (also as {resolved[key]!r}); its rows "
                                    "would be counted twice. Pass each run once.")
        resolved[key] = str(run)
        manifest = json.loads(man.read_text(encoding="utf-8"))
        table = pl.read_parquet(res)
        label = name if name is not None else (manifest.get("run_name") or
                                               (table.get_column("run")[0] if "run" in table.columns and table.height
                                                else key.name))
        table = table.with_columns(pl.lit(str(label)).alias("run"))  # older folders have no run column
        if "run_id" not in table.columns:
            table = table.with_columns(pl.lit(manifest.get("run_id")).alias("run_id"))
        tables.append(table)
        labels.append(repr(str(run)))
        paths[str(label)] = folder
        for f in manifest.get("factors", []):
            if f not in factors:
                factors.append(f)
            spec_f = (manifest.get("spec") or {}).get("factors", {}).get(f)
            if spec_f is not None:
                reference.setdefault(f, level_label(spec_f["reference"]))
    check_distinct(tables, labels, pool=pool)
    return Runs(concat_results(tables, pool=pool), factors, reference, paths)
