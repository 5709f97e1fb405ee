"""Figures: each a function that takes results and returns a matplotlib Figure (compute → results → figure).

Sub-modules by subject; :func:`save_figure` is the one way figures reach disk (PDF + PNG, atomic,
deterministic, provenance in the metadata).
"""

from biper_analysis.plotting._save import save_figure

__all__ = ["save_figure"]
