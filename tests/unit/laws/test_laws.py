"""Fitted weight laws (biper_analysis.laws): moments against frozen mpmath values and independent series, the
density/CDF/sampler of each law, maximum likelihood, the QE each law predicts, serialisation and bad input.

Tolerances and why:
* moments and normaliser vs tests/reference/laws_reference.json (mpmath, 30 digits): 1e-10 relative (measured
  worst 2.7e-14; see the module docstring of biper_analysis.laws);
* vs the Bessel × characteristic-function series (β = 1, 2): 1e-10 relative (measured worst 3e-12);
* statistical tests are seeded (repeatable); each states its k·SE or significance level.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special, stats

from biper_analysis import laws
from biper_analysis.laws import Comb, GenNorm, Penalised, Penalised2, PenalisedAlpha, fit_law, law_from_dict
from biper_analysis.laws.priors import Gaussian, Laplace
from biper_analysis.theory import analytic

REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "laws_reference.json").read_text())
W0 = 20.0
SPACING = math.pi / W0


def _ratio(text: str) -> float:
    return float(Fraction(text)) if ("/" in text or text == "1") else float(text)


def _rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


# ------------------------------------------------------------------------------------------- references
@pytest.mark.parametrize("row", REF["rows"],
                         ids=lambda r: f"b{r['beta']}-k{r['kappa']}-a{r['a']}-r{r['omega_over_omega0']}")
def test_moments_and_normaliser_match_mpmath(row):
    """Penalised(s=1, β, κ, ω0=a) (Penalised2 in rows with κ0, PenalisedAlpha in rows with α) at ω = a·ratio
    (κ = 0: also GenNorm) against the 30-digit values, 1e-10 relative."""
    beta, kappa, a = float(row["beta"]), float(row["kappa"]), float(row["a"])
    omega = a * _ratio(row["omega_over_omega0"])
    if "alpha" in row:
        law = PenalisedAlpha(1.0, beta, float(row["kappa0"]), kappa, float(row["alpha"]), a)
    elif "kappa0" in row:
        law = Penalised2(1.0, beta, float(row["kappa0"]), kappa, a)
    else:
        law = Penalised(1.0, beta, kappa, a)
    assert _rel(law.normaliser(), 2.0 * float(row["I_one"])) < 1e-10
    assert _rel(law.expected_sin2(omega), float(row["e_sin2"])) < 1e-10
    assert _rel(law.expected_abs_sin(omega), float(row["e_abs_sin"])) < 1e-10
    if kappa == 0:
        g = GenNorm(1.0, beta)
        assert _rel(g.expected_sin2(omega), float(row["e_sin2"])) < 1e-10
        assert _rel(g.expected_abs_sin(omega), float(row["e_abs_sin"])) < 1e-10


def test_reference_covers_the_required_box():
    rows = REF["rows"]
    betas = {float(r["beta"]) for r in rows}
    kappas = {float(r["kappa"]) for r in rows}
    a_vals = {float(r["a"]) for r in rows}
    assert min(betas) <= 0.5 and max(betas) >= 3 and min(kappas) == 0 and max(kappas) >= 200
    assert min(a_vals) <= 1e-3 and max(a_vals) >= 1e3
    other = [r for r in rows if r["omega_over_omega0"] != "1" and float(r["kappa"]) > 0]
    assert {float(r["a"]) for r in other} >= {1e-3, 1e3} and len(other) >= 20
    assert len([r for r in rows if "kappa0" in r and "alpha" not in r]) >= 6
    alphas = {float(r["alpha"]) for r in rows if "alpha" in r}
    assert min(alphas) <= 0.6 and max(alphas) >= 3 and len(alphas) >= 5


# ---------------------------------------------------------------- Bessel × characteristic function series
def _phi_full(beta: int, t: np.ndarray) -> np.ndarray:
    """∫_R e^{-|u|^β} cos(t u) du: 2/(1+t²) (β = 1), √π e^{-t²/4} (β = 2)."""
    return 2.0 / (1.0 + t * t) if beta == 1 else math.sqrt(math.pi) * np.exp(-0.25 * t * t)


def _series_moments(beta: int, kappa: float, a: float, b: float) -> tuple[float, float, float]:
    """Z_full, E sin²(bu), E|sin(bu)| from e^{-κ sin²θ} = Σ_n ε_n ive(n, κ/2) cos 2nθ and
    |sin t| = 2/π − (4/π)Σ_j cos(2jt)/(4j²−1)."""
    n = np.arange(0, int(kappa / 2 + 12 * math.sqrt(kappa + 1) + 40))
    c = np.where(n == 0, 1.0, 2.0) * special.ive(n, 0.5 * kappa)
    z = float(np.sum(c * _phi_full(beta, 2 * n * a)))
    cos2 = float(np.sum(c * 0.5 * (_phi_full(beta, 2 * n * a + 2 * b) + _phi_full(beta, 2 * n * a - 2 * b))))
    e_sin2 = 0.5 * (z - cos2) / z
    j = np.arange(1, 20001, dtype=np.float64)[:, None]
    cosj = np.sum(c[None, :] * 0.5 * (_phi_full(beta, 2 * n * a + 2 * j * b) + _phi_full(beta, 2 * n * a - 2 * j * b)),
                  axis=1)
    # E|sin| = (4/π) Σ_j (1 − E cos 2jbu)/(4j²−1)  (Σ 1/(4j²−1) = 1/2): positive terms; beyond J = 20000 the
    # "1" part is summed exactly, Σ_{j>J} 1/(4j²−1) = 1/(2(2J+1)), and the cos part is < 1/(6 J³ b²)
    J = j.size
    terms = (z - cosj) / (4.0 * j[:, 0] ** 2 - 1.0)
    e_abs = (4.0 / math.pi) * (float(np.sum(terms[::-1])) / z + 0.5 / (2 * J + 1))
    return z, e_sin2, e_abs


@pytest.mark.parametrize("beta", [1, 2])
@pytest.mark.parametrize("kappa", [0.0, 1.0, 20.0, 200.0])
@pytest.mark.parametrize("a, ratio", [(0.5, 1.0), (1.0, 1.0), (3.0, 1.0), (1.0, 1.5), (2.0, 0.7071067811865476)])
def test_moments_match_bessel_series(beta, kappa, a, ratio):
    """Second, independent witness for β ∈ {1, 2}: agreement to 1e-10 relative (the series converge here)."""
    z, e2, e1 = _series_moments(beta, kappa, a, a * ratio)
    law = Penalised(1.0, float(beta), kappa, a)
    assert _rel(law.normaliser(), z) < 1e-10
    assert _rel(law.expected_sin2(a * ratio), e2) < 1e-10
    assert _rel(law.expected_abs_sin(a * ratio), e1) < 1e-10


def test_gennorm_special_cases_are_laplace_and_gaussian():
    om = np.array([1e-3, 0.7, 20.0, 3e4])
    g1, g2 = GenNorm(0.05, 1.0), GenNorm(0.05, 2.0)
    np.testing.assert_allclose(g1.expected_sin2(om), Laplace(0.05).expected_sin2(om), rtol=1e-13)
    np.testing.assert_allclose(g1.expected_abs_sin(om), Laplace(0.05).expected_abs_sin(om), rtol=1e-13)
    gauss = Gaussian(0.05 / math.sqrt(2.0))
    np.testing.assert_allclose(g2.expected_sin2(om), gauss.expected_sin2(om), rtol=1e-13)
    np.testing.assert_allclose(g2.expected_abs_sin(om), gauss.expected_abs_sin(om), rtol=1e-13)


def test_comb_moments_match_numerical_integration():
    """Closed-form comb moments (shifted-Laplace formula) vs adaptive quadrature of its pdf, ω = ω0 and ω ≠ ω0."""
    law = Comb(sigma=0.1, d0=0.0025, d1=0.006, eps=0.03, b=0.08, omega0=W0)
    peaks = list(np.arange(-8, 9) * SPACING)
    for omega in (W0, 13.7, 31.0):
        pts = sorted(set(peaks) | set(np.arange(-40, 41) * math.pi / omega))
        edges = [-4.0] + [p for p in pts if -4.0 < p < 4.0] + [4.0]
        for power, method in ((2, law.expected_sin2), (1, law.expected_abs_sin)):
            def integrand(x, om=omega, pw=power):
                return float(law.pdf(x) * np.abs(np.sin(om * x)) ** pw)

            val = sum(integrate.quad(integrand, lo, hi, epsabs=1e-18, epsrel=1e-13, limit=200)[0]
                      for lo, hi in zip(edges[:-1], edges[1:]))
            assert _rel(method(omega), val) < 1e-10


# --------------------------------------------------------------------------------- densities and CDFs
LAWS = [GenNorm(0.04, 0.6), GenNorm(0.04, 2.7), Penalised(0.05, 1.3, 8.0, W0), Penalised(0.03, 0.7, 150.0, W0),
        Penalised(0.08, 2.0, 0.0, W0), Penalised2(0.12, 1.8, 6.0, 3.0, W0), Penalised2(0.03, 0.8, 0.0, 60.0, W0),
        PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 0.9, W0), PenalisedAlpha(0.05, 1.2, 30.0, 10.0, 1.6, W0),
        Comb(0.1, 0.0025, 0.006, 0.03, 0.08, W0), Comb(0.05, 0.004, 0.004, 0.0, 0.1, W0)]


def _edges(law, lo, hi):
    pts = np.arange(math.floor(lo / SPACING), math.ceil(hi / SPACING) + 1) * SPACING
    return np.unique(np.concatenate([[lo, 0.0, hi], pts[(pts > lo) & (pts < hi)]]))


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_pdf_integrates_to_one_and_cdf_is_its_integral(law):
    hi = law.scale * 60.0 ** (1.0 / law.beta) if law.name != "comb" else 4.0
    e = _edges(law, -hi, hi)
    pieces = [integrate.quad(lambda x: float(law.pdf(x)), lo, up, epsabs=1e-15, epsrel=1e-12, limit=200)[0]
              for lo, up in zip(e[:-1], e[1:])]
    assert abs(sum(pieces) - 1.0) < 1e-10
    F = law.cdf(e)
    np.testing.assert_allclose(np.diff(F), pieces, rtol=1e-9, atol=1e-13)
    assert abs(F[0]) < 1e-10 and abs(F[-1] - 1.0) < 1e-10
    assert abs(float(law.cdf(0.0)) - 0.5) < 1e-15
    x = e[1:-1][law.pdf(e[1:-1]) > 1e-300]
    np.testing.assert_allclose(law.logpdf(x), np.log(law.pdf(x)), rtol=1e-12)


@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_cdf_is_monotone_and_symmetric(law):
    x = np.concatenate([np.linspace(-1.0, 1.0, 200001), np.geomspace(1e-12, 1.0, 2001)])
    x.sort()
    F = law.cdf(x)
    assert np.all(np.diff(F) >= 0)
    np.testing.assert_allclose(F + law.cdf(-x), 1.0, atol=2e-16)


@pytest.mark.statistical
@pytest.mark.parametrize("law", LAWS, ids=repr)
def test_sampler_matches_law(law):
    """KS test of 20000 seeded draws against the law's own CDF at significance 1e-3 (fails 1 in 1000 seeds)."""
    x = law.sample(np.random.default_rng(12345), 20000)
    assert x.shape == (20000,) and x.dtype == np.float64
    assert stats.kstest(x, law.cdf).pvalue > 1e-3
    # and the second moment: |mean w² − Var| < 5 SE
    se = math.sqrt(np.var(x * x) / x.size)
    assert abs(np.mean(x * x) - law.variance()) < 5 * se


