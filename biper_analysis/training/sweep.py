"""The main job's training sweep: BiPer at several ω0 plus the sign baseline, several seeds, cached on disk.

:func:`run_training_sweep` trains every run that is missing (resuming one that was interrupted) in parallel
worker processes on this machine — spawned, one thread each, CPU code path pinned before torch loads
(:func:`biper_analysis._io.reproducible.pin_worker`) — so a run's weights are the same whatever ``--jobs``,
OMP_NUM_THREADS or the machine load are. :mod:`biper_analysis.training.slurm` runs the same runs as a Slurm job
array instead; both train a run with :func:`train_or_reuse` and describe it with :func:`run_record`, so the folder
is the same whichever executor ran a run. Each run is analysed (fit-b with every weight law, against the run's
initial weights; cached in ``RUN/analysis.json``, keyed by the checkpoint's SHA-256, :data:`ANALYSIS_VERSION` and
every fittable law's name and version from the law registry) and ``SWEEP/sweep.json`` lists every run the folder
holds, group summaries, and provenance with the compute environment. A second call reuses finished runs and cached
analyses. Figures and paper checks read ``sweep.json`` through :func:`load_training_sweep`; they never train.

A folder holds one *recipe* (preset and every training field but the sweep's axes ω0, seed and binariser): a sweep
with another grid of the same recipe adds its runs to the folder (the folder is never shrunk); another recipe is
refused. ``sweep.json`` is written only when every run of the plan has finished, and lists finished runs only.

Stopping (Ctrl-C, SIGTERM): no run starts after the signal; running workers are interrupted (every file a run
writes is written atomically, and in an order that a resume accepts), :class:`SweepInterrupted` says which runs
finished and where the others stopped, and the same command resumes them.

Layout::

    SWEEP/sweep.json                      recipe, every run (accuracies, analysis, drift), groups, provenance
    SWEEP/<binarizer>-w<omega0>-s<seed>/  one run folder each (see biper_analysis.training), plus
                                          summary.json (the finished run) and analysis.json (the cached analysis)
    SWEEP/slurm/                          Slurm executor only: job scripts, logs, jobs.json (which job ran which run)
"""

from __future__ import annotations

import _thread
import dataclasses
import hashlib
import math
import multiprocessing
import os
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.errors import UsageError
from biper_analysis._io.jsonio import dumps, jsonable, read_json
from biper_analysis._io.outputs import claim_folder
from biper_analysis._io.provenance import compute_environment, provenance
from biper_analysis._io.reproducible import pin_worker, pinned_environment
from biper_analysis.paper import PUBLISHED_OMEGA0
from biper_analysis.training.config import RESUMABLE_FIELDS, TrainConfig

__all__ = [
    "SWEEP_FILE",
    "RUN_SUMMARY",
    "ANALYSIS_FILE",
    "ANALYSIS_VERSION",
    "SWEEP_AXES",
    "RECIPE_FIELDS",
    "SweepPlan",
    "RunStatus",
    "SweepProgress",
    "SweepInterrupted",
    "run_name",
    "run_training_sweep",
    "train_or_reuse",
    "run_record",
    "write_sweep",
    "load_training_sweep",
    "mean_std_se",
    "group_summary",
    "paired_difference",
    "normalised_layer_qe",
]

