"""``biper-analysis convergence``: rerun the convergence study behind the training preset's length (slow)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biper_analysis._io.outputs import claim_folder, claim_output
from biper_analysis.commands._args import count, seed_list
from biper_analysis.training.convergence import FROZEN, STUDY_FILE, TOLERANCE_PP, run_study
from biper_analysis.training.sweep import SweepPlan

__all__ = ["register", "run"]

ORDER = 63
COMMAND = "convergence"


def register(sub: argparse._SubParsersAction) -> None:
    seeds = ",".join(map(str, SweepPlan().seeds))
    p = sub.add_parser(
        COMMAND,
        help="rerun the convergence study behind the short preset's length (~15 min on 2 cores)",
        description="Train BiPer at ω0 = 20 and the sign baseline, paired by seed, at the preset's "
        f"length E and at 2E (two cached training sweeps in OUT/E and OUT/2E), and write "
        f"OUT/{STUDY_FILE}: converged when doubling changes the mean best accuracy by "
        f"less than {TOLERANCE_PP} pp in both arms. The shipped result that figure 12 "
        f"reads ({FROZEN.name} in the package data) is not changed.",
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/convergence"), help="study folder (default: runs/convergence)"
    )
    p.add_argument("--seeds", type=seed_list, default=None, help=f"paired seeds (default {seeds}, the shipped study's)")
    p.add_argument("--preset", default="short", help="training preset whose length is tested (default: short)")
    p.add_argument("--data-dir", default=None, help="Fashion-MNIST folder (default: $BIPER_DATA_DIR or Debian's)")
    p.add_argument("--jobs", type=count, default=None, help="runs trained at once (default: the number of cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from biper_analysis.training.data import resolve_data_dir

    out = claim_folder(args.out, option="--out")
    if out.is_dir():  # an earlier study's result may be replaced; anything else of that name is refused
        claim_output(out / STUDY_FILE, command=COMMAND, option="--out", suffixes=(".json",))
    resolve_data_dir("fashion-mnist", args.data_dir)  # missing data: one line now, not after training starts
    seeds = tuple(args.seeds) if args.seeds else SweepPlan().seeds
    result = run_study(
        out, seeds, preset=args.preset, jobs=args.jobs, data_dir=args.data_dir, log=lambda line: print(line, flush=True)
    )
    for arm, a in result["arms"].items():
        sys.stdout.write(
            f"{arm}: mean best {a['mean_E']:.3f} % at E, {a['mean_2E']:.3f} % at 2E "
            f"({a['change_pp']:+.3f} pp; converged: {a['converged']})\n"
        )
    sys.stdout.write(f"wrote {out / STUDY_FILE}\n")
    return 0
