r"""The statistics of a weight tensor: the measured side of every comparison in this package.

:func:`weight_stats` is the one function that reads a layer's weights w (numpy, any float dtype) and returns, in
one pass: b = mean|w| (the Laplace(0, b) MLE, the paper's model), mean w² (the sign baseline's second moment),
the moments of S = sin(ω0 w) that QE needs (mean S², mean |S|, and mean |S|³, mean S⁴ for standard errors),
the official script's L1 error mean|S − sign S| (``cifar10/vis_get_QE.py`` of the official repository, with
torch's sign(0) = 0), the mass near the zeros of sin(ω0 w), and optionally the phase and sine histograms.
QE itself is then :func:`biper_analysis.theory.analytic.qe_from_moments` of those moments — the same definition the
closed form uses. fit-b, the γ conventions, the Empirical prior and the per-epoch training metrics all call it.

Always sin(ω0 w), the paper's QE: a run trained with the triangle surrogate still binarises with
sign(sin(ω0 w)) = sign(tri(ω0 w)), so its binary weights and QE are measured the same way.

Precision: ω0·w and sin run in the weights' own precision — float32 for checkpoints, ~1e-7 relative per
element, three orders below the statistical error of a 10⁴-weight layer — and in float64 when |ω0 w| could
exceed 1e4 (a float32 phase would be off by > 1e-3 rad) or the input is float64; |S|, its powers and every sum
are float64. Non-finite weights are counted and left out.

:func:`weight_faults` is the one rule for weights no statistic can use (NaN/inf, all zero, all one value): every
command that reads weights (fit-b, eval, the plots) names such a layer in one warning line with its counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from biper_analysis.theory.analytic import NEAR_ZERO_HALF_WIDTH, qe_from_moments

__all__ = [
    "NEAR_ZERO_HALF_WIDTH",
    "PHASE_BINS",
    "SIN_BINS",
    "WeightStats",
    "weight_stats",
    "WeightDrift",
    "weight_drift",
    "period_index",
    "WeightTransitions",
    "weight_transitions",
    "ChannelSE",
    "channel_se",
    "WeightFault",
    "weight_faults",
]

#: Bins of the phase histogram of ω0·w mod π over [0, π), and of the sine histogram over [−1, 1].
PHASE_BINS = 36
SIN_BINS = 50
_CHUNK = 1 << 20  # elements per block of the streamed passes (bounds temporary memory)


@dataclass(frozen=True)
class WeightStats:
    """What :func:`weight_stats` measures on one weight tensor (all float64). Sine fields are NaN without ω0."""

    n: int  # finite weights used
    n_nonfinite: int  # NaN / ±inf weights left out
    omega0: float | None
    b: float  # mean|w|: the MLE of Laplace(0, b)
    mean_w2: float  # mean w²
    e_sin2: float  # mean S², S = sin(ω0 w)
    e_abs_sin: float  # mean |S| (= the measured γ*)
    e_abs_sin3: float  # mean |S|³
    e_sin4: float  # mean S⁴
    official_l1: float  # mean |S − sign S| (sign(0) = 0)
    near_zero_frac: float  # fraction whose phase ω0 w mod π lies within NEAR_ZERO_HALF_WIDTH of 0 or π
    near_crest_frac: float  # fraction whose phase lies within NEAR_ZERO_HALF_WIDTH of π/2 (a crest of |S|)
    phase_counts: np.ndarray | None = None  # histogram of ω0 w mod π over PHASE_BINS bins of [0, π)
    sin_counts: np.ndarray | None = None  # histogram of S over SIN_BINS bins of [−1, 1]

    def qe(self, gamma: float | None = None) -> float:
        """QE measured on the weights: mean (|S| − γ)², or mean S² − (mean|S|)² at γ* (``gamma=None``)."""
        return float(qe_from_moments(self.e_sin2, self.e_abs_sin, None if gamma is None else float(gamma)))

    def qe_se(self, gamma: float | None = None) -> float:
        r"""Standard error of :meth:`qe`, treating the weights as an iid sample.

        γ fixed: QE is the mean of Y = (|S| − γ)², SE = sd(Y)/√n with
        Var Y = Var S² − 4γ Cov(S², |S|) + 4γ² Var|S|. γ* (delta method, gradient (1, −2m₁) of m₂ − m₁²): the
        same expression at γ = m₁ = mean|S|.
        """
        if self.n < 2:
            return math.nan
        m1, m2 = self.e_abs_sin, self.e_sin2
        g = m1 if gamma is None else float(gamma)
        var = (self.e_sin4 - m2 * m2) - 4.0 * g * (self.e_abs_sin3 - m1 * m2) + 4.0 * g * g * (m2 - m1 * m1)
        return math.sqrt(max(var, 0.0) / self.n)

    def qe_sign(self, gamma: float | None = None) -> float:
        """The sign baseline measured: mean (w − γ sign w)² = QE of the moments (mean w², mean|w|); γ* = b."""
        return float(qe_from_moments(self.mean_w2, self.b, None if gamma is None else float(gamma)))

    def normalised_qe(self, gamma: float | None = None) -> float:
        """BiPer QE / mean S² (unit-free; comparable with :meth:`normalised_qe_sign`)."""
        return self.qe(gamma) / self.e_sin2 if self.e_sin2 > 0 else math.nan

    def normalised_qe_sign(self, gamma: float | None = None) -> float:
        """Sign-baseline QE / mean w² (1 − b²/mean w² at γ*)."""
        return self.qe_sign(gamma) / self.mean_w2 if self.mean_w2 > 0 else math.nan

    def pooled(self, other: WeightStats) -> WeightStats:
        """The statistics of the two samples together (every field is a mean or a count, so they pool exactly);
        e.g. a layer's from its two halves.

        >>> w = np.linspace(-0.2, 0.2, 1001)
        >>> a, b = weight_stats(w[:400], 20.0), weight_stats(w[400:], 20.0)
        >>> abs(a.pooled(b).e_abs_sin - weight_stats(w, 20.0).e_abs_sin) < 1e-15
        True
        """
        if (self.omega0 is None) != (other.omega0 is None) or (self.omega0 is not None and self.omega0 != other.omega0):
            raise ValueError("cannot pool weight statistics taken at different ω0")
        n = self.n + other.n
        mean = lambda x, y: (x * self.n + y * other.n) / n
        numeric = (
            "b",
            "mean_w2",
            "e_sin2",
            "e_abs_sin",
            "e_abs_sin3",
            "e_sin4",
            "official_l1",
            "near_zero_frac",
            "near_crest_frac",
        )
        counts = {
            k: None if getattr(self, k) is None else getattr(self, k) + getattr(other, k)
            for k in ("phase_counts", "sin_counts")
        }
        return WeightStats(
            n,
            self.n_nonfinite + other.n_nonfinite,
            self.omega0,
            **{k: mean(getattr(self, k), getattr(other, k)) for k in numeric},
            **counts,
        )


def _finite_flat(w: Any) -> tuple[np.ndarray, int]:
    """A flat float array of the finite weights (float16/bfloat16 widened to float32) and the non-finite count."""
    flat = np.ravel(np.asarray(w))
    if flat.dtype.kind != "f":
        flat = flat.astype(np.float64)
    elif flat.dtype.itemsize < 4:
        flat = flat.astype(np.float32)
    with np.errstate(invalid="ignore"):  # inf + (-inf) is NaN: non-finite either way
        bounded = bool(np.isfinite(flat.min() + flat.max())) if flat.size else True
    if not bounded:
        finite = np.isfinite(flat)
        return flat[finite], int(flat.size - np.count_nonzero(finite))
    return flat, 0


def weight_stats(w: Any, omega0: float | None = None, *, histograms: bool = False) -> WeightStats:
    r"""Statistics of one weight tensor, streamed in blocks of 2**20 weights (after a min/max pass that finds
    non-finite weights and picks the phase precision); see the module docstring for what and why.

    >>> st = weight_stats(np.array([0.0, np.pi / 40]), 20.0)     # phases 0 and π/2
    >>> st.e_sin2, st.e_abs_sin, st.official_l1, st.qe(), round(st.b, 6)
    (0.5, 0.5, 0.0, 0.25, 0.03927)
    """
    flat, n_nonfinite = _finite_flat(w)
    n = flat.size
    if n == 0:
        raise ValueError("the weight tensor holds no finite weights; pass a layer's weight array")
    sums = np.zeros(6)  # Σ|w|, Σw², Σ|S|, ΣS², Σ|S|³, ΣS⁴ (raw; |S| ≤ 1, so the float64 sums are well scaled)
    zeros = near = crest = 0
    phase = np.zeros(PHASE_BINS, dtype=np.int64) if histograms else None
    sine = np.zeros(SIN_BINS, dtype=np.int64) if histograms else None
    dtype = _phase_dtype(flat, omega0)
    for i in range(0, n, _CHUNK):
        block = flat[i : i + _CHUNK]
        wide = block.astype(np.float64)
        # squares formed element-wise and summed by numpy's pairwise summation (single-threaded, error O(log n)·ε),
        # not np.dot: a BLAS dot starts threads of its own, which compete with the training workers for the cores
        sums[0] += float(np.abs(wide).sum())
        wide *= wide
        sums[1] += float(wide.sum())
        if omega0 is None:
            continue
        t = np.multiply(block, dtype(omega0), dtype=dtype)
        s = np.sin(t)
        a = np.abs(s).astype(np.float64)
        q = a * a
        sums[2] += float(a.sum())
        sums[3] += float(q.sum())
        a *= q
        sums[4] += float(a.sum())
        q *= q
        sums[5] += float(q.sum())
        zeros += int(np.count_nonzero(s == 0.0))
        at_zero, at_crest = _count_near(t, dtype, phase)
        near += at_zero
        crest += at_crest
        if sine is not None:
            _add_sine_histogram(s, sine)
    m = [float(v) for v in sums / n]
    nan = math.nan
    if omega0 is None:
        return WeightStats(n, n_nonfinite, None, m[0], m[1], nan, nan, nan, nan, nan, nan, nan)
    # |S − sign S| = 1 − |S| where S ≠ 0 and 0 where S = 0 (sign(0) = 0)
    l1 = float((n - sums[2] - zeros) / n)
    return WeightStats(
        n, n_nonfinite, float(omega0), m[0], m[1], m[3], m[2], m[4], m[5], l1, near / n, crest / n, phase, sine
    )


def _phase_dtype(flat: np.ndarray, omega0: float | None) -> Any:
    if omega0 is None:
        return np.float64
    if not (math.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be a finite number > 0, got {omega0!r}")
    amax = max(abs(float(flat.min())), abs(float(flat.max())))
    if not math.isfinite(omega0 * amax):
        raise ValueError(f"ω0·max|w| = {omega0:g}·{amax:g} overflows; pass a smaller omega0")
    return np.float32 if flat.dtype == np.float32 and omega0 * amax < 1e4 else np.float64


def _count_near(t: np.ndarray, dtype: Any, phase: np.ndarray | None) -> tuple[int, int]:
    """Weights whose phase u = frac(ω0 w / π) lies within the window around a zero of sin (u near 0 or 1) and
    around a crest of |sin| (u near ½); fills ``phase`` if given. Overwrites ``t`` (floor is much faster than fmod).

    Both counts matter: the BiPer penalty τ sin²(ω0 w) pulls weights to the zeros, while at a crest the gradient
    through the sine, ω0 cos(ω0 w), vanishes, so weights that reach one stay there.
    """
    half = NEAR_ZERO_HALF_WIDTH / math.pi
    t *= dtype(1.0 / math.pi)
    u = np.subtract(t, np.floor(t), out=t)
    near = int(np.count_nonzero(u < half)) + int(np.count_nonzero(u > 1.0 - half))
    crest = int(np.count_nonzero(u < 0.5 + half)) - int(np.count_nonzero(u <= 0.5 - half))
    if phase is not None:
        u *= phase.size
        idx = u.astype(np.intp)
        np.minimum(idx, phase.size - 1, out=idx)
        phase += np.bincount(idx, minlength=phase.size)
    return near, crest


def _add_sine_histogram(s: np.ndarray, counts: np.ndarray) -> None:
    idx = ((s.astype(np.float64) + 1.0) * (counts.size / 2.0)).astype(np.intp)
    np.clip(idx, 0, counts.size - 1, out=idx)
    counts += np.bincount(idx, minlength=counts.size)


@dataclass(frozen=True)
class WeightFault:
    """What is wrong with a weight tensor: non-finite values, or finite values that are all equal (a constant
    layer: b = mean|w| and every spread are degenerate, a law cannot be fitted, KS and rel_err are meaningless)."""

    n_total: int  # elements of the tensor
    n_nonfinite: int  # NaN / ±inf elements
    constant: float | None  # the one value of every finite element, when there are ≥ 1 and they all agree

    @property
    def all_nonfinite(self) -> bool:
        return self.n_total > 0 and self.n_nonfinite == self.n_total

    def describe(self) -> str:
        """The facts in words (the caller adds what it did about them).

        >>> weight_faults(np.array([np.nan, 0.0, 0.0])).describe()
        '1 of 3 weights are NaN/inf and the other 2 are all 0 (a constant layer)'
        """
        if self.n_total == 0:
            return "the tensor has no weights"
        if self.all_nonfinite:
            return f"all {self.n_total} weights are NaN/inf"
        finite = self.n_total - self.n_nonfinite
        value = "" if self.constant is None else "0" if self.constant == 0 else f"{self.constant:.6g}"
        if self.n_nonfinite:
            text = f"{self.n_nonfinite} of {self.n_total} weights are NaN/inf"
            return text + (
                f" and the other {finite} are all {value} (a constant layer)"
                if self.constant is not None and finite > 1
                else ""
            )
        return f"all {self.n_total} weights are {value} (a constant layer)"


def weight_faults(w: Any) -> WeightFault | None:
    """None for a usable weight tensor, else what is wrong with it (:class:`WeightFault`): NaN/inf values, or ≥ 2
    finite values that are all equal (one finite value among NaNs is reported as NaN/inf only).

    >>> weight_faults(np.array([0.1, -0.2])) is None
    True
    >>> weight_faults(np.full(4, np.nan)).describe()
    'all 4 weights are NaN/inf'
    >>> weight_faults(np.zeros((2, 3))).describe()
    'all 6 weights are 0 (a constant layer)'
    >>> weight_faults(np.array([np.inf, 0.1, 0.2])).describe()
    '1 of 3 weights are NaN/inf'
    """
    flat, n_nonfinite = _finite_flat(w)
    n_total = flat.size + n_nonfinite
    constant = None
    if flat.size >= 2 and flat.min() == flat.max():
        constant = float(flat[0]) + 0.0  # + 0.0: -0.0 reads as 0
    if n_total and not n_nonfinite and constant is None:
        return None
    return WeightFault(n_total, n_nonfinite, constant)


@dataclass(frozen=True)
class WeightDrift:
    """How far trained weights moved from a reference (their initial weights, or stage 1's best)."""

    n: int  # pairs compared (both finite)
    correlation: float  # Pearson correlation of trained and reference weights
    relative_change: float  # ||w − w_ref|| / ||w_ref||
    rms_ratio: float  # rms(w) / rms(w_ref)
    n_nonfinite: int = 0  # pairs left out because either value is NaN/inf


@dataclass(frozen=True)
class ChannelSE:
    """Standard errors of a layer's measured QE and of b = mean|w| that account for the correlation of the weights
    within an output channel (NaN when the tensor has fewer than 2 channels)."""

    n_channels: int
    qe: float  # SE of the measured QE (at γ* or at the given γ)
    b: float  # SE of mean|w|


def channel_se(w: Any, omega0: float, gamma: float | None = None) -> ChannelSE:
    r"""Cluster-robust (CR1) standard errors over the output channels (the first axis of ``w``).

    The weights of one output channel share its gradient history and tend to move together, so the iid SE of a
    layer's QE understates how much another set of channels would differ (half-vs-half z² ≈ 2 on trained layers).
    With channel totals T_c = Σ_{i∈c} y_i of the per-weight statistics y = (|S|, S², |w|), S = sin(ω0 w), and the
    influence of channel c on an estimator θ̂ = g(means), ψ_c = ∇g · (T_c − n_c·means),
    SE² = C/(C−1) · Σ_c ψ_c² / N² (the sandwich with clusters; Liang & Zeger 1986). QE at γ*: g = m₂ − m₁², ∇g =
    (−2m₁, 1); at a fixed γ: ∇g = (−2γ, 1). Non-finite weights are left out.

    >>> w = np.random.default_rng(0).laplace(0.0, 0.05, size=(64, 9))
    >>> se = channel_se(w, 20.0)
    >>> se.n_channels, 0.5 < se.qe / weight_stats(w, 20.0).qe_se() < 2.0
    (64, True)
    """
    arr = np.asarray(w)
    nan = math.nan
    if arr.ndim < 2 or arr.shape[0] < 2:
        return ChannelSE(1 if arr.size else 0, nan, nan)
    flat = arr.reshape(arr.shape[0], -1).astype(np.float64)
    finite = np.isfinite(flat)
    x = np.where(finite, flat, 0.0)
    a = np.abs(np.sin(omega0 * x)) * finite
    n_c = finite.sum(axis=1).astype(np.float64)
    keep = n_c > 0
    C, N = int(keep.sum()), float(n_c.sum())
    if C < 2:
        return ChannelSE(C, nan, nan)
    t1, t2, tw = a.sum(axis=1)[keep], (a * a).sum(axis=1)[keep], np.abs(x).sum(axis=1)[keep]
    n_c = n_c[keep]
    m1, m2, mw = t1.sum() / N, t2.sum() / N, tw.sum() / N
    slope = 2.0 * m1 if gamma is None else 2.0 * float(gamma)
    psi_qe = (t2 - n_c * m2) - slope * (t1 - n_c * m1)
    psi_b = tw - n_c * mw
    scale = C / (C - 1.0) / (N * N)
    return ChannelSE(
        C, math.sqrt(scale * float(np.sum(psi_qe * psi_qe))), math.sqrt(scale * float(np.sum(psi_b * psi_b)))
    )


def weight_drift(w: Any, reference: Any) -> WeightDrift:
    """Correlation with, and relative change from, ``reference`` (the same layer: the same number of weights,
    compared element by element after flattening) — the yardstick for any statement
    about what training did to the weights (a briefly trained layer may still be mostly its initialisation).
    Pairs where either value is NaN/inf are left out and counted (``n_nonfinite``); with no finite pair left every
    measure is NaN.

    >>> d = weight_drift([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    >>> round(d.correlation, 6), round(d.relative_change, 6)
    (0.981981, 0.218218)
    >>> d = weight_drift([1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 4.0, 5.0])
    >>> round(d.correlation, 6), d.n, d.n_nonfinite
    (0.981981, 3, 1)
    """
    a = np.ravel(np.asarray(w, dtype=np.float64))
    r = np.ravel(np.asarray(reference, dtype=np.float64))
    if a.shape != r.shape:
        raise ValueError(
            f"weights of {a.size} elements cannot be compared with a reference of {r.size}; pass "
            "the same layer's reference weights"
        )
    if a.size == 0:
        raise ValueError("cannot compare empty weight tensors")
    both = np.isfinite(a) & np.isfinite(r)
    n_nonfinite = int(a.size - np.count_nonzero(both))
    if n_nonfinite:
        a, r = a[both], r[both]
        if a.size == 0:
            return WeightDrift(
                n=0, correlation=math.nan, relative_change=math.nan, rms_ratio=math.nan, n_nonfinite=n_nonfinite
            )
    ref_norm = float(np.linalg.norm(r))
    da, dr = a - a.mean(), r - r.mean()
    denom = float(np.linalg.norm(da) * np.linalg.norm(dr))
    return WeightDrift(
        n=a.size,
        correlation=float(np.dot(da, dr)) / denom if denom > 0 else math.nan,
        relative_change=float(np.linalg.norm(a - r)) / ref_norm if ref_norm > 0 else math.nan,
        rms_ratio=float(np.linalg.norm(a)) / ref_norm if ref_norm > 0 else math.nan,
        n_nonfinite=n_nonfinite,
    )


# ---------------------------------------------------------------------------------------------------
# Transitions between two records: flips and zero crossings of the latent
# ---------------------------------------------------------------------------------------------------
def period_index(w: Any, omega0: float | None) -> np.ndarray:
    r"""Which half-period of the latent a weight lies in: k = ⌊ω0 w / π⌋ (int64, computed in float64).

    sin(ω0 w) is positive for even k and negative for odd k (zero only at the boundaries ω0 w = kπ), so
    sign(sin(ω0 w)) = (−1)^k, and a change of k is a crossing of a zero of sin(ω0 w). For the sign binarizer
    (``omega0=None``) the latent is w itself with one zero: k = −1 for w < 0 and 0 for w ≥ 0 (the limit ω0 → 0 of
    the same floor).

    >>> period_index(np.array([-0.2, -0.01, 0.0, 0.1, 0.2]), 20.0).tolist()
    [-2, -1, 0, 0, 1]
    >>> period_index(np.array([-0.2, 0.0, 0.2]), None).tolist()
    [-1, 0, 0]
    """
    wide = np.asarray(w, dtype=np.float64)
    if omega0 is None:
        return np.where(wide < 0.0, -1, 0).astype(np.int64)
    if not (math.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be a finite number > 0, got {omega0!r}")
    return np.floor(wide * (float(omega0) / math.pi)).astype(np.int64)


@dataclass(frozen=True)
class WeightTransitions:
    """Counts of what the weights of one tensor did between two records (see :func:`weight_transitions`)."""

    n: int
    crossed: int  # k differed between two observed steps: the weight crossed at least one zero of the latent
    flips: int  # k_end − k_start odd: the binarised weight sign(latent) changed
    round_trips: int  # crossed, and back in its starting half-period at the end (k_end = k_start)
    jumps: int  # k_end − k_start even and non-zero: a whole period or more, same binarised value
    zeros_swept: int  # Σ (k_max − k_min): zeros lying between a weight's lowest and highest observed value

    def ratio(self, count: int) -> float:
        return count / self.n if self.n else math.nan

    @property
    def flip_ratio(self) -> float:
        return self.ratio(self.flips)

    @property
    def cross_ratio(self) -> float:
        return self.ratio(self.crossed)

    @property
    def round_trip_ratio(self) -> float:
        return self.ratio(self.round_trips)

    @property
    def jump_ratio(self) -> float:
        return self.ratio(self.jumps)


def weight_transitions(start: Any, end: Any, low: Any, high: Any, omega0: float | None) -> WeightTransitions:
    r"""Flips and zero crossings of the latent between two records, from four arrays of the same shape.

    ``start`` and ``end`` are the weights at the two records; ``low`` and ``high`` the element-wise minimum and
    maximum of the weights over every step in between (both records included). With k = :func:`period_index`
    (k = ⌊ω0 w/π⌋ for BiPer, whose latent is sin(ω0 w); the half-line of w for the sign binarizer):

    * **crossed**: ⌊ω0·low/π⌋ ≠ ⌊ω0·high/π⌋ — k took two values at two observed steps, i.e. the weight crossed at
      least one zero of the latent (k is monotone in w, so this is exact at step resolution: a crossing and
      return within one optimiser step is invisible, as it is to the network);
    * **flip**: k_end − k_start is odd — sign(latent) at the end differs from the start (the flip ratio of larq's
      ``FlipRatio`` for the binarised weight);
    * **round trip**: crossed, and k_end = k_start — the binarised weight changed and came back;
    * **jump**: k_end − k_start even and ≠ 0 — moved a whole period (or more) on: same binarised value, other
      half-period (impossible for the sign binarizer).

    Every crossing weight is exactly one of flip, round trip or jump, so crossed = flips + round_trips + jumps.
    Exactly at a zero (ω0 w = kπ, in float64 only w = 0) sign(sin) is 0 while k counts it with the positive side;
    such weights have probability zero.

    A two-step update w0 → w1 → w2 at ω0 = π (zeros of sin(π w) at the integers):

    >>> w0, w1, w2 = np.array([0.5, 0.5, 0.5, 0.5]), np.array([1.5, 1.5, 0.6, 1.5]), np.array([0.5, 1.4, 0.7, 2.5])
    >>> t = weight_transitions(w0, w2, np.minimum(np.minimum(w0, w1), w2), np.maximum(np.maximum(w0, w1), w2), np.pi)
    >>> t.crossed, t.flips, t.round_trips, t.jumps, t.zeros_swept
    (3, 1, 1, 1, 4)
    """
    arrays = [np.ravel(np.asarray(a)) for a in (start, end, low, high)]
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("start, end, low and high must have the same number of elements (one layer's weights)")
    k_start, k_end, k_low, k_high = (period_index(a, omega0) for a in arrays)
    if np.any(k_low > np.minimum(k_start, k_end)) or np.any(k_high < np.maximum(k_start, k_end)):
        raise ValueError("low/high must bound start and end element-wise (the running minimum and maximum)")
    crossed = k_low != k_high
    net = k_end - k_start
    flips = (net % 2) != 0
    round_trips = crossed & (net == 0)
    jumps = (net != 0) & ~flips
    return WeightTransitions(
        n=int(k_start.size),
        crossed=int(np.count_nonzero(crossed)),
        flips=int(np.count_nonzero(flips)),
        round_trips=int(np.count_nonzero(round_trips)),
        jumps=int(np.count_nonzero(jumps)),
        zeros_swept=int((k_high - k_low).sum()),
    )
