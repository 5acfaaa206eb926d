"""Base problems: built-in generators, loaders, answer extraction and text solvers."""

from __future__ import annotations

from .arith import generate_arith
from .base import ANSWER_TYPES, ROLES, Problem, Segment
from .builtin import builtin_names, builtin_set
from .canon import canonical_assignment, canonical_number
from .extract import (
                      ANSWER_SUFFIX,
                      EXTRACTOR_VERSION,
                      EXTRACTORS,
                      Extraction,
                      answer_suffix,
                      canonical_answer,
                      extract,
                      register_extractor,
                      score,
)
from .loaders import PRESETS, LoadReport, ProblemSet, RowError, load_problems, save_problems
from .mcq import generate_mcq
from .readers import LATEX_PATTERNS, MAX_CHARS, latex_match
from .soe import SoEConfig, generate_soe, soe_config
from .solvers import solve_from_text

__all__ = [
    "ANSWER_SUFFIX", "ANSWER_TYPES", "EXTRACTORS", "EXTRACTOR_VERSION", "Extraction", "LATEX_PATTERNS",
    "LoadReport", "MAX_CHARS", "PRESETS", "Problem", "ProblemSet", "ROLES", "RowError", "Segment",
    "SoEConfig", "answer_suffix", "builtin_names", "builtin_set", "canonical_answer",
    "canonical_assignment", "canonical_number", "extract", "generate_arith", "generate_mcq",
    "generate_soe", "latex_match", "load_problems", "register_extractor", "save_problems", "score",
    "soe_config", "solve_from_text",
]
