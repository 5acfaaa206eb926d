"""Search mode: factor spaces with ranges, strategies, budgeted probing, thresholds, minimal failures."""

from __future__ import annotations

from .run import SearchResult, search
from .space import Axis, Space, load_space, save_space, space_from_dict

__all__ = ['Axis', 'SearchResult', 'Space', 'load_space', 'save_space', 'search', 'space_from_dict']
