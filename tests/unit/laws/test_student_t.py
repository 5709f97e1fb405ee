"""laws/student_t.py: the Student-t prior: characteristic function against mpmath's Bessel form, the stable 1 − φ,
the Gaussian limit, density, CDF, variance, sampler and scipy's MLE."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate, stats

from biper_analysis.laws import Gaussian, StudentT, law_from_dict
from tests.unit.laws import law_checks


@pytest.mark.parametrize("p", [StudentT(4.0, 0.03), StudentT(2.5, 1.0), StudentT(30.0, 0.2)], ids=repr)
def test_pdf_normalised_and_cf_is_its_fourier_transform(p):
    mass = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert abs(mass - 1) < 1e-9
    for t in (0.3 / p.scale, 1.0 / p.scale, 4.0 / p.scale):
        ref = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, weight="cos", wvar=t)[0]
        assert abs(float(p.characteristic_function(t)) - ref) < 1e-8


def test_one_minus_cf_stable_at_small_t():
    """df > 4: 1 − φ(t) ~ Var·t²/2 down to t·scale = 1e-8 (df ≤ 4 has a |t|^df correction too large for this
    tolerance; the mpmath test covers it)."""
    p = StudentT(30.0, 0.2)
    t = np.array([1e-8, 1e-6]) / p.scale
    assert np.all(np.abs(p.one_minus_cf(t) / (0.5 * p.variance() * t * t) - 1) < 1e-5)
    t = np.geomspace(0.5, 30, 9) / p.scale
    assert np.max(np.abs(p.one_minus_cf(t) - (1 - p.characteristic_function(t)))) < 1e-14


@pytest.mark.parametrize("df", [1.0, 2.5, 4.0, 10.0, 100.0])
def test_cf_against_mpmath_bessel(df):
    p = StudentT(df, 1.0)
    mp.mp.dps = 30
    mu = mp.mpf(df) / 2
    for t in (1e-4, 0.05, 0.5, 3.0):
        z = mp.sqrt(df) * mp.mpf(t)
        phi = z**mu * mp.besselk(mu, z) / (mp.gamma(mu) * 2 ** (mu - 1))
        # Bessel form in logs: terms of size ~μ log z cancel, so ~1e-16·(μ+1)·|log z| absolute
        assert abs(float(p.characteristic_function(t)) - float(phi)) < 5e-14
        assert abs(float(p.one_minus_cf(np.array(t))) / float(1 - phi) - 1) < 1e-13  # relative, stable form


@pytest.mark.parametrize("df", [1e3, 1e6])
def test_large_df_tends_to_gaussian(df):
    # K_ν overflows for large ν; the scale-mixture fallback must take over (Student-t → Gaussian as ν → ∞)
    t, g = StudentT(df=df, scale=1.0), Gaussian(1.0)
    for omega in (0.3, 1.0, 3.0):
        assert abs(t.expected_sin2(omega) - g.expected_sin2(omega)) < 5.0 / df
        assert abs(t.expected_abs_sin(omega) - g.expected_abs_sin(omega)) < 5.0 / df


def test_logpdf_cdf_variance_and_law_file():
    p = StudentT(4.0, 0.03)
    x = np.concatenate([-np.geomspace(1e-6, 3.0, 300)[::-1], [0.0], np.geomspace(1e-6, 3.0, 300)])
    ref = stats.t(4.0, scale=0.03)
    np.testing.assert_allclose(p.logpdf(x), ref.logpdf(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p.cdf(x), ref.cdf(x), rtol=1e-12)
    assert p.variance() == pytest.approx(0.0018, rel=1e-14)
    assert math.isinf(StudentT(2.0, 1.0).variance()) and math.isnan(StudentT(1.0, 1.0).variance())
    law_checks.check_interface_and_round_trip(p)
    assert law_from_dict(p.to_dict()) == p


@pytest.mark.statistical
def test_sampler_and_fit():
    """Sample variance within 5 SE (400k draws, df = 6); scipy's MLE within ~5 SE at n = 50k."""
    p = StudentT(6.0, 0.03)
    w = p.sample(np.random.default_rng(1), 400_000)
    assert abs(np.mean(w * w) - p.variance()) < 5 * np.std(w * w) / math.sqrt(w.size)
    t = StudentT.fit(StudentT(5.0, 0.03).sample(np.random.default_rng(2), 50_000))
    assert abs(t.df - 5.0) < 0.8 and abs(t.scale - 0.03) < 0.002
    with pytest.raises(ValueError, match="at least 3"):
        StudentT.fit([0.1, 0.2])
