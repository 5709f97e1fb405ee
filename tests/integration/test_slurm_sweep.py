"""train-sweep --executor slurm on a real single-node Slurm cluster (tests/slurm_cluster.py): the runs equal the same
runs trained locally tensor by tensor; a task signalled as at its time limit is requeued and resumes bit-identical;
a task killed mid-run shows as failed with its log, and the rerun submits only it; cluster faults are one line,
exit 2, before anything is submitted. Real Fashion-MNIST, a few thousand images, mlp_1w1a."""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.conftest import assert_one_line_error, run_cli
from tests.slurm_cluster import Cluster, free_port, missing, start_cluster

#: Two runs (BiPer ω0 = 20 and the sign baseline, seed 0): two stage-1 epochs so that a task can be stopped after its
#: first checkpoint.
PLAN = [
    "--omega0",
    "20",
    "--seeds",
    "0",
    "--epochs1",
    "2",
    "--epochs2",
    "1",
    "--train-limit",
    "2000",
    "--test-limit",
    "500",
]
SLURM = ["--executor", "slurm", "--time", "10"]
FILES = (
    "init.pth.tar",
    "stage1/checkpoint.pth.tar",
    "stage1/model_best.pth.tar",
    "stage2/checkpoint.pth.tar",
    "stage2/model_best.pth.tar",
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    reason = missing()
    if reason:
        pytest.skip(reason)
    c = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.stop()


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: the same runs trained by the local executor."""
    out = tmp_path_factory.mktemp("local") / "sweep"
    started = time.monotonic()
    proc = run_cli("train-sweep", "--out", str(out), *PLAN, "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    print(f"local executor: {time.monotonic() - started:.1f} s wall for 2 runs")
    return out


def _jobs(out: Path) -> dict[str, str]:
    record = json.loads((out / "slurm" / "jobs.json").read_text())
    return {name: entries[-1]["job_id"] for name, entries in record["runs"].items()}


def _wait_until(predicate, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def slurm_sweep(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same plan through Slurm: submitted (the command returns at once); biper-w20-s0's task signalled with
    USR2 — Slurm's warning before the time limit — once its first checkpoint is written; a --wait follower stopped
    with SIGTERM; then followed to the end with --wait."""
    out = tmp_path_factory.mktemp("slurm") / "sweep"
    started = time.monotonic()
    # (run_cli's working folder is removed as soon as the command returns, before the tasks start)
    submit = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, env=cluster.env)
    assert submit.returncode == 0, submit.stderr
    assert "submitted 2 runs as Slurm job" in submit.stdout and "--status" in submit.stdout
    job = _jobs(out)["biper-w20-s0"]
    # a follower (train-sweep --wait) started now is stopped with SIGTERM below: it leaves at once (exit 130) and the
    # jobs go on
    follower = subprocess.Popen(
        [sys.executable, "-m", "biper_analysis", "train-sweep", "--out", str(out), *PLAN, *SLURM, "--wait"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(follower.stderr), daemon=True)
    reader.start()
    _wait_until((out / "biper-w20-s0" / "stage1" / "checkpoint.pth.tar").exists, "the first checkpoint")
    cluster.run("scancel", "--signal=USR2", job)  # Slurm's warning before the time limit (submitit's --signal)
    # the requeued task may not start for cred_expire (10 s): the sweep is not done before the follower is stopped
    _wait_until(
        lambda: any("runs done" in line for line in lines) or follower.poll() is not None,
        "the follower's first progress line",
        60,
    )
    signalled = time.monotonic()
    follower.send_signal(signal.SIGTERM)
    follower.wait(timeout=60)
    stop_s = time.monotonic() - signalled
    reader.join(timeout=10)
    stopped = "".join(lines)
    waited = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, "--wait", env=cluster.env)
    assert waited.returncode == 0, waited.stderr
    print(f"slurm executor: {time.monotonic() - started:.1f} s wall for 2 runs, one of them requeued")
    return {"out": out, "submit": submit, "wait": waited, "job": job, "stopped": (follower.returncode, stopped, stop_s)}


