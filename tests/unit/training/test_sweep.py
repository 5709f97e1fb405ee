"""The training sweep's plan and summaries, without training: run names, paired and side seeds, the recipe and its
refusals, the folder check, and the statistics (mean ± SD ± SE, the paired difference against scipy.stats).
The sweep itself (parallel workers, cache, sweep.json, figures and checks reading it) is in
tests/integration/test_training_sweep.py."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as ss

from biper_analysis._io.errors import UsageError
from biper_analysis.theory import analytic
from biper_analysis.training.config import preset
from biper_analysis.training.sweep import (
    RECIPE_FIELDS,
    SWEEP_AXES,
    SWEEP_FILE,
    ProgressClock,
    SweepPlan,
    SweepProgress,
    check_folder,
    group_summary,
    load_training_sweep,
    local_status,
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
    assert names == [
        "biper-w2-s0",
        "biper-w2-s1",
        "biper-w5-s0",
        "biper-w5-s1",
        *[f"biper-w20-s{s}" for s in range(5)],
        "biper-w60-s0",
        "biper-w60-s1",
        *[f"sign-s{s}" for s in range(5)],
    ]
    configs = dict(runs)
    assert configs["biper-w20-s3"] == preset("short", binarizer="biper", omega0=20.0, seed=3, device="cpu")
    assert configs["sign-s3"].binarizer == "sign" and configs["sign-s3"].seed == 3
    paired = {c.seed for n, c in runs if n.startswith("biper-w20")}
    assert paired == {c.seed for n, c in runs if n.startswith("sign")}


def test_plan_overrides_and_the_shared_recipe():
    plan = SweepPlan(
        omega0s=(5.0, 20.0),
        seeds=(0, 1),
        side_seeds=(7,),
        overrides={"epochs1": 2, "epochs2": 1, "train_limit": 100, "test_limit": 50, "data_dir": "/data"},
    )
    runs = plan.runs()
    assert [n for n, _ in runs] == ["biper-w5-s7", "biper-w20-s0", "biper-w20-s1", "sign-s0", "sign-s1"]
    assert all(
        (c.epochs1, c.epochs2, c.train_limit, c.test_limit, c.data_dir) == (2, 1, 100, 50, "/data") for _, c in runs
    )
    recipe = plan.recipe()
    assert set(recipe) == {"preset", *RECIPE_FIELDS} and recipe["epochs1"] == 2 and recipe["preset"] == "short"
    assert "seed" not in recipe and "omega0" not in recipe and "data_dir" not in recipe  # vary or move, not recipe
    assert SweepPlan(omega0s=(20.0,), seeds=(0,), baseline=False).runs() == [
        ("biper-w20-s0", preset("short", binarizer="biper", omega0=20.0, seed=0, device="cpu"))
    ]
    assert json.loads(json.dumps(plan.to_dict()))["omega0s"] == [5.0, 20.0]


def test_recipe_refusals():
    with pytest.raises(UsageError, match="the sweep plan has no runs"):
        SweepPlan(omega0s=(), seeds=(), baseline=False).recipe()
    with pytest.raises(UsageError, match="paired-omega0 20 is not among --omega0 10,30"):
        SweepPlan(omega0s=(10.0, 30.0), seeds=(0,)).recipe()
    assert SweepPlan(omega0s=(10.0, 30.0), seeds=(0,), paired_omega0=30.0).recipe()["model"] == "mlp_1w1a"
    with pytest.raises(ValueError, match="epochs1 must be >= 1"):  # every config is validated
        SweepPlan(omega0s=(20.0,), seeds=(0,), overrides={"epochs1": 0}).runs()


def test_a_sweep_folder_may_hold_hidden_files_and_runs_of_another_plan(tmp_path):
    """An interrupted first sweep (no sweep.json yet) is rerun even when a temporary file of an interrupted write
    or the run folders of another grid are there; anything else is refused."""
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=())
    (tmp_path / ".sweep.json.abc123.json").write_text("{")
    (tmp_path / "biper-w5-s3").mkdir()
    (tmp_path / "sign-s7").mkdir()
    names = [name for name, _ in plan.runs()]
    assert check_folder(tmp_path, plan.recipe(), names) is None
    (tmp_path / "stage1").mkdir()
    with pytest.raises(UsageError, match="not a training-sweep folder"):
        check_folder(tmp_path, plan.recipe(), names)


def test_an_existing_sweep_file_must_be_a_train_sweep_of_the_same_recipe(tmp_path):
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,))
    recipe = plan.recipe()
    sweep = tmp_path / SWEEP_FILE
    sweep.write_text("not json")
    with pytest.raises(UsageError, match="is not a sweep file written by biper-analysis train-sweep"):
        check_folder(tmp_path, recipe)
    sweep.write_text(json.dumps({"recipe": recipe, "provenance": {"producer": "someone else"}}))
    with pytest.raises(UsageError, match="written by an older or another program"):
        check_folder(tmp_path, recipe)
    ours = {"recipe": recipe, "runs": [], "provenance": {"producer": "biper-analysis train-sweep"}}
    sweep.write_text(json.dumps(ours))
    assert check_folder(tmp_path, recipe) == ours
    with pytest.raises(UsageError, match="holds runs with epochs1 = 8, not 3"):
        check_folder(tmp_path, SweepPlan(omega0s=(20.0,), seeds=(0,), overrides={"epochs1": 3}).recipe())


def test_load_training_sweep_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="biper-analysis train-sweep --out"):
        load_training_sweep(tmp_path)
    (tmp_path / SWEEP_FILE).write_text('{"runs": []}')
    assert load_training_sweep(tmp_path) == {"runs": [], "_dir": str(tmp_path)}


def test_mean_std_se_against_the_statistics_module():
    values = [88.1, 89.25, 88.7, 90.05, 88.93]
    r = mean_std_se(values)
    assert r["n"] == 5 and r["mean"] == pytest.approx(statistics.fmean(values), rel=1e-15)
    assert r["std"] == pytest.approx(statistics.stdev(values), rel=1e-14)  # sample SD, ddof = 1
    assert r["se"] == pytest.approx(statistics.stdev(values) / math.sqrt(5), rel=1e-14)
    one, none = mean_std_se([3.0]), mean_std_se([])
    assert one["mean"] == 3.0 and math.isnan(one["std"]) and math.isnan(one["se"])
    assert none["n"] == 0 and math.isnan(none["mean"])
    assert mean_std_se(v for v in (1.0, 3.0))["se"] == 1.0  # any iterable


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
    return {
        "binarizer": binarizer,
        "omega0": omega0,
        "seed": seed,
        "best_acc": best,
        "last_acc": best - 1,
        "analysis": {"totals": {"qe_emp_weighted": qe, "qe_pred_weighted": qe + 0.01}},
    }


def test_group_summary_groups_by_binarizer_and_omega0():
    runs = [
        _run("biper", 20.0, 0, 89.0, 0.10),
        _run("biper", 20.0, 1, 88.0, 0.12),
        _run("biper", 5.0, 0, 85.0, 0.3),
        _run("sign", 20.0, 0, 88.5, 0.0),
        _run("sign", 20.0, 1, 88.7, 0.0),
    ]
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


def test_the_recipe_is_every_training_field_but_the_axes_and_where_a_run_runs():
    # the twenty names the sweep used to list by hand, and the trajectory recording options
    assert set(RECIPE_FIELDS) == {
        "model",
        "dataset",
        "epochs1",
        "epochs2",
        "batch_size",
        "test_batch_size",
        "lr1",
        "lr2",
        "weight_decay1",
        "weight_decay2",
        "tau1",
        "tau2",
        "momentum",
        "warmup_epochs",
        "augment",
        "width",
        "train_limit",
        "test_limit",
        "surrogate",
        "in_channels",
        "trajectory",
        "record_every_steps",
    }
    assert not set(RECIPE_FIELDS) & set(SWEEP_AXES)


def test_overrides_set_any_field_but_the_axes():
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=(), overrides={"momentum": 0.8, "epochs1": 2})
    runs = dict(plan.runs())
    assert runs["biper-w20-s0"].momentum == 0.8 and runs["sign-s0"].epochs1 == 2
    assert runs["sign-s0"].device == "cpu"  # the sweep's default, where TrainConfig's is auto
    assert plan.recipe()["momentum"] == 0.8 and plan.to_dict()["overrides"] == {"momentum": 0.8, "epochs1": 2}
    with pytest.raises(UsageError, match="the sweep sets omega0 run by run"):
        SweepPlan(overrides={"omega0": 5.0})
    with pytest.raises(UsageError, match="unknown training field 'epochs'"):
        SweepPlan(overrides={"epochs": 5})


def _metrics(run: Path, epochs: int) -> None:
    run.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({"stage": 1, "epoch": e + 1, "test_acc": 50.0, "train_loss": 1.0}) for e in range(epochs)]
    (run / "metrics.jsonl").write_text("".join(line + "\n" for line in lines))


def test_progress_counts_runs_and_estimates_from_epochs_trained_since_it_started(tmp_path: Path):
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=(), overrides={"epochs1": 2, "epochs2": 2})
    runs = {name: (tmp_path / name, cfg) for name, cfg in plan.runs()}
    _metrics(tmp_path / "biper-w20-s0", 1)  # trained before: not speed
    clock = ProgressClock(runs)
    first = clock.snapshot({"biper-w20-s0": "running", "sign-s0": "queued"})
    assert (first.done, first.running, first.queued, first.epochs_done, first.epochs_total) == (0, 1, 1, 1, 8)
    assert first.eta_s is None and "estimate after the first epoch" in first.line()
    _metrics(tmp_path / "biper-w20-s0", 3)
    later = clock.snapshot({"biper-w20-s0": "running", "sign-s0": "queued"})
    assert later.epochs_done == 3 and later.eta_s == pytest.approx(5 * later.elapsed_s / 2)
    done = SweepProgress(2, 2, 0, 0, 0, 8, 8, 61.0, 0.0)
    assert done.line() == "2/2 runs done, 0 running, 0 queued; 8/8 epochs; finished (elapsed 1 min 01 s)"


def test_a_run_folder_is_done_only_with_its_summary(tmp_path: Path):
    run = tmp_path / "biper-w20-s0"
    assert local_status(run, None).state == "missing" and local_status(run, None).detail == ""
    _metrics(run, 2)
    partial = local_status(run, None)
    assert partial.state == "missing" and partial.detail.startswith("trained to stage 1 epoch 2; resumes")
    config = {"seed": 0, "device": "cpu"}
    (run / "summary.json").write_text(
        json.dumps({"best_acc": 81.25, "config": config, "executor": {"job_id": "7_1", "node": "n1"}})
    )
    done = local_status(run, {"seed": 0, "device": "cuda"})  # where it ran does not matter
    assert (done.state, done.detail, done.job_id, done.node) == ("done", "best 81.25%", "7_1", "n1")
    assert local_status(run, {"seed": 1, "device": "cpu"}).detail == "holds a finished run of another config"


def test_a_run_stopped_before_its_first_checkpoint_restarts_and_a_foreign_folder_is_refused(tmp_path: Path):
    import torch

    from biper_analysis.training.config import preset
    from biper_analysis.training.loop import initial_model, initial_record
    from biper_analysis.training.sweep import _clear_unstarted

    cfg = preset("short", seed=3, device="cpu")
    run = tmp_path / "biper-w20-s3"
    (run / "stage1").mkdir(parents=True)
    torch.save(initial_record(initial_model(cfg, 10, 1), cfg), run / "init.pth.tar")
    (run / "stage1" / "config.txt").write_text("x")
    (run / "stage1" / ".checkpoint.pth.tar.tmp1.tar").write_text("half")
    _clear_unstarted(run, cfg.to_dict())
    assert run.is_dir() and not any(run.iterdir())
    torch.save(initial_record(initial_model(cfg, 10, 1), cfg), run / "init.pth.tar")
    with pytest.raises(UsageError, match="the start of a run with another config"):
        _clear_unstarted(run, cfg.replace(seed=4).to_dict())
    (run / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="holds 'notes.txt' and no finished run"):
        _clear_unstarted(run, cfg.to_dict())
    assert (run / "notes.txt").exists() and (run / "init.pth.tar").exists()
