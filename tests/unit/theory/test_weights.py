"""weight_stats and weight_drift: every field against a direct numpy computation in float64 (tolerances stated per
test), float32 and float16 input, the streamed chunks and their boundaries, non-finite, empty and constant input,
pooling, and the one statistical check that a Laplace sample meets the closed form; the transitions of a latent
between two records (period_index, weight_transitions: flips and zero crossings on constructed updates whose
answers are known)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.theory import analytic, weights
from biper_analysis.theory.weights import (
    NEAR_ZERO_HALF_WIDTH,
    PHASE_BINS,
    SIN_BINS,
    WeightStats,
    period_index,
    weight_drift,
    weight_stats,
    weight_transitions,
)

OMEGA0, B = 20.0, 0.05
MEANS = (
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


def direct(w: np.ndarray, omega0: float) -> dict[str, float | np.ndarray]:
    """Every field of WeightStats written out in float64 numpy, independently of the streamed implementation."""
    w = np.ravel(np.asarray(w, dtype=np.float64))
    s = np.sin(omega0 * w)
    a = np.abs(s)
    u = np.mod(omega0 * w, np.pi) / np.pi  # phase as a fraction of π, in [0, 1)
    half = NEAR_ZERO_HALF_WIDTH / np.pi
    return {
        "n": w.size,
        "b": np.mean(np.abs(w)),
        "mean_w2": np.mean(w * w),
        "e_sin2": np.mean(s * s),
        "e_abs_sin": np.mean(a),
        "e_abs_sin3": np.mean(a**3),
        "e_sin4": np.mean(s**4),
        "official_l1": np.mean(np.abs(s - np.sign(s))),
        "near_zero_frac": np.mean((u < half) | (u > 1 - half)),
        "near_crest_frac": np.mean(np.abs(u - 0.5) < half),
        "phase_counts": np.histogram(u * np.pi, bins=PHASE_BINS, range=(0.0, np.pi))[0],
        "sin_counts": np.histogram(s, bins=SIN_BINS, range=(-1.0, 1.0))[0],
    }


@pytest.fixture(scope="module")
def laplace64() -> np.ndarray:
    return np.random.default_rng(11).laplace(0.0, B, size=(64, 32, 3, 3))  # 18 432 weights, a conv's shape


def test_every_field_equals_the_direct_float64_computation(laplace64):
    """float64 input: means to 1e-13 relative (pairwise vs numpy's own summation order); counts, fractions and
    histograms exactly. Exact zeros of sin are included so that sign(0) = 0 is exercised in the official L1."""
    w = laplace64.copy()
    w.flat[:5] = 0.0
    st = weight_stats(w, OMEGA0, histograms=True)
    ref = direct(w, OMEGA0)
    assert (st.n, st.n_nonfinite, st.omega0) == (w.size, 0, OMEGA0)
    for name in MEANS:
        assert getattr(st, name) == pytest.approx(ref[name], rel=1e-13, abs=1e-16), name
    np.testing.assert_array_equal(st.phase_counts, ref["phase_counts"])
    np.testing.assert_array_equal(st.sin_counts, ref["sin_counts"])
    assert st.phase_counts.sum() == st.sin_counts.sum() == w.size
    assert 0.05 < st.near_crest_frac < 0.5 and 0.05 < st.near_zero_frac < 0.5  # the counts are not vacuous


def test_qe_and_its_standard_error_against_direct_formulas(laplace64):
    """QE at γ* and fixed γ, the sign baseline and the normalised forms written out (1e-12); qe_se against the
    sample standard deviation of the per-weight QE contributions (1e-9; γ*: the delta-method influence
    S² − 2 m₁|S|)."""
    w = laplace64.ravel()
    st = weight_stats(w, OMEGA0)
    s = np.abs(np.sin(OMEGA0 * w))
    m1, n = s.mean(), w.size
    assert st.qe() == pytest.approx(np.mean((s - m1) ** 2), rel=1e-12)
    for gamma in (0.0, 0.6, 1.0):
        assert st.qe(gamma) == pytest.approx(np.mean((s - gamma) ** 2), rel=1e-12)
        assert st.qe_se(gamma) == pytest.approx(np.std((s - gamma) ** 2) / math.sqrt(n), rel=1e-9)
    assert st.qe_se() == pytest.approx(np.std(s * s - 2 * m1 * s) / math.sqrt(n), rel=1e-9)
    a = np.abs(w)
    assert st.qe_sign() == pytest.approx(np.mean((a - a.mean()) ** 2), rel=1e-12)
    assert st.qe_sign(0.03) == pytest.approx(np.mean((a - 0.03) ** 2), rel=1e-12)
    assert st.normalised_qe() == pytest.approx(np.mean((s - m1) ** 2) / np.mean(s * s), rel=1e-12)
    assert st.normalised_qe_sign() == pytest.approx(1 - a.mean() ** 2 / np.mean(w * w), rel=1e-12)


@pytest.mark.statistical
def test_a_laplace_sample_meets_the_closed_form_within_5_se():
    """The measured side against the theory: 400k Laplace(0, b) weights (seeded), k = 5 standard errors for QE at γ*
    and γ = 1 (SE from qe_se, checked above), the official L1 (SE = sd|S|/√n), E sin², the sign baseline's QE = b²
    (SE = sd(|w| − b)²/√n) and the normalised forms (BiPer QE/E sin², sign 1/2). P(|z| > 5) ≈ 6e-7 per assertion
    for a correct estimator."""
    w = np.random.default_rng(7).laplace(0.0, B, 400_000)
    st = weight_stats(w, OMEGA0)
    n = w.size
    s = np.abs(np.sin(OMEGA0 * w))
    assert abs(st.qe() - analytic.qe(OMEGA0, B)) < 5 * st.qe_se()
    assert abs(st.qe(1.0) - analytic.qe(OMEGA0, B, 1.0)) < 5 * st.qe_se(1.0)
    assert abs(st.official_l1 - analytic.official_l1(OMEGA0, B)) < 5 * s.std() / math.sqrt(n)
    assert abs(st.e_sin2 - analytic.expected_sin2(OMEGA0, B)) < 5 * (s * s).std() / math.sqrt(n)
    assert abs(st.qe_sign() - B * B) < 5 * np.std((np.abs(w) - B) ** 2) / math.sqrt(n)
    # the normalised forms are ratios of sample means: SE by the delta method on (numerator, denominator)
    sin2 = s * s
    norm_se = np.std((sin2 - 2 * s.mean() * s) / sin2.mean() - st.normalised_qe() * sin2 / sin2.mean()) / math.sqrt(n)
    assert abs(st.normalised_qe() - analytic.normalised_qe(OMEGA0, B)) < 5 * norm_se
    a, m2 = np.abs(w), w * w
    sign_se = np.std((a * a - 2 * a.mean() * a) / m2.mean() - st.normalised_qe_sign() * m2 / m2.mean()) / math.sqrt(n)
    assert abs(st.normalised_qe_sign() - 0.5) < 5 * sign_se


def test_float32_weights_take_the_sine_in_float32():
    """Checkpoint weights are float32: the phases and sines are float32 (1e-7 relative against float64 per mean:
    the rounding errors of 50k elements average out), |S| and every sum float64; b and mean w² are float64 means of
    the float32 values (1e-13)."""
    w32 = np.random.default_rng(3).laplace(0.0, B, 50_000).astype(np.float32)
    st = weight_stats(w32, OMEGA0, histograms=True)
    ref = direct(w32.astype(np.float64), OMEGA0)
    assert st.b == pytest.approx(ref["b"], rel=1e-13) and st.mean_w2 == pytest.approx(ref["mean_w2"], rel=1e-13)
    for name in ("e_sin2", "e_abs_sin", "e_abs_sin3", "e_sin4", "official_l1"):
        assert getattr(st, name) == pytest.approx(ref[name], rel=1e-7), name
    # a float32 phase can land on the other side of a bin edge: a handful of weights at most
    assert abs(st.near_zero_frac - ref["near_zero_frac"]) <= 5 / w32.size
    assert np.abs(st.phase_counts - ref["phase_counts"]).sum() <= 10
    assert isinstance(st.e_sin2, float) and st.phase_counts.dtype == np.int64


def test_large_phases_of_float32_weights_are_taken_in_float64():
    """ω0·max|w| ≥ 1e4: a float32 phase would be off by ~1e-3 rad, so the phase is computed in float64 — the
    moments then match a float64 computation of the same (float32) values to 1e-12."""
    w32 = np.random.default_rng(5).uniform(-1.0, 1.0, 20_000).astype(np.float32)
    omega0 = 3e4
    st = weight_stats(w32, omega0)
    ref = direct(w32.astype(np.float64), omega0)
    for name in ("e_sin2", "e_abs_sin", "official_l1"):
        assert getattr(st, name) == pytest.approx(ref[name], rel=1e-12), name
    # the float32 phase really is that far off here (so the test would notice a float32 path)
    s32 = np.sin(np.multiply(w32, np.float32(omega0), dtype=np.float32)).astype(np.float64)
    assert abs(np.mean(np.abs(s32)) - ref["e_abs_sin"]) > 1e-6


def test_float16_and_integer_input():
    """float16 is widened to float32 before the sine; integers to float64 (means then exact to 1e-15)."""
    w16 = np.array([0.01, -0.02, 0.03, 0.0], dtype=np.float16)
    st16 = weight_stats(w16, OMEGA0)
    assert st16.e_abs_sin == pytest.approx(direct(w16.astype(np.float32), OMEGA0)["e_abs_sin"], rel=1e-6)
    ints = weight_stats(np.array([1, -2, 3]), 0.5)
    ref = direct(np.array([1.0, -2.0, 3.0]), 0.5)
    assert ints.b == 2.0 and ints.e_sin2 == pytest.approx(ref["e_sin2"], rel=1e-15)


@pytest.mark.parametrize("n", [1, 6, 7, 8, 22, 23])
def test_chunk_boundaries_do_not_change_the_result(monkeypatch, n):
    """The streamed pass with 7-element blocks: sizes just below, at and above one and several blocks give the
    single-block result (means to 1e-14, counts and histograms exactly)."""
    w = np.random.default_rng(n).laplace(0.0, B, n)
    whole = weight_stats(w, OMEGA0, histograms=True)
    monkeypatch.setattr(weights, "_CHUNK", 7)
    chunked = weight_stats(w, OMEGA0, histograms=True)
    for name in MEANS:
        assert getattr(chunked, name) == pytest.approx(getattr(whole, name), rel=1e-14, abs=1e-17), name
    np.testing.assert_array_equal(chunked.phase_counts, whole.phase_counts)
    np.testing.assert_array_equal(chunked.sin_counts, whole.sin_counts)
    assert chunked.n == whole.n == n


def test_one_element_past_the_real_chunk_size():
    """The real block size (2**20) plus one float32 weight: the last block holds a single weight; the result equals
    the direct computation (float32 sines: 2e-6) and the one-off weight is counted."""
    n = weights._CHUNK + 1
    w = np.random.default_rng(9).laplace(0.0, B, n).astype(np.float32)
    w[-1] = 0.0  # an exact zero, alone in the last block
    st = weight_stats(w, OMEGA0)
    s = np.sin(OMEGA0 * w.astype(np.float64))
    assert st.n == n
    assert st.e_abs_sin == pytest.approx(np.mean(np.abs(s)), rel=2e-6)
    assert st.official_l1 == pytest.approx(np.mean(np.abs(s - np.sign(s))), rel=2e-6)


def test_non_finite_weights_are_counted_and_left_out():
    w = np.random.default_rng(1).laplace(0.0, B, 1000)
    bad = w.copy()
    bad[[3, 500, 999]] = [np.nan, np.inf, -np.inf]
    st, clean = weight_stats(bad, OMEGA0), weight_stats(np.delete(w, [3, 500, 999]), OMEGA0)
    assert (st.n, st.n_nonfinite) == (997, 3)
    for name in MEANS:
        assert getattr(st, name) == getattr(clean, name), name


def test_without_omega0_only_the_weight_moments():
    st = weight_stats(np.array([0.1, -0.3]))
    assert st.omega0 is None and st.b == pytest.approx(0.2) and st.mean_w2 == pytest.approx(0.05)
    assert all(math.isnan(getattr(st, k)) for k in ("e_sin2", "e_abs_sin", "official_l1", "near_zero_frac"))
    assert st.qe_sign() == pytest.approx(0.01, rel=1e-14) and st.phase_counts is None


def test_empty_constant_and_degenerate_input_as_they_are_today():
    """Empty (or all non-finite) input is refused; a constant layer has QE 0 up to rounding, and an SE that is
    rounding only (the moment formula cancels to ~1e-16, whose root over √n is ~1e-9: not exactly 0); all-zero weights
    have official L1 = 0 (sign(0) = 0) and NaN normalised forms; one weight has no standard error."""
    for empty in (np.array([]), np.array([np.nan, np.inf])):
        with pytest.raises(ValueError, match="no finite weights"):
            weight_stats(empty, OMEGA0)
    const = weight_stats(np.full(100, 0.03), OMEGA0)
    assert const.e_abs_sin == pytest.approx(abs(math.sin(OMEGA0 * 0.03)), rel=1e-15)
    assert const.qe() == pytest.approx(0.0, abs=1e-15) and 0.0 <= const.qe_se() < 1e-8
    assert const.qe_sign() == pytest.approx(0.0, abs=1e-18)
    zeros = weight_stats(np.zeros(10), OMEGA0)
    assert (zeros.b, zeros.e_sin2, zeros.official_l1, zeros.near_zero_frac) == (0.0, 0.0, 0.0, 1.0)
    assert math.isnan(zeros.normalised_qe()) and math.isnan(zeros.normalised_qe_sign())
    assert math.isnan(weight_stats(np.array([0.1]), OMEGA0).qe_se())


@pytest.mark.parametrize(
    "omega0, match",
    [
        (0.0, "omega0 must be"),
        (-1.0, "omega0 must be"),
        (math.nan, "omega0 must be"),
        (math.inf, "omega0 must be"),
        (1e300, "overflows"),
    ],
)
def test_bad_omega0_is_refused(omega0, match):
    with pytest.raises(ValueError, match=match):
        weight_stats(np.array([1e10, -0.1]), omega0)


def test_pooled_halves_equal_the_whole():
    """Every field is a mean or a count, so two halves pool exactly (means to 1e-15, counts exactly)."""
    w = np.random.default_rng(2).laplace(0.0, B, 1001)
    a, b = weight_stats(w[:400], OMEGA0, histograms=True), weight_stats(w[400:], OMEGA0, histograms=True)
    whole, pooled = weight_stats(w, OMEGA0, histograms=True), a.pooled(b)
    assert isinstance(pooled, WeightStats) and pooled.n == 1001 and pooled.omega0 == OMEGA0
    for name in MEANS:
        assert getattr(pooled, name) == pytest.approx(getattr(whole, name), rel=1e-14, abs=1e-17), name
    np.testing.assert_array_equal(pooled.phase_counts, whole.phase_counts)
    for other in (weight_stats(w, 30.0), weight_stats(w)):
        with pytest.raises(ValueError, match="different ω0"):
            a.pooled(other)


def test_weight_drift_against_numpy():
    """Pearson correlation (np.corrcoef), relative change and rms ratio written out, to 1e-12."""
    rng = np.random.default_rng(4)
    ref = rng.laplace(0.0, B, (16, 8))
    w = 0.8 * ref + rng.normal(0.0, 0.01, ref.shape)
    d = weight_drift(w, ref)
    assert d.n == ref.size
    assert d.correlation == pytest.approx(np.corrcoef(w.ravel(), ref.ravel())[0, 1], rel=1e-12)
    assert d.relative_change == pytest.approx(np.sqrt(np.sum((w - ref) ** 2) / np.sum(ref**2)), rel=1e-12)
    assert d.rms_ratio == pytest.approx(np.sqrt(np.mean(w**2) / np.mean(ref**2)), rel=1e-12)
    assert weight_drift(ref, ref).relative_change == 0.0


def test_weight_drift_degenerate_input():
    with pytest.raises(ValueError, match="cannot be compared"):
        weight_drift(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="empty"):
        weight_drift([], [])
    flat = weight_drift([1.0, 2.0], [0.5, 0.5])  # a constant reference: no correlation
    assert math.isnan(flat.correlation) and flat.relative_change == pytest.approx(math.sqrt(2.5) / math.sqrt(0.5))
    zero = weight_drift([1.0, 2.0], [0.0, 0.0])
    assert math.isnan(zero.relative_change) and math.isnan(zero.rms_ratio)


# ---------------------------------------------------------------------------------------------------------
# transitions between two records of a training run
# ---------------------------------------------------------------------------------------------------------
HALF = math.pi / OMEGA0  # distance between zeros of sin(ω0 w) at OMEGA0


def _two_steps(w0, w1, w2, omega0):
    w0, w1, w2 = (np.asarray(a, dtype=np.float64) for a in (w0, w1, w2))
    low, high = np.minimum(np.minimum(w0, w1), w2), np.maximum(np.maximum(w0, w1), w2)
    return weight_transitions(w0, w2, low, high, omega0)


def test_two_step_update_biper_every_kind_counted():
    # phases in units of the half-period π/ω0: start at 0.5 (k = 0), then
    #   a: 0.5 → 1.5 → 0.5  crossed a zero and came back           → round trip
    #   b: 0.5 → 1.5 → 1.4  crossed once                            → flip
    #   c: 0.5 → 1.5 → 2.5  crossed two zeros, same sign            → jump (2 zeros swept)
    #   d: 0.5 → 0.9 → 0.1  moved within its half-period            → nothing
    #   e: 0.5 → −0.5 → −1.5 crossed two zeros downwards            → jump
    #   f: −0.3 → 0.3 → −0.2 crossed 0 and back (negative side)     → round trip
    #   g: 0.5 → −0.5 → −0.4 crossed w = 0                          → flip
    start = np.array([0.5, 0.5, 0.5, 0.5, 0.5, -0.3, 0.5]) * HALF
    mid = np.array([1.5, 1.5, 1.5, 0.9, -0.5, 0.3, -0.5]) * HALF
    end = np.array([0.5, 1.4, 2.5, 0.1, -1.5, -0.2, -0.4]) * HALF
    t = _two_steps(start, mid, end, OMEGA0)
    assert (t.n, t.crossed, t.flips, t.round_trips, t.jumps, t.zeros_swept) == (7, 6, 2, 2, 2, 8)
    assert t.crossed == t.flips + t.round_trips + t.jumps
    assert (t.flip_ratio, t.round_trip_ratio) == (2 / 7, 2 / 7)
    # the flip is the change of the binarised weight sign(sin(ω0 w)) itself
    changed = np.sign(np.sin(OMEGA0 * start)) != np.sign(np.sin(OMEGA0 * end))
    assert int(changed.sum()) == t.flips


def test_two_step_update_sign_baseline_has_one_zero():
    # the same moves for sign(w): only w = 0 counts; crossing two zeros of sin is nothing for sign
    start = np.array([0.5, 0.5, -0.3, 0.5, 0.02])
    mid = np.array([1.5, -0.5, 0.3, -0.5, 0.04])
    end = np.array([0.5, 0.5, -0.2, -0.4, 0.03])
    t = _two_steps(start, mid, end, None)
    assert (t.crossed, t.flips, t.round_trips, t.jumps, t.zeros_swept) == (3, 1, 2, 0, 3)


def test_no_step_means_no_transition_and_bounds_are_checked():
    w = np.linspace(-0.3, 0.3, 101)
    t = weight_transitions(w, w, w, w, OMEGA0)
    assert (t.crossed, t.flips, t.round_trips, t.jumps, t.zeros_swept) == (0, 0, 0, 0, 0)
    with pytest.raises(ValueError, match="bound"):
        weight_transitions(w, w + 0.5, w, w, OMEGA0)  # high below end: not a running maximum
    with pytest.raises(ValueError, match="same number"):
        weight_transitions(w, w[:5], w, w, OMEGA0)


def test_period_index_parity_is_the_sign_of_the_sine():
    rng = np.random.default_rng(0)
    w = rng.laplace(0.0, 0.1, 100_000)
    k = period_index(w, OMEGA0)
    assert np.array_equal(np.where(k % 2 == 0, 1.0, -1.0), np.sign(np.sin(OMEGA0 * w)))
    with pytest.raises(ValueError, match="omega0"):
        period_index(w, -1.0)


def test_phase_histogram_and_windows_are_weight_stats():
    # the trajectory's phase numbers are weight_stats' (the ones fit-b reports): one bin per phase at known places
    w = (np.arange(36) + 0.5) * (math.pi / 36) / OMEGA0
    st = weight_stats(w, OMEGA0, histograms=True)
    assert st.phase_counts.tolist() == [1] * 36
    assert st.near_zero_frac == pytest.approx(8 / 36) and st.near_crest_frac == pytest.approx(8 / 36)
