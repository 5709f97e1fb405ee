r"""Per-layer fits of latent weights: Laplace MLE with CI, Gaussian alternative, KS distance, AIC, phase view.

No torch here: everything works on numpy arrays (DESIGN.md, "fitting imports no torch").

Parameterisation (BIPER.md): Laplace(loc, b) has pdf exp(-|w - loc|/b)/(2b), ``b`` the scale; Gaussian(mu,
sigma) the usual one. ω0 is an angular frequency, so the phase of a weight is ω0·w mod π (sin² and |sin| have
period π, and sin(ω0 w) = 0 exactly at phase 0).

Speed: each layer is sorted once (in its own dtype, float32 for checkpoints) and the sorted array is reused
for the median and for both KS distances; float64 is used for the sums and the CDFs, where it matters.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

#: Default number of bins of the phase histogram of ω0·w mod π.
PHASE_BINS = 36
#: Half-width of the "near a zero of sin" window, in phase units (π/8: a uniform phase puts 1/4 there).
NEAR_ZERO_HALF_WIDTH = math.pi / 8
#: Two-sided 95 % level of the confidence interval on b.
CI_LEVEL = 0.95
_CHUNK = 1 << 20  # elements per block of the streamed float64 passes (bounds temporary memory)


@dataclass(frozen=True)
class LaplaceFit:
    """MLE of Laplace(loc, b) with free location: loc = median(w), b = mean|w − loc|."""

    loc: float
    b: float
    b_ci: tuple[float, float]
    loglik: float


@dataclass(frozen=True)
class LayerFit:
    """Everything :func:`fit_layer` measures on one layer's finite weights."""

    n: int                      # finite weights analysed
    n_nonfinite: int            # NaN / ±inf weights left out
    loc: float                  # Laplace location MLE (median)
    b: float                    # Laplace scale MLE with free location, mean|w − median|
    b_ci: tuple[float, float]   # 95 % CI on b (Gamma pivot, see laplace_scale_ci)
    b_loc0: float               # Laplace scale MLE with loc fixed at 0: mean|w| (the paper's model)
    gaussian_mu: float
    gaussian_sigma: float       # Gaussian MLE (divides by n)
    ks_stat: float              # KS distance between the data and the fitted Laplace(loc, b)
    ks_gaussian: float          # KS distance to the fitted Gaussian
    aic_laplace: float
    aic_gaussian: float
    delta_aic: float            # aic_laplace − aic_gaussian: negative favours Laplace
    extras: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("extras")
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


def _sum_abs_dev(w: np.ndarray, center: float) -> float:
    """Σ|w − center| in float64, in blocks so a float32 layer is never copied whole to float64."""
    total = 0.0
    for i in range(0, w.size, _CHUNK):
        block = w[i:i + _CHUNK].astype(np.float64)
        block -= center
        total += float(np.abs(block).sum())
    return total


def _seg_sums(s: np.ndarray, p: int, q: int, c: float) -> tuple[float, float]:
    """(Σ(s_i − c), Σ(s_i − c)²) over s[p:q] in float64 blocks."""
    t1 = t2 = 0.0
    for i in range(p, q, _CHUNK):
        d = s[i:min(i + _CHUNK, q)].astype(np.float64)
        d -= c
        t1 += float(d.sum())
        t2 += float(np.dot(d, d))
    return t1, t2


def laplace_scale_ci(b: float, n: int, level: float = CI_LEVEL) -> tuple[float, float]:
    r"""Confidence interval on the Laplace scale from the exact pivot for known location.

    With loc known, |w − loc|/b ~ Exp(1), so n·b̂/b ~ Gamma(n, 1) and
    [n b̂ / G⁻¹(1 − α/2), n b̂ / G⁻¹(α/2)] covers b with probability ``level``. With the location
    estimated by the median the interval is asymptotically the same (SE ≈ b/√n, BIPER.md).

    >>> lo, hi = laplace_scale_ci(1.0, 10000)
    >>> f"{lo:.4f} {hi:.4f}"
    '0.9807 1.0199'
    """
    from scipy.special import gammaincinv, ndtri

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


