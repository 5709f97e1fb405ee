r"""Weight laws for the quantisation error: Laplace, Gaussian, Student-t and the empirical law of a sample.

Every prior has the same interface (used by :func:`biper_analysis.qe` with ``prior=``, by quadrature and Monte
Carlo): ``name``, ``scale``, ``pdf(w)``, ``sample(rng, size)``, ``characteristic_function(t)``,
``one_minus_cf(t)`` (stable for small t), ``variance()``, ``expected_sin2(omega0)``,
``expected_abs_sin(omega0)`` (vectorised over omega0, float64), ``is_symmetric`` and the classmethod
``fit(samples)`` (maximum likelihood with the location fixed at 0, as BiPer's weights are centred).

Parameterisations (all centred at 0):

* ``Laplace(b)``: pdf :math:`e^{-|w|/b}/(2b)`, b = E|w| the scale; φ(t) = 1/(1 + b²t²); Var = 2b².
* ``Gaussian(sigma)``: pdf :math:`e^{-w^2/(2\sigma^2)}/(\sigma\sqrt{2\pi})`; φ(t) = exp(−σ²t²/2); Var = σ².
* ``StudentT(df, scale)``: w = scale·T with T Student-t with ν = df degrees of freedom, pdf
  :math:`\frac{\Gamma((\nu+1)/2)}{\Gamma(\nu/2)\sqrt{\nu\pi}\,s}(1 + (w/s)^2/\nu)^{-(\nu+1)/2}`;
  φ(t) = :math:`\frac{z^{\nu/2} K_{\nu/2}(z)}{\Gamma(\nu/2)\,2^{\nu/2-1}}`, z = √ν·s·|t| (K = modified Bessel
  function of the second kind); Var = s²ν/(ν−2) for ν > 2 (∞ for 1 < ν ≤ 2, undefined — NaN — for ν ≤ 1).
* ``Empirical(weights)``: the law putting mass 1/n on each weight; its moments are sample means computed
  directly (no series), in float64 and in chunks.

Which formula gives the QE moments: Laplace delegates to the closed forms of :mod:`biper_analysis.theory.analytic`
(so ``ba.qe(ω0, prior=Laplace(b)) == ba.qe(ω0, b)`` exactly); Gaussian uses the exact fast path
:func:`biper_analysis.theory.spectral.gaussian_e_abs_sin`; Student-t the characteristic-function series of
:mod:`biper_analysis.theory.spectral`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import gammaln, kve

from biper_analysis._io import validation
from biper_analysis.theory import analytic
from biper_analysis.theory.spectral import e_abs_sin_series, gaussian_e_abs_sin
from biper_analysis.theory.weights import weight_stats

__all__ = ["Laplace", "Gaussian", "StudentT", "Empirical", "PRIOR_NAMES", "make_prior"]

#: ω0 × weights processed at once by the empirical prior (bounds its memory to ~32 MiB per array).
_EMPIRICAL_CHUNK = 1 << 22


def _positive_scalar(name: str, value: Any) -> float:
    arr = validation.positive(name, value)
    if arr.ndim:
        raise ValueError(f"{name} must be a single number, got an array of shape {arr.shape}")
    return float(arr)


def _samples(name: str, samples: Any) -> np.ndarray:
    arr = validation.as_float_array(name, samples).ravel()
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass at least one weight")
    return arr


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Laplace:
    r"""Laplace(0, b): pdf :math:`e^{-|w|/b}/(2b)`, b = E|w| (the paper's weight model).

    >>> p = Laplace(0.05)
    >>> round(p.expected_sin2(20.0), 15), f"{p.expected_abs_sin(20.0):.15f}"
    (0.4, '0.545165705363684')
    >>> round(p.variance(), 6), float(p.characteristic_function(20.0))
    (0.005, 0.5)
    """

    b: float
    name: str = field(default="laplace", init=False)
    is_symmetric: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "b", _positive_scalar("b", self.b))

    @property
    def scale(self) -> float:
        return self.b

    def pdf(self, w: Any) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        return np.exp(-np.abs(w) / self.b) / (2.0 * self.b)

    def logpdf(self, w: Any) -> np.ndarray:
        """log pdf = −|w|/b − log(2b)."""
        w = np.asarray(w, dtype=np.float64)
        return -np.abs(w) / self.b - math.log(2.0 * self.b)

    def cdf(self, w: Any) -> np.ndarray:
        """F(w) = ½e^{w/b} for w < 0 and 1 − ½e^{−w/b} for w ≥ 0 (each tail without cancellation; monotone).

        >>> float(Laplace(0.5).cdf(-1.0)) == 0.5 * math.exp(-2.0)
        True
        """
        w = np.asarray(w, dtype=np.float64)
        half = 0.5 * np.exp(-np.abs(w) / self.b)
        return np.where(w < 0, half, 1.0 - half)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.laplace(0.0, self.b, size=size).astype(np.float64, copy=False)

    def characteristic_function(self, t: Any) -> np.ndarray:
        u = self.b * np.asarray(t, dtype=np.float64)
        return 1.0 / (1.0 + u * u)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = u²/(1+u²), u = b t (no cancellation at small t)."""
        u2 = (self.b * np.asarray(t, dtype=np.float64)) ** 2
        return u2 / (1.0 + u2)

    def variance(self) -> float:
        return 2.0 * self.b * self.b

    def expected_sin2(self, omega0: Any) -> float | np.ndarray:
        return analytic.expected_sin2(omega0, self.b)

    def expected_abs_sin(self, omega0: Any) -> float | np.ndarray:
        return analytic.expected_abs_sin(omega0, self.b)

    @classmethod
    def fit(cls, samples: Any) -> Laplace:
        """MLE of b with the location fixed at 0: b̂ = mean|w| (unbiased), from
        :func:`biper_analysis.theory.weights.weight_stats`.

        >>> round(Laplace.fit([-0.1, 0.3, 0.2]).b, 15)
        0.2
        """
        return cls(weight_stats(_samples("samples", samples)).b)


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Gaussian:
    r"""N(0, σ²): φ(t) = exp(−σ²t²/2).

    E sin²(ω w) = −expm1(−2s²)/2 with s = ωσ; E|sin| from :func:`biper_analysis.theory.spectral.gaussian_e_abs_sin`.

    >>> p = Gaussian(0.05)
    >>> f"{p.expected_sin2(20.0):.15f}", f"{p.expected_abs_sin(20.0):.15f}"
    ('0.432332358381694', '0.579153218723036')
    """

    sigma: float
    name: str = field(default="gaussian", init=False)
    is_symmetric: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sigma", _positive_scalar("sigma", self.sigma))

    @property
    def scale(self) -> float:
        return self.sigma

    def pdf(self, w: Any) -> np.ndarray:
        z = np.asarray(w, dtype=np.float64) / self.sigma
        return np.exp(-0.5 * z * z) / (self.sigma * math.sqrt(2.0 * math.pi))

    def logpdf(self, w: Any) -> np.ndarray:
        """log pdf = −w²/(2σ²) − log(σ√(2π))."""
        z = np.asarray(w, dtype=np.float64) / self.sigma
        return -0.5 * z * z - math.log(self.sigma * math.sqrt(2.0 * math.pi))

    def cdf(self, w: Any) -> np.ndarray:
        """F(w) = Φ(w/σ) (scipy.special.ndtr: accurate in both tails).

        >>> f"{float(Gaussian(2.0).cdf(-2.0)):.12f}"
        '0.158655253931'
        """
        from scipy.special import ndtr

        return ndtr(np.asarray(w, dtype=np.float64) / self.sigma)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.normal(0.0, self.sigma, size=size).astype(np.float64, copy=False)

    def characteristic_function(self, t: Any) -> np.ndarray:
        u = self.sigma * np.asarray(t, dtype=np.float64)
        return np.exp(-0.5 * u * u)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = −expm1(−σ²t²/2)."""
        u = self.sigma * np.asarray(t, dtype=np.float64)
        return -np.expm1(-0.5 * u * u)

    def variance(self) -> float:
        return self.sigma * self.sigma

    def expected_sin2(self, omega0: Any) -> float | np.ndarray:
        s = validation.positive("omega0", omega0) * self.sigma
        return validation.scalar_or_array(-0.5 * np.expm1(-2.0 * s * s), omega0)

    def expected_abs_sin(self, omega0: Any) -> float | np.ndarray:
        s = validation.positive("omega0", omega0) * self.sigma
        return validation.scalar_or_array(gaussian_e_abs_sin(s), omega0)

    @classmethod
    def fit(cls, samples: Any) -> Gaussian:
        """MLE of σ with the mean fixed at 0: σ̂ = sqrt(mean w²).

        >>> Gaussian.fit([-3.0, 4.0]).sigma == math.sqrt(12.5)
        True
        """
        return cls(math.sqrt(weight_stats(_samples("samples", samples)).mean_w2))


# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StudentT:
    r"""scale × Student-t(ν = df), centred: heavier tails than Laplace for small df, → Gaussian as df → ∞.

    φ(t) = z^{ν/2} K_{ν/2}(z) / (Γ(ν/2) 2^{ν/2−1}), z = √ν·scale·|t|, evaluated in logs with the scaled
    Bessel function kve. ``one_minus_cf`` switches, where φ > 0.5, to the Gaussian scale-mixture form
    1 − φ(t) = E[−expm1(−a/G)], a = (scale·t)²/2, G ~ Gamma(ν/2, rate ν/2) (w = scale·Z/√G), integrated by
    the trapezoidal rule in log G (exponentially convergent; no cancellation).

    >>> p = StudentT(df=4, scale=0.03)
    >>> f"{float(p.characteristic_function(10.0)):.14f}"
    '0.92165494040095'
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.variance():.6f}"
    ('0.298417221672', '0.001800')
    """

    df: float
    scale: float
    name: str = field(default="student-t", init=False)
    is_symmetric: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "df", _positive_scalar("df", self.df))
        object.__setattr__(self, "scale", _positive_scalar("scale", self.scale))

    def pdf(self, w: Any) -> np.ndarray:

        nu, s = self.df, self.scale
        z = np.asarray(w, dtype=np.float64) / s
        logc = gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * math.log(nu * math.pi) - math.log(s)
        return np.exp(logc - 0.5 * (nu + 1) * np.log1p(z * z / nu))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.scale * rng.standard_t(self.df, size=size).astype(np.float64, copy=False)

    def characteristic_function(self, t: Any) -> np.ndarray:

        mu = 0.5 * self.df
        z = math.sqrt(self.df) * self.scale * np.abs(np.asarray(t, dtype=np.float64))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            log_phi = (mu * np.log(z) + np.log(kve(mu, z)) - z - gammaln(mu) - (mu - 1.0) * math.log(2.0))
            phi = np.exp(np.minimum(log_phi, 0.0))
        out = np.where(z < 1e-300, 1.0, phi)
        # K_μ overflows/underflows for large df (μ ≳ 350) or extreme z: there the Gaussian scale mixture is exact.
        bad = ~np.isfinite(log_phi) & (z >= 1e-300)
        if np.any(bad):
            t_abs = np.abs(np.broadcast_to(np.asarray(t, dtype=np.float64), z.shape))
            out = np.array(out, dtype=np.float64, copy=True)
            out[bad] = 1.0 - self._one_minus_cf_mixture(t_abs[bad])
        return out

    def _one_minus_cf_mixture(self, t: np.ndarray) -> np.ndarray:
        """1 − φ(t) = E[−expm1(−a/G)], a = (s t)²/2, G ~ Gamma(μ, rate μ), μ = ν/2 (trapezoid in y = log G)."""

        mu = 0.5 * self.df
        a = 0.5 * (self.scale * t) ** 2
        if a.size == 0:
            return a
        # log density of y = log G: μ log μ + μ y − μ e^y − lnΓ(μ); range where it exceeds e^-45 of its peak
        # plus the transition of −expm1(−a e^{−y}) at y ≈ log a.
        h = min(0.15, 0.6 / math.sqrt(mu))  # error ~ (cos θ)^-μ e^{-2πθ/h}, θ optimal
        lo = min(float(np.log(a.min())), 0.0) - 45.0 / mu - 5.0
        hi = math.log(max(1.0, (60.0 + mu * math.log(max(mu, 1.0))) / mu)) + 2.0
        y = np.arange(lo, hi + h, h)
        logf = mu * math.log(mu) + mu * y - mu * np.exp(y) - gammaln(mu)
        wts = np.exp(logf)
        wts /= wts.sum()  # the exact mass is 1; normalising removes the lnΓ rounding
        out = np.empty_like(a)
        flat_a, flat_out = a.ravel(), out.ravel()
        step = max(1, (1 << 21) // y.size)
        for i in range(0, flat_a.size, step):
            blk = flat_a[i:i + step, None]
            flat_out[i:i + step] = np.sum(-np.expm1(-blk * np.exp(-y)[None, :]) * wts[None, :], axis=1)
        return flat_out.reshape(a.shape)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t): 1 − Bessel form where φ ≤ 0.5, the cancellation-free mixture integral elsewhere."""
        t = np.abs(np.asarray(t, dtype=np.float64))
        phi = np.asarray(self.characteristic_function(t), dtype=np.float64)
        out = 1.0 - phi
        near = phi > 0.5
        if np.any(near):
            out = np.array(out, dtype=np.float64)
            out[near] = self._one_minus_cf_mixture(t[near])
        return out

    def variance(self) -> float:
        nu = self.df
        if nu > 2:
            return self.scale ** 2 * nu / (nu - 2.0)
        return math.inf if nu > 1 else math.nan

    def expected_sin2(self, omega0: Any) -> float | np.ndarray:
        omega = validation.positive("omega0", omega0)
        return validation.scalar_or_array(0.5 * self.one_minus_cf(2.0 * omega), omega0)

    def expected_abs_sin(self, omega0: Any) -> float | np.ndarray:
        omega = validation.positive("omega0", omega0)
        return validation.scalar_or_array(e_abs_sin_series(self.one_minus_cf, self.characteristic_function, omega),
                                 omega0)

    @classmethod
    def fit(cls, samples: Any) -> StudentT:
        """MLE of (df, scale) with the location fixed at 0 (scipy.stats.t.fit with floc=0)."""
        w = _samples("samples", samples)
        if w.size < 3:
            raise ValueError(f"StudentT.fit needs at least 3 samples, got {w.size}")
        df, _, scale = stats.t.fit(w, floc=0.0)
        return cls(float(df), float(scale))


