"""laws/gennorm.py: the generalised Gaussian: moments against the frozen mpmath reference (κ = 0 rows) and the
Laplace / Gaussian special cases, density, CDF, sampler, and the profile-likelihood MLE against scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from biper_analysis.laws import Gaussian, GenNorm, Laplace, fit_law, loglik
from tests.unit.laws import law_checks

LAWS = [GenNorm(0.04, 0.6), GenNorm(0.04, 2.7)]


def test_moments_match_mpmath():
    """The κ = 0 rows of tests/reference/laws_reference.json (20 rows: β 0.5–3, ω0 s 1e-3–1e3, ω ≠ ω0 too), 1e-10."""
    law_checks.assert_reference(
        law_checks.reference_rows("gennorm"), lambda r: GenNorm(1.0, float(r["beta"])), normaliser=False
    )


def test_special_cases_are_laplace_and_gaussian():
    om = np.array([1e-3, 0.7, 20.0, 3e4])
    g1, g2 = GenNorm(0.05, 1.0), GenNorm(0.05, 2.0)
    np.testing.assert_allclose(g1.expected_sin2(om), Laplace(0.05).expected_sin2(om), rtol=1e-13)
    np.testing.assert_allclose(g1.expected_abs_sin(om), Laplace(0.05).expected_abs_sin(om), rtol=1e-13)
    gauss = Gaussian(0.05 / math.sqrt(2.0))
    np.testing.assert_allclose(g2.expected_sin2(om), gauss.expected_sin2(om), rtol=1e-13)
    np.testing.assert_allclose(g2.expected_abs_sin(om), gauss.expected_abs_sin(om), rtol=1e-13)


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_protocol(law):
    law_checks.check_interface_and_round_trip(law)
    law_checks.check_pdf_and_cdf(law, law.scale * 60.0 ** (1.0 / law.beta))
    law_checks.check_cdf_monotone_and_symmetric(law)


@pytest.mark.statistical
@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_sampler_matches_law(law):
    law_checks.check_sampler(law)


@pytest.mark.statistical
def test_predicted_qe_matches_sample_qe():
    law_checks.predicted_qe_within_4se(GenNorm(0.04, 0.7))


def test_mle_matches_scipy():
    rng = np.random.default_rng(7)
    x = stats.gennorm(1.4, scale=0.05).rvs(4000, random_state=rng)
    g = fit_law(x, law="gennorm", max_samples=10**6)
    beta_s, _, s_s = stats.gennorm.fit(x, floc=0)
    assert law_checks.rel(g.beta, beta_s) < 2e-3 and law_checks.rel(g.s, s_s) < 2e-3
    assert loglik(g, x) >= np.sum(stats.gennorm.logpdf(x, beta_s, scale=s_s)) - 1e-8
    assert abs(loglik(g, x) - np.sum(stats.gennorm.logpdf(x, g.beta, scale=g.s))) < 1e-8
    assert g.fit_info["converged"] and g.fit_info["n_fit"] == 4000
