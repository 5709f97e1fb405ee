r"""Laplace(0, b): the paper's weight model (BiPer, CVPR 2024, arXiv:2404.01278, Sec. 3) and its closed form.

pdf :math:`e^{-|w|/b}/(2b)`, b = E|w| the scale; φ(t) = 1/(1 + b²t²); Var = 2b². The sine moments delegate to
the closed forms of :mod:`biper_analysis.theory.analytic`, so ``ba.qe(ω0, prior=Laplace(b)) == ba.qe(ω0, b)``
exactly. The MLE with the location fixed at 0 is b̂ = mean|w| (unbiased), from
:func:`biper_analysis.theory.weights.weight_stats`, on every weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from biper_analysis.laws.base import POSITIVE, Law, closed_form_info, register
from biper_analysis.theory import analytic

__all__ = ["Laplace"]


@register
@dataclass(frozen=True)
class Laplace(Law):
    r"""Laplace(0, b): pdf :math:`e^{-|w|/b}/(2b)`, b = E|w| (the paper's weight model).

    >>> p = Laplace(0.05)
    >>> round(p.expected_sin2(20.0), 15), f"{p.expected_abs_sin(20.0):.15f}"
    (0.4, '0.545165705363684')
    >>> round(p.variance(), 6), float(p.characteristic_function(20.0)), p.params, p.n_params
    (0.005, 0.5, {'b': 0.05}, 1)
    """

    b: float
    name = "laplace"
    order = 10
    style = ("C0", "-")
    version = "1"
    fittable = True
    omega0 = None
    PARAMS = {"b": POSITIVE}

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

    def _moments(self, omega: np.ndarray) -> tuple[Any, Any]:
        # a scalar ω goes to analytic as a float: its scalar path, so that the moments equal analytic's exactly
        om = float(omega) if omega.ndim == 0 else omega
        return analytic.expected_sin2(om, self.b), analytic.expected_abs_sin(om, self.b)

    @classmethod
    def fit_stats(cls, stats: Any) -> tuple[Laplace, dict[str, Any]]:
        """b̂ = mean|w| (:class:`biper_analysis.theory.weights.WeightStats`).

        >>> round(Laplace.fit([-0.1, 0.3, 0.2]).b, 15)
        0.2
        """
        if not stats.b > 0:
            raise ValueError("every weight is 0, so no scale can be fitted; pass a layer with non-zero weights")
        return cls(stats.b), closed_form_info(stats.n, "closed form b = mean|w|")

    def loglik_of_stats(self, stats: Any) -> float:
        """Σ log pdf = −n log(2b) − Σ|w|/b with Σ|w| = n·mean|w| (−n log(2b) − n at the MLE)."""
        n = stats.n
        return -n * math.log(2.0 * self.b) - n * (stats.b / self.b)

    def _qe_se_closed_form(self, omega0: float, gamma: float | None, n: int) -> float:
        """SE(b̂) = b/√n (mean|w| of n weights), so SE(QE) = |dQE/db|·b/√n = |ω0·dQE/dω0|/√n."""
        return abs(omega0 * float(analytic.dqe_domega0(omega0, self.b, gamma))) / math.sqrt(n)