def laplace_fit_sorted(s: np.ndarray) -> LaplaceFit:
    r"""Laplace MLE with free location from a *sorted* 1-D array: loc = median, b = mean|w − median|.

    Log-likelihood at the MLE: ℓ = −n log(2b̂) − n. Agrees with ``scipy.stats.laplace.fit``.

    >>> f = laplace_fit_sorted(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    >>> f.loc, f.b
    (0.0, 1.2)
    """
    n = s.size
    loc = sorted_median(s)
    b = _sum_abs_dev(s, loc) / n
    loglik = -n * math.log(2.0 * b) - n if b > 0 else math.inf
    return LaplaceFit(loc=loc, b=b, b_ci=laplace_scale_ci(b, n), loglik=loglik)


def gaussian_fit(w: np.ndarray) -> tuple[float, float, float]:
    r"""Gaussian MLE (mu, sigma with divisor n) and its log-likelihood ℓ = −(n/2)·log(2πσ̂²) − n/2.

    Two passes (mean, then centred squares) in float64 blocks: no cancellation for tight layers.

    >>> mu, sigma, _ = gaussian_fit(np.array([1.0, 3.0]))
    >>> mu, sigma
    (2.0, 1.0)
    """
    n = w.size
    mu = sum(float(w[i:i + _CHUNK].sum(dtype=np.float64)) for i in range(0, n, _CHUNK)) / n
    ss = 0.0
    for i in range(0, n, _CHUNK):
        block = w[i:i + _CHUNK].astype(np.float64)
        block -= mu
        ss += float(np.dot(block, block))
    sigma = math.sqrt(ss / n)
    loglik = -0.5 * n * math.log(2.0 * math.pi * sigma * sigma) - 0.5 * n if sigma > 0 else math.inf
    return mu, sigma, loglik


# ---------------------------------------------------------------------------------------------------
# Kolmogorov–Smirnov distances on a sorted sample (vectorised, one sort shared by both laws)
# ---------------------------------------------------------------------------------------------------
def _ks_full(s: np.ndarray, cdf, start: int = 0, stop: int | None = None, n: int | None = None) -> float:
    """n·D over s[start:stop] (indices relative to the whole sorted sample of size n), float64 blocks."""
    n = s.size if n is None else n
    stop = s.size if stop is None else stop
    d = 0.0
    for i in range(start, stop, _CHUNK):
        block = s[i:min(i + _CHUNK, stop)].astype(np.float64)
        f = cdf(block)
        f *= n          # compare n·F with integers: one multiply instead of two divides
        k = np.arange(i, i + block.size, dtype=np.float64)
        d = max(d, float(np.max(k + 1.0 - f)), float(np.max(f - k)))
    return d


def _ks_from_cdf_blocks(s: np.ndarray, cdf, step: int = 64) -> float:
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
    best = max(float(np.max(af + 1.0 - fa)), float(np.max(fa - af)),
               float(np.max(ef + 1.0 - fe)), float(np.max(fe - ef)))
    bound = np.maximum(ef + 1.0 - fa, fe - af)
    todo = np.flatnonzero(bound > best)
    if todo.size > a.size // 4:           # bounds too loose (tiny n or a wild fit): evaluate everything
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

    return _ks_from_cdf_blocks(s, cdf)


def ks_gaussian_sorted(s: np.ndarray, mu: float, sigma: float) -> float:
    """KS distance between sorted data and N(mu, sigma²) (CDF via scipy.special.ndtr).

    >>> round(ks_gaussian_sorted(np.array([0.0]), 0.0, 1.0), 12)
    0.5
    """
    from scipy.special import ndtr

    if sigma <= 0:
        return 1.0
    return _ks_from_cdf_blocks(s, lambda x: ndtr((x - mu) / sigma))


