"""``biper-analysis fit-b``: fit b per binarised layer of a checkpoint and hold the closed form against the weights."""
from __future__ import annotations

import argparse
import sys

from biper_analysis.commands._args import gamma_value, write_json

ORDER = 60


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fit-b", help="per-layer Laplace fit, goodness of fit and predicted vs measured QE of a checkpoint",
        description="Read a checkpoint safely (official BiPer .pth.tar with config.txt beside it, our run "
                    "directory, a plain state_dict or .safetensors), fit the Laplace scale b of every binarised "
                    "layer, and compare the closed-form QE at b with the QE measured on the weights.")
    p.add_argument("path", help="checkpoint file or run directory (RUN/stage2/model_best.pth.tar is used)")
    p.add_argument("--omega0", type=float, default=None,
                   help="angular frequency ω0 (default: stored in the checkpoint, else 'freq' in the config.txt "
                        "beside it; given, it overrides both)")
    p.add_argument("--layers", default=None, metavar="REGEX",
                   help="analyse the tensors whose names match REGEX (default: weights with an 'alpha' sibling "
                        "or the checkpoint's binarized_layers)")
    p.add_argument("--gamma", type=gamma_value, default=None,
                   help="binary scale γ >= 0, or 'opt' (default: each side its own optimal γ*)")
    p.add_argument("--json", metavar="FILE|-", default=None, help="write the report as JSON ('-' = stdout only)")
    p.add_argument("--csv", metavar="FILE", default=None, help="write the per-layer rows as CSV")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="write a figure: per-layer weight histograms with fitted pdfs, sin and phase "
                        "histograms, predicted vs measured QE")
    p.set_defaults(func=run)


def _check_output(path: str | None, flag: str) -> None:
    from pathlib import Path

    from biper_analysis.cli import CLIError

    if path is None or path == "-":
        return
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise CLIError(f"{flag} {path}: directory {str(parent)!r} does not exist; create it first")
    if Path(path).is_dir():
        raise CLIError(f"{flag} {path} is a directory; give a file name")


def run(args: argparse.Namespace) -> int:
    from biper_analysis.atomic import atomic_open
    from biper_analysis.cli import CLIError
    from biper_analysis.report import analyze_checkpoint

    if args.omega0 is not None and not (args.omega0 > 0 and args.omega0 != float("inf")):
        raise CLIError(f"--omega0 must be a finite number > 0, got {args.omega0}")
    if args.csv == "-":
        raise CLIError("--csv needs a file name (use --json - for stdout)")
    for value, flag in ((args.json, "--json"), (args.csv, "--csv"), (args.plot, "--plot")):
        _check_output(value, flag)
    report = analyze_checkpoint(args.path, omega0=args.omega0, layers=args.layers,
                                gamma="opt" if args.gamma is None else args.gamma)
    if args.plot:
        from biper_analysis.plotting import save_figure
        from biper_analysis.plotting.checkpoint import fig_checkpoint_summary

        fig = fig_checkpoint_summary(report)
        save_figure(fig, args.plot, config=report.provenance.get("config"))
    if args.csv:
        with atomic_open(args.csv) as fh:
            fh.write(report.to_csv())
    if args.json == "-":
        write_json(report.to_dict(), "-")
        for w in report.warnings:
            sys.stderr.write(f"biper-analysis fit-b: warning: {w}\n")
        return 0
    if args.json:
        write_json(report.to_dict(), args.json)
    sys.stdout.write(report.table() + "\n")
    return 0
