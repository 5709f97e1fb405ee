"""laws/penalised.py: penalised, penalised2 and penalised-alpha: normaliser and moments against the frozen mpmath
reference (one vectorised check per law, reporting the worst row) and the Bessel × characteristic-function series,
density, CDF, sampler, the QE each predicts, and maximum likelihood."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special

from biper_analysis.laws import Penalised, Penalised2, PenalisedAlpha, fit_law, loglik
from tests.unit.laws import law_checks
from tests.unit.laws.law_checks import REF, W0

LAWS = [
    Penalised(0.05, 1.3, 8.0, W0),
    Penalised(0.03, 0.7, 150.0, W0),
    Penalised(0.08, 2.0, 0.0, W0),
    Penalised2(0.12, 1.8, 6.0, 3.0, W0),
    Penalised2(0.03, 0.8, 0.0, 60.0, W0),
    PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 0.9, W0),
    PenalisedAlpha(0.05, 1.2, 30.0, 10.0, 1.6, W0),
]


# ------------------------------------------------------------------------------------------- references
def test_penalised_matches_mpmath():
    """131 rows: β 0.5–3, κ 0–200, ω0 s 1e-3–1e3, ω = ω0, 1.5 ω0, ω0/2, ω0/√2; 1e-10 relative."""
    law_checks.assert_reference(
        law_checks.reference_rows("penalised"),
        lambda r: Penalised(1.0, float(r["beta"]), float(r["kappa"]), float(r["a"])),
    )


def test_penalised2_matches_mpmath():
    law_checks.assert_reference(
        law_checks.reference_rows("penalised2"),
        lambda r: Penalised2(1.0, float(r["beta"]), float(r["kappa0"]), float(r["kappa"]), float(r["a"])),
    )


def test_penalised_alpha_matches_mpmath():
    law_checks.assert_reference(
        law_checks.reference_rows("penalised-alpha"),
        lambda r: PenalisedAlpha(
            1.0, float(r["beta"]), float(r["kappa0"]), float(r["kappa"]), float(r["alpha"]), float(r["a"])
        ),
    )


def test_reference_covers_the_required_box():
    rows = REF["rows"]
    betas = {float(r["beta"]) for r in rows}
    kappas = {float(r["kappa"]) for r in rows}
    a_vals = {float(r["a"]) for r in rows}
    assert min(betas) <= 0.5 and max(betas) >= 3 and min(kappas) == 0 and max(kappas) >= 200
    assert min(a_vals) <= 1e-3 and max(a_vals) >= 1e3
    other = [r for r in rows if r["omega_over_omega0"] != "1" and float(r["kappa"]) > 0]
    assert {float(r["a"]) for r in other} >= {1e-3, 1e3} and len(other) >= 20
    assert len(law_checks.reference_rows("penalised2")) >= 6
    alphas = {float(r["alpha"]) for r in law_checks.reference_rows("penalised-alpha")}
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
    cosj = np.sum(
        c[None, :] * 0.5 * (_phi_full(beta, 2 * n * a + 2 * j * b) + _phi_full(beta, 2 * n * a - 2 * j * b)), axis=1
    )
    # E|sin| = (4/π) Σ_j (1 − E cos 2jbu)/(4j²−1)  (Σ 1/(4j²−1) = 1/2): positive terms; beyond J = 20000 the
    # "1" part is summed exactly, Σ_{j>J} 1/(4j²−1) = 1/(2(2J+1)), and the cos part is < 1/(6 J³ b²)
    J = j.size
    terms = (z - cosj) / (4.0 * j[:, 0] ** 2 - 1.0)
    e_abs = (4.0 / math.pi) * (float(np.sum(terms[::-1])) / z + 0.5 / (2 * J + 1))
    return z, e_sin2, e_abs


@pytest.mark.parametrize("beta", [1, 2])
def test_moments_match_bessel_series(beta):
    """Second, independent witness for β ∈ {1, 2}, κ ∈ {0, 1, 20, 200}, five (ω0 s, ω/ω0): the worst relative error
    of 60 values below 1e-10 (the series converge here; measured 3e-12)."""
    errors = []
    for kappa in (0.0, 1.0, 20.0, 200.0):
        for a, ratio in [(0.5, 1.0), (1.0, 1.0), (3.0, 1.0), (1.0, 1.5), (2.0, 0.7071067811865476)]:
            z, e2, e1 = _series_moments(beta, kappa, a, a * ratio)
            law = Penalised(1.0, float(beta), kappa, a)
            got2, got1 = law.moments(a * ratio)
            errors += [
                (law_checks.rel(value, ref), kappa, a, ratio)
                for value, ref in ((law.normaliser(), z), (got2, e2), (got1, e1))
            ]
    worst = max(errors)
    assert worst[0] < 1e-10, f"worst relative error {worst[0]:.2e} at κ = {worst[1]}, a = {worst[2]}, ω/ω0 = {worst[3]}"


# --------------------------------------------------------------------------------- densities and CDFs
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
@pytest.mark.parametrize(
    "law",
    [Penalised(0.05, 1.2, 10.0, W0), Penalised2(0.12, 1.8, 6.0, 3.0, W0), PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 0.9, W0)],
    ids=repr,
)
def test_predicted_qe_matches_sample_qe(law):
    law_checks.predicted_qe_within_4se(law)


# ----------------------------------------------------------------------------------------- maximum likelihood
@pytest.mark.parametrize(
    "true",
    [
        Penalised(0.06, 1.3, 8.0, W0),
        Penalised(0.04, 0.8, 40.0, W0),
        Penalised2(0.12, 1.8, 6.0, 3.0, W0),
        PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 1.0, W0),
    ],
    ids=repr,
)
def test_fit_recovers_parameters(true):
    x = true.sample(np.random.default_rng(3), 60000)
    law = fit_law(x, W0, true.name, max_samples=60000)
    assert law.fit_info["converged"] and law.fit_info["n_fit"] == 60000
    for k, v in true.params.items():
        assert law_checks.rel(law.params[k], v) < 0.08, (k, law.params[k], v)
    # the MLE beats the truth on its own sample (up to optimiser tolerance)
    assert loglik(law, x) >= loglik(true, x) - 1e-3
