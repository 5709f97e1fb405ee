"""γ conventions: predicted vs measured on weights, per-channel scale, official L1 (summed), sign baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.laws.priors import Gaussian, Laplace
from biper_analysis.theory import conventions
from biper_analysis.theory.weights import weight_stats

OMEGA0, B = 20.0, 0.05


@pytest.fixture(scope="module")
def laplace_weights():
    return np.random.default_rng(7).laplace(0.0, B, size=(256, 64, 3, 3))  # 147k weights, [C_out, ...]


def test_predicted_conventions_against_quadrature_and_written_out_forms():
    """Each predicted convention against an independent computation: scipy quadrature period by period (1e-10) or
    the formula written out here (sign baseline 2b² − 2γb + γ² under Laplace)."""
    from biper_analysis.theory import quadrature

    assert conventions.qe_optimal_gamma(OMEGA0, B) == pytest.approx(quadrature.qe(OMEGA0, B, None), rel=1e-10)
    assert conventions.qe_fixed_gamma(OMEGA0, 0.6, B) == pytest.approx(quadrature.qe(OMEGA0, B, 0.6), rel=1e-10)
    e2 = quadrature.moments(OMEGA0, B)["e_sin2"]
    assert conventions.normalised_qe(OMEGA0, B, 0.6) == pytest.approx(quadrature.qe(OMEGA0, B, 0.6) / e2, rel=1e-10)
    g = Gaussian(0.05)
    ratio = quadrature.qe(OMEGA0, gamma=None, prior=g) / quadrature.moments(OMEGA0, prior=g)["e_sin2"]
    assert conventions.normalised_qe(OMEGA0, prior=g) == pytest.approx(ratio, rel=1e-9)
    assert conventions.normalised_qe(OMEGA0, prior=Laplace(B)) == pytest.approx(
        quadrature.qe(OMEGA0, B, None) / e2, rel=1e-10
    )
    for gamma in (None, 0.03, 0.2):
        used = B if gamma is None else gamma
        assert conventions.qe_sign(B, gamma) == pytest.approx(2 * B * B - 2 * used * B + used * used, rel=1e-14)
    assert conventions.normalised_qe_sign(B) == pytest.approx(0.5, rel=1e-15)
    with pytest.raises(ValueError, match="gamma is required"):
        conventions.qe_fixed_gamma(OMEGA0, None, B)


def test_measured_conventions_are_the_weight_statistics(laplace_weights):
    """Each measured convention is the matching field of the one statistics function, exactly (the statistical
    agreement of those fields with the Laplace closed forms is tested once, in test_weights.py)."""
    st = weight_stats(laplace_weights, OMEGA0)
    assert conventions.official_l1_layer(laplace_weights, OMEGA0) == st.official_l1
    for gamma in (None, 1.0):
        assert conventions.qe_measured(laplace_weights, OMEGA0, gamma) == st.qe(gamma)
        assert conventions.normalised_qe_measured(laplace_weights, OMEGA0, gamma) == st.normalised_qe(gamma)
        assert conventions.qe_sign_measured(laplace_weights, gamma) == st.qe_sign(gamma)
        assert conventions.normalised_qe_sign_measured(laplace_weights, gamma) == st.normalised_qe_sign(gamma)
    for bad in ([], [[]]):
        with pytest.raises(ValueError, match="empty"):
            conventions.qe_measured(bad, OMEGA0)
    with pytest.raises(ValueError, match="single number"):
        conventions.qe_measured(laplace_weights, [20.0, 30.0])
    with pytest.raises(ValueError, match="gamma"):
        conventions.qe_measured(laplace_weights, OMEGA0, -1.0)


def test_per_channel_scale(laplace_weights):
    r = conventions.qe_per_channel(laplace_weights, OMEGA0)
    assert r["qe_per_channel"].shape == (256,) and r["gamma_per_channel"].shape == (256,)
    s = np.abs(np.sin(OMEGA0 * laplace_weights.reshape(256, -1)))
    gam = s.mean(axis=1)
    np.testing.assert_allclose(r["gamma_per_channel"], gam, rtol=1e-13)
    manual = np.mean((s - gam[:, None]) ** 2)
    assert r["qe"] == pytest.approx(manual, rel=1e-12)
    assert r["qe"] <= conventions.qe_measured(laplace_weights, OMEGA0) + 1e-15  # more scales never fit worse
    # a channel with constant |sin| has zero error
    assert conventions.qe_per_channel([[0.07, -0.07]], OMEGA0)["qe"] == 0.0


def test_official_l1_literal_and_summed():
    w = np.array([0.0, 0.01, -0.03, math.pi / OMEGA0])
    s = np.sin(OMEGA0 * w)
    assert conventions.official_l1_layer(w, OMEGA0) == pytest.approx(np.mean(np.abs(s - np.sign(s))), rel=1e-15)
    layers = {"l1": np.full(10, 0.02), "l2": np.array([0.05, -0.05]), "l3": np.array([-0.1])}
    r = conventions.official_l1_summed(layers, OMEGA0)
    assert r["n_layers"] == 3
    direct = sum(np.mean(np.abs(np.sin(OMEGA0 * v) - np.sign(np.sin(OMEGA0 * v)))) for v in layers.values())
    assert r["qe_sum"] == pytest.approx(direct, rel=1e-14)
    assert r["b_sum"] == pytest.approx(0.02 + 0.05 + 0.1, rel=1e-14)
    assert conventions.official_l1_summed(list(layers.values()), OMEGA0)["qe_sum"] == r["qe_sum"]
    with pytest.raises(ValueError, match="empty"):
        conventions.official_l1_summed({}, OMEGA0)


def test_compare_table():
    c = conventions.compare(OMEGA0, B, gamma=1.0)
    assert c["qe_optimal"] <= c["qe_fixed"]
    assert c["normalised_qe_sign_optimal"] == 0.5
    assert c["official_l1_per_layer"] == pytest.approx(1 - c["gamma_opt"], rel=1e-15)