def _tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Every tensor inside a checkpoint (weights, buffers, optimiser momentum), by path."""
    if isinstance(obj, torch.Tensor):
        return {prefix: obj}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    out: dict[str, torch.Tensor] = {}
    for key, value in items:
        out.update(_tensors(value, f"{prefix}/{key}"))
    return out


def _assert_same_weights(a: Path, b: Path, run: str) -> int:
    compared = 0
    for name in FILES:
        ta = _tensors(torch.load(a / run / name, weights_only=True))
        tb = _tensors(torch.load(b / run / name, weights_only=True))
        assert ta.keys() == tb.keys(), (run, name)
        differ = [k for k in ta if not torch.equal(ta[k], tb[k])]
        assert not differ, (run, name, differ[:3])
        compared += len(ta)
    return compared


def test_slurm_runs_equal_local_runs_tensor_by_tensor(local_sweep: Path, slurm_sweep: dict[str, Any]):
    out = slurm_sweep["out"]
    compared = sum(_assert_same_weights(local_sweep, out, run) for run in ("biper-w20-s0", "sign-s0"))
    assert compared > 100
    local = {r["name"]: r for r in json.loads((local_sweep / "sweep.json").read_text())["runs"]}
    remote = {r["name"]: r for r in json.loads((out / "sweep.json").read_text())["runs"]}
    assert local.keys() == remote.keys() == {"biper-w20-s0", "sign-s0"}
    for name in local:
        assert remote[name]["best_acc"] == local[name]["best_acc"] and remote[name]["curve"] == local[name]["curve"]
        assert remote[name]["environment"]["torch_threads"] == 1
        assert remote[name]["environment"]["torch_cpu_capability"] == local[name]["environment"]["torch_cpu_capability"]


def test_a_task_stopped_at_its_time_limit_is_requeued_and_resumes(slurm_sweep: dict[str, Any]):
    out = slurm_sweep["out"]
    summary = json.loads((out / "biper-w20-s0" / "summary.json").read_text())
    assert summary["executor"]["restart_count"] == 1 and summary["executor"]["job_id"] == slurm_sweep["job"]
    assert summary["resumed_from"]["stage"] == 1 and summary["resumed_from"]["epoch"] >= 1
    log = (out / "slurm" / f"{slurm_sweep['job']}_0_log.out").read_text()
    # (submitit's own "Requeued job" line may be missing: Slurm can end the task's step, and the `scontrol requeue`
    # it runs, before that line is written; the restart count above is the scheduler's word)
    assert "Caught signal SIGUSR2" in log and "requeued 1 times" in log and "resumed from stage 1" in log
    other = json.loads((out / "sign-s0" / "summary.json").read_text())
    assert other["executor"]["restart_count"] == 0 and other["resumed_from"] is None


def test_tasks_run_in_the_sweep_folder_not_the_submitters(slurm_sweep: dict[str, Any]):
    # run_cli submitted from a temporary folder that was removed when the command returned, before any task started
    # (torch cannot be imported in a deleted folder): the tasks ran because they start in the sweep's Slurm folder
    out = slurm_sweep["out"]
    script = next((out / "slurm").glob(f"{slurm_sweep['job'].split('_')[0]}_submission.sh")).read_text()
    assert f"#SBATCH --chdir={(out / 'slurm').resolve()}" in script, script
    assert json.loads((out / "biper-w20-s0" / "summary.json").read_text())["executor"]["restart_count"] == 1


def test_sigterm_stops_a_waiting_sweep_and_the_jobs_go_on(slurm_sweep: dict[str, Any]):
    code, stderr, seconds = slurm_sweep["stopped"]
    assert code == 130 and seconds < 5.0, (code, stderr, seconds)
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("biper-analysis train-sweep: interrupted: stopped waiting; ") and "--status" in last, last
    assert "still queued or running on the cluster" in last, last


def test_provenance_records_job_and_node(slurm_sweep: dict[str, Any]):
    import socket

    out = slurm_sweep["out"]
    sweep = json.loads((out / "sweep.json").read_text())
    jobs = _jobs(out)
    for run in sweep["runs"]:
        assert run["executor"]["executor"] == "slurm" and run["executor"]["job_id"] == jobs[run["name"]]
        assert run["executor"]["node"] == socket.gethostname()
    assert sweep["provenance"]["environment"]["executor"] == "slurm"
    assert sweep["provenance"]["environment"]["slurm"]["time"] == "10"
    assert "train-sweep: " in slurm_sweep["wait"].stderr and "runs done" in slurm_sweep["wait"].stderr


def test_a_killed_task_shows_as_failed_and_only_it_is_resubmitted(cluster: Cluster, local_sweep: Path, tmp_path: Path):
    """One run finished already (copied from the local sweep); the other's task is killed with SIGKILL (as the
    kernel's out-of-memory killer does) after its first checkpoint. The waiting train-sweep says so in one line and
    exits 1, claiming nothing; --status names the run failed with its log and last error line; the rerun submits only
    it, and it resumes to the same weights."""
    out = tmp_path / "sweep"
    out.mkdir()
    shutil.copytree(local_sweep / "biper-w20-s0", out / "biper-w20-s0")
    first = subprocess.Popen(
        [sys.executable, "-m", "biper_analysis", "train-sweep", "--out", str(out), *PLAN, *SLURM, "--wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cluster.env,
    )
    _wait_until(lambda: (out / "slurm" / "jobs.json").exists() or first.poll() is not None, "the submission")
    job = _jobs(out)["sign-s0"]
    _wait_until((out / "sign-s0" / "stage1" / "checkpoint.pth.tar").exists, "the first checkpoint")
    assert cluster.kill_task(job) == 1
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 1 and "submitted 1 run as Slurm job" in stdout, (stdout, stderr)
    errors = [line for line in stderr.splitlines() if line.startswith("biper-analysis train-sweep: ")]
    assert errors[0].startswith(
        f"biper-analysis train-sweep: error: sign-s0 failed (job {job}): FAILED: killed by SIGKILL"
    ), errors
    assert errors[1] == (
        "biper-analysis train-sweep: 1 of 2 runs failed; rerun the same command to resubmit them "
        "(they resume from their last checkpoints)"
    ), errors
    assert not (out / "sweep.json").exists() and not (out / "sign-s0" / "summary.json").exists()
    status = run_cli("train-sweep", "--out", str(out), "--status", env=cluster.env)
    assert status.returncode == 0, status.stderr
    lines = {line.split()[0]: line for line in status.stdout.splitlines() if line.strip()}
    assert lines["biper-w20-s0"].split()[1] == "done"
    failed = lines["sign-s0"]
    assert failed.split()[1] == "failed" and f"job {job}" in failed and "killed by SIGKILL" in failed, failed
    assert "last error line: srun: error:" in failed and "Killed" in failed, failed
    assert f"log {out / 'slurm' / f'{job}_0_log.err'}" in failed, failed
    assert "1 done, 1 failed" in status.stdout
    again = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, "--wait", env=cluster.env)
    assert again.returncode == 0, again.stderr
    assert "submitted 1 run as Slurm job" in again.stdout and "sign-s0 →" in again.stdout
    assert "biper-w20-s0 →" not in again.stdout
    summary = json.loads((out / "sign-s0" / "summary.json").read_text())
    assert summary["resumed_from"] is not None and summary["executor"]["job_id"] != job
    _assert_same_weights(local_sweep, out, "sign-s0")
    assert {r["name"] for r in json.loads((out / "sweep.json").read_text())["runs"]} == {"biper-w20-s0", "sign-s0"}


def test_cluster_faults_are_one_line_before_anything_is_submitted(cluster: Cluster, tmp_path: Path):
    out = tmp_path / "sweep"
    bad_partition = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, "--partition", "nosuch", env=cluster.env)
    assert_one_line_error(bad_partition, "--partition nosuch does not exist", "partitions here: debug")
    dead = tmp_path / "dead.conf"
    conf = re.sub(r"SlurmctldPort=\d+", f"SlurmctldPort={free_port()}", cluster.conf.read_text())
    dead.write_text(conf.replace("MessageTimeout=10", "MessageTimeout=2"))  # nobody listens there
    unreachable = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, env={**cluster.env, "SLURM_CONF": str(dead)})
    assert_one_line_error(unreachable, "cannot reach the Slurm controller")
    no_slurm = run_cli("train-sweep", "--out", str(out), *PLAN, *SLURM, env={**cluster.env, "PATH": "/nonexistent"})
    assert_one_line_error(no_slurm, "no Slurm here", "--executor local")
    local_only = run_cli("train-sweep", "--out", str(out), *PLAN, "--partition", "debug")
    assert_one_line_error(local_only, "--partition applies to --executor slurm")
    assert not out.exists()  # nothing written, nothing submitted
    assert not cluster.run("squeue", "-h").stdout.strip()


def test_requests_the_cluster_cannot_meet_are_refused_before_submitting(
    cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from biper_analysis._io.errors import UsageError
    from biper_analysis.training.slurm import load_settings, run_sweep_on_slurm
    from biper_analysis.training.sweep import SweepPlan

    monkeypatch.setenv("SLURM_CONF", str(cluster.conf))
    out = tmp_path / "sweep"
    plan = SweepPlan(omega0s=(20.0,), seeds=(0,), side_seeds=(), overrides={"device": "cuda"})
    with pytest.raises(UsageError, match=r"Slurm refuses the task's request \(.*gres.*--gpus-per-node=1"):
        run_sweep_on_slurm(out, plan, load_settings({"gpus_per_run": 1}))
    with pytest.raises(UsageError, match="needs GPUs in the task"):
        run_sweep_on_slurm(out, plan, load_settings({}))
    with pytest.raises(UsageError, match="asks for GPUs but the runs use --device cpu"):
        run_sweep_on_slurm(out, SweepPlan(omega0s=(20.0,), seeds=(0,)), load_settings({"gpus_per_run": 2}))
    with pytest.raises(UsageError, match="Slurm refuses the task's request"):
        run_sweep_on_slurm(out, SweepPlan(omega0s=(20.0,), seeds=(0,)), load_settings({"mem": "100000G"}))
    assert not out.exists() and not cluster.run("squeue", "-h").stdout.strip()


@pytest.mark.slow
def test_a_run_of_two_processes_per_task_trains_distributed(cluster: Cluster, tmp_path: Path):
    """--procs-per-run 2: one Slurm task of two CPU processes per run; submitit's task environment becomes the
    RANK / WORLD_SIZE / MASTER_ADDR of a gloo process group (the GPU path, --gpus-per-run G with nccl, is the same
    wiring and is not tested here: no GPU, CPU torch)."""
    out = tmp_path / "sweep"
    proc = run_cli(
        "train-sweep",
        "--out",
        str(out),
        "--omega0",
        "20",
        "--seeds",
        "0",
        "--no-baseline",
        "--epochs1",
        "1",
        "--epochs2",
        "1",
        "--train-limit",
        "2000",
        "--test-limit",
        "500",
        *SLURM,
        "--procs-per-run",
        "2",
        "--wait",
        env=cluster.env,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((out / "biper-w20-s0" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["executor"]["processes"] == 2
    ckpt = torch.load(out / "biper-w20-s0" / "stage2" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["world_size"] == 2 and not any(k.startswith("module.") for k in ckpt["state_dict"])
    job = _jobs(out)["biper-w20-s0"]
    assert "biper-w20-s0: trained" in (out / "slurm" / f"{job}_0_log.out").read_text()
    assert "trained" not in (out / "slurm" / f"{job}_1_log.out").read_text()  # rank 1 trains, writes nothing