# ----------------------------------------------------------------------------------------- maximum likelihood
def test_mle_matches_scipy():
    rng = np.random.default_rng(7)
    x = stats.gennorm(1.4, scale=0.05).rvs(4000, random_state=rng)
    g = fit_law(x, model="gennorm", max_samples=10 ** 6)
    beta_s, _, s_s = stats.gennorm.fit(x, floc=0)
    assert _rel(g.beta, beta_s) < 2e-3 and _rel(g.s, s_s) < 2e-3
    assert laws.loglik(g, x) >= np.sum(stats.gennorm.logpdf(x, beta_s, scale=s_s)) - 1e-8
    assert _rel(fit_law(x, model="laplace").b, stats.laplace.fit(x, floc=0)[1]) < 1e-13
    assert _rel(fit_law(x, model="gaussian").sigma, stats.norm.fit(x, floc=0)[1]) < 1e-13
    assert abs(laws.loglik(g, x) - np.sum(stats.gennorm.logpdf(x, g.beta, scale=g.s))) < 1e-8


@pytest.mark.parametrize("true", [Penalised(0.06, 1.3, 8.0, W0), Penalised(0.04, 0.8, 40.0, W0),
                                  Penalised2(0.12, 1.8, 6.0, 3.0, W0), PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 1.0, W0),
                                  Comb(0.12, 0.0025, 0.006, 0.03, 0.1, W0)],
                         ids=repr)