# ---------------------------------------------------------------------------------------------------
# The sine view: moments for QE, the official L1 error, phase histogram
# ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SinStats:
    """Sample moments of S = sin(ω0 w) needed by the report (all in float64)."""

    n: int
    e_sin2: float          # mean S²
    e_abs_sin: float       # mean |S|
    var_sin2: float        # sample variance of S²
    var_abs_sin: float     # sample variance of |S|
    cov: float             # sample covariance of S² and |S|
    official_l1: float     # mean |S − sign(S)| (sign(0) = 0, as torch.sign and the official script)
    phase_counts: np.ndarray   # histogram of ω0 w mod π over PHASE_BINS equal bins of [0, π)
    sin_counts: np.ndarray     # histogram of S over equal bins of [−1, 1]
    near_zero_frac: float      # fraction with phase within NEAR_ZERO_HALF_WIDTH of a zero of sin

    def qe_emp_se(self, gamma: float | None) -> tuple[float, str]:
        r"""Standard error of the empirical QE, treating the layer's weights as an iid sample.

        γ fixed: QE = mean of Y = (|S| − γ)², so SE = sd(Y)/√n *directly*, with
        Var Y = Var S² − 4γ Cov(S², |S|) + 4γ² Var|S|.
        γ = opt: QE = m₂ − m₁², delta method with gradient (1, −2m₁):
        Var = Var S² − 4m₁ Cov(S², |S|) + 4m₁² Var|S|.
        """
        g = self.e_abs_sin if gamma is None else float(gamma)
        var = self.var_sin2 - 4.0 * g * self.cov + 4.0 * g * g * self.var_abs_sin
        se = math.sqrt(max(var, 0.0) / self.n) if self.n > 1 else math.nan
        return se, ("delta-method" if gamma is None else "direct")


def sin_stats(w: np.ndarray, omega0: float, phase_bins: int = PHASE_BINS, sin_bins: int = 50) -> SinStats:
    r"""Moments of S = sin(ω0 w), the official L1 error and the phase / sine histograms, in one pass.

    ω0·w and sin run in the weights' own precision — float32 for checkpoints, where each term is good to
    ~1e-7 relative, three orders below the statistical error of a 10⁴-weight layer — and float64 input stays
    float64; |S|, its powers and every sum are float64. Moments of |S| ≤ 1 are well
    scaled, so the raw-moment variances do not cancel badly.

    >>> st = sin_stats(np.array([0.0, np.pi / 40]), 20.0)     # phases 0 and π/2
    >>> st.e_sin2, st.e_abs_sin, st.official_l1
    (0.5, 0.5, 0.0)
    """
    n = w.size
    if n == 0:
        raise ValueError("cannot compute sine statistics of an empty layer")
    s1 = s2 = s3 = s4 = 0.0   # Σ|S|, ΣS², Σ|S|³, ΣS⁴ (raw; |S| ≤ 1 so the float64 sums are well scaled)
    zeros = 0
    phase_counts = np.zeros(phase_bins, dtype=np.int64)
    sin_counts = np.zeros(sin_bins, dtype=np.int64)
    half_frac = NEAR_ZERO_HALF_WIDTH / math.pi
    near = 0
    # ω0·w and sin in the weights' own precision (float32 for checkpoints: ~1e-7 relative per element, far
    # below the statistical error); powers and sums in float64
    # (float64 when |ω0 w| can exceed 1e4: there a float32 phase would be off by > 1e-3 rad, or overflow)
    amax = max(abs(float(w.min())), abs(float(w.max())))
    if not math.isfinite(omega0 * amax):
        raise ValueError(f"ω0·max|w| = {omega0:g}·{amax:g} overflows; pass a smaller --omega0")
    dt = np.float32 if w.dtype == np.float32 and omega0 * amax < 1e4 else np.float64
    w0 = dt(omega0)
    f64 = np.float64
    for i in range(0, n, _CHUNK):
        t = np.multiply(w[i:i + _CHUNK], w0, dtype=dt)
        s = np.sin(t)
        a = np.abs(s).astype(f64)   # powers in float64: m₂ − m₁² is then exact for a constant layer
        q = a * a
        s1 += float(a.sum())
        s2 += float(q.sum())
        s3 += float(np.dot(a, q))
        s4 += float(np.dot(q, q))
        zeros += int(np.count_nonzero(s == 0.0))
        # phase as a fraction of the period: u = frac(ω0 w / π) ∈ [0, 1) (floor is much faster than fmod)
        t *= dt(1.0 / math.pi)
        u = np.subtract(t, np.floor(t), out=t)
        near += int(np.count_nonzero(u < half_frac)) + int(np.count_nonzero(u > 1.0 - half_frac))
        u *= phase_bins
        idx = u.astype(np.intp)
        np.minimum(idx, phase_bins - 1, out=idx)
        phase_counts += np.bincount(idx, minlength=phase_bins)
        s += 1.0
        s *= sin_bins / 2.0
        sidx = s.astype(np.intp)
        np.clip(sidx, 0, sin_bins - 1, out=sidx)
        sin_counts += np.bincount(sidx, minlength=sin_bins)
    m1, m2 = s1 / n, s2 / n
    var_abs = max(m2 - m1 * m1, 0.0)
    var_sq = max(s4 / n - m2 * m2, 0.0)
    cov = s3 / n - m1 * m2
    # |S − sign S| = 1 − |S| where S ≠ 0 and 0 where S = 0 (sign(0) = 0)
    l1 = (n - s1 - zeros) / n
    return SinStats(n=n, e_sin2=m2, e_abs_sin=m1, var_sin2=var_sq, var_abs_sin=var_abs, cov=cov,
                    official_l1=l1, phase_counts=phase_counts, sin_counts=sin_counts, near_zero_frac=near / n)


