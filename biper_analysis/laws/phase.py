r"""Laws with peaks where trained BiPer weights put them: at the zeros *and* at the crests of sin(ω0 w).

Why (a stationary-density argument). Under SGD a latent weight drifts down the gradient of weight decay
(λw²/2), of BiPer's penalty τ·sin²(ω0 w) (official repository, ``cifar10/main.py``, ``loss_reg``) and of the task
loss, which reaches w only through the sine: ∂L/∂w = ω0·cos(ω0 w)·∂L/∂sin(ω0 w). Its minibatch noise therefore has
a variance D(w) ∝ cos²(ω0 w) + D0 that *vanishes at the crests* of |sin(ω0 w)|. The stationary density of
dw = −U'(w) dt + √(2D(w)) dB is p(w) ∝ D(w)⁻¹·exp(−∫U'/D dw): the factor 1/D(w) piles weights up at the crests (where
they stop moving), the penalty term at the zeros, weight decay gives an envelope. Written as a function of the phase
θ = ω0 w, log p is an even, π-periodic function of θ plus the envelope; its Fourier series in cos 2jθ — equivalently
a series in sin²θ, sin²2θ, or in |sin θ| and sin²θ — truncated after two terms gives the laws here:

    p(w) ∝ exp(−|w/s|^β − V(ω0 w)),   V(θ) = c_abs(w)·|sin θ| + c_sin2(w)·sin²θ + c_h2·sin²2θ,

with a coefficient of its own on the central half-period |ω0 w| < π/2 (in trained layers the k = 0 peak is sharper
than the others). With c_abs, c_h2 ≥ 0, V is concave in sin²θ, so e^{−V} peaks only at zeros and crests
(:class:`~biper_analysis.laws._quadrature.SinePolynomial`); a negative sin² coefficient lifts the crests.

* ``harmonic`` — :class:`Harmonic`: V = κ(w)·sin²θ + c·sin²2θ, κ(w) = κ0 centrally; 5 parameters (s, β, κ0, κ, c),
  κ of either sign, c ≥ 0. c > 0 puts Gaussian-shaped peaks at both zeros and crests, κ sets their balance.
* ``maxent`` — :class:`Maxent`: V = λ(w)·|sin θ| + μ·sin²θ, λ(w) = λ0 centrally; 5 parameters (s, β, λ0, λ, μ),
  λ ≥ 0, μ of either sign. The maximum-entropy law given E|w/s|^β, E|sin θ| (central and outer) and E sin²θ — the
  very moments QE_min = E sin² − (E|sin|)² is made of: Laplace-shaped (heavier than Gaussian) peaks at the zeros,
  Gaussian-shaped peaks at the crests when μ < −λ/2. Its maximum-likelihood fit reproduces the sample's E|sin| and
  E sin² exactly (an exponential family in λ0, λ, μ), so its *in-sample* QE equals the measured QE by
  construction; only the out-of-sample comparison (fitted on half of the output channels, scored on the other
  half: :mod:`biper_analysis.analysis.layer`) tests it.

Numerics: the half-line quadrature and CDF tables of the penalised laws (:mod:`~biper_analysis.laws._quadrature`,
graded around every zero and crest); moments checked against 30-digit mpmath
(tests/reference/phase_laws_reference.json, its generator beside it).
Fitting: L-BFGS-B in (log s, log β, coefficients) with the exact gradient (data minus model moments of each
feature), from the gennorm MLE with every coefficient 0 and from a few fixed starts with zero or crest peaks; the
lowest −ℓ wins.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from biper_analysis.laws._quadrature import SinePolynomial, _half_line
from biper_analysis.laws.base import POSITIVE, SHAPE, Bounds, Law, register
from biper_analysis.laws.gennorm import BETA_BOUNDS, GenNorm
from biper_analysis.laws.penalised import _PenalisedBase, minimise_from_starts

__all__ = ["Harmonic", "Maxent", "COEF", "COEF_POSITIVE"]

#: A coefficient of either sign (the sin² term: negative lifts the crests), and a non-negative one. With |V| ≤ 600
#: (three terms of at most 300, 300 and 4·75) every factor e^{−(V − shift)} stays far inside float64; a peak of
#: sharpness 300 is 1/√300 ≈ 0.06 rad wide (Gaussian) or 1/300 rad (Laplace-shaped), narrower than trained layers'.
COEF: Bounds = (-300.0, 300.0, True)
COEF_POSITIVE: Bounds = (0.0, 300.0, True)
_H2_MAX: Bounds = (0.0, 75.0, True)
#: The SinePolynomial slot of each feature.
_SLOT = {"f_abs": "c_abs", "f_sin2": "c_sin2", "f_h2": "c_h2"}


class _PhaseBase(_PenalisedBase):
    """exp(−|w/s|^β − V(ω0 w))/Z, V a sine polynomial whose terms are listed in ``TERMS`` as (parameter, feature,
    region ∈ {"central", "outer", "all"}). Everything else — quadrature, CDF, sampler, variance, moments, density —
    is the penalised laws' (:class:`~biper_analysis.laws.penalised._PenalisedBase`), with the periodic factor
    e^{−(V − shift)} ≤ 1 in place of e^{−κ|sin|^α}."""

    TERMS: ClassVar[tuple[tuple[str, str, str], ...]] = ()
    #: coefficient starts of the fit besides all-zero (one tuple per start, in TERMS order)
    STARTS: ClassVar[tuple[tuple[float, ...], ...]] = ()

    @classmethod
    def potentials(cls, coefs: Sequence[float], beta: float, a: float) -> tuple[SinePolynomial, SinePolynomial]:
        """(outer, central) sine polynomials for the coefficients in TERMS order, sharing one shift: the smallest
        exponent u^β + V(a u) of the integrand, at u = 0 (0) or at a crest — the first crest of each region, where
        u^β is smallest (:meth:`SinePolynomial.minimum` gives V there). So the integrand e^{−u^β − (V − shift)} is
        at most ~1 where it matters: a crest peak far out in the envelope's tail cannot push the weights' own
        region below float64 (a shift by V's plain minimum did, for ω0 = 2 where the crests lie beyond every
        weight)."""
        slots = {region: {"c_abs": 0.0, "c_sin2": 0.0, "c_h2": 0.0} for region in ("outer", "central")}
        for (_, kind, region), c in zip(cls.TERMS, coefs):
            for r in ("outer", "central") if region == "all" else (region,):
                slots[r][_SLOT[kind]] += float(c)
        crest = {r: SinePolynomial(**slots[r]).minimum() for r in slots}  # V at a crest (or 0 at a zero)
        first, second = 0.5 * math.pi / a, 1.5 * math.pi / a  # u of the first two crests
        shift = min(0.0, first**beta + min(crest.values()), second**beta + crest["outer"])
        return SinePolynomial(**slots["outer"], shift=shift), SinePolynomial(**slots["central"], shift=shift)

    @cached_property
    def _pots(self) -> tuple[SinePolynomial, SinePolynomial]:
        return self.potentials([getattr(self, p) for p, _, _ in self.TERMS], self.beta, self._a)

    def _ints(self, b: float | None, kinds: Sequence[str], mults: Sequence[str]) -> np.ndarray:
        outer, central = self._pots
        return _half_line(self.beta, outer, self._a, b, kinds, mults, kappa0=central)

    def normaliser(self) -> float:
        """Z = ∫ exp(−|w/s|^β − V(ω0 w)) dw over the real line (the integral of the shifted factor times e^{−shift})."""
        return 2.0 * self.s * self._integral * math.exp(-self._pots[0].shift)

    def _penalty(self, w: np.ndarray) -> np.ndarray:
        """V(ω0 w) − shift ≥ 0, each weight with its region's polynomial."""
        outer, central = self._pots
        theta = self.omega0 * w
        return np.where(np.abs(theta) < 0.5 * math.pi, central.value(theta), outer.value(theta))

    def _kappa_a(self) -> tuple[SinePolynomial, float]:
        return self._pots[0], self._a

    def _kappa0(self) -> SinePolynomial:
        return self._pots[1]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Rejection from GenNorm(s, β): accept w with probability e^{−(V(ω0 w) − min V)} ≤ 1; when fewer than 1 %
        would be accepted (narrow peaks), inversion of the CDF instead (:meth:`sample_by_inversion`)."""
        outer, central = self._pots
        floor = min(outer.minimum(), central.minimum()) - outer.shift  # the smallest V − shift
        if self._integral * math.exp(floor) / math.gamma(1.0 + 1.0 / self.beta) < 0.01:
            return self.sample_by_inversion(rng, size)
        env = GenNorm(self.s, self.beta)
        out: list[np.ndarray] = []
        got = 0
        while got < size:
            w = env.sample(rng, max(1024, 2 * (size - got)))
            keep = w[rng.random(w.size) < np.exp(floor - self._penalty(w))]
            out.append(keep)
            got += keep.size
        return np.concatenate(out)[:size]

    @classmethod
    def fit_sample(
        cls, sample: np.ndarray, omega0: float | None, fitted: Callable[[str], tuple[Law, dict[str, Any]]]
    ) -> tuple[Law, dict[str, Any]]:
        """L-BFGS-B from the gennorm MLE on the same sample (:func:`_fit_phase`)."""
        return _fit_phase(cls, sample, float(omega0), fitted("gennorm")[0])


def _objective(cls: type[_PhaseBase], w: np.ndarray, omega0: float):
    """−ℓ/n and its gradient in x = (log s, log β, coefficients in TERMS order): an exponential family in the
    coefficients, so each of their gradient components is a data moment minus the model's moment of the feature."""
    aw = np.abs(w)
    la = np.log(aw[aw > 0])
    n = w.size
    theta = omega0 * w
    central = np.abs(theta) < 0.5 * math.pi
    s = np.sin(theta)
    values = {"f_abs": np.abs(s), "f_sin2": s * s, "f_h2": 4.0 * s * s * (1.0 - s * s)}
    data = np.array(
        [
            float(
                np.sum(values[kind][central if region == "central" else ~central if region == "outer" else slice(None)])
            )
            / n
            for _, kind, region in cls.TERMS
        ]
    )
    kinds = ("one", *dict.fromkeys(kind for _, kind, _ in cls.TERMS))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s_, beta = math.exp(x[0]), math.exp(x[1])
        coefs = x[2:]
        a = omega0 * s_
        outer, cen = cls.potentials(coefs, beta, a)
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        parts: list = []
        ints = _half_line(beta, outer, a, a, kinds, ("1", "ub", "ublog"), kappa0=cen, central=parts)
        z = float(ints[0, 0])
        if not (z > 0.0 and math.isfinite(z)):
            # the line search tried coefficients whose factor vanishes wherever the envelope has mass (e.g. every
            # peak at crests far out in the tail): an infeasible point, refused so that it backtracks
            return 1e10, np.zeros_like(x)
        c = parts[0]
        model = []
        for _, kind, region in cls.TERMS:
            k = kinds.index(kind)
            total, mid = float(ints[k, 0]), float(c[k, 0])
            model.append((mid if region == "central" else total - mid if region == "outer" else total) / z)
        f = mv + float(np.dot(coefs, data)) + math.log(2.0 * s_ * z) - outer.shift
        g = np.concatenate(
            [[beta * (float(ints[0, 1]) / z - mv), beta * (mvl - float(ints[0, 2]) / z)], data - np.array(model)]
        )
        return f, g

    return fun