def test_fit_recovers_parameters(true):
    x = true.sample(np.random.default_rng(3), 60000)
    law = fit_law(x, W0, true.name, max_samples=60000)
    assert law.fit_info["converged"] and law.fit_info["n_fit"] == 60000
    for k, v in true.params.items():
        assert _rel(law.params[k], v) < 0.08, (k, law.params[k], v)
    # the MLE beats the truth on its own sample (up to optimiser tolerance)
    assert laws.loglik(law, x) >= laws.loglik(true, x) - 1e-3


@pytest.mark.statistical
@pytest.mark.parametrize("true", [Laplace(0.05), Gaussian(0.05), GenNorm(0.04, 0.7), Penalised(0.05, 1.2, 10.0, W0),
                                  Penalised2(0.12, 1.8, 6.0, 3.0, W0), PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 0.9, W0),
                                  Comb(0.12, 0.0025, 0.006, 0.03, 0.1, W0)],
                         ids=repr)
def test_predicted_qe_matches_sample_qe(true):
    """QE_min = E sin² − (E|sin|)² of the law vs the QE measured on 400k of its own draws, within 4 SE."""
    x = true.sample(np.random.default_rng(11), 400_000)
    s = np.sin(W0 * x)
    a, q = np.abs(s), s * s
    m1, m2 = a.mean(), q.mean()
    var = np.var(q) - 4 * m1 * np.mean((q - m2) * (a - m1)) + 4 * m1 * m1 * np.var(a)
    se = math.sqrt(var / x.size)
    pred = float(analytic.qe_from_moments(true.expected_sin2(W0), true.expected_abs_sin(W0), None))
    assert abs(pred - (m2 - m1 * m1)) < 4 * se


