"""Closed forms of biper_analysis.theory.analytic against the frozen 45-digit reference (tests/reference), properties,
limits, validation and the chunked/threaded evaluation."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import biper_analysis as ba
from biper_analysis import paper
from biper_analysis.theory import analytic

REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "laplace_reference.json").read_text())
POINTS = REF["points"]
XS = np.array([float(p["x"]) for p in POINTS])
RTOL = 1e-13  # every closed form to 1e-13 relative over 1e-6 <= x <= 1e6 (measured ≤ 2.4e-15)

PUBLIC = {
    "e_sin2": lambda w, b: analytic.expected_sin2(w, b),
    "e_abs_sin": lambda w, b: analytic.expected_abs_sin(w, b),
    "qe_min": lambda w, b: analytic.qe_min(w, b),
    "official_l1": lambda w, b: analytic.official_l1(w, b),
    **{f"qe_gamma_{g}": (lambda w, b, g=g: analytic.qe(w, b, float(g))) for g in REF["gammas"]},
}
KERNELS = {
    "e_sin2": analytic.e_sin2_of_x,
    "e_abs_sin": analytic.e_abs_sin_of_x,
    "qe_min": analytic.qe_min_of_x,
    "e_abs_sin3": analytic.e_abs_sin3_of_x,
    "e_sin4": analytic.e_sin4_of_x,
    "d_e_sin2_dx": analytic.d_e_sin2_dx,
    "d_e_abs_sin_dx": analytic.d_e_abs_sin_dx,
}


def ref(key: str) -> np.ndarray:
    return np.array([float(p[key]) for p in POINTS])


def rel_err(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(got) / want - 1.0)


def test_reference_covers_full_range():
    assert XS.min() <= 1e-6 and XS.max() >= 1e6 and len(XS) >= 49
    assert REF["digits"] >= 40


@pytest.mark.parametrize("key", sorted(PUBLIC))
def test_public_closed_forms_match_reference_scalar_and_array(key):
    want = ref(key)
    arr = PUBLIC[key](XS, 1.0)  # array path, b = 1 so x is exact
    assert rel_err(arr, want).max() < RTOL, (key, XS[np.argmax(rel_err(arr, want))])
    scal = np.array([PUBLIC[key](float(x), 1.0) for x in XS])  # scalar path
    assert rel_err(scal, want).max() < RTOL
    # through omega0 = x / b with b != 1: x = omega0*b is then within an ulp or two of the reference x
    b = 0.037
    assert rel_err(PUBLIC[key](XS / b, b), want).max() < RTOL


@pytest.mark.parametrize("key", sorted(KERNELS))
def test_kernels_match_reference(key):
    got = KERNELS[key](XS.copy())
    assert rel_err(got, ref(key)).max() < RTOL, (key, XS[np.argmax(rel_err(got, ref(key)))])


def test_dqe_domega0_matches_reference_derivative():
    # b = 1, gamma = None: dQE_min/dx. Relative error is meaningless at the peak's zero crossing, so scale by
    # the size of the two terms it is made of.
    want = ref("d_qe_min_dx")
    scale = np.abs(ref("d_e_sin2_dx")) + 2 * ref("e_abs_sin") * np.abs(ref("d_e_abs_sin_dx"))
    got = analytic.dqe_domega0(XS, 1.0)
    assert (np.abs(got - want) / scale).max() < RTOL
    # chain rule: dQE/dω0 = b dQE/dx
    b = 0.05
    np.testing.assert_allclose(analytic.dqe_domega0(XS / b, b), b * got, rtol=1e-12, atol=1e-300)


def test_qe_min_peak_matches_paper_and_reference():
    x, q = ba.qe_min_peak()
    assert round(x, paper.REPORTED_PEAK_DECIMALS) == paper.REPORTED_QE_MIN_PEAK_X
    assert round(q, paper.REPORTED_PEAK_DECIMALS) == paper.REPORTED_QE_MIN_PEAK
    xr, qr = float(REF["qe_min_peak"]["x"]), float(REF["qe_min_peak"]["qe_min"])
    assert abs(x - xr) / xr < 1e-12
    assert abs(q - qr) / qr < 1e-14
    assert ba.qe_min(x * 0.999, 1.0) < q and ba.qe_min(x * 1.001, 1.0) < q


def test_documented_values_and_public_api():
    assert ba.qe(20.0, 0.05, 0.6) == pytest.approx(0.105801153563579, rel=1e-14)
    assert ba.qe(20.0, 0.05) == pytest.approx(0.102794353695317, rel=1e-14)
    assert ba.optimal_gamma(20.0, 0.05) == pytest.approx(0.545165705363684, rel=1e-14)
    assert isinstance(ba.qe(20.0, 0.05), float)
    out = ba.qe(np.array([10.0, 20.0]), 0.05)
    assert isinstance(out, np.ndarray) and out.shape == (2,)


def test_broadcasting_over_all_three_arguments_equals_scalar_calls():
    w = np.array([1.0, 20.0, 300.0])[:, None, None]
    b = np.array([0.01, 0.05])[None, :, None]
    g = np.array([0.0, 0.3, 0.6, 1.0])[None, None, :]
    got = analytic.qe(w, b, g)
    assert got.shape == (3, 2, 4)
    for i, j, k in np.ndindex(got.shape):
        assert got[i, j, k] == pytest.approx(
            analytic.qe(float(w[i, 0, 0]), float(b[0, j, 0]), float(g[0, 0, k])), rel=4e-15, abs=1e-300
        )
    # non-contiguous input
    wt = np.linspace(1, 100, 60).reshape(6, 10).T
    np.testing.assert_allclose(analytic.qe_min(wt, 0.02), analytic.qe_min(np.ascontiguousarray(wt), 0.02), rtol=0)


def test_large_array_engine_threads_and_chunks_agree_with_moment_definition(monkeypatch):
    monkeypatch.setattr(analytic, "_THREADS", 2)
    rng = np.random.default_rng(0)
    n = analytic._PARALLEL_MIN + 12345  # exercises the threaded path and a partial last chunk
    w = rng.uniform(0.5, 300.0, n)
    b = np.exp(rng.uniform(np.log(1e-4), np.log(1.0), n))
    x = w * b
    for g in (None, 0.6):
        got = analytic.qe(w, b, g)
        want = analytic.qe_from_moments(analytic.e_sin2_of_x(x), analytic.e_abs_sin_of_x(x), g)
        assert rel_err(got, want).max() < 1e-14
    np.testing.assert_allclose(analytic.expected_abs_sin(w, b), analytic.e_abs_sin_of_x(x), rtol=4e-15)
    np.testing.assert_allclose(analytic.official_l1(w, b), 1.0 - analytic.e_abs_sin_of_x(x), rtol=4e-15)


def test_values_bit_identical_whatever_the_thread_count_and_scalar_or_array(monkeypatch):
    rng = np.random.default_rng(1)
    n = analytic._PARALLEL_MIN + 3 * analytic._CHUNK + 17  # threaded, uneven blocks, a partial last chunk
    w = np.exp(rng.uniform(np.log(0.5), np.log(500.0), n))
    b = np.exp(rng.uniform(np.log(1e-5), np.log(1.0), n))
    g = rng.uniform(0.0, 2.0, n)
    calls = [
        lambda: analytic.qe(w, b, g),
        lambda: analytic.qe(w, b, 0.6),
        lambda: analytic.qe_min(w, b),
        lambda: analytic.expected_abs_sin(w, b),
        lambda: analytic.official_l1(w, 0.05),
    ]
    by_threads = {}
    for threads in (1, 2):
        monkeypatch.setattr(analytic, "_THREADS", threads)
        by_threads[threads] = [call() for call in calls]
    for one, two in zip(by_threads[1], by_threads[2]):
        assert np.array_equal(one, two)
    # a scalar goes through the same kernels as one-element arrays: the same bits
    for i in rng.integers(0, n, 50):
        assert analytic.qe(float(w[i]), float(b[i]), float(g[i])) == by_threads[1][0][i]
        assert analytic.expected_abs_sin(float(w[i]), float(b[i])) == by_threads[1][3][i]
        assert analytic.e_abs_sin_of_x(float(w[i] * b[i])) == analytic.e_abs_sin_of_x(w[i : i + 1] * b[i : i + 1])[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        ((0.0, 0.05, 0.5), "omega0"),
        ((-1.0, 0.05, 0.5), "omega0"),
        ((20.0, 0.0, 0.5), "b"),
        ((20.0, -0.05, None), "b"),
        ((20.0, 0.05, -0.1), "gamma"),
        ((math.nan, 0.05, 0.5), "omega0"),
        ((20.0, math.inf, 0.5), "b"),
        ((20.0, 0.05, math.nan), "gamma"),
        (("abc", 0.05, 0.5), "omega0"),
    ],
)
def test_bad_input_raises_value_error_naming_argument(args, needle):
    with pytest.raises(ValueError, match=needle):
        analytic.qe(*args)


def test_bad_value_deep_inside_a_large_array_is_reported():
    w = np.full(analytic._PARALLEL_MIN + 5, 20.0)
    w[-3] = -1.0
    with pytest.raises(ValueError, match="omega0 must be > 0"):
        analytic.qe(w, 0.05, 0.5)
    b = np.full(100_000, 0.05)
    b[77_777] = np.nan
    with pytest.raises(ValueError, match="b must be finite"):
        analytic.expected_abs_sin(20.0, b)
    with pytest.raises(ValueError, match="omega0"):  # both negative: x > 0 but still refused
        analytic.qe_min(np.full(10, -1.0), np.full(10, -1.0))
    with pytest.raises(ValueError, match="1e-308"):
        analytic.qe(1e-200, 1e-200, 0.5)


def test_limits_at_both_ends():
    tiny, huge = 1e-300, 1e300
    for g in (0.0, 0.3, 1.0):
        assert analytic.qe(tiny, 1.0, g) == pytest.approx(g * g, abs=1e-300)
        assert analytic.qe(huge, 1.0, g) == pytest.approx(g * g - 4 * g / math.pi + 0.5, rel=1e-15)
    assert analytic.qe_min(huge, 1.0) == pytest.approx(analytic.QE_MIN_LIMIT_LARGE_X, rel=1e-15)
    assert analytic.optimal_gamma(huge, 1.0) == pytest.approx(analytic.GAMMA_OPT_LIMIT_LARGE_X, rel=1e-15)
    assert analytic.optimal_gamma(tiny, 1.0) == 0.0 and analytic.expected_sin2(tiny, 1.0) == 0.0
    # small-x asymptotics: QE_min ~ x², γ* ~ x
    x = 1e-7
    assert analytic.qe_min(x, 1.0) / x**2 == pytest.approx(1.0, rel=1e-12)
    assert analytic.optimal_gamma(x, 1.0) / x == pytest.approx(1.0, rel=1e-12)


def test_printed_form_naive_fails_where_documented_and_agrees_elsewhere():
    assert math.isnan(analytic.qe_printed_form_naive(1.0, 0.004, 0.5))
    assert analytic.qe_printed_form_naive(1.0, 1.0, 0.5) == pytest.approx(analytic.qe(1.0, 1.0, 0.5), rel=1e-14)
    # large x: the printed form loses ~1.4 ε x relative accuracy
    err = abs(analytic.qe_printed_form_naive(1e6, 1.0, 0.5) / float(ref("qe_gamma_0.5")[np.argmin(abs(XS - 1e6))]) - 1)
    assert err > 1e-12


def test_sign_baseline_and_normalised_forms():
    assert analytic.qe_sign(0.3, 0.2) == pytest.approx(2 * 0.09 - 2 * 0.2 * 0.3 + 0.04, rel=1e-15)
    assert analytic.qe_sign(0.3) == pytest.approx(0.09, rel=1e-15)
    assert analytic.normalised_qe_sign(0.3, 0.3) == pytest.approx(0.5, rel=1e-15)
    ratio = analytic.qe_min(20.0, 0.05) / analytic.expected_sin2(20.0, 0.05)
    assert analytic.normalised_qe(20.0, 0.05) == pytest.approx(ratio, rel=1e-15)


# ---- hypothesis properties --------------------------------------------------------------------------------
xs_st = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
gs_st = st.floats(min_value=0.0, max_value=3.0, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(x=xs_st, g=gs_st)
def test_property_qe_nonnegative_and_decomposes(x, g):
    q = analytic.qe(x, 1.0, g)
    assert q >= 0.0
    gs, qmin = analytic.optimal_gamma(x, 1.0), analytic.qe_min(x, 1.0)
    assert q == pytest.approx((g - gs) ** 2 + qmin, rel=1e-14, abs=1e-300)
    assert q >= qmin * (1 - 1e-15)


@settings(max_examples=300, deadline=None)
@given(x1=xs_st, x2=xs_st)
def test_property_gamma_opt_increasing_and_below_two_over_pi(x1, x2):
    lo, hi = sorted((x1, x2))
    g_lo, g_hi = analytic.optimal_gamma(lo, 1.0), analytic.optimal_gamma(hi, 1.0)
    assert g_hi >= g_lo * (1 - 4e-16)
    assert 0.0 < g_lo < 2 / math.pi and g_hi < 2 / math.pi


@settings(max_examples=100, deadline=None)
@given(g=gs_st)
def test_property_limits(g):
    assert analytic.qe(1e-9, 1.0, g) == pytest.approx(g * g, abs=3e-9 * max(g, 1e-9) + 1e-17)
    assert analytic.qe(1e9, 1.0, g) == pytest.approx(g * g - 4 * g / math.pi + 0.5, rel=1e-12, abs=1e-15)
    assert analytic.qe_min(1e9, 1.0) == pytest.approx(analytic.QE_MIN_LIMIT_LARGE_X, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(w=st.floats(min_value=0.5, max_value=500.0), b=st.floats(min_value=1e-3, max_value=0.5), g=gs_st)
def test_property_dqe_domega0_matches_central_difference(w, b, g):
    h = w * 1e-5
    fd = (analytic.qe(w + h, b, g) - analytic.qe(w - h, b, g)) / (2 * h)
    assert analytic.dqe_domega0(w, b, g) == pytest.approx(fd, rel=1e-6, abs=1e-9 * b)


def test_normalised_qe_limits_without_overflow():
    # QE_min / E sin² → 1/2 as x → 0 and → 1 − 8/π² as x → ∞, even where x² under/overflows
    import math

    from biper_analysis.theory.analytic import normalised_qe

    assert normalised_qe(20.0, 1e-160) == pytest.approx(0.5, rel=1e-15)
    assert normalised_qe(1.0, 1e300) == pytest.approx(1.0 - 8.0 / math.pi**2, rel=1e-12)
    assert normalised_qe(1.0, 1e-200, 0.0) == pytest.approx(1.0, rel=1e-15)  # γ = 0: QE = E sin²
