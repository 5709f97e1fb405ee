"""laws/empirical.py: the empirical law of a sample: moments are direct sample means (chunking does not matter)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import biper_analysis as ba
from biper_analysis.laws import Empirical, law_to_dict


def test_moments_are_direct_sample_means(monkeypatch):
    rng = np.random.default_rng(3)
    w = rng.laplace(0, 0.05, size=(64, 3, 3, 3))
    p = Empirical(w)
    om = np.array([1.0, 20.0, 300.0])
    s = np.sin(om[:, None] * w.ravel()[None, :])
    np.testing.assert_allclose(p.expected_sin2(om), np.mean(s * s, axis=1), rtol=1e-13)
    np.testing.assert_allclose(p.expected_abs_sin(om), np.mean(np.abs(s), axis=1), rtol=1e-13)
    assert p.moments(om[1])[1] == p.expected_abs_sin(20.0) and p.expected_sin2(om[None, :]).shape == (1, 3)
    import biper_analysis.theory.weights as weights

    monkeypatch.setattr(weights, "_CHUNK", 7)  # many small chunks: same result
    np.testing.assert_allclose(p.expected_abs_sin(om), np.mean(np.abs(s), axis=1), rtol=1e-13)
    assert p.scale == pytest.approx(np.mean(np.abs(w)), rel=1e-14)
    assert abs(complex(p.characteristic_function(20.0)) - np.mean(np.exp(20j * w))) < 1e-14


def test_sample_cdf_and_what_it_refuses():
    w = np.random.default_rng(3).laplace(0, 0.05, size=500)
    p = Empirical(w)
    assert Empirical.fit(w).weights.size == w.size and p.is_symmetric is False
    assert p.sample(np.random.default_rng(0), 10).shape == (10,)
    assert float(p.cdf(np.inf)) == 1.0 and float(p.cdf(np.median(w))) == 0.5
    with pytest.raises(TypeError, match="no pdf"):
        p.pdf(0.0)
    with pytest.raises(TypeError, match="sample, not parameters"):
        law_to_dict(p)
    with pytest.raises(ValueError, match="empty"):
        Empirical([])


@pytest.mark.statistical
def test_qe_of_a_laplace_sample_matches_the_closed_form():
    """QE_min from 1M Laplace weights vs the closed form, k = 5 SE (SE by the delta method on (sin², |sin|))."""
    w = np.random.default_rng(4).laplace(0, 0.05, 1_000_000)
    q = ba.qe(20.0, prior=Empirical(w))
    s = np.abs(np.sin(20.0 * w))
    g = s.mean()
    se = np.std(s * s - 2 * g * s) / math.sqrt(w.size)
    assert abs(q - ba.qe(20.0, 0.05)) < 5 * se
