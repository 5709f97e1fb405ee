r"""Closed-form quantisation error of BiPer under Laplace weights, evaluated stably in float64.

Parameterisation (used everywhere in this package):

* weights :math:`w \sim \mathrm{Laplace}(0, b)`, pdf :math:`e^{-|w|/b}/(2b)`, ``b`` is the *scale* (mean |w|);
* ``omega0`` is the angular frequency of the square wave :math:`\mathrm{sign}(\sin(\omega_0 w))`;
* ``gamma`` is the scale of the binary weight; ``gamma=None`` means the optimal scale :math:`\gamma^*`.

Everything depends on ``omega0`` and ``b`` only through :math:`x = \omega_0 b`. The private kernels
``_e_sin2``, ``_e_abs_sin`` ... take ``x``; the public functions validate, broadcast and promote to float64.

Sources: the paper's printed QE (BiPer, CVPR 2024, Sec. 3; quoted in :mod:`biper_analysis.paper`) and the
derivation in :mod:`biper_analysis.symbolic`, which proves

.. math::
    E[\sin^2(\omega_0 w)] = \frac{2x^2}{1+4x^2}, \qquad
    E|\sin(\omega_0 w)| = \frac{x \coth(\pi/(2x))}{1+x^2}, \qquad
    QE = E[\sin^2] - 2\gamma E|\sin| + \gamma^2 = (\gamma - \gamma^*)^2 + QE_{min}

with :math:`\gamma^* = E|\sin|` and :math:`QE_{min} = E[\sin^2] - (E|\sin|)^2`.

Why not the printed form: :math:`e^{\pi/x}` overflows below x = 0.0044 (NaN) and :math:`e^{\pi/x} - 1` loses
~1.4 ε x relative accuracy at large x. Here :math:`\coth(u/2) = (2 + m)/(-m)` with
:math:`m = \mathrm{expm1}(-u)`, :math:`u = \pi/x`: one transcendental per point, exact limits at both ends.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from biper_analysis import _validate as V

#: lim_{x→∞} γ*(x): E|sin| of a uniformly distributed phase.
GAMMA_OPT_LIMIT_LARGE_X = 2.0 / math.pi
#: lim_{x→∞} QE_min(x) = 1/2 − 4/π².
QE_MIN_LIMIT_LARGE_X = 0.5 - 4.0 / math.pi**2


# ---------------------------------------------------------------------------------------------------
# Kernels of x = ω0·b (float64 arrays in, float64 arrays out; no validation)
# ---------------------------------------------------------------------------------------------------
def _coth_half(u: np.ndarray) -> np.ndarray:
    """coth(u/2) for u > 0 as (2 + m)/(−m), m = expm1(−u): accurate to a few ulp for all u > 0."""
    m = np.expm1(-u)
    return (2.0 + m) / (-m)


def _inv_x_plus_inv(x: np.ndarray) -> np.ndarray:
    """x/(1+x²) written as 1/(x + 1/x) so neither x² nor 1/x² overflows before the limit is reached."""
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / (x + 1.0 / x)


def _e_sin2(x: np.ndarray) -> np.ndarray:
    """E[sin²(ω0 w)] = 2x²/(1+4x²) (symbolic.py, step 'E sin^2'), as 1/2 / (1 + 1/(4x²))."""
    with np.errstate(divide="ignore", over="ignore"):
        return 0.5 / (1.0 + 0.25 / (x * x))


def _e_abs_sin(x: np.ndarray) -> np.ndarray:
    """E|sin(ω0 w)| = x coth(π/(2x))/(1+x²) (symbolic.py, half-period geometric series)."""
    with np.errstate(divide="ignore", over="ignore"):
        return _coth_half(math.pi / x) * _inv_x_plus_inv(x)


def _e_abs_sin3(x: np.ndarray) -> np.ndarray:
    """E|sin|³ = 6x³ coth(π/(2x)) / ((1+x²)(1+9x²)) (symbolic.py); used for Monte Carlo variances."""
    with np.errstate(divide="ignore", over="ignore"):
        return 6.0 * _coth_half(math.pi / x) * _inv_x_plus_inv(x) / (9.0 + 1.0 / (x * x))


def _e_sin4(x: np.ndarray) -> np.ndarray:
    """E sin⁴ = 24x⁴ / ((1+4x²)(1+16x²)) (symbolic.py); used for Monte Carlo variances."""
    with np.errstate(divide="ignore", over="ignore"):
        r = 1.0 / (x * x)
        return 24.0 / ((4.0 + r) * (16.0 + r))


def _qe_min(x: np.ndarray) -> np.ndarray:
    """QE_min = E sin² − (E|sin|)² (a variance, hence ≥ 0; clipped at 0 against rounding)."""
    g = _e_abs_sin(x)
    return np.maximum(_e_sin2(x) - g * g, 0.0)


def _d_e_sin2_dx(x: np.ndarray) -> np.ndarray:
    """d/dx E sin² = 4x/(1+4x²)² (symbolic.py, derivative step)."""
    with np.errstate(divide="ignore", over="ignore"):
        return 4.0 * x / (1.0 + 4.0 * x * x) ** 2


def _sinh_minus_identity(t: np.ndarray) -> np.ndarray:
    """sinh(t) − t without cancellation: Taylor series t³/3! + t⁵/5! + … below t = 1, direct above."""
    t = np.asarray(t, dtype=np.float64)
    t2 = t * t
    # Horner on the series up to t^19 (truncation < 1e-18 relative for t ≤ 1).
    series = t * t2 / 6.0
    term, acc = t * t2 / 6.0, np.zeros_like(t)
    for k in range(4, 20, 2):
        term = term * t2 / (k * (k + 1))
        acc = acc + term
    series = series + acc
    with np.errstate(over="ignore"):
        direct = np.sinh(t) - t
    return np.where(t < 1.0, series, direct)


def _d_e_abs_sin_dx(x: np.ndarray) -> np.ndarray:
    r"""d/dx E|sin| (symbolic.py derives it), in two cancellation-free forms.

    x < 1: c(1−x²)/(1+x²)² + (π/(2x²)) csch²(π/(2x)) · x/(1+x²), c = coth(π/(2x)), csch²(u/2) = 4(1+m)/m²,
    m = expm1(−π/x). x ≥ 1, with y = 1/x and z = πy/2: E|sin| = g(y)/(1+y²), g = y coth z, and
    d/dx = −y² [g'(y)/(1+y²) − 2y g/(1+y²)²] with g'(y) = (sinh 2z − 2z)/(2 sinh² z): the O(1/x) terms of the
    first form cancel analytically here, leaving the O(1/x³) result to full precision.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        xs = np.minimum(x, 1.0)  # small-x branch evaluated where it is used
        m = np.expm1(-math.pi / xs)
        c = (2.0 + m) / (-m)
        csch2 = 4.0 * (1.0 + m) / (m * m)
        k = _inv_x_plus_inv(xs)
        small = c * (1.0 - xs * xs) / (1.0 + xs * xs) ** 2 + 0.5 * math.pi / (xs * xs) * csch2 * k
        small = np.where(np.isfinite(small), small, 0.0)  # x → 0: csch² underflows, the limit is 1

        y = 1.0 / np.maximum(x, 1.0)
        z = 0.5 * math.pi * y
        sh = np.sinh(z)
        g = y * np.cosh(z) / sh
        dg = _sinh_minus_identity(2.0 * z) / (2.0 * sh * sh)
        opy = 1.0 + y * y
        large = -y * y * (dg / opy - 2.0 * y * g / (opy * opy))
    return np.where(x < 1.0, small, large)


def _qe_from_moments(e_sin2: Any, e_abs_sin: Any, gamma: Any | None) -> np.ndarray:
    """QE = E sin² − 2γ E|sin| + γ², computed as (γ − γ*)² + QE_min, a sum of non-negative terms.

    The single definition of QE given the two moments: the closed form, every prior, the empirical
    estimate and the torch training metric all call this.
    """
    e_sin2 = np.asarray(e_sin2, dtype=np.float64)
    e_abs_sin = np.asarray(e_abs_sin, dtype=np.float64)
    qe_min = np.maximum(e_sin2 - e_abs_sin * e_abs_sin, 0.0)
    if gamma is None:
        return qe_min
    d = np.asarray(gamma, dtype=np.float64) - e_abs_sin
    return d * d + qe_min


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------
def _x(omega0: Any, b: Any) -> np.ndarray:
    return V.positive("omega0", omega0) * V.positive("b", b)


def expected_sin2(omega0: Any, b: Any) -> float | np.ndarray:
    r"""E[sin²(ω0 w)] for w ~ Laplace(0, b): :math:`2x^2/(1+4x^2)`, x = ω0 b.

    >>> round(expected_sin2(20.0, 0.05), 15)
    0.4
    """
    return V.scalar_or_array(_e_sin2(_x(omega0, b)), omega0, b)


def expected_abs_sin(omega0: Any, b: Any) -> float | np.ndarray:
    r"""E|sin(ω0 w)| for w ~ Laplace(0, b): :math:`x\coth(\pi/(2x))/(1+x^2)`, x = ω0 b.

    >>> f"{expected_abs_sin(20.0, 0.05):.15f}"
    '0.545165705363684'
    """
    return V.scalar_or_array(_e_abs_sin(_x(omega0, b)), omega0, b)


def optimal_gamma(omega0: Any, b: Any) -> float | np.ndarray:
    r"""The scale γ* minimising QE: :math:`\gamma^* = E|\sin(\omega_0 w)|` (dQE/dγ = 0; symbolic.py).

    Rises from 0 (x → 0) to 2/π (x → ∞).

    >>> f"{optimal_gamma(20.0, 0.05):.15f}"
    '0.545165705363684'
    """
    return expected_abs_sin(omega0, b)


def qe_min(omega0: Any, b: Any) -> float | np.ndarray:
    r"""QE at the optimal scale: :math:`E[\sin^2] - (E|\sin|)^2`.

    Maximum 0.1028346… at x ≈ 0.9548825 (see :func:`qe_min_peak`), ~x² as x → 0, → 1/2 − 4/π² as x → ∞.

    >>> f"{qe_min(20.0, 0.05):.15f}"
    '0.102794353695317'
    """
    return V.scalar_or_array(_qe_min(_x(omega0, b)), omega0, b)


def qe(omega0: Any, b: Any = None, gamma: Any = None, *, prior: Any = None) -> float | np.ndarray:
    r"""Quantisation error :math:`E[(\sin(\omega_0 w) - \gamma\,\mathrm{sign}(\sin(\omega_0 w)))^2]`.

    The paper's closed form (BiPer, CVPR 2024, the QE equation; proved equal in :mod:`biper_analysis.symbolic`)
    when ``prior`` is None and w ~ Laplace(0, b). With ``prior`` (any object of :mod:`biper_analysis.priors`),
    the same quantity under that weight law; then ``b`` must be omitted. ``gamma=None`` uses the optimal γ*,
    i.e. returns QE_min. Broadcasts over ``omega0``, ``b`` and ``gamma``.

    >>> f"{qe(20.0, 0.05, 0.6):.15f}"
    '0.105801153563579'
    >>> f"{qe(20.0, 0.05):.15f}"
    '0.102794353695317'
    """
    if gamma is not None:
        gamma_arr = V.nonnegative("gamma", gamma)
    else:
        gamma_arr = None
    if prior is not None:
        if b is not None:
            raise ValueError("pass either b (the Laplace scale) or prior=..., not both; "
                             "use prior=ba.priors.Laplace(b) to be explicit")
        omega = V.positive("omega0", omega0)
        out = _qe_from_moments(prior.expected_sin2(omega), prior.expected_abs_sin(omega), gamma_arr)
        return V.scalar_or_array(out, omega0, *([] if gamma is None else [gamma]))
    if b is None:
        raise ValueError("b (the Laplace scale, mean |w|) is required when no prior is given; "
                         "e.g. qe(20.0, 0.05) or qe(20.0, prior=ba.priors.Gaussian(0.05))")
    x = _x(omega0, b)
    if gamma_arr is None:
        return V.scalar_or_array(_qe_min(x), omega0, b)
    return V.scalar_or_array(_qe_from_moments(_e_sin2(x), _e_abs_sin(x), gamma_arr), omega0, b, gamma)


def qe_printed_form_naive(omega0: Any, b: Any, gamma: Any) -> float | np.ndarray:
    """The paper's printed formula evaluated literally in float64 (for comparison only; unstable).

    Kept to show *why* :func:`qe` exists: NaN for x < π/709.78 ≈ 0.0044 and ~1.4 ε x relative error at large x.
    The formula itself is quoted in :mod:`biper_analysis.paper`.

    >>> import math; math.isnan(qe_printed_form_naive(1.0, 0.001, 0.5))
    True
    """
    from biper_analysis.paper import printed_qe_numpy

    x = _x(omega0, b)
    with np.errstate(over="ignore", invalid="ignore"):
        out = printed_qe_numpy(x, np.asarray(gamma, dtype=np.float64))
    return V.scalar_or_array(out, omega0, b, gamma)


def dqe_domega0(omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    r"""dQE/dω0 = b · dQE/dx with dQE/dx = d E sin²/dx − 2γ d E|sin|/dx (symbolic.py derives it).

    With ``gamma=None`` the derivative of QE_min (envelope theorem: γ* moves but dQE/dγ = 0 there).

    >>> f"{dqe_domega0(20.0, 0.05, 1.0):.12f}"
    '-0.006830091164'
    """
    omega = V.positive("omega0", omega0)
    bb = V.positive("b", b)
    x = omega * bb
    g = _e_abs_sin(x) if gamma is None else V.nonnegative("gamma", gamma)
    out = bb * (_d_e_sin2_dx(x) - 2.0 * g * _d_e_abs_sin_dx(x))
    return V.scalar_or_array(out, omega0, b, *([] if gamma is None else [gamma]))


def qe_min_peak(xtol: float = 1e-15) -> tuple[float, float]:
    r"""Locate the maximum of QE_min(x) by root-finding dQE_min/dx = 0 (Brent on the bracket [0.5, 2]).

    Returns ``(x_peak, qe_min_peak)``; the paper reports 0.102835 at ω0·b ≈ 0.954882.

    >>> x, q = qe_min_peak()
    >>> f"{x:.7f} {q:.7f}"
    '0.9548825 0.1028346'
    """
    from scipy.optimize import brentq

    def slope(x: float) -> float:
        xa = np.array(x)
        return float(_d_e_sin2_dx(xa) - 2.0 * _e_abs_sin(xa) * _d_e_abs_sin_dx(xa))

    x_peak = brentq(slope, 0.5, 2.0, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200)
    return float(x_peak), float(_qe_min(np.array(x_peak)))


def qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    r"""Sign-binariser baseline :math:`E[(w - \gamma\,\mathrm{sign}\,w)^2] = 2b^2 - 2\gamma b + \gamma^2`.

    For w ~ Laplace(0, b); the optimal scale is γ* = E|w| = b, giving QE = b² (units of w²; compare with
    BiPer through :func:`normalised_qe_sign`). Computed as (γ − b)² + b².

    >>> qe_sign(0.5, 0.25)
    0.3125
    """
    bb = V.positive("b", b)
    if gamma is None:
        return V.scalar_or_array(bb * bb, b)
    g = V.nonnegative("gamma", gamma)
    return V.scalar_or_array((g - bb) ** 2 + bb * bb, b, gamma)


def normalised_qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign baseline QE / E[w²] (E w² = 2b²): unit-free, 1/2 at γ* = b.

    >>> normalised_qe_sign(0.3)
    0.5
    """
    bb = V.positive("b", b)
    return V.scalar_or_array(np.asarray(qe_sign(bb, gamma)) / (2.0 * bb * bb), b, *([] if gamma is None else [gamma]))


def normalised_qe(omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    """BiPer QE / E[sin²(ω0 w)] (the latent's second moment): comparable with :func:`normalised_qe_sign`.

    >>> f"{normalised_qe(20.0, 0.05):.12f}"
    '0.256985884238'
    """
    x = _x(omega0, b)
    g = None if gamma is None else V.nonnegative("gamma", gamma)
    e2 = _e_sin2(x)
    out = _qe_from_moments(e2, _e_abs_sin(x), g) / e2
    return V.scalar_or_array(out, omega0, b, *([] if gamma is None else [gamma]))


def official_l1(omega0: Any, b: Any) -> float | np.ndarray:
    r"""The official BiPer script's per-layer "QE": E|sin(ω0 w) − sign(sin(ω0 w))| = 1 − E|sin| (γ = 1, L1).

    Note the official script *sums* this over layers (see :mod:`biper_analysis.conventions`).

    >>> f"{official_l1(20.0, 0.05):.15f}"
    '0.454834294636316'
    """
    return V.scalar_or_array(1.0 - _e_abs_sin(_x(omega0, b)), omega0, b)