def _fit_phase(cls: type[_PhaseBase], w: np.ndarray, omega0: float, gennorm: GenNorm) -> tuple[Law, dict]:
    """L-BFGS-B (exact gradient) from the gennorm MLE with every coefficient 0 and from each of the law's STARTS;
    the lowest −ℓ wins (:func:`~biper_analysis.laws.penalised.minimise_from_starts`)."""
    fun = _objective(cls, w, omega0)
    m = float(np.mean(np.abs(w)))
    bounds = [(math.log(m * 1e-3), math.log(m * 1e3)), tuple(math.log(b) for b in BETA_BOUNDS)]
    for p, _, _ in cls.TERMS:
        lo, hi, _ = cls.PARAMS[p]
        bounds.append((lo, float(np.nextafter(hi, -np.inf))))  # a parameter range's high end is open
    starts = [
        np.array([math.log(gennorm.s), math.log(gennorm.beta), *start])
        for start in ((0.0,) * len(cls.TERMS), *cls.STARTS)
    ]
    with np.errstate(over="ignore", under="ignore"):
        best, ok, iterations = minimise_from_starts(fun, starts, bounds)
    x = best.x
    law = cls(math.exp(x[0]), math.exp(x[1]), *(float(v) for v in x[2:]), omega0)
    names = ", ".join(["log s", "log beta", *(p for p, _, _ in cls.TERMS)])
    return law, {
        "n_fit": w.size,
        "converged": ok,
        "iterations": iterations,
        "method": f"L-BFGS-B on ({names}) from the gennorm MLE, {len(starts)} starts",
    }


