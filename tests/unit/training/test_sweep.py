"""The training sweep's plan and recipe (generated from TrainConfig), run states, progress estimate, and the restart
of a run stopped before its first checkpoint. The sweep end to end: tests/integration/test_training_sweep.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from biper_analysis._io.errors import UsageError
from biper_analysis.training.sweep import (
    RECIPE_FIELDS,
    SWEEP_AXES,
    ProgressClock,
    SweepPlan,
    SweepProgress,
    local_status,
)


def test_the_recipe_is_every_training_field_but_the_axes_and_where_a_run_runs():
    # the twenty names the sweep used to list by hand
    assert set(RECIPE_FIELDS) == {
        "model", "dataset", "epochs1", "epochs2", "batch_size", "test_batch_size", "lr1", "lr2", "weight_decay1",
        "weight_decay2", "tau1", "tau2", "momentum", "warmup_epochs", "augment", "width", "train_limit",
        "test_limit", "surrogate", "in_channels"}
    assert not set(RECIPE_FIELDS) & set(SWEEP_AXES)


def test_overrides_set_any_field_but_the_axes():
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=(), overrides={"momentum": 0.8, "epochs1": 2})
    runs = dict(plan.runs())
    assert runs["biper-w20-s0"].momentum == 0.8 and runs["sign-s0"].epochs1 == 2
    assert runs["sign-s0"].device == "cpu"          # the sweep's default, where TrainConfig's is auto
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
    _metrics(tmp_path / "biper-w20-s0", 1)         # trained before: not speed
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
    (run / "summary.json").write_text(json.dumps({"best_acc": 81.25, "config": config,
                                                  "executor": {"job_id": "7_1", "node": "n1"}}))
    done = local_status(run, {"seed": 0, "device": "cuda"})       # where it ran does not matter
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
