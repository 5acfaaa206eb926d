"""Versioned prompt templates: the four prompt types of REST (OCR, and solve for text/image/mixed).

Templates are data. A :class:`PromptSet` holds a version, one text per prompt key, optional
per-task overrides and the ``ocr_first`` switch; its :attr:`~PromptSet.content_hash` goes into the
manifest, and every text goes into the requests (so into the cache keys) — a changed prompt can
never silently reuse old answers (peers' trap: prompt drift).

Prompt keys:

=================  ===============================================================================
``ocr``            sent with the variant's image(s) only; asks for an exact transcription. It holds
                   no example text: the paper saw a model score 0 by repeating a prompt example.
``text``           solve, text variant — appended after the problem text
``image``          solve, image variant — appended after the image
``mixed``          solve, mixed variant — appended after the image and the text parts
``image_ocr_first`` / ``mixed_ocr_first``
                   used instead of ``image`` / ``mixed`` when ``ocr_first=True`` (the paper's
                   "transcribe, then solve" variant)
``answer_format``  optional override of the answer-type suffix (default: the versioned
                   ``restplus.problems.extract.ANSWER_SUFFIX`` text of the problem's answer type)
=================  ===============================================================================

Solve templates may use one placeholder, ``{answer_format}``, replaced by the suffix asking for a
final ``Answer: ...`` line in the answer type's format. The variant's parts never contain that
instruction (:class:`restplus.variants.variant.Variant`), so one variant serves every prompt version.

Decoding defaults (paper): temperature 0, max tokens 1024, 2048 for SoE (:func:`decoding_for`).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import SpecError, check_keys, did_you_mean, unknown_name
from ..hashing import digest
from ..records import Decoding, ImagePart, Request, TextPart
from .gate import CER, gate_target

PROMPT_VERSION = "1"
PROMPT_TYPES = ("ocr", "text", "image", "mixed")
SOLVE_KEYS = ("text", "image", "mixed", "image_ocr_first", "mixed_ocr_first")
KEYS = ("ocr", *SOLVE_KEYS[:3], "image_ocr_first", "mixed_ocr_first", "answer_format")
PLACEHOLDERS = ("answer_format",)

DEFAULT_TEXTS: dict[str, str] = {
    "ocr": ("Transcribe all of the text in the image exactly as it is written, character for character, "
            "keeping the original line breaks. Reply with the transcription only: no introduction, no "
            "explanation and no formatting."),
    "text": "Solve the problem above. {answer_format}",
    "image": "Solve the problem shown in the image. {answer_format}",
    "mixed": "Solve the problem given by the image together with the text above. {answer_format}",
    "image_ocr_first": ("First transcribe all of the text in the image exactly. Then solve the problem it "
                        "shows. {answer_format}"),
    "mixed_ocr_first": ("First transcribe all of the text in the image exactly. Then solve the problem given "
                        "by the image together with the text above. {answer_format}"),
}

# Max output tokens per task (paper: 1024; 2048 for SoEBench, whose elimination is long).
MAX_TOKENS_DEFAULT = 1024
MAX_TOKENS_BY_TASK = {"soe": 2048}


def _check_template(key: str, text: Any, where: str) -> str:
    if key not in KEYS:
        raise unknown_name(f"prompt key in {where}", key, KEYS)
    if not isinstance(text, str) or not text.strip():
        raise SpecError(f"{where}: prompt {key!r} must be a non-empty string, got {text!r}.")
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        raise SpecError(f"{where}: prompt {key!r} is not a valid template ({exc}); write literal braces "
                        "as '{{' and '}}'.") from None
    for n in names:
        if n not in PLACEHOLDERS or key in ("ocr", "answer_format"):
            allowed = "none" if key in ("ocr", "answer_format") else ", ".join("{" + p + "}" for p in PLACEHOLDERS)
            raise SpecError(f"{where}: prompt {key!r} uses placeholder {{{n}}}; allowed here: {allowed}."
                            f"{did_you_mean(n, PLACEHOLDERS)}")
    return text


@dataclass(frozen=True, slots=True)
class PromptSet:
    """Prompt templates (see module docstring). ``PromptSet()`` is the default set.

    texts      (key, template) pairs for the keys in :data:`KEYS` (``answer_format`` optional)
    overrides  (task, key, template) triples that replace a template for one task
    ocr_first  use the ``*_ocr_first`` solve templates for image and mixed variants
    """

    version: str = PROMPT_VERSION
    texts: tuple[tuple[str, str], ...] = tuple(sorted(DEFAULT_TEXTS.items()))
    overrides: tuple[tuple[str, str, str], ...] = ()
    ocr_first: bool = False
    _texts: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        texts = dict(self.texts)
        for k, v in texts.items():
            _check_template(k, v, "PromptSet.texts")
        missing = [k for k in ("ocr", *SOLVE_KEYS) if k not in texts]
        if missing:
            raise SpecError(f"PromptSet.texts lacks prompt(s) {missing}; start from PromptSet() and use "
                            "with_overrides(...) to change single prompts.")
        for task, k, v in self.overrides:
            _check_template(k, v, f"PromptSet override for task {task!r}")
        object.__setattr__(self, "texts", tuple(sorted(texts.items())))
        object.__setattr__(self, "overrides", tuple(sorted(self.overrides)))
        object.__setattr__(self, "_texts", texts)

    # ------------------------------------------------------------------ building
    def with_overrides(self, overrides: Mapping[str, Mapping[str, str]] | None = None, *, task: str | None = None,
                       version: str | None = None, ocr_first: bool | None = None, **texts: str) -> "PromptSet":
        """A copy with some templates replaced.

        ``ps.with_overrides(text="...")`` replaces a template for every task;
        ``ps.with_overrides(task="soe", text="...")`` only for task ``soe``;
        ``ps.with_overrides({"soe": {"ocr": "..."}, "*": {"image": "..."}})`` does both ("*" = all).
        """
        base = dict(self._texts)
        over = {(t, k): v for t, k, v in self.overrides}
        entries: list[tuple[str, str, str]] = [(task or "*", k, v) for k, v in texts.items()]
        for t, d in (overrides or {}).items():
            if not isinstance(d, Mapping):
                raise SpecError(f"prompt overrides for task {t!r} must be a mapping of prompt key to text, got {d!r}.")
            entries += [(str(t), k, v) for k, v in d.items()]
        for t, k, v in entries:
            _check_template(k, v, f"with_overrides(task={t!r})")
            if t == "*":
                base[k] = v
            else:
                over[(t, k)] = v
        return PromptSet(version=self.version if version is None else str(version), texts=tuple(base.items()),
                         overrides=tuple((t, k, v) for (t, k), v in over.items()),
                         ocr_first=self.ocr_first if ocr_first is None else bool(ocr_first))

    def template(self, key: str, task: str = "") -> str:
        """The template for ``key`` as used for ``task`` (task override, else the shared text)."""
        if key not in KEYS:
            raise unknown_name("prompt key", key, KEYS)
        for t, k, v in self.overrides:
            if t == task and k == key:
                return v
        if key not in self._texts:
            raise SpecError(f"prompt set has no {key!r} template.")
        return self._texts[key]

    def answer_format(self, answer_type: str, task: str = "") -> str:
        for t, k, v in self.overrides:
            if t == task and k == "answer_format":
                return v
        if "answer_format" in self._texts:
            return self._texts["answer_format"]
        from ..problems.extract import answer_suffix

        return str(answer_suffix(answer_type)["text"])

    def ocr_text(self, task: str = "") -> str:
        return self.template("ocr", task)

    def solve_text(self, modality: str, task: str, answer_type: str) -> str:
        """The instruction appended to a variant's parts for a solve request."""
        if modality not in PROMPT_TYPES[1:]:
            raise unknown_name("modality", modality, PROMPT_TYPES[1:])
        key = f"{modality}_ocr_first" if self.ocr_first and modality != "text" else modality
        return self.template(key, task).format(answer_format=self.answer_format(answer_type, task))

    # ------------------------------------------------------------------ identity
    def to_dict(self) -> dict[str, Any]:
        from ..problems.extract import ANSWER_SUFFIX, EXTRACTOR_VERSION

        # The default answer suffixes are part of what the model sees, so they are recorded too.
        return {"version": self.version, "texts": dict(self.texts), "ocr_first": self.ocr_first,
                "overrides": [list(o) for o in self.overrides],
                "answer_suffix": {k: dict(v) for k, v in ANSWER_SUFFIX.items()},
                "extractor_version": EXTRACTOR_VERSION}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PromptSet":
        allowed = ("version", "texts", "overrides", "ocr_first", "answer_suffix", "extractor_version")
        check_keys("prompt set", d, allowed)
        texts = {**DEFAULT_TEXTS, **dict(d.get("texts") or {})}
        return cls(version=str(d.get("version", PROMPT_VERSION)), texts=tuple(texts.items()),
                   overrides=tuple(tuple(o) for o in d.get("overrides") or ()),  # type: ignore[misc]
                   ocr_first=bool(d.get("ocr_first", False)))

    @property
    def content_hash(self) -> str:
        return digest(self.to_dict(), 16)


