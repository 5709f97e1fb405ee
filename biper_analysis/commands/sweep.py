"""``biper-analysis sweep``: QE over an ω0 grid for several scales, to CSV (with provenance) and optionally a plot."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from biper_analysis.commands._args import float_list, gamma_value

ORDER = 30
_FIGURE_SUFFIXES = {".png", ".pdf", ".svg"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="QE over an ω0 grid and several scales b, written to CSV (and a plot)",
                       description="Sweep QE(ω0, b, γ) over ω0 = START:STOP:N for each b; one CSV row per "
                                   "(ω0, b, γ), provenance in a '#' header line. Output is written atomically.")
    p.add_argument("--omega0", required=True, metavar="START:STOP:N",
                   help="N values of ω0 from START to STOP (> 0), or a comma list")
    p.add_argument("--log", action="store_true", help="geometric ω0 grid and a log ω0 axis")
    p.add_argument("--b", type=float_list, required=True, metavar="B1,B2,...",
                   help="scales: Laplace b = mean|w| (or the --prior's scale)")
    p.add_argument("--gamma", type=gamma_value, default=None, help="'opt' (γ* per row, default) or a value >= 0")
    p.add_argument("--prior", default="laplace", choices=["laplace", "gaussian", "student-t"],
                   help="weight law (default laplace: the closed form)")
    p.add_argument("--df", type=float, default=None, help="degrees of freedom for --prior student-t")
    p.add_argument("--out", required=True, help="CSV file to write")
    p.add_argument("--plot", default=None, help="figure file to write (.png, .pdf or .svg)")
    p.set_defaults(func=run)


def _check_output(path: str, what: str) -> Path:
    from biper_analysis.cli import CLIError

    target = Path(path)
    if target.is_dir():
        raise CLIError(f"{what} {path!r} is a directory; give a file name")
    if not target.parent.exists():
        raise CLIError(f"the directory of {what} {path!r} does not exist; create it first")
    return target


def run(args: argparse.Namespace) -> int:
    from biper_analysis.cli import CLIError
    from biper_analysis.commands._args import grid
    from biper_analysis.provenance import provenance
    from biper_analysis.sweeps import qe_sweep, write_csv

    try:
        omega0 = grid(args.omega0, args.log)
    except argparse.ArgumentTypeError as exc:
        raise CLIError(f"--omega0: {exc}") from None
    if args.prior == "student-t" and args.df is None:
        raise CLIError("--df is required with --prior student-t (degrees of freedom, e.g. --df 4)")
    if args.prior != "student-t" and args.df is not None:
        raise CLIError(f"--df applies only to --prior student-t, not {args.prior}; drop --df")
    out = _check_output(args.out, "--out")
    plot = _check_output(args.plot, "--plot") if args.plot else None
    if plot is not None and plot.suffix.lower() not in _FIGURE_SUFFIXES:
        raise CLIError(f"--plot {args.plot!r} must end in .png, .pdf or .svg")
    if plot is not None and plot.resolve() == out.resolve():
        raise CLIError("--plot and --out name the same file; give two different names")

    try:
        table = qe_sweep(omega0, args.b, args.gamma, args.prior, args.df)
    except ValueError as exc:
        msg = str(exc).replace("omega0 must", "--omega0 values must").replace("scale (b) must", "--b values must")
        raise CLIError(msg) from None
    config = {"omega0": args.omega0, "log": args.log, "b": args.b, "gamma": "opt" if args.gamma is None else args.gamma,
              "prior": args.prior, "df": args.df}
    record = provenance(config, None, command="sweep")
    fig = None
    if plot is not None:
        from biper_analysis.plotting.sweep import figure_qe_vs_omega0

        fig = figure_qe_vs_omega0(table, log=args.log)
    write_csv(table, out, record)
    if fig is not None:
        from biper_analysis.plotting import save_figure

        try:
            save_figure(fig, plot, config={**config, "command": "sweep"})
        except BaseException:
            out.unlink(missing_ok=True)  # nothing half-written: the CSV goes if the figure fails
            raise
        finally:
            import matplotlib.pyplot as plt

            plt.close(fig)
    n = len(table["qe"])
    sys.stdout.write(f"wrote {out} ({n} rows: {len(omega0)} ω0 × {len(args.b)} scale(s))"
                     + (f" and {plot}" if plot else "") + "\n")
    return 0
