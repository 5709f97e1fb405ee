"""laws/gaussian.py: N(0, σ²): moments (exp1m and the exact E|sin| fast path), density, CDF, sampler, the closed-form
fit and its log-likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from biper_analysis.laws import Gaussian, GenNorm, fit_law, loglik
from biper_analysis.theory.weights import weight_stats
from tests.unit.laws import law_checks


def test_protocol():
    law_checks.check_interface_and_round_trip(Gaussian(0.07))
    law_checks.check_cdf_monotone_and_symmetric(Gaussian(0.07))


def test_pdf_normalised_cf_and_stable_one_minus_cf():
    p = Gaussian(0.07)
    mass = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert abs(mass - 1) < 1e-9
    for t in (0.3 / p.scale, 1.0 / p.scale, 4.0 / p.scale):
        ref = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, weight="cos", wvar=t)[0]
        assert abs(float(p.characteristic_function(t)) - ref) < 1e-8
    t = np.array([1e-8, 1e-6]) / p.scale
    assert np.all(np.abs(p.one_minus_cf(t) / (0.5 * p.variance() * t * t) - 1) < 1e-5)


@pytest.mark.parametrize("sigma", [0.05, 0.3])
def test_logpdf_and_cdf_match_scipy(sigma):
    law, ref = Gaussian(sigma), stats.norm(scale=sigma)
    x = np.concatenate([-np.geomspace(1e-6, 40 * sigma, 500)[::-1], [0.0], np.geomspace(1e-6, 40 * sigma, 500)])
    np.testing.assert_allclose(law.logpdf(x), ref.logpdf(x), rtol=1e-13)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-13, atol=0)
    assert np.all(np.diff(law.cdf(x)) >= 0)


def test_moments_documented_and_gennorm_beta_2():
    assert abs(Gaussian(0.05).expected_sin2(20.0) - (1 - math.exp(-2)) / 2) < 1e-16
    om = np.array([1e-3, 0.7, 20.0, 3e4])
    g2, gauss = GenNorm(0.05, 2.0), Gaussian(0.05 / math.sqrt(2.0))
    np.testing.assert_allclose(g2.expected_sin2(om), gauss.expected_sin2(om), rtol=1e-13)
    np.testing.assert_allclose(g2.expected_abs_sin(om), gauss.expected_abs_sin(om), rtol=1e-13)


def test_closed_form_fit_and_loglik():
    x = stats.norm(scale=0.05).rvs(4000, random_state=np.random.default_rng(7))
    law = fit_law(x, law="gaussian")
    assert abs(law.sigma / stats.norm.fit(x, floc=0)[1] - 1) < 1e-13 and law.fit_info["n_fit"] == 4000
    assert Gaussian.fit([-3.0, 4.0]).sigma == math.sqrt(12.5)
    for sigma in (law.sigma, 0.08):
        assert Gaussian(sigma).loglik_of_stats(weight_stats(x)) == pytest.approx(loglik(Gaussian(sigma), x), rel=1e-13)


@pytest.mark.statistical
def test_sampler_variance_and_fit_recover_sigma():
    """400k seeded draws: variance within 5 SE; σ̂ within 5 SE (σ/√(2n))."""
    w = Gaussian(0.07).sample(np.random.default_rng(2), 400_000)
    assert abs(np.mean(w * w) - 0.07**2) < 5 * np.std(w * w) / math.sqrt(w.size)
    assert abs(Gaussian.fit(w).sigma - 0.07) < 5 * 0.07 / math.sqrt(2 * w.size)


@pytest.mark.statistical
def test_predicted_qe_matches_sample_qe():
    law_checks.predicted_qe_within_4se(Gaussian(0.05))
