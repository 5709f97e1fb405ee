"""laws/laplace.py: the paper's Laplace(0, b): closed-form moments (exactly analytic's), density, CDF, sampler,
characteristic function, the closed-form fit and its log-likelihood and QE standard error."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

import biper_analysis as ba
from biper_analysis.laws import Laplace, fit_law, loglik
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats
from tests.unit.laws import law_checks


def test_protocol():
    law_checks.check_interface_and_round_trip(Laplace(0.05))
    law_checks.check_cdf_monotone_and_symmetric(Laplace(0.05))


def test_pdf_normalised_and_cf_is_its_fourier_transform():
    p = Laplace(0.05)
    mass = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert abs(mass - 1) < 1e-9
    for t in (0.3 / p.scale, 1.0 / p.scale, 4.0 / p.scale):
        ref = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, weight="cos", wvar=t)[0]
        assert abs(float(p.characteristic_function(t)) - ref) < 1e-8


def test_one_minus_cf_stable_at_small_t():
    """1 − φ(t) ~ Var·t²/2 as t → 0, without cancellation down to t·b = 1e-8."""
    p = Laplace(0.05)
    t = np.array([1e-8, 1e-6]) / p.scale
    assert np.all(np.abs(p.one_minus_cf(t) / (0.5 * p.variance() * t * t) - 1) < 1e-5)
    t = np.geomspace(0.5, 30, 9) / p.scale
    assert np.max(np.abs(p.one_minus_cf(t) - (1 - p.characteristic_function(t)))) < 1e-14


@pytest.mark.parametrize("b", [0.05, 0.3])
def test_logpdf_and_cdf_match_scipy(b):
    """1e-13 relative, tails included; the CDF is monotone."""
    law, ref = Laplace(b), stats.laplace(scale=b)
    x = np.concatenate([-np.geomspace(1e-6, 40 * b, 500)[::-1], [0.0], np.geomspace(1e-6, 40 * b, 500)])
    np.testing.assert_allclose(law.logpdf(x), ref.logpdf(x), rtol=1e-13)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-13, atol=0)
    assert np.all(np.diff(law.cdf(x)) >= 0)


def test_moments_are_the_closed_form_exactly():
    for om0, b in [(20.0, 0.05), (1.0, 1e-4), (300.0, 0.037), (7.0, 3.0)]:
        assert ba.qe(om0, prior=Laplace(b)) == ba.qe(om0, b)
        assert Laplace(b).moments(om0) == (analytic.expected_sin2(om0, b), analytic.expected_abs_sin(om0, b))
    om = np.geomspace(1, 300, 17)
    # arrays: analytic's vectorised kernel fuses QE_min, so agreement is to rounding
    np.testing.assert_allclose(ba.qe(om, prior=Laplace(0.037)), ba.qe(om, 0.037), rtol=1e-15)
    # fixed γ: analytic.qe's fast kernel evaluates e2 − 2γe1 + γ² itself, so equality is to rounding only
    assert ba.qe(20.0, gamma=0.6, prior=Laplace(0.05)) == pytest.approx(ba.qe(20.0, 0.05, 0.6), rel=4e-16)
    np.testing.assert_allclose(ba.qe(om, gamma=1.0, prior=Laplace(0.037)), ba.qe(om, 0.037, 1.0), rtol=1e-15)
    assert abs(Laplace(0.05).variance() - 0.005) < 1e-18


def test_closed_form_fit_loglik_and_qe_se():
    """b̂ = mean|w| = scipy's MLE with the location at 0; the log-likelihood from the statistics equals the sum of
    logpdf; the closed-form SE of the QE is |ω0·dQE/dω0|/√n."""
    x = stats.laplace(scale=0.05).rvs(4000, random_state=np.random.default_rng(7))
    law = fit_law(x, law="laplace")
    assert law.b == weight_stats(x).b and abs(law.b / stats.laplace.fit(x, floc=0)[1] - 1) < 1e-13
    assert law.fit_info == {"n_fit": 4000, "converged": True, "iterations": 0, "method": "closed form b = mean|w|"}
    assert law.loglik_of_stats(weight_stats(x)) == pytest.approx(loglik(law, x), rel=1e-13)
    assert Laplace(0.07).loglik_of_stats(weight_stats(x)) == pytest.approx(loglik(Laplace(0.07), x), rel=1e-13)
    expected = abs(20.0 * float(analytic.dqe_domega0(20.0, law.b, 0.6))) / math.sqrt(x.size)
    assert law._qe_se_closed_form(20.0, 0.6, x.size) == expected
    assert Laplace.fit([-0.1, 0.3, 0.2]).b == pytest.approx(0.2, rel=1e-15)
    with pytest.raises(ValueError, match="every weight is 0"):
        fit_law([0.0, 0.0], law="laplace")


@pytest.mark.statistical
def test_sampler_variance_and_fit_recover_b():
    """400k seeded draws: sample variance within 5 SE of 2b² (SE from the fourth moment); b̂ within 5 SE (b/√n)."""
    w = Laplace(0.04).sample(np.random.default_rng(1), 400_000)
    assert w.dtype == np.float64 and w.shape == (400_000,)
    assert abs(np.mean(w * w) - Laplace(0.04).variance()) < 5 * np.std(w * w) / math.sqrt(w.size)
    assert abs(Laplace.fit(w).b - 0.04) < 5 * 0.04 / math.sqrt(w.size)
