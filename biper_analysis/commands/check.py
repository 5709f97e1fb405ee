"""``biper-analysis check``: run every executable paper check and write a report (default ./REPORT.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import biper_analysis
from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import claim_output
from biper_analysis.paper_checks.record import FAIL, CheckContext, discover, run_all, write_report

__all__ = ["register", "run", "sweep_folder"]

ORDER = 90
COMMAND = "check"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run every paper check; write REPORT.md; exit 1 if a claim fails",
                       description="Run the executable claims (biper_analysis/paper_checks/) against the library and "
                                   "the cached training sweep, and write a Markdown report. Never trains.")
    p.add_argument("--runs", type=Path, default=None,
                   help="training-sweep folder (default: runs/sweep when it exists; made by `biper-analysis "
                        "train-sweep`); an explicit --runs must hold a sweep.json")
    p.add_argument("--report", type=Path, default=Path("REPORT.md"),
                   help="report file (default: REPORT.md in the current folder); never inside --runs or the package")
    p.add_argument("--only", action="append", default=[], help="run only checks whose name contains this (repeatable)")
    p.add_argument("--checks-dir", type=Path, default=None,
                   help="run the check_*.py scripts of this folder instead of the package's own")
    p.add_argument("--quick", action="store_true", help="smaller Monte Carlo (for tests)")
    p.set_defaults(func=run)


def sweep_folder(runs: Path | None) -> Path | None:
    """The training-sweep folder: the default runs/sweep may be absent (network checks are then inconclusive),
    but a folder the user named must hold a sweep.json."""
    if runs is None:
        default = Path("runs/sweep")
        return default if (default / "sweep.json").is_file() else None
    if not (runs / "sweep.json").is_file():
        raise UsageError(f"--runs {str(runs)!r} holds no sweep.json; make it with "
                         f"`biper-analysis train-sweep --out {runs}`")
    return runs


def run(args: argparse.Namespace) -> int:
    if args.checks_dir is not None and not args.checks_dir.is_dir():
        raise UsageError(f"--checks-dir {str(args.checks_dir)!r} not found; give a folder of check_*.py scripts")
    runs = sweep_folder(args.runs)
    forbidden = [(Path(biper_analysis.__file__).parent, "the installed package")]
    if runs is not None:
        forbidden.append((runs, "the training sweep this command reads"))
    report = claim_output(args.report, command=COMMAND, option="--report", suffixes=(".md",),
                          forbidden_folders=forbidden)
    names = [name for name, _ in discover(args.checks_dir)]
    if args.only and not any(o in n for n in names for o in args.only):
        raise UsageError(f"no check name contains {args.only}; the checks are {', '.join(names)}")
    if not names:
        raise UsageError(f"no check_*.py scripts in {str(args.checks_dir)!r}")
    context = CheckContext(runs_dir=runs, quick=args.quick)
    results = run_all(context, args.only, args.checks_dir)
    write_report(results, report.path, context)
    width = max(len(r.name) for r, _ in results)
    for r, seconds in results:
        sys.stdout.write(f"{r.verdict.upper():<13} {r.name:<{width}}  {r.measured}  ({seconds:.1f} s)\n")
    failed = sum(r.verdict == FAIL for r, _ in results)
    note = f" ({report.note()})" if report.replaces else ""
    sys.stdout.write(f"report written to {report.path}{note}; {len(results) - failed} of {len(results)} not failed\n")
    return 1 if failed else 0