SWEEP_FILE = "sweep.json"
RUN_SUMMARY = "summary.json"
ANALYSIS_FILE = "analysis.json"
#: Bump when the analysis of a run changes, so cached analyses are recomputed. A new law, or a law whose numbers
#: changed, needs no bump: the registry's (name, version) list is part of the cache key.
ANALYSIS_VERSION = 8
#: The training fields a sweep varies from run to run (its plan sets them; they are not options of train-sweep).
SWEEP_AXES = ("binarizer", "omega0", "seed")
#: Training fields that define a folder's recipe: every field but the sweep's axes and where a run runs
#: (the fields marked resumable: data folder, device).
RECIPE_FIELDS = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in SWEEP_AXES and f.name not in RESUMABLE_FIELDS
)
#: The sweep's default device (reproducible CPU runs), where TrainConfig's is "auto".
SWEEP_DEVICE = "cpu"
#: Seconds the sweep waits for interrupted workers to stop before it leaves.
STOP_GRACE_S = 4.0


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """Which runs the training sweep makes. The defaults fit the main job's budget on 2 CPU cores.

    ``seeds`` are used for BiPer at ``paired_omega0`` and for the sign baseline (paired by seed, for the
    BiPer-vs-sign claim); ``side_seeds`` for the other ω0 (the QE-vs-ω0 claims need ω0 coverage more than seeds).
    ``overrides`` sets any TrainConfig field but the sweep's axes on top of the preset (the device defaults to cpu).
    """

    omega0s: tuple[float, ...] = (2.0, 5.0, 20.0, 60.0)  # rad per unit weight; 20 is the published value
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)  # paired seeds: BiPer at paired_omega0 and sign
    side_seeds: tuple[int, ...] = (0, 1)  # seeds of the other ω0
    paired_omega0: float = PUBLISHED_OMEGA0
    baseline: bool = True  # also train the sign-STE baseline
    preset: str = "short"  # a biper_analysis.training.PRESETS entry
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # TrainConfig fields over the preset

    def __post_init__(self) -> None:
        names = {f.name for f in dataclasses.fields(TrainConfig)}
        for key in self.overrides:
            if key in SWEEP_AXES:
                raise UsageError(
                    f"the sweep sets {key} run by run; give the values with --omega0 / --seeds / "
                    f"--no-baseline instead of setting {key}"
                )
            if key not in names:
                raise UsageError(f"unknown training field {key!r}; choose one of {', '.join(sorted(names))}")

    def runs(self) -> list[tuple[str, TrainConfig]]:
        """(run name, TrainConfig) for every run in the plan, BiPer first, then the sign baseline."""
        from biper_analysis.training.config import preset

        overrides = {"device": SWEEP_DEVICE, **self.overrides}
        out = []
        for omega0 in self.omega0s:
            seeds = self.seeds if math.isclose(omega0, self.paired_omega0) else self.side_seeds
            for seed in seeds:
                cfg = preset(self.preset, binarizer="biper", omega0=float(omega0), seed=seed, **overrides)
                out.append((run_name("biper", omega0, seed), cfg))
        if self.baseline:
            for seed in self.seeds:
                cfg = preset(self.preset, binarizer="sign", seed=seed, **overrides)
                out.append((run_name("sign", cfg.omega0, seed), cfg))
        return out

    def recipe(self) -> dict[str, Any]:
        """The recipe shared by every run of the plan (see :data:`RECIPE_FIELDS`)."""
        runs = self.runs()
        if not runs:
            raise UsageError("the sweep plan has no runs; give --omega0 and --seeds (or drop --no-baseline)")
        if self.baseline and not any(math.isclose(w, self.paired_omega0) for w in self.omega0s):
            raise UsageError(
                f"--paired-omega0 {self.paired_omega0:g} is not among --omega0 "
                f"{','.join(f'{w:g}' for w in self.omega0s)}: the sign baseline would have no BiPer "
                "partner; add it to --omega0, pass --paired-omega0 with one of them, or --no-baseline"
            )
        config = runs[0][1].to_dict()
        return {"preset": self.preset, **{k: config[k] for k in RECIPE_FIELDS}}

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["overrides"] = dict(self.overrides)
        return out


def run_name(binarizer: str, omega0: float, seed: int) -> str:
    """Folder name of one run.

    >>> run_name("biper", 20.0, 1), run_name("sign", 20.0, 0)
    ('biper-w20-s1', 'sign-s0')
    """
    if binarizer == "biper":
        return f"biper-w{omega0:g}-s{seed}"
    return f"{binarizer}-s{seed}"


# ---------------------------------------------------------------------------------------------------
# One run: trained (or reused) and analysed, on this machine or in a cluster task
# ---------------------------------------------------------------------------------------------------
def _same_run(stored: dict[str, Any], config: dict[str, Any]) -> bool:
    """Two configs train the same weights (where they run — data folder, device — aside)."""
    return {k: v for k, v in stored.items() if k not in RESUMABLE_FIELDS} == {
        k: v for k, v in config.items() if k not in RESUMABLE_FIELDS
    }


