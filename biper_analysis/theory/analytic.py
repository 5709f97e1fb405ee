r"""Closed-form quantisation error of BiPer under Laplace weights, evaluated stably in float64.

Parameterisation (used everywhere in this package):

* weights :math:`w \sim \mathrm{Laplace}(0, b)`, pdf :math:`e^{-|w|/b}/(2b)`, ``b`` is the *scale* (mean |w|);
* ``omega0`` is the angular frequency of the square wave :math:`\mathrm{sign}(\sin(\omega_0 w))`;
* ``gamma`` is the scale of the binary weight; ``gamma=None`` means the optimal scale :math:`\gamma^*`.

Everything depends on ``omega0`` and ``b`` only through :math:`x = \omega_0 b`. Sources: the paper's printed QE
(BiPer, CVPR 2024, Sec. 3; quoted in :mod:`biper_analysis.paper`) and the derivation in
:mod:`biper_analysis.theory.symbolic`, which proves

.. math::
    E[\sin^2(\omega_0 w)] = \frac{2x^2}{1+4x^2}, \qquad
    E|\sin(\omega_0 w)| = \frac{x \coth(\pi/(2x))}{1+x^2}, \qquad
    QE = E[\sin^2] - 2\gamma E|\sin| + \gamma^2 = (\gamma - \gamma^*)^2 + QE_{min}

with :math:`\gamma^* = E|\sin|` and :math:`QE_{min} = E[\sin^2] - (E|\sin|)^2` (:func:`qe_from_moments`).

**The closed forms are written once**, in the variable :math:`h = \pi/(2x)` (:func:`_e_sin2_into` and
:func:`_e_abs_sin_into` below, in-place numpy ufunc calls):

.. math::
    E\sin^2 = \frac{\pi^2/2}{h^2 + \pi^2}, \qquad E|\sin| = \frac{\pi}{2}\,\frac{h}{\tanh(h)\,(h^2 + \pi^2/4)}

tanh is accurate to a few ulp for every h > 0, so nothing cancels at either end (h → ∞ is x → 0, h → 0 is
x → ∞), and there is one transcendental per point. The printed form instead overflows to NaN below x = 0.0044
(:math:`e^{\pi/x}`) and loses ~1.4 ε x relative accuracy at large x (:math:`e^{\pi/x} - 1`).

The public functions validate, broadcast and promote to float64, then evaluate those two functions and the body of
:func:`qe_from_moments` on cache-sized chunks of the arrays (:func:`_fill`), into buffers allocated once per call:
the inputs are read and the result written once, with no temporary arrays. Arrays of 2^20 points or more are split
over two threads (numpy releases the GIL; the chunks, hence the values, are the same whatever the thread count).
Scalars go through the same functions as one-element arrays, so a scalar and an array give bit-identical values.
The kernels of x (``e_sin2_of_x`` ...) are public for code that already holds clean float64 x.
Measured against the 45-digit reference (tests/reference/laplace_reference.json): ≤ 2.4e-15 relative for
1e-6 ≤ x ≤ 1e6 (the moments ≤ 4.4e-16; QE_min, QE and dE|sin|/dx, where terms cancel, ≤ 2.4e-15).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from biper_analysis._io.validation import nonnegative, positive, scalar_or_array
from biper_analysis.paper import printed_qe_numpy

__all__ = [
    "GAMMA_OPT_LIMIT_LARGE_X",
    "QE_MIN_LIMIT_LARGE_X",
    "qe_limit_large_x",
    "qe_from_moments",
    "e_sin2_of_x",
    "e_abs_sin_of_x",
    "e_abs_sin3_of_x",
    "e_sin4_of_x",
    "qe_min_of_x",
    "d_e_sin2_dx",
    "d_e_abs_sin_dx",
    "expected_sin2",
    "expected_abs_sin",
    "optimal_gamma",
    "qe_min",
    "qe",
    "official_l1",
    "normalised_qe",
    "dqe_domega0",
    "qe_min_peak",
    "qe_sign",
    "normalised_qe_sign",
    "normalised_qe_sign_gaussian",
    "qe_printed_form_naive",
    "qe_under_prior",
    "NEAR_ZERO_HALF_WIDTH",
    "laplace_phase_probs",
    "laplace_near_zero_frac",
    "laplace_near_crest_frac",
]

_HALF_PI = 0.5 * math.pi
_PI_SQ = math.pi * math.pi
_HALF_PI_SQ = 0.5 * _PI_SQ
_QUARTER_PI_SQ = 0.25 * _PI_SQ

#: lim_{x→∞} γ*(x): E|sin| of a uniformly distributed phase.
GAMMA_OPT_LIMIT_LARGE_X = 2.0 / math.pi
#: lim_{x→∞} QE_min(x) = 1/2 − 4/π².
QE_MIN_LIMIT_LARGE_X = 0.5 - 4.0 / math.pi**2


def qe_limit_large_x(gamma: Any) -> Any:
    """lim_{x→∞} QE(x; γ) = γ² − 4γ/π + 1/2 (symbolic.py, 'limits'): the phase of ω0·w becomes uniform.

    >>> round(qe_limit_large_x(1.0), 12)
    0.226760455265
    """
    return gamma * gamma - 4.0 * gamma / math.pi + 0.5


def qe_from_moments(e_sin2: Any, e_abs_sin: Any, gamma: Any | None) -> Any:
    r"""QE = E sin² − 2γ E|sin| + γ², computed as (γ − γ*)² + QE_min, a sum of non-negative terms.

    The single definition of QE given the two moments of S = sin(ω0 w): the closed form, every prior and law,
    and the statistics of real weights (:func:`biper_analysis.theory.weights.weight_stats`) all call this.
    ``gamma=None`` is the optimal scale γ* = E|sin| (QE_min = E sin² − (E|sin|)², a variance: clipped at 0).
    Python floats in give a float out; anything else is computed as float64 arrays (broadcast together).

    >>> qe_from_moments(0.5, 0.5, None), qe_from_moments(0.5, 0.5, 1.0)
    (0.25, 0.5)
    """
    floats = isinstance(e_sin2, float) and isinstance(e_abs_sin, float) and (gamma is None or isinstance(gamma, float))
    e1 = np.asarray(e_abs_sin, dtype=np.float64)
    g = None if gamma is None else np.asarray(gamma, dtype=np.float64)
    shape = np.broadcast_shapes(np.shape(e_sin2), e1.shape, *([] if g is None else [g.shape]))
    e2 = np.empty(shape)
    e2[...] = e_sin2  # a copy: _qe_into overwrites it
    out = _qe_into(e2, e1, g, np.empty(shape))
    return float(out) if floats else out if out.ndim else out[()]


# ---------------------------------------------------------------------------------------------------
# The closed forms in h = π/(2x), written once, as in-place ufunc calls on float64 arrays: the same functions serve
# every caller (chunks of the public functions, the kernels of x, qe_from_moments) and allocate nothing.
# ---------------------------------------------------------------------------------------------------
def _e_sin2_into(h2: np.ndarray, out: np.ndarray) -> np.ndarray:
    """E sin² = 2x²/(1+4x²) = (π²/2)/(h² + π²) (symbolic.py, step 'E sin^2') from h2 = h², into ``out``."""
    np.add(h2, _PI_SQ, out=out)
    return np.divide(_HALF_PI_SQ, out, out=out)


def _e_abs_sin_into(h: np.ndarray, h2: np.ndarray, out: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """E|sin| = x coth(π/(2x))/(1+x²) = (π/2) h / (tanh(h)(h² + π²/4)) (symbolic.py, half-period series) from h and
    h2 = h², into ``out`` (``scratch`` is overwritten)."""
    np.add(h2, _QUARTER_PI_SQ, out=scratch)
    np.multiply(np.tanh(h, out=out), scratch, out=out)
    np.multiply(h, _HALF_PI, out=scratch)
    return np.divide(scratch, out, out=out)


def _qe_into(e_sin2: np.ndarray, e_abs_sin: np.ndarray, gamma: Any | None, out: np.ndarray) -> np.ndarray:
    """QE = (γ − E|sin|)² + QE_min (QE_min alone for γ None) into ``out``; ``e_sin2`` is overwritten.

    QE_min = E sin² − (E|sin|)² is a variance: clipped at 0 against rounding."""
    np.multiply(e_abs_sin, e_abs_sin, out=out)
    np.subtract(e_sin2, out, out=out)
    np.maximum(out, 0.0, out=out)
    if gamma is None:
        return out
    d = np.subtract(gamma, e_abs_sin, out=e_sin2)
    np.multiply(d, d, out=d)
    return np.add(d, out, out=out)


def _closed_form_into(
    what: str, h: np.ndarray, gamma: Any | None, out: np.ndarray, h2: np.ndarray, e1: np.ndarray
) -> None:
    """``what`` ("e_sin2", "e_abs_sin", "official_l1" or "qe", which is QE_min when gamma is None) at h = π/(2x)
    into ``out``; h2, e1: scratch of h's shape."""
    np.multiply(h, h, out=h2)
    if what == "e_sin2":
        _e_sin2_into(h2, out)
    elif what == "e_abs_sin":
        _e_abs_sin_into(h, h2, out, e1)
    elif what == "official_l1":
        np.subtract(1.0, _e_abs_sin_into(h, h2, e1, out), out=out)
    else:
        _e_abs_sin_into(h, h2, e1, out)
        _qe_into(_e_sin2_into(h2, h2), e1, gamma, out)


