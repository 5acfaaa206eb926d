"""restplus — a controlled stress-test factory for multimodal LLMs.

``import restplus as rp`` gives a flat API. Heavy modules (render, models, stats) load lazily on
first attribute access, so ``import restplus`` stays fast and a spec can be validated without
torch or statsmodels.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    # errors
    **{n: "restplus.errors" for n in (
        "RestplusError", "SpecError", "UnknownNameError", "DesignError", "GridTooLargeError", "ProblemError",
        "RenderError", "FontError", "GlyphError", "TextOverflowError", "BidiControlError", "ImageTooLargeError",
        "ModelError",
        "BudgetExceeded", "CacheMismatchError",
        "AnalysisError", "DuplicateRunError", "ExtractionError", "GenerateError", "VariantIndexError",
        "VariantKeyTypeError", "FolderLockedError", "RunAbortedError", "FileAccessError",
        "ResultsImportError", "RestplusWarning", "AnalysisWarning", "MissingnessWarning", "PixelBudgetWarning",
        "FewModelsWarning", "RepairWarning")},
    # grammar
    **{n: "restplus.grammar" for n in (
        "Factor", "FactorKind", "factor", "register_factor_kind", "kind_names", "text_color", "background",
        "dpi", "font", "font_size", "layout", "modality", "blur", "jpeg", "noise", "rotation",
        "Full", "OneAtATime", "Union", "Sample",
        "Grid", "Cell", "RenderDefaults", "RenderParams", "ModalityPlan", "variant_seed", "SPEC_VERSION",
        "Layout", "register_layout", "layout_names", "load_grid", "save_grid", "describe")},
    # records
    **{n: "restplus.records" for n in ("TextPart", "ImagePart", "Decoding", "Request", "Response")},
    "Variant": "restplus.variants",
    "RenderedImage": "restplus.render",
    # problems
    **{n: "restplus.problems" for n in (
        "Problem", "Segment", "ProblemSet", "load_problems", "save_problems", "builtin_set", "builtin_names",
        "extract", "score", "register_extractor", "solve_from_text", "SoEConfig")},
    # rendering and variants
    **{n: "restplus.render" for n in ("render_text", "resolve_font", "missing_glyphs", "register_degradation",
                                      "contrast_ratio")},
    **{n: "restplus.variants" for n in (
        "realize", "generate", "load_run", "RunFolder", "VariantSet", "variants", "contact_sheet",
        "contact_sheet_pages",
        "export_hf_parquet")},
    # peer harnesses: exports that carry the run's prompts and decoding, and the import of their results
    **{n: "restplus.runner.peer_export" for n in ("export_vlmevalkit_tsv", "export_lmms_eval")},
    "import_results": "restplus.runner.importer",
    # models (``rp.models.load("hf", path=...)``; ``rp.load_model`` is the same function)
    "models": "restplus.models",
    # runner and gate
    **{n: "restplus.runner" for n in ("evaluate", "rescore", "RunResult", "PromptSet", "Normalization", "cer",
                                      "pass_rates", "ResponseCache", "concat_results", "read_runs", "Runs")},
    # analysis
    **{n: "restplus.stats" for n in (
        "consistency", "effects", "EffectTable", "mcnemar_pairs", "cochran_q", "paired_ttest", "power_paired",
        "mcnemar_power", "minimal_counterfactual", "counterfactuals", "token_curve", "accuracy_table",
        "gate_summary", "simulate_table", "missingness")},
    **{n: "restplus.report" for n in ("write_report", "consistency_table", "write_effects")},
    # search mode (``rp.strategies`` holds the Hypothesis strategies)
    **{n: "restplus.search" for n in ("search", "SearchResult", "Space", "Axis", "load_space", "save_space",
                                      "space_from_dict")},
    "strategies": "restplus.search.strategies",
    # modality gap
    **{n: "restplus.gap" for n in ("measure_gap", "gap_curves", "gap_summary", "gap_correlation", "GapResult")},
}

_MODULES = {"models", "strategies"}  # attributes that are modules, not names inside a module
# Flat-API functions named like a part's folder. Importing a subpackage binds it as an attribute of its
# parent, which would hide the function; the module class below keeps ``rp.<name>`` the function (the
# package is still importable as ``restplus.<name>`` and through ``from restplus.<name> import ...``).
_FUNCTIONS_OVER_PACKAGES = {"variants", "search"}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        from .errors import did_you_mean

        raise AttributeError(f"module 'restplus' has no attribute {name!r}.{did_you_mean(name, _LAZY)}")
    module = importlib.import_module(mod)
    value = module if name in _MODULES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


class _Restplus(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_OVER_PACKAGES and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Restplus