def _finished_summary(run_dir: Path, config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The cached summary of a finished run with exactly this config (any config when None), else None."""
    path = run_dir / RUN_SUMMARY
    if not path.exists():
        return None
    summary = read_json(path)
    return summary if config is None or _same_run(summary.get("config", {}), config) else None


#: What a run writes before its first checkpoint: a run stopped there starts again from the beginning.
_BEFORE_FIRST_CHECKPOINT = (
    "init.pth.tar",
    "metrics.jsonl",
    "stage1/config.txt",
    "stage1/model_best.pth.tar",
    "stage2/config.txt",
    "stage2/model_best.pth.tar",
)


def _clear_unstarted(run_dir: Path, config: dict[str, Any]) -> None:
    """Remove what a run of this config wrote before its first checkpoint (it restarts from its seed); refuse a
    folder that holds anything else or another run's start."""
    from biper_analysis.analysis.checkpoints import read_torch_file

    held = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
    foreign = [name for name in held if name not in _BEFORE_FIRST_CHECKPOINT]
    init = run_dir / "init.pth.tar"
    if foreign or (init.exists() and not _same_run(read_torch_file(init).get("config", {}), config)):
        what = repr(foreign[0]) if foreign else "the start of a run with another config"
        raise UsageError(f"{run_dir} holds {what} and no finished run or checkpoint; remove it and rerun")
    for name in held:
        (run_dir / name).unlink()
    for p in sorted(run_dir.rglob(".*"), reverse=True):  # temporaries of an interrupted write
        if p.is_file():
            p.unlink()
    for stage in sorted(run_dir.glob("stage*"), reverse=True):
        if stage.is_dir() and not any(stage.iterdir()):
            stage.rmdir()


def train_or_reuse(
    run_dir: Path,
    cfg: TrainConfig,
    executor: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """Train one run unless a finished one with the same config is cached; resume a partial one from its last
    checkpoint, restart one stopped before its first. Returns (summary, reused). Only the main process of a
    distributed run writes ``summary.json``; ``executor`` (where the run ran) is recorded in it."""
    config = jsonable(cfg.to_dict())
    cached = _finished_summary(run_dir, config)
    if cached is not None:
        return cached, True
    from biper_analysis.training.loop import train_run

    resumed_from = _last_checkpoint(run_dir)
    resume = resumed_from is not None
    main = int(os.environ.get("RANK", "0")) == 0
    if run_dir.exists() and not resume:
        if main:
            _clear_unstarted(run_dir, config)
        else:
            _await_clean_start(run_dir)
    summary = jsonable(train_run(cfg, run_dir, resume=resume, quiet=True))
    summary["config"] = config
    summary["environment"] = jsonable(compute_environment())
    summary["executor"] = executor or local_executor_info()
    summary["resumed_from"] = resumed_from
    if main:
        with atomic_open(run_dir / RUN_SUMMARY) as fh:
            fh.write(dumps(summary))
    return summary, False


def _last_checkpoint(run_dir: Path) -> dict[str, int] | None:
    """{"stage", "epoch"} of the run's last epoch checkpoint (where a resume starts), None when it has none."""
    from biper_analysis.analysis.checkpoints import read_torch_file

    for stage in (2, 1):
        path = run_dir / f"stage{stage}" / "checkpoint.pth.tar"
        if path.exists():
            return {"stage": stage, "epoch": int(read_torch_file(path)["epoch"])}
    return None


def _await_clean_start(run_dir: Path, timeout_s: float = 120.0) -> None:
    """The other processes of a distributed run wait until the main one has cleared a run stopped before its first
    checkpoint (the main process writes nothing new before every process has joined the process group)."""
    deadline = time.monotonic() + timeout_s
    while any(p.is_file() and not p.name.startswith(".") for p in run_dir.rglob("*")):
        if time.monotonic() > deadline:
            raise UsageError(f"{run_dir} was not cleared for a new start within {timeout_s:.0f} s; remove it and rerun")
        time.sleep(0.5)


def local_executor_info() -> dict[str, Any]:
    """Where a run trained by this machine's workers ran (the Slurm executor records its job id too)."""
    return {"executor": "local", "node": socket.gethostname(), "job_id": None}


def _epochs_reached(run_dir: Path) -> dict[str, int] | None:
    """The last epoch a run recorded in metrics.jsonl ({"stage", "epoch"}), None when it recorded none."""
    from biper_analysis._io.jsonio import read_jsonl

    path = run_dir / "metrics.jsonl"
    records = read_jsonl(path) if path.exists() else []
    return {"stage": records[-1]["stage"], "epoch": records[-1]["epoch"]} if records else None


def _epochs_recorded(run_dir: Path) -> int:
    """Epochs a run has recorded so far (lines of metrics.jsonl), for progress."""
    try:
        with open(run_dir / "metrics.jsonl", "rb") as fh:
            return sum(1 for line in fh if line.strip())
    except OSError:
        return 0


def _total_epochs(cfg: TrainConfig) -> int:
    return sum(cfg.stage_epochs(s) for s in cfg.stages)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cached_analysis(run_dir: Path) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the cached analysis of the run's final checkpoint or None, its cache key)."""
    from biper_analysis.analysis.checkpoints import resolve_checkpoint_path
    from biper_analysis.laws import law_versions

    key = {
        "checkpoint_sha256": _sha256(resolve_checkpoint_path(run_dir)),
        "analysis_version": ANALYSIS_VERSION,
        "laws": law_versions(fittable=True),
    }
    cache = run_dir / ANALYSIS_FILE
    if cache.exists():
        cached = read_json(cache)
        if all(cached.get(k) == v for k, v in key.items()):
            return cached["analysis"], key
    return None, key


def _analyse(run_dir: Path) -> dict[str, Any]:
    """fit-b of the run's final checkpoint with every law, against its initial weights, plus the stage-2 drift
    from stage 1's best; cached by checkpoint hash, analysis version and the laws' versions."""
    cached, key = _cached_analysis(run_dir)
    if cached is not None:
        return cached
    from biper_analysis.analysis.checkpoints import load_checkpoint, resolve_checkpoint_path
    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.laws import law_names
    from biper_analysis.theory.weights import weight_drift

    ckpt_path = resolve_checkpoint_path(run_dir)
    init = run_dir / "init.pth.tar"
    analysis = analyze_checkpoint(
        run_dir, laws=law_names(fittable=True), reference=init if init.exists() else None
    ).to_dict()
    for row in analysis["layers"]:
        if row["n"] > 0:
            row["normalised"] = normalised_layer_qe(row, analysis["omega0"])
    stage1 = run_dir / "stage1" / "model_best.pth.tar"
    if ckpt_path.parent.name == "stage2" and stage1.exists():
        final, first = load_checkpoint(ckpt_path), load_checkpoint(stage1, omega0=analysis["omega0"])
        for row in analysis["layers"]:
            drift = weight_drift(final.array(row["name"]), first.array(row["name"]))
            row["drift_stage1_corr"], row["drift_stage1_rel_change"] = drift.correlation, drift.relative_change
    with atomic_open(run_dir / ANALYSIS_FILE) as fh:
        fh.write(dumps({**key, "analysis": analysis}))
    return analysis


def run_record(name: str, run_dir: Path, cfg: TrainConfig, summary: dict[str, Any], reused: bool) -> dict[str, Any]:
    """The record sweep.json keeps for a finished run (analysing it unless its analysis is cached)."""
    return {
        "name": name,
        "binarizer": cfg.binarizer,
        "omega0": cfg.omega0,
        "seed": cfg.seed,
        "best_acc": summary["best_acc"],
        "last_acc": summary["last_acc"],
        "time_s": summary.get("time_s"),
        "reused": reused,
        "curve": _curve(run_dir),
        "environment": summary.get("environment"),
        "executor": summary.get("executor"),
        "analysis": _analyse(run_dir),
    }


def _run_one(name: str, run_dir: str, cfg: TrainConfig) -> dict[str, Any]:
    """Train (or reuse) and analyse one run; the record sweep.json keeps for it."""
    path = Path(run_dir)
    summary, reused = train_or_reuse(path, cfg)
    return run_record(name, path, cfg, summary, reused)


def _curve(run_dir: Path) -> list[dict[str, Any]]:
    """Per-epoch test accuracy and loss (for convergence plots)."""
    from biper_analysis._io.jsonio import read_jsonl

    return [
        {"stage": r["stage"], "epoch": r["epoch"], "test_acc": r["test_acc"], "train_loss": r["train_loss"]}
        for r in read_jsonl(run_dir / "metrics.jsonl")
    ]


# ---------------------------------------------------------------------------------------------------
# Where each run stands, and progress
# ---------------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class RunStatus:
    """One run of a sweep folder: ``state`` is done, queued, running, failed or missing; ``detail`` says more
    (accuracy, where a partial run resumes, why a task failed and its last error line)."""

    name: str
    state: str
    detail: str = ""
    job_id: str | None = None
    node: str | None = None
    log: str | None = None

    def line(self) -> str:
        where = f"job {self.job_id}" + (f" on {self.node}" if self.node else "") if self.job_id else ""
        parts = [p for p in (where, self.detail, f"log {self.log}" if self.log and self.state == "failed" else "") if p]
        return f"{self.name:<16} {self.state:<8} " + "; ".join(parts)


def _partial_detail(run_dir: Path, resumes: bool = True) -> str:
    """How far a run that is not done got (and, with ``resumes``, where a new start takes it up)."""
    reached = _epochs_reached(run_dir)
    if reached is not None:
        return f"trained to stage {reached['stage']} epoch {reached['epoch']}" + (
            "; resumes from its last checkpoint" if resumes else ""
        )
    if not run_dir.exists():
        return ""
    return "started, no checkpoint yet" + ("; restarts from its seed" if resumes else "")


def local_status(run_dir: Path, config: dict[str, Any] | None) -> RunStatus:
    """Done or missing, from the run folder alone."""
    summary = _finished_summary(run_dir, config)
    if summary is not None:
        executor = summary.get("executor") or {}
        return RunStatus(
            run_dir.name, "done", f"best {summary['best_acc']:.2f}%", executor.get("job_id"), executor.get("node")
        )
    if config is not None and (run_dir / RUN_SUMMARY).exists():
        return RunStatus(run_dir.name, "missing", "holds a finished run of another config")
    return RunStatus(run_dir.name, "missing", _partial_detail(run_dir))


@dataclasses.dataclass(frozen=True)
class SweepProgress:
    """How far a sweep is: runs done / running / queued / failed of ``total``, epochs trained, and an estimate of
    the time left from the rate of epochs trained since this call started (None before the first epoch)."""

    total: int
    done: int
    running: int
    queued: int
    failed: int
    epochs_done: int
    epochs_total: int
    elapsed_s: float
    eta_s: float | None

    def line(self) -> str:
        failed = f", {self.failed} failed" if self.failed else ""
        eta = "estimate after the first epoch" if self.eta_s is None else f"about {_duration(self.eta_s)} left"
        if self.done == self.total:
            eta = "finished"
        elif self.epochs_done == self.epochs_total:
            eta = "analysing the last runs"
        return (
            f"{self.done}/{self.total} runs done, {self.running} running, {self.queued} queued{failed}; "
            f"{self.epochs_done}/{self.epochs_total} epochs; {eta} (elapsed {_duration(self.elapsed_s)})"
        )


def _duration(seconds: float) -> str:
    """'2 min 05 s', '1 h 03 min', '8 s'.

    >>> _duration(125.2), _duration(3790), _duration(8)
    ('2 min 05 s', '1 h 03 min', '8 s')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class ProgressClock:
    """Turns run states into :class:`SweepProgress`: the estimate is the epochs left over the rate at which epochs
    were trained since the clock started (so runs reused or trained before do not count as speed)."""

    def __init__(self, runs: Mapping[str, tuple[Path, TrainConfig]]) -> None:
        self._runs = runs
        self._start = time.monotonic()
        self._epochs_at_start: dict[str, int] | None = None

    def snapshot(self, states: Mapping[str, str]) -> SweepProgress:
        epochs = {
            name: _total_epochs(cfg) if states.get(name) == "done" else _epochs_recorded(path)
            for name, (path, cfg) in self._runs.items()
        }
        if self._epochs_at_start is None:
            self._epochs_at_start = dict(epochs)
        elapsed = time.monotonic() - self._start
        total = sum(_total_epochs(cfg) for _, cfg in self._runs.values())
        trained = sum(
            max(0, epochs[n] - self._epochs_at_start.get(n, 0)) for n in epochs if states.get(n) in ("running", "done")
        )
        left = total - sum(epochs.values())
        eta = left * elapsed / trained if trained > 0 else None
        count = {s: sum(1 for v in states.values() if v == s) for s in ("done", "running", "queued", "failed")}
        return SweepProgress(
            len(self._runs),
            count["done"],
            count["running"],
            count["queued"] + sum(1 for v in states.values() if v == "missing"),
            count["failed"],
            sum(epochs.values()),
            total,
            elapsed,
            eta,
        )


# ---------------------------------------------------------------------------------------------------
# The sweep folder
# ---------------------------------------------------------------------------------------------------
#: The names run_name() gives: biper-w<ω0>-s<seed>, sign-s<seed>, fp-s<seed>.
_RUN_NAME = re.compile(r"^(biper-w[0-9.e+-]+|sign|fp)-s[0-9]+$")
#: Other names a sweep folder may hold: the Slurm executor's folder.
_SWEEP_PARTS = ("slurm",)


def check_folder(out_dir: Path, recipe: dict[str, Any], names: Sequence[str] = ()) -> dict[str, Any] | None:
    """The folder's existing sweep.json (same recipe), None for a new folder; refuse a different recipe, and a
    folder without sweep.json that holds anything but this plan's run folders (an interrupted first sweep)."""
    claim_folder(out_dir, option="--out")
    path = out_dir / SWEEP_FILE
    if not path.exists():
        # hidden names are left alone (a temporary file of an interrupted write must not block the rerun), and so
        # are run folders of any plan (an interrupted first sweep rerun with another grid)
        foreign = (
            sorted(
                p.name
                for p in out_dir.iterdir()
                if p.name not in names
                and p.name not in _SWEEP_PARTS
                and not p.name.startswith(".")
                and not _RUN_NAME.match(p.name)
            )
            if out_dir.is_dir()
            else []
        )
        if foreign:
            raise UsageError(
                f"--out {out_dir} is not a training-sweep folder (it holds {foreign[0]!r}, and no "
                f"{SWEEP_FILE}); choose a new folder"
            )
        return None
    try:
        existing = read_json(path)
    except ValueError:
        raise UsageError(
            f"{path} is not a sweep file written by biper-analysis train-sweep; choose another --out"
        ) from None
    old = existing.get("recipe")
    if not isinstance(old, dict) or existing.get("provenance", {}).get("producer") != "biper-analysis train-sweep":
        raise UsageError(f"{path} was written by an older or another program; choose a new --out folder")
    diff = [k for k in recipe if old.get(k) != recipe[k]]
    if diff:
        k = diff[0]
        raise UsageError(
            f"--out {out_dir} holds runs with {k} = {old.get(k)!r}, not {recipe[k]!r}; a folder holds one "
            "recipe (runs are added, never replaced): choose another --out for this recipe"
        )
    return existing


def write_sweep(
    out_dir: Path, plan: SweepPlan, records: Mapping[str, dict[str, Any]], environment: dict[str, Any]
) -> dict[str, Any]:
    """Write ``sweep.json``: the folder's earlier runs and ``records`` (finished runs only), group summaries,
    provenance with ``environment``."""
    existing = read_json(out_dir / SWEEP_FILE) if (out_dir / SWEEP_FILE).exists() else {}
    merged: dict[str, dict[str, Any]] = {r["name"]: r for r in existing.get("runs", [])}
    merged.update(records)
    ordered = sorted(merged.values(), key=lambda r: (r["binarizer"] != "biper", r["omega0"], r["seed"]))
    sweep = {
        "recipe": plan.recipe(),
        "plan": plan.to_dict(),
        "runs": ordered,
        "groups": group_summary(ordered),
        "provenance": provenance(plan.to_dict(), command="train-sweep", environment=environment),
    }
    with atomic_open(out_dir / SWEEP_FILE) as fh:
        fh.write(dumps(sweep))
    return sweep


def reusable_records(
    out_dir: Path, runs: Sequence[tuple[str, TrainConfig]]
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, TrainConfig]]]:
    """(records of the runs that are finished and analysed, read here without training; the other runs)."""
    records, todo = {}, []
    for name, cfg in runs:
        summary = _finished_summary(out_dir / name, jsonable(cfg.to_dict()))
        if summary is not None and _cached_analysis(out_dir / name)[0] is not None:
            records[name] = run_record(name, out_dir / name, cfg, summary, True)
        else:
            todo.append((name, cfg))
    return records, todo


