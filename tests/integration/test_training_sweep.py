"""The main job's pipeline on a tiny sweep: train-sweep (parallel, reproducible, cached, merged, strict JSON) →
figures → check. The sweep is trained once (a real subprocess, 2 jobs) and shared by every test; the later
commands go through cli.main in this process (their spawned training workers are real processes either way)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error, run_cli, run_cli_in_process
from tests.fake_datasets import write_fashion_mnist

TINY = ["--epochs1", "1", "--epochs2", "1", "--train-limit", "256", "--test-limit", "128"]


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}: not valid JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def _weights_digest(sweep_dir: Path) -> dict[str, str]:
    """SHA-256 of every tensor of each run's final checkpoint (the file itself also holds a timestamp)."""
    from biper_analysis.analysis.checkpoints import load_checkpoint

    out = {}
    for p in sorted(sweep_dir.glob("*/stage2/model_best.pth.tar")):
        digest = hashlib.sha256()
        for name, tensor in sorted(load_checkpoint(p).state_dict().items()):
            digest.update(name.encode() + tensor.numpy().tobytes())
        out[p.parent.parent.name] = digest.hexdigest()
    return out


def _accuracies(sweep_dir: Path) -> dict[str, float]:
    return {r["name"]: r["best_acc"] for r in _strict_json(sweep_dir / "sweep.json")["runs"]}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("data"), n_train=256, n_test=128)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory, data: Path) -> Path:
    """Paired seeds 0, 1 at ω0 = 20 and for sign; side seed 0 at ω0 = 5: five runs."""
    out = tmp_path_factory.mktemp("sweep") / "runs"
    first = run_cli(
        "train-sweep",
        "--out",
        str(out),
        "--omega0",
        "5,20",
        "--seeds",
        "0,1",
        "--side-seeds",
        "0",
        *TINY,
        "--data-dir",
        str(data),
        "--jobs",
        "2",
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("trained") == 5 and "reused" not in first.stdout
    return out


def test_sweep_json_has_runs_groups_init_and_provenance(sweep_dir: Path):
    sweep = _strict_json(sweep_dir / "sweep.json")
    assert {r["name"] for r in sweep["runs"]} == {"biper-w5-s0", "biper-w20-s0", "biper-w20-s1", "sign-s0", "sign-s1"}
    groups = {(g["binarizer"], g["omega0"]): g for g in sweep["groups"]}
    assert set(groups) == {("biper", 5.0), ("biper", 20.0), ("sign", None)}
    accs = [r["best_acc"] for r in sweep["runs"] if r["binarizer"] == "biper" and r["omega0"] == 20.0]
    assert groups[("biper", 20.0)]["best_acc"]["mean"] == pytest.approx(sum(accs) / 2, abs=1e-12)
    row = sweep["runs"][0]["analysis"]["layers"][0]
    assert 0.0 < row["normalised"]["biper_emp"] < 1.0 and row["normalised"]["sign_pred"] == pytest.approx(0.5)
    assert -1.0 <= row["drift_corr"] <= 1.0 and row["drift_stage1_rel_change"] >= 0.0  # against init and stage 1
    assert set(row["models"]) >= {"laplace", "gaussian", "penalised"} and row["best_model"] in row["models"]
    env = sweep["provenance"]["environment"]
    assert env["torch_threads"] == 1 and env["jobs"] == 2 and env["pinned"]["OMP_NUM_THREADS"] == "1"
    assert sweep["runs"][0]["environment"]["torch_threads"] == 1
    assert sweep["provenance"]["producer"] == "biper-analysis train-sweep" and sweep["recipe"]["epochs1"] == 1
    assert all((sweep_dir / r["name"] / "init.pth.tar").is_file() for r in sweep["runs"])
    assert all(r["curve"] and r["curve"][-1]["stage"] == 2 for r in sweep["runs"])


def test_weights_do_not_depend_on_threads_or_jobs(sweep_dir: Path, data: Path, tmp_path: Path):
    """The same runs again with one worker and OMP_NUM_THREADS=2: bit-identical checkpoints and accuracies."""
    other = tmp_path / "again"
    env = {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    proc = run_cli_in_process(
        "train-sweep",
        "--out",
        str(other),
        "--omega0",
        "20",
        "--seeds",
        "0",
        *TINY,
        "--data-dir",
        str(data),
        "--jobs",
        "1",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    mine = _weights_digest(other)
    assert mine and all(mine[name] == _weights_digest(sweep_dir)[name] for name in mine)
    assert all(_accuracies(other)[name] == _accuracies(sweep_dir)[name] for name in mine)


def test_a_second_grid_is_added_never_removed(sweep_dir: Path, data: Path):
    """A grid whose runs the folder already holds: cached (neither retrained nor re-analysed), nothing removed."""
    before = _accuracies(sweep_dir)
    analysis = (sweep_dir / "biper-w20-s0" / "analysis.json").stat().st_mtime_ns
    proc = run_cli_in_process(
        "train-sweep",
        "--out",
        str(sweep_dir),
        "--omega0",
        "20",
        "--seeds",
        "0",
        "--no-baseline",
        *TINY,
        "--data-dir",
        str(data),
        "--jobs",
        "1",
    )
    assert proc.returncode == 0, proc.stderr
    assert "biper-w20-s0: reused" in proc.stdout and "trained" not in proc.stdout
    assert (sweep_dir / "biper-w20-s0" / "analysis.json").stat().st_mtime_ns == analysis
    assert "now holds 5 runs" in proc.stdout and _accuracies(sweep_dir) == before
    other_recipe = run_cli_in_process(
        "train-sweep",
        "--out",
        str(sweep_dir),
        "--omega0",
        "20",
        "--seeds",
        "0",
        "--epochs1",
        "2",
        "--epochs2",
        "1",
        "--train-limit",
        "256",
        "--test-limit",
        "128",
        "--data-dir",
        str(data),
    )
    assert_one_line_error(other_recipe, "holds runs with epochs1 = 1, not 2")


def test_figures_and_checks_read_the_sweep(sweep_dir: Path, tmp_path: Path):
    figs = run_cli_in_process(
        "figures",
        "--out",
        str(tmp_path / "figs"),
        "--runs",
        str(sweep_dir),
        "--only",
        "fig6",
        "--only",
        "fig7",
        "--only",
        "fig8",
        "--only",
        "fig10",
        "--only",
        "fig11",
        "--only",
        "fig13",
        "--only",
        "fig14",
        "--formats",
        "png",
    )
    assert figs.returncode == 0, figs.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "fig10_training_curves.png",
        "fig11_init_vs_trained.png",
        "fig13_phase_trajectories.png",
        "fig14_flip_ratios.png",
        "fig6_network.png",
        "fig7_predicted_vs_measured.png",
        "fig8_accuracy_vs_omega0.png",
    ]
    report = tmp_path / "REPORT.md"
    check = run_cli_in_process(
        "check",
        "--runs",
        str(sweep_dir),
        "--report",
        str(report),
        "--only",
        "beats",
        "--only",
        "laplace",
        "--only",
        "omega0",
        "--only",
        "official",
        "--only",
        "flips",
    )
    assert check.returncode in (0, 1), check.stderr  # a failed claim is a finding, not a crash
    text = report.read_text()
    assert "n = 2)" in text and "BiPer layers" in text and "2 values of ω0" in text
    assert "**inconclusive**" in text  # two seeds cannot decide BiPer vs sign; two ω0 cannot rank
    assert "`biper_flips_less` — inconclusive" in text and "sign − BiPer" in text  # recorded, but only 2 seeds


def test_figures_without_a_sweep_say_which_command_makes_it(tmp_path: Path):
    proc = run_cli_in_process("figures", "--out", str(tmp_path / "f"), "--only", "fig7", cwd=tmp_path)
    assert proc.returncode == 0 and "biper-analysis train-sweep" in proc.stderr
    assert not any((tmp_path / "f").iterdir())
    for command in ("figures", "check"):  # a --runs folder the user named must exist: a typo is an error
        proc = run_cli_in_process(
            command, "--runs", str(tmp_path / "typo"), "--only", "fig7" if command == "figures" else "x", cwd=tmp_path
        )
        assert_one_line_error(proc, "holds no sweep.json")


def test_ctrl_c_stops_the_sweep_promptly_and_the_same_command_resumes(tmp_path: Path):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it): exit 130 within 5 s, no run started after
    the signal, the running one stopped with a resumable checkpoint and no temporary file left, a line saying what
    finished and how to resume; the same command then resumes. Progress is on stderr from the start. (SIGTERM takes
    the same path: tests/integration/test_slurm_sweep.py sends it to a waiting train-sweep.)"""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "sweep"
    args = [
        "train-sweep",
        "--out",
        str(out),
        "--omega0",
        "20",
        "--seeds",
        "0",
        "--epochs1",
        "2",
        "--epochs2",
        "1",
        "--train-limit",
        "1000",
        "--test-limit",
        "200",
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "biper_analysis", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    first = out / "biper-w20-s0" / "stage1" / "checkpoint.pth.tar"
    deadline = time.monotonic() + 180
    while not first.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.02)
    started = sorted(p.name for p in out.iterdir())
    signalled = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    elapsed = time.monotonic() - signalled
    assert proc.returncode == 130, (stdout, stderr)
    assert elapsed < 5.0, f"exited {elapsed:.1f} s after the signal"
    assert sorted(p.name for p in out.iterdir()) == started == ["biper-w20-s0"]  # sign-s0 never started
    assert stderr.startswith("train-sweep: 0/2 runs done, 0 running, 2 queued"), stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(
        "biper-analysis train-sweep: interrupted: 0 runs finished; stopped biper-w20-s0 (trained to stage 1 epoch"
    ), last
    assert "1 not started" in last and "rerun the same command to resume" in last
    assert not (out / "sweep.json").exists()
    assert not [p for p in out.rglob(".*")], "a temporary file was left behind"
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("trained") == 2
    resumed = json.loads((out / "biper-w20-s0" / "summary.json").read_text())["resumed_from"]
    assert resumed is not None and resumed["stage"] >= 1 and resumed["epoch"] >= 1
