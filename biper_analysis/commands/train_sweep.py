"""``biper-analysis train-sweep``: the cached training sweep the figures and paper checks read."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from biper_analysis.commands._args import count, positive_float, positive_float_list, seed_list
from biper_analysis.training.sweep import SweepPlan, run_training_sweep

__all__ = ["register", "run"]

ORDER = 62


def register(sub: argparse._SubParsersAction) -> None:
    d = SweepPlan()
    p = sub.add_parser("train-sweep", help="train BiPer at several ω0 plus the sign baseline (cached), analyse each",
                       description="Train the small CPU network on Fashion-MNIST for BiPer at each ω0 and the sign "
                                   "baseline, for each seed, in parallel single-threaded worker processes (the same "
                                   "weights whatever --jobs or the machine load); reuse finished runs; analyse every "
                                   "checkpoint against its initial weights; write OUT/sweep.json. A folder holds one "
                                   "recipe: runs of another grid are added to it, never removed.")
    p.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder (default: runs/sweep)")
    p.add_argument("--omega0", type=positive_float_list, default=list(d.omega0s),
                   help="ω0 values (default " + ",".join(f"{w:g}" for w in d.omega0s) + ")")
    p.add_argument("--seeds", type=seed_list, default=None,
                   help="seeds of BiPer at --paired-omega0 and of the sign baseline, paired by seed (default "
                        + ",".join(map(str, d.seeds)) + ")")
    p.add_argument("--side-seeds", type=seed_list, default=None,
                   help="seeds of the other ω0 (default " + ",".join(map(str, d.side_seeds)) + "; or --seeds when "
                        "--seeds is given)")
    p.add_argument("--paired-omega0", type=positive_float, default=d.paired_omega0,
                   help=f"the ω0 compared with the sign baseline seed by seed (default {d.paired_omega0:g})")
    p.add_argument("--no-baseline", action="store_true", help="skip the sign-STE baseline")
    p.add_argument("--preset", default=d.preset, help="training preset (default: short, the small CPU network)")
    p.add_argument("--epochs1", type=count, default=None, help="override stage-1 epochs (>= 1)")
    p.add_argument("--epochs2", type=count, default=None, help="override stage-2 epochs (>= 1)")
    p.add_argument("--train-limit", type=count, default=None, help="use the first N training images")
    p.add_argument("--test-limit", type=count, default=None, help="use the first N test images")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: $BIPER_DATA_DIR or Debian's)")
    p.add_argument("--device", default="cpu", help="cpu (default; reproducible) | cuda | auto")
    p.add_argument("--jobs", type=count, default=os.cpu_count() or 1,
                   help=f"runs trained at once, one thread each (default: the number of cores, {os.cpu_count()})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    default = SweepPlan()
    seeds = args.seeds or list(default.seeds)
    side = args.side_seeds or args.seeds or list(default.side_seeds)
    plan = SweepPlan(omega0s=tuple(args.omega0), seeds=tuple(seeds), side_seeds=tuple(side),
                     paired_omega0=args.paired_omega0, baseline=not args.no_baseline, preset=args.preset,
                     epochs1=args.epochs1, epochs2=args.epochs2, train_limit=args.train_limit,
                     test_limit=args.test_limit, data_dir=args.data_dir, device=args.device)
    plan.recipe()  # validates every config (model, data, epochs) before anything is trained or written
    from biper_analysis.training.data import check_dataset

    check_dataset("fashion-mnist", args.data_dir)   # missing or corrupt data: one line now, not after spawning workers
    sweep = run_training_sweep(args.out, plan, jobs=args.jobs, log=lambda line: print(line, flush=True))
    for g in sweep["groups"]:
        label = "sign baseline" if g["binarizer"] == "sign" else f"biper ω0={g['omega0']:g}"
        acc = g["best_acc"]
        spread = "" if acc["n"] < 2 else f" ± {acc['std']:.2f}"
        sys.stdout.write(f"{label:<16} best acc {acc['mean']:.2f}{spread} % (n={acc['n']}); weighted QE measured "
                         f"{g['qe_emp_weighted']['mean']:.4f}, predicted (Laplace) "
                         f"{g['qe_pred_weighted']['mean']:.4f}\n")
    sys.stdout.write(f"{args.out / 'sweep.json'} now holds {len(sweep['runs'])} runs\n")
    return 0
