r"""N(0, σ²): pdf :math:`e^{-w^2/(2\sigma^2)}/(\sigma\sqrt{2\pi})`, φ(t) = exp(−σ²t²/2), Var = σ².

E sin²(ωw) = −expm1(−2s²)/2 with s = ωσ; E|sin(ωw)| from the exact fast path
:func:`biper_analysis.theory.spectral.gaussian_e_abs_sin`. The MLE with the mean fixed at 0 is σ̂ = sqrt(mean w²),
from :func:`biper_analysis.theory.weights.weight_stats`, on every weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import ndtr

from biper_analysis.laws.base import POSITIVE, Law, closed_form_info, register
from biper_analysis.theory.spectral import gaussian_e_abs_sin

__all__ = ["Gaussian"]


@register
@dataclass(frozen=True)
class Gaussian(Law):
    r"""N(0, σ²): φ(t) = exp(−σ²t²/2).

    >>> p = Gaussian(0.05)
    >>> f"{p.expected_sin2(20.0):.15f}", f"{p.expected_abs_sin(20.0):.15f}"
    ('0.432332358381694', '0.579153218723036')
    """

    sigma: float
    name = "gaussian"
    order = 20
    style = ("C3", "--")
    version = "1"
    fittable = True
    omega0 = None
    PARAMS = {"sigma": POSITIVE}

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

    def _moments(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = omega * self.sigma
        return -0.5 * np.expm1(-2.0 * s * s), gaussian_e_abs_sin(s)

    @classmethod
    def fit_stats(cls, stats: Any) -> tuple[Gaussian, dict[str, Any]]:
        """σ̂ = sqrt(mean w²) (:class:`biper_analysis.theory.weights.WeightStats`).

        >>> Gaussian.fit([-3.0, 4.0]).sigma == math.sqrt(12.5)
        True
        """
        sigma = math.sqrt(stats.mean_w2)
        if not sigma > 0:
            raise ValueError("every weight is 0, so no scale can be fitted; pass a layer with non-zero weights")
        return cls(sigma), closed_form_info(stats.n, "closed form sigma = sqrt(mean w^2)")

    def loglik_of_stats(self, stats: Any) -> float:
        """Σ log pdf = −n log(σ√(2π)) − Σw²/(2σ²) with Σw² = n·mean w²."""
        n = stats.n
        return -n * math.log(self.sigma * math.sqrt(2.0 * math.pi)) - 0.5 * n * (stats.mean_w2 / self.sigma**2)
