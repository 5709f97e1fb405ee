"""goodness.py (the fits and KS tests) against scipy.stats and direct numpy computations (tolerances stated per
test); weight_stats and weight_drift are tested in tests/unit/theory/test_weights.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as ss

from biper_analysis.analysis import goodness as fitting
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats


def _fit(w):
    s, bad = fitting.sorted_finite(w)
    return fitting.fit_layer(s), s


@pytest.mark.parametrize("n", [1001, 1000])  # odd and even n (median convention)
def test_laplace_fit_equals_scipy(n):
    rng = np.random.default_rng(n)
    w = rng.laplace(0.01, 0.04, n)
    fit, s = _fit(w)
    loc, scale = ss.laplace.fit(w)
    assert fit.loc == pytest.approx(loc, rel=1e-14, abs=1e-16)
    assert fit.b == pytest.approx(scale, rel=1e-13)
    assert weight_stats(w).b == pytest.approx(np.mean(np.abs(w)), rel=1e-13)
    assert np.array_equal(s, np.sort(w))


def test_laplace_fit_float32_input_agrees_with_float64_scipy():
    rng = np.random.default_rng(1)
    w = rng.laplace(0.0, 0.03, 50_000).astype(np.float32)
    fit, _ = _fit(w)
    loc, scale = ss.laplace.fit(w.astype(np.float64))
    assert fit.loc == pytest.approx(loc, rel=1e-12, abs=1e-15)
    assert fit.b == pytest.approx(scale, rel=1e-12)


def test_ks_and_gaussian_equal_scipy():
    rng = np.random.default_rng(2)
    w = rng.standard_t(5, 20_000) * 0.02
    fit, _ = _fit(w)
    loc, scale = ss.laplace.fit(w)
    mu, sigma = ss.norm.fit(w)
    assert fit.gaussian_mu == pytest.approx(mu, rel=1e-12)
    assert fit.gaussian_sigma == pytest.approx(sigma, rel=1e-12)
    assert fit.ks_laplace_freeloc == pytest.approx(ss.kstest(w, "laplace", args=(loc, scale)).statistic, rel=1e-10)
    assert fit.ks_gaussian == pytest.approx(ss.kstest(w, "norm", args=(mu, sigma)).statistic, rel=1e-10)


def test_aic_matches_scipy_loglik_and_prefers_the_true_law():
    rng = np.random.default_rng(3)
    w = rng.laplace(0.0, 0.05, 5000)
    fit, _ = _fit(w)
    loc, scale = ss.laplace.fit(w)
    mu, sigma = ss.norm.fit(w)
    ll_l = ss.laplace.logpdf(w, loc, scale).sum()
    ll_g = ss.norm.logpdf(w, mu, sigma).sum()
    assert fit.delta_aic == pytest.approx(-2 * (ll_l - ll_g), rel=1e-10)
    assert fit.delta_aic < 0
    g, _ = _fit(rng.normal(0.0, 0.05, 5000))
    assert g.delta_aic > 0


@pytest.mark.statistical
def test_b_ci_coverage():
    """95 % CI covers the true b in ~95 % of 400 repetitions; binomial SE ≈ 0.011, assert within 4 SE."""
    rng = np.random.default_rng(4)
    hits = 0
    reps = 400
    for _ in range(reps):
        fit, _ = _fit(rng.laplace(0.2, 0.05, 500))
        hits += fit.b_ci[0] <= 0.05 <= fit.b_ci[1]
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) < 4 * se


def test_nonfinite_weights_left_out_and_counted():
    rng = np.random.default_rng(5)
    w = rng.laplace(0.0, 0.02, 3000)
    bad = w.copy()
    bad[[3, 70, 900]] = [np.nan, np.inf, -np.inf]
    s, n_bad = fitting.sorted_finite(bad)
    fit = fitting.fit_layer(s)
    ref, _ = _fit(np.delete(w, [3, 70, 900]))
    assert n_bad == 3 and fit.n == 2997 and s.size == 2997
    assert fit.b == ref.b and fit.ks_laplace_freeloc == ref.ks_laplace_freeloc
    empty, n_empty = fitting.sorted_finite(np.array([np.nan, np.inf]))
    assert empty.size == 0 and n_empty == 2


def test_laplace_phase_probs_equal_sum_over_periods():
    """Bin probabilities of ω0·w mod π under Laplace(0, b) equal Σ_k of Laplace CDF differences (1e-12)."""
    omega0, b = 20.0, 0.04
    x = omega0 * b
    edges = np.linspace(0.0, math.pi, 13)
    p = analytic.laplace_phase_probs(x, edges)
    k = np.arange(-200, 200)[:, None]
    lo = (k * math.pi + edges[None, :-1]) / omega0
    hi = (k * math.pi + edges[None, 1:]) / omega0
    direct = (ss.laplace.cdf(hi, 0, b) - ss.laplace.cdf(lo, 0, b)).sum(axis=0)
    np.testing.assert_allclose(p, direct, rtol=1e-12, atol=1e-15)
    assert analytic.laplace_near_zero_frac(1e-4) == pytest.approx(1.0, abs=1e-12)
    crest = ((k * math.pi + math.pi / 2 + math.pi / 8) / omega0, (k * math.pi + math.pi / 2 - math.pi / 8) / omega0)
    direct_crest = (ss.laplace.cdf(crest[0], 0, b) - ss.laplace.cdf(crest[1], 0, b)).sum()
    assert analytic.laplace_near_crest_frac(x) == pytest.approx(direct_crest, rel=1e-12)
    assert analytic.laplace_near_crest_frac(1e4) == pytest.approx(0.25, abs=1e-4)  # a uniform phase: 1/4


@pytest.mark.parametrize("n", [5_000, 100_003])
@pytest.mark.parametrize("shift", [0.0, 0.3])  # a good fit and a bad one (bounds loose far from the max)
def test_ks_branch_and_bound_equals_full_evaluation(n, shift):
    """The block-bounded KS maximum is the exact maximum over all points (equal to 1e-15)."""
    rng = np.random.default_rng(n)
    s = np.sort(rng.laplace(0.0, 1.0, n).astype(np.float32))
    for loc, scale in [(shift, 1.0), (0.0, 1.0 + shift)]:
        full = ss.kstest(s.astype(np.float64), "laplace", args=(loc, scale)).statistic
        assert fitting.ks_laplace_sorted(s, loc, scale) == pytest.approx(full, rel=1e-12, abs=1e-15)
        full_g = ss.kstest(s.astype(np.float64), "norm", args=(loc, scale * 1.4)).statistic
        assert fitting.ks_gaussian_sorted(s, loc, scale * 1.4) == pytest.approx(full_g, rel=1e-12, abs=1e-15)


def test_fitting_and_report_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys, biper_analysis.analysis.goodness, biper_analysis.analysis.report, "
        "biper_analysis.analysis.checkpoints, "
        "biper_analysis.theory.weights, biper_analysis.cli; biper_analysis.cli.build_parser(); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
