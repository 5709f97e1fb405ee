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

**The closed forms are written once**, in the variable :math:`h = \pi/(2x)` (the ``_*_h`` functions below):

.. math::
    E\sin^2 = \frac{\pi^2/2}{h^2 + \pi^2}, \qquad E|\sin| = \frac{\pi}{2}\,\frac{h}{\tanh(h)\,(h^2 + \pi^2/4)}

tanh is accurate to a few ulp for every h > 0, so nothing cancels at either end (h → ∞ is x → 0, h → 0 is
x → ∞), and there is one transcendental per point. The printed form instead overflows to NaN below x = 0.0044
(:math:`e^{\pi/x}`) and loses ~1.4 ε x relative accuracy at large x (:math:`e^{\pi/x} - 1`).

The public functions validate, broadcast and promote to float64, then run those same functions over
cache-sized chunks (:func:`_run_chunks`; two threads for arrays of 2^20 points or more, numpy releases the GIL).
The kernels of x (``e_sin2_of_x`` ...) are public for code that already holds clean float64 x.
Measured against the 45-digit reference (tests/reference/laplace_reference.json): ≤ 3.1e-15 relative for
1e-6 ≤ x ≤ 1e6 (the derivative dE|sin|/dx is the worst; the moments and QE ≤ 1.8e-15).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from scipy.optimize import brentq

from biper_analysis._io.validation import nonnegative, positive, scalar_or_array
from biper_analysis.paper import printed_qe_numpy

