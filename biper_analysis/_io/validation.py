"""Argument validation shared by every public numeric function.

Public functions validate, broadcast and promote to float64 here; private kernels assume clean input.
Error messages name the argument, the bad value, the valid range and the fix.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

__all__ = [
    "as_float_array",
    "positive",
    "nonnegative",
    "scalar_or_array",
    "GAMMA_OPT_WORDS",
    "parse_gamma",
    "renamed_argument",
]


def as_float_array(name: str, value: Any) -> np.ndarray:
    """Convert ``value`` to a float64 array, refusing non-numeric input with a message naming ``name``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number or an array of real numbers, got {value!r}") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {_first_bad(arr, ~np.isfinite(arr))}; pass a finite value")
    return arr


def positive(name: str, value: Any) -> np.ndarray:
    """float64 array of ``value``; ValueError unless every element is finite and > 0."""
    arr = as_float_array(name, value)
    if np.any(arr <= 0):
        raise ValueError(f"{name} must be > 0, got {_first_bad(arr, arr <= 0)}; pass a positive value")
    return arr


def nonnegative(name: str, value: Any) -> np.ndarray:
    """float64 array of ``value``; ValueError unless every element is finite and >= 0."""
    arr = as_float_array(name, value)
    if np.any(arr < 0):
        raise ValueError(f"{name} must be >= 0, got {_first_bad(arr, arr < 0)}; pass a non-negative value")
    return arr


def _first_bad(arr: np.ndarray, mask: np.ndarray) -> float:
    return float(arr[mask].flat[0]) if arr.ndim else float(arr)


def scalar_or_array(result: np.ndarray, *inputs: Any) -> float | np.ndarray:
    """Return a Python float when every input was a scalar, else the array."""
    if all(np.ndim(v) == 0 for v in inputs):
        return float(result)
    return result


#: Words that mean "the optimal scale γ*" wherever a γ is given as text.
GAMMA_OPT_WORDS = ("opt", "optimal", "none")


def parse_gamma(value: Any) -> float | None:
    """γ from user input: None or 'opt' (also 'optimal', 'none') → None, the optimal γ*; else a finite number ≥ 0.

    The one parser of γ: the command line and the library both call it.

    >>> parse_gamma("opt"), parse_gamma("0.6"), parse_gamma(1)
    (None, 0.6, 1.0)
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in GAMMA_OPT_WORDS):
        return None
    try:
        g = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"gamma must be 'opt' or a number >= 0, got {value!r}") from None
    if not math.isfinite(g) or g < 0:
        raise ValueError(f"gamma must be 'opt' or a finite number >= 0, got {value!r}")
    return g


def renamed_argument(new: Any, old: Any, new_name: str, old_name: str, func: str) -> Any:
    """The value of an argument renamed from ``old_name`` to ``new_name``: the old name still works for a release,
    with a DeprecationWarning; both at once is a TypeError.

    >>> renamed_argument(("laplace",), None, "laws", "models", "analyze_checkpoint")
    ('laplace',)
    """
    if old is None:
        return new
    if new is not None:
        raise TypeError(f"{func}() got both {new_name}= and its deprecated name {old_name}=; pass {new_name}= only")
    warnings.warn(f"{func}({old_name}=...) is deprecated; use {new_name}=", DeprecationWarning, stacklevel=3)
    return old
