"""``biper-analysis sweep``: QE over a grid ω0 × scales b (or a fitted law) × γ, streamed to .csv, .parquet or .npz
(with provenance), and a plot."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from biper_analysis._io.errors import UsageError
from biper_analysis._io.outputs import claim_output, distinct
from biper_analysis._io.provenance import provenance
from biper_analysis.analysis import qe_grid
from biper_analysis.commands._args import (
    add_law_arguments,
    count,
    gamma_grid,
    grid,
    law_axis_from_args,
    warn_fitted_elsewhere,
)

__all__ = ["register", "run"]

ORDER = 30
COMMAND = "sweep"
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")
_PROGRESS_ROWS = 1_000_000  # a progress bar (on a terminal) for grids at least this long
_PLOT_CURVES = 24  # more (law, γ) curves than this make an unreadable figure
_PLOT_POINTS = 2000  # ω0 values per curve in the figure (the file holds them all)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep",
        help="QE over a grid of ω0 × b × γ, written to .csv, .parquet or .npz (and a plot)",
        description="Evaluate QE(ω0, b, γ) and its moments on the full grid ω0 × b (or a fitted law) "
        "× γ, one row per point (ω0 fastest), streamed in chunks: memory stays bounded "
        "whatever the size. The format follows the --out suffix: .csv (provenance in a "
        "'# provenance:' first line), .parquet (provenance in the file metadata; needs "
        "biper-analysis[parquet]) or .npz. Written atomically; an existing file is "
        "replaced only if an earlier sweep wrote it. A grid whose file would not fit on "
        "the disk is refused before any work, with the sizes.",
    )
    p.add_argument(
        "--omega0",
        required=True,
        metavar="START:STOP:N",
        help="N values of ω0 from START to STOP (> 0), or a comma list",
    )
    p.add_argument("--log", action="store_true", help="geometric ω0 grid and a log ω0 axis")
    add_law_arguments(p, several_scales=True)
    p.add_argument(
        "--gamma",
        type=gamma_grid,
        default=None,
        metavar="opt|G1,G2,...|START:STOP:N",
        help="'opt' (γ* per row, the default), values >= 0, both mixed (opt,0.5,1), or START:STOP:N",
    )
    p.add_argument("--out", required=True, help="file to write: .csv, .parquet or .npz")
    p.add_argument(
        "--columns",
        default=None,
        metavar="C1,C2,...",
        help="columns to write, in this order (default all: " + ",".join(qe_grid.COLUMNS) + ")",
    )
    p.add_argument("--plot", default=None, help="figure file to write (.png, .pdf or .svg)")
    p.add_argument(
        "--max-points",
        type=count,
        default=None,
        help="refuse grids of more rows than this (a guard of your own; by default only the free disk "
        "space limits a sweep)",
    )
    p.set_defaults(func=run)


def _axes(args: argparse.Namespace) -> qe_grid.QEGrid:
    try:
        omega0 = grid(args.omega0, args.log)
    except argparse.ArgumentTypeError as exc:
        raise UsageError(f"--omega0: {exc}") from None
    laws = law_axis_from_args(args)
    gamma = args.gamma if args.gamma is not None else qe_grid.Axis.of([math.nan])
    try:
        return qe_grid.QEGrid(omega0, laws, gamma)
    except ValueError as exc:
        raise UsageError(str(exc).replace("omega0 must", "--omega0 values must")) from None


def _config(args: argparse.Namespace, g: qe_grid.QEGrid, columns: tuple[str, ...]) -> dict[str, Any]:
    laws = g.laws
    described = (
        [repr(law) for law in laws.laws]
        if isinstance(laws, qe_grid.LawList)
        else {"family": laws.prior, "scales": laws.scales.describe(), "df": laws.df}
    )
    gamma = g.gamma.describe()
    return {
        "omega0": args.omega0,
        "log": args.log,
        "laws": described,
        "b": args.b.describe() if args.b is not None else None,
        "gamma": [("opt" if v is None else v) for v in gamma] if isinstance(gamma, list) else gamma,
        "prior": args.prior or ("law" if args.law else "laplace"),
        "df": args.df,
        "law": args.law,
        "columns": list(columns),
    }


def run(args: argparse.Namespace) -> int:
    g = _axes(args)
    columns = qe_grid.parse_columns(args.columns)
    if args.max_points is not None and g.size > args.max_points:
        raise UsageError(
            f"the grid has {g.size:,} rows ({_shape(g)}), more than --max-points {args.max_points}; "
            "raise --max-points or use fewer points"
        )
    if Path(args.out).suffix.lower() == ".parquet":
        qe_grid.require_format("parquet")  # the install hint before anything else about the file
    out = claim_output(args.out, command=COMMAND, option="--out", suffixes=tuple(qe_grid.FORMATS))
    plot = claim_output(args.plot, command=COMMAND, option="--plot", suffixes=FIGURE_SUFFIXES) if args.plot else None
    distinct([("--out", out), ("--plot", plot)])
    if plot is not None and g.curves > _PLOT_CURVES:
        raise UsageError(
            f"--plot draws one curve per (law, γ): {g.curves} is more than {_PLOT_CURVES} to read; "
            "drop --plot or use fewer --b / --gamma values"
        )
    estimate = qe_grid.check_room(g, columns, out.path)
    if isinstance(g.laws, qe_grid.LawList):
        warn_fitted_elsewhere(g.laws.laws[0], g.omega0.sample(), COMMAND)
    config = _config(args, g, columns)
    fig = None
    if plot is not None:
        from biper_analysis.plotting.qe_grid import fig_qe_vs_omega0

        fig = fig_qe_vs_omega0(qe_grid.grid_table(g.thinned(_PLOT_POINTS)), log=args.log)
    record = provenance(config, None, command=COMMAND, rows=g.size, columns=list(columns))
    _write(g, out, record, columns)
    if fig is not None:
        _save_plot(fig, plot, out, config)
    for claim in (out, plot):
        if claim is not None and claim.replaces:
            sys.stderr.write(f"biper-analysis sweep: {claim.note()}\n")
    size = out.path.stat().st_size
    sys.stdout.write(
        f"wrote {out.path} ({g.size} rows: {_shape(g)}; {len(columns)} columns, "
        f"{qe_grid.human_bytes(size)}, estimate was at most {qe_grid.human_bytes(estimate)})"
        + (f" and {plot.path}" if plot else "")
        + "\n"
    )
    return 0


def _shape(g: qe_grid.QEGrid) -> str:
    return f"{g.omega0.size} ω0 × {g.laws.size} law(s) × {g.gamma.size} γ"


def _write(g: qe_grid.QEGrid, out, record: dict, columns: tuple[str, ...]) -> None:
    if g.size < _PROGRESS_ROWS:
        qe_grid.write_grid(g, out.path, record, columns)
        return
    from tqdm import tqdm

    # disable=None: the bar only on a terminal, so logs and pipes get the result line alone
    with tqdm(
        total=g.size,
        unit="rows",
        unit_scale=True,
        desc=f"writing {out.path.name}",
        file=sys.stderr,
        disable=None,
        leave=False,
    ) as bar:
        qe_grid.write_grid(g, out.path, record, columns, progress=bar.update)


def _save_plot(fig, plot, out, config: dict) -> None:
    import matplotlib.pyplot as plt

    from biper_analysis.plotting import save_figure

    try:
        save_figure(fig, plot.path, config={**config, "command": COMMAND}, command=COMMAND)
    except BaseException:
        if not out.replaces:
            out.path.unlink(missing_ok=True)  # nothing half-done: the new file goes if its figure fails
        raise
    finally:
        plt.close(fig)