__all__ = [
    "GAMMA_OPT_LIMIT_LARGE_X", "QE_MIN_LIMIT_LARGE_X", "qe_limit_large_x", "qe_from_moments",
    "e_sin2_of_x", "e_abs_sin_of_x", "e_abs_sin3_of_x", "e_sin4_of_x", "qe_min_of_x", "d_e_sin2_dx",
    "d_e_abs_sin_dx", "expected_sin2", "expected_abs_sin", "optimal_gamma", "qe_min", "qe", "official_l1",
    "normalised_qe", "dqe_domega0", "qe_min_peak", "qe_sign", "normalised_qe_sign", "normalised_qe_sign_gaussian",
    "qe_printed_form_naive",
    "qe_under_prior", "NEAR_ZERO_HALF_WIDTH", "laplace_phase_probs", "laplace_near_zero_frac",
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
    Python floats in give a float out; anything else is computed as float64 arrays.

    >>> qe_from_moments(0.5, 0.5, None), qe_from_moments(0.5, 0.5, 1.0)
    (0.25, 0.5)
    """
    plain = (float, _Traced)
    if not (isinstance(e_sin2, plain) and isinstance(e_abs_sin, plain)):
        e_sin2 = np.asarray(e_sin2, dtype=np.float64)
        e_abs_sin = np.asarray(e_abs_sin, dtype=np.float64)
    if gamma is not None and not isinstance(gamma, plain):
        gamma = np.asarray(gamma, dtype=np.float64)
    minimum = _clip0(e_sin2 - e_abs_sin * e_abs_sin)
    if gamma is None:
        return minimum
    d = gamma - e_abs_sin
    return d * d + minimum


# ---------------------------------------------------------------------------------------------------
# The closed forms in h = π/(2x), written once. Pure arithmetic plus _tanh/_clip0, so the same functions
# serve Python floats (the scalar path), float64 arrays (the kernels of x) and _Traced placeholders (the
# chunked runner replays what they record with in-place ufuncs).
# ---------------------------------------------------------------------------------------------------
def _e_sin2_h(h: Any) -> Any:
    """E sin² = 2x²/(1+4x²) = (π²/2)/(h² + π²) (symbolic.py, step 'E sin^2')."""
    return _HALF_PI_SQ / (h * h + _PI_SQ)


def _e_abs_sin_h(h: Any) -> Any:
    """E|sin| = x coth(π/(2x))/(1+x²) = (π/2) h / (tanh(h)(h² + π²/4)) (symbolic.py, half-period series)."""
    return _HALF_PI * h / (_tanh(h) * (h * h + _QUARTER_PI_SQ))


def _inv_x2(h: Any) -> Any:
    """1/x² = 4h²/π²."""
    return (h * h) / _QUARTER_PI_SQ


def _h(x: Any) -> Any:
    return _HALF_PI / x


class _Traced:
    """A placeholder that records the arithmetic done on it: a formula written for floats, called once with
    _Traced inputs, becomes a program of ufunc calls that :class:`_Program` replays on array chunks in place."""

    __slots__ = ("ops", "slot")

    def __init__(self, ops: list[tuple[Any, tuple[Any, ...]]], slot: int) -> None:
        self.ops, self.slot = ops, slot

    def apply(self, ufunc: Any, *operands: Any) -> _Traced:
        key = (ufunc, tuple(o.slot if isinstance(o, _Traced) else ("const", o) for o in operands))
        for i, (fn, args) in enumerate(self.ops):  # the same call twice (h·h in both moments) is computed once
            if (fn, tuple(o.slot if isinstance(o, _Traced) else ("const", o) for o in args)) == key:
                return _Traced(self.ops, -(i + 1))
        self.ops.append((ufunc, operands))
        return _Traced(self.ops, -len(self.ops))  # negative slots: results of recorded ops (−1 is the first)

    def __add__(self, o: Any) -> _Traced: return self.apply(np.add, self, o)
    def __radd__(self, o: Any) -> _Traced: return self.apply(np.add, o, self)
    def __sub__(self, o: Any) -> _Traced: return self.apply(np.subtract, self, o)
    def __rsub__(self, o: Any) -> _Traced: return self.apply(np.subtract, o, self)
    def __mul__(self, o: Any) -> _Traced: return self.apply(np.multiply, self, o)
    def __rmul__(self, o: Any) -> _Traced: return self.apply(np.multiply, o, self)
    def __truediv__(self, o: Any) -> _Traced: return self.apply(np.divide, self, o)
    def __rtruediv__(self, o: Any) -> _Traced: return self.apply(np.divide, o, self)


def _tanh(h: Any) -> Any:
    if isinstance(h, float):
        return math.tanh(h)
    return h.apply(np.tanh, h) if isinstance(h, _Traced) else np.tanh(h)


def _clip0(v: Any) -> Any:
    """max(v, 0): a variance computed as a difference of moments is clipped against rounding."""
    if isinstance(v, float):
        return max(v, 0.0)
    return v.apply(np.maximum, v, 0.0) if isinstance(v, _Traced) else np.maximum(v, 0.0)


class _Program:
    """The recorded ufunc calls of one formula with a static buffer plan: each result overwrites an operand
    buffer that is dead after the call, or a free scratch buffer, so a chunk runs with no temporaries."""

    def __init__(self, formula: Callable[..., Any], n_inputs: int) -> None:
        ops: list[tuple[Any, tuple[Any, ...]]] = []
        result = formula(*(_Traced(ops, i) for i in range(n_inputs)))
        if not isinstance(result, _Traced) or result.slot >= 0:
            raise TypeError("a traced formula must compute something from its inputs")
        self.ops = [(fn, tuple(o.slot if isinstance(o, _Traced) else float(o) for o in operands))
                    for fn, operands in ops]
        last_use = {}
        for i, (_, operands) in enumerate(self.ops):
            for o in operands:
                if isinstance(o, int) and o < 0:
                    last_use[o] = i
        free: list[int] = []
        self.register: dict[int, int] = {}   # result slot -> scratch buffer index
        self.n_buffers = 0
        for i, (_, operands) in enumerate(self.ops):
            dead = [self.register[o] for o in operands if isinstance(o, int) and o < 0 and last_use[o] == i]
            free.extend(b for b in dead if b not in free)
            if free:
                self.register[-(i + 1)] = free.pop(0)
            else:
                self.register[-(i + 1)] = self.n_buffers
                self.n_buffers += 1

    def bind(self, inputs: list[Any], out: np.ndarray, scratch: list[np.ndarray]) -> list[tuple[Any, tuple, Any]]:
        """The calls with every operand resolved (inputs: arrays or floats; the last call writes ``out``)."""
        last = len(self.ops) - 1
        return [(fn, tuple(o if isinstance(o, float) else (inputs[o] if o >= 0 else scratch[self.register[o]])
                           for o in operands), out if i == last else scratch[self.register[-(i + 1)]])
                for i, (fn, operands) in enumerate(self.ops)]


# ----------------------------------------------------------------------------------------- kernels of x
def e_sin2_of_x(x: Any) -> Any:
    """E sin²(ω0 w) at x = ω0·b (float or float64 array, no validation).

    >>> round(e_sin2_of_x(1.0), 15)
    0.4
    """
    return _e_sin2_h(_h(x))


def e_abs_sin_of_x(x: Any) -> Any:
    """E|sin(ω0 w)| = γ* at x = ω0·b (float or float64 array, no validation).

    >>> f"{e_abs_sin_of_x(1.0):.15f}"
    '0.545165705363684'
    """
    return _e_abs_sin_h(_h(x))


def e_abs_sin3_of_x(x: Any) -> Any:
    """E|sin|³ = 6x³ coth(π/(2x))/((1+x²)(1+9x²)) = E|sin|·6/(9 + 1/x²) (symbolic.py); for Monte Carlo variances.

    >>> f"{e_abs_sin3_of_x(1.0):.12f}"
    '0.327099423218'
    """
    h = _h(x)
    return _e_abs_sin_h(h) * 6.0 / (9.0 + _inv_x2(h))


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
    return qe_from_moments(e_sin2_of_x(x), e_abs_sin_of_x(x), None)


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
# One chunked runner for the public functions: cache-sized chunks, two threads for large arrays
# ---------------------------------------------------------------------------------------------------
#: Points per chunk: the temporaries of one formula (256 KiB each) stay in L2 while it runs.
_CHUNK = 32768
#: Arrays at least this large are split over up to _THREADS worker threads (numpy releases the GIL in ufuncs).
_PARALLEL_MIN = 1 << 20
_THREADS = max(1, min(2, os.cpu_count() or 1))

#: what -> formula of (h, γ); each is a composition of the two closed forms above and qe_from_moments.
_FORMULAS: dict[str, Callable[[Any, Any], Any]] = {
    "e_sin2": lambda h, g: _e_sin2_h(h),
    "e_abs_sin": lambda h, g: _e_abs_sin_h(h),
    "official_l1": lambda h, g: 1.0 - _e_abs_sin_h(h),
    "qe_min": lambda h, g: qe_from_moments(_e_sin2_h(h), _e_abs_sin_h(h), None),
    "qe": lambda h, g: qe_from_moments(_e_sin2_h(h), _e_abs_sin_h(h), g),
}
#: The same formulas recorded once as in-place ufunc programs for the chunked runner.
_PROGRAMS = {what: _Program(formula, 2) for what, formula in _FORMULAS.items()}


def _valid_h(w: Any, b: Any, h: np.ndarray) -> bool:
    """h = π/(2ω0·b) into ``h``; False when an input is out of range (the caller then raises a precise error).

    Two or three reductions on cached data: if ω0 > 0 and x = ω0·b > 0 then b > 0, and h in (0, ∞) catches
    NaN, ±inf, x ≤ 0 and x so small (< ~1e-308) that h overflows.
    """
    if isinstance(w, np.ndarray):
        if not w.min() > 0:
            return False
    elif isinstance(b, np.ndarray) and not b.min() > 0:
        return False
    np.multiply(w, b, out=h)
    np.divide(_HALF_PI, h, out=h)
    return bool(h.min() > 0 and h.max() < math.inf)


def _run_chunks(what: str, args: list[Any], n: int) -> tuple[np.ndarray, bool]:
    """Evaluate ``what`` over flat length-``n`` operands (arrays of length n or floats) chunk by chunk, with the
    formula's recorded program and one set of scratch buffers per thread; two threads for large n."""
    out = np.empty(n, dtype=np.float64)
    program = _PROGRAMS[what]
    omega0, b, gamma = args

    def block(lo: int, hi: int) -> bool:
        size = 0
        calls: list[tuple[Any, tuple, Any]] = []
        with np.errstate(all="ignore"):  # out-of-range inputs are detected and reported by the caller
            for s in range(lo, hi, _CHUNK):
                e = min(s + _CHUNK, hi)
                dst = out[s:e]
                if e - s != size or isinstance(gamma, np.ndarray):
                    if e - s != size:
                        size = e - s
                        scratch = [np.empty(size) for _ in range(program.n_buffers + 1)]  # the last holds h
                    g = gamma[s:e] if isinstance(gamma, np.ndarray) else gamma
                    calls = program.bind([scratch[-1], g], dst, scratch)
                else:
                    fn, operands, _ = calls[-1]
                    calls[-1] = (fn, operands, dst)
                part = [v[s:e] if isinstance(v, np.ndarray) else v for v in (omega0, b)]
                if not _valid_h(part[0], part[1], scratch[-1]):
                    return False
                for fn, operands, target in calls:
                    fn(*operands, out=target)
        return True

    if n >= _PARALLEL_MIN and _THREADS > 1:
        edges = [n * i // _THREADS // _CHUNK * _CHUNK for i in range(_THREADS)] + [n]
        with ThreadPoolExecutor(_THREADS) as pool:
            ok = all(pool.map(lambda i: block(edges[i], edges[i + 1]), range(_THREADS)))
    else:
        ok = block(0, n)
    return out, ok


def _scalar_point(omega0: Any, b: Any, gamma: Any, what: str) -> tuple[float, float, float | None] | None:
    """(ω0, b, γ) as floats when all three are plain in-range scalars (the fast path), else None."""
    if np.ndim(omega0) or np.ndim(b) or np.ndim(gamma) or isinstance(omega0, str) or isinstance(b, str):
        return None
    try:
        w, bb = float(omega0), float(b)
        g = float(gamma) if what == "qe" else None
    except (TypeError, ValueError):
        return None
    x = w * bb
    if not (0.0 < w < math.inf and 0.0 < bb < math.inf and 0.0 < x < math.inf and _HALF_PI / x < math.inf):
        return None
    if g is not None and not 0.0 <= g < math.inf:
        return None
    return w, bb, g


def _operand(name: str, value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        positive(name, value)  # raises the standard message naming the argument
        raise


def _evaluate(what: str, omega0: Any, b: Any, gamma: Any = None) -> float | np.ndarray:
    """Validate, broadcast and evaluate ``what`` (a key of _FORMULAS) at (ω0, b[, γ]); float for scalars."""
    point = _scalar_point(omega0, b, gamma, what)
    if point is not None:
        return float(_FORMULAS[what](_HALF_PI / (point[0] * point[1]), point[2]))
    ops = [_operand("omega0", omega0), _operand("b", b)]
    if what == "qe":
        ops.append(nonnegative("gamma", gamma))
    shape = np.broadcast_shapes(*(o.shape for o in ops))
    n = int(np.prod(shape))
    args: list[Any] = [float(o.reshape(())) if o.size == 1 else np.broadcast_to(o, shape).reshape(-1) for o in ops]
    if what != "qe":
        args.append(None)
    for name, val in (("omega0", args[0]), ("b", args[1])):
        if isinstance(val, float) and not 0 < val < math.inf:
            positive(name, val)  # raises with the standard message
    out, ok = _run_chunks(what, args, n) if n else (np.empty(0), True)
    if not ok:
        positive("omega0", omega0)
        positive("b", b)
        raise ValueError("omega0*b must lie between about 1e-308 and 1e308 (float64 range); rescale omega0 or b")
    return scalar_or_array(out.reshape(shape), *([omega0, b] + ([gamma] if what == "qe" else [])))


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
    return _evaluate("qe_min", omega0, b)


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
            raise ValueError("pass either b (the Laplace scale) or prior=..., not both; "
                             "use prior=ba.priors.Laplace(b) to be explicit")
        return qe_under_prior(omega0, prior, gamma)
    if b is None:
        raise ValueError("b (the Laplace scale, mean |w|) is required when no prior is given; "
                         "e.g. qe(20.0, 0.05) or qe(20.0, prior=ba.priors.Gaussian(0.05))")
    if gamma is None:
        return _evaluate("qe_min", omega0, b)
    return _evaluate("qe", omega0, b, gamma)  # validates gamma too


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

        warnings.warn(f"{prior!r} was fitted at omega0 = {fitted_at:g}; its QE at other ω0 describes weights "
                      "trained at that frequency, not at the new one", UserWarning, stacklevel=3)
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
    h = _h(_x(omega0, b))
    g = None if gamma is None else nonnegative("gamma", gamma)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        t = np.tanh(h)
        d = h * h + _QUARTER_PI_SQ
        u_over_d = np.where(h < 1.0, h / t / d, 1.0 / (t * (h + _QUARTER_PI_SQ / h)))
        ratio = (h / t) * u_over_d * (1.0 + 3.0 * _QUARTER_PI_SQ / d) / 2.0
        out = np.maximum(1.0 - ratio, 0.0)
        if g is not None:
            e2, e1 = _e_sin2_h(h), _e_abs_sin_h(h)
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
