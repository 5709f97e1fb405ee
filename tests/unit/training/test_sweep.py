"""The training sweep's plan and summaries, without training: run names, paired and side seeds, the recipe and its
refusals, the folder check, and the statistics (mean ± SD ± SE, the paired difference against scipy.stats).
The sweep itself (parallel workers, cache, sweep.json, figures and checks reading it) is in
tests/integration/test_training_sweep.py."""
from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
import scipy.stats as ss

from biper_analysis._io.errors import UsageError
from biper_analysis.theory import analytic
from biper_analysis.training.config import preset
from biper_analysis.training.sweep import (
    RECIPE_FIELDS,
    SWEEP_FILE,
    SweepPlan,
    _check_folder,
    group_summary,
    load_training_sweep,
    mean_std_se,
    normalised_layer_qe,
    paired_difference,
    run_name,
)


def test_run_names():
    assert run_name("biper", 20.0, 1) == "biper-w20-s1" and run_name("biper", 2.5, 0) == "biper-w2.5-s0"
    assert run_name("sign", 20.0, 3) == "sign-s3" and run_name("fp", 20.0, 0) == "fp-s0"


def test_the_default_plan_pairs_seeds_at_the_published_omega0():
    """BiPer at ω0 = 20 and the sign baseline share the paired seeds 0–4; the other ω0 get the side seeds 0, 1."""
    runs = SweepPlan().runs()
    names = [name for name, _ in runs]
    assert names == ["biper-w2-s0", "biper-w2-s1", "biper-w5-s0", "biper-w5-s1",
                     *[f"biper-w20-s{s}" for s in range(5)], "biper-w60-s0", "biper-w60-s1",
                     *[f"sign-s{s}" for s in range(5)]]
    configs = dict(runs)
    assert configs["biper-w20-s3"] == preset("short", binarizer="biper", omega0=20.0, seed=3, device="cpu")
    assert configs["sign-s3"].binarizer == "sign" and configs["sign-s3"].seed == 3
    paired = {c.seed for n, c in runs if n.startswith("biper-w20")}
    assert paired == {c.seed for n, c in runs if n.startswith("sign")}


def test_plan_overrides_and_the_shared_recipe():
    plan = SweepPlan(omega0s=(5.0, 20.0), seeds=(0, 1), side_seeds=(7,), epochs1=2, epochs2=1, train_limit=100,
                     test_limit=50, data_dir="/data")
    runs = plan.runs()
    assert [n for n, _ in runs] == ["biper-w5-s7", "biper-w20-s0", "biper-w20-s1", "sign-s0", "sign-s1"]
    assert all((c.epochs1, c.epochs2, c.train_limit, c.test_limit, c.data_dir) == (2, 1, 100, 50, "/data")
               for _, c in runs)
    recipe = plan.recipe()
    assert set(recipe) == {"preset", *RECIPE_FIELDS} and recipe["epochs1"] == 2 and recipe["preset"] == "short"
    assert "seed" not in recipe and "omega0" not in recipe and "data_dir" not in recipe      # vary or move, not recipe
    assert SweepPlan(omega0s=(20.0,), seeds=(0,), baseline=False).runs() == [
        ("biper-w20-s0", preset("short", binarizer="biper", omega0=20.0, seed=0, device="cpu"))]
    assert json.loads(json.dumps(plan.to_dict()))["omega0s"] == [5.0, 20.0]


def test_recipe_refusals():
    with pytest.raises(UsageError, match="the sweep plan has no runs"):
        SweepPlan(omega0s=(), seeds=(), baseline=False).recipe()
    with pytest.raises(UsageError, match="paired-omega0 20 is not among --omega0 10,30"):
        SweepPlan(omega0s=(10.0, 30.0), seeds=(0,)).recipe()
    assert SweepPlan(omega0s=(10.0, 30.0), seeds=(0,), paired_omega0=30.0).recipe()["model"] == "mlp_1w1a"
    with pytest.raises(ValueError, match="epochs1 must be >= 1"):                    # every config is validated
        SweepPlan(omega0s=(20.0,), seeds=(0,), epochs1=0).runs()


def test_a_sweep_folder_may_hold_hidden_files_and_runs_of_another_plan(tmp_path):
    """An interrupted first sweep (no sweep.json yet) is rerun even when a temporary file of an interrupted write
    or the run folders of another grid are there; anything else is refused."""
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=())
    (tmp_path / ".sweep.json.abc123.json").write_text("{")
    (tmp_path / "biper-w5-s3").mkdir()
    (tmp_path / "sign-s7").mkdir()
    names = [name for name, _ in plan.runs()]
    assert _check_folder(tmp_path, plan.recipe(), names) is None
    (tmp_path / "stage1").mkdir()
    with pytest.raises(UsageError, match="not a training-sweep folder"):
        _check_folder(tmp_path, plan.recipe(), names)