def test_comb_fixture_prefers_peaked_laws_by_aic():
    """A layer whose weights sit in peaks at kπ/ω0 (like the first ResNet stage) is fitted better by comb and
    penalised than by Laplace (AIC), and comb predicts its QE far better than Laplace."""
    rng = np.random.default_rng(5)
    n = 2304
    k = rng.choice([-1, 0, 1], size=n, p=[0.23, 0.54, 0.23])
    off = np.where(k == 0, 0.048, 0.12) * rng.standard_t(4, size=n) / 1.0
    theta = np.where(rng.random(n) < 0.02, rng.uniform(-3 * math.pi, 3 * math.pi, n), k * math.pi + off)
    w = theta / W0
    aic = {m: 2 * laws.n_params(f) - 2 * laws.loglik(f, w) for m in laws.MODELS
           for f in [fit_law(w, W0, m)]}
    assert aic["comb"] < aic["laplace"] - 100 and aic["penalised"] < aic["laplace"] - 100
    assert aic["penalised2"] < aic["penalised"]
    s = np.sin(W0 * w)
    qe = np.mean(s * s) - np.mean(np.abs(s)) ** 2
    comb, lap = fit_law(w, W0, "comb"), fit_law(w, W0, "laplace")
    pred = {m: float(analytic.qe_from_moments(f.expected_sin2(W0), f.expected_abs_sin(W0), None))
            for m, f in (("comb", comb), ("laplace", lap))}
    assert abs(pred["comb"] / qe - 1) < 0.25 < abs(pred["laplace"] / qe - 1)


