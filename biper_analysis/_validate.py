"""Argument validation shared by every public numeric function.

Public functions validate, broadcast and promote to float64 here; private kernels assume clean input.
Error messages name the argument, the bad value, the valid range and the fix (DESIGN.md, convention 10).
"""
from __future__ import annotations

from typing import Any

import numpy as np


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
