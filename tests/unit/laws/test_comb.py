"""laws/comb.py: the comb law: closed-form moments against numerical integration of its pdf, the exact log-pdf and
CDF, the sampler, the QE it predicts, and the EM fit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from biper_analysis.laws import Comb, fit_law, loglik
from tests.unit.laws import law_checks
from tests.unit.laws.law_checks import SPACING, W0

LAWS = [Comb(0.1, 0.0025, 0.006, 0.03, 0.08, W0), Comb(0.05, 0.004, 0.004, 0.0, 0.1, W0)]


def test_moments_match_numerical_integration():
    """Closed-form comb moments (shifted-Laplace formula) vs adaptive quadrature of its pdf, ω = ω0 and ω ≠ ω0."""
    law = Comb(sigma=0.1, d0=0.0025, d1=0.006, eps=0.03, b=0.08, omega0=W0)
    peaks = list(np.arange(-8, 9) * SPACING)
    for omega in (W0, 13.7, 31.0):
        pts = sorted(set(peaks) | set(np.arange(-40, 41) * math.pi / omega))
        edges = [-4.0] + [p for p in pts if -4.0 < p < 4.0] + [4.0]
        for power, method in ((2, law.expected_sin2), (1, law.expected_abs_sin)):

            def integrand(x, om=omega, pw=power):
                return float(law.pdf(x) * np.abs(np.sin(om * x)) ** pw)

            val = sum(
                integrate.quad(integrand, lo, hi, epsabs=1e-18, epsrel=1e-13, limit=200)[0]
                for lo, hi in zip(edges[:-1], edges[1:])
            )
            assert law_checks.rel(method(omega), val) < 1e-10


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_protocol(law):
    law_checks.check_interface_and_round_trip(law)
    law_checks.check_pdf_and_cdf(law, 4.0)
    law_checks.check_cdf_monotone_and_symmetric(law)


@pytest.mark.statistical
@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_sampler_matches_law(law):
    law_checks.check_sampler(law)


@pytest.mark.statistical
def test_predicted_qe_matches_sample_qe():
    law_checks.predicted_qe_within_4se(Comb(0.12, 0.0025, 0.006, 0.03, 0.1, W0))


def test_fit_recovers_parameters():
    true = Comb(0.12, 0.0025, 0.006, 0.03, 0.1, W0)
    x = true.sample(np.random.default_rng(3), 60000)
    law = fit_law(x, W0, "comb", max_samples=60000)
    assert law.fit_info["converged"] and law.fit_info["n_fit"] == 60000
    for k, v in true.params.items():
        assert law_checks.rel(law.params[k], v) < 0.08, (k, law.params[k], v)
    assert loglik(law, x) >= loglik(true, x) - 1e-3
