"""``biper-analysis fit-b``: per binarised layer of a checkpoint, the Laplace fit and the closed form's QE against
the QE measured on the weights, with a verdict; optionally every weight law fitted and compared."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from biper_analysis._io.errors import UsageError
from biper_analysis._io.jsonio import write_json
from biper_analysis._io.outputs import Claim, claim_folder, claim_output, distinct, written_by
from biper_analysis.analysis.checkpoints import RUN_FOLDER_RULE, resolve_checkpoint_path
from biper_analysis.analysis.report import MAX_SAMPLES
from biper_analysis.commands._args import count, gamma_value, positive_float, seed

__all__ = ["register", "run"]

ORDER = 60
COMMAND = "fit-b"
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def register(sub: argparse._SubParsersAction) -> None:
    from biper_analysis.laws import law_names

    p = sub.add_parser(
        "fit-b", help="per-layer fit, goodness of fit, verdict and predicted vs measured QE of a checkpoint",
        description="Read a checkpoint safely (official BiPer .pth.tar with config.txt beside it, our run "
                    "folder, a plain state_dict or .safetensors), fit the Laplace scale b of every binarised layer "
                    "and compare the closed-form QE at b with the QE measured on the weights; flag layers where "
                    f"Laplace does not fit; optionally fit other weight laws. {RUN_FOLDER_RULE[0].upper()}"
                    f"{RUN_FOLDER_RULE[1:]}. Outputs never overwrite an input or a file fit-b did not write.")
    p.add_argument("path", help="checkpoint file or run folder")
    p.add_argument("--omega0", type=positive_float, default=None,
                   help="angular frequency ω0 (default: stored in the checkpoint, else 'freq' in the config.txt "
                        "beside it; given, it overrides both)")
    p.add_argument("--layers", default=None, metavar="REGEX",
                   help="analyse the tensors whose names match REGEX (default: weights with an 'alpha' sibling "
                        "or the checkpoint's binarized_layers)")
    p.add_argument("--gamma", type=gamma_value, default=None,
                   help="binary scale γ >= 0, or 'opt' (default: each side its own optimal γ*)")
    p.add_argument("--law", default=None, metavar="|".join(law_names(fittable=True)) + "|all",
                   help="weight laws to fit, comma-separated (default laplace: the paper's model, fastest)")
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)     # the old name of --law, for one release
    p.add_argument("--reference", default=None, metavar="FILE",
                   help="a checkpoint of the same network to compare with (e.g. RUN/init.pth.tar, the initial "
                        "weights): drift and the reference's own QE per layer")
    p.add_argument("--seed", type=seed, default=0, help="seed of the subsamples and half splits (default 0)")
    p.add_argument("--max-samples", type=count, default=MAX_SAMPLES,
                   help=f"weights per layer (seeded subsample) for the iterative maximum-likelihood fits (default "
                        f"{MAX_SAMPLES})")
    p.add_argument("--jobs", type=count, default=os.cpu_count() or 1,
                   help=f"worker processes for the law fits (default: the number of cores, {os.cpu_count()}); the "
                        "result does not depend on it")
    p.add_argument("--json", metavar="FILE|-", default=None, help="write the report as JSON ('-' = stdout only)")
    p.add_argument("--csv", metavar="FILE", default=None, help="write the per-layer rows as CSV")
    p.add_argument("--plot", metavar="FILE.png", default=None,
                   help="a figure: per-layer predicted vs measured QE for every law, weight histograms with the "
                        "fitted laws, sine and phase histograms (.png, .pdf or .svg)")
    p.add_argument("--plot-layers", metavar="DIR", default=None,
                   help="one figure per layer: histogram with every fitted law and the zeros of sin(ω0 w) marked")
    p.add_argument("--save-laws", metavar="FILE.json", default=None,
                   help="write the fitted laws (for `qe --law FILE.json:LAYER`)")
    p.set_defaults(func=run)


def _inputs(args: argparse.Namespace) -> list[Path]:
    """Every file the command reads (outputs may name none of them)."""
    ckpt = resolve_checkpoint_path(args.path)
    files = [ckpt, ckpt.parent / "config.txt"]
    if args.reference is not None:
        files.append(resolve_checkpoint_path(args.reference))
    return files


def _claims(args: argparse.Namespace, inputs: list[Path]) -> dict[str, Claim | None]:
    def claim(value: str | None, option: str, suffixes: tuple[str, ...]) -> Claim | None:
        if value is None or (option == "--json" and value == "-"):
            return None
        return claim_output(value, command=COMMAND, option=option, suffixes=suffixes, inputs=inputs)

    claims = {"--json": claim(args.json, "--json", (".json",)), "--csv": claim(args.csv, "--csv", (".csv",)),
              "--plot": claim(args.plot, "--plot", FIGURE_SUFFIXES),
              "--save-laws": claim(args.save_laws, "--save-laws", (".json",))}
    distinct(claims.items())
    return claims


def _check_layer_folder(folder: str) -> Path:
    path = claim_folder(folder, option="--plot-layers")
    if path.is_dir():
        foreign = [p for p in path.iterdir() if not (p.is_file() and written_by(p, COMMAND))]
        if foreign:
            raise UsageError(f"--plot-layers {folder} holds {foreign[0].name}, which fit-b did not write; give a new "
                             "or empty folder")
    return path


def _law_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The laws of --law (or of its deprecated name --model, with one warning line on stderr)."""
    from biper_analysis.analysis.report import law_list

    if args.model is not None and args.law is not None:
        raise UsageError("--model is the old name of --law; give --law only")
    spec = args.law if args.model is None else args.model
    names = law_list((spec or "laplace").split(","))
    if args.model is not None:
        sys.stderr.write("biper-analysis fit-b: warning: --model is deprecated and will be removed; use --law "
                         "(same values)\n")
    return names


