"""Runner: prompts, requests, the response cache, the OCR gate, evaluation and the long results table."""

from __future__ import annotations

from .cache import ResponseCache
from .evaluation import MAX_CONSECUTIVE_ERRORS, RunResult, evaluate, rescore
from .gate import Normalization, cer, pass_rates
from .prompts import PromptSet
from .runs import Runs, concat_results, read_runs

__all__ = ["MAX_CONSECUTIVE_ERRORS", "Normalization", "PromptSet", "ResponseCache", "RunResult", "Runs", "cer",
           "concat_results", "evaluate", "pass_rates", "read_runs", "rescore"]
