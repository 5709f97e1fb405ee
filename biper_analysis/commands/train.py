"""``biper-analysis train``: train one BiPer / sign / fp run (two stages) into a run folder.

The options are generated from :class:`biper_analysis.training.config.TrainConfig` (one per field, help and
default from the field). Also run under DDP as ``torchrun --nproc_per_node 2 -m biper_analysis.training
[same options]``.
"""

from __future__ import annotations

import argparse
import os
import sys

from biper_analysis.commands._args import count

__all__ = ["register", "run", "add_train_arguments", "config_from_args"]

ORDER = 60


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` (shared with ``python -m biper_analysis.training``)."""
    from biper_analysis.training.config import PRESET_ALIASES, PRESETS, add_config_arguments

    add_config_arguments(p)
    names = " | ".join(list(PRESETS) + [f"{old} (old name of {new})" for old, new in PRESET_ALIASES.items()])
    p.add_argument("--preset", default=None, help=f"start from a named configuration: {names}")
    p.add_argument("--out", required=True, help="run folder to create (or continue with --resume)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument(
        "--threads",
        type=count,
        default=1,
        help="CPU threads (default 1: bit-identical results whatever OMP_NUM_THREADS or machine load)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar and no per-epoch lines")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a BiPer / sign / fp network (two-stage recipe)",
        description="Train one run into a run folder (init.pth.tar, stage1/, stage2/, metrics.jsonl).",
    )
    add_train_arguments(p)
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace):  # -> TrainConfig
    import warnings

    from biper_analysis.training.config import config_from_namespace

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        cfg = config_from_namespace(args, args.preset)
    for w in caught:
        sys.stderr.write(f"biper-analysis train: warning: {w.message}\n")
    return cfg


def run(args: argparse.Namespace) -> int:
    from biper_analysis._io.errors import Interrupted
    from biper_analysis._io.reproducible import use_threads
    from biper_analysis.training.loop import BEST, CHECKPOINT, CONFIG_TXT, INIT, METRICS, train_run

    cfg = config_from_args(args)
    use_threads(args.threads)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    try:
        summary = train_run(cfg, args.out, resume=args.resume, quiet=args.quiet)
    except KeyboardInterrupt:
        raise Interrupted(_interrupted_summary(args, cfg)) from None
    if summary.get("world_size", 1) == 1 or main_rank:
        parts = [
            f"stage {s}: best {v['best_acc']:.2f}% last {v['last_acc']:.2f}%"
            for s, v in summary["stages"].items()
            if v["best_acc"] is not None
        ]
        sys.stdout.write(
            f"{args.out}: " + ("; ".join(parts) or "no epochs trained") + f" ({summary['time_s']:.1f} s)\n"
        )
        sys.stdout.write(
            f"wrote {args.out}/ ({INIT}, "
            + ", ".join(f"stage{s}/{{{CHECKPOINT},{BEST},{CONFIG_TXT}}}" for s in cfg.stages)
            + f", {METRICS})\n"
        )
    return 0


def _interrupted_summary(args: argparse.Namespace, cfg) -> str:
    """What an interrupted run kept and the command that continues it."""
    import shlex

    from biper_analysis.training.loop import finished_epochs

    done = finished_epochs(args.out, cfg.stages)
    if not any(done.values()):
        return f"no epoch was finished, so nothing was kept in {args.out}; start again with the same command"
    words = [w for w in getattr(args, "argv", []) if w != "--resume"]
    kept = ", ".join(f"stage {s} {n}/{cfg.stage_epochs(s)} epochs" for s, n in done.items())
    return f"finished {kept} (checkpoints in {args.out}); continue with: biper-analysis {shlex.join(words)} --resume"