@register
@dataclass(frozen=True)
class Harmonic(_PhaseBase):
    r"""p(w) ∝ exp(−|w/s|^β − κ(w) sin²(ω0 w) − c sin²(2ω0 w)), κ(w) = κ0 on the central half-period |ω0 w| < π/2
    and κ elsewhere; κ0, κ of either sign, c ≥ 0 (5 parameters). The log-density's first two phase harmonics
    (module docstring): c > 0 gives peaks at both the zeros and the crests of sin(ω0 w), κ their balance, κ < 0
    crest-heavy layers (weights trapped where the gradient through the sine vanishes).

    >>> p = Harmonic(0.05, 1.2, 6.0, 2.0, 3.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.058079130345', '0.161436334212')
    """

    s: float
    beta: float
    kappa0: float
    kappa: float
    c: float
    omega0: float
    name = "harmonic"
    order = 75
    style = ("C8", "-")
    version = "1"
    fittable = True
    PARAMS = {"s": POSITIVE, "beta": SHAPE, "kappa0": COEF, "kappa": COEF, "c": _H2_MAX}
    TERMS = (("kappa0", "f_sin2", "central"), ("kappa", "f_sin2", "outer"), ("c", "f_h2", "all"))
    STARTS = ((10.0, 10.0, 0.0), (0.0, 0.0, 10.0), (-5.0, -5.0, 10.0))