def test_fit_is_deterministic_and_subsamples():
    x = Penalised(0.05, 1.2, 10.0, W0).sample(np.random.default_rng(1), 50000).astype(np.float32)
    a, b = fit_law(x, W0, "comb", max_samples=5000, seed=4), fit_law(x, W0, "comb", max_samples=5000, seed=4)
    assert a == b and a.fit_info == b.fit_info and a.fit_info["n_fit"] == 5000
    assert fit_law(x, W0, "comb", max_samples=5000, seed=5) != a


def test_fit_is_bit_identical_across_thread_counts(tmp_path):
    code = ("import numpy as np, json; from biper_analysis import laws; "
            "x = laws.Penalised(0.05, 1.2, 10.0, 20.0).sample(np.random.default_rng(1), 30000); "
            "print(json.dumps({m: laws.fit_law(x, 20.0, m, max_samples=8000).params for m in laws.MODELS}))")
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                   check=True, timeout=120).stdout)
    assert outs[0] == outs[1] and outs[0].strip()


# ---------------------------------------------------------------------------------- interface, round trip
@pytest.mark.parametrize("law", LAWS + [laws.LaplaceLaw(0.05), laws.GaussianLaw(0.07)], ids=repr)
def test_interface_and_round_trip(law):
    for attr in ("name", "n_params", "params", "scale", "omega0", "is_symmetric"):
        assert hasattr(law, attr)
    assert law.is_symmetric is True and laws.n_params(law) == law.n_params
    d = law.to_dict()
    again = law_from_dict(json.loads(json.dumps(d)))
    assert again == law and again.to_dict() == d and type(again) is type(law)
    assert isinstance(law.expected_sin2(20.0), float)
    assert law.expected_abs_sin(np.array([10.0, 20.0])).shape == (2,)
    assert law.omega0 is None or law.omega0 == W0
    assert isinstance(repr(law), str)
    t = np.array([0.0, 1e-6, 3.0, 40.0])
    np.testing.assert_allclose(law.characteristic_function(t), 1 - law.one_minus_cf(t), atol=1e-15)


def test_plain_priors_work_with_module_functions():
    x = np.array([-0.1, 0.05, 0.2])
    for p in (Laplace(0.1), Gaussian(0.1)):
        assert laws.n_params(p) == 1
        assert laws.loglik(p, x) == pytest.approx(float(np.sum(np.log(p.pdf(x)))), rel=1e-13)
        again = law_from_dict(laws.law_to_dict(p))
        assert again.params == law_from_dict(again.to_dict()).params
        assert isinstance(again, type(p))


def test_penalised_at_other_omega_uses_the_direct_path():
    """ω/ω0 irrational: no common period; the result must still match the brute-force direct integration."""
    law = Penalised(0.05, 1.5, 30.0, W0)
    om = W0 * 0.7071067811865476
    u_end = laws._u_end(1.5, ("1",))
    direct = laws._direct(0.0, u_end, 1.5, 30.0, W0 * 0.05, om * 0.05, ("one", "sin2", "abs"), ("1",), grade=True)
    assert _rel(law.expected_abs_sin(om), float(direct[2, 0] / direct[0, 0])) < 1e-12


