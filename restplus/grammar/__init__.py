"""Grammar: factors and their levels, designs, layouts, grids of cells, spec files. Pure data."""

from __future__ import annotations

from . import visual_kinds  # noqa: F401  (registers board_theme, chart_style, layout_seed)
from .designs import Full, OneAtATime, Sample, Union, design_from_spec
from .factors import (
                      Factor,
                      FactorKind,
                      background,
                      blur,
                      dpi,
                      factor,
                      font,
                      font_size,
                      get_kind,
                      jpeg,
                      kind_names,
                      layout,
                      modality,
                      noise,
                      register_factor_kind,
                      rotation,
                      text_color,
)
from .grid import SPEC_VERSION, Cell, Grid, ModalityPlan, RenderDefaults, variant_seed
from .layouts import Layout, get_layout, layout_names, register_layout
from .params import RenderParams
from .spec import describe, load_grid, load_spec_dict, save_grid

__all__ = [
    "Cell", "Factor", "FactorKind", "Full", "Grid", "Layout", "ModalityPlan", "OneAtATime", "RenderDefaults",
    "RenderParams", "SPEC_VERSION", "Sample", "Union", "background", "blur", "describe", "design_from_spec", "dpi",
    "factor", "font", "font_size", "get_kind", "get_layout", "jpeg", "kind_names", "layout", "layout_names",
    "load_grid", "load_spec_dict", "modality", "noise", "register_factor_kind", "register_layout", "rotation",
    "save_grid", "text_color", "variant_seed"
]
