"""The OCR gate: character error rate of a model's own transcription, and per-model pass sets.

A sample enters the consistency analysis only if the *same* model transcribes its image(s)
correctly (REST+). This module scores transcriptions; the runner records the result on every row
(``ocr_cer``, ``gate_passed``) so gated and ungated results can both be produced downstream.

CER = Levenshtein distance (insertions + deletions + substitutions, via
``rapidfuzz.distance.Levenshtein``) ÷ reference length, both strings normalised first by a
:class:`Normalization`. The denominator is at least 1: an empty reference gives CER 0 for an
empty transcription and otherwise the number of inserted characters (≥ 1, so it never passes a
threshold below 1). A variant with several images is scored on the concatenation of their
reference texts, joined by a newline, against the whole transcription.

Image-native sources (chess boards, graphs, bar charts: restplus.problems.visual) have no text to
compare characters with. Their gate is a *transcription*: the OCR request sends only the drawing,
with the source's transcription prompt (write the FEN / edge list / table back), and the source's
parser scores the reply against the notation (per-square FEN equality, edge-set F1, table cell
accuracy) with a score in [0, 1]. The row's ``ocr_cer`` then holds the gate *error* ``1 - score``, so
one threshold rule serves both: a row passes when ``ocr_cer <= threshold``, i.e. a transcription
passes when ``score >= 1 - threshold`` (threshold 0: an exact transcription; 1/64 allows one chess
square wrong). :class:`Normalization` does not apply to transcriptions: each parser reads its
notation out of the reply itself. The question, rendered beside the drawing in the image modality,
is not part of the transcription gate. :func:`gate_target` is the one place that decides this.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from rapidfuzz.distance import Levenshtein

from ..errors import RenderError, SpecError, did_you_mean

GATE_POLICIES = ("exclude", "covariate", "ignore")
IMAGE_JOIN = "\n"  # between the reference texts of several images of one variant
CER = "cer"  # the scorer of text renders; any other scorer is an image-native source kind
GATE_RULE = ("ocr_cer is the gate error: the character error rate for text renders, 1 - transcription score "
             "for drawings; a row passes when ocr_cer <= threshold, i.e. a transcription when score >= "
             "1 - threshold")

_WS = re.compile(r"\s+")
# A whole reply wrapped in one markdown code fence (```text ... ```) is formatting, not content.
_FENCE = re.compile(r"\A\s*```[^\n`]*\n(?P<body>.*?)\n?```\s*\Z", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Normalization:
    """How both transcription and reference are normalised before CER. Recorded in the manifest.

    nfkc                 Unicode NFKC (compatibility forms: 'ﬁ' → 'fi', full-width digits → ASCII)
    collapse_whitespace  every run of whitespace (spaces, tabs, newlines) → one space; line breaks
                         are layout, not content, since wrapping differs between renders
    strip                remove leading/trailing whitespace
    casefold             compare case-insensitively (off by default: case is content)
    strip_code_fence     drop one markdown code fence around the whole transcription
    ignore_whitespace    drop all whitespace (off by default). For maths items "2A+3B=7" and
                         "2A + 3B = 7" say the same thing, and OCR engines often lose spaces
                         around operators; the demo turns this on and says so.
    """

    nfkc: bool = True
    collapse_whitespace: bool = True
    strip: bool = True
    casefold: bool = False
    strip_code_fence: bool = True
    ignore_whitespace: bool = False

    def apply(self, text: str) -> str:
        if self.strip_code_fence:
            m = _FENCE.match(text)
            if m:
                text = m.group("body")
        if self.nfkc:
            text = unicodedata.normalize("NFKC", text)
        if self.collapse_whitespace:
            text = _WS.sub(" ", text)
        if self.strip:
            text = text.strip()
        if self.casefold:
            text = text.casefold()
        if self.ignore_whitespace:
            text = _WS.sub("", text)
        return text

    def to_dict(self) -> dict[str, bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalization":
        names = [f for f in cls.__dataclass_fields__]  # type: ignore[attr-defined]
        for k in d:
            if k not in names:
                raise SpecError(f"normalization: unknown option {k!r}.{did_you_mean(k, names)} "
                                f"Options: {', '.join(names)}.")
        return cls(**{k: bool(v) for k, v in d.items()})


DEFAULT_NORMALIZATION = Normalization()


def as_normalization(value: "Normalization | dict[str, Any] | None") -> Normalization:
    if value is None:
        return DEFAULT_NORMALIZATION
    if isinstance(value, Normalization):
        return value
    if isinstance(value, dict):
        return Normalization.from_dict(value)
    raise SpecError(f"normalization must be a restplus Normalization or a dict of its options, got {value!r}.")


def reference_text(texts: Sequence[str]) -> str:
    """The OCR reference of a variant: its images' rendered texts, newline-joined, in order."""
    return IMAGE_JOIN.join(texts)