@register
@dataclass(frozen=True)
class Maxent(_PhaseBase):
    r"""p(w) ∝ exp(−|w/s|^β − λ(w)|sin(ω0 w)| − μ sin²(ω0 w)), λ(w) = λ0 on the central half-period and λ
    elsewhere; λ0, λ ≥ 0, μ of either sign (5 parameters). The maximum-entropy law with the envelope moment and the
    sine moments E|sin|, E sin² that QE is made of: its fit reproduces them (so its in-sample QE is the measured
    one by construction; judge it out of sample). Laplace-shaped peaks at the zeros, and at the crests when
    μ < −λ/2.

    >>> p = Maxent(0.05, 1.2, 6.0, 2.0, -3.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.487011654475', '0.578853404554')
    """

    s: float
    beta: float
    lam0: float
    lam: float
    mu: float
    omega0: float
    name = "maxent"
    order = 80
    style = ("C9", "--")
    version = "1"
    fittable = True
    PARAMS = {"s": POSITIVE, "beta": SHAPE, "lam0": COEF_POSITIVE, "lam": COEF_POSITIVE, "mu": COEF}
    TERMS = (("lam0", "f_abs", "central"), ("lam", "f_abs", "outer"), ("mu", "f_sin2", "all"))
    STARTS = ((10.0, 10.0, 0.0), (10.0, 10.0, -15.0))
