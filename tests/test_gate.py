"""OCR gate: CER on hand-made pairs, normalisation, thresholds, pass rates and per-model pass sets."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from restplus.errors import SpecError
from restplus.runner.gate import (
    Normalization,
    apply_gate,
    as_normalization,
    cer,
    check_policy,
    check_threshold,
    pass_rates,
    pass_sets,
    passes,
    reference_text,
)

RAW = Normalization(nfkc=False, collapse_whitespace=False, strip=False, casefold=False, strip_code_fence=False)

# (hypothesis, reference, normalization, expected CER) — expected values are counted by hand.
CASES = [
    ("3A + 2B = 7", "3A + 2B = 7", RAW, 0.0),
    ("3A + 2B = 77", "3A + 2B = 7", RAW, 1 / 11),  # one insertion
    ("3A + B = 7", "3A + 2B = 7", RAW, 1 / 11),  # one deletion
    ("3A + 2B = 1", "3A + 2B = 7", RAW, 1 / 11),  # one substitution
    ("8A - 2B = 1", "3A + 2B = 7", RAW, 3 / 11),  # three substitutions
    ("", "abcd", RAW, 1.0),  # everything deleted
    ("abcdabcd", "abcd", RAW, 1.0),  # 4 insertions / 4
    ("abcdabcdab", "abcd", RAW, 1.5),  # ... and exceeds 1 with more insertions
    ("\ufb01ve", "five", Normalization(), 0.0),  # NFKC: 'ﬁ' ligature -> 'fi'
    ("\ufb01ve", "five", RAW, 2 / 4),  # without NFKC: 1 substitution + 1 deletion
    ("\uff13A = 6", "3A = 6", Normalization(), 0.0),  # full-width digit
    ("3A  +\t2B\n=\n7 ", "3A + 2B = 7", Normalization(), 0.0),  # whitespace runs and line breaks collapse
    ("3A  + 2B = 7", "3A + 2B = 7", RAW, 1 / 11),  # ... but count without collapsing
    ("SOLVE for a", "Solve for A", Normalization(), 5 / 11),  # case matters by default: O,L,V,E,a
    ("SOLVE for a", "Solve for A", Normalization(casefold=True), 0.0),
    ("```\n3A = 6\n```", "3A = 6", Normalization(), 0.0),  # one fence around the whole reply
    ("```\n3A = 6\n```", "3A = 6", Normalization(strip_code_fence=False), 8 / 6),
    ("", "", RAW, 0.0),  # empty reference, empty transcription: perfect
    ("ab", "", RAW, 2.0),  # empty reference: denominator 1, two insertions
    ("  ", "", Normalization(), 0.0),  # whitespace-only transcription of an empty reference
]


@pytest.mark.parametrize("hyp, ref, norm, expected", CASES)
def test_cer_hand_made_pairs(hyp, ref, norm, expected):
    assert cer(hyp, ref, norm) == pytest.approx(expected)


@settings(database=None, derandomize=True, max_examples=60)
@given(ref=st.text(alphabet="0123456789ABCDE+-=", min_size=1, max_size=30),
       extra=st.text(alphabet="XYZ", max_size=10), cut=st.integers(min_value=0, max_value=30))
def test_cer_counts_edits_relative_to_reference_length(ref, extra, cut):
    # Appending k characters that never occur in ref costs exactly k insertions.
    assert cer(ref + extra, ref, RAW) == pytest.approx(len(extra) / len(ref))
    # Dropping a suffix costs exactly its length in deletions.
    cut = min(cut, len(ref))
    assert cer(ref[: len(ref) - cut], ref, RAW) == pytest.approx(cut / len(ref))
    assert cer(ref, ref) == 0.0


def test_normalization_is_configurable_and_validated():
    assert Normalization().apply("  a\u00a0 \n b ") == "a b"
    assert as_normalization({"casefold": True}) == Normalization(casefold=True)
    assert as_normalization(None) == Normalization()
    assert Normalization.from_dict(Normalization(nfkc=False).to_dict()) == Normalization(nfkc=False)
    with pytest.raises(SpecError, match="Did you mean: casefold"):
        as_normalization({"casefolding": True})


def test_threshold_policy_and_reference_join():
    assert passes(0.0, 0.0) is True and passes(0.01, 0.0) is False and passes(0.05, 0.05) is True
    assert passes(None, 0.0) is None
    assert reference_text(["a", "b"]) == "a\nb"
    # two images: CER over the concatenation (a missing second image costs its characters)
    assert cer("3A = 6", reference_text(["3A = 6", "B = 2"])) == pytest.approx(6 / 12)
    with pytest.raises(SpecError, match="CER"):
        check_threshold(-0.1)
    with pytest.raises(SpecError, match="Did you mean: exclude"):
        check_policy("exclud")


def _table() -> pl.DataFrame:
    """Two models on the same two image cells (2 problems each) and a text row."""
    rows = []
    gates = {("m1", "c1"): [True, True], ("m1", "c2"): [True, False], ("m2", "c1"): [False, False],
             ("m2", "c2"): [True, True]}
    for (model, cell), passed in gates.items():
        for i, ok in enumerate(passed):
            vid = f"v-{cell}-p{i}"
            for pt in ("ocr", "solve"):
                rows.append({"model": model, "problem_id": f"p{i}", "cell_id": cell, "variant_id": vid,
                             "prompt_type": pt, "modality": "image", "dpi": "50" if cell == "c1" else "200",
                             "correct": None if pt == "ocr" else True, "ocr_cer": 0.0 if ok else 0.2,
                             "gate_passed": ok})
    for model in ("m1", "m2"):
        rows.append({"model": model, "problem_id": "p0", "cell_id": "ct", "variant_id": "vt", "prompt_type": "solve",
                     "modality": "text", "dpi": None, "correct": True, "ocr_cer": None, "gate_passed": None})
    return pl.DataFrame(rows)


def test_pass_rates_per_model_and_cell():
    pr = pass_rates(_table(), factors=["dpi"])
    assert pr.columns == ["model", "cell_id", "dpi", "n", "n_passed", "pass_rate"]
    got = {(m, c): (n, k, r) for m, c, _, n, k, r in pr.iter_rows()}
    assert got == {("m1", "c1"): (2, 2, 1.0), ("m1", "c2"): (2, 1, 0.5), ("m2", "c1"): (2, 0, 0.0),
                   ("m2", "c2"): (2, 2, 1.0)}
    pooled = pass_rates(_table(), factors=["dpi"], by_model=False)
    assert dict(zip(pooled["cell_id"], pooled["pass_rate"])) == {"c1": 0.5, "c2": 0.75}
    inferred = pass_rates(_table().drop("correct"))  # factor columns inferred from non-schema columns
    assert inferred.equals(pr)  # dpi is found as the only factor: the same table as when named


def test_pass_sets_are_per_model():
    ps = pass_sets(_table())
    assert ps["m1"] == {"v-c1-p0", "v-c1-p1", "v-c2-p0"}
    assert ps["m2"] == {"v-c2-p0", "v-c2-p1"}


def test_apply_gate_policies():
    t = _table()
    ex = apply_gate(t, "exclude")
    assert ex.filter(pl.col("gate_passed") == False).height == 0  # noqa: E712
    assert ex.filter(pl.col("modality") == "text").height == 2  # text rows have no gate and stay
    # per model: m2 keeps only c2 image rows
    assert set(ex.filter((pl.col("model") == "m2") & (pl.col("modality") == "image"))["cell_id"]) == {"c2"}
    assert apply_gate(t, "covariate").height == t.height == apply_gate(t, "ignore").height


def test_ignore_whitespace_option_drops_spacing_only():
    from restplus.runner.gate import Normalization, cer

    ref = "-7C - 4D - 7E = 3"
    assert cer("-7C-4D-7E=3", ref) > 0.2
    assert cer("-7C-4D-7E=3", ref, Normalization(ignore_whitespace=True)) == 0.0
    # a real misreading still counts
    assert cer("-7C-4D-7E=8", ref, Normalization(ignore_whitespace=True)) > 0.0