# ---------------------------------------------------------------------------------------------------
# The local executor: spawned single-thread workers on this machine, stopped promptly on a signal
# ---------------------------------------------------------------------------------------------------
class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the sweep; ``report`` says which runs finished and how to resume."""

    def __init__(self, report: str) -> None:
        super().__init__(report)
        self.report = report


# Process-local state of a worker (set by its initializer; a worker runs one run at a time): the sweep's stop
# event, and whether a run is in progress (only then does a stop interrupt the worker).
_STOP: Any = None
_BUSY = threading.Event()
#: Exit status of a worker stopped by the sweep.
_STOPPED_EXIT = 130


def _local_worker_init(stop: Any) -> None:
    """Pinned single-thread worker that leaves Ctrl-C to the sweep's process and is interrupted — wherever it is,
    which is safe because a run writes every file atomically and in an order a resume accepts — when ``stop``
    is set."""
    global _STOP
    _STOP = stop
    pin_worker(threads=1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _interrupt_busy_worker)
    threading.Thread(target=_interrupt_on_stop, daemon=True).start()


def _interrupt_busy_worker(signum: int, frame: Any) -> None:
    if _BUSY.is_set():
        raise KeyboardInterrupt


def _interrupt_on_stop() -> None:
    _STOP.wait()
    _thread.interrupt_main(signal.SIGTERM)


def _run_in_worker(name: str, run_dir: str, cfg: TrainConfig) -> dict[str, Any]:
    _BUSY.set()
    try:
        if _STOP is not None and _STOP.is_set():
            raise KeyboardInterrupt
        return _run_one(name, run_dir, cfg)
    except KeyboardInterrupt:
        if _STOP is not None and _STOP.is_set():
            # stopped by the sweep: the run's files are consistent (atomic, ordered writes), and the sweep waits for
            # this process; leave without the interpreter's teardown (seconds with torch loaded on a busy machine)
            os._exit(_STOPPED_EXIT)
        raise
    finally:
        _BUSY.clear()


def _train_locally(
    out_dir: Path,
    todo: Sequence[tuple[str, TrainConfig]],
    jobs: int,
    on_record: Callable[[dict[str, Any]], None],
    on_tick: Callable[[dict[str, str]], None],
) -> None:
    """Train ``todo`` in ``jobs`` spawned workers, at most ``jobs`` runs handed out at a time (so none is waiting
    inside the pool when a stop comes). On any exception — a signal or a run's error — the running workers are
    stopped and the exception goes on; :class:`SweepInterrupted` reports where each run stopped."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    pending = deque(todo)
    running: dict[Future, str] = {}
    states = {name: "queued" for name, _ in todo}
    finished: list[str] = []
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_local_worker_init, initargs=(stop,))
    clean = False
    try:
        on_tick(states)
        while pending or running:
            while pending and len(running) < jobs:
                name, cfg = pending.popleft()
                running[pool.submit(_run_in_worker, name, str(out_dir / name), cfg)] = name
                states[name] = "running"
            done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                on_record(future.result())
                states[name] = "done"
                finished.append(name)
            on_tick(states)
        clean = True
    except KeyboardInterrupt:
        stop.set()
        wait(running, timeout=STOP_GRACE_S)
        stopped = []
        for future, name in running.items():  # a run that finished just before the signal is finished
            ok = future.done() and not future.cancelled() and future.exception() is None
            (finished if ok else stopped).append(name)
        raise SweepInterrupted(_interrupted_report(out_dir, finished, stopped, [name for name, _ in pending])) from None
    except BaseException:
        stop.set()
        wait(running, timeout=STOP_GRACE_S)
        raise
    finally:
        pool.shutdown(wait=clean, cancel_futures=True)


