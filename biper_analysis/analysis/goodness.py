r"""Per-layer fits of latent weights with a free location: Laplace MLE with CI, Gaussian, KS distances, AIC.

numpy and scipy only. Parameterisation: Laplace(loc, b) has pdf exp(−|w − loc|/b)/(2b), ``b`` the scale;
Gaussian(μ, σ) the usual one. These free-location fits are the "does the shape fit at all" diagnostics of
the report; the laws the closed form uses have their location at 0 (:mod:`biper_analysis.laws.priors`,
:mod:`biper_analysis.laws`), and b = mean|w| comes from :func:`biper_analysis.theory.weights.weight_stats`.

Speed: each layer is sorted once (in its own dtype, float32 for checkpoints) and the sorted array is reused
for the median and for every KS distance; float64 is used for the sums and the CDFs, where it matters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import gammaincinv, ndtr, ndtri

__all__ = [
    "CI_LEVEL",
    "KS_ALPHA",
    "LayerFit",
    "sorted_finite",
    "sorted_median",
    "laplace_scale_ci",
    "ks_distance_sorted",
    "ks_critical",
    "ks_laplace_sorted",
    "ks_gaussian_sorted",
    "fit_layer",
]

#: Two-sided 95 % level of the confidence interval on b.
CI_LEVEL = 0.95
#: Significance level of the KS misfit flag (its critical distance is ≈ 1.949/√n).
KS_ALPHA = 0.001
_CHUNK = 1 << 20  # elements per block of the streamed float64 passes (bounds temporary memory)


@dataclass(frozen=True)
class LayerFit:
    """Everything :func:`fit_layer` measures on one layer's finite weights."""

    n: int  # finite weights analysed
    loc: float  # Laplace location MLE (median)
    b: float  # Laplace scale MLE with free location, mean|w − median|
    b_ci: tuple[float, float]  # 95 % CI on b (Gamma pivot, see laplace_scale_ci)
    gaussian_mu: float
    gaussian_sigma: float  # Gaussian MLE (divides by n)
    ks_laplace_freeloc: float  # KS distance between the data and the fitted Laplace(loc, b)
    ks_gaussian: float  # KS distance to the fitted Gaussian(μ, σ)
    aic_laplace: float
    aic_gaussian: float
    delta_aic: float  # aic_laplace − aic_gaussian: negative favours Laplace

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["b_ci"] = list(self.b_ci)
        return d


