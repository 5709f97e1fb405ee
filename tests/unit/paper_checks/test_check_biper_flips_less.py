"""check_biper_flips_less: pass, fail and inconclusive paths on constructed run folders (metrics.jsonl lines with
known flip ratios), and runs without a recorded trajectory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from biper_analysis.paper_checks import check_biper_flips_less as check
from biper_analysis.paper_checks.record import FAIL, INCONCLUSIVE, PASS, CheckContext

EPOCHS1, EPOCHS2 = 2, 6  # the last third of stage 2: its last 2 epochs


def _metrics(flips_late: float, recorded: bool = True) -> str:
    lines = []
    for stage, epochs in ((1, EPOCHS1), (2, EPOCHS2)):
        for epoch in range(1, epochs + 1):
            late = stage == 2 and epoch > EPOCHS2 - 2
            rows = [{"name": name, "b": 0.05} for name in ("hidden.0.weight", "hidden.1.weight")]
            if recorded:
                for row, n in zip(rows, (300, 100)):
                    # early epochs flip a lot (never counted); the last third flips ``flips_late`` in both layers
                    row.update({"n": n, "flip_ratio": flips_late if late else 0.5, "cross_ratio": 0.6})
            lines.append(json.dumps({"stage": stage, "epoch": epoch, "test_acc": 80.0, "layers": rows}))
    return "\n".join(lines) + "\n"


def _sweep(tmp_path: Path, biper: list[float], sign: list[float], recorded: bool = True) -> CheckContext:
    runs = []
    for binarizer, values in (("biper", biper), ("sign", sign)):
        for seed, flips in enumerate(values):
            name = f"biper-w20-s{seed}" if binarizer == "biper" else f"sign-s{seed}"
            (tmp_path / name).mkdir()
            (tmp_path / name / "metrics.jsonl").write_text(_metrics(flips, recorded))
            runs.append({"name": name, "binarizer": binarizer, "omega0": 20.0, "seed": seed})
    (tmp_path / "biper-w5-s0").mkdir()  # another ω0: not part of the paired comparison
    (tmp_path / "biper-w5-s0" / "metrics.jsonl").write_text(_metrics(0.9))
    runs.append({"name": "biper-w5-s0", "binarizer": "biper", "omega0": 5.0, "seed": 0})
    sweep = {"runs": runs, "plan": {"paired_omega0": 20.0}, "provenance": {"producer": "biper-analysis train-sweep"}}
    (tmp_path / "sweep.json").write_text(json.dumps(sweep))
    return CheckContext(runs_dir=tmp_path)


@pytest.mark.parametrize(
    "biper, sign, expected",
    [
        ([0.001, 0.002, 0.0015, 0.001, 0.002], [0.01, 0.012, 0.009, 0.011, 0.01], PASS),
        ([0.01, 0.012, 0.009, 0.011, 0.01], [0.001, 0.002, 0.0015, 0.001, 0.002], FAIL),
        ([0.01, 0.002, 0.009, 0.001, 0.01], [0.001, 0.012, 0.0015, 0.011, 0.002], INCONCLUSIVE),
        ([0.001, 0.002, 0.001], [0.01, 0.012, 0.009], INCONCLUSIVE),  # fewer than MIN_SEEDS pairs
    ],
)
def test_paths(tmp_path, biper, sign, expected):
    result = check.run(_sweep(tmp_path, biper, sign))
    assert result.verdict == expected, result.measured
    assert f"n = {len(biper)})" in result.measured and "seed 0: sign" in result.measured


def test_late_flips_are_the_last_third_of_stage_2_pooled_by_layer_size(tmp_path):
    context = _sweep(tmp_path, [0.004] * 5, [0.02] * 5)
    biper, sign = check.late_flips(context.sweep()[0], 20.0)
    assert biper == {s: pytest.approx(0.004) for s in range(5)} and sign == {s: pytest.approx(0.02) for s in range(5)}


def test_runs_without_a_trajectory_and_no_sweep_are_inconclusive(tmp_path):
    (tmp_path / "a").mkdir()
    result = check.run(_sweep(tmp_path / "a", [0.001] * 5, [0.01] * 5, recorded=False))
    assert result.verdict == INCONCLUSIVE and "no recorded trajectories" in result.measured
    result = check.run(CheckContext(runs_dir=tmp_path / "none"))
    assert result.verdict == INCONCLUSIVE and "no training sweep" in result.measured