def _interrupted_report(
    out_dir: Path, finished: Sequence[str], stopped: Sequence[str], not_started: Sequence[str]
) -> str:
    parts = [
        f"{len(finished)} run{'s' if len(finished) != 1 else ''} finished"
        + (f" ({', '.join(finished)})" if finished else "")
    ]
    if stopped:
        parts.append("stopped " + ", ".join(f"{n} ({_partial_detail(out_dir / n) or 'not started'})" for n in stopped))
    if not_started:
        parts.append(f"{len(not_started)} not started")
    return (
        "; ".join(parts) + f"; {SWEEP_FILE} not written: rerun the same command to resume "
        "(finished runs are reused, stopped ones resume from their last checkpoint)"
    )


def run_training_sweep(
    out_dir: str | Path,
    plan: SweepPlan = SweepPlan(),
    jobs: int | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[SweepProgress], None] | None = None,
) -> dict[str, Any]:
    """Train (or reuse) every run of ``plan`` under ``out_dir`` in ``jobs`` worker processes on this machine
    (default: the number of cores), analyse each, and write ``sweep.json`` holding every run of the folder.
    ``log`` gets one line per finished run, ``progress`` a :class:`SweepProgress` at the start and about every
    second. Ctrl-C / SIGTERM: :class:`SweepInterrupted`."""
    out_dir = Path(out_dir)
    runs = plan.runs()
    check_folder(out_dir, plan.recipe(), [name for name, _ in runs])
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(runs)))
    out_dir.mkdir(parents=True, exist_ok=True)
    clock = ProgressClock({name: (out_dir / name, cfg) for name, cfg in runs})
    states = {name: "queued" for name, _ in runs}
    if progress is not None:
        progress(clock.snapshot(states))
    records, todo = reusable_records(out_dir, runs)

    def on_record(record: dict[str, Any]) -> None:
        records[record["name"]] = record
        if log is not None:
            log(
                f"{record['name']}: {'reused' if record['reused'] else 'trained'}; best {record['best_acc']:.2f}% "
                f"last {record['last_acc']:.2f}% ({record.get('time_s') or float('nan'):.0f} s)"
            )

    for record in list(records.values()):
        on_record(record)
        states[record["name"]] = "done"

    def on_tick(worker_states: dict[str, str]) -> None:
        states.update(worker_states)
        if progress is not None:
            progress(clock.snapshot(states))

    if todo:
        _train_locally(out_dir, todo, min(jobs, len(todo)), on_record, on_tick)
    elif progress is not None:
        progress(clock.snapshot(states))
    environment = {
        **compute_environment(),
        "pinned": pinned_environment(threads=1),
        "torch_threads": 1,
        "jobs": jobs,
        "executor": "local",
    }
    environment.pop("torch_cpu_capability", None)  # the workers', not this process's, is in each run's summary
    return write_sweep(out_dir, plan, records, environment)


