"""``biper-analysis check``: run every executable paper check and write paper_checks/REPORT.md."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ORDER = 90


def default_checks_dir() -> Path:
    """``paper_checks/`` in the current directory if present, else the one beside the package source."""
    here = Path("paper_checks")
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "paper_checks"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run every paper check; write REPORT.md; non-zero if a check fails",
                       description="Run the executable claims in paper_checks/ and write a report.")
    p.add_argument("--checks-dir", type=Path, default=None, help="folder of check_*.py scripts (default: paper_checks/)")
    p.add_argument("--runs", type=Path, default=None,
                   help="training-sweep folder (default: runs/sweep, skipped when absent; made by `biper-analysis "
                        "train-sweep`); an explicit --runs must hold a sweep.json")
    p.add_argument("--report", type=Path, default=None, help="report path (default: CHECKS_DIR/REPORT.md)")
    p.add_argument("--only", action="append", default=[], help="run only checks whose name contains this (repeatable)")
    p.add_argument("--quick", action="store_true", help="smaller Monte Carlo and grids (for tests)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from biper_analysis.checks import FAIL, CheckContext, run_all, write_report
    from biper_analysis.cli import CLIError

    checks_dir = args.checks_dir or default_checks_dir()
    if not checks_dir.is_dir():
        raise CLIError(f"checks folder {str(checks_dir)!r} not found; run from the repository root or pass --checks-dir")
    from biper_analysis.commands._args import sweep_dir

    context = CheckContext(runs_dir=sweep_dir(args.runs), quick=args.quick)
    results = run_all(checks_dir, context, args.only)
    if not results:
        raise CLIError(f"no check_*.py scripts matched in {str(checks_dir)!r}; check --only or --checks-dir")
    # a partial run (--only) never overwrites the full REPORT.md unless --report names it
    report = args.report or (None if args.only else checks_dir / "REPORT.md")
    if report is not None:
        write_report(results, report, context)
    width = max(len(r.name) for r, _ in results)
    for r, seconds in results:
        sys.stdout.write(f"{r.verdict.upper():<13} {r.name:<{width}}  {r.measured}  ({seconds:.1f} s)\n")
    failed = sum(r.verdict == FAIL for r, _ in results)
    where = f"report written to {report}" if report is not None else "no report written (--only without --report)"
    sys.stdout.write(f"{where}; {len(results) - failed} of {len(results)} not failed\n")
    return 1 if failed else 0
