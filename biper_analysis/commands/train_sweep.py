"""``biper-analysis train-sweep``: the cached training sweep the figures and paper checks read.

The training options are generated from :class:`biper_analysis.training.config.TrainConfig` (every field but the
sweep's axes ω0, seed and binariser, which the plan sets run by run). ``--executor local`` (the default) trains on
this machine; ``--executor slurm`` submits the runs as a Slurm job array (:mod:`biper_analysis.training.slurm`).
Progress goes to stderr from the first second; Ctrl-C / SIGTERM stop the sweep (exit 130) and say how to resume.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from biper_analysis.commands._args import count, positive_float, positive_float_list, seed_list
from biper_analysis.training.sweep import (
    SWEEP_AXES,
    SWEEP_DEVICE,
    SweepInterrupted,
    SweepPlan,
    SweepProgress,
    run_training_sweep,
)

__all__ = ["register", "run"]

ORDER = 62

PROG = "biper-analysis train-sweep"
#: Options of the plan (None when not given: --status then lists every run the folder knows of).
_PLAN_OPTIONS = ("omega0", "seeds", "side_seeds", "paired_omega0", "no_baseline", "preset")
#: The Slurm settings options (dest → help); their defaults come from the settings file and environment.
_SLURM_OPTIONS = {
    "partition": (str, "partition to submit to (default: the cluster's default partition)"),
    "time": (
        str,
        "time limit of each task: minutes or H:MM:SS (default 60); a task that reaches it is requeued "
        "and resumes from its last checkpoint",
    ),
    "cpus_per_task": (count, "CPUs (= torch threads) of each process (default 1: the same weights as a local run)"),
    "gpus_per_run": (int, "GPUs of each run, one process each (distributed when > 1; needs --device cuda)"),
    "procs_per_run": (count, "processes of each CPU run (distributed, gloo, when > 1; default 1)"),
    "mem": (str, "memory of each task's node, e.g. 4G (default: the partition's)"),
    "account": (str, "account to charge"),
    "qos": (str, "quality of service"),
    "array_parallelism": (count, "tasks of the array running at once (default: as many as the cluster fits)"),
    "requeues": (int, "times a task may be requeued after reaching its time limit (default 3)"),
}


def register(sub: argparse._SubParsersAction) -> None:
    from biper_analysis.training.config import add_config_arguments

    d = SweepPlan()
    p = sub.add_parser(
        "train-sweep",
        help="train BiPer at several ω0 plus the sign baseline (cached), analyse each",
        description="Train the small CPU network on Fashion-MNIST for BiPer at each ω0 and the sign "
        "baseline, for each seed, in parallel single-threaded worker processes (the same "
        "weights whatever --jobs or the machine load) or as a Slurm job array; reuse "
        "finished runs; analyse every checkpoint against its initial weights; write "
        "OUT/sweep.json. A folder holds one recipe: runs of another grid are added to it, "
        "never removed. The training options below override the preset's.",
    )
    p.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder (default: runs/sweep)")
    p.add_argument(
        "--omega0",
        type=positive_float_list,
        default=None,
        help="ω0 values (default " + ",".join(f"{w:g}" for w in d.omega0s) + ")",
    )
    p.add_argument(
        "--seeds",
        type=seed_list,
        default=None,
        help="seeds of BiPer at --paired-omega0 and of the sign baseline, paired by seed (default "
        + ",".join(map(str, d.seeds))
        + ")",
    )
    p.add_argument(
        "--side-seeds",
        type=seed_list,
        default=None,
        help="seeds of the other ω0 (default " + ",".join(map(str, d.side_seeds)) + "; or --seeds when "
        "--seeds is given)",
    )
    p.add_argument(
        "--paired-omega0",
        type=positive_float,
        default=None,
        help=f"the ω0 compared with the sign baseline seed by seed (default {d.paired_omega0:g})",
    )
    p.add_argument("--no-baseline", action="store_true", default=None, help="skip the sign-STE baseline")
    p.add_argument("--preset", default=None, help=f"training preset (default: {d.preset}, the small CPU network)")
    add_config_arguments(p, skip=SWEEP_AXES, defaults={"device": SWEEP_DEVICE})
    p.add_argument(
        "--jobs",
        type=count,
        default=os.cpu_count() or 1,
        help=f"local executor: runs trained at once, one thread each (default: the number of cores, {os.cpu_count()})",
    )
    p.add_argument(
        "--executor",
        choices=("local", "slurm"),
        default="local",
        help="local (default): worker processes on this machine; slurm: one job-array task per run",
    )
    p.add_argument(
        "--status",
        action="store_true",
        help="show each run (done / queued / running / failed / missing) and exit; with no plan options, "
        "every run the folder knows of",
    )
    p.add_argument("--wait", action="store_true", help="slurm: wait until every run is done, showing progress")
    g = p.add_argument_group(
        "Slurm (--executor slurm; defaults from --slurm-config, $BIPER_SLURM_CONFIG and $BIPER_SLURM_<OPTION>)"
    )
    g.add_argument(
        "--slurm-config",
        default=None,
        metavar="FILE",
        help="settings file: [slurm] partition = ..., time = ..., [sbatch] extra = ... (see README)",
    )
    for dest, (kind, text) in _SLURM_OPTIONS.items():
        g.add_argument(f"--{dest.replace('_', '-')}", dest=dest, type=kind, default=None, help=text)
    g.add_argument(
        "--sbatch",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra sbatch parameter, e.g. --sbatch constraint=a100 (KEY= for a bare flag); repeatable",
    )
    p.set_defaults(func=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The training fields given (--omega0 is the sweep's own list; --set omega0=... is refused by the plan)."""
    from biper_analysis.training.config import options_given, parse_set

    given = {k: v for k, v in options_given(args).items() if k not in SWEEP_AXES}
    given.update(parse_set(args.set_fields))
    return given


