r"""scale × Student-t(ν = df), centred: a prior with heavier tails than Laplace for small df (→ Gaussian as df → ∞).

w = scale·T with T Student-t with ν = df degrees of freedom, pdf
:math:`\frac{\Gamma((\nu+1)/2)}{\Gamma(\nu/2)\sqrt{\nu\pi}\,s}(1 + (w/s)^2/\nu)^{-(\nu+1)/2}`;
φ(t) = :math:`\frac{z^{\nu/2} K_{\nu/2}(z)}{\Gamma(\nu/2)\,2^{\nu/2-1}}`, z = √ν·s·|t| (K = modified Bessel
function of the second kind); Var = s²ν/(ν−2) for ν > 2 (∞ for 1 < ν ≤ 2, undefined — NaN — for ν ≤ 1). The sine
moments come from the characteristic-function series of :mod:`biper_analysis.theory.spectral`.

A prior (``qe --prior student-t``), not offered to ``fit-b``: :meth:`StudentT.fit` is scipy's MLE on all weights.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.special import gammaln, kve, stdtr

from biper_analysis._io import validation
from biper_analysis.laws.base import POSITIVE, Law, register
from biper_analysis.theory.spectral import e_abs_sin_series

__all__ = ["StudentT"]


@register
@dataclass(frozen=True)
class StudentT(Law):
    r"""scale × Student-t(ν = df), centred.

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
    name = "student-t"
    order = 80
    style = ("C8", "--")
    version = "1"
    fittable = False
    omega0 = None
    PARAMS = {"df": POSITIVE, "scale": POSITIVE}

    def logpdf(self, w: Any) -> np.ndarray:
        nu, s = self.df, self.scale
        z = np.asarray(w, dtype=np.float64) / s
        logc = gammaln(0.5 * (nu + 1)) - gammaln(0.5 * nu) - 0.5 * math.log(nu * math.pi) - math.log(s)
        return logc - 0.5 * (nu + 1) * np.log1p(z * z / nu)

    def cdf(self, w: Any) -> np.ndarray:
        """F(w) = T_ν(w/s) (scipy.special.stdtr)."""
        return stdtr(self.df, np.asarray(w, dtype=np.float64) / self.scale)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self.scale * rng.standard_t(self.df, size=size).astype(np.float64, copy=False)

    def characteristic_function(self, t: Any) -> np.ndarray:
        mu = 0.5 * self.df
        z = math.sqrt(self.df) * self.scale * np.abs(np.asarray(t, dtype=np.float64))
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            log_phi = mu * np.log(z) + np.log(kve(mu, z)) - z - gammaln(mu) - (mu - 1.0) * math.log(2.0)
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
            blk = flat_a[i : i + step, None]
            flat_out[i : i + step] = np.sum(-np.expm1(-blk * np.exp(-y)[None, :]) * wts[None, :], axis=1)
        return flat_out.reshape(a.shape)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t): 1 − Bessel form where φ ≤ 0.5, the cancellation-free mixture integral elsewhere."""
        t = np.abs(np.asarray(t, dtype=np.float64))
        phi = np.asarray(self.characteristic_function(t), dtype=np.float64)
        out = 1.0 - phi
        near = (phi > 0.5) & (t > 0)  # at t = 0, 1 − φ = 0 exactly
        if np.any(near):
            out = np.array(out, dtype=np.float64)
            out[near] = self._one_minus_cf_mixture(t[near])
        return out

    def variance(self) -> float:
        nu = self.df
        if nu > 2:
            return self.scale**2 * nu / (nu - 2.0)
        return math.inf if nu > 1 else math.nan

    def _moments(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return 0.5 * self.one_minus_cf(2.0 * omega), e_abs_sin_series(
            self.one_minus_cf, self.characteristic_function, omega
        )

    @classmethod
    def fit(cls, samples: Any, omega0: float | None = None) -> StudentT:
        """MLE of (df, scale) with the location fixed at 0 (scipy.stats.t.fit with floc=0), on every sample."""
        w = validation.as_float_array("samples", samples).ravel()
        if w.size < 3:
            raise ValueError(f"StudentT.fit needs at least 3 samples, got {w.size}")
        df, _, scale = stats.t.fit(w, floc=0.0)
        return cls(float(df), float(scale))
