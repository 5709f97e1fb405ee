"""fitting.py against scipy.stats and direct numpy computations (tolerances stated per test)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss

from biper_analysis import fitting as F


@pytest.mark.parametrize("n", [1001, 1000])   # odd and even n (median convention)
def test_laplace_fit_equals_scipy(n):
    rng = np.random.default_rng(n)
    w = rng.laplace(0.01, 0.04, n)
    fit, s = F.fit_layer(w)
    loc, scale = ss.laplace.fit(w)
    assert fit.loc == pytest.approx(loc, rel=1e-14, abs=1e-16)
    assert fit.b == pytest.approx(scale, rel=1e-13)
    assert fit.b_loc0 == pytest.approx(np.mean(np.abs(w)), rel=1e-13)
    assert np.array_equal(s, np.sort(w))


def test_laplace_fit_float32_input_agrees_with_float64_scipy():
    rng = np.random.default_rng(1)
    w = rng.laplace(0.0, 0.03, 50_000).astype(np.float32)
    fit, _ = F.fit_layer(w)
    loc, scale = ss.laplace.fit(w.astype(np.float64))
    assert fit.loc == pytest.approx(loc, rel=1e-12, abs=1e-15)
    assert fit.b == pytest.approx(scale, rel=1e-12)


def test_ks_and_gaussian_equal_scipy():
    rng = np.random.default_rng(2)
    w = rng.standard_t(5, 20_000) * 0.02
    fit, _ = F.fit_layer(w)
    loc, scale = ss.laplace.fit(w)
    mu, sigma = ss.norm.fit(w)
    assert fit.gaussian_mu == pytest.approx(mu, rel=1e-12)
    assert fit.gaussian_sigma == pytest.approx(sigma, rel=1e-12)
    assert fit.ks_stat == pytest.approx(ss.kstest(w, "laplace", args=(loc, scale)).statistic, rel=1e-10)
    assert fit.ks_gaussian == pytest.approx(ss.kstest(w, "norm", args=(mu, sigma)).statistic, rel=1e-10)


def test_aic_matches_scipy_loglik_and_prefers_the_true_law():
    rng = np.random.default_rng(3)
    w = rng.laplace(0.0, 0.05, 5000)
    fit, _ = F.fit_layer(w)
    loc, scale = ss.laplace.fit(w)
    mu, sigma = ss.norm.fit(w)
    ll_l = ss.laplace.logpdf(w, loc, scale).sum()
    ll_g = ss.norm.logpdf(w, mu, sigma).sum()
    assert fit.delta_aic == pytest.approx(-2 * (ll_l - ll_g), rel=1e-10)
    assert fit.delta_aic < 0
    g, _ = F.fit_layer(rng.normal(0.0, 0.05, 5000))
    assert g.delta_aic > 0


@pytest.mark.statistical
def test_b_ci_coverage():
    """95 % CI covers the true b in ~95 % of 400 repetitions; binomial SE ≈ 0.011, assert within 4 SE."""
    rng = np.random.default_rng(4)
    hits = 0
    reps = 400
    for _ in range(reps):
        fit, _ = F.fit_layer(rng.laplace(0.2, 0.05, 500))
        hits += fit.b_ci[0] <= 0.05 <= fit.b_ci[1]
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) < 4 * se


def test_nonfinite_weights_left_out_and_counted():
    rng = np.random.default_rng(5)
    w = rng.laplace(0.0, 0.02, 3000)
    bad = w.copy()
    bad[[3, 70, 900]] = [np.nan, np.inf, -np.inf]
    fit, s = F.fit_layer(bad)
    ref, _ = F.fit_layer(np.delete(w, [3, 70, 900]))
    assert fit.n_nonfinite == 3 and fit.n == 2997 and s.size == 2997
    assert fit.b == ref.b and fit.ks_stat == ref.ks_stat
    empty, _ = F.fit_layer(np.array([np.nan, np.inf]))
    assert empty.n == 0 and empty.n_nonfinite == 2 and math.isnan(empty.b)


def test_sin_stats_float32_weights_within_1e_7_of_float64():
    """float32 weights are processed elementwise in float32 (sums in float64): within 1e-7 relative."""
    rng = np.random.default_rng(7)
    w = rng.laplace(0.0, 0.05, 100_000).astype(np.float32)
    st32, st64 = F.sin_stats(w, 20.0), F.sin_stats(w.astype(np.float64), 20.0)
    for k in ("e_sin2", "e_abs_sin", "official_l1", "var_sin2", "var_abs_sin", "cov"):
        assert getattr(st32, k) == pytest.approx(getattr(st64, k), rel=1e-7), k


def test_sin_stats_equal_direct_computation():
    rng = np.random.default_rng(6)
    w = np.concatenate([rng.laplace(0.0, 0.05, 30_001), [0.0, 0.0]]).astype(np.float32).astype(np.float64)
    omega0 = 20.0
    st = F.sin_stats(w, omega0, phase_bins=24)
    s = np.sin(omega0 * w.astype(np.float64))
    a = np.abs(s)
    assert st.e_sin2 == pytest.approx(np.mean(s * s), rel=1e-12)
    assert st.e_abs_sin == pytest.approx(np.mean(a), rel=1e-12)
    assert st.official_l1 == pytest.approx(np.mean(np.abs(s - np.sign(s))), rel=1e-12)
    counts, _ = np.histogram(np.mod(omega0 * w.astype(np.float64), np.pi), bins=np.linspace(0, np.pi, 25))
    assert np.array_equal(st.phase_counts, counts)
    theta = np.mod(omega0 * w.astype(np.float64), np.pi)
    assert st.near_zero_frac == pytest.approx(np.mean((theta < np.pi / 8) | (theta > 7 * np.pi / 8)), abs=1e-15)
    # standard errors: fixed γ is sd((|S| − γ)²)/√n; opt is the delta method = sd(S² − 2 m1 |S|)/√n
    se, method = st.qe_emp_se(0.6)
    assert method == "direct"
    assert se == pytest.approx(np.std((a - 0.6) ** 2) / math.sqrt(a.size), rel=1e-8)
    se, method = st.qe_emp_se(None)
    assert method == "delta-method"
    assert se == pytest.approx(np.std(s * s - 2 * np.mean(a) * a) / math.sqrt(a.size), rel=1e-8)


def test_laplace_phase_probs_equal_sum_over_periods():
    """Bin probabilities of ω0·w mod π under Laplace(0, b) equal Σ_k of Laplace CDF differences (1e-12)."""
    omega0, b = 20.0, 0.04
    x = omega0 * b
    edges = np.linspace(0.0, math.pi, 13)
    p = F.laplace_phase_probs(x, edges)
    k = np.arange(-200, 200)[:, None]
    lo = (k * math.pi + edges[None, :-1]) / omega0
    hi = (k * math.pi + edges[None, 1:]) / omega0
    direct = (ss.laplace.cdf(hi, 0, b) - ss.laplace.cdf(lo, 0, b)).sum(axis=0)
    np.testing.assert_allclose(p, direct, rtol=1e-12, atol=1e-15)
    assert F.laplace_near_zero_frac(1e-4) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n", [5_000, 100_003])
@pytest.mark.parametrize("shift", [0.0, 0.3])    # a good fit and a bad one (bounds loose far from the max)
def test_ks_branch_and_bound_equals_full_evaluation(n, shift):
    """The block-bounded KS maximum is the exact maximum over all points (equal to 1e-15)."""
    rng = np.random.default_rng(n)
    s = np.sort(rng.laplace(0.0, 1.0, n).astype(np.float32))
    for loc, scale in [(shift, 1.0), (0.0, 1.0 + shift)]:
        full = ss.kstest(s.astype(np.float64), "laplace", args=(loc, scale)).statistic
        assert F.ks_laplace_sorted(s, loc, scale) == pytest.approx(full, rel=1e-12, abs=1e-15)
        full_g = ss.kstest(s.astype(np.float64), "norm", args=(loc, scale * 1.4)).statistic
        assert F.ks_gaussian_sorted(s, loc, scale * 1.4) == pytest.approx(full_g, rel=1e-12, abs=1e-15)


def test_fitting_and_report_import_no_torch():
    import subprocess
    import sys

    code = ("import sys, biper_analysis.fitting, biper_analysis.report, biper_analysis.checkpoints; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
