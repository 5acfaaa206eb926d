"""Exports for peer harnesses that carry the run's prompts and decoding (the ``rp.export_*`` functions).

:mod:`restplus.variants.exports` writes the files and knows nothing of prompts (variants never import the
runner). These wrappers add what a native run would send: the solve instruction of
:class:`~restplus.runner.prompts.PromptSet` after each variant's text, and for lmms-eval the decoding of
:func:`~restplus.runner.prompts.decoding_for` as ``generation_kwargs``. ``like=`` takes both from an
evaluated run folder's manifest, so an lmms-eval or VLMEvalKit run asks exactly what that run asked.
Exact scoring always comes from :func:`restplus.runner.importer.import_results`, which applies restplus's
extractors to the harness's raw responses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import CacheMismatchError, SpecError
from ..variants import exports
from .manifest import MANIFEST
from .prompts import PromptSet, as_prompts, decoding_for


def settings_from_run(run_dir: str | os.PathLike[str]) -> tuple[PromptSet, dict[str, Any]]:
    """(prompts, per-task decoding) recorded in an evaluated run folder's ``manifest.json``."""
    path = Path(run_dir) / MANIFEST
    if not path.exists():
        raise CacheMismatchError(f"like={str(run_dir)!r} is not an evaluated run folder (no {MANIFEST}); pass the "
                                 "folder a `restplus run ... --out DIR` wrote, or give prompts=/decoding= directly.")
    man = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(man.get("prompts"), Mapping) or "decoding" not in man:
        raise CacheMismatchError(f"{path} records no prompts/decoding (it is a variants folder, not an evaluated "
                                 "run); pass the folder written by `restplus run`.")
    prompts = PromptSet.from_dict({k: v for k, v in man["prompts"].items() if k != "hash"})
    return prompts, dict(man.get("decoding") or {})


def _settings(prompts: Any, decoding: Any, like: Any) -> tuple[PromptSet, Any]:
    if like is not None:
        if prompts is not None or decoding is not None:
            raise SpecError("pass either like=RUN (take prompts and decoding from that run) or prompts=/decoding=, "
                            "not both.")
        return settings_from_run(like)
    return as_prompts(prompts), decoding


def solve_instruction(prompts: Any = None) -> Callable[[Any], str]:
    """``variant -> solve instruction`` of a prompt set (what a native solve request appends to the parts)."""
    pset = as_prompts(prompts)
    return lambda v: pset.solve_text(v.modality, v.task, v.answer_type)


def lmms_generation(tasks: Iterable[str], decoding: Any = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(lmms-eval ``generation_kwargs``, per-task decoding) for the tasks of a variant set.

    One task YAML holds one ``generation_kwargs``: the largest per-task ``max_tokens`` is used for all
    (greedy decoding: a larger limit changes only answers a smaller one would cut off); temperature,
    top_p and stop strings must agree across tasks.
    """
    per_task = {t: decoding_for(t, decoding) for t in sorted(set(tasks))}
    if not per_task:
        raise SpecError("the variant set has no tasks; nothing to export.")
    shared = {(d.temperature, d.top_p, d.stop, d.seed) for d in per_task.values()}
    if len(shared) > 1:
        shown = {t: d.to_dict() for t, d in per_task.items()}
        raise SpecError(f"the tasks' decodings differ beyond max_tokens ({shown}); "
                        "one lmms-eval task has one generation_kwargs: export each task separately.")
    first = next(iter(per_task.values()))
    gen: dict[str, Any] = {"max_new_tokens": max(d.max_tokens for d in per_task.values()),
                           "temperature": first.temperature, "do_sample": first.temperature > 0}
    if first.top_p != 1.0:
        gen["top_p"] = first.top_p
    if first.stop:
        gen["until"] = list(first.stop)
    return gen, {t: d.to_dict() for t, d in per_task.items()}


def _tasks(source: Any) -> list[str]:
    if isinstance(source, (str, os.PathLike)):
        from ..variants.runfolder import load_run

        source = load_run(source)
    return [p.task for p in getattr(source, "problems", ())]


def export_lmms_eval(source: Any, folder: str | os.PathLike[str], *, task: str = "restplus", prompts: Any = None,
                     decoding: Any = None, like: str | os.PathLike[str] | None = None) -> Path:
    """:func:`restplus.variants.exports.export_lmms_eval` with the run's solve prompts and decoding.

    ``prompts`` / ``decoding`` as for :func:`restplus.runner.evaluation.evaluate` (default: the paper's);
    ``like``: an evaluated run folder whose recorded prompts and decoding are used instead.
    """
    if isinstance(source, (str, os.PathLike)):
        from ..variants.runfolder import load_run

        source = load_run(source)
    pset, dec = _settings(prompts, decoding, like)
    gen, per_task = lmms_generation(_tasks(source), dec)
    return exports.export_lmms_eval(source, folder, task=task, instruction=solve_instruction(pset), generation=gen,
                                    metadata={"restplus_prompt_hash": pset.content_hash,
                                              "restplus_decoding": per_task})


def export_vlmevalkit_tsv(source: Any, path: str | os.PathLike[str], *, prompts: Any = None,
                          like: str | os.PathLike[str] | None = None, instruction: bool = True,
                          batch_size: int = 256) -> exports.VlmevalkitExport:
    """:func:`restplus.variants.exports.export_vlmevalkit_tsv` with the run's solve instruction in ``question``.

    VLMEvalKit takes decoding from its model config (``--max-tokens``, ``--temperature``), so only the
    prompts are carried; ``instruction=False`` writes the bare text parts.
    """
    pset, _ = _settings(prompts, None, like)
    return exports.export_vlmevalkit_tsv(source, path, instruction=solve_instruction(pset) if instruction else None,
                                         batch_size=batch_size)


__all__ = ["export_lmms_eval", "export_vlmevalkit_tsv", "lmms_generation", "settings_from_run",
           "solve_instruction"]