def run(args: argparse.Namespace) -> int:
    from biper_analysis.analysis.report import analyze_checkpoint

    if args.csv == "-":
        raise UsageError("--csv needs a file name (use --json - for stdout)")
    names = _law_names(args)
    inputs = _inputs(args)
    claims = _claims(args, inputs)
    layer_dir = _check_layer_folder(args.plot_layers) if args.plot_layers else None
    report = analyze_checkpoint(args.path, omega0=args.omega0, layers=args.layers,
                                gamma="opt" if args.gamma is None else args.gamma, laws=names,
                                reference=args.reference, seed=args.seed, max_samples=args.max_samples,
                                jobs=args.jobs)
    _write_outputs(report, claims, layer_dir)
    if args.json == "-":
        write_json(report.to_dict(), "-")     # the file read is the JSON's checkpoint.path
    else:
        sys.stdout.write(f"reading {inputs[0]}\n{report.table()}\n")
    for w in report.warnings if args.json == "-" else ():
        sys.stderr.write(f"biper-analysis fit-b: warning: {w}\n")
    return 0


def _write_outputs(report, claims: dict[str, Claim | None], layer_dir: Path | None) -> None:
    from biper_analysis._io.atomic import atomic_open

    if claims["--plot"] is not None or layer_dir is not None:
        _figures(report, claims["--plot"], layer_dir)
    if claims["--csv"] is not None:
        with atomic_open(claims["--csv"].path) as fh:
            fh.write(report.to_csv())
    if claims["--json"] is not None:
        write_json(report.to_dict(), claims["--json"].path)
    if claims["--save-laws"] is not None:
        write_json(report.laws_dict(), claims["--save-laws"].path)
    for claim in claims.values():
        if claim is not None and claim.replaces:
            sys.stderr.write(f"biper-analysis fit-b: {claim.note()}\n")


def _figures(report, plot: Claim | None, layer_dir: Path | None) -> None:
    import matplotlib.pyplot as plt

    from biper_analysis.plotting import save_figure
    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary, fig_layer_laws

    config = report.provenance.get("config")
    if plot is not None:
        fig = fig_checkpoint_summary(report)
        save_figure(fig, plot.path, config=config, command=COMMAND)
        plt.close(fig)
    if layer_dir is not None:
        layer_dir.mkdir(exist_ok=True)
        for row in report.rows:
            if row["n"] == 0:
                continue
            fig = fig_layer_laws(report, row["name"])
            save_figure(fig, layer_dir / f"{row['name']}.png", config={**config, "layer": row["name"]},
                        command=COMMAND)
            plt.close(fig)