# --------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("weights, kwargs, needle", [
    ([], {}, "empty"),
    ([0.1, float("nan")], {}, "non-finite"),
    ([0.1, 0.2, -0.3], {"model": "penalised"}, "omega0"),
    ([0.1, 0.2, -0.3], {"model": "comb"}, "omega0"),
    ([0.1, 0.2, -0.3], {"model": "student"}, "unknown model"),
    ([0.0, 0.0], {"model": "laplace"}, "every weight is 0"),
    ([0.1, 0.2, -0.3], {"model": "gennorm", "max_samples": 1}, "max_samples"),
    (["a", "b"], {}, "real numbers"),
])
def test_bad_input_raises_one_line(weights, kwargs, needle):
    with pytest.raises(ValueError) as e:
        fit_law(weights, **kwargs)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


@pytest.mark.parametrize("make", [lambda: GenNorm(-1.0, 1.0), lambda: Penalised(0.1, 1.0, -1.0, 20.0),
                                  lambda: Comb(0.1, 0.01, 0.01, 1.5, 0.1, 20.0),
                                  lambda: Penalised(0.1, float("nan"), 1.0, 20.0)])
def test_bad_parameters_raise(make):
    with pytest.raises(ValueError):
        make()


def test_law_from_dict_rejects_bad_dicts():
    for d in ({"params": {}}, {"name": "gennorm", "params": {"s": 1.0}}, {"name": "zeta", "params": {}},
              {"name": "penalised", "params": {"s": 1.0, "beta": 1.0, "kappa": 1.0}, "omega0": None}):
        with pytest.raises(ValueError):
            law_from_dict(d)
    with pytest.raises(ValueError):
        Penalised(0.1, 1.0, 1.0, 20.0).expected_sin2(0.0)


@pytest.mark.statistical
def test_qe_prediction_se_matches_the_spread_of_refits():
    """Delta-method SE of the predicted QE vs the standard deviation of the prediction over 10 independent samples
    (n = 4000 each): the ratio must lie in [0.5, 2] (the sd of 10 draws is itself uncertain by ~25 %)."""
    true = Penalised(0.05, 1.2, 10.0, W0)
    preds, ses = [], []
    for seed in range(10):
        x = true.sample(np.random.default_rng(200 + seed), 4000)
        law = fit_law(x, W0, "penalised")
        preds.append(float(analytic.qe_from_moments(law.expected_sin2(W0), law.expected_abs_sin(W0), None)))
        if seed < 2:
            ses.append(laws.qe_prediction_se(law, x, W0))
    ratio = float(np.mean(ses)) / float(np.std(preds, ddof=1))
    assert 0.5 < ratio < 2.0
    lap = fit_law(x, model="laplace")
    expected = abs(W0 * float(analytic.dqe_domega0(W0, lap.b, None))) / math.sqrt(x.size)
    assert laws.qe_prediction_se(lap, x, W0) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("law, ref", [(laws.LaplaceLaw(0.05), stats.laplace(scale=0.05)),
                                      (laws.GaussianLaw(0.05), stats.norm(scale=0.05)),
                                      (Laplace(0.3), stats.laplace(scale=0.3)), (Gaussian(0.3), stats.norm(scale=0.3))],
                         ids=repr)
def test_laplace_and_gaussian_logpdf_cdf(law, ref):
    """The logpdf/cdf added to priors.Laplace and priors.Gaussian agree with scipy.stats (1e-13 relative, tails
    included) and the cdf is monotone."""
    x = np.concatenate([-np.geomspace(1e-6, 40 * law.scale, 500)[::-1], [0.0], np.geomspace(1e-6, 40 * law.scale, 500)])
    np.testing.assert_allclose(law.logpdf(x), ref.logpdf(x), rtol=1e-13)
    np.testing.assert_allclose(law.cdf(x), ref.cdf(x), rtol=1e-13, atol=0)
    assert np.all(np.diff(law.cdf(x)) >= 0)
