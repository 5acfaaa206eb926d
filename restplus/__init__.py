"""restplus — a controlled stress-test factory for multimodal LLMs.

``import restplus as rp`` gives a flat API. Heavy modules (render, models, stats) load lazily on
first attribute access, so ``import restplus`` stays fast and a spec can be validated without
torch or statsmodels.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it (imported on first access)
_LAZY: dict[str, str] = {
    # errors
    **{n: "restplus.errors" for n in (
        "RestplusError", "SpecError", "UnknownNameError", "DesignError", "ProblemError", "RenderError",
        "FontError", "GlyphError", "TextOverflowError", "ModelError", "BudgetExceeded", "CacheMismatchError",
        "AnalysisError", "ExtractionError")},
    # grammar
    **{n: "restplus.factors" for n in (
        "Factor", "FactorKind", "factor", "register_factor_kind", "kind_names", "text_color", "background",
        "dpi", "font", "font_size", "layout", "modality", "blur", "jpeg", "noise", "rotation")},
    **{n: "restplus.design" for n in ("Full", "OneAtATime", "Union", "Sample")},
    **{n: "restplus.grid" for n in ("Grid", "Cell", "RenderDefaults", "ModalityPlan", "variant_seed", "SPEC_VERSION")},
    **{n: "restplus.layouts" for n in ("Layout", "register_layout", "layout_names")},
    **{n: "restplus.spec" for n in ("load_grid", "save_grid", "describe")},
    # records
    **{n: "restplus.records" for n in ("TextPart", "ImagePart", "Decoding", "Request", "Response")},
    **{n: "restplus.variant" for n in ("Variant", "RenderedImage")},
    **{n: "restplus.problems.base" for n in ("Problem", "Segment")},
}

__all__ = sorted([*_LAZY, "__version__"])


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        from .errors import did_you_mean

        raise AttributeError(f"module 'restplus' has no attribute {name!r}.{did_you_mean(name, _LAZY)}")
    value = getattr(importlib.import_module(mod), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
