"""``biper-analysis check``: run every executable paper check and write a report (default check-out/REPORT.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import biper_analysis
from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import claim_folder, claim_output
from biper_analysis.paper_checks.record import FAIL, CheckContext, discover, run_all, write_report

__all__ = ["register", "run", "sweep_folder", "DEFAULT_REPORT"]

ORDER = 90
COMMAND = "check"
#: Where the report goes without --report: a folder of its own (made when needed), never the current folder itself.
DEFAULT_REPORT = Path("check-out") / "REPORT.md"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "check",
        help="run every paper check; write REPORT.md; exit 1 if a claim fails",
        description="Run the executable claims (biper_analysis/paper_checks/) against the library and "
        "the cached training sweep, and write a Markdown report. Never trains.",
    )
    p.add_argument(
        "--runs",
        type=Path,
        default=None,
        help="training-sweep folder (default: runs/sweep when it exists; made by `biper-analysis "
        "train-sweep`); an explicit --runs must hold a sweep.json",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help=f"report file (default: {DEFAULT_REPORT}, its folder made if needed); never inside --runs or the package",
    )
    p.add_argument("--only", action="append", default=[], help="run only checks whose name contains this (repeatable)")
    p.add_argument(
        "--checks-dir",
        type=Path,
        default=None,
        help="run the check_*.py scripts of this folder instead of the package's own",
    )
    p.add_argument("--quick", action="store_true", help="smaller Monte Carlo (for tests)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=run)


def sweep_folder(runs: Path | None) -> Path | None:
    """The training-sweep folder: the default runs/sweep may be absent (network checks are then inconclusive),
    but a folder the user named must hold a sweep.json."""
    if runs is None:
        default = Path("runs/sweep")
        return default if (default / "sweep.json").is_file() else None
    if not (runs / "sweep.json").is_file():
        raise UsageError(
            f"--runs {str(runs)!r} holds no sweep.json; make it with `biper-analysis train-sweep --out {runs}`"
        )
    return runs


def run(args: argparse.Namespace) -> int:
    from biper_analysis._io.errors import Interrupted
    from biper_analysis._io.interrupt import stop_workers_on_interrupt

    if args.checks_dir is not None and not args.checks_dir.is_dir():
        raise UsageError(f"--checks-dir {str(args.checks_dir)!r} not found; give a folder of check_*.py scripts")
    runs = sweep_folder(args.runs)
    names = [name for name, _ in discover(args.checks_dir)]
    if args.only and not any(o in n for n in names for o in args.only):
        raise UsageError(f"no check name contains {args.only}; the checks are {', '.join(names)}")
    if not names:
        raise UsageError(f"no check_*.py scripts in {str(args.checks_dir)!r}")
    forbidden = [(Path(biper_analysis.__file__).parent, "the installed package")]
    if runs is not None:
        forbidden.append((runs, "the training sweep this command reads"))
    path, made = args.report, None
    if path is None:
        path = DEFAULT_REPORT
        claim_folder(path.parent, option="--report")
        if not path.parent.exists():
            path.parent.mkdir(parents=True)
            made = path.parent
    try:
        report = claim_output(path, command=COMMAND, option="--report", suffixes=(".md",), forbidden_folders=forbidden)
        context = CheckContext(runs_dir=runs, quick=args.quick)
        started: list[str] = []

        def progress(i: int, n: int, name: str) -> None:
            started.append(name)
            if not args.quiet:
                sys.stderr.write(f"[{i}/{n}] {name} ...\n")

        with stop_workers_on_interrupt():
            results = run_all(context, args.only, args.checks_dir, progress=progress)
            write_report(results, report.path, context)
    except KeyboardInterrupt:
        if made is not None and not any(made.iterdir()):
            made.rmdir()
        done = ", ".join(started[:-1]) or "none"
        raise Interrupted(
            f"during {started[-1] if started else 'the set-up'} (finished: {done}); no report was "
            "written; run the same command again"
        ) from None
    except BaseException:
        if made is not None and not any(made.iterdir()):
            made.rmdir()
        raise
    width = max(len(r.name) for r, _ in results)
    for r, seconds in results:
        sys.stdout.write(f"{r.verdict.upper():<13} {r.name:<{width}}  {r.measured}  ({seconds:.1f} s)\n")
    failed = sum(r.verdict == FAIL for r, _ in results)
    note = f" ({report.note()})" if report.replaces else ""
    sys.stdout.write(f"wrote {report.path}{note}; {len(results) - failed} of {len(results)} claims not failed\n")
    return 1 if failed else 0
