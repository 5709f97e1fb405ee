"""laws/phase.py: harmonic and maxent, the laws with peaks at the zeros and at the crests of sin(ω0 w): normaliser
and moments against the frozen 30-digit mpmath reference (one vectorised check per law, reporting the worst row),
the sine polynomial's peaks, density, CDF, sampler, the QE each predicts, the exact gradient of the fit, and maximum
likelihood (maxent reproduces the sample's sine moments)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from biper_analysis.laws import Harmonic, Maxent, fit_law
from biper_analysis.laws._quadrature import SinePolynomial
from biper_analysis.laws.phase import _objective
from tests.unit.laws import law_checks
from tests.unit.laws.law_checks import W0

REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "phase_laws_reference.json").read_text())
LAWS = [
    Harmonic(0.05, 1.2, 6.0, 2.0, 3.0, W0),
    Harmonic(0.06, 1.0, -2.0, -3.0, 1.5, W0),
    Maxent(0.05, 1.2, 12.0, 6.0, -8.0, W0),
    Maxent(0.04, 0.9, 30.0, 10.0, 0.0, W0),
]
CLASSES = {"harmonic": Harmonic, "maxent": Maxent}


def _reference_law(row: dict) -> object:
    return CLASSES[row["law"]](1.0, float(row["beta"]), *(float(c) for c in row["coefs"]), float(row["a"]))


@pytest.mark.parametrize("name", ["harmonic", "maxent"])
def test_moments_and_normaliser_match_mpmath(name):
    """Rows of 30-digit mpmath quadrature (tests/reference/generate_phase_laws_reference.py): β 0.8–3, ω0 s 0.05–8,
    zero-peaked, crest-peaked and mixed coefficients, ω = ω0, 1.5 ω0 and ω0/√2; 1e-10 relative (worst row named)."""
    rows = [r for r in REF["rows"] if r["law"] == name]
    assert len(rows) >= 8 and {r["omega_over_omega0"] for r in rows} >= {"1", "3/2", "0.7071067811865476"}
    law_checks.assert_reference(rows, _reference_law)


def test_the_sine_polynomial_has_its_peaks_at_zeros_and_crests_only():
    """V concave in sin²θ: its minima over a dense phase grid lie at 0 and π/2, where peaks() says."""
    theta = np.linspace(0.0, math.pi, 200001)
    for pot in (
        SinePolynomial(0.0, 5.0, 0.0),
        SinePolynomial(0.0, -5.0, 0.0),
        SinePolynomial(0.0, 2.0, 3.0),
        SinePolynomial(4.0, -8.0, 0.0),
        SinePolynomial(3.0, 1.0, 0.0),
    ):
        v = pot.value(theta)
        interior = (v[1:-1] < v[:-2]) & (v[1:-1] < v[2:])
        minima = set(np.round(theta[1:-1][interior], 3)) | ({0.0} if v[1] > v[0] else set())
        assert minima <= {0.0, round(math.pi / 2, 3)}, (pot, minima)
        peaks = {round(c, 3) for c, _ in pot.peaks()}
        assert minima == peaks, (pot, minima, peaks)
        assert pot.minimum() == pytest.approx(v.min() + pot.shift, abs=1e-9)
    with pytest.raises(ValueError, match="c_abs >= 0"):
        SinePolynomial(-1.0, 0.0, 0.0)


@pytest.mark.parametrize("law", LAWS, ids=lambda law: f"{law.name}-{law.params['s']}")
def test_protocol(law):
    law_checks.check_interface_and_round_trip(law)
    law_checks.check_pdf_and_cdf(law, hi=law.s * 40.0 ** (1.0 / law.beta))  # e^{-40}: no mass left beyond
    law_checks.check_cdf_monotone_and_symmetric(law)


@pytest.mark.statistical
@pytest.mark.parametrize("law", LAWS, ids=lambda law: f"{law.name}-{law.params['s']}")
def test_sampler_and_predicted_qe(law):
    law_checks.check_sampler(law)
    law_checks.predicted_qe_within_4se(law)


def test_sampling_by_inversion_matches_rejection():
    """Narrow peaks use the CDF inversion; both samplers draw the same law (two-sample KS, seeded)."""
    from scipy import stats

    law = Maxent(0.05, 1.2, 12.0, 6.0, -8.0, W0)
    a = law.sample(np.random.default_rng(1), 20000)
    b = law.sample_by_inversion(np.random.default_rng(2), 20000)
    assert stats.ks_2samp(a, b).pvalue > 1e-3


@pytest.mark.parametrize(
    "cls, x",
    [
        (Harmonic, [math.log(0.05), math.log(1.2), 6.0, -2.0, 3.0]),
        (Maxent, [math.log(0.05), math.log(1.2), 12.0, 6.0, -8.0]),
    ],
)
def test_the_fit_gradient_is_exact(cls, x):
    """The objective's gradient (data minus model moments) against central differences, 1e-6 relative."""
    w = Harmonic(0.05, 1.1, 4.0, 2.0, 3.0, W0).sample(np.random.default_rng(3), 5000)
    fun = _objective(cls, w, W0)
    x = np.array(x)
    f0, g = fun(x)
    h = 1e-6
    num = np.array([(fun(x + h * e)[0] - fun(x - h * e)[0]) / (2 * h) for e in np.eye(x.size)])
    np.testing.assert_allclose(g, num, rtol=1e-6, atol=1e-8)


@pytest.mark.statistical
def test_fits_recover_parameters_and_maxent_reproduces_the_sine_moments():
    rng = np.random.default_rng(5)
    true = Harmonic(0.05, 1.1, 4.0, 2.0, 3.0, W0)
    fit = fit_law(true.sample(rng, 40000), W0, "harmonic", max_samples=40000)
    assert fit.fit_info["converged"]
    for k in ("s", "beta", "kappa0", "kappa", "c"):
        assert fit.params[k] == pytest.approx(true.params[k], rel=0.25, abs=0.5), k
    w = Maxent(0.05, 1.2, 12.0, 6.0, -8.0, W0).sample(rng, 20000)
    law = fit_law(w, W0, "maxent", max_samples=20000)
    s = np.abs(np.sin(W0 * w))
    assert law.expected_abs_sin(W0) == pytest.approx(s.mean(), rel=1e-6)
    assert law.expected_sin2(W0) == pytest.approx(np.mean(s * s), rel=1e-6)
