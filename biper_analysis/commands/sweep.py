"""``biper-analysis sweep``: QE over an ω0 grid for one or more weight laws, to CSV (with provenance) and a plot."""
from __future__ import annotations

import argparse
import sys

from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import claim_output, distinct
from biper_analysis._io.provenance import provenance
from biper_analysis.analysis.qe_grid import qe_table, write_csv
from biper_analysis.commands._args import (
    MAX_GRID_POINTS,
    add_law_arguments,
    count,
    gamma_value,
    grid,
    laws_from_args,
    warn_fitted_elsewhere,
)

__all__ = ["register", "run"]

ORDER = 30
COMMAND = "sweep"
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
_PROGRESS_ROWS = 1_000_000   # a progress bar for CSVs longer than this


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="QE over an ω0 grid and several scales b, written to CSV (and a plot)",
                       description="Sweep QE(ω0, b, γ) over ω0 = START:STOP:N for each b (or for a fitted law); "
                                   "one CSV row per (law, ω0), provenance in a '#' header line. Written atomically; "
                                   "an existing file is replaced only if an earlier sweep wrote it.")
    p.add_argument("--omega0", required=True, metavar="START:STOP:N",
                   help="N values of ω0 from START to STOP (> 0), or a comma list")
    p.add_argument("--log", action="store_true", help="geometric ω0 grid and a log ω0 axis")
    add_law_arguments(p, several_scales=True)
    p.add_argument("--gamma", type=gamma_value, default=None, help="'opt' (γ* per row, default) or a value >= 0")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure file to write (.png, .pdf or .svg)")
    p.add_argument("--max-points", type=count, default=MAX_GRID_POINTS,
                   help=f"largest number of rows allowed (default {MAX_GRID_POINTS:.0e})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        omega0 = grid(args.omega0, args.log, args.max_points)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--omega0: {exc}") from None
    laws = laws_from_args(args, several_scales=True)
    rows = omega0.size * len(laws)
    if rows > args.max_points:
        raise UsageError(f"{omega0.size} ω0 values × {len(laws)} scales = {rows} rows is more than "
                         f"{args.max_points}; pass --max-points {rows} to allow it (it takes time and disk)")
    out = claim_output(args.out, command=COMMAND, option="--out", suffixes=(".csv",))
    plot = claim_output(args.plot, command=COMMAND, option="--plot", suffixes=FIGURE_SUFFIXES) if args.plot else None
    distinct([("--out", out), ("--plot", plot)])
    warn_fitted_elsewhere(laws[0], omega0, COMMAND)
    try:
        table = qe_table(omega0, laws, args.gamma)
    except ValueError as exc:
        raise UsageError(str(exc).replace("omega0 must", "--omega0 values must")) from None
    config = {"omega0": args.omega0, "log": args.log, "laws": [repr(law) for law in laws],
              "b": args.b, "gamma": "opt" if args.gamma is None else args.gamma, "prior": args.prior or
              ("law" if args.law else "laplace"), "df": args.df, "law": args.law}
    fig = None
    if plot is not None:
        from biper_analysis.plotting.qe_grid import fig_qe_vs_omega0

        fig = fig_qe_vs_omega0(table, log=args.log)
    _write(table, out, provenance(config, None, command=COMMAND))
    if fig is not None:
        _save_plot(fig, plot, out, config)
    for claim in (out, plot):
        if claim is not None and claim.replaces:
            sys.stderr.write(f"biper-analysis sweep: {claim.note()}\n")
    sys.stdout.write(f"wrote {out.path} ({rows} rows: {omega0.size} ω0 × {len(laws)} law(s))"
                     + (f" and {plot.path}" if plot else "") + "\n")
    return 0


def _write(table: dict, out, record: dict) -> None:
    n = len(table["qe"])
    if n < _PROGRESS_ROWS:
        write_csv(table, out.path, record)
        return
    from tqdm import tqdm

    with tqdm(total=n, unit="rows", desc=f"writing {out.path.name}", file=sys.stderr) as bar:
        write_csv(table, out.path, record, progress=bar.update)


def _save_plot(fig, plot, out, config: dict) -> None:
    import matplotlib.pyplot as plt

    from biper_analysis.plotting import save_figure

    try:
        save_figure(fig, plot.path, config={**config, "command": COMMAND}, command=COMMAND)
    except BaseException:
        if not out.replaces:
            out.path.unlink(missing_ok=True)  # nothing half-done: the new CSV goes if its figure fails
        raise
    finally:
        plt.close(fig)
