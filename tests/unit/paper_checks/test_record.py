"""The paper checks: every verdict rule and every check's pass, fail and inconclusive paths on constructed inputs."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from biper_analysis._io.outputs import written_by
from biper_analysis.paper_checks import (
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
    verdict_threshold,
    verdict_within,
    write_report,
)

NAN = float("nan")


def test_verdict_within_is_inclusive_symmetric_and_refuses_nan():
    assert verdict_within(1.0, 1.1, 0.1 + 1e-12) == PASS
    assert verdict_within(1.2, 1.1, 0.05) == FAIL and verdict_within(1.0, 1.1, 0.05) == FAIL
    assert verdict_within(NAN, 1.1, 0.05) == INCONCLUSIVE


@pytest.mark.parametrize("low, high, expected", [(0.1, 0.5, PASS), (-0.5, -0.1, FAIL), (-0.1, 0.3, INCONCLUSIVE),
                                                 (0.0, 0.0, INCONCLUSIVE), (NAN, 1.0, INCONCLUSIVE)])
def test_verdict_interval_is_symmetric(low, high, expected):
    assert verdict_interval(low, high) == expected
    mirrored = {PASS: FAIL, FAIL: PASS, INCONCLUSIVE: INCONCLUSIVE}[expected]
    assert verdict_interval(-high, -low) == mirrored   # swapping A and B swaps pass and fail


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
        "def run(ctx):\n    return CheckResult('ok','c','s','r','m','t','pass')\n")
    (tmp_path / "check_broken.py").write_text("def run(ctx):\n    raise RuntimeError('boom')\n")
    context = CheckContext(runs_dir=None, quick=True)
    results = run_all(context, checks_dir=tmp_path)
    assert {r.name: r.verdict for r, _ in results} == {"check_broken": FAIL, "ok": PASS}
    write_report(results, tmp_path / "REPORT.md", context)
    text = (tmp_path / "REPORT.md").read_text()
    assert "1 pass, 1 fail, 0 inconclusive" in text and "RuntimeError: boom" in text and "git_revision" in text
    assert written_by(tmp_path / "REPORT.md", "check") and not written_by(tmp_path / "REPORT.md", "figures")


# ---- constructed training sweeps ----------------------------------------------------------------------------
def _layer(qe_emp: float, qe_pred: float, best: float, verdict: str = "ok", ref_verdict: str = "ok",
           n: int = 1000) -> dict:
    return {"name": "hidden.0.weight", "n": n, "qe_emp": qe_emp, "qe_pred": qe_pred, "best_qe_pred": best,
            "rel_err": (qe_pred - qe_emp) / qe_emp, "laplace_verdict": verdict, "ref_laplace_verdict": ref_verdict,
            "ref_rel_err": 0.5, "best_model": "penalised",
            "models": {"penalised": {"official_l1_pred": 0.40}, "laplace": {"official_l1_pred": 0.41}}}


def _run(binarizer: str, omega0: float, seed: int, acc: float, layers: list[dict], l1: float = 0.4,
         l1_pred: float = 0.41) -> dict:
    totals = {"official_l1_sum": l1, "official_l1_sum_pred": {"laplace": l1_pred}, "b_loc0_sum": 0.05,
              "n_layers_analysed": len(layers)}
    return {"name": f"{binarizer}-w{omega0:g}-s{seed}", "binarizer": binarizer, "omega0": omega0, "seed": seed,
            "best_acc": acc, "last_acc": acc, "analysis": {"layers": layers, "totals": totals}}


def _context(tmp_path: Path, runs: list[dict]) -> CheckContext:
    sweep = {"runs": runs, "plan": {"paired_omega0": 20.0}, "provenance": {
        "producer": "biper-analysis train-sweep", "environment": {"cpu": "test CPU", "torch": "2.x",
                                                                   "torch_threads": 1, "jobs": 2,
                                                                   "pinned": {"ATEN_CPU_CAPABILITY": "avx2"}}}}
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    return CheckContext(runs_dir=tmp_path)


@pytest.mark.parametrize("deltas, expected", [
    ([0.3, 0.4, 0.2, 0.35, 0.3], PASS), ([-0.3, -0.4, -0.2, -0.35, -0.3], FAIL),
    ([0.3, -0.4, 0.2, -0.35, 0.1], INCONCLUSIVE), ([0.3, 0.4, 0.2], INCONCLUSIVE)])
def test_biper_beats_sign_paths(tmp_path, deltas, expected):
    layer = [_layer(0.1, 0.1, 0.1)]
    runs = [_run("biper", 20.0, s, 88.0 + d, layer) for s, d in enumerate(deltas)]
    runs += [_run("sign", 20.0, s, 88.0, layer) for s in range(len(deltas))]
    runs.append(_run("biper", 5.0, 0, 99.0, layer))          # another ω0: not part of the paired comparison
    result = check_biper_beats_sign.run(_context(tmp_path, runs))
    assert result.verdict == expected, result.measured
    assert "seed 0:" in result.measured and "test CPU" in result.measured
    assert "ATEN_CPU_CAPABILITY=avx2" in result.measured


def test_biper_beats_sign_pairs_by_seed_not_by_order():
    verdict, d = check_biper_beats_sign.compare({3: 90.0, 1: 89.0, 0: 88.0, 2: 91.0, 4: 92.0},
                                                {0: 87.0, 1: 88.0, 2: 90.0, 3: 89.0, 4: 91.0})
    assert d["seeds"] == [0, 1, 2, 3, 4] and d["diff"] == [1.0, 1.0, 1.0, 1.0, 1.0]
    # identical differences: SD 0, a zero-width interval — pass one way, fail the other (symmetric, unlike a rule
    # that treats SE = 0 as "no information" on one side only)
    assert verdict == PASS
    assert check_biper_beats_sign.compare({s: 87.0 for s in range(5)}, {s: 88.0 for s in range(5)})[0] == FAIL


@pytest.mark.parametrize("verdicts, expected", [(["ok", "ok"], PASS), (["ok", "misfit"], FAIL), ([], INCONCLUSIVE)])
def test_weights_follow_laplace_paths(tmp_path, verdicts, expected):
    layers = [_layer(0.1, 0.1 if v == "ok" else 0.2, 0.1, v, ref_verdict="misfit") for v in verdicts]
    result = check_weights_follow_laplace.run(_context(tmp_path, [_run("biper", 20.0, 0, 88.0, layers)]))
    assert result.verdict == expected
    if verdicts:
        assert f"{len(verdicts)}/{len(verdicts)} (|rel err|" in result.measured   # the init comparison is reported


@pytest.mark.parametrize("measured, expected", [
    ([0.03, 0.08, 0.101, 0.095], PASS),             # same ordering as the prediction
    ([0.101, 0.095, 0.08, 0.03], FAIL),             # reversed
    ([0.03, 0.08, 0.101], INCONCLUSIVE)])           # only 3 values of ω0
def test_qe_follows_omega0_paths(tmp_path, measured, expected):
    predicted = [0.031, 0.079, 0.1025, 0.0951]
    omegas = (2.0, 5.0, 20.0, 60.0)
    runs = [_run("biper", w, 0, 88.0, [_layer(m, p, m)]) for w, m, p in zip(omegas, measured, predicted)]
    result = check_qe_follows_omega0.run(_context(tmp_path, runs))
    assert result.verdict == expected, result.measured


def test_spearman_of_a_constant_side_is_undefined():
    assert math.isnan(check_qe_follows_omega0.spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]))
    assert check_qe_follows_omega0.verdict_ordering([1.0] * 4, [1.0, 2.0, 3.0, 4.0])[0] == INCONCLUSIVE


@pytest.mark.parametrize("l1_pred, expected", [(0.41, PASS), (0.50, FAIL)])
def test_official_l1_paths(tmp_path, l1_pred, expected):
    runs = [_run("biper", 20.0, 0, 88.0, [_layer(0.1, 0.1, 0.1)], l1=0.40, l1_pred=l1_pred)]
    assert check_official_l1.run(_context(tmp_path, runs)).verdict == expected
    assert check_official_l1.verdict_runs([]) == INCONCLUSIVE


def test_network_checks_without_a_sweep_are_inconclusive(tmp_path):
    context = CheckContext(runs_dir=tmp_path / "none")
    for module in (check_biper_beats_sign, check_weights_follow_laplace, check_qe_follows_omega0, check_official_l1):
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