def _plan(args: argparse.Namespace) -> SweepPlan:
    default = SweepPlan()
    seeds = args.seeds or list(default.seeds)
    side = args.side_seeds or args.seeds or list(default.side_seeds)
    return SweepPlan(
        omega0s=tuple(args.omega0 or default.omega0s),
        seeds=tuple(seeds),
        side_seeds=tuple(side),
        paired_omega0=args.paired_omega0 or default.paired_omega0,
        baseline=not args.no_baseline,
        preset=args.preset or default.preset,
        overrides=_overrides(args),
    )


def _plan_given(args: argparse.Namespace) -> bool:
    return any(getattr(args, name) is not None for name in _PLAN_OPTIONS) or bool(_overrides(args))


class _Progress:
    """Progress on stderr: one line rewritten in place on a terminal; otherwise a line whenever a run changes
    state, and at least every 30 s."""

    def __init__(self, stream: Any = sys.stderr) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.last_key: tuple[int, ...] | None = None
        self.last_time = 0.0
        self.last_epochs = -1
        self.width = 0

    def __call__(self, snap: SweepProgress) -> None:
        key = (snap.done, snap.running, snap.queued, snap.failed)
        now = time.monotonic()
        if self.tty:
            if now - self.last_time < 0.5 and key == self.last_key:
                return
            text = f"train-sweep: {snap.line()}"
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            epochs_moved = snap.epochs_done != self.last_epochs and now - self.last_time >= 10.0
            if key == self.last_key and not epochs_moved and now - self.last_time < 30.0:
                return
            self.stream.write(f"train-sweep: {snap.line()}\n")
        self.stream.flush()
        self.last_key, self.last_time, self.last_epochs = key, now, snap.epochs_done

    def end(self) -> None:
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()
            self.width = 0


