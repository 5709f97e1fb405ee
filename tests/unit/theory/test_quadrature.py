"""Quadrature witness (scipy, half-period by half-period) against the closed form and the reference."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from biper_analysis.theory import analytic, quadrature

QUAD_RTOL = 1e-10  # the verify tolerance (witnesses.QUAD_RTOL); measured ~1e-14
REF = json.loads((Path(__file__).resolve().parents[2] / "reference" / "laplace_reference.json").read_text())


class LaplacePdf:
    """A minimal prior with only a pdf (exercises the general half-period path without priors.py)."""

    name = "laplace-pdf-only"
    is_symmetric = True

    def __init__(self, b: float) -> None:
        self.scale = b

    def pdf(self, w):
        return np.exp(-np.abs(w) / self.scale) / (2 * self.scale)


@pytest.mark.parametrize("x", [1e-6, 1e-4, 0.01, 0.3, 0.9548825, 3.0, 100.0, 1e4, 1e6])
def test_laplace_quadrature_matches_closed_form_across_range(x):
    b = 0.05
    w = x / b
    assert quadrature.expected_sin2(w, b) == pytest.approx(analytic.expected_sin2(w, b), rel=QUAD_RTOL)
    assert quadrature.expected_abs_sin(w, b) == pytest.approx(analytic.expected_abs_sin(w, b), rel=QUAD_RTOL)
    for g in (None, 0.25, 0.6, 1.0):
        assert quadrature.qe(w, b, g) == pytest.approx(analytic.qe(w, b, g), rel=QUAD_RTOL)


def test_quadrature_matches_reference_tightly():
    worst = 0.0
    for p in REF["points"][::4]:
        x = float(p["x"])
        m = quadrature.moments(x, 1.0)
        for key in ("e_sin2", "e_abs_sin", "e_abs_sin3", "e_sin4"):
            worst = max(worst, abs(m[key] / float(p[key]) - 1))
    assert worst < 1e-12


@pytest.mark.parametrize("x", [1e-3, 0.2, 0.9548825, 4.0, 40.0])
def test_general_pdf_path_half_period_sum(x):
    b = 0.05
    w, prior = x / b, LaplacePdf(b)
    assert quadrature.expected_abs_sin(w, prior=prior) == pytest.approx(analytic.expected_abs_sin(w, b), rel=QUAD_RTOL)
    assert quadrature.qe(w, gamma=0.6, prior=prior) == pytest.approx(analytic.qe(w, b, 0.6), rel=QUAD_RTOL)
    assert quadrature.qe(w, prior=prior) == pytest.approx(analytic.qe_min(w, b), rel=QUAD_RTOL)


def test_gaussian_prior_against_its_characteristic_function():
    from biper_analysis.laws import priors

    sigma = 0.04
    p = priors.Gaussian(sigma)
    for w in (2.0, 20.0, 80.0):
        s = w * sigma
        exact = -math.expm1(-2 * s * s) / 2  # E sin²(ωw) = (1 − φ(2ω))/2, φ(t) = exp(−σ²t²/2)
        assert quadrature.expected_sin2(w, prior=p) == pytest.approx(exact, rel=1e-9)


def test_arrays_and_errors():
    out = quadrature.expected_abs_sin(np.array([10.0, 20.0]), 0.05)
    np.testing.assert_allclose(out, analytic.expected_abs_sin(np.array([10.0, 20.0]), 0.05), rtol=QUAD_RTOL)
    with pytest.raises(ValueError, match="exactly one"):
        quadrature.expected_sin2(20.0, 0.05, prior=LaplacePdf(0.05))
    with pytest.raises(ValueError, match="exactly one"):
        quadrature.expected_sin2(20.0)
    with pytest.raises(TypeError, match="pdf"):
        quadrature.expected_sin2(20.0, prior=object())
    with pytest.raises(ValueError, match="omega0"):
        quadrature.expected_sin2(-1.0, 0.05)