# ---------------------------------------------------------------------------------------------------------
class Empirical:
    r"""The empirical law of a sample (e.g. one layer's weights): moments are sample means, computed directly.

    E sin²(ω w) ≈ mean sin²(ω w_i) and E|sin(ω w)| ≈ mean |sin(ω w_i)|: the measured statistics of
    :func:`biper_analysis.theory.weights.weight_stats`, one call per ω. The law is not assumed symmetric:
    ``characteristic_function`` returns the complex mean of exp(i t w). ``scale`` is mean|w| (the Laplace MLE
    of the sample).

    >>> p = Empirical([-0.1, 0.05, 0.1])
    >>> f"{p.expected_abs_sin(10.0):.12f}", f"{p.scale:.6f}"
    ('0.720789169407', '0.083333')
    """

    name = "empirical"
    is_symmetric = False
    omega0 = None

    def __init__(self, weights: Any) -> None:
        self.weights = _samples("weights", weights)
        self.weights.setflags(write=False)
        self.scale = weight_stats(self.weights).b

    def __repr__(self) -> str:
        return f"Empirical(n={self.weights.size}, scale={self.scale:.6g})"

    def pdf(self, w: Any) -> np.ndarray:
        raise TypeError("Empirical prior has no pdf (it is a finite sample); use expected_sin2/expected_abs_sin "
                        "(sample means) or sample(), or fit a law with ba.fit_law(weights, ...)")

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Bootstrap: ``size`` draws with replacement from the weights."""
        return rng.choice(self.weights, size=size, replace=True)

    def _sine_moment(self, field_name: str, omega0: Any) -> float | np.ndarray:
        omega = validation.positive("omega0", omega0)
        values = [getattr(weight_stats(self.weights, float(om)), field_name) for om in omega.ravel()]
        return validation.scalar_or_array(np.array(values).reshape(omega.shape), omega0)

    def _mean_over_weights(self, fn: Any, t: np.ndarray) -> np.ndarray:
        """mean_i fn(t·w_i) for every t, chunked over the weights (at most ~4M values held at once)."""
        flat = t.ravel()
        w = self.weights
        per = max(1, _EMPIRICAL_CHUNK // max(1, flat.size))
        total = np.zeros(flat.shape, dtype=complex)
        for i in range(0, w.size, per):
            total = total + np.sum(fn(flat[:, None] * w[None, i:i + per]), axis=1)
        return (total / w.size).reshape(t.shape)

    def characteristic_function(self, t: Any) -> np.ndarray:
        t = validation.as_float_array("t", t)
        return self._mean_over_weights(lambda u: np.exp(1j * u), t)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = mean(2 sin²(t w/2)) − i mean(sin(t w)) (real part without cancellation)."""
        t = validation.as_float_array("t", t)
        return self._mean_over_weights(lambda u: 2.0 * np.sin(0.5 * u) ** 2 - 1j * np.sin(u), t)

    def variance(self) -> float:
        return float(np.var(self.weights))

    def expected_sin2(self, omega0: Any) -> float | np.ndarray:
        return self._sine_moment("e_sin2", omega0)

    def expected_abs_sin(self, omega0: Any) -> float | np.ndarray:
        return self._sine_moment("e_abs_sin", omega0)

    @classmethod
    def fit(cls, samples: Any) -> Empirical:
        """The empirical law is its own MLE (the nonparametric MLE of a distribution)."""
        return cls(samples)


PRIOR_NAMES = ("laplace", "gaussian", "student-t")


def make_prior(name: str, scale: float, df: float | None = None) -> Laplace | Gaussian | StudentT:
    """Build a prior by name: "laplace" (scale = b), "gaussian" (scale = σ), "student-t" (scale, df required).

    >>> make_prior("student-t", 0.03, df=4)
    StudentT(df=4.0, scale=0.03, name='student-t', is_symmetric=True)
    """
    key = str(name).strip().lower().replace("_", "-")
    if key in {"studentt", "t", "student"}:
        key = "student-t"
    if key == "laplace":
        return Laplace(scale)
    if key == "gaussian" or key == "normal":
        return Gaussian(scale)
    if key == "student-t":
        if df is None:
            raise ValueError("the student-t prior needs df (degrees of freedom > 0), e.g. df=4")
        return StudentT(df, scale)
    raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES)}")
