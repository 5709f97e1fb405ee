"""``biper-analysis figures``: every figure, PDF + PNG, deterministic, with provenance metadata."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import claim_folder
from biper_analysis.commands.check import sweep_folder
from biper_analysis.plotting.gallery import FIGURES, plan_figures, render_figures

__all__ = ["register", "run"]

ORDER = 80


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("figures", help="render every figure (theory now; real networks from the cached sweep)",
                       description="Render the paper and analysis figures as PDF + PNG into a folder. Real-network "
                                   "figures read the training sweep; this command never trains. A figure file is "
                                   "replaced only if an earlier `figures` run wrote it.")
    p.add_argument("--out", type=Path, default=Path("figures"), help="output folder (default: figures/)")
    p.add_argument("--runs", type=Path, default=None,
                   help="training-sweep folder (default: runs/sweep when it exists; made by `biper-analysis "
                        "train-sweep`); an explicit --runs must hold a sweep.json")
    p.add_argument("--only", action="append", default=[], help="render only figures whose name contains this")
    p.add_argument("--formats", default="pdf,png", help="comma-separated formats (default: pdf,png)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        for spec in FIGURES:
            sys.stdout.write(f"{spec.name:<28} {'(needs train-sweep) ' if spec.needs_sweep else ''}{spec.caption}\n")
        return 0
    formats = tuple(f.strip().lstrip(".") for f in args.formats.split(",") if f.strip())
    bad = [f for f in formats if f not in ("pdf", "png", "svg")]
    if bad or not formats:
        raise UsageError(f"--formats must be a comma list of pdf, png, svg; got {args.formats!r}")
    if args.only and not any(o in s.name for s in FIGURES for o in args.only):
        raise UsageError(f"no figure name contains {args.only}; see `biper-analysis figures --list`")
    runs = sweep_folder(args.runs)
    out = claim_folder(args.out, option="--out")
    if out.is_dir():
        plan_figures(out, tuple(args.only), formats)   # refuse foreign files before any work
    render_figures(out, runs, tuple(args.only), formats,
                   log=lambda line: sys.stderr.write(line + "\n") if line.startswith("skipping") else print(line))
    return 0