def phase_histogram(w: np.ndarray, omega0: float, bins: int = PHASE_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Histogram (counts, edges) of the phase ω0·w mod π over ``bins`` equal bins of [0, π).

    Clustering of trained weights at the zeros of sin (the sin² penalty's pull) shows as mass near 0 and π.

    >>> counts, edges = phase_histogram(np.array([0.0, 0.001, 0.1]), 20.0, bins=4)
    >>> counts.tolist()
    [2, 0, 1, 0]
    """
    st = sin_stats(np.asarray(w), omega0, phase_bins=bins)
    return st.phase_counts, np.linspace(0.0, math.pi, bins + 1)


def laplace_phase_probs(x: float, edges: np.ndarray) -> np.ndarray:
    r"""Probability of each phase bin [e_k, e_{k+1}) ⊂ [0, π) under Laplace(0, b), x = ω0·b.

    For w > 0, y = ω0 w ~ Exp(mean x), and y mod π has density g(θ) = e^{−θ/x} / (x (1 − e^{−π/x}));
    negative weights contribute g(π − θ). Each half carries probability ½. Written with expm1 so small
    and large x are both stable.

    >>> p = laplace_phase_probs(1.0, np.linspace(0, np.pi, 5))
    >>> f"{p.sum():.12f}"
    '1.000000000000'
    """
    edges = np.asarray(edges, dtype=np.float64)
    a, c = edges[:-1], edges[1:]
    denom = -math.expm1(-math.pi / x)

    def mass(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.exp(-lo / x) * -np.expm1(-(hi - lo) / x) / denom

    return 0.5 * (mass(a, c) + mass(math.pi - c, math.pi - a))


def laplace_near_zero_frac(x: float, half_width: float = NEAR_ZERO_HALF_WIDTH) -> float:
    """Fraction of Laplace(0, b) weights whose phase lies within ``half_width`` of a zero of sin (x = ω0·b).

    >>> f"{laplace_near_zero_frac(1e6):.6f}"    # phase nearly uniform: 2·(π/8)/π
    '0.250000'
    """
    edges = np.array([0.0, half_width, math.pi - half_width, math.pi])
    p = laplace_phase_probs(x, edges)
    return float(p[0] + p[2])


# ---------------------------------------------------------------------------------------------------
# One layer
# ---------------------------------------------------------------------------------------------------
def fit_layer(w: np.ndarray) -> tuple[LayerFit, np.ndarray]:
    r"""Fit Laplace (free location) and Gaussian to one layer's weights; return the fit and the sorted finite data.

    NaN/inf weights are counted in ``n_nonfinite`` and left out. AIC = 2k − 2ℓ with k = 2 for both laws,
    so delta_aic = −2(ℓ_Laplace − ℓ_Gaussian) (negative favours Laplace). The returned sorted array
    lets callers reuse the one sort.

    >>> rng = np.random.default_rng(0)
    >>> fit, _ = fit_layer(rng.laplace(0.0, 0.05, 200_000))
    >>> abs(fit.b / 0.05 - 1) < 0.01, fit.delta_aic < 0
    (True, True)
    """
    flat = np.ravel(np.asarray(w))
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    if flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)
    s = np.sort(flat)      # NaN sort to the end; ±inf to the ends
    n_total = s.size
    typ = s.dtype.type     # search with the array's own scalar type: a Python float would upcast the whole array
    lo = int(np.searchsorted(s, typ(-np.inf), side="right"))      # leading -infs
    finite_end = int(np.searchsorted(s, typ(np.inf), side="left")) if n_total else 0
    s = s[lo:finite_end]
    n_nonfinite = n_total - s.size
    n = s.size
    if n == 0:
        nan = math.nan
        return LayerFit(n=0, n_nonfinite=n_nonfinite, loc=nan, b=nan, b_ci=(nan, nan), b_loc0=nan,
                        gaussian_mu=nan, gaussian_sigma=nan, ks_stat=nan, ks_gaussian=nan,
                        aic_laplace=nan, aic_gaussian=nan, delta_aic=nan), s
    # one float64 pass over d = s − loc, split at loc and at 0 (s is sorted), gives every first and second moment
    loc = sorted_median(s)
    k_loc = int(np.searchsorted(s, typ(loc), side="left"))
    k_0 = int(np.searchsorted(s, typ(0.0), side="left"))
    cuts = sorted({0, k_loc, k_0, n})
    seg = {(p, q): _seg_sums(s, p, q, loc) for p, q in zip(cuts[:-1], cuts[1:])}
    sum_d = sum(v[0] for v in seg.values())
    sum_d2 = sum(v[1] for v in seg.values())
    abs_dev = sum(v[0] if p >= k_loc else -v[0] for (p, _), v in seg.items())
    abs_w = sum((v[0] + loc * (q - p)) * (1.0 if p >= k_0 else -1.0) for (p, q), v in seg.items())
    b = abs_dev / n
    lap = LaplaceFit(loc=loc, b=b, b_ci=laplace_scale_ci(b, n),
                     loglik=-n * math.log(2.0 * b) - n if b > 0 else math.inf)
    mu = loc + sum_d / n
    sigma = math.sqrt(max(sum_d2 / n - (mu - loc) ** 2, 0.0))
    ll_g = -0.5 * n * math.log(2.0 * math.pi * sigma * sigma) - 0.5 * n if sigma > 0 else math.inf
    b_loc0 = abs_w / n
    aic_l = 4.0 - 2.0 * lap.loglik
    aic_g = 4.0 - 2.0 * ll_g
    return LayerFit(n=n, n_nonfinite=n_nonfinite, loc=lap.loc, b=lap.b, b_ci=lap.b_ci, b_loc0=b_loc0,
                    gaussian_mu=mu, gaussian_sigma=sigma,
                    ks_stat=ks_laplace_sorted(s, lap.loc, lap.b), ks_gaussian=ks_gaussian_sorted(s, mu, sigma),
                    aic_laplace=aic_l, aic_gaussian=aic_g, delta_aic=aic_l - aic_g), s