def test_an_existing_sweep_file_must_be_a_train_sweep_of_the_same_recipe(tmp_path):
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,))
    recipe = plan.recipe()
    sweep = tmp_path / SWEEP_FILE
    sweep.write_text("not json")
    with pytest.raises(UsageError, match="is not a sweep file written by biper-analysis train-sweep"):
        _check_folder(tmp_path, recipe)
    sweep.write_text(json.dumps({"recipe": recipe, "provenance": {"producer": "someone else"}}))
    with pytest.raises(UsageError, match="written by an older or another program"):
        _check_folder(tmp_path, recipe)
    ours = {"recipe": recipe, "runs": [], "provenance": {"producer": "biper-analysis train-sweep"}}
    sweep.write_text(json.dumps(ours))
    assert _check_folder(tmp_path, recipe) == ours
    with pytest.raises(UsageError, match="holds runs with epochs1 = 8, not 3"):
        _check_folder(tmp_path, SweepPlan(omega0s=(20.0,), seeds=(0,), epochs1=3).recipe())


def test_load_training_sweep_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="biper-analysis train-sweep --out"):
        load_training_sweep(tmp_path)
    (tmp_path / SWEEP_FILE).write_text('{"runs": []}')
    assert load_training_sweep(tmp_path) == {"runs": [], "_dir": str(tmp_path)}


def test_mean_std_se_against_the_statistics_module():
    values = [88.1, 89.25, 88.7, 90.05, 88.93]
    r = mean_std_se(values)
    assert r["n"] == 5 and r["mean"] == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert r["std"] == pytest.approx(statistics.stdev(values), rel=1e-14)              # sample SD, ddof = 1
    assert r["se"] == pytest.approx(statistics.stdev(values) / math.sqrt(5), rel=1e-14)
    one, none = mean_std_se([3.0]), mean_std_se([])
    assert one["mean"] == 3.0 and math.isnan(one["std"]) and math.isnan(one["se"])
    assert none["n"] == 0 and math.isnan(none["mean"])
    assert mean_std_se(v for v in (1.0, 3.0))["se"] == 1.0                              # any iterable


@pytest.mark.parametrize("level", [0.9, 0.95, 0.99])
def test_paired_difference_against_scipy(level):
    """Mean and CI of the per-seed differences equal scipy.stats.ttest_rel's (1e-12); seeds only one side has are
    left out."""
    rng = np.random.default_rng(0)
    a = {s: 89.0 + rng.normal(0, 0.3) for s in range(6)}
    b = {s: 88.8 + rng.normal(0, 0.3) for s in range(1, 7)}
    d = paired_difference(a, b, level)
    seeds = [1, 2, 3, 4, 5]
    assert d["seeds"] == seeds and d["n"] == 5 and d["level"] == level
    x, y = np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds])
    assert d["diff"] == pytest.approx((x - y).tolist(), rel=1e-15)
    test = ss.ttest_rel(x, y)
    ci = test.confidence_interval(level)
    assert d["mean"] == pytest.approx(np.mean(x - y), rel=1e-12)
    assert d["sd"] == pytest.approx(np.std(x - y, ddof=1), rel=1e-12)
    assert d["ci"] == pytest.approx([ci.low, ci.high], rel=1e-12)


def test_paired_difference_without_enough_pairs():
    one = paired_difference({0: 2.0}, {0: 1.0, 1: 5.0})
    assert one["n"] == 1 and one["mean"] == 1.0 and all(math.isnan(v) for v in (one["sd"], *one["ci"]))
    none = paired_difference({0: 2.0}, {1: 1.0})
    assert none["n"] == 0 and math.isnan(none["mean"])


def _run(binarizer: str, omega0: float, seed: int, best: float, qe: float) -> dict:
    return {"binarizer": binarizer, "omega0": omega0, "seed": seed, "best_acc": best, "last_acc": best - 1,
            "analysis": {"totals": {"qe_emp_weighted": qe, "qe_pred_weighted": qe + 0.01}}}


def test_group_summary_groups_by_binarizer_and_omega0():
    runs = [_run("biper", 20.0, 0, 89.0, 0.10), _run("biper", 20.0, 1, 88.0, 0.12), _run("biper", 5.0, 0, 85.0, 0.3),
            _run("sign", 20.0, 0, 88.5, 0.0), _run("sign", 20.0, 1, 88.7, 0.0)]
    groups = group_summary(runs)
    assert [(g["binarizer"], g["omega0"]) for g in groups] == [("biper", 5.0), ("biper", 20.0), ("sign", None)]
    w20 = groups[1]
    assert w20["seeds"] == [0, 1] and w20["best_acc"] == mean_std_se([89.0, 88.0])
    assert w20["last_acc"]["mean"] == 87.5 and w20["qe_emp_weighted"]["mean"] == pytest.approx(0.11, rel=1e-15)
    assert w20["qe_pred_weighted"]["mean"] == pytest.approx(0.12, rel=1e-15)
    assert groups[2]["best_acc"]["n"] == 2


def test_normalised_layer_qe_is_the_closed_form_and_the_measured_ratio():
    row = {"b_loc0": 0.05, "qe_emp": 0.1, "e_sin2_emp": 0.4, "mean_w2": 0.005}
    n = normalised_layer_qe(row, 20.0)
    assert n["biper_pred"] == float(analytic.normalised_qe(20.0, 0.05))
    assert n["biper_emp"] == 0.25 and n["sign_pred"] == pytest.approx(0.5, rel=1e-15)
    assert n["sign_emp"] == pytest.approx(1 - 0.05**2 / 0.005, rel=1e-15)
