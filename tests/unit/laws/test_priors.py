"""Priors: interface, parameterisations, stable 1 − φ, fits, the Laplace delegation and the empirical law."""
from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from scipy import integrate

import biper_analysis as ba
from biper_analysis.laws.priors import Empirical, Gaussian, Laplace, StudentT, make_prior
from biper_analysis.theory import analytic

PARAMETRIC = [Laplace(0.05), Gaussian(0.07), StudentT(4.0, 0.03), StudentT(2.5, 1.0), StudentT(30.0, 0.2)]


@pytest.mark.parametrize("p", PARAMETRIC, ids=repr)
def test_interface_and_pdf_normalised(p):
    assert isinstance(p.name, str) and p.is_symmetric is True and p.scale > 0
    mass = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert abs(mass - 1) < 1e-9
    assert p.pdf(np.array([0.01, -0.01]))[0] == p.pdf(np.array([0.01, -0.01]))[1]


@pytest.mark.parametrize("p", PARAMETRIC, ids=repr)
def test_cf_is_fourier_transform_of_pdf(p):
    """φ(t) = 2∫_0^∞ cos(t w) pdf(w) dw (quad's QAWF Fourier rule), to 1e-8 absolute."""
    for t in (0.3 / p.scale, 1.0 / p.scale, 4.0 / p.scale):
        ref = 2 * integrate.quad(lambda w: float(p.pdf(w)), 0, np.inf, weight="cos", wvar=t)[0]
        assert abs(float(p.characteristic_function(t)) - ref) < 1e-8


@pytest.mark.parametrize("p", [p for p in PARAMETRIC if getattr(p, "df", 99) > 4], ids=repr)
def test_one_minus_cf_stable_at_small_t(p):
    """1 − φ(t) ~ Var·t²/2 as t → 0, without cancellation down to t·scale = 1e-8.

    (Student-t with df ≤ 4 has a |t|^df correction too large for this tolerance; the mpmath test covers it.)
    """
    t = np.array([1e-8, 1e-6]) / p.scale
    ratio = p.one_minus_cf(t) / (0.5 * p.variance() * t * t)
    assert np.all(np.abs(ratio - 1) < 1e-5)
    # and it matches 1 − φ where there is no cancellation
    t = np.geomspace(0.5, 30, 9) / p.scale
    assert np.max(np.abs(p.one_minus_cf(t) - (1 - p.characteristic_function(t)))) < 1e-14


@pytest.mark.parametrize("df", [1.0, 2.5, 4.0, 10.0, 100.0])
def test_student_t_cf_against_mpmath_bessel(df):
    p = StudentT(df, 1.0)
    mp.mp.dps = 30
    mu = mp.mpf(df) / 2
    for t in (1e-4, 0.05, 0.5, 3.0):
        z = mp.sqrt(df) * mp.mpf(t)
        phi = z ** mu * mp.besselk(mu, z) / (mp.gamma(mu) * 2 ** (mu - 1))
        # Bessel form in logs: terms of size ~μ log z cancel, so ~1e-16·(μ+1)·|log z| absolute
        assert abs(float(p.characteristic_function(t)) - float(phi)) < 5e-14
        assert abs(float(p.one_minus_cf(np.array(t))) / float(1 - phi) - 1) < 1e-13   # relative, stable form


def test_laplace_delegates_to_closed_form_exactly():
    for om0, b in [(20.0, 0.05), (1.0, 1e-4), (300.0, 0.037), (7.0, 3.0)]:
        assert ba.qe(om0, prior=Laplace(b)) == ba.qe(om0, b)
    om = np.geomspace(1, 300, 17)
    # arrays: analytic's vectorised kernel fuses QE_min, so agreement is to rounding
    np.testing.assert_allclose(ba.qe(om, prior=Laplace(0.037)), ba.qe(om, 0.037), rtol=1e-15)
    # fixed γ: analytic.qe's fast kernel evaluates e2 − 2γe1 + γ² itself, so equality is to rounding only
    assert ba.qe(20.0, gamma=0.6, prior=Laplace(0.05)) == pytest.approx(ba.qe(20.0, 0.05, 0.6), rel=4e-16)
    np.testing.assert_allclose(ba.qe(om, gamma=1.0, prior=Laplace(0.037)), ba.qe(om, 0.037, 1.0), rtol=1e-15)
    assert Laplace(0.05).expected_abs_sin(20.0) == analytic.expected_abs_sin(20.0, 0.05)


def test_documented_values():
    assert abs(Gaussian(0.05).expected_sin2(20.0) - (1 - math.exp(-2)) / 2) < 1e-16
    assert abs(Laplace(0.05).variance() - 0.005) < 1e-18
    assert StudentT(4, 0.03).variance() == pytest.approx(0.0018, rel=1e-14)
    assert math.isinf(StudentT(2.0, 1.0).variance()) and math.isnan(StudentT(1.0, 1.0).variance())


