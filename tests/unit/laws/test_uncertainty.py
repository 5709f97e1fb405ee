"""laws/uncertainty.py: the SE of a law's QE prediction (delta method; closed form where the law has one)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.laws import Comb, Gaussian, Laplace, Penalised, fit_law, qe_prediction_se
from biper_analysis.laws.uncertainty import _coords
from biper_analysis.theory import analytic
from tests.unit.laws.law_checks import W0


@pytest.mark.statistical
def test_se_matches_the_spread_of_refits():
    """Delta-method SE of the predicted QE vs the standard deviation of the prediction over 10 independent samples
    (n = 4000 each): the ratio must lie in [0.5, 2] (the sd of 10 draws is itself uncertain by ~25 %)."""
    true = Penalised(0.05, 1.2, 10.0, W0)
    preds, ses = [], []
    for seed in range(10):
        x = true.sample(np.random.default_rng(200 + seed), 4000)
        law = fit_law(x, W0, "penalised")
        preds.append(float(analytic.qe_from_moments(*law.moments(W0), None)))
        if seed < 2:
            ses.append(qe_prediction_se(law, x, W0))
    ratio = float(np.mean(ses)) / float(np.std(preds, ddof=1))
    assert 0.5 < ratio < 2.0


def test_closed_form_for_laplace_and_delta_method_otherwise():
    x = Laplace(0.05).sample(np.random.default_rng(0), 4000)
    lap = fit_law(x, law="laplace")
    expected = abs(W0 * float(analytic.dqe_domega0(W0, lap.b, None))) / math.sqrt(x.size)
    assert qe_prediction_se(lap, x, W0) == pytest.approx(expected, rel=1e-12)
    g = qe_prediction_se(Gaussian(0.05), x, W0)
    assert 0 < g < 10 * expected
    with pytest.raises(ValueError, match="needs omega0"):
        qe_prediction_se(lap, x)


def test_parameters_at_a_bound_are_fixed():
    assert _coords(Comb(0.1, 0.002, 0.005, 0.0, 0.1, W0)) == (["sigma", "d0", "d1", "b"], ["log"] * 4)
    assert _coords(Comb(0.1, 0.002, 0.005, 0.3, 0.1, W0))[1] == ["log", "log", "log", "logit", "log"]
    assert _coords(Penalised(0.05, 1.2, 0.0, W0)) == (["s", "beta"], ["log", "log"])
    assert qe_prediction_se(Penalised(0.05, 1.2, 0.0, W0), np.array([0.01, -0.02, 0.03]), W0) > 0