# ---------------------------------------------------------------------------------------------------
# Laplace and Gaussian fits
# ---------------------------------------------------------------------------------------------------
def sorted_median(s: np.ndarray) -> float:
    """Median of an already sorted 1-D array (the mean of the two middle values when n is even).

    >>> sorted_median(np.array([1.0, 2.0, 4.0, 7.0]))
    3.0
    """
    n = s.size
    if n == 0:
        raise ValueError("cannot take the median of an empty layer")
    return 0.5 * (float(s[(n - 1) // 2]) + float(s[n // 2]))


def _seg_sums(s: np.ndarray, p: int, q: int, c: float) -> tuple[float, float]:
    """(Σ(s_i − c), Σ(s_i − c)²) over s[p:q] in float64 blocks."""
    t1 = t2 = 0.0
    for i in range(p, q, _CHUNK):
        d = s[i : min(i + _CHUNK, q)].astype(np.float64)
        d -= c
        t1 += float(d.sum())
        d *= d
        t2 += float(d.sum())  # not np.dot: BLAS threads are slow on a busy machine
    return t1, t2


def laplace_scale_ci(b: float, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    r"""Confidence interval on the Laplace scale from the exact pivot for known location.

    With loc known, |w − loc|/b ~ Exp(1), so n·b̂/b ~ Gamma(n, 1) and
    [n b̂ / G⁻¹(1 − α/2), n b̂ / G⁻¹(α/2)] covers b with probability ``level``. With the location
    estimated by the median the interval is asymptotically the same (SE ≈ b/√n).

    >>> lo, hi = laplace_scale_ci(1.0, 10000)
    >>> f"{lo:.4f} {hi:.4f}"
    '0.9807 1.0199'
    """
    if n <= 0 or not math.isfinite(b):
        return (math.nan, math.nan)
    a = (1.0 - level) / 2.0
    if n < 10_000:
        return (n * b / float(gammaincinv(n, 1.0 - a)), n * b / float(gammaincinv(n, a)))
    # Wilson–Hilferty: G⁻¹(p) ≈ n(1 − 1/(9n) + z_p/√(9n))³, relative error < 1e-9 here and far cheaper
    z = float(ndtri(1.0 - a))
    hi_q = n * (1.0 - 1.0 / (9 * n) + z / math.sqrt(9 * n)) ** 3
    lo_q = n * (1.0 - 1.0 / (9 * n) - z / math.sqrt(9 * n)) ** 3
    return (n * b / hi_q, n * b / lo_q)


# ---------------------------------------------------------------------------------------------------
# Kolmogorov–Smirnov distances on a sorted sample (vectorised, one sort shared by both laws)
# ---------------------------------------------------------------------------------------------------
def _ks_full(
    s: np.ndarray,
    cdf: Callable[[np.ndarray], np.ndarray],
    start: int = 0,
    stop: int | None = None,
    n: int | None = None,
) -> float:
    """n·D over s[start:stop] (indices relative to the whole sorted sample of size n), float64 blocks."""
    n = s.size if n is None else n
    stop = s.size if stop is None else stop
    d = 0.0
    for i in range(start, stop, _CHUNK):
        block = s[i : min(i + _CHUNK, stop)].astype(np.float64)
        f = cdf(block)
        f *= n  # compare n·F with integers: one multiply instead of two divides
        k = np.arange(i, i + block.size, dtype=np.float64)
        d = max(d, float(np.max(k + 1.0 - f)), float(np.max(f - k)))
    return d


def ks_distance_sorted(s: np.ndarray, cdf: Callable[[np.ndarray], np.ndarray], step: int = 64) -> float:
    r"""D = max_i max((i+1)/n − F(s_i), F(s_i) − i/n) for sorted s (0-based i), exact, mostly without evaluating F.

    Branch and bound: F is evaluated at the first and last element of blocks of ``step`` consecutive sorted
    values. Inside a block [a, e], F(s_i) ∈ [F(s_a), F(s_e)] (F is monotone), so the block cannot exceed
    max((e+1)/n − F(s_a), F(s_e) − a/n). Only blocks whose bound beats the best exact value at the block
    ends are evaluated in full — for large n that is a handful, so the CDF is computed on ~2n/step points.
    The result is the same maximum as the full evaluation.
    """
    n = s.size
    if n <= 16 * step:
        return _ks_full(s, cdf) / n
    a = np.arange(0, n, step)
    e = np.minimum(a + step, n) - 1
    fa = cdf(s[a].astype(np.float64)) * n
    fe = cdf(s[e].astype(np.float64)) * n
    af, ef = a.astype(np.float64), e.astype(np.float64)
    best = max(
        float(np.max(af + 1.0 - fa)), float(np.max(fa - af)), float(np.max(ef + 1.0 - fe)), float(np.max(fe - ef))
    )
    bound = np.maximum(ef + 1.0 - fa, fe - af)
    todo = np.flatnonzero(bound > best)
    if todo.size > a.size // 4:  # bounds too loose (tiny n or a wild fit): evaluate everything
        return _ks_full(s, cdf) / n
    for k in todo:
        best = max(best, _ks_full(s, cdf, int(a[k]), int(e[k]) + 1, n))
    return best / n


def ks_laplace_sorted(s: np.ndarray, loc: float, b: float) -> float:
    r"""KS distance sup|F_n − F| between sorted data and Laplace(loc, b).

    F(w) = ½·e^{(w−loc)/b} below loc, 1 − ½·e^{−(w−loc)/b} above; matches ``scipy.stats.kstest``'s statistic.

    >>> round(ks_laplace_sorted(np.array([0.0]), 0.0, 1.0), 12)
    0.5
    """
    if b <= 0:
        return 1.0

    def cdf(x: np.ndarray) -> np.ndarray:
        z = (x - loc) / b
        e = 0.5 * np.exp(-np.abs(z))
        return np.where(z < 0, e, 1.0 - e)

    return ks_distance_sorted(s, cdf)


def ks_gaussian_sorted(s: np.ndarray, mu: float, sigma: float) -> float:
    """KS distance between sorted data and N(mu, sigma²) (CDF via scipy.special.ndtr).

    >>> round(ks_gaussian_sorted(np.array([0.0]), 0.0, 1.0), 12)
    0.5
    """
    if sigma <= 0:
        return 1.0
    return ks_distance_sorted(s, lambda x: ndtr((x - mu) / sigma))


def ks_critical(n: int, alpha: float = KS_ALPHA) -> float:
    r"""Asymptotic critical KS distance at level α for a fully specified law: :math:`\sqrt{-\ln(α/2)/2}/\sqrt{n}`.

    With parameters estimated from the same data the test is conservative (Lilliefors); a distance above this
    still means the law does not describe the sample.

    >>> round(ks_critical(10000), 5)
    0.01949
    """
    return math.sqrt(-math.log(alpha / 2.0) / 2.0) / math.sqrt(n) if n > 0 else math.nan


def sorted_finite(w: Any) -> tuple[np.ndarray, int]:
    """The finite weights sorted (in their own float dtype; half precision widened) and the count left out.

    >>> s, bad = sorted_finite([2.0, float("nan"), -1.0, float("inf")])
    >>> s.tolist(), bad
    ([-1.0, 2.0], 2)
    """
    flat = np.ravel(np.asarray(w))
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    if flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)
    s = np.sort(flat)  # NaN sort to the end; ±inf to the ends
    typ = s.dtype.type  # search with the array's own scalar type: a Python float would upcast the whole array
    lo = int(np.searchsorted(s, typ(-np.inf), side="right"))  # leading -infs
    finite_end = int(np.searchsorted(s, typ(np.inf), side="left")) if s.size else 0
    return s[lo:finite_end], s.size - (finite_end - lo)


# ---------------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------------
def fit_layer(s: np.ndarray) -> LayerFit:
    r"""Fit Laplace and Gaussian, each with a free location, to one layer's *sorted finite* weights.

    AIC = 2k − 2ℓ with k = 2 for both laws, so delta_aic = −2(ℓ_Laplace − ℓ_Gaussian) (negative favours
    Laplace). One float64 pass over d = s − median, split at the median (s is sorted), gives both fits.

    >>> rng = np.random.default_rng(0)
    >>> fit = fit_layer(np.sort(rng.laplace(0.0, 0.05, 200_000)))
    >>> abs(fit.b / 0.05 - 1) < 0.01, fit.delta_aic < 0
    (True, True)
    """
    n = s.size
    if n == 0:
        raise ValueError("cannot fit a layer with no finite weights")
    loc = sorted_median(s)
    k_loc = int(np.searchsorted(s, s.dtype.type(loc), side="left"))
    below, above = _seg_sums(s, 0, k_loc, loc), _seg_sums(s, k_loc, n, loc)
    b = (above[0] - below[0]) / n
    loglik_laplace = -n * math.log(2.0 * b) - n if b > 0 else math.inf
    mu = loc + (below[0] + above[0]) / n
    sigma = math.sqrt(max((below[1] + above[1]) / n - (mu - loc) ** 2, 0.0))
    loglik_gauss = -0.5 * n * math.log(2.0 * math.pi * sigma * sigma) - 0.5 * n if sigma > 0 else math.inf
    aic_l, aic_g = 4.0 - 2.0 * loglik_laplace, 4.0 - 2.0 * loglik_gauss
    return LayerFit(
        n=n,
        loc=loc,
        b=b,
        b_ci=laplace_scale_ci(b, n),
        gaussian_mu=mu,
        gaussian_sigma=sigma,
        ks_laplace_freeloc=ks_laplace_sorted(s, loc, b),
        ks_gaussian=ks_gaussian_sorted(s, mu, sigma),
        aic_laplace=aic_l,
        aic_gaussian=aic_g,
        delta_aic=aic_l - aic_g,
    )
