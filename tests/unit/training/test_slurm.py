"""The Slurm executor's settings, its reading of the scheduler's answers and logs, and the task's job environment
(submitit's real JobEnvironment on Slurm's variables). The executor against a real cluster:
tests/integration/test_slurm_sweep.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from biper_analysis._io.errors import UsageError
from biper_analysis.training import slurm
from biper_analysis.training.slurm import SlurmSettings, load_settings, time_minutes


def test_settings_file_then_environment_then_options(tmp_path: Path):
    path = tmp_path / "cluster.ini"
    path.write_text(
        "[slurm]\npartition = gpu\ntime = 4:00:00\ncpus-per-task = 2\nqos = low\n"
        "[sbatch]\nconstraint = a100\nexclusive =\n"
    )
    environ = {
        slurm.CONFIG_ENV: str(path),
        "BIPER_SLURM_PARTITION": "cpu",
        "BIPER_SLURM_MEM": "8G",
        "BIPER_SLURM_SBATCH": "constraint=h100",
    }
    settings = load_settings({"qos": "high", "time": None}, ["comment=study"], environ=environ)
    assert (settings.partition, settings.time, settings.cpus_per_task, settings.qos, settings.mem) == (
        "cpu",
        "4:00:00",
        2,
        "high",
        "8G",
    )
    assert dict(settings.sbatch) == {"constraint": "h100", "exclusive": "", "comment": "study"}
    flags = settings.sbatch_flags()
    assert "--time=240" in flags and "--partition=cpu" in flags and "--exclusive" in flags
    params = settings.submitit_parameters("biper-x")
    assert params["time"] == 240 and params["qos"] == "high" and params["ntasks_per_node"] == 1
    assert params["additional_parameters"] == {"constraint": "h100", "exclusive": True, "comment": "study"}
    assert load_settings({}, environ={}) == SlurmSettings()


@pytest.mark.parametrize(
    "text, minutes", [("90", 90), ("30:30", 31), ("2:00:00", 120), ("1-0", 1440), ("1-2:30", 1590), ("0-0:0:1", 1)]
)
def test_time_limits_in_slurm_formats(text: str, minutes: int):
    assert time_minutes(text) == minutes


@pytest.mark.parametrize(
    "options, sbatch, message",
    [
        ({"time": "two hours"}, [], "give minutes"),
        ({"time": "0"}, [], "longer than 0"),
        ({"cpus_per_task": "0"}, [], "--cpus-per-task must be >= 1"),
        ({"gpus_per_run": 2, "procs_per_run": 4}, [], "each process of a run takes one GPU"),
        ({"mem": "lots"}, [], "give a size such as 4G"),
        ({"array_parallelism": "x"}, [], "array-parallelism takes a whole number"),
        ({}, ["time=5"], "time is set by train-sweep"),
        ({}, ["constraint"], "expected KEY=VALUE"),
    ],
)
def test_bad_settings_are_one_clear_error(options: dict, sbatch: list, message: str):
    with pytest.raises(UsageError, match=message):
        load_settings(options, sbatch, environ={})


def test_bad_settings_files_name_the_file_and_the_key(tmp_path: Path):
    path = tmp_path / "c.ini"
    path.write_text("[slurm]\npartitoin = gpu\n")
    with pytest.raises(UsageError, match=r"c.ini: unknown setting 'partitoin' in \[slurm\]; choose from partition"):
        load_settings({}, config_file=str(path), environ={})
    path.write_text("[cluster]\npartition = gpu\n")
    with pytest.raises(UsageError, match=r"unknown section \[cluster\]"):
        load_settings({}, config_file=str(path), environ={})
    with pytest.raises(UsageError, match="give an existing file"):
        load_settings({}, environ={slurm.CONFIG_ENV: str(tmp_path / "missing.ini")})


@pytest.mark.parametrize(
    "final, needle",
    [
        ({"JobState": "FAILED", "ExitCode": "137:0"}, "FAILED: killed by SIGKILL (the kernel's out-of-memory killer"),
        ({"JobState": "CANCELLED", "ExitCode": "0:15"}, "CANCELLED: was cancelled"),
        ({"JobState": "OUT_OF_MEMORY", "ExitCode": "0:125"}, "ask for more with --mem"),
        ({"JobState": "TIMEOUT", "ExitCode": "0:0"}, "raise --time"),
        ({"JobState": "NODE_FAIL"}, "its node failed"),
        ({"JobState": "FAILED", "ExitCode": "1:0"}, "FAILED: exited with status 1"),
        ({"JobState": "COMPLETED", "ExitCode": "0:0"}, "ended without finishing the run"),
        ({}, "the scheduler no longer knows the job"),
    ],
)
def test_why_a_job_did_not_finish_its_run(final: dict, needle: str):
    assert needle in slurm._why(final)


def test_the_last_error_line_of_a_log_skips_submitit_bookkeeping(tmp_path: Path):
    log = tmp_path / "7_0_0_log.err"
    log.write_text(
        "submitit WARNING (2026) - Bypassing signal SIGTERM\nTraceback (most recent call last):\n"
        '  File "x.py", line 1\nValueError: the data file is truncated\n'
        "submitit INFO (2026) - Exiting\n"
    )
    assert slurm._last_error_line(log) == "ValueError: the data file is truncated"
    log.write_text("srun: error: node3: task 0: Killed\nsrun: Force Terminated StepId=12.0\n")
    assert slurm._last_error_line(log) == "srun: error: node3: task 0: Killed"
    assert slurm._last_error_line(tmp_path / "absent.err") == ""


def test_a_task_records_its_job_and_node(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "SLURM_ARRAY_JOB_ID": "41",
        "SLURM_ARRAY_TASK_ID": "3",
        "SLURM_JOB_ID": "44",
        "SLURMD_NODENAME": "gpu07",
        "SLURM_RESTART_COUNT": "2",
        "SLURM_JOB_PARTITION": "gpu",
        "SLURM_NTASKS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    assert slurm.slurm_job_info() == {
        "executor": "slurm",
        "job_id": "41_3",
        "node": "gpu07",
        "restart_count": 2,
        "partition": "gpu",
        "processes": 1,
    }


def test_several_processes_per_run_get_torchrun_variables_from_the_job_environment(monkeypatch: pytest.MonkeyPatch):
    for key, value in {
        "SUBMITIT_EXECUTOR": "slurm",
        "SLURM_JOB_ID": "1234",
        "SLURM_NTASKS": "4",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_NODEID": "1",
        "SLURM_PROCID": "3",
        "SLURM_LOCALID": "1",
        "SLURM_JOB_NODELIST": "gpu[07-08]",
    }.items():
        monkeypatch.setenv(key, value)
    assert slurm._distributed_environment() == {
        "RANK": "3",
        "LOCAL_RANK": "1",
        "WORLD_SIZE": "4",
        "MASTER_ADDR": "gpu07",
        "MASTER_PORT": str(15000 + 1234),
    }
    monkeypatch.setenv("SLURM_NTASKS", "1")
    assert slurm._distributed_environment() == {}


def test_a_task_is_checkpointable_as_the_same_call():
    task = slurm.SweepTask()
    again = task.checkpoint("biper-w20-s0", "/runs/biper-w20-s0", {"seed": 0}, 1)
    assert again.function is task and again.args == ("biper-w20-s0", "/runs/biper-w20-s0", {"seed": 0}, 1)


def test_the_readme_settings_file_reads_as_it_says(tmp_path: Path):
    from tests.conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("```ini\n", 1)[1].split("```", 1)[0]
    (tmp_path / "cluster.ini").write_text(block)
    settings = load_settings({}, config_file=str(tmp_path / "cluster.ini"), environ={})
    assert (settings.partition, time_minutes(settings.time), settings.cpus_per_task, settings.mem) == (
        "cpu",
        60,
        1,
        "4G",
    )
    assert (settings.account, settings.array_parallelism, dict(settings.sbatch)) == (
        "myproject",
        22,
        {"constraint": "avx2"},
    )