def _inv_x2(h: Any) -> Any:
    """1/x² = 4h²/π²."""
    return (h * h) / _QUARTER_PI_SQ


def _h(x: Any) -> Any:
    return _HALF_PI / x


# ---------------------------------------------------------------------------------------------------
# Evaluation over arrays: cache-sized chunks, two threads for large arrays
# ---------------------------------------------------------------------------------------------------
#: Points per chunk: the chunk's four buffers (h, h², E|sin| and the output; 256 KiB each) stay in L2.
_CHUNK = 32768
#: Arrays at least this large are split over up to _THREADS worker threads (numpy releases the GIL in ufuncs).
_PARALLEL_MIN = 1 << 20
#: Worker threads for large arrays (benchmarks/bench_qe.py sets it to time 1 and 2). The blocks are whole chunks, so
#: every point is computed by the same operations on the same chunk whatever the thread count: bit-identical values.
_THREADS = max(1, min(2, os.cpu_count() or 1))


def _h_into(w: Any, b: Any, h: np.ndarray, check: bool) -> bool:
    """h = π/(2ω0·b) into ``h`` (π/(2ω0) when b is None); with ``check``, False when an input is out of range.

    Two or three reductions on cached data (a float ω0 or b was checked by the caller): if ω0 > 0 and
    x = ω0·b > 0 then b > 0, and h in (0, ∞) catches NaN, ±inf, x ≤ 0 and x so small (< ~1e-308) that h overflows.
    """
    if b is None:
        np.divide(_HALF_PI, w, out=h)
    else:
        if check and isinstance(w, np.ndarray) and not w.min() > 0:
            return False
        np.multiply(w, b, out=h)
        np.divide(_HALF_PI, h, out=h)
    return not check or bool(h.min() > 0 and h.max() < math.inf)


