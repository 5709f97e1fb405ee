"""``biper-analysis train-sweep``: the cached training sweep the figures and paper checks read."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biper_analysis.commands._args import float_list

ORDER = 62


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 0,1, got {text!r}")


def register(sub: argparse._SubParsersAction) -> None:
    from biper_analysis.experiments import SweepPlan

    d = SweepPlan()
    p = sub.add_parser("train-sweep", help="train BiPer at several ω0 plus the sign baseline (cached), analyse each",
                       description="Train the small CPU network on Fashion-MNIST for BiPer at each ω0 and the sign "
                                   "baseline, for each seed; reuse finished runs; analyse every checkpoint; write "
                                   "OUT/sweep.json.")
    p.add_argument("--out", type=Path, default=Path("runs/sweep"), help="sweep folder (default: runs/sweep)")
    p.add_argument("--omega0", type=float_list, default=list(d.omega0s), help="ω0 values, e.g. 5,20,60")
    p.add_argument("--seeds", type=_int_list, default=list(d.seeds), help="seeds, e.g. 0,1")
    p.add_argument("--no-baseline", action="store_true", help="skip the sign-STE baseline")
    p.add_argument("--preset", default=d.preset, help="training preset (default: short, the small CPU network)")
    p.add_argument("--epochs1", type=int, default=None, help="override stage-1 epochs")
    p.add_argument("--epochs2", type=int, default=None, help="override stage-2 epochs")
    p.add_argument("--train-limit", type=int, default=None, help="use the first N training images")
    p.add_argument("--test-limit", type=int, default=None, help="use the first N test images")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: $BIPER_DATA_DIR or Debian's)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from biper_analysis.cli import CLIError
    from biper_analysis.experiments import SweepPlan, run_training_sweep

    if any(w <= 0 for w in args.omega0):
        raise CLIError(f"--omega0 values must be > 0, got {args.omega0}")
    if not args.seeds:
        raise CLIError("--seeds needs at least one seed, e.g. --seeds 0,1")
    plan = SweepPlan(omega0s=tuple(args.omega0), seeds=tuple(args.seeds), baseline=not args.no_baseline,
                     preset=args.preset, epochs1=args.epochs1, epochs2=args.epochs2, train_limit=args.train_limit,
                     test_limit=args.test_limit, data_dir=args.data_dir, device=args.device)
    plan.runs()  # validates every config (model, data, epochs) before anything is trained or written
    sweep = run_training_sweep(args.out, plan, log=lambda line: print(line, flush=True))
    for g in sweep["groups"]:
        label = "sign baseline" if g["binarizer"] == "sign" else f"biper ω0={g['omega0']:g}"
        acc = g["best_acc"]
        sys.stdout.write(f"{label:<16} best acc {acc['mean']:.2f} ± {acc['std']:.2f} % (n={acc['n']}); "
                         f"weighted QE measured {g['qe_emp_weighted']['mean']:.4f}, "
                         f"predicted {g['qe_pred_weighted']['mean']:.4f}\n")
    sys.stdout.write(f"sweep written to {args.out / 'sweep.json'}\n")
    return 0