def _print_groups(sweep: dict[str, Any], out: Path) -> None:
    for g in sweep["groups"]:
        label = "sign baseline" if g["binarizer"] == "sign" else f"biper ω0={g['omega0']:g}"
        acc = g["best_acc"]
        spread = "" if acc["n"] < 2 else f" ± {acc['std']:.2f}"
        sys.stdout.write(
            f"{label:<16} best acc {acc['mean']:.2f}{spread} % (n={acc['n']}); weighted QE measured "
            f"{g['qe_emp_weighted']['mean']:.4f}, predicted (Laplace) "
            f"{g['qe_pred_weighted']['mean']:.4f}\n"
        )
    sys.stdout.write(f"{out / 'sweep.json'} now holds {len(sweep['runs'])} runs\n")


def _status(args: argparse.Namespace) -> int:
    plan = _plan(args) if _plan_given(args) else None
    if not args.out.is_dir():
        raise FileNotFoundError(f"--out {args.out} does not exist; give the folder a train-sweep wrote")
    from biper_analysis.training.slurm import sweep_status

    statuses = sweep_status(args.out, plan)
    for s in statuses:
        sys.stdout.write(s.line().rstrip() + "\n")
    counts = {k: sum(1 for s in statuses if s.state == k) for k in ("done", "queued", "running", "failed", "missing")}
    sys.stdout.write(f"{args.out}: " + ", ".join(f"{v} {k}" for k, v in counts.items() if v) + "\n")
    return 0


def _slurm_settings(args: argparse.Namespace):  # -> SlurmSettings
    from biper_analysis.training.slurm import load_settings

    return load_settings({dest: getattr(args, dest) for dest in _SLURM_OPTIONS}, args.sbatch, args.slurm_config)


def run(args: argparse.Namespace) -> int:
    given = [dest for dest in _SLURM_OPTIONS if getattr(args, dest) is not None]
    given += ["sbatch"] * bool(args.sbatch) + ["slurm_config"] * bool(args.slurm_config)
    if args.executor == "local" and given and not args.status:
        raise ValueError(f"--{given[0].replace('_', '-')} applies to --executor slurm; add --executor slurm or drop it")
    if args.wait and args.executor == "local":
        raise ValueError("--wait applies to --executor slurm (the local executor always waits); drop --wait")
    if args.status:
        return _status(args)
    plan = _plan(args)
    runs = plan.runs()  # validates every config (model, data, epochs) before anything is trained or written
    plan.recipe()
    from biper_analysis.training.data import check_dataset

    check_dataset(runs[0][1].dataset, runs[0][1].data_dir)  # missing or corrupt data: one line now, not in the workers
    progress = _Progress()
    log = lambda line: (progress.end(), print(line, flush=True))
    try:
        if args.executor == "slurm":
            return _run_slurm(args, plan, progress, log)
        sweep = run_training_sweep(args.out, plan, jobs=args.jobs, log=log, progress=progress)
    except SweepInterrupted as stop:
        progress.end()
        sys.stderr.write(f"{PROG}: interrupted: {stop.report}\n")
        return 130
    progress.end()
    _print_groups(sweep, args.out)
    return 0


def _run_slurm(args: argparse.Namespace, plan: SweepPlan, progress: _Progress, log: Any) -> int:
    from biper_analysis.training.slurm import run_sweep_on_slurm

    settings = _slurm_settings(args)
    outcome = run_sweep_on_slurm(args.out, plan, settings, wait=args.wait, log=log, progress=progress)
    progress.end()
    if outcome.sweep is not None:
        _print_groups(outcome.sweep, args.out)
        return 0
    for s in outcome.failed:
        sys.stderr.write(f"{PROG}: error: {s.name} failed (job {s.job_id}): {s.detail}; log {s.log}\n")
    if outcome.failed:
        sys.stderr.write(
            f"{PROG}: {len(outcome.failed)} of {len(outcome.statuses)} runs failed; rerun the same "
            "command to resubmit them (they resume from their last checkpoints)\n"
        )
        return 1
    left = [s for s in outcome.statuses if s.state in ("queued", "running")]
    plural = "s" if len(left) != 1 else ""
    sys.stdout.write(
        f"{len(left)} run{plural} queued or running; follow them with `biper-analysis train-sweep "
        f"--out {args.out} --status`; rerun this command (or add --wait) to collect sweep.json when they "
        "are done\n"
    )
    return 0