def load_training_sweep(out_dir: str | Path) -> dict[str, Any]:
    """Read ``sweep.json``; FileNotFoundError naming the command that makes it."""
    path = Path(out_dir) / SWEEP_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"no training sweep at {str(path)!r}; make it with `biper-analysis train-sweep --out {out_dir}`"
        )
    sweep = read_json(path)
    sweep["_dir"] = str(out_dir)
    return sweep


# ---------------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------------
def mean_std_se(values: Iterable[float]) -> dict[str, float]:
    """n, mean, sample standard deviation (ddof=1) and standard error of the mean.

    >>> mean_std_se([1.0, 3.0])
    {'n': 2, 'mean': 2.0, 'std': 1.4142135623730951, 'se': 1.0}
    """
    arr = np.asarray(list(values), dtype=np.float64)
    n = arr.size
    std = float(arr.std(ddof=1)) if n > 1 else math.nan
    return {
        "n": n,
        "mean": float(arr.mean()) if n else math.nan,
        "std": std,
        "se": std / math.sqrt(n) if n > 1 else math.nan,
    }


def paired_difference(a: dict[int, float], b: dict[int, float], level: float = 0.95) -> dict[str, Any]:
    """Paired-by-seed difference a − b over the seeds both have: per-seed values, mean, SD and the Student-t
    confidence interval at ``level``.

    >>> d = paired_difference({0: 2.0, 1: 3.0, 2: 4.0}, {0: 1.0, 1: 1.5, 2: 2.0})
    >>> d["mean"], [round(v, 3) for v in d["ci"]]
    (1.5, [0.258, 2.742])
    """
    seeds = sorted(set(a) & set(b))
    diffs = np.array([a[s] - b[s] for s in seeds], dtype=np.float64)
    n = diffs.size
    mean = float(diffs.mean()) if n else math.nan
    sd = float(diffs.std(ddof=1)) if n > 1 else math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n) if n > 1 else math.nan
    return {
        "seeds": seeds,
        "a": [a[s] for s in seeds],
        "b": [b[s] for s in seeds],
        "diff": diffs.tolist(),
        "n": n,
        "mean": mean,
        "sd": sd,
        "level": level,
        "ci": [mean - half, mean + half],
    }


