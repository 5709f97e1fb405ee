"""weight_transitions / period_index: flips and zero crossings of the latent on constructed updates, answers known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.theory.weights import period_index, weight_stats, weight_transitions

OMEGA0 = 20.0
HALF = math.pi / OMEGA0          # distance between zeros of sin(ω0 w)


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
        weight_transitions(w, w + 0.5, w, w, OMEGA0)   # high below end: not a running maximum
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
