"""analysis/layer.py: one layer's row; every law's entry from the same code, Laplace's equal to its closed forms;
closed-form fits on every weight, iterative fits on the shared subsample, held-out fits on each half; channel SEs.
Constructed layers whose answer is known: tests/unit/analysis/test_layer_statistics.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.analysis import goodness
from biper_analysis.analysis.layer import analyze_layer, half_split
from biper_analysis.laws import GenNorm, Laplace, fit_laws
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats

OMEGA0 = 20.0


@pytest.mark.parametrize("gamma", [None, 0.6])
def test_laplace_entry_is_the_closed_form(gamma):
    """Through the generic entry the Laplace law gives exactly its closed forms: the log-likelihood −n log(2b) − n at
    b = mean|w| (scored on the shared subsample: here every weight), the KS distance to Laplace(0, b), analytic's
    moments, SE |ω0·dQE/dω0|/√n, and out of sample each half's prediction from the other half's b."""
    w = Laplace(0.04).sample(np.random.default_rng(0), 64 * 72).astype(np.float32).reshape(64, 72)
    row, hist, fitted = analyze_layer("l.weight", w, OMEGA0, gamma)
    s = np.sort(w.ravel())
    first, second = half_split(w)
    b, n = row["b_loc0"], w.size
    e = row["models"]["laplace"]
    assert list(row["models"]) == ["laplace"] and fitted == {"laplace": Laplace(b)} and row["best_model"] == "laplace"
    assert e["loglik"] == pytest.approx(-n * math.log(2.0 * b) - n, rel=1e-12) and e["n_loglik"] == n
    assert e["aic"] == 2 - 2 * e["loglik"] and e["bic"] == math.log(n) - 2 * e["loglik"]
    assert e["ks"] == goodness.ks_laplace_sorted(s, 0.0, b)
    assert (e["e_sin2_pred"], e["e_abs_sin_pred"]) == (
        analytic.expected_sin2(OMEGA0, b),
        analytic.expected_abs_sin(OMEGA0, b),
    )
    assert (
        e["qe_pred"] == row["qe_pred"] == float(analytic.qe_from_moments(e["e_sin2_pred"], e["e_abs_sin_pred"], gamma))
    )
    assert e["qe_pred_se"] == abs(OMEGA0 * float(analytic.dqe_domega0(OMEGA0, b, gamma))) / math.sqrt(n)
    for key, train, test in (("a_to_b", first, second), ("b_to_a", second, first)):
        d = e["oos"][key]
        assert d["qe_pred"] == pytest.approx(
            float(analytic.qe(OMEGA0, weight_stats(train, OMEGA0).b, gamma)), rel=1e-15
        )
        assert d["qe_emp"] == weight_stats(test, OMEGA0).qe(gamma) and d["n_test"] == test.size
        assert d["rel_err"] == (d["qe_pred"] - d["qe_emp"]) / d["qe_emp"] and d["se"] > 0
    assert e["fit_info"] == {"n_fit": n, "converged": True, "iterations": 0, "method": "closed form b = mean|w|"}
    assert hist.w_counts.sum() <= n and row["qe_pred_se"] == e["qe_pred_se"]
    assert row["best_qe_pred"] == e["oos"]["qe_pred"] and row["best_rel_err"] == e["oos"]["rel_err"]


def test_every_law_is_fitted_on_the_whole_layer_and_on_each_half_and_scored_on_the_same_subsample():
    """Closed forms on every weight (of the layer, of each half); iterative fits on a seeded subsample of at most
    max_samples of those weights; every law's in-sample likelihood on one shared subsample (so nested laws keep
    their order); the held-out likelihood of each half under the law fitted on the other."""
    w = GenNorm(0.04, 1.5).sample(np.random.default_rng(1), 40 * 50).reshape(40, 50)
    row, _, fitted = analyze_layer("l.weight", w, OMEGA0, None, ("laplace", "gaussian", "gennorm"), max_samples=600)
    assert fitted["gaussian"].sigma == pytest.approx(math.sqrt(np.mean(w * w)), rel=1e-14)
    g, lap = row["models"]["gennorm"], row["models"]["laplace"]
    assert g["fit_info"]["n_fit"] == 600 and g["n_loglik"] == lap["n_loglik"] == 600
    assert g["oos"]["a_to_b"]["n_fit"] == g["oos"]["b_to_a"]["n_fit"] == 600
    assert row["models"]["gaussian"]["oos"]["a_to_b"]["n_fit"] == 1000
    assert g["loglik"] >= lap["loglik"]  # gennorm nests Laplace: scored on the weights it was fitted to
    first, second = (h.ravel() for h in half_split(w))
    held = fit_laws(first, OMEGA0, ("gennorm",), max_samples=600, seed=1)["gennorm"]
    assert g["oos"]["a_to_b"]["loglik"] == pytest.approx(float(np.sum(held.logpdf(second))), rel=1e-12)
    assert row["best_model_in_sample"] == min(row["models"], key=lambda m: row["models"][m]["aic"])
    assert row["best_model"] == max(row["models"], key=lambda m: row["models"][m]["oos"]["heldout_loglik"])
    assert row["models"][row["best_model_in_sample"]]["qe_pred_se"] > 0  # the in-sample best's SE


def test_channel_clustered_se_widens_with_correlated_channels_and_is_used_in_the_verdicts():
    """Channels whose weights share a scale (b_c lognormal around 0.04, σ_log = 0.8): the channel-clustered SE of the
    measured QE is larger than the iid one (1.9–2.8× over 20 seeds; asserted > 1.5×), and the row's SE (what
    tolerances use) is the larger of the two; iid weights give a ratio near 1 (0.88–1.10 over 20 seeds)."""
    rng = np.random.default_rng(4)
    scales = 0.04 * np.exp(0.8 * rng.standard_normal(64))
    w = rng.laplace(0.0, 1.0, (64, 288)) * scales[:, None]
    row, _, _ = analyze_layer("l.weight", w, OMEGA0, None)
    assert row["qe_emp_se_channel"] > 1.5 * row["qe_emp_se_iid"]
    assert row["qe_emp_se"] == row["qe_emp_se_channel"] and row["n_channels"] == 64
    iid = np.random.default_rng(5).laplace(0.0, 0.04, (64, 288))
    row, _, _ = analyze_layer("l.weight", iid, OMEGA0, None)
    assert 0.6 < row["qe_emp_se_channel"] / row["qe_emp_se_iid"] < 1.6


def test_a_half_the_laws_cannot_fit_gives_nan_not_an_error():
    w = np.zeros((4, 300))
    w[2:] = np.random.default_rng(2).laplace(0.0, 0.05, (2, 300))
    w[3, 0] = np.nan
    row, _, _ = analyze_layer("l.weight", w, OMEGA0, None, ("laplace", "gennorm"))
    assert row["n"] == 1199 and row["n_nonfinite"] == 1
    for entry in row["models"].values():
        assert math.isnan(entry["oos"]["a_to_b"]["qe_pred"]) and math.isfinite(entry["qe_pred"])
        assert entry["oos"]["within_tol"] is None and math.isnan(entry["oos"]["rel_err"])


def test_empty_and_all_zero_layers():
    row, hist, fitted = analyze_layer("l.weight", np.full((3, 3), np.nan), OMEGA0, None, ("laplace", "gennorm"))
    assert row["n"] == 0 and row["models"] == {} and hist is None and fitted == {} and math.isnan(row["qe_emp"])
    row, _, fitted = analyze_layer("l.weight", np.zeros((4, 4)), OMEGA0, 0.5)  # constant: named, not analysed
    assert row["models"] == {} and fitted == {} and row["n"] == 0 and row["best_model"] is None
    assert row["weight_fault"] == "all 16 weights are 0 (a constant layer)" and math.isnan(row["qe_pred"])


def test_models_is_the_deprecated_name_of_laws():
    w = np.random.default_rng(3).laplace(0.0, 0.05, (8, 8))
    with pytest.warns(DeprecationWarning, match="use laws="):
        old = analyze_layer("l.weight", w, OMEGA0, None, models=("laplace", "gaussian"))
    assert old[0] == analyze_layer("l.weight", w, OMEGA0, None, laws=("laplace", "gaussian"))[0]