def group_summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accuracy (best and last, over seeds) and weighted mean QE per (binarizer, ω0) group."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in runs:
        key = (r["binarizer"], r["omega0"] if r["binarizer"] == "biper" else math.nan)
        groups.setdefault(key, []).append(r)
    out = []
    for (binarizer, omega0), members in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        totals = [m["analysis"]["totals"] for m in members]
        out.append(
            {
                "binarizer": binarizer,
                "omega0": None if math.isnan(omega0) else omega0,
                "seeds": [m["seed"] for m in members],
                "best_acc": mean_std_se(m["best_acc"] for m in members),
                "last_acc": mean_std_se(m["last_acc"] for m in members),
                "qe_emp_weighted": mean_std_se(t["qe_emp_weighted"] for t in totals),
                "qe_pred_weighted": mean_std_se(t["qe_pred_weighted"] for t in totals),
            }
        )
    return out


def normalised_layer_qe(row: dict[str, Any], omega0: float) -> dict[str, float]:
    """Unit-free QE / E[latent²] of one analysed layer, for BiPer and for the sign baseline, at γ*.

    BiPer (latent sin(ω0 w)): predicted QE_min(x)/E sin²(x) at x = ω0·b_loc0 (analytic.normalised_qe);
    measured QE_min / mean sin² of the weights. Sign (latent w): predicted 1/2 under Laplace
    (analytic.normalised_qe_sign); measured 1 − (mean|w|)²/mean w².
    """
    from biper_analysis.theory import analytic

    return {
        "biper_pred": float(analytic.normalised_qe(omega0, row["b_loc0"])),
        "biper_emp": row["qe_emp"] / row["e_sin2_emp"],
        "sign_pred": float(analytic.normalised_qe_sign(row["b_loc0"])),
        "sign_emp": 1.0 - row["b_loc0"] ** 2 / row["mean_w2"],
    }
