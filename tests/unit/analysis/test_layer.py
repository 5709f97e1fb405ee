"""analysis/layer.py: one layer's row; every law's entry from the same code, Laplace's equal to its closed forms;
closed-form fits on every weight, iterative fits on the shared subsample, held-out fits on the first half."""
from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.analysis import goodness
from biper_analysis.analysis.layer import analyze_layer, half_split
from biper_analysis.laws import GenNorm, Laplace
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats

OMEGA0 = 20.0


@pytest.mark.parametrize("gamma", [None, 0.6])
def test_laplace_entry_is_the_closed_form(gamma):
    """Through the generic entry the Laplace law gives exactly its closed forms: log-likelihood −n log(2b) − n at
    b = mean|w|, the KS distance to Laplace(0, b), analytic's moments, SE |ω0·dQE/dω0|/√n, and the held-out
    prediction from the first half's b."""
    w = Laplace(0.04).sample(np.random.default_rng(0), 64 * 72).astype(np.float32).reshape(64, 72)
    row, hist, fitted = analyze_layer("l.weight", w, OMEGA0, gamma)
    s = np.sort(w.ravel())
    first, second = half_split(w)
    b, n = row["b_loc0"], w.size
    e = row["models"]["laplace"]
    assert list(row["models"]) == ["laplace"] and fitted == {"laplace": Laplace(b)} and row["best_model"] == "laplace"
    assert e["loglik"] == -n * math.log(2.0 * b) - n and e["aic"] == 2 - 2 * e["loglik"]
    assert e["bic"] == math.log(n) - 2 * e["loglik"] and e["ks"] == goodness.ks_laplace_sorted(s, 0.0, b)
    assert (e["e_sin2_pred"], e["e_abs_sin_pred"]) == (analytic.expected_sin2(OMEGA0, b),
                                                        analytic.expected_abs_sin(OMEGA0, b))
    assert e["qe_pred"] == row["qe_pred"] == float(analytic.qe_from_moments(e["e_sin2_pred"], e["e_abs_sin_pred"],
                                                                              gamma))
    assert e["qe_pred_se"] == abs(OMEGA0 * float(analytic.dqe_domega0(OMEGA0, b, gamma))) / math.sqrt(n)
    b1 = weight_stats(first, OMEGA0).b
    assert e["oos"]["qe_pred"] == pytest.approx(float(analytic.qe(OMEGA0, b1, gamma)), rel=1e-15)
    assert e["oos"]["n_fit"] == first.size and e["oos"]["n_test"] == second.size
    assert e["fit_info"] == {"n_fit": n, "converged": True, "iterations": 0, "method": "closed form b = mean|w|"}
    assert hist.w_counts.sum() <= n and row["qe_pred_se"] == e["qe_pred_se"]


def test_closed_form_and_iterative_fits_on_small_and_big_layers():
    """Gaussian (closed form) uses every weight whatever the layer's size; gennorm (iterative) is fitted on all
    weights and again on the first half when the half is smaller than max_samples, else once on a subsample of the
    first half (that fit is then also the held-out one)."""
    w = GenNorm(0.04, 1.5).sample(np.random.default_rng(1), 40 * 50).reshape(40, 50)
    for max_samples, big in ((5000, False), (600, True)):
        row, _, fitted = analyze_layer("l.weight", w, OMEGA0, None, ("laplace", "gaussian", "gennorm"),
                                       max_samples=max_samples)
        assert list(row["models"]) == ["laplace", "gaussian", "gennorm"]
        assert fitted["gaussian"].sigma == pytest.approx(math.sqrt(np.mean(w * w)), rel=1e-14)
        g = row["models"]["gennorm"]
        assert g["fit_info"]["n_fit"] == (600 if big else w.size) and g["oos"]["n_fit"] == (600 if big else 1000)
        assert (g["oos"]["qe_pred"] == g["qe_pred"]) == big
        assert row["models"]["gaussian"]["oos"]["n_fit"] == 1000
        assert row["best_model"] == "gennorm" and g["qe_pred_se"] > 0          # the best law's SE (delta method)
        assert row["models"]["gaussian"]["qe_pred_se"] is None                 # not the best: not computed


def test_a_half_the_laws_cannot_fit_gives_nan_not_an_error():
    w = np.zeros((4, 300))
    w[2:] = np.random.default_rng(2).laplace(0.0, 0.05, (2, 300))
    w[3, 0] = np.nan
    row, _, _ = analyze_layer("l.weight", w, OMEGA0, None, ("laplace", "gennorm"))
    assert row["n"] == 1199 and row["n_nonfinite"] == 1
    for entry in row["models"].values():
        assert math.isnan(entry["oos"]["qe_pred"]) and math.isfinite(entry["qe_pred"])


def test_empty_and_all_zero_layers():
    row, hist, fitted = analyze_layer("l.weight", np.full((3, 3), np.nan), OMEGA0, None, ("laplace", "gennorm"))
    assert row["n"] == 0 and row["models"] == {} and hist is None and fitted == {} and math.isnan(row["qe_emp"])
    row, _, fitted = analyze_layer("l.weight", np.zeros((4, 4)), OMEGA0, 0.5)
    assert row["models"] == {} and fitted == {} and row["qe_pred"] == 0.25 and row["best_model"] is None


def test_models_is_the_deprecated_name_of_laws():
    w = np.random.default_rng(3).laplace(0.0, 0.05, (8, 8))
    with pytest.warns(DeprecationWarning, match="use laws="):
        old = analyze_layer("l.weight", w, OMEGA0, None, models=("laplace", "gaussian"))
    assert old[0] == analyze_layer("l.weight", w, OMEGA0, None, laws=("laplace", "gaussian"))[0]
