"""``biper-analysis figures``: every figure, PDF + PNG, deterministic, with provenance metadata."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biper_analysis._io.errors import Interrupted, UsageError
from biper_analysis._io.interrupt import stop_workers_on_interrupt
from biper_analysis._io.outputs import claim_folder
from biper_analysis.commands.check import sweep_folder
from biper_analysis.plotting.gallery import FIGURES, plan_figures, render_figures

__all__ = ["register", "run", "DEFAULT_OUT"]

ORDER = 80
#: The default output folder: never the tracked gallery figures/, which only `make gallery` writes (with --out).
DEFAULT_OUT = Path("figures-out")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "figures",
        help="render every figure (theory now; real networks from the cached sweep)",
        description="Render the paper and analysis figures as PDF + PNG into a folder. Real-network "
        "figures read the training sweep; this command never trains. A figure file is "
        "replaced only if an earlier `figures` run wrote it.",
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT}/, made if needed)"
    )
    p.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="training-sweep folder (default: runs/sweep when it exists; made by `biper-analysis "
        "train-sweep`); an explicit --runs must hold a sweep.json",
    )
    p.add_argument("--only", action="append", default=[], help="render only figures whose name contains this")
    p.add_argument("--formats", default="pdf,png", help="comma-separated formats (default: pdf,png)")
    p.add_argument("--list", action="store_true", help="list the figures and exit")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr (the 'wrote' lines stay)")
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
        plan_figures(out, tuple(args.only), formats)  # refuse foreign files before any work
    made = not out.exists()
    wrote: list[str] = []

    def log(line: str) -> None:
        if line.startswith("wrote"):
            wrote.append(line)
        if line.startswith("skipping"):
            sys.stderr.write(line + "\n")
        elif line.startswith("rendering"):
            if not args.quiet:
                sys.stderr.write(line + "\n")
        else:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    try:
        with stop_workers_on_interrupt():
            render_figures(out, runs, tuple(args.only), formats, log=log)
    except KeyboardInterrupt:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise Interrupted(
            f"{len(wrote)} figures were written to {out} before the interrupt; run the same command "
            "again to finish (it replaces its own figures)"
        ) from None
    return 0
