"""The training sweep on a Slurm cluster: one job-array task per run, submitted with submitit.

Each task trains (or reuses) one run with the same functions the local executor uses
(:func:`biper_analysis.training.sweep.train_or_reuse`, :func:`~biper_analysis.training.sweep.run_record`), pinned to
``--cpus-per-task`` threads and the CPU code path of its node before torch loads
(:func:`biper_analysis._io.reproducible.pin_worker`), so with one thread a CPU run's weights are the same bits as a
local run's on the same kind of CPU. The run folders, their ``summary.json`` and ``analysis.json`` and the sweep
file are the same whichever executor ran a run; each run's summary records the job id and node
(``executor``). Besides the runs, the sweep folder gets ``slurm/``: submitit's job scripts and pickles, one log
pair per task, and ``jobs.json`` (which job ran which run).

The submitting process need not stay alive: :func:`run_sweep_on_slurm` submits the runs that are missing or
failed, and either returns or (``wait``) follows them; a later call with the same plan submits nothing that is
queued or running, and writes ``sweep.json`` once every run is done.
:func:`sweep_status` asks the scheduler (``squeue``; for a finished job ``sacct``,
or ``scontrol`` where accounting is off) what became of each run.

Time limits and preemption: submitit asks Slurm for a signal (USR2) ``signal_delay_s`` before the time limit,
and on it (or on a preemption signal) calls :meth:`SweepTask.checkpoint` and requeues the task; the requeued task
resumes the run from its last epoch checkpoint and ends with the weights of an uninterrupted run. A run counts
as done only when its ``summary.json`` is written, after training; ``sweep.json`` lists done runs only.

Several processes per run (distributed data parallel): ``--gpus-per-run G`` starts G tasks with one GPU each
(``--procs-per-run P`` P CPU processes, gloo), and :meth:`SweepTask.__call__` turns submitit's job environment
into the RANK / WORLD_SIZE / MASTER_ADDR variables the training loop's process group reads.
"""

from __future__ import annotations

import configparser
import contextlib
import dataclasses
import datetime as _dt
import getpass
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.errors import UsageError
from biper_analysis._io.jsonio import dumps, jsonable, read_json
from biper_analysis._io.provenance import compute_environment, provenance
from biper_analysis._io.reproducible import pin_worker
from biper_analysis.training.config import TrainConfig
from biper_analysis.training.sweep import (
    _RUN_NAME,
    SWEEP_FILE,
    ProgressClock,
    RunStatus,
    SweepInterrupted,
    SweepPlan,
    SweepProgress,
    _partial_detail,
    check_folder,
    local_status,
    reusable_records,
    run_record,
    train_or_reuse,
    write_sweep,
)

__all__ = [
    "SLURM_FOLDER",
    "JOBS_FILE",
    "CONFIG_ENV",
    "ENV_PREFIX",
    "SlurmSettings",
    "SlurmOutcome",
    "load_settings",
    "time_minutes",
    "check_cluster",
    "run_sweep_on_slurm",
    "recorded_jobs",
    "scheduler_status",
    "SweepTask",
]

SLURM_FOLDER = "slurm"
JOBS_FILE = "jobs.json"
#: Environment variable naming a settings file; BIPER_SLURM_<SETTING> sets one setting (e.g. BIPER_SLURM_PARTITION).
CONFIG_ENV = "BIPER_SLURM_CONFIG"
ENV_PREFIX = "BIPER_SLURM_"
#: Seconds a Slurm command may take to answer.
COMMAND_TIMEOUT_S = 60
#: sbatch parameters the settings own (give them with their own option, not as an extra sbatch parameter).
_OWNED = {
    "partition",
    "time",
    "cpus-per-task",
    "gpus-per-node",
    "ntasks-per-node",
    "mem",
    "account",
    "qos",
    "array",
    "output",
    "error",
    "signal",
    "job-name",
    "open-mode",
    "nodes",
}
#: Scheduler states of a job that has not ended, as the run states they mean.
_ACTIVE = {
    "PENDING": "queued",
    "REQUEUED": "queued",
    "REQUEUE_HOLD": "queued",
    "REQUEUE_FED": "queued",
    "RESV_DEL_HOLD": "queued",
    "SUSPENDED": "queued",
    "CONFIGURING": "running",
    "RUNNING": "running",
    "COMPLETING": "running",
    "STAGE_OUT": "running",
    "SIGNALING": "running",
    "RESIZING": "running",
    "STOPPED": "running",
}
#: Why a finished job did not finish its run, and what to do.
_WHY = {
    "OUT_OF_MEMORY": "ran out of memory; ask for more with --mem",
    "TIMEOUT": "reached its time limit more often than it may be requeued; raise --time",
    "NODE_FAIL": "its node failed",
    "BOOT_FAIL": "its node failed to boot",
    "CANCELLED": "was cancelled",
    "PREEMPTED": "was preempted and not requeued",
    "DEADLINE": "passed its deadline",
}


