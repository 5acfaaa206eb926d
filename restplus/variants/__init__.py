"""Variants: a problem realised in a cell; run folders, the worker pool, on-demand sets, exports,
contact sheets."""

from __future__ import annotations

from .contact import contact_sheet, contact_sheet_pages
from .exports import export_hf_parquet, export_lmms_eval, export_vlmevalkit_tsv
from .generation import GenerateError, generate
from .ondemand import VariantIndexError, VariantKeyTypeError, VariantSet, variants
from .realization import image_seed, realize
from .runfolder import RunFolder, load_run
from .variant import Variant

__all__ = [
    "GenerateError", "RunFolder", "Variant", "VariantIndexError", "VariantKeyTypeError", "VariantSet",
    "contact_sheet", "contact_sheet_pages",
    "export_hf_parquet", "export_lmms_eval", "export_vlmevalkit_tsv", "generate", "image_seed",
    "load_run", "realize", "variants"
]
