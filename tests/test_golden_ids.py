"""Golden identities: spec hashes, cell ids, variant ids and PNG sha256 of the shipped specs.

``tests/golden/ids.json`` was made before the architecture refactor (one folder per part) and checked
again after it, so it proves that moving code did not move an id, a hash or a pixel. Regenerate only for
an intended change: RESTPLUS_UPDATE_GOLDEN=1 python -m pytest tests/test_golden_ids.py
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import restplus as rp
from restplus.variants.realization import realize

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden" / "ids.json"


def _identities() -> dict:
    out = {}
    probs = [*rp.builtin_set("soe", n=1, seed=3), *rp.builtin_set("mcq", n=1, seed=3),
             *rp.builtin_set("arith", n=1, seed=3)]
    for spec in sorted((ROOT / "perturbations").glob("*.yaml")):
        if spec.name.startswith("_") or spec.name == "search_space.yaml":
            continue
        g = rp.load_grid(spec)
        cells = g.cells()
        rec = {"spec_hash": g.spec_hash, "n_cells": len(cells),
               "cell_ids": hashlib.sha256("\n".join(c.cell_id for c in cells).encode()).hexdigest()}
        picks = [c for m in ("text", "image", "mixed") for c in [x for x in cells if x.modality == m][:3]]
        rec["variants"] = {
            f"{p.problem_id}/{c.cell_id}": {"variant_id": v.variant_id, "png_sha256": [im.sha256 for im in v.images]}
            for p in probs for c in picks for v in [realize(p, g, c, rp.variant_seed(0, p.problem_id, c))]}
        out[spec.name] = rec
    return out


def test_ids_hashes_and_pngs_of_shipped_specs_are_unchanged():
    got = _identities()
    if os.environ.get("RESTPLUS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n")
    want = json.loads(GOLDEN.read_text())
    assert set(got) == set(want), "shipped specs changed; regenerate the golden file if intended"
    for name in want:
        for key in ("spec_hash", "n_cells", "cell_ids"):
            assert got[name][key] == want[name][key], (name, key)
        assert got[name]["variants"] == want[name]["variants"], f"{name}: variant ids or PNG bytes changed"
    assert sum(len(r["variants"]) for r in want.values()) >= 60  # the file covers a real sample