def as_prompts(value: "PromptSet | Mapping[str, Any] | None") -> PromptSet:
    """A PromptSet from None (defaults), a PromptSet, or a dict of overrides/settings."""
    if value is None:
        return PromptSet()
    if isinstance(value, PromptSet):
        return value
    if isinstance(value, Mapping):
        if set(value) & {"version", "texts", "overrides"}:
            return PromptSet.from_dict(value)
        d = dict(value)
        ocr_first = d.pop("ocr_first", None)
        flat = {k: v for k, v in d.items() if isinstance(v, str)}
        per_task = {k: v for k, v in d.items() if not isinstance(v, str)}
        return PromptSet().with_overrides(per_task, ocr_first=ocr_first, **flat)
    raise SpecError(f"prompts must be a restplus PromptSet or a dict of overrides, got {type(value).__name__}.")


# ---------------------------------------------------------------------------- decoding
def decoding_for(task: str, decoding: "Decoding | Mapping[str, Any] | None" = None) -> Decoding:
    """Decoding for a task: ``None`` → paper defaults (temperature 0; 2048 tokens for SoE, else
    1024); a :class:`Decoding` → used for every task; a mapping ``{task | "*": Decoding | dict}`` →
    per task, where a dict changes only the fields it names."""
    default = Decoding(max_tokens=MAX_TOKENS_BY_TASK.get(task, MAX_TOKENS_DEFAULT))
    if decoding is None:
        return default
    if isinstance(decoding, Decoding):
        return decoding
    if isinstance(decoding, Mapping):
        names = [f.name for f in fields(Decoding)]
        if set(decoding) <= set(names):  # one flat dict of fields for every task
            chosen: Any = decoding
        else:
            chosen = decoding.get(task, decoding.get("*"))
        if chosen is None:
            return default
        if isinstance(chosen, Decoding):
            return chosen
        if isinstance(chosen, Mapping):
            check_keys("decoding", chosen, names)
            d = dict(chosen)
            if "stop" in d:
                d["stop"] = tuple(d["stop"])
            return replace(default, **d)
    raise SpecError(f"decoding must be a restplus Decoding, a dict of its fields, or a dict "
                    f"{{task: Decoding}}, got {decoding!r}.")


