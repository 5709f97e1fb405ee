"""γ conventions: predicted vs measured on weights, per-channel scale, official L1 (summed), sign baseline."""
from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis import analytic as A
from biper_analysis import conventions as C
from biper_analysis.priors import Gaussian, Laplace

OMEGA0, B = 20.0, 0.05


@pytest.fixture(scope="module")
def laplace_weights():
    return np.random.default_rng(7).laplace(0.0, B, size=(256, 64, 3, 3))      # 147k weights, [C_out, ...]


def test_predicted_conventions_are_library_values():
    assert C.qe_optimal_gamma(OMEGA0, B) == A.qe(OMEGA0, B)
    assert C.qe_fixed_gamma(OMEGA0, 0.6, B) == A.qe(OMEGA0, B, 0.6)
    assert C.qe_sign(B) == pytest.approx(B * B, rel=1e-15)
    assert C.normalised_qe_sign(B) == 0.5
    assert C.normalised_qe(OMEGA0, B) == A.normalised_qe(OMEGA0, B)
    assert C.normalised_qe(OMEGA0, prior=Laplace(B)) == pytest.approx(A.normalised_qe(OMEGA0, B), rel=1e-14)
    g = Gaussian(0.05)
    assert C.normalised_qe(OMEGA0, prior=g) == pytest.approx(A.qe(OMEGA0, prior=g) / g.expected_sin2(OMEGA0))
    with pytest.raises(ValueError, match="gamma is required"):
        C.qe_fixed_gamma(OMEGA0, None, B)


@pytest.mark.statistical
def test_measured_matches_predicted_within_k_se(laplace_weights):
    """Sample estimates vs the Laplace closed forms, k = 5 standard errors (147k weights, seeded)."""
    w = laplace_weights.ravel()
    n = w.size
    s = np.abs(np.sin(OMEGA0 * w))
    # official L1 = 1 − mean|sin| (except exact zeros of sin): SE = std|sin|/√n
    l1 = C.official_l1_layer(laplace_weights, OMEGA0)
    assert abs(l1 - A.official_l1(OMEGA0, B)) < 5 * s.std() / math.sqrt(n)
    for gamma in (None, 1.0):
        g = s.mean() if gamma is None else gamma
        se = np.std((s - g) ** 2) / math.sqrt(n)
        assert abs(C.qe_measured(laplace_weights, OMEGA0, gamma) - A.qe(OMEGA0, B, gamma)) < 5 * se
    se_sign = np.std((np.abs(w) - B) ** 2) / math.sqrt(n)
    assert abs(C.qe_sign_measured(w) - B * B) < 5 * se_sign
    assert abs(C.normalised_qe_sign_measured(w) - 0.5) < 0.01
    assert abs(C.normalised_qe_measured(w, OMEGA0) - A.normalised_qe(OMEGA0, B)) < 0.01


def test_per_channel_scale(laplace_weights):
    r = C.qe_per_channel(laplace_weights, OMEGA0)
    assert r["qe_per_channel"].shape == (256,) and r["gamma_per_channel"].shape == (256,)
    s = np.abs(np.sin(OMEGA0 * laplace_weights.reshape(256, -1)))
    gam = s.mean(axis=1)
    np.testing.assert_allclose(r["gamma_per_channel"], gam, rtol=1e-13)
    manual = np.mean((s - gam[:, None]) ** 2)
    assert r["qe"] == pytest.approx(manual, rel=1e-12)
    assert r["qe"] <= C.qe_measured(laplace_weights, OMEGA0) + 1e-15          # more scales never fit worse
    # a channel with constant |sin| has zero error
    assert C.qe_per_channel([[0.07, -0.07]], OMEGA0)["qe"] == 0.0


def test_official_l1_literal_and_summed():
    w = np.array([0.0, 0.01, -0.03, math.pi / OMEGA0])
    s = np.sin(OMEGA0 * w)
    assert C.official_l1_layer(w, OMEGA0) == pytest.approx(np.mean(np.abs(s - np.sign(s))), rel=1e-15)
    layers = {"l1": np.full(10, 0.02), "l2": np.array([0.05, -0.05]), "l3": np.array([-0.1])}
    r = C.official_l1_summed(layers, OMEGA0)
    assert r["n_layers"] == 3
    assert r["qe_sum"] == pytest.approx(sum(C.official_l1_layer(v, OMEGA0) for v in layers.values()), rel=1e-15)
    assert r["b_sum"] == pytest.approx(0.02 + 0.05 + 0.1, rel=1e-14)
    assert C.official_l1_summed(list(layers.values()), OMEGA0)["qe_sum"] == r["qe_sum"]
    with pytest.raises(ValueError, match="empty"):
        C.official_l1_summed({}, OMEGA0)


def test_compare_table():
    c = C.compare(OMEGA0, B, gamma=1.0)
    assert c["qe_optimal"] <= c["qe_fixed"]
    assert c["normalised_qe_sign_optimal"] == 0.5
    assert c["official_l1_per_layer"] == pytest.approx(1 - c["gamma_opt"], rel=1e-15)
