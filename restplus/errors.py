"""The one error tree of restplus.

Every error restplus raises on purpose is a :class:`RestplusError`. Subclasses also inherit the
matching builtin (``ValueError``, ``KeyError``, ``LookupError`` ...) so callers that already catch
builtins keep working. Messages name what was wrong, the offending value, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RestplusError(Exception):
    """Root of every error restplus raises deliberately."""


class SpecError(RestplusError, ValueError):
    """A grid, factor or spec file is malformed (bad key, level, reference, version ...)."""


class UnknownNameError(RestplusError, KeyError):
    """A name (factor kind, font, layout, extractor, adapter ...) is not registered."""

    def __str__(self) -> str:  # KeyError would repr() the message and add quotes
        return str(self.args[0]) if self.args else ""


class DesignError(RestplusError, ValueError):
    """A design cannot be built or analysed (empty grid, unbalanced where balance is needed)."""


class GridTooLargeError(DesignError):
    """A grid would have more cells than ``restplus.grammar.grid.MAX_CELLS``. The cells are counted
    arithmetically, never enumerated; ``n_cells`` and ``factors`` say what was counted (``restplus
    describe`` prints them)."""

    def __init__(self, message: str, n_cells: int = 0, factors: tuple = ()) -> None:
        super().__init__(message)
        self.n_cells, self.factors = n_cells, tuple(factors)


class ProblemError(RestplusError, ValueError):
    """A base problem or problem file is invalid (missing field, answer not among choices ...)."""


class RenderError(RestplusError, ValueError):
    """Text cannot be rendered faithfully (missing glyph, overflow, font hash mismatch ...)."""


class FontError(RenderError):
    """A font is missing, unreadable, or its file differs from the manifest."""


class GlyphError(RenderError):
    """The font lacks glyphs for characters of the text; never drawn as tofu."""


class TextOverflowError(RenderError):
    """Text does not fit the declared page (word wider than a line, page taller than max)."""


class BidiControlError(RenderError):
    """The text holds an explicit bidi embedding/override/isolate control (RLO, LRI, ...): the image
    would read differently from the reference text. Strip the controls."""


class ImageTooLargeError(RenderError):
    """An image would exceed the pixel limit (``restplus.render.MAX_PIXELS``); refused before allocation."""


class ModelError(RestplusError, RuntimeError):
    """A model adapter failed in a way that is not a per-request error."""


class BudgetExceeded(ModelError):
    """A token or request budget cap was reached; the run stopped cleanly."""


class CacheMismatchError(RestplusError, ValueError):
    """A run folder or cache was made with different inputs (spec, problems, model)."""


class AnalysisError(RestplusError, ValueError):
    """An analysis cannot be computed honestly on the given table."""


class DuplicateRunError(AnalysisError):
    """The same run was given twice (same ``run_id``), or two runs share a name, so rows would be
    counted twice or two experiments mixed under one label."""


class ExtractionError(RestplusError, ValueError):
    """An answer extractor was misconfigured (not: a model output that did not parse)."""


class GenerateError(RestplusError, RuntimeError):
    """Worker processes could not run (e.g. a script without an ``if __name__ == "__main__"`` guard)."""


class FolderLockedError(RestplusError, RuntimeError):
    """Another process is writing the same run folder (generate or evaluate); the message names it."""


class RunAbortedError(ModelError):
    """A run stopped early: many consecutive requests failed the same way (bad key, dead server)."""


class FileAccessError(RestplusError, OSError):
    """The operating system refused a file operation (permissions, full disk, a file where a folder
    should be ...); the message names the path and what to do. Also an OSError, for callers that catch it."""


class ResultsImportError(RestplusError, ValueError):
    """Results of another harness (lmms-eval, VLMEvalKit) do not fit the variant set they are joined to:
    unreadable file, missing or extra rows, ids that disagree. The message gives counts and the first ids."""


class VariantIndexError(RestplusError, IndexError):
    """An index outside a VariantSet (also an IndexError, so ``for``-protocol code keeps working)."""


class VariantKeyTypeError(RestplusError, TypeError):
    """A VariantSet was indexed with something other than an int or a slice."""


# ---------------------------------------------------------------------------------- warnings
class RestplusWarning(UserWarning):
    """Root of every warning restplus issues: ``warnings.simplefilter("error", rp.RestplusWarning)``
    turns all of them into errors at once (e.g. in a CI job that must be clean)."""


class AnalysisWarning(RestplusWarning):
    """A degenerate or doubtful input the analysis worked around; the message says how."""


class MissingnessWarning(AnalysisWarning):
    """The share of missing rows (failed requests) differs between the levels of a factor (or between
    modalities). Missing rows are left out of every metric; when their rate depends on a level, the
    remaining rows of that level are a selected sample and the factor's effect is biased (e.g. timeouts
    on large 200-DPI images look like a DPI effect). See :func:`restplus.stats.missingness`.
    """


class PixelBudgetWarning(RestplusWarning):
    """Different input image sizes become the same processed size under the model's pixel budget.

    Typical cause: a Qwen-style ``max_pixels`` that downsamples 100 DPI and 200 DPI renders of one
    page to the same grid, so a DPI factor has no effect on what the model sees.
    """


class RepairWarning(RestplusWarning):
    """A resumed run found damaged leftovers of an interrupted one (e.g. a truncated part file) and
    rebuilt them; the message names each file."""


class FewModelsWarning(RestplusWarning):
    """A cross-model correlation rests on fewer than ``restplus.gap.measure.MIN_MODELS`` models."""


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """Return ' Did you mean: x?' for the nearest valid names, or ''."""
    pool = sorted({str(c) for c in choices})
    close = difflib.get_close_matches(str(name), pool, n=3, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in pool}
        close = [lowered[c] for c in difflib.get_close_matches(str(name).lower(), list(lowered), n=3)]
    return f" Did you mean: {', '.join(close)}?" if close else ""


def unknown_name(what: str, name: object, choices: Iterable[str]) -> UnknownNameError:
    """Build the standard 'Unknown <what> ...' error with did-you-mean and the valid names."""
    pool = sorted({str(c) for c in choices})
    return UnknownNameError(
        f"Unknown {what} {name!r}.{did_you_mean(str(name), pool)} Available: {', '.join(pool)}."
    )


def check_keys(where: str, mapping: Iterable[object], allowed: Iterable[str]) -> None:
    """Refuse the first key of a spec section that is not ``allowed``: one message for every section.

    ``where`` names the section as the user wrote it (e.g. ``"grid.yaml: render"``); the message
    gives the bad key, the nearest allowed ones and the full list.
    """
    pool = list(allowed)
    for k in mapping:
        if k not in pool:
            raise SpecError(f"{where}: unknown key {k!r}.{did_you_mean(str(k), pool)} "
                            f"Allowed: {', '.join(sorted(pool))}.")


def expect_number(where: str, value: object, *, integer: bool = False, optional: bool = False,
                  example: object = None) -> None:
    """Refuse a spec value that is not a number (bools and numeric strings included), naming it.

    Comparisons on a wrong type would otherwise surface as "'<' not supported ..." from deep inside.
    ``example`` is the valid value the fix suggests (default 1 or 0.5).
    """
    if optional and value is None:
        return
    ok = (isinstance(value, int) if integer else isinstance(value, (int, float))) and not isinstance(value, bool)
    if not ok:
        kind = "an integer" if integer else "a number"
        raise SpecError(f"{where}={value!r} must be {kind} (got {type(value).__name__}); write it without quotes, "
                        f"e.g. {where.rsplit('.', 1)[-1].split()[-1]}: "
                        f"{example if example is not None else 1 if integer else 0.5}.")
