r"""The empirical law of a sample (e.g. one layer's weights): a prior whose moments are sample means.

It puts mass 1/n on each weight; E sin²(ωw) and E|sin(ωw)| are the measured statistics of
:func:`biper_analysis.theory.weights.weight_stats` (float64, in chunks; no series). Not offered to ``fit-b``: the
empirical law is its own (nonparametric) MLE, and it has no parameters to save in a law file.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from biper_analysis._io import validation
from biper_analysis.laws.base import Law, register
from biper_analysis.theory.weights import weight_stats

__all__ = ["Empirical"]

#: ω0 × weights processed at once by the characteristic function (bounds its memory to ~32 MiB per array).
_EMPIRICAL_CHUNK = 1 << 22


@register
class Empirical(Law):
    r"""The empirical law of a sample: moments are sample means, computed directly.

    E sin²(ω w) ≈ mean sin²(ω w_i) and E|sin(ω w)| ≈ mean |sin(ω w_i)|: the measured statistics of
    :func:`biper_analysis.theory.weights.weight_stats`, one call per ω. The law is not assumed symmetric:
    ``characteristic_function`` returns the complex mean of exp(i t w). ``scale`` is mean|w| (the Laplace MLE
    of the sample).

    >>> p = Empirical([-0.1, 0.05, 0.1])
    >>> f"{p.expected_abs_sin(10.0):.12f}", f"{p.scale:.6f}"
    ('0.720789169407', '0.083333')
    """

    name = "empirical"
    order = 90
    style = ("C9", ":")
    version = "1"
    fittable = False
    is_symmetric = False
    omega0 = None

    def __init__(self, weights: Any) -> None:
        arr = validation.as_float_array("weights", weights).ravel()
        if arr.size == 0:
            raise ValueError("weights is empty; pass at least one weight")
        self.weights = arr
        self.weights.setflags(write=False)
        self.scale = weight_stats(self.weights).b

    def __repr__(self) -> str:
        return f"Empirical(n={self.weights.size}, scale={self.scale:.6g})"

    def pdf(self, w: Any) -> np.ndarray:
        raise TypeError(
            "Empirical prior has no pdf (it is a finite sample); use expected_sin2/expected_abs_sin "
            "(sample means) or sample(), or fit a law with ba.fit_law(weights, ...)"
        )

    def logpdf(self, w: Any) -> np.ndarray:
        return self.pdf(w)

    def cdf(self, w: Any) -> np.ndarray:
        """F(w) = fraction of the weights ≤ w."""
        srt = np.sort(self.weights)
        return np.searchsorted(srt, np.asarray(w, dtype=np.float64), side="right") / srt.size

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Bootstrap: ``size`` draws with replacement from the weights."""
        return rng.choice(self.weights, size=size, replace=True)

    def _moments(self, omega: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stats = [weight_stats(self.weights, float(om)) for om in omega.ravel()]
        return (
            np.array([s.e_sin2 for s in stats]).reshape(omega.shape),
            np.array([s.e_abs_sin for s in stats]).reshape(omega.shape),
        )

    def _mean_over_weights(self, fn: Any, t: np.ndarray) -> np.ndarray:
        """mean_i fn(t·w_i) for every t, chunked over the weights (at most ~4M values held at once)."""
        flat = t.ravel()
        w = self.weights
        per = max(1, _EMPIRICAL_CHUNK // max(1, flat.size))
        total = np.zeros(flat.shape, dtype=complex)
        for i in range(0, w.size, per):
            total = total + np.sum(fn(flat[:, None] * w[None, i : i + per]), axis=1)
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

    def to_dict(self) -> dict[str, Any]:
        raise TypeError(
            "the empirical law is a sample, not parameters; save the weights themselves, or fit a law "
            "(ba.fit_law) and save that"
        )

    @classmethod
    def from_params(cls, params: dict[str, Any], omega0: Any = None) -> Empirical:
        raise ValueError(
            "the empirical law cannot be rebuilt from parameters (it is a sample); load the weights "
            "and pass them to Empirical(weights)"
        )

    @classmethod
    def fit(cls, samples: Any, omega0: float | None = None) -> Empirical:
        """The empirical law is its own MLE (the nonparametric MLE of a distribution)."""
        return cls(samples)