def cer(hypothesis: str, reference: str, normalization: Normalization | None = None) -> float:
    """Character error rate of ``hypothesis`` against ``reference`` after normalisation."""
    norm = normalization or DEFAULT_NORMALIZATION
    h, r = norm.apply(hypothesis), norm.apply(reference)
    return Levenshtein.distance(h, r) / max(len(r), 1)


@dataclass(frozen=True, slots=True)
class GateTarget:
    """What the OCR gate of one variant reads and how it is scored.

    scorer     :data:`CER` for text renders, else the image-native source kind whose parser scores it
    images     indices of the variant's images the OCR request sends (all of them for text renders,
               the drawing only for an image-native source)
    reference  what the transcription is scored against: the rendered texts, or the notation
    """

    scorer: str
    images: tuple[int, ...]
    reference: str


def gate_target(variant: Any) -> GateTarget | None:
    """The gate of ``variant`` (None for a text variant: nothing to read).

    A drawing is recognised by its provenance (``drawing``: the source kind, written by
    restplus.render.drawing), which a run folder keeps, so stored variants are gated the same way.
    """
    images = tuple(variant.images)
    if not images:
        return None
    drawn = [(i, dict(im.provenance).get("drawing")) for i, im in enumerate(images)]
    drawn = [(i, k) for i, k in drawn if k is not None]
    if not drawn:
        return GateTarget(CER, tuple(range(len(images))), reference_text([im.rendered_text for im in images]))
    if len(drawn) > 1:
        raise RenderError(f"variant {variant.variant_id} has {len(drawn)} drawings ({[k for _, k in drawn]}); "
                          "the transcription gate scores one drawing per variant.")
    i, kind = drawn[0]
    from ..problems.visual import SOURCES

    SOURCES[str(kind)]  # an unknown kind fails here (did-you-mean), never silently as CER
    return GateTarget(str(kind), (i,), images[i].rendered_text)


def gate_error(text: str, reference: str, scorer: str | None, normalization: Normalization | None = None) -> float:
    """The gate error of a transcription: CER for text renders, ``1 - score`` for a drawing (module doc)."""
    if scorer is None or scorer == CER:
        return cer(text, reference, normalization)
    from ..problems.visual import score_notation

    return round(1.0 - score_notation(scorer, reference, text).score, 12)


def transcription_manifest(scorers: Iterable[str | None]) -> dict[str, Any] | None:
    """The manifest's record of the transcription gates a run used (None when it had text renders only)."""
    kinds = sorted({s for s in scorers if s is not None and s != CER})
    if not kinds:
        return None
    from ..problems.visual import SOURCES

    return {"rule": GATE_RULE, "normalization": "not applied (each parser reads the notation from the reply)",
            "sources": {k: {"prompt": SOURCES[k].prompt, "score": SOURCES[k].metric} for k in kinds}}


def passes(cer_value: float | None, threshold: float) -> bool | None:
    """Gate decision: error ≤ threshold (CER, or 1 - transcription score); None when there is none
    (text rows, failed OCR call)."""
    return None if cer_value is None else bool(cer_value <= threshold + 1e-12)


