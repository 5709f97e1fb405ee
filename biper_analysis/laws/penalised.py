r"""Exponential power times the Gibbs factor of BiPer's sin² penalty: the stationary law of a trained weight.

The official CIFAR code adds τ·Σ mean sin²(ω0 w) to the loss (github.com/edmav4/BiPer, ``cifar10/main.py``,
``forward``: ``loss_reg``), which pulls weights towards the zeros kπ/ω0 of sin(ω0 w); weight decay pulls them
towards 0. Three laws share one implementation (:class:`_PenalisedBase`):

* ``penalised`` — :class:`Penalised`: p(w) ∝ exp(−|w/s|^β − κ sin²(ω0 w)), κ ≥ 0, at the ω0 it was fitted for.
  3 parameters (s, β, κ).
* ``penalised2`` — :class:`Penalised2`: the same with its own κ0 on the central period |ω0 w| < π/2. 4 parameters
  (s, β, κ0, κ). In trained first-stage layers the k = 0 peak is about twice as sharp as k = ±1.
* ``penalised-alpha`` — :class:`PenalisedAlpha`: exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α), two κ as above and a free
  peak shape α (α = 2: Gibbs peaks, α = 1: Laplace-shaped peaks). 5 parameters (s, β, κ0, κ, α).

Normaliser and sine moments: ratios of the half-line integrals of :mod:`biper_analysis.laws._quadrature`; CDF:
:mod:`biper_analysis.laws._cdf`. Fitting (on the shared subsample): L-BFGS-B in (log s, log β, κ[, κ0][, log α])
with the exact gradient (an exponential family: each component is a difference of data and model moments, the
model moments from the same quadrature), from the gennorm MLE at κ = 0 (again from κ = 10 when that run stalls or
stays at κ = 0); penalised-alpha from the penalised2 MLE at α = 2 and α = 1. Per layer of 2·10⁴ weights:
12–20 ms (penalised, penalised2), ~50 ms (penalised-alpha).
(What they predict on real weights: :mod:`biper_analysis.laws`.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
from scipy import optimize

from biper_analysis.laws._cdf import TableCdf
from biper_analysis.laws._quadrature import _KINDS, _half_line
from biper_analysis.laws.base import POSITIVE, SHAPE, SHARPNESS, Law, register
from biper_analysis.laws.gennorm import BETA_BOUNDS, GenNorm, _fit_gennorm
from biper_analysis.theory.weights import weight_stats

__all__ = ["Penalised", "Penalised2", "PenalisedAlpha"]

#: L-BFGS-B stopping rules of the iterative fits (tight: the fits are cheap next to the quadrature in each step).
_FTOL, _GTOL = 1e-14, 1e-9
_KAPPA_MAX = 1e4
_ALPHA_BOUNDS = (0.25, 8.0)


class _PenalisedBase(TableCdf, Law):
    """exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α)/Z with κ(w) = κ0 on the central half-period |ω0 w| < π/2 when
    :meth:`_kappa0` is not None (else κ everywhere) and α = :meth:`_alpha` (2: the sin² penalty itself):
    everything but the parameters is shared."""

    s: float
    beta: float
    kappa: float
    omega0: float

    @property
    def scale(self) -> float:
        return self.s

    @property
    def _a(self) -> float:
        return self.omega0 * self.s

    def _ints(self, b: float | None, kinds: Sequence[str], mults: Sequence[str]) -> np.ndarray:
        k0 = self._kappa0()
        a = self._a if (self.kappa > 0 or k0 is not None) else None
        return _half_line(self.beta, self.kappa, a, b, kinds, mults, kappa0=k0, alpha=self._alpha())

    @cached_property
    def _integral(self) -> float:
        """I = ∫_0^∞ e^{-u^β − κ(u)|sin(a u)|^α} du (Z = 2 s I)."""
        return float(self._ints(None, ("one",), ("1",))[0, 0])

    def normaliser(self) -> float:
        """Z = ∫ exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α) dw over the real line."""
        return 2.0 * self.s * self._integral

    def _kappa_of(self, w: np.ndarray) -> Any:
        k0 = self._kappa0()
        if k0 is None:
            return self.kappa
        return np.where(np.abs(self.omega0 * w) < 0.5 * math.pi, k0, self.kappa)

    def _penalty(self, w: np.ndarray) -> np.ndarray:
        """κ(w)|sin(ω0 w)|^α."""
        sn = np.sin(self.omega0 * w)
        alpha = self._alpha()
        return self._kappa_of(w) * (sn * sn if alpha == 2.0 else np.power(np.abs(sn), alpha))

    def logpdf(self, w: Any) -> np.ndarray:
        """−|w/s|^β − penalty(w) − log(2 s I): the density of the factor the quadrature integrates (a law whose
        factor is shifted, :mod:`~biper_analysis.laws.phase`, has the same form)."""
        w = np.asarray(w, dtype=np.float64)
        return -np.power(np.abs(w) / self.s, self.beta) - self._penalty(w) - math.log(2.0 * self.s * self._integral)

    def _kappa_a(self) -> tuple[float, float]:
        return self.kappa, self._a

    def _total(self) -> float:
        return self._integral

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Rejection from GenNorm(s, β): accept w with probability exp(−κ(w)|sin(ω0 w)|^α)."""
        env = GenNorm(self.s, self.beta)
        accept = self._integral / math.gamma(1.0 + 1.0 / self.beta)
        out: list[np.ndarray] = []
        got = 0
        while got < size:
            m = int(min(1 << 22, max(1024, 1.2 * (size - got) / accept + 64)))
            w = env.sample(rng, m)
            keep = w[rng.random(m) < np.exp(-self._penalty(w))]
            out.append(keep)
            got += keep.size
        return np.concatenate(out)[:size]

    def variance(self) -> float:
        ints = self._ints(None, ("one",), ("1", "u2"))[0]
        return self.s * self.s * float(ints[1] / ints[0])

    def _moments(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        e2, e1 = np.empty(omega.shape), np.empty(omega.shape)
        for i, o in np.ndenumerate(omega):
            ints = self._ints(float(o) * self.s, _KINDS, ("1",))[:, 0]
            e2[i], e1[i] = ints[1] / ints[0], ints[2] / ints[0]
        return e2, e1


@register
@dataclass(frozen=True)
class Penalised(_PenalisedBase):
    r"""p(w) = exp(−|w/s|^β − κ sin²(ω0 w)) / Z: the stationary law of a weight under the exponential-power
    prior and BiPer's penalty τ·sin²(ω0 w) (official repo, ``cifar10/main.py``, ``loss_reg``), κ ≥ 0.

    Z = 2s·I, I = ∫_0^∞ e^{-u^β − κ sin²(a u)} du with a = ω0 s; E sin²(ωw) and E|sin(ωw)| are ratios of such
    integrals (:mod:`biper_analysis.laws._quadrature`, "Numerics"). κ = 0 is :class:`GenNorm`.

    >>> p = Penalised(0.05, 1.3, 8.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}", f"{p.normaliser():.12f}"
    ('0.056678495532', '0.188256373600', '0.029158827472')
    """

    s: float
    beta: float
    kappa: float
    omega0: float
    name = "penalised"
    order = 40
    style = ("C1", "-")
    version = "1"
    fittable = True
    PARAMS = {"s": POSITIVE, "beta": SHAPE, "kappa": SHARPNESS}

    @classmethod
    def fit_sample(
        cls, sample: np.ndarray, omega0: float | None, fitted: Callable[[str], tuple[Law, dict[str, Any]]]
    ) -> tuple[Penalised, dict[str, Any]]:
        """L-BFGS-B from the gennorm MLE on the same sample (:func:`_fit_exp_power`)."""
        return _fit_exp_power(sample, omega0, two=False, gennorm=fitted("gennorm")[0])


@register
@dataclass(frozen=True)
class Penalised2(_PenalisedBase):
    r"""p(w) ∝ exp(−|w/s|^β − κ(w) sin²(ω0 w)) with κ(w) = κ0 on the central period |ω0 w| < π/2 and κ elsewhere:
    :class:`Penalised` with its own sharpness for the k = 0 peak (4 parameters s, β, κ0, κ).

    In trained first-stage layers the central peak is about twice as sharp as the k = ±1 peaks (plausibly weight
    decay, which pulls the outer peaks inwards and widens them); one κ for all peaks under-predicts QE_min there
    (our ResNet-20 run: ~10 % after stage 1, ~28 % after stage 2; the official long run: 33–40 %).
    I = ∫_0^{π/(2a)} e^{-u^β − κ0 sin²(au)} du + ∫_{π/(2a)}^∞ e^{-u^β − κ sin²(au)} du, both by :func:`_half_line`.

    >>> p = Penalised2(0.12, 1.8, 6.0, 3.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.146995876611', '0.300731224459')
    """

    s: float
    beta: float
    kappa0: float
    kappa: float
    omega0: float
    name = "penalised2"
    order = 50
    style = ("C5", "--")
    version = "1"
    fittable = True
    PARAMS = {"s": POSITIVE, "beta": SHAPE, "kappa0": SHARPNESS, "kappa": SHARPNESS}

    @classmethod
    def fit_sample(
        cls, sample: np.ndarray, omega0: float | None, fitted: Callable[[str], tuple[Law, dict[str, Any]]]
    ) -> tuple[Penalised2, dict[str, Any]]:
        """L-BFGS-B from the gennorm MLE on the same sample (:func:`_fit_exp_power`)."""
        return _fit_exp_power(sample, omega0, two=True, gennorm=fitted("gennorm")[0])

    def _kappa0(self) -> float | None:
        return self.kappa0


@register
@dataclass(frozen=True)
class PenalisedAlpha(_PenalisedBase):
    r"""p(w) ∝ exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α), κ(w) = κ0 on the central period |ω0 w| < π/2 and κ elsewhere:
    :class:`Penalised2` with a free peak shape α > 0 (5 parameters s, β, κ0, κ, α). α = 2 is the Gibbs factor of
    the sin² penalty (Gaussian-like peaks, light tails); α = 1 gives peaks e^{-κ|θ|} near each zero, i.e.
    Laplace-shaped, with heavier tails; the fitted α sets how much mass lies between the peaks, which is what
    QE_min = Var|sin(ω0 w)| is most sensitive to. The cusp |θ|^α at each peak centre is resolved by geometric
    grading of the quadrature pieces.

    >>> p = PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 1.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.145879602652', '0.273053892265')
    """

    s: float
    beta: float
    kappa0: float
    kappa: float
    alpha: float
    omega0: float
    name = "penalised-alpha"
    order = 60
    style = ("C6", "-")
    version = "1"
    fittable = True
    PARAMS = {"s": POSITIVE, "beta": SHAPE, "kappa0": SHARPNESS, "kappa": SHARPNESS, "alpha": SHAPE}

    @classmethod
    def fit_sample(
        cls, sample: np.ndarray, omega0: float | None, fitted: Callable[[str], tuple[Law, dict[str, Any]]]
    ) -> tuple[PenalisedAlpha, dict[str, Any]]:
        """L-BFGS-B from the penalised2 MLE on the same sample (:func:`_fit_alpha`)."""
        return _fit_alpha(sample, omega0, start=fitted("penalised2"))

    def _kappa0(self) -> float | None:
        return self.kappa0

    def _alpha(self) -> float:
        return self.alpha


def _penalised_objective(w: np.ndarray, omega0: float):
    """−ℓ/n and its gradient in x = (log s, log β, κ) (exponential family: the gradient is a moment difference)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    s2 = float(np.mean(np.sin(omega0 * w) ** 2))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta, kappa = math.exp(x[0]), math.exp(x[1]), max(float(x[2]), 0.0)
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        a = omega0 * s
        ints = _half_line(beta, kappa, a, a, ("one", "sin2"), ("1", "ub", "ublog"))
        z = float(ints[0, 0])
        f = mv + kappa * s2 + math.log(2.0 * s * z)
        g = np.array(
            [beta * (float(ints[0, 1]) / z - mv), beta * (mvl - float(ints[0, 2]) / z), s2 - float(ints[1, 0]) / z]
        )
        return f, g

    return fun


def _projected_gradient(res: Any, bounds: list[tuple[float, float]]) -> float:
    """Largest gradient component that could still move x inside the box (0 at a constrained optimum)."""
    g = np.asarray(res.jac, dtype=np.float64)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    g = np.where((res.x <= lo) & (g > 0), 0.0, g)
    g = np.where((res.x >= hi) & (g < 0), 0.0, g)
    return float(np.max(np.abs(g)))


def minimise_from_starts(
    fun: Callable,
    starts: Sequence[np.ndarray],
    bounds: list[tuple[float, float]],
    stop_early: Callable[[Any, bool], bool] | None = None,
) -> tuple[Any, bool, int]:
    """L-BFGS-B (exact gradient) from each start in turn; the lowest −ℓ wins, a converged run before a stalled one at
    a tie (converged: L-BFGS-B's own test, or a projected gradient below 1e-7). ``stop_early(result, converged)``
    may end the loop after a run. Returns (the winning result, whether it converged, iterations of all runs)."""
    runs = []
    for x0 in starts:
        res = optimize.minimize(
            fun,
            np.asarray(x0, dtype=np.float64),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 500, "ftol": _FTOL, "gtol": _GTOL},
        )
        ok = bool(res.success) or _projected_gradient(res, bounds) <= 1e-7
        runs.append((float(res.fun), not ok, len(runs), res, ok))
        if stop_early is not None and stop_early(res, ok):
            break
    lowest = min(r[0] for r in runs)
    tie = 1e-12 * max(1.0, abs(lowest))
    _, _, _, best, ok = min((r for r in runs if r[0] <= lowest + tie), key=lambda r: (r[1], r[0], r[2]))
    return best, ok, int(sum(r[3].nit for r in runs))


def _fit_exp_power(
    w: np.ndarray, omega0: float, two: bool, gennorm: GenNorm | None = None
) -> tuple[Any, dict[str, Any]]:
    """L-BFGS-B on (log s, log β, κ) (``two``: (log s, log β, κ0, κ)) from the GenNorm MLE at κ = 0, and again from
    κ = 10 when that run stalls or ends at κ = 0; the lower −ℓ wins (converged: L-BFGS-B's own test, or a
    projected gradient below 1e-7). ``gennorm``: that MLE on the same ``w`` when already known."""
    g = gennorm if gennorm is not None else _fit_gennorm(w)[0]
    fun = (_penalised2_objective if two else _penalised_objective)(w, omega0)
    m = weight_stats(w).b
    bounds = [(math.log(m * 1e-3), math.log(m * 1e3)), tuple(math.log(b) for b in BETA_BOUNDS)] + [
        (0.0, _KAPPA_MAX)
    ] * (2 if two else 1)
    starts = [np.array([math.log(g.s), math.log(g.beta)] + [k] * (2 if two else 1)) for k in (0.0, 10.0)]
    best, ok, iterations = minimise_from_starts(
        fun, starts, bounds, stop_early=lambda res, ok: ok and np.max(res.x[2:]) > 1e-6
    )
    s, beta = math.exp(best.x[0]), math.exp(best.x[1])
    law = (
        Penalised2(s, beta, float(best.x[2]), float(best.x[3]), omega0)
        if two
        else Penalised(s, beta, float(best.x[2]), omega0)
    )
    names = "(log s, log beta, kappa0, kappa)" if two else "(log s, log beta, kappa)"
    info = {
        "n_fit": w.size,
        "converged": ok,
        "iterations": iterations,
        "method": f"L-BFGS-B on {names} from the gennorm MLE at kappa = 0 (then 10 if needed)",
    }
    return law, info


def _penalised2_objective(w: np.ndarray, omega0: float):
    """−ℓ/n of :class:`Penalised2` and its gradient in x = (log s, log β, κ0, κ) (moment differences)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    sq = np.sin(omega0 * w) ** 2
    mid = np.abs(omega0 * w) < 0.5 * math.pi
    s0, s1 = float(np.sum(sq[mid])) / n, float(np.sum(sq[~mid])) / n

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta, k0, k1 = math.exp(x[0]), math.exp(x[1]), max(float(x[2]), 0.0), max(float(x[3]), 0.0)
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        a = omega0 * s
        parts: list = []
        ints = _half_line(beta, k1, a, a, ("one", "sin2"), ("1", "ub", "ublog"), kappa0=k0, central=parts)
        z = float(ints[0, 0])
        c2 = float(parts[0][1, 0])
        f = mv + k0 * s0 + k1 * s1 + math.log(2.0 * s * z)
        g = np.array(
            [
                beta * (float(ints[0, 1]) / z - mv),
                beta * (mvl - float(ints[0, 2]) / z),
                s0 - c2 / z,
                s1 - (float(ints[1, 0]) - c2) / z,
            ]
        )
        return f, g

    return fun


def _alpha_objective(w: np.ndarray, omega0: float):
    """−ℓ/n of :class:`PenalisedAlpha` and its gradient in x = (log s, log β, κ0, κ, log α)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    sa = np.abs(np.sin(omega0 * w))
    nz = sa > 0
    lsa = np.log(sa[nz])
    mid = (np.abs(omega0 * w) < 0.5 * math.pi)[nz]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta = math.exp(x[0]), math.exp(x[1])
        k0, k1, alpha = max(float(x[2]), 0.0), max(float(x[3]), 0.0), math.exp(x[4])
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        pa = np.exp(alpha * lsa)
        p0, p1 = float(np.sum(pa[mid])) / n, float(np.sum(pa[~mid])) / n
        pl = pa * lsa
        l0, l1 = float(np.sum(pl[mid])) / n, float(np.sum(pl[~mid])) / n
        a = omega0 * s
        parts: list = []
        ints = _half_line(
            beta, k1, a, a, ("one", "pa", "pal"), ("1", "ub", "ublog"), kappa0=k0, central=parts, alpha=alpha
        )
        c = parts[0]
        z = float(ints[0, 0])
        e_pa0, e_pa1 = float(c[1, 0]) / z, float(ints[1, 0] - c[1, 0]) / z
        e_pl = (k0 * float(c[2, 0]) + k1 * float(ints[2, 0] - c[2, 0])) / z
        f = mv + k0 * p0 + k1 * p1 + math.log(2.0 * s * z)
        g = np.array(
            [
                beta * (float(ints[0, 1]) / z - mv),
                beta * (mvl - float(ints[0, 2]) / z),
                p0 - e_pa0,
                p1 - e_pa1,
                alpha * ((k0 * l0 + k1 * l1) - e_pl),
            ]
        )
        return f, g

    return fun


def _fit_alpha(
    w: np.ndarray, omega0: float, start: tuple[Any, dict[str, Any]] | None = None
) -> tuple[PenalisedAlpha, dict[str, Any]]:
    """L-BFGS-B on (log s, log β, κ0, κ, log α) from the :class:`Penalised2` MLE at α = 2 and at α = 1 (the
    same κs); the lower −ℓ wins. ``start``: that MLE (law, info) on the same ``w`` when already known."""
    p2, info2 = start if start is not None else _fit_exp_power(w, omega0, two=True)
    fun = _alpha_objective(w, omega0)
    m = weight_stats(w).b
    bounds = [
        (math.log(m * 1e-3), math.log(m * 1e3)),
        tuple(math.log(b) for b in BETA_BOUNDS),
        (0.0, _KAPPA_MAX),
        (0.0, _KAPPA_MAX),
        tuple(math.log(b) for b in _ALPHA_BOUNDS),
    ]
    starts = [np.array([math.log(p2.s), math.log(p2.beta), p2.kappa0, p2.kappa, math.log(a0)]) for a0 in (2.0, 1.0)]
    best, ok, iterations = minimise_from_starts(fun, starts, bounds)
    x = best.x
    law = PenalisedAlpha(math.exp(x[0]), math.exp(x[1]), float(x[2]), float(x[3]), math.exp(x[4]), omega0)
    return law, {
        "n_fit": w.size,
        "converged": ok,
        "iterations": int(info2["iterations"]) + iterations,
        "method": "L-BFGS-B on (log s, log beta, kappa0, kappa, log alpha) from the penalised2 MLE at "
        "alpha = 2 and alpha = 1",
    }