# ---------------------------------------------------------------------------------------------------
# Settings: command line over environment over settings file
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SlurmSettings:
    """What each task asks Slurm for. ``time``: Slurm's formats (minutes, H:MM:SS, D-HH:MM...). ``sbatch``: extra
    sbatch parameters (``constraint=a100``; a bare flag as ``exclusive=``). With ``gpus_per_run`` G > 1 (or
    ``procs_per_run`` P > 1 on CPUs) a run is one distributed job of G (P) processes."""

    partition: str | None = None
    time: str = "60"
    cpus_per_task: int = 1  # threads of each process (1: the same bits as a local run)
    gpus_per_run: int = 0
    procs_per_run: int | None = None  # processes of one run (default: gpus_per_run, else 1)
    mem: str | None = None  # per node, sbatch --mem (e.g. 4G)
    account: str | None = None
    qos: str | None = None
    array_parallelism: int | None = None  # tasks of the array running at once (default: as many as fit)
    requeues: int = 3  # times a task may be requeued after reaching its time limit
    sbatch: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        time_minutes(self.time)
        for name, low in (("cpus_per_task", 1), ("gpus_per_run", 0), ("requeues", 0)):
            if getattr(self, name) < low:
                raise UsageError(f"--{_flag(name)} must be >= {low}, got {getattr(self, name)}")
        for name in ("procs_per_run", "array_parallelism"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise UsageError(f"--{_flag(name)} must be >= 1, got {value}")
        if self.gpus_per_run and self.procs_per_run not in (None, self.gpus_per_run):
            raise UsageError(
                f"--procs-per-run {self.procs_per_run} with --gpus-per-run {self.gpus_per_run}: each "
                "process of a run takes one GPU; drop --procs-per-run"
            )
        if self.mem is not None and not re.fullmatch(r"[0-9]+[KMGT]?B?", self.mem, flags=re.IGNORECASE):
            raise UsageError(f"--mem {self.mem!r}: give a size such as 4G or 4000M")
        for key, _ in self.sbatch:
            if key.replace("_", "-") in _OWNED:
                raise UsageError(
                    f"--sbatch {key}=...: {key.replace('_', '-')} is set by train-sweep "
                    f"(use --{key.replace('_', '-')} where it is an option)"
                )

    @property
    def processes(self) -> int:
        return self.procs_per_run or self.gpus_per_run or 1

    def sbatch_flags(self) -> list[str]:
        """The sbatch options of one task (as given to ``sbatch --test-only`` before submitting)."""
        flags = [
            f"--time={time_minutes(self.time)}",
            f"--cpus-per-task={self.cpus_per_task}",
            f"--ntasks-per-node={self.processes}",
        ]
        for key in ("partition", "mem", "account", "qos"):
            if getattr(self, key) is not None:
                flags.append(f"--{key}={getattr(self, key)}")
        if self.gpus_per_run:
            flags.append(f"--gpus-per-node={self.gpus_per_run}")
        flags += [f"--{k.replace('_', '-')}" + (f"={v}" if v != "" else "") for k, v in self.sbatch]
        return flags

    def submitit_parameters(self, job_name: str) -> dict[str, Any]:
        """The same request in submitit's SlurmExecutor parameters."""
        params: dict[str, Any] = {
            "job_name": job_name,
            "time": time_minutes(self.time),
            "cpus_per_task": self.cpus_per_task,
            "ntasks_per_node": self.processes,
        }
        for key in ("partition", "mem", "account", "qos", "array_parallelism"):
            if getattr(self, key) is not None:
                params[key] = getattr(self, key)
        if self.gpus_per_run:
            params["gpus_per_node"] = self.gpus_per_run
        if self.sbatch:
            params["additional_parameters"] = {k.replace("-", "_"): (True if v == "" else v) for k, v in self.sbatch}
        return params

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["sbatch"] = dict(self.sbatch)
        return out


def _flag(name: str) -> str:
    return name.replace("_", "-")


_FIELD_TYPES = {
    f.name: (
        int if f.name in ("cpus_per_task", "gpus_per_run", "procs_per_run", "array_parallelism", "requeues") else str
    )
    for f in dataclasses.fields(SlurmSettings)
    if f.name != "sbatch"
}


def time_minutes(text: str) -> int:
    """A Slurm time limit in whole minutes (rounded up): "90", "MM:SS", "H:MM:SS", "D-H", "D-H:MM", "D-H:MM:SS".

    >>> [time_minutes(t) for t in ("90", "30:30", "2:00:00", "1-0", "1-2:30", "0-0:0:1")]
    [90, 31, 120, 1440, 1590, 1]
    """
    m = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", str(text).strip())
    if m is None:
        raise UsageError(f"--time {text!r}: give minutes (90) or Slurm's H:MM:SS or D-HH:MM:SS")
    days, a, b, c = m.groups()
    if days is not None:  # D-H, D-H:M, D-H:M:S
        seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:  # H:M:S
        seconds = int(a) * 3600 + int(b) * 60 + int(c)
    elif b is not None:  # M:S
        seconds = int(a) * 60 + int(b)
    else:  # M
        seconds = int(a) * 60
    if seconds <= 0:
        raise UsageError(f"--time {text!r} must be longer than 0")
    return -(-seconds // 60)


def _pairs(items: Sequence[str], where: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{where} {item!r}: expected KEY=VALUE, e.g. constraint=a100 (KEY= for a bare flag)")
        out.append((key.strip().lstrip("-"), value.strip()))
    return out


def _typed(name: str, value: Any, where: str) -> Any:
    if value is None or _FIELD_TYPES[name] is str:
        return None if value is None else str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{where}: {_flag(name)} takes a whole number, got {value!r}") from None


def load_settings(
    options: Mapping[str, Any] | None = None,
    sbatch: Sequence[str] = (),
    config_file: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> SlurmSettings:
    """Settings from (lowest first) the settings file (``config_file`` or $BIPER_SLURM_CONFIG), the environment
    (BIPER_SLURM_PARTITION, BIPER_SLURM_TIME, ...; BIPER_SLURM_SBATCH="k=v,k=v") and ``options`` (None values
    ignored), with ``sbatch`` extra parameters added last.

    The settings file is INI: a ``[slurm]`` section with the settings (``partition = gpu``, ``time = 4:00:00``,
    ``cpus-per-task = 1`` ...) and an optional ``[sbatch]`` section of extra sbatch parameters (``constraint = a100``).
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    extra: dict[str, str] = {}
    path = config_file or environ.get(CONFIG_ENV)
    if path:
        file_values, file_extra = _read_settings_file(Path(path))
        values.update(file_values)
        extra.update(file_extra)
    for name in _FIELD_TYPES:
        text = environ.get(ENV_PREFIX + name.upper())
        if text is not None and text.strip():
            values[name] = _typed(name, text.strip(), f"${ENV_PREFIX + name.upper()}")
    if environ.get(ENV_PREFIX + "SBATCH"):
        extra.update(
            _pairs([p for p in environ[ENV_PREFIX + "SBATCH"].split(",") if p.strip()], f"${ENV_PREFIX}SBATCH")
        )
    for name, value in (options or {}).items():
        if value is not None:
            values[name] = _typed(name, value, f"--{_flag(name)}")
    extra.update(_pairs(sbatch, "--sbatch"))
    return SlurmSettings(**values, sbatch=tuple(extra.items()))


def _read_settings_file(path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    parser = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=("#", ";"))
    try:
        with open(path, encoding="utf-8") as fh:
            parser.read_file(fh)
    except OSError as exc:
        raise UsageError(f"Slurm settings file {str(path)!r}: {exc.strerror or exc}; give an existing file") from None
    except configparser.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise UsageError(f"Slurm settings file {path}: {first}; see the README's cluster section") from None
    unknown = [s for s in parser.sections() if s not in ("slurm", "sbatch")]
    if unknown:
        raise UsageError(f"Slurm settings file {path}: unknown section [{unknown[0]}]; use [slurm] and [sbatch]")
    values: dict[str, Any] = {}
    if parser.has_section("slurm"):
        for key, text in parser.items("slurm"):
            name = key.replace("-", "_")
            if name not in _FIELD_TYPES:
                raise UsageError(
                    f"Slurm settings file {path}: unknown setting {key!r} in [slurm]; choose from "
                    + ", ".join(_flag(n) for n in _FIELD_TYPES)
                )
            values[name] = _typed(name, text.strip(), f"{path} [slurm]")
    extra = dict(parser.items("sbatch")) if parser.has_section("sbatch") else {}
    return values, {k: v.strip() for k, v in extra.items()}


# ---------------------------------------------------------------------------------------------------
# Asking the scheduler
# ---------------------------------------------------------------------------------------------------
def _slurm(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run a Slurm command; UsageError when it cannot be run or does not answer."""
    try:
        return subprocess.run(list(args), capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except FileNotFoundError:
        raise UsageError(
            f"no Slurm here: `{args[0]}` is not on PATH; run train-sweep --executor slurm on a machine "
            "that submits to the cluster (a login node), or use --executor local"
        ) from None
    except subprocess.TimeoutExpired:
        raise UsageError(
            f"the Slurm controller did not answer `{' '.join(args[:2])}` within {COMMAND_TIMEOUT_S} s; try again later"
        ) from None


def _error_line(text: str) -> str:
    """The most telling line of a Slurm command's error output."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        if "error" in line.lower():
            return re.sub(r"^\w+: error:\s*", "", line)
    return lines[0] if lines else "no message"


def check_cluster(settings: SlurmSettings) -> dict[str, Any]:
    """Before anything is submitted or written: the Slurm commands exist, the controller answers, the partition
    exists, and ``sbatch --test-only`` accepts one task's request. UsageError (one line) otherwise; returns the
    partitions."""
    for command in ("sbatch", "squeue", "scontrol", "sinfo", "srun"):
        if shutil.which(command) is None:
            raise UsageError(
                f"no Slurm here: `{command}` is not on PATH; run train-sweep --executor slurm on a "
                "machine that submits to the cluster (a login node), or use --executor local"
            )
    ping = _slurm(["scontrol", "ping"])
    if ping.returncode != 0 or "DOWN" in ping.stdout:
        said = _error_line(ping.stderr) if ping.stderr.strip() else ping.stdout.strip().splitlines()[0]
        raise UsageError(
            f"cannot reach the Slurm controller ({said}); check that slurmctld runs and that SLURM_CONF "
            "names its slurm.conf, or use --executor local"
        )
    listed = _slurm(["sinfo", "-h", "-o", "%P"])
    partitions = [p.strip() for p in listed.stdout.split() if p.strip()]
    names = [p.rstrip("*") for p in partitions]
    if settings.partition is not None and settings.partition not in names:
        raise UsageError(
            f"--partition {settings.partition} does not exist on this cluster; partitions here: "
            f"{', '.join(names) or 'none'}"
        )
    test = _slurm(["sbatch", "--test-only", *settings.sbatch_flags(), "--wrap", "true"])
    if test.returncode != 0:
        raise UsageError(
            f"Slurm refuses the task's request ({_error_line(test.stderr)}); change the option that "
            f"asks for it ({' '.join(settings.sbatch_flags())})"
        )
    default = next((p.rstrip("*") for p in partitions if p.endswith("*")), None)
    return {"partitions": names, "default_partition": default}


def _active_jobs() -> dict[str, tuple[str, str, str]]:
    """job id → (state, reason, node) of every job of this user the scheduler has not finished."""
    proc = _slurm(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i|%T|%r|%N"])
    if proc.returncode != 0:
        raise UsageError(
            f"cannot ask the Slurm scheduler about the sweep's jobs ({_error_line(proc.stderr)}); check "
            "that slurmctld runs and that SLURM_CONF names its slurm.conf"
        )
    out = {}
    for line in proc.stdout.splitlines():
        parts = line.strip().split("|")
        if len(parts) == 4:
            out[parts[0]] = (parts[1], parts[2], parts[3])
    return out


def _final_state(job_id: str) -> dict[str, str]:
    """State, ExitCode and NodeList of a finished job: from sacct, else (no accounting, quietly) scontrol, which
    knows a job for MinJobAge after it ends; {} when neither does."""
    proc = _slurm(["sacct", "-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode,NodeList"])
    rows = [line.split("|") for line in proc.stdout.splitlines() if line.strip()] if proc.returncode == 0 else []
    if rows and len(rows[-1]) == 3:
        state, code, node = rows[-1]
        return {"JobState": state.split()[0], "ExitCode": code, "NodeList": node}
    proc = _slurm(["scontrol", "show", "job", "-o", job_id])
    if proc.returncode != 0:
        return {}
    return dict(tok.split("=", 1) for tok in proc.stdout.split() if "=" in tok)


def _why(final: Mapping[str, str]) -> str:
    state = final.get("JobState", "")
    if state in _WHY:
        return f"{state}: {_WHY[state]}"
    code, _, sig = final.get("ExitCode", "").partition(":")
    if sig in ("", "0") and code.isdigit() and 128 < int(code) < 160:  # the shell's 128 + signal of srun's task
        code, sig = "0", str(int(code) - 128)
    if sig not in ("", "0"):
        name = signal.Signals(int(sig)).name if int(sig) in signal.Signals._value2member_map_ else f"signal {sig}"
        hint = " (the kernel's out-of-memory killer sends it: try more --mem)" if sig == "9" else ""
        return f"{state or 'ended'}: killed by {name}{hint}"
    if code not in ("", "0"):
        return f"{state or 'ended'}: exited with status {code}"
    if state == "COMPLETED":
        return "its task ended without finishing the run"
    return (
        f"{state}: ended without finishing the run"
        if state
        else "the scheduler no longer knows the job (it ended without finishing the run)"
    )


def _last_error_line(path: Path) -> str:
    """The last line of a task's error log that names an error (else its last line), skipping submitit's own
    bookkeeping."""
    try:
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 65536))
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not re.match(r"^submitit (INFO|DEBUG|WARNING)\b", line)]
    telling = [line for line in lines if re.search(r"error|killed|cancelled|exception", line, flags=re.IGNORECASE)]
    return (telling or lines or [""])[-1]


# ---------------------------------------------------------------------------------------------------
# The folder's record of jobs
# ---------------------------------------------------------------------------------------------------
def recorded_jobs(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """run name → its latest job {job_id, stdout, stderr, submitted} from ``SWEEP/slurm/jobs.json`` ({} if none)."""
    path = Path(out_dir) / SLURM_FOLDER / JOBS_FILE
    if not path.exists():
        return {}
    return {name: entries[-1] for name, entries in read_json(path).get("runs", {}).items() if entries}


def _record_submission(out_dir: Path, entries: Mapping[str, dict[str, Any]], settings: SlurmSettings) -> None:
    path = out_dir / SLURM_FOLDER / JOBS_FILE
    record = read_json(path) if path.exists() else {"runs": {}, "submissions": []}
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    for name, entry in entries.items():
        record["runs"].setdefault(name, []).append({**entry, "submitted": now})
    record["submissions"].append({"submitted": now, "runs": sorted(entries), "settings": settings.to_dict()})
    record["provenance"] = provenance(command="train-sweep", what="the Slurm jobs of the sweep's runs")
    with atomic_open(path) as fh:
        fh.write(dumps(record))


def scheduler_status(out_dir: str | Path, statuses: Sequence[RunStatus]) -> dict[str, RunStatus]:
    """For each run not done whose latest job the folder records: queued or running (per squeue), else failed
    with why the job ended (sacct / scontrol), its error log and the log's last error line."""
    out_dir = Path(out_dir)
    jobs = recorded_jobs(out_dir)
    pending = [s for s in statuses if s.state != "done" and s.name in jobs]
    if not pending:
        return {}
    active = _active_jobs()
    out = {}
    for status in pending:
        job = jobs[status.name]
        job_id = job["job_id"]
        progress = status.detail
        if job_id in active:
            state, reason, node = active[job_id]
            kind = _ACTIVE.get(state, "queued")
            detail = (
                reason
                if kind == "queued" and reason not in ("None", "")
                else _partial_detail(out_dir / status.name, resumes=False)
            )
            out[status.name] = RunStatus(
                status.name,
                kind,
                f"{state.lower()}" + (f": {detail}" if detail else ""),
                job_id,
                node if node and node != "(null)" else None,
                job.get("stderr"),
            )
            continue
        if (out_dir / status.name / "summary.json").exists():  # finished since the folder was read
            out[status.name] = local_status(out_dir / status.name, None)
            continue
        final = _final_state(job_id)
        last = _last_error_line(Path(job["stderr"])) if job.get("stderr") else ""
        detail = _why(final) + (f"; last error line: {last}" if last else "") + (f"; {progress}" if progress else "")
        out[status.name] = RunStatus(
            status.name, "failed", detail, job_id, final.get("NodeList") or None, job.get("stderr")
        )
    return out


# ---------------------------------------------------------------------------------------------------
# The task
# ---------------------------------------------------------------------------------------------------
def slurm_job_info() -> dict[str, Any]:
    """Where this task runs: job id (ARRAY_TASK for an array), node, how often it was requeued."""
    env = os.environ
    array, task = env.get("SLURM_ARRAY_JOB_ID"), env.get("SLURM_ARRAY_TASK_ID")
    job_id = f"{array}_{task}" if array and task else env.get("SLURM_JOB_ID")
    return {
        "executor": "slurm",
        "job_id": job_id,
        "node": env.get("SLURMD_NODENAME") or socket.gethostname(),
        "restart_count": int(env.get("SLURM_RESTART_COUNT", "0") or 0),
        "partition": env.get("SLURM_JOB_PARTITION"),
        "processes": int(env.get("SLURM_NTASKS", "1") or 1),
    }


def _distributed_environment() -> dict[str, str]:
    """RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT for a run of several processes (torch.distributed's
    env:// rendezvous, as torchrun sets them), from submitit's job environment; {} for one process."""
    import submitit

    job = submitit.JobEnvironment()
    if job.num_tasks <= 1:
        return {}
    port = 15000 + int(job.raw_job_id) % 20000  # one port per job: arrays share nodes
    return {
        "RANK": str(job.global_rank),
        "LOCAL_RANK": str(job.local_rank),
        "WORLD_SIZE": str(job.num_tasks),
        "MASTER_ADDR": job.hostnames[0],
        "MASTER_PORT": str(port),
    }


class SweepTask:
    """What one Slurm task runs: one run of the sweep, trained (resumed, reused) and analysed as the local
    executor does. submitit calls :meth:`checkpoint` on the time-limit or preemption signal and requeues the task;
    the run's own epoch checkpoints are what it resumes from."""

    def __call__(self, name: str, run_dir: str, config: dict[str, Any], threads: int) -> dict[str, Any]:
        pin_worker(threads)  # before torch is imported
        os.environ.update(_distributed_environment())
        info = slurm_job_info()
        cfg = TrainConfig(**config)
        path = Path(run_dir)
        main = int(os.environ.get("RANK", "0")) == 0
        if main:
            print(
                f"{name}: job {info['job_id']} on {info['node']} (requeued {info['restart_count']} times)", flush=True
            )
        summary, reused = train_or_reuse(path, cfg, info)
        if not main:
            return {"name": name, "rank": int(os.environ["RANK"])}
        if summary.get("resumed_from"):
            print(
                f"{name}: resumed from stage {summary['resumed_from']['stage']} epoch "
                f"{summary['resumed_from']['epoch']}",
                flush=True,
            )
        record = run_record(name, path, cfg, summary, reused)
        print(f"{name}: {'reused' if reused else 'trained'}; best {record['best_acc']:.2f}%", flush=True)
        return {"name": name, "best_acc": record["best_acc"], "reused": reused}

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """Requeue the same call: the requeued task resumes the run from its last checkpoint."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Submitting and following a sweep
# ---------------------------------------------------------------------------------------------------
@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Ctrl-C / SIGTERM wait until the block ends: a job the scheduler accepted is always recorded in jobs.json
    (an unrecorded one would be submitted again beside itself)."""
    try:
        old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    except (AttributeError, ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _submit(
    out_dir: Path, runs: Sequence[tuple[str, TrainConfig]], settings: SlurmSettings
) -> dict[str, dict[str, Any]]:
    """Submit ``runs`` as one job array (one task each); record and return run → {job_id, stdout, stderr}."""
    import submitit

    logging.getLogger("submitit").setLevel(logging.ERROR)  # its INFO lines belong in the tasks' logs, not here
    folder = out_dir / SLURM_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    executor = submitit.SlurmExecutor(folder=folder, max_num_timeout=settings.requeues)
    params = settings.submitit_parameters(job_name=f"biper-{out_dir.resolve().name}")
    # the tasks run in the sweep's own Slurm folder, not the submitter's working folder: that one may be gone by
    # the time a task starts (torch cannot even be imported in a deleted folder); a user's --sbatch chdir wins
    params.setdefault("additional_parameters", {}).setdefault("chdir", str(folder.resolve()))
    executor.update_parameters(**params)
    with _signals_deferred():
        try:
            with executor.batch():
                jobs = [
                    executor.submit(
                        SweepTask(),
                        name,
                        str((out_dir / name).resolve()),
                        jsonable(cfg.to_dict()),
                        settings.cpus_per_task,
                    )
                    for name, cfg in runs
                ]
        except Exception as exc:  # submitit's FailedJobError / CalledProcessError carry sbatch's message
            raise UsageError(f"sbatch refused the job array: {_error_line(str(exc))}") from None
        entries = {
            name: {"job_id": job.job_id, "stdout": str(job.paths.stdout), "stderr": str(job.paths.stderr)}
            for (name, _), job in zip(runs, jobs)
        }
        _record_submission(out_dir, entries, settings)
    return entries


@dataclasses.dataclass(frozen=True)
class SlurmOutcome:
    """What :func:`run_sweep_on_slurm` did: the runs it submitted (run → job id), every run's status as it
    leaves them, and the sweep file once every run of the plan is done (else None)."""

    submitted: dict[str, str]
    statuses: list[RunStatus]
    sweep: dict[str, Any] | None

    @property
    def failed(self) -> list[RunStatus]:
        return [s for s in self.statuses if s.state == "failed"]


def _poll_interval(elapsed: float) -> float:
    """Seconds between two squeue calls while waiting: 2 s at first, at most 30 s (kind to a busy controller)."""
    return min(30.0, max(2.0, elapsed / 20.0))


def _wait(
    out_dir: Path, runs: Sequence[tuple[str, TrainConfig]], progress: Callable[[SweepProgress], None] | None
) -> list[RunStatus]:
    """Follow the runs until none is queued or running; their statuses then."""
    configs = {name: jsonable(cfg.to_dict()) for name, cfg in runs}
    clock = ProgressClock({name: (out_dir / name, cfg) for name, cfg in runs})
    start, next_query = time.monotonic(), 0.0
    scheduled: dict[str, RunStatus] = {}
    while True:
        queried = time.monotonic() >= next_query
        if queried:
            local = [local_status(out_dir / name, config) for name, config in configs.items()]
            scheduled = scheduler_status(out_dir, local)
            next_query = time.monotonic() + _poll_interval(time.monotonic() - start)
        statuses = []
        for name, config in configs.items():  # files after the scheduler: a run done since is seen done
            status = local_status(out_dir / name, config)
            statuses.append(status if status.state == "done" else scheduled.get(name, status))
        if progress is not None:
            progress(clock.snapshot({s.name: s.state for s in statuses}))
        if queried and not any(s.state in ("queued", "running") for s in statuses):
            return statuses
        time.sleep(1.0)


def _collect(
    out_dir: Path,
    plan: SweepPlan,
    runs: Sequence[tuple[str, TrainConfig]],
    settings: SlurmSettings,
    log: Callable[[str], None] | None,
) -> dict[str, Any]:
    """Every run is done: read (or, where its analysis is not cached, analyse here) each, write sweep.json."""
    records, rest = reusable_records(out_dir, runs)
    for name, cfg in rest:
        summary = read_json(out_dir / name / "summary.json")
        records[name] = run_record(name, out_dir / name, cfg, summary, True)
    if log is not None:
        for name, _ in runs:
            r = records[name]
            ex = r.get("executor") or {}
            log(
                f"{name}: done (job {ex.get('job_id') or '-'} on {ex.get('node') or '-'}); best {r['best_acc']:.2f}% "
                f"last {r['last_acc']:.2f}% ({r.get('time_s') or float('nan'):.0f} s)"
            )
    environment = {
        **compute_environment(),
        "executor": "slurm",
        "slurm": settings.to_dict(),
        "threads_per_process": settings.cpus_per_task,
    }
    environment.pop("torch_cpu_capability", None)  # each task's is in its run's summary
    return write_sweep(out_dir, plan, records, environment)


def run_sweep_on_slurm(
    out_dir: str | Path,
    plan: SweepPlan,
    settings: SlurmSettings,
    *,
    wait: bool = False,
    log: Callable[[str], None] | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
) -> SlurmOutcome:
    """Submit the runs of ``plan`` that are missing or failed as one Slurm job array (none that is queued, running
    or done); with ``wait``, follow them to the end. Writes ``sweep.json`` when every run is done. Bad settings, an
    unreachable scheduler or a missing partition: UsageError before anything is submitted or written. Ctrl-C while
    waiting: :class:`SweepInterrupted` (the jobs go on)."""
    out_dir = Path(out_dir)
    runs = plan.runs()
    check_folder(out_dir, plan.recipe(), [name for name, _ in runs])
    devices = {cfg.device for _, cfg in runs}
    if settings.gpus_per_run and devices & {"cpu"}:
        raise UsageError(
            f"--gpus-per-run {settings.gpus_per_run} asks for GPUs but the runs use --device cpu; add --device cuda"
        )
    if not settings.gpus_per_run and any(d.startswith("cuda") for d in devices):
        raise UsageError("--device cuda needs GPUs in the task: add --gpus-per-run 1 (or more)")
    statuses = (
        {s.name: s for s in sweep_status(out_dir, plan)}
        if out_dir.is_dir()
        else {name: RunStatus(name, "missing") for name, _ in runs}
    )
    todo = [(name, cfg) for name, cfg in runs if statuses[name].state in ("missing", "failed")]
    submitted: dict[str, str] = {}
    if todo:
        check_cluster(settings)
        out_dir.mkdir(parents=True, exist_ok=True)
        entries = _submit(out_dir, todo, settings)
        submitted = {name: entry["job_id"] for name, entry in entries.items()}
        if log is not None:
            array = sorted({job.split("_")[0] for job in submitted.values()})
            log(
                f"submitted {len(todo)} run{'s' if len(todo) != 1 else ''} as Slurm job {', '.join(array)} "
                f"({', '.join(f'{n} → {j}' for n, j in submitted.items())}); logs in {out_dir / SLURM_FOLDER}"
            )
        statuses = {s.name: s for s in sweep_status(out_dir, plan)}
    active = [s for s in statuses.values() if s.state in ("queued", "running")]
    if wait and active:
        try:
            statuses = {s.name: s for s in _wait(out_dir, runs, progress)}
        except KeyboardInterrupt:
            left = [s for s in sweep_status(out_dir, plan) if s.state in ("queued", "running")]
            raise SweepInterrupted(
                f"stopped waiting; {len(left)} run{'s' if len(left) != 1 else ''} still queued or running on the "
                f"cluster ({', '.join(f'{s.name}: job {s.job_id}' for s in left) or 'none'}): follow them with "
                f"`train-sweep --out {out_dir} --status`, collect them with the same command"
            ) from None
    ordered = [statuses[name] for name, _ in runs]
    sweep = None
    if all(s.state == "done" for s in ordered):
        sweep = _collect(out_dir, plan, runs, settings, log)
    return SlurmOutcome(submitted, ordered, sweep)


def sweep_status(out_dir: str | Path, plan: SweepPlan | None = None) -> list[RunStatus]:
    """Every run of ``plan`` (None: every run the folder knows of) as done / queued / running / failed / missing,
    asking the Slurm scheduler about runs the folder's Slurm record lists."""
    out_dir = Path(out_dir)
    if plan is not None:
        plan.recipe()
        configs: dict[str, dict[str, Any] | None] = {n: jsonable(c.to_dict()) for n, c in plan.runs()}
    else:
        known = (
            {p.name for p in out_dir.iterdir() if p.is_dir() and _RUN_NAME.match(p.name)} if out_dir.is_dir() else set()
        )
        if (out_dir / SWEEP_FILE).exists():
            known |= {r["name"] for r in read_json(out_dir / SWEEP_FILE).get("runs", [])}
        known |= set(recorded_jobs(out_dir))
        if not known:
            raise UsageError(
                f"--out {out_dir} holds no training sweep (no run folders, no {SWEEP_FILE}); give the "
                "folder a train-sweep wrote"
            )
        configs = dict.fromkeys(sorted(known, key=_run_order))
    statuses = {name: local_status(out_dir / name, config) for name, config in configs.items()}
    if recorded_jobs(out_dir):
        statuses.update(scheduler_status(out_dir, [s for s in statuses.values() if s.state != "done"]))
    return [statuses[name] for name in configs]


def _run_order(name: str) -> tuple[int, float, int]:
    m = re.match(r"^(?:biper-w(?P<w>[0-9.e+-]+)|(?P<b>sign|fp))-s(?P<s>[0-9]+)$", name)
    if m is None:
        return (3, 0.0, 0)
    return (0 if m.group("w") else 1 if m.group("b") == "sign" else 2, float(m.group("w") or 0), int(m.group("s")))
