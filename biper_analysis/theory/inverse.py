r"""The inverse problem: every ω0 giving a target QE (the paper's "flexible initialisation").

With the optimal scale γ*, QE_min(x) (x = ω0·b, Laplace weights) rises from 0 (~x² as x → 0) to its single
maximum QE_peak = 0.1028346… at x_peak ≈ 0.9548825 (:func:`biper_analysis.theory.analytic.qe_min_peak`) and falls
to 1/2 − 4/π² ≈ 0.0947152 as x → ∞ (:data:`biper_analysis.theory.analytic.QE_MIN_LIMIT_LARGE_X`). Hence a target in
(0, 1/2 − 4/π²] has one root, a target in (1/2 − 4/π², QE_peak) two, QE_peak one (x_peak), anything else none.
Each branch is solved by Brent's method in log x on a bracket that provably contains one root.

At a fixed γ the curve QE(x; γ) runs from γ² (x → 0) to γ² − 4γ/π + 1/2 (x → ∞) and need not be monotone
(at γ = 1 it falls monotonically, at γ = 0.3 it dips and rises again), so every sign change of
QE − target on a fine log grid in x is bracketed and refined by Brent's method. Other priors (``prior=``)
use the same scan in x = ω0·scale.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.optimize import brentq

from biper_analysis._io import validation
from biper_analysis.theory import analytic

__all__ = ["attainable_range", "omega0_for_qe", "omega0_report"]

#: Scan grid for the fixed-γ / general-prior case: x = ω0·scale from 1e-8 to 1e8.
_SCAN_LOG10 = (-8.0, 8.0)
_SCAN_POINTS = 3201
_SCAN_POINTS_PRIOR = 801


def _brent_log(f: Any, lo: float, hi: float) -> float:
    """Root of f(x) on [lo, hi] (sign change assumed), solved in log x to full double precision."""
    r = brentq(
        lambda u: f(math.exp(u)), math.log(lo), math.log(hi), xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=500
    )
    return math.exp(r)


def _qe_min_x(x: float) -> float:
    return float(analytic.qe_min_of_x(float(x)))


def _qe_of_x(g: float) -> Any:
    """QE(x; γ) of Laplace weights as a function of x = ω0·b (the closed form's kernels)."""
    return lambda x: analytic.qe_from_moments(analytic.e_sin2_of_x(x), analytic.e_abs_sin_of_x(x), g)


def _roots_optimal_gamma(target: float) -> list[float]:
    x_peak, q_peak = analytic.qe_min_peak()
    limit = analytic.QE_MIN_LIMIT_LARGE_X
    if not 0.0 < target <= q_peak * (1 + 1e-15):
        raise ValueError(
            f"target QE {target!r} is not attainable with the optimal γ*: QE_min takes values in "
            f"(0, {q_peak:.10f}] (peak at ω0·b = {x_peak:.7f}); pass a target in that range"
        )
    if target >= q_peak:
        return [x_peak]
    f = lambda x: _qe_min_x(x) - target
    lo = math.sqrt(target) / 4.0
    while f(lo) >= 0.0:
        lo /= 4.0
    roots = [_brent_log(f, lo, x_peak)]
    if target > limit:
        hi = 2.0 * x_peak
        while f(hi) > 0.0:
            hi *= 4.0
            if hi > 1e12:
                raise ValueError(
                    f"target QE {target!r} is within float64 rounding of the large-x limit "
                    f"1/2 − 4/π² = {limit:.17f}; its second root lies beyond ω0·b = 1e12"
                )
        roots.append(_brent_log(f, x_peak, hi))
    return roots


def _scan_roots(g: Any, target: float, n: int, limits: tuple[float, float], what: str) -> list[float]:
    """All roots of g(x) = target found from sign changes on a log grid; ValueError with the range if none."""
    xs = np.logspace(*_SCAN_LOG10, n)
    vals = np.asarray(g(xs), dtype=np.float64)
    diff = vals - target
    roots: list[float] = []
    for i in range(n - 1):
        if diff[i] == 0.0:
            roots.append(float(xs[i]))
        elif diff[i] * diff[i + 1] < 0.0:
            roots.append(_brent_log(lambda x: float(g(np.array([x]))[0]) - target, float(xs[i]), float(xs[i + 1])))
    if diff[-1] == 0.0:
        roots.append(float(xs[-1]))
    if not roots:
        lo = min(float(vals.min()), *limits)
        hi = max(float(vals.max()), *limits)
        raise ValueError(
            f"target QE {target!r} is not attainable {what}: QE takes values in about "
            f"[{lo:.10g}, {hi:.10g}] (limits {limits[0]:.10g} as ω0 → 0 and {limits[1]:.10g} as "
            f"ω0 → ∞); pass a target in that range"
        )
    return roots


def attainable_range(gamma: Any = None) -> tuple[float, float]:
    """(inf, sup) of QE over ω0 ∈ (0, ∞) for Laplace weights, at γ* (``gamma=None``) or a fixed γ.

    >>> lo, hi = attainable_range()
    >>> lo, f"{hi:.7f}"
    (0.0, '0.1028346')
    >>> attainable_range(1.0)[1]
    1.0
    """
    if gamma is None:
        return 0.0, analytic.qe_min_peak()[1]
    g = float(validation.nonnegative("gamma", gamma))
    xs = np.logspace(*_SCAN_LOG10, _SCAN_POINTS)
    vals = _qe_of_x(g)(xs)
    ends = (g * g, analytic.qe_limit_large_x(g))
    return min(float(vals.min()), *ends), max(float(vals.max()), *ends)


def omega0_for_qe(target: Any, b: Any = None, gamma: Any = None, *, prior: Any = None) -> np.ndarray:
    r"""Every ω0 > 0 with QE(ω0, b, γ) = ``target``, sorted (0, 1 or 2 roots; ValueError when none).

    ``gamma=None`` uses the optimal γ* (roots of QE_min, one per branch); a number fixes γ. With
    ``prior=`` (any :mod:`biper_analysis.laws.priors` law) instead of ``b``, the roots of QE under that law,
    found by the grid scan. Unreachable targets raise ValueError naming the attainable range.

    >>> [f"{w:.6f}" for w in omega0_for_qe(0.10, b=1.0)]
    ['0.692250', '1.610309']
    """
    t = validation.positive("target", target)
    if t.ndim:
        raise ValueError("target must be a single QE value; call omega0_for_qe once per target")
    tval = float(t)
    g = None if gamma is None else float(validation.nonnegative("gamma", gamma))
    if prior is not None:
        if b is not None:
            raise ValueError("pass either b (the Laplace scale) or prior=..., not both")
        scale = float(prior.scale)

        def qe_of_x(x: np.ndarray) -> np.ndarray:
            omega = np.asarray(x, dtype=np.float64) / scale
            return analytic.qe_from_moments(prior.expected_sin2(omega), prior.expected_abs_sin(omega), g)

        lim0 = 0.0 if g is None else g * g
        lim_inf = analytic.QE_MIN_LIMIT_LARGE_X if g is None else analytic.qe_limit_large_x(g)
        xs = _scan_roots(
            qe_of_x,
            tval,
            _SCAN_POINTS_PRIOR,
            (lim0, lim_inf),
            f"under {prior!r} with " + ("γ*" if g is None else f"γ = {g}"),
        )
        return np.sort(np.asarray(xs) / scale)
    if b is None:
        raise ValueError(
            "b (the Laplace scale, mean|w|) is required, e.g. omega0_for_qe(0.1, b=0.037), or pass prior=..."
        )
    bb = validation.positive("b", b)
    if bb.ndim:
        raise ValueError("b must be a single number")
    if g is None:
        xs = _roots_optimal_gamma(tval)
    else:
        xs = _scan_roots(_qe_of_x(g), tval, _SCAN_POINTS, (g * g, analytic.qe_limit_large_x(g)), f"with γ = {g}")
    return np.sort(np.asarray(xs, dtype=np.float64) / float(bb))


def omega0_report(
    target: float, b: float | None = None, gamma: float | None = None, *, prior: Any = None
) -> dict[str, Any]:
    """Every ω0 giving ``target`` with its context, as one record (what ``biper-analysis omega0`` prints).

    For Laplace weights (``b``) the branch of each root at γ* (rising below the peak x_peak, falling above)
    and the attainable range; for any other law (``prior``) the roots and the QE at each.

    >>> r = omega0_report(0.10, b=0.037)
    >>> [round(w, 4) for w in r["omega0"]], r["branches"]
    ([18.7095, 43.5219], ['rising', 'falling'])
    """
    g = None if gamma is None else float(validation.nonnegative("gamma", gamma))
    roots = [float(r) for r in omega0_for_qe(target, b=b, gamma=g, prior=prior)]
    x_peak, q_peak = analytic.qe_min_peak()
    scale = float(b) if prior is None else float(prior.scale)
    if prior is None:
        at_roots = [float(analytic.qe(r, b, g)) for r in roots]
        lo, hi = attainable_range(g)
        branches = ["rising" if r * scale <= x_peak else "falling" for r in roots] if g is None else None
    else:
        at_roots = [
            float(analytic.qe_from_moments(float(prior.expected_sin2(r)), float(prior.expected_abs_sin(r)), g))
            for r in roots
        ]
        lo = hi = None
        branches = None
    return {
        "target_qe": float(target),
        "b": None if prior is not None else float(b),
        "law": None if prior is None else repr(prior),
        "gamma": "opt" if g is None else g,
        "omega0": roots,
        "x": [r * scale for r in roots],
        "qe_at_roots": at_roots,
        "branches": branches,
        "attainable": None if lo is None else [lo, hi],
        "qe_min_peak": q_peak,
        "x_peak": x_peak,
        "qe_min_limit_large_x": analytic.QE_MIN_LIMIT_LARGE_X,
    }
