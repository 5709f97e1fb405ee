"""The paper checks: every verdict rule and every check's pass, fail and inconclusive paths on constructed inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from biper_analysis._io.outputs import written_by
from biper_analysis.paper_checks import (
    check_best_law_predicts_layers,
    check_biper_beats_sign,
    check_closed_form,
    check_official_l1,
    check_qe_follows_omega0,
    check_qe_min_peak,
    check_weights_follow_laplace,
)
from biper_analysis.paper_checks.record import (
    FAIL,
    INCONCLUSIVE,
    PASS,
    CheckContext,
    CheckResult,
    run_all,
    verdict_interval,
    verdict_predictions,
    verdict_threshold,
    verdict_within,
    write_report,
)

NAN = float("nan")


def test_verdict_within_is_inclusive_symmetric_and_refuses_nan():
    assert verdict_within(1.0, 1.1, 0.1 + 1e-12) == PASS
    assert verdict_within(1.2, 1.1, 0.05) == FAIL and verdict_within(1.0, 1.1, 0.05) == FAIL
    assert verdict_within(NAN, 1.1, 0.05) == INCONCLUSIVE


@pytest.mark.parametrize(
    "low, high, expected",
    [
        (0.1, 0.5, PASS),
        (-0.5, -0.1, FAIL),
        (-0.1, 0.3, INCONCLUSIVE),
        (0.0, 0.0, INCONCLUSIVE),
        (NAN, 1.0, INCONCLUSIVE),
    ],
)
def test_verdict_interval_is_symmetric(low, high, expected):
    assert verdict_interval(low, high) == expected
    mirrored = {PASS: FAIL, FAIL: PASS, INCONCLUSIVE: INCONCLUSIVE}[expected]
    assert verdict_interval(-high, -low) == mirrored  # swapping A and B swaps pass and fail


def test_verdict_threshold_paths():
    assert verdict_threshold(0.8, 0.8, True) == PASS
    assert verdict_threshold(0.79, 0.8, True) == FAIL
    assert verdict_threshold(1.0, 0.8, False) == INCONCLUSIVE and verdict_threshold(NAN, 0.8, True) == INCONCLUSIVE


def test_result_rejects_unknown_verdict():
    with pytest.raises(ValueError, match="verdict"):
        CheckResult("n", "c", "s", "r", "m", "t", verdict="maybe")


def test_broken_script_is_a_fail_and_the_report_carries_the_producer_mark(tmp_path: Path):
    (tmp_path / "check_ok.py").write_text(
        "from biper_analysis.paper_checks.record import CheckResult\n"
        "def run(ctx):\n    return CheckResult('ok','c','s','r','m','t','pass')\n"
    )
    (tmp_path / "check_broken.py").write_text("def run(ctx):\n    raise RuntimeError('boom')\n")
    context = CheckContext(runs_dir=None, quick=True)
    results = run_all(context, checks_dir=tmp_path)
    assert {r.name: r.verdict for r, _ in results} == {"check_broken": FAIL, "ok": PASS}
    write_report(results, tmp_path / "REPORT.md", context)
    text = (tmp_path / "REPORT.md").read_text()
    assert "1 pass, 1 fail, 0 inconclusive" in text and "RuntimeError: boom" in text and "git_revision" in text
    assert written_by(tmp_path / "REPORT.md", "check") and not written_by(tmp_path / "REPORT.md", "figures")


# ---- constructed training sweeps ----------------------------------------------------------------------------
def _layer(
    qe_emp: float,
    qe_pred: float,
    best: float,
    verdict: str = "ok",
    ref_verdict: str = "ok",
    n: int = 1000,
    se: float = 0.001,
) -> dict:
    """A report row (schema 3) whose out-of-sample predictions equal the in-sample ones, with SE ``se``."""
    lap, best_rel = (qe_pred - qe_emp) / qe_emp, (best - qe_emp) / qe_emp
    return {
        "name": "hidden.0.weight",
        "n": n,
        "qe_emp": qe_emp,
        "qe_pred": qe_pred,
        "best_qe_pred": best,
        "qe_emp_se": se,
        "rel_err": lap,
        "laplace_verdict": verdict,
        "ref_laplace_verdict": ref_verdict,
        "ref_rel_err": 0.5,
        "best_model": "penalised",
        "ks_stat": 0.05,
        "ks_critical": 0.06,
        "best_rel_err": best_rel,
        "best_z": (best - qe_emp) / se,
        "models": {
            "penalised": {"official_l1_pred": 0.40},
            "laplace": {"official_l1_pred": 0.41, "oos": {"rel_err": lap, "z": (qe_pred - qe_emp) / se}},
        },
    }


def _run(
    binarizer: str, omega0: float, seed: int, acc: float, layers: list[dict], l1: float = 0.4, l1_pred: float = 0.41
) -> dict:
    totals = {
        "official_l1_sum": l1,
        "official_l1_sum_pred": {"laplace": l1_pred},
        "b_loc0_sum": 0.05,
        "n_layers_analysed": len(layers),
    }
    return {
        "name": f"{binarizer}-w{omega0:g}-s{seed}",
        "binarizer": binarizer,
        "omega0": omega0,
        "seed": seed,
        "best_acc": acc,
        "last_acc": acc,
        "analysis": {"layers": layers, "totals": totals},
    }


def _context(tmp_path: Path, runs: list[dict]) -> CheckContext:
    sweep = {
        "runs": runs,
        "plan": {"paired_omega0": 20.0},
        "provenance": {
            "producer": "biper-analysis train-sweep",
            "environment": {
                "cpu": "test CPU",
                "torch": "2.x",
                "torch_threads": 1,
                "jobs": 2,
                "pinned": {"ATEN_CPU_CAPABILITY": "avx2"},
            },
        },
    }
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    return CheckContext(runs_dir=tmp_path)


@pytest.mark.parametrize(
    "deltas, expected",
    [
        ([0.3, 0.4, 0.2, 0.35, 0.3], PASS),
        ([-0.3, -0.4, -0.2, -0.35, -0.3], FAIL),
        ([0.3, -0.4, 0.2, -0.35, 0.1], INCONCLUSIVE),
        ([0.3, 0.4, 0.2], INCONCLUSIVE),
    ],
)
def test_biper_beats_sign_paths(tmp_path, deltas, expected):
    layer = [_layer(0.1, 0.1, 0.1)]
    runs = [_run("biper", 20.0, s, 88.0 + d, layer) for s, d in enumerate(deltas)]
    runs += [_run("sign", 20.0, s, 88.0, layer) for s in range(len(deltas))]
    runs.append(_run("biper", 5.0, 0, 99.0, layer))  # another ω0: not part of the paired comparison
    result = check_biper_beats_sign.run(_context(tmp_path, runs))
    assert result.verdict == expected, result.measured
    assert "seed 0:" in result.measured and "test CPU" in result.measured
    assert "ATEN_CPU_CAPABILITY=avx2" in result.measured


def test_biper_beats_sign_pairs_by_seed_not_by_order():
    verdict, d = check_biper_beats_sign.compare(
        {3: 90.0, 1: 89.0, 0: 88.0, 2: 91.0, 4: 92.0}, {0: 87.0, 1: 88.0, 2: 90.0, 3: 89.0, 4: 91.0}
    )
    assert d["seeds"] == [0, 1, 2, 3, 4] and d["diff"] == [1.0, 1.0, 1.0, 1.0, 1.0]
    # identical differences: SD 0, a zero-width interval — pass one way, fail the other (symmetric, unlike a rule
    # that treats SE = 0 as "no information" on one side only)
    assert verdict == PASS
    assert check_biper_beats_sign.compare({s: 87.0 for s in range(5)}, {s: 88.0 for s in range(5)})[0] == FAIL


@pytest.mark.parametrize(
    "preds, expected",
    [
        ([0.101, 0.103], PASS),  # within 5 %
        ([0.101, 0.130], FAIL),  # 30 % and 30 SE off
        ([0.101, 0.1055], INCONCLUSIVE),  # 5.5 % off at SE 0.002: 2.75 SE, between 2 and 3
        ([], INCONCLUSIVE),
    ],
)
def test_weights_follow_laplace_paths(tmp_path, preds, expected):
    """Decided by the QE the claim is about (out of sample), not by KS; the init comparison is reported beside."""
    se = 0.002 if expected == INCONCLUSIVE else 0.001
    layers = [_layer(0.1, p, 0.1, ref_verdict="misfit", se=se) for p in preds]
    result = check_weights_follow_laplace.run(_context(tmp_path, [_run("biper", 20.0, 0, 88.0, layers)]))
    assert result.verdict == expected, result.measured
    if preds:
        assert f"/{len(preds)} trained BiPer layers" in result.measured and "KS rejects 0/" in result.measured
        assert "initial weights" in result.measured


def test_best_law_predicts_layers_paths(tmp_path):
    def verdict(bests: list[float], se: float = 0.001) -> str:
        layers = [_layer(0.1, 0.2, b, se=se) for b in bests]
        return check_best_law_predicts_layers.run(_context(tmp_path, [_run("biper", 20.0, 0, 88.0, layers)])).verdict

    assert verdict([0.101, 0.098]) == PASS
    assert verdict([0.101, 0.12]) == FAIL
    assert verdict([0.101, 0.1055], se=0.002) == INCONCLUSIVE
    assert verdict([]) == INCONCLUSIVE


@pytest.mark.parametrize(
    "measured, expected",
    [
        ([0.03, 0.08, 0.101, 0.095], PASS),  # every ω0 within 5 % of the prediction
        ([0.03, 0.08, 0.101, 0.135], FAIL),  # ω0 = 60: 42 % above, far outside its SE
        ([0.03, 0.08, 0.101], INCONCLUSIVE),
    ],
)  # only 3 values of ω0
def test_qe_follows_omega0_paths(tmp_path, measured, expected):
    predicted = [0.031, 0.079, 0.1025, 0.0951]
    omegas = (2.0, 5.0, 20.0, 60.0)
    runs = [_run("biper", w, 0, 88.0, [_layer(m, p, m)]) for w, m, p in zip(omegas, measured, predicted)]
    result = check_qe_follows_omega0.run(_context(tmp_path, runs))
    assert result.verdict == expected, result.measured
    assert ("above the Laplace maximum" in result.measured) == (max(measured) > 0.1029)


def test_qe_follows_omega0_averages_seeds_and_widens_the_se_by_their_spread(tmp_path):
    """Two seeds whose errors are +4 % and +8 %: the mean (+6 %) is off by more than 5 %, but the seeds disagree
    by as much, so the SE from their spread makes it inconclusive rather than a fail."""
    runs = [
        _run("biper", w, s, 88.0, [_layer(0.1, 0.1 * (1 + e), 0.1)])
        for w in (2.0, 5.0, 20.0, 60.0)
        for s, e in enumerate((0.04, 0.08))
    ]
    table = check_qe_follows_omega0.by_omega0(json.loads(json.dumps({"runs": runs})))
    assert table[20.0]["n"] == 2 and table[20.0]["rel_err"] == pytest.approx(0.06)
    assert 1.5 < table[20.0]["z"] < 3.0
    assert check_qe_follows_omega0.run(_context(tmp_path, runs)).verdict == INCONCLUSIVE


def test_verdict_predictions_counts():
    assert verdict_predictions([(0.01, 9.0), (0.2, 1.0), (0.2, 2.5), (0.2, 9.0)]) == (FAIL, 2, 1)
    assert verdict_predictions([(float("nan"), 0.0)])[0] == INCONCLUSIVE


def test_spearman_of_a_constant_side_is_undefined():
    assert math.isnan(check_qe_follows_omega0.spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]))


@pytest.mark.parametrize("l1_pred, expected", [(0.41, PASS), (0.50, FAIL)])
def test_official_l1_paths(tmp_path, l1_pred, expected):
    runs = [_run("biper", 20.0, 0, 88.0, [_layer(0.1, 0.1, 0.1)], l1=0.40, l1_pred=l1_pred)]
    assert check_official_l1.run(_context(tmp_path, runs)).verdict == expected
    assert check_official_l1.verdict_runs([]) == INCONCLUSIVE


def test_network_checks_without_a_sweep_are_inconclusive(tmp_path):
    context = CheckContext(runs_dir=tmp_path / "none")
    for module in (
        check_biper_beats_sign,
        check_weights_follow_laplace,
        check_qe_follows_omega0,
        check_official_l1,
        check_best_law_predicts_layers,
    ):
        result = module.run(context)
        assert result.verdict == INCONCLUSIVE and "no training sweep" in result.measured


def test_theory_checks_pass_and_can_fail(monkeypatch):
    from biper_analysis.theory import analytic, quadrature

    assert check_qe_min_peak.run(CheckContext(None, quick=True)).verdict == PASS
    assert check_closed_form.run(CheckContext(None, quick=True)).verdict == PASS
    monkeypatch.setattr(analytic, "qe_min_peak", lambda: (0.96, 0.1028))
    assert check_qe_min_peak.run(CheckContext(None, quick=True)).verdict == FAIL
    real = quadrature.qe
    monkeypatch.setattr(quadrature, "qe", lambda *a, **k: real(*a, **k) * (1 + 1e-8))
    assert check_closed_form.run(CheckContext(None, quick=True)).verdict == FAIL