# ---------------------------------------------------------------------------- requests
def request_tag(kind: str, answer_type: str, variant_id: str) -> str:
    """``Request.tag`` convention read by the offline reader baseline: ``"<kind>:<answer_type>:<id>"``
    where kind is ``ocr`` or ``solve``."""
    return f"{kind}:{answer_type}:{variant_id}"


def build_requests(variant: Any, prompts: PromptSet, decoding: Decoding) -> dict[str, Request]:
    """The requests of one variant: ``{"solve": ..., "ocr": ...}`` (``ocr`` only with images).

    solve = the variant's parts + the solve instruction; ocr = the variant's image part(s) + the
    OCR instruction, or for an image-native source its drawing + the source's transcription prompt
    (:func:`restplus.runner.gate.gate_target`; that prompt defines the notation the gate's parser
    reads, so a PromptSet does not override it).
    """
    solve = Request(parts=(*variant.parts, TextPart(prompts.solve_text(variant.modality, variant.task,
                                                                       variant.answer_type))),
                    decoding=decoding, tag=request_tag("solve", variant.answer_type, variant.variant_id))
    out = {"solve": solve}
    target = gate_target(variant)
    if target is not None:
        images = tuple(p for p in variant.parts if isinstance(p, ImagePart))  # one-to-one with variant.images
        if target.scorer == CER:
            instruction = prompts.ocr_text(variant.task)
        else:
            from ..problems.visual import SOURCES

            instruction = SOURCES[target.scorer].prompt
        out["ocr"] = Request(parts=(*(images[i] for i in target.images), TextPart(instruction)), decoding=decoding,
                             tag=request_tag("ocr", variant.answer_type, variant.variant_id))
    return out