def check_threshold(threshold: float) -> float:
    t = float(threshold)
    if not 0.0 <= t or t != t:
        raise SpecError(f"gate threshold={threshold!r} must be a CER ≥ 0 (0 = perfect transcription, "
                        "as in the paper; 0.05 allows 5% character errors; for a drawing, a transcription "
                        "passes when its score ≥ 1 - threshold).")
    return t


def check_policy(policy: str) -> str:
    if policy not in GATE_POLICIES:
        raise SpecError(f"gate_policy={policy!r} is not one of {list(GATE_POLICIES)}."
                        f"{did_you_mean(str(policy), GATE_POLICIES)} 'exclude' drops solve rows whose "
                        "gate failed, 'covariate' keeps them with gate_passed as a column, 'ignore' keeps all.")
    return policy


def apply_gate(table: Any, policy: str = "exclude") -> Any:
    """Rows of the long table that enter analysis under ``policy`` (a polars DataFrame).

    ``exclude`` drops rows whose ``gate_passed`` is False (text rows, null, are kept);
    ``covariate`` and ``ignore`` return the table unchanged (the former expects the analysis to
    use ``gate_passed`` as a covariate). Pass sets are per model because each row's gate comes
    from the OCR of the model in its ``model`` column.
    """
    import polars as pl

    check_policy(policy)
    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if policy != "exclude":
        return df
    return df.filter(pl.col("gate_passed").is_null() | pl.col("gate_passed"))


def pass_rates(table: Any, factors: Iterable[str] | None = None, by_model: bool = True) -> Any:
    """Per-cell OCR pass rate of each model, from the ``prompt_type == "ocr"`` rows.

    Returns a polars DataFrame with columns: ``model`` (when ``by_model``), ``cell_id``, one column
    per factor in ``factors`` (default: the non-schema columns of the table, i.e. the visual
    factors), ``n`` (OCR rows with a CER), ``n_passed`` and ``pass_rate`` (n_passed / n), sorted
    by model and cell_id.
    """
    import polars as pl

    from ..schema import CALL_COLUMNS, COVARIATE_COLUMNS, GATE_COLUMNS, ID_COLUMNS, OUTCOME_COLUMNS

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    if factors is None:
        known = {*ID_COLUMNS, *OUTCOME_COLUMNS, *GATE_COLUMNS, *COVARIATE_COLUMNS, *CALL_COLUMNS}
        factors = [c for c in df.columns if c not in known and not c.startswith("ext_")]
    factors = list(factors)
    missing = [c for c in ("cell_id", "prompt_type", "ocr_cer", "gate_passed", *factors) if c not in df.columns]
    if missing:
        raise SpecError(f"pass_rates: the table lacks column(s) {missing}; pass the long table written by "
                        "restplus.evaluate (results.parquet).")
    keys = (["model"] if by_model else []) + ["cell_id", *factors]
    ocr = df.filter((pl.col("prompt_type") == "ocr") & pl.col("ocr_cer").is_not_null())
    return (ocr.group_by(keys)
            .agg(pl.len().alias("n"), pl.col("gate_passed").cast(pl.Int64).sum().alias("n_passed"))
            .with_columns((pl.col("n_passed") / pl.col("n")).alias("pass_rate"))
            .sort(keys[:2]))


def pass_sets(table: Any) -> dict[str, frozenset[str]]:
    """For each model, the variant ids whose OCR passed the gate (its own pass set)."""
    import polars as pl

    df = table if isinstance(table, pl.DataFrame) else pl.from_pandas(table)
    ok = df.filter((pl.col("prompt_type") == "ocr") & pl.col("gate_passed").fill_null(False))
    out: dict[str, set[str]] = {m: set() for m in df["model"].unique().to_list()}
    for m, v in ok.select("model", "variant_id").iter_rows():
        out[m].add(v)
    return {m: frozenset(s) for m, s in out.items()}