def test_vectorised_float64():
    om = np.array([[1.0, 20.0], [100.0, 5.0]])
    for p in PARAMETRIC + [Empirical(np.linspace(-0.1, 0.1, 101))]:
        for f in (p.expected_sin2, p.expected_abs_sin):
            out = f(om)
            assert out.shape == om.shape and out.dtype == np.float64
            assert np.allclose(out[0, 1], f(20.0), rtol=1e-14, atol=0)
        assert isinstance(p.expected_sin2(20.0), float)


@pytest.mark.statistical
@pytest.mark.parametrize("p", PARAMETRIC[:3] + [StudentT(6.0, 0.03)], ids=repr)
def test_sample_variance(p):
    """Sample variance within k = 5 standard errors (SE from the sample fourth moment), n = 400k, seeded."""
    w = p.sample(np.random.default_rng(1), 400_000)
    assert w.dtype == np.float64 and w.shape == (400_000,)
    v = np.mean(w * w)
    se = np.std(w * w) / math.sqrt(w.size)
    assert abs(v - p.variance()) < 5 * se


@pytest.mark.statistical
def test_fits_recover_parameters():
    rng = np.random.default_rng(2)
    n = 200_000
    b = Laplace.fit(Laplace(0.04).sample(rng, n)).b
    assert abs(b - 0.04) < 5 * 0.04 / math.sqrt(n)                       # SE of mean|w| is b/√n
    s = Gaussian.fit(Gaussian(0.07).sample(rng, n)).sigma
    assert abs(s - 0.07) < 5 * 0.07 / math.sqrt(2 * n)                   # SE of σ̂ is σ/√(2n)
    t = StudentT.fit(StudentT(5.0, 0.03).sample(rng, 50_000))
    assert abs(t.df - 5.0) < 0.8 and abs(t.scale - 0.03) < 0.002         # ~5 SE of the MLE at n = 50k


def test_empirical_moments_are_direct_sample_means(monkeypatch):
    rng = np.random.default_rng(3)
    w = rng.laplace(0, 0.05, size=(64, 3, 3, 3))
    p = Empirical(w)
    om = np.array([1.0, 20.0, 300.0])
    s = np.sin(om[:, None] * w.ravel()[None, :])
    np.testing.assert_allclose(p.expected_sin2(om), np.mean(s * s, axis=1), rtol=1e-13)
    np.testing.assert_allclose(p.expected_abs_sin(om), np.mean(np.abs(s), axis=1), rtol=1e-13)
    import biper_analysis.theory.weights as weights

    monkeypatch.setattr(weights, "_CHUNK", 7)                              # many small chunks: same result
    np.testing.assert_allclose(p.expected_abs_sin(om), np.mean(np.abs(s), axis=1), rtol=1e-13)
    assert p.scale == pytest.approx(np.mean(np.abs(w)), rel=1e-14)
    assert Empirical.fit(w).weights.size == w.size
    with pytest.raises(TypeError, match="no pdf"):
        p.pdf(0.0)
    assert p.sample(np.random.default_rng(0), 10).shape == (10,)
    assert abs(complex(p.characteristic_function(20.0)) - np.mean(np.exp(20j * w))) < 1e-14


@pytest.mark.statistical
def test_empirical_qe_of_laplace_sample_matches_closed_form():
    """QE_min from 1M Laplace weights vs the closed form, k = 5 SE (SE by the delta method on (sin², |sin|))."""
    w = np.random.default_rng(4).laplace(0, 0.05, 1_000_000)
    q = ba.qe(20.0, prior=Empirical(w))
    s = np.abs(np.sin(20.0 * w))
    g = s.mean()
    se = np.std(s * s - 2 * g * s) / math.sqrt(w.size)
    assert abs(q - ba.qe(20.0, 0.05)) < 5 * se


def test_make_prior_and_validation():
    assert make_prior("laplace", 0.05) == Laplace(0.05)
    assert make_prior("Gaussian", 0.05) == Gaussian(0.05)
    assert make_prior("student-t", 0.03, df=4) == StudentT(4, 0.03)
    with pytest.raises(ValueError, match="df"):
        make_prior("student-t", 0.03)
    with pytest.raises(ValueError, match="laplace, gaussian, student-t"):
        make_prior("cauchy", 1.0)
    with pytest.raises(ValueError, match="b must be > 0"):
        Laplace(-1.0)
    with pytest.raises(ValueError, match="single number"):
        Gaussian([1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        Empirical([])


@pytest.mark.parametrize("df", [1e3, 1e6])
def test_student_t_large_df_tends_to_gaussian(df):
    # K_ν overflows for large ν; the scale-mixture fallback must take over (Student-t → Gaussian as ν → ∞)
    from biper_analysis.laws.priors import Gaussian, StudentT

    t, g = StudentT(df=df, scale=1.0), Gaussian(1.0)
    for omega in (0.3, 1.0, 3.0):
        assert abs(t.expected_sin2(omega) - g.expected_sin2(omega)) < 5.0 / df
        assert abs(t.expected_abs_sin(omega) - g.expected_abs_sin(omega)) < 5.0 / df