def _fill(what: str, args: list[Any], out: np.ndarray, lo: int, hi: int, check: bool) -> bool:
    """out[lo:hi] = ``what`` at flat operands ``args`` (ω0, b, γ: arrays of len(out), floats or None), one chunk at
    a time with one set of buffers; False at the first chunk holding an out-of-range ω0 or b (with ``check``)."""
    size = min(_CHUNK, hi - lo)
    h, h2, e1 = np.empty(size), np.empty(size), np.empty(size)
    with np.errstate(all="ignore"):  # out-of-range inputs are detected and reported by the caller
        for s in range(lo, hi, _CHUNK):
            e = min(s + _CHUNK, hi)
            w, b, g = (v[s:e] if isinstance(v, np.ndarray) else v for v in args)
            m = e - s
            if not _h_into(w, b, h[:m], check):
                return False
            _closed_form_into(what, h[:m], g, out[s:e], h2[:m], e1[:m])
    return True


def _evaluate_flat(what: str, args: list[Any], n: int, check: bool) -> tuple[np.ndarray, bool]:
    """``what`` over n points, split into _THREADS blocks of whole chunks when n ≥ _PARALLEL_MIN."""
    out = np.empty(n, dtype=np.float64)
    if n < _PARALLEL_MIN or _THREADS == 1:
        return out, _fill(what, args, out, 0, n, check)
    edges = [n * i // _THREADS // _CHUNK * _CHUNK for i in range(_THREADS)] + [n]
    with ThreadPoolExecutor(_THREADS) as pool:
        ok = all(pool.map(lambda i: _fill(what, args, out, edges[i], edges[i + 1], check), range(_THREADS)))
    return out, ok


def _of_x(what: str, x: Any) -> Any:
    """``what`` at x = ω0·b without validation: a float for a non-array scalar, else an array of x's shape."""
    xs = np.asarray(x, dtype=np.float64)
    out, _ = _evaluate_flat(what, [xs.reshape(-1), None, None], xs.size, check=False)
    return float(out[0]) if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else out.reshape(xs.shape)


def _scalar_point(omega0: Any, b: Any, gamma: Any) -> list[float | None] | None:
    """[ω0, b, γ] as floats (γ may be None) when all are plain in-range scalars (the fast path), else None."""
    if np.ndim(omega0) or np.ndim(b) or np.ndim(gamma) or isinstance(omega0, str) or isinstance(b, str):
        return None
    try:
        w, bb = float(omega0), float(b)
        g = None if gamma is None else float(gamma)
    except (TypeError, ValueError):
        return None
    x = w * bb
    if not (0.0 < w < math.inf and 0.0 < bb < math.inf and 0.0 < x < math.inf and _HALF_PI / x < math.inf):
        return None
    if g is not None and not 0.0 <= g < math.inf:
        return None
    return [w, bb, g]


def _operand(name: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        positive(name, value)  # raises the standard message naming the argument
        raise


def _evaluate(what: str, omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    """Validate, broadcast and evaluate ``what`` (see _closed_form_into) at (ω0, b[, γ]); a float for scalars."""
    point = _scalar_point(omega0, b, gamma)
    if point is not None:
        out = np.empty(1)
        _fill(what, point, out, 0, 1, check=False)
        return float(out[0])
    ops = [_operand("omega0", omega0), _operand("b", b)]
    if gamma is not None:
        ops.append(nonnegative("gamma", gamma))
    shape = np.broadcast_shapes(*(o.shape for o in ops))
    n = math.prod(shape)
    args: list[Any] = [float(o.reshape(())) if o.size == 1 else np.broadcast_to(o, shape).reshape(-1) for o in ops]
    if gamma is None:
        args.append(None)
    for name, val in (("omega0", args[0]), ("b", args[1])):
        if isinstance(val, float) and not 0 < val < math.inf:
            positive(name, val)  # raises with the standard message
    out, ok = _evaluate_flat(what, args, n, check=True)
    if not ok:
        positive("omega0", omega0)
        positive("b", b)
        raise ValueError("omega0*b must lie between about 1e-308 and 1e308 (float64 range); rescale omega0 or b")
    return scalar_or_array(out.reshape(shape), *([omega0, b] + ([] if gamma is None else [gamma])))


# ----------------------------------------------------------------------------------------- kernels of x
def e_sin2_of_x(x: Any) -> Any:
    """E sin²(ω0 w) at x = ω0·b (float or float64 array, no validation).

    >>> round(e_sin2_of_x(1.0), 15)
    0.4
    """
    return _of_x("e_sin2", x)


def e_abs_sin_of_x(x: Any) -> Any:
    """E|sin(ω0 w)| = γ* at x = ω0·b (float or float64 array, no validation).

    >>> f"{e_abs_sin_of_x(1.0):.15f}"
    '0.545165705363684'
    """
    return _of_x("e_abs_sin", x)


def e_abs_sin3_of_x(x: Any) -> Any:
    """E|sin|³ = 6x³ coth(π/(2x))/((1+x²)(1+9x²)) = E|sin|·6/(9 + 1/x²) (symbolic.py); for Monte Carlo variances.

    >>> f"{e_abs_sin3_of_x(1.0):.12f}"
    '0.327099423218'
    """
    return e_abs_sin_of_x(x) * 6.0 / (9.0 + _inv_x2(_h(x)))


def e_sin4_of_x(x: Any) -> Any:
    """E sin⁴ = 24x⁴/((1+4x²)(1+16x²)) = 24/((4 + 1/x²)(16 + 1/x²)) (symbolic.py); for Monte Carlo variances.

    >>> round(e_sin4_of_x(1.0), 15)
    0.282352941176471
    """
    r = _inv_x2(_h(x))
    return 24.0 / ((4.0 + r) * (16.0 + r))


def qe_min_of_x(x: Any) -> Any:
    """QE_min = E sin² − (E|sin|)² at x = ω0·b (float or float64 array, no validation).

    >>> f"{qe_min_of_x(1.0):.15f}"
    '0.102794353695317'
    """
    return _of_x("qe", x)


def d_e_sin2_dx(x: Any) -> Any:
    """d/dx E sin² = 4x/(1+4x²)² (symbolic.py, derivative step).

    >>> round(d_e_sin2_dx(0.5), 15)
    0.5
    """
    return 4.0 * x / (1.0 + 4.0 * x * x) ** 2


def _sinh_minus_identity(t: np.ndarray) -> np.ndarray:
    """sinh(t) − t without cancellation: the series t³/3! + t⁵/5! + … (truncation < 1e-18 for t ≤ 2)."""
    t2 = t * t
    term = t * t2 / 6.0
    total = term
    for k in range(4, 24, 2):
        term = term * t2 / (k * (k + 1))
        total = total + term
    return total


def d_e_abs_sin_dx(x: Any) -> Any:
    r"""d/dx E|sin| (symbolic.py derives it), differentiated in h = π/(2x), written without overflow.

    With T = tanh h, D = h² + π²/4, a = h²/D = 1/(1 + π²/(4h²)) and q = T − h sech²h
    = (sinh 2h − 2h)/(2 cosh²h) (series below h = 1, so the small-h cancellation is analytic):
    :math:`dE|\sin|/dx = -a\,(q - 2aT)/T^2`. Every factor stays finite for 0 < h < ∞ (x from ~1e-308 up).

    >>> f"{d_e_abs_sin_dx(0.5):.12f}"
    '0.500639995187'
    """
    h = np.asarray(_h(np.asarray(x, dtype=np.float64)))
    with np.errstate(over="ignore", under="ignore"):
        t = np.tanh(h)
        a = 1.0 / (1.0 + _QUARTER_PI_SQ / (h * h))
        hs = np.minimum(h, 1.0)
        cosh_sq = np.cosh(h) ** 2
        q = np.where(h < 1.0, _sinh_minus_identity(2.0 * hs) / (2.0 * np.cosh(hs) ** 2), t - h / cosh_sq)
        out = -a * (q - 2.0 * a * t) / (t * t)
    return float(out) if np.ndim(x) == 0 and not isinstance(x, np.ndarray) else out


# ---------------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------------
def _x(omega0: Any, b: Any) -> np.ndarray:
    return positive("omega0", omega0) * positive("b", b)


def expected_sin2(omega0: Any, b: Any) -> float | np.ndarray:
    r"""E[sin²(ω0 w)] for w ~ Laplace(0, b): :math:`2x^2/(1+4x^2)`, x = ω0 b.

    >>> round(expected_sin2(20.0, 0.05), 15)
    0.4
    """
    return _evaluate("e_sin2", omega0, b)


def expected_abs_sin(omega0: Any, b: Any) -> float | np.ndarray:
    r"""E|sin(ω0 w)| for w ~ Laplace(0, b): :math:`x\coth(\pi/(2x))/(1+x^2)`, x = ω0 b.

    >>> f"{expected_abs_sin(20.0, 0.05):.15f}"
    '0.545165705363684'
    """
    return _evaluate("e_abs_sin", omega0, b)


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
    return _evaluate("qe", omega0, b)


def qe(omega0: Any, b: Any = None, gamma: Any = None, *, prior: Any = None) -> float | np.ndarray:
    r"""Quantisation error :math:`E[(\sin(\omega_0 w) - \gamma\,\mathrm{sign}(\sin(\omega_0 w)))^2]`.

    The paper's closed form (BiPer, CVPR 2024, the QE equation; proved equal in :mod:`biper_analysis.theory.symbolic`)
    when ``prior`` is None and w ~ Laplace(0, b). With ``prior`` (any law of :mod:`biper_analysis.laws.priors` or
    :mod:`biper_analysis.laws`), the same quantity under that weight law; then ``b`` must be omitted. A law
    fitted at one ω0 evaluated at another gives a warning. ``gamma=None`` uses the optimal γ*, i.e. returns
    QE_min. Broadcasts over ``omega0``, ``b`` and ``gamma``.

    >>> f"{qe(20.0, 0.05, 0.6):.15f}"
    '0.105801153563579'
    >>> f"{qe(20.0, 0.05):.15f}"
    '0.102794353695317'
    """
    if prior is not None:
        if b is not None:
            raise ValueError(
                "pass either b (the Laplace scale) or prior=..., not both; "
                "use prior=ba.priors.Laplace(b) to be explicit"
            )
        return qe_under_prior(omega0, prior, gamma)
    if b is None:
        raise ValueError(
            "b (the Laplace scale, mean |w|) is required when no prior is given; "
            "e.g. qe(20.0, 0.05) or qe(20.0, prior=ba.priors.Gaussian(0.05))"
        )
    return _evaluate("qe", omega0, b, gamma)  # validates gamma too; QE_min when it is None


def qe_under_prior(omega0: Any, prior: Any, gamma: Any = None) -> float | np.ndarray:
    """QE under any weight law: :func:`qe_from_moments` of the law's E sin² and E|sin| at ω0.

    Warns (``UserWarning``) when the law was fitted at another ω0 (its ``omega0`` attribute): a penalised or
    comb law describes weights trained at that frequency.

    >>> from biper_analysis.laws.priors import Laplace
    >>> qe_under_prior(20.0, Laplace(0.05)) == qe(20.0, 0.05)
    True
    """
    gamma_arr = None if gamma is None else nonnegative("gamma", gamma)
    omega = positive("omega0", omega0)
    fitted_at = getattr(prior, "omega0", None)
    if fitted_at is not None and np.any(~np.isclose(omega, fitted_at, rtol=1e-9)):
        import warnings

        warnings.warn(
            f"{prior!r} was fitted at omega0 = {fitted_at:g}; its QE at other ω0 describes weights "
            "trained at that frequency, not at the new one",
            UserWarning,
            stacklevel=3,
        )
    out = qe_from_moments(prior.expected_sin2(omega), prior.expected_abs_sin(omega), gamma_arr)
    return scalar_or_array(np.asarray(out), omega0, *([] if gamma is None else [gamma]))


def qe_printed_form_naive(omega0: Any, b: Any, gamma: Any) -> float | np.ndarray:
    """The paper's printed formula evaluated literally in float64 (for comparison only; unstable).

    Kept to show *why* :func:`qe` exists: NaN for x < π/709.78 ≈ 0.0044 and ~1.4 ε x relative error at large x.
    The formula itself is quoted in :mod:`biper_analysis.paper`.

    >>> import math; math.isnan(qe_printed_form_naive(1.0, 0.001, 0.5))
    True
    """
    x = _x(omega0, b)
    with np.errstate(over="ignore", invalid="ignore"):
        out = printed_qe_numpy(x, np.asarray(gamma, dtype=np.float64))
    return scalar_or_array(out, omega0, b, gamma)


def dqe_domega0(omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    r"""dQE/dω0 = b · dQE/dx with dQE/dx = d E sin²/dx − 2γ d E|sin|/dx (symbolic.py derives it).

    With ``gamma=None`` the derivative of QE_min (envelope theorem: γ* moves but dQE/dγ = 0 there).

    >>> f"{dqe_domega0(20.0, 0.05, 1.0):.12f}"
    '-0.006830091164'
    """
    bb = positive("b", b)
    x = positive("omega0", omega0) * bb
    g = e_abs_sin_of_x(x) if gamma is None else nonnegative("gamma", gamma)
    out = bb * (d_e_sin2_dx(x) - 2.0 * g * d_e_abs_sin_dx(x))
    return scalar_or_array(out, omega0, b, *([] if gamma is None else [gamma]))


def qe_min_peak(xtol: float = 1e-15) -> tuple[float, float]:
    r"""Locate the maximum of QE_min(x) by root-finding dQE_min/dx = 0 (Brent on the bracket [0.5, 2]).

    Returns ``(x_peak, qe_min_peak)``; the paper reports 0.102835 at ω0·b ≈ 0.954882.

    >>> x, q = qe_min_peak()
    >>> f"{x:.7f} {q:.7f}"
    '0.9548825 0.1028346'
    """

    def slope(x: float) -> float:
        return float(d_e_sin2_dx(x) - 2.0 * e_abs_sin_of_x(x) * d_e_abs_sin_dx(x))

    from scipy.optimize import brentq  # imported here: scipy.optimize costs ~0.4 s of every command's start-up

    x_peak = brentq(slope, 0.5, 2.0, xtol=xtol, rtol=4 * np.finfo(float).eps, maxiter=200)
    return float(x_peak), float(qe_min_of_x(float(x_peak)))


def qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    r"""Sign-binariser baseline :math:`E[(w - \gamma\,\mathrm{sign}\,w)^2] = 2b^2 - 2\gamma b + \gamma^2`.

    For w ~ Laplace(0, b): E w² = 2b² and E|w| = b, so this is :func:`qe_from_moments` of those two moments;
    the optimal scale is γ* = b, giving QE = b² (units of w²; compare with BiPer through
    :func:`normalised_qe_sign`).

    >>> qe_sign(0.5, 0.25)
    0.3125
    """
    bb = positive("b", b)
    g = None if gamma is None else nonnegative("gamma", gamma)
    out = qe_from_moments(2.0 * bb * bb, bb, g)
    return scalar_or_array(np.asarray(out), b, *([] if gamma is None else [gamma]))


def normalised_qe_sign(b: Any, gamma: Any = None) -> float | np.ndarray:
    """Sign baseline QE / E[w²] (E w² = 2b²): unit-free, 1/2 at γ* = b.

    >>> normalised_qe_sign(0.3)
    0.5
    """
    bb = positive("b", b)
    out = np.asarray(qe_sign(bb, gamma)) / (2.0 * bb * bb)
    return scalar_or_array(out, b, *([] if gamma is None else [gamma]))


def normalised_qe_sign_gaussian() -> float:
    r"""Sign baseline QE / E[w²] at γ* = E|w| for Gaussian weights N(0, σ²), for comparison with the Laplace 1/2.

    With E|w| = σ√(2/π) (the half-normal mean) and E w² = σ²: :math:`1 - (E|w|)^2/E w^2 = 1 - 2/\pi`, whatever σ
    — like the Laplace value, a number of the law's shape only.

    >>> f"{normalised_qe_sign_gaussian():.12f}"
    '0.363380227632'
    """
    return 1.0 - 2.0 / math.pi


def normalised_qe(omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    r"""BiPer QE / E[sin²(ω0 w)] (the latent's second moment): comparable with :func:`normalised_qe_sign`.

    From the two closed forms in h: (E|sin|)²/E sin² = u·(u/D)·(1 + 3π²/(4D))/2 with u = h/tanh h,
    D = h² + π²/4 — each factor finite for every h > 0 (u/D is written 1/(tanh h·(h + π²/(4h))) above h = 1),
    tending to 1/2 as x → 0 and 8/π² as x → ∞ — and QE/E sin² = 1 − that ratio + (γ − γ*)²/E sin².

    >>> f"{normalised_qe(20.0, 0.05):.12f}"
    '0.256985884238'
    """
    x = _x(omega0, b)
    h = _h(x)
    g = None if gamma is None else nonnegative("gamma", gamma)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        t = np.tanh(h)
        d = h * h + _QUARTER_PI_SQ
        u_over_d = np.where(h < 1.0, h / t / d, 1.0 / (t * (h + _QUARTER_PI_SQ / h)))
        ratio = (h / t) * u_over_d * (1.0 + 3.0 * _QUARTER_PI_SQ / d) / 2.0
        out = np.maximum(1.0 - ratio, 0.0)
        if g is not None:
            e2, e1 = e_sin2_of_x(x), e_abs_sin_of_x(x)
            # (γ − γ*)²/E sin²; where E sin² underflows (x ≲ 1e-154): γ* ≪ γ gives +inf, γ = 0 gives the ratio
            out = out + np.where(e2 > 0, (g - e1) ** 2 / e2, np.where(g == 0, ratio, np.inf))
    return scalar_or_array(out, omega0, b, *([] if gamma is None else [gamma]))


def official_l1(omega0: Any, b: Any) -> float | np.ndarray:
    r"""The official BiPer script's per-layer "QE": E|sin(ω0 w) − sign(sin(ω0 w))| = 1 − E|sin| (γ = 1, L1).

    The official ``cifar10/vis_get_QE.py`` *sums* this over layers (see :mod:`biper_analysis.theory.conventions`).

    >>> f"{official_l1(20.0, 0.05):.15f}"
    '0.454834294636316'
    """
    return _evaluate("official_l1", omega0, b)


#: Half-width of the "near a zero of sin" window, in phase units (π/8: a uniform phase puts 1/4 there).
NEAR_ZERO_HALF_WIDTH = math.pi / 8


def laplace_phase_probs(x: float, edges: Any) -> np.ndarray:
    r"""Probability of each phase bin [e_k, e_{k+1}) ⊂ [0, π) of ω0·w mod π under Laplace(0, b), x = ω0·b.

    For w > 0, y = ω0 w ~ Exp(mean x), and y mod π has density g(θ) = e^{−θ/x} / (x (1 − e^{−π/x})); negative
    weights contribute g(π − θ). Each half carries probability ½. Written with expm1 so small and large x are
    both stable.

    >>> p = laplace_phase_probs(1.0, np.linspace(0, np.pi, 5))
    >>> f"{p.sum():.12f}"
    '1.000000000000'
    """
    edges = np.asarray(edges, dtype=np.float64)
    lo, hi = edges[:-1], edges[1:]
    denom = -math.expm1(-math.pi / x)

    def mass(a: np.ndarray, c: np.ndarray) -> np.ndarray:
        return np.exp(-a / x) * -np.expm1(-(c - a) / x) / denom

    return 0.5 * (mass(lo, hi) + mass(math.pi - hi, math.pi - lo))


def laplace_near_zero_frac(x: float, half_width: float = NEAR_ZERO_HALF_WIDTH) -> float:
    """Fraction of Laplace(0, b) weights whose phase lies within ``half_width`` of a zero of sin (x = ω0·b).

    >>> f"{laplace_near_zero_frac(1e6):.6f}"    # phase nearly uniform: 2·(π/8)/π
    '0.250000'
    """
    p = laplace_phase_probs(x, np.array([0.0, half_width, math.pi - half_width, math.pi]))
    return float(p[0] + p[2])


def laplace_near_crest_frac(x: float, half_width: float = NEAR_ZERO_HALF_WIDTH) -> float:
    """Fraction of Laplace(0, b) weights whose phase lies within ``half_width`` of a crest of |sin| (phase π/2).

    >>> f"{laplace_near_crest_frac(1e6):.6f}", f"{laplace_near_crest_frac(1.0):.12f}"
    ('0.250000', '0.175062170982')
    """
    p = laplace_phase_probs(x, np.array([math.pi / 2 - half_width, math.pi / 2 + half_width]))
    return float(p[0])
