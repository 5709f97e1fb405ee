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
        "fit-b",
        help="per-layer fit, goodness of fit, verdict and predicted vs measured QE of a checkpoint",
        description="Read a checkpoint safely (official BiPer .pth.tar with config.txt beside it, our run "
        "folder, a plain state_dict or .safetensors), fit the Laplace scale b of every binarised layer "
        "and compare the closed-form QE at b with the QE measured on the weights; flag layers where "
        f"Laplace does not fit; optionally fit other weight laws. {RUN_FOLDER_RULE[0].upper()}"
        f"{RUN_FOLDER_RULE[1:]}. Outputs never overwrite an input or a file fit-b did not write.",
    )
    p.add_argument("path", help="checkpoint file or run folder")
    p.add_argument(
        "--omega0",
        type=positive_float,
        default=None,
        help="angular frequency ω0 (default: stored in the checkpoint, else 'freq' in the config.txt "
        "beside it; given, it overrides both)",
    )
    p.add_argument(
        "--layers",
        default=None,
        metavar="REGEX",
        help="analyse the tensors whose names match REGEX (default: weights with an 'alpha' sibling "
        "or the checkpoint's binarized_layers)",
    )
    p.add_argument(
        "--gamma",
        type=gamma_value,
        default=None,
        help="binary scale γ >= 0, or 'opt' (default: each side its own optimal γ*)",
    )
    p.add_argument(
        "--law",
        default=None,
        metavar="|".join(law_names(fittable=True)) + "|all",
        help="weight laws to fit, comma-separated (default laplace: the paper's model, fastest)",
    )
    p.add_argument("--model", default=None, help=argparse.SUPPRESS)  # the old name of --law, for one release
    p.add_argument(
        "--reference",
        default=None,
        metavar="FILE",
        help="a checkpoint of the same network to compare with (e.g. RUN/init.pth.tar, the initial "
        "weights): drift and the reference's own QE per layer",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed of the subsamples and half splits (default 0)")
    p.add_argument(
        "--max-samples",
        type=count,
        default=MAX_SAMPLES,
        help=f"weights per layer (seeded subsample) for the iterative maximum-likelihood fits (default {MAX_SAMPLES})",
    )
    p.add_argument(
        "--jobs",
        type=count,
        default=os.cpu_count() or 1,
        help=f"worker processes for the law fits (default: the number of cores, {os.cpu_count()}); the "
        "result does not depend on it",
    )
    p.add_argument("--json", metavar="FILE|-", default=None, help="write the report as JSON ('-' = stdout only)")
    p.add_argument("--csv", metavar="FILE", default=None, help="write the per-layer rows as CSV")
    p.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="a figure: per-layer predicted vs measured QE for every law, weight histograms with the "
        "fitted laws, sine and phase histograms (.png, .pdf or .svg)",
    )
    p.add_argument(
        "--plot-layers",
        metavar="DIR",
        default=None,
        help="one figure per layer: histogram with every fitted law and the zeros of sin(ω0 w) marked",
    )
    p.add_argument(
        "--save-laws", metavar="FILE.json", default=None, help="write the fitted laws (for `qe --law FILE.json:LAYER`)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr (warnings and 'wrote' stay)")
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

    claims = {
        "--json": claim(args.json, "--json", (".json",)),
        "--csv": claim(args.csv, "--csv", (".csv",)),
        "--plot": claim(args.plot, "--plot", FIGURE_SUFFIXES),
        "--save-laws": claim(args.save_laws, "--save-laws", (".json",)),
    }
    distinct(claims.items())
    return claims


def _check_layer_folder(folder: str, claims: dict[str, Claim | None]) -> Path:
    path = claim_folder(folder, option="--plot-layers")
    for option, claim in claims.items():
        if claim is None:
            continue
        if claim.path.resolve() == path.resolve():
            raise UsageError(
                f"{option} and --plot-layers both name {folder}; give the layer figures a folder of their own"
            )
        if claim.path.resolve().parent == path.resolve():
            raise UsageError(
                f"{option} {claim.path} lies inside --plot-layers {folder}, which holds one figure per "
                "layer; write it somewhere else"
            )
    if path.is_dir():
        foreign = [p for p in path.iterdir() if not (p.is_file() and written_by(p, COMMAND))]
        if foreign:
            raise UsageError(
                f"--plot-layers {folder} holds {foreign[0].name}, which fit-b did not write; give a new or empty folder"
            )
    return path


def _law_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The laws of --law (or of its deprecated name --model, with one warning line on stderr)."""
    from biper_analysis.analysis.report import law_list

    if args.model is not None and args.law is not None:
        raise UsageError("--model is the old name of --law; give --law only")
    spec = args.law if args.model is None else args.model
    names = law_list((spec or "laplace").split(","))
    if args.model is not None:
        sys.stderr.write(
            "biper-analysis fit-b: warning: --model is deprecated and will be removed; use --law (same values)\n"
        )
    return names


def _progress(args: argparse.Namespace, names: tuple[str, ...]):
    """Layers done, on stderr, when laws beyond the closed forms are fitted (seconds per layer); else nothing."""
    from biper_analysis.laws import law_class

    if args.quiet or all(law_class(m).closed_form() for m in names):
        return None
    return lambda i, n, layer: sys.stderr.write(f"biper-analysis fit-b: {i}/{n} layers analysed ({layer})\n")


def run(args: argparse.Namespace) -> int:
    from biper_analysis._io.errors import Interrupted
    from biper_analysis._io.interrupt import stop_workers_on_interrupt
    from biper_analysis._io.progress import note_if_slow
    from biper_analysis.analysis.report import analyze_checkpoint

    if args.csv == "-":
        raise UsageError("--csv needs a file name (use --json - for stdout)")
    names = _law_names(args)
    inputs = _inputs(args)
    claims = _claims(args, inputs)
    layer_dir = _check_layer_folder(args.plot_layers, claims) if args.plot_layers else None
    # with --json - the JSON is standard output: every other line goes to stderr
    say = sys.stderr.write if args.json == "-" else sys.stdout.write
    laws = "Laplace only" if names == ("laplace",) else f"{len(names)} laws ({', '.join(names)})"
    workers = f" in {args.jobs} worker processes" if args.jobs > 1 and len(names) > 1 else ""
    note = (
        f"biper-analysis fit-b: analysing {inputs[0]}: {laws} per layer{workers}"
        + (f", against {inputs[-1]}" if args.reference else "")
        + " ..."
    )
    import torch  # noqa: F401 - imported before the progress note's clock starts: reading a bad file fails at once

    try:
        with stop_workers_on_interrupt(), note_if_slow(note, delay=1.5, enabled=not args.quiet):
            report = analyze_checkpoint(
                args.path,
                omega0=args.omega0,
                layers=args.layers,
                gamma="opt" if args.gamma is None else args.gamma,
                laws=names,
                reference=args.reference,
                seed=args.seed,
                max_samples=args.max_samples,
                jobs=args.jobs,
                progress=_progress(args, names),
            )
            written = _write_outputs(report, claims, layer_dir)
    except KeyboardInterrupt:
        raise Interrupted(
            "no output was written (fit-b writes its files after the analysis); run the same command again"
        ) from None
    if args.json == "-":
        write_json(report.to_dict(), "-")  # the file read is the JSON's checkpoint.path
    else:
        sys.stdout.write(f"reading {inputs[0]}\n{report.table()}\n")
    for w in report.warnings if args.json == "-" else ():
        sys.stderr.write(f"biper-analysis fit-b: warning: {w}\n")
    for claim in claims.values():
        if claim is not None and claim.replaces:
            sys.stderr.write(f"biper-analysis fit-b: {claim.note()}\n")
    for line in written:
        say(line + "\n")
    return 0


def _write_outputs(report, claims: dict[str, Claim | None], layer_dir: Path | None) -> list[str]:
    """Write every requested output; on any error or interrupt remove the files this call created, so a failed run
    leaves no partial set. Returns the "wrote …" lines."""
    from biper_analysis._io.atomic import atomic_open

    created: list[Path] = []
    lines: list[str] = []

    def done(claim: Claim) -> None:
        if not claim.replaces:
            created.append(claim.path)
        lines.append(f"wrote {claim.path}")

    try:
        if claims["--plot"] is not None or layer_dir is not None:
            lines += _figures(report, claims["--plot"], layer_dir, created)
        if claims["--csv"] is not None:
            with atomic_open(claims["--csv"].path) as fh:
                fh.write(report.to_csv())
            done(claims["--csv"])
        if claims["--json"] is not None:
            write_json(report.to_dict(), claims["--json"].path)
            done(claims["--json"])
        if claims["--save-laws"] is not None:
            write_json(report.laws_dict(), claims["--save-laws"].path)
            done(claims["--save-laws"])
    except BaseException:
        for path in reversed(created):
            if path.is_dir():
                if not any(path.iterdir()):
                    path.rmdir()
            else:
                path.unlink(missing_ok=True)
        raise
    return lines


def _figures(report, plot: Claim | None, layer_dir: Path | None, created: list[Path]) -> list[str]:
    import matplotlib.pyplot as plt

    from biper_analysis.plotting import save_figure
    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary, fig_layer_laws, plotted_layers

    config = report.provenance.get("config")
    lines = []
    if plot is not None:
        fig = fig_checkpoint_summary(report)
        save_figure(fig, plot.path, config=config, command=COMMAND)
        plt.close(fig)
        if not plot.replaces:
            created.append(plot.path)
        lines.append(f"wrote {plot.path}")
    if layer_dir is not None:
        if not layer_dir.exists():
            layer_dir.mkdir()
            created.append(layer_dir)
        names = plotted_layers(report)
        for name in names:
            target = layer_dir / f"{name}.png"
            new = not target.exists()
            fig = fig_layer_laws(report, name)
            save_figure(fig, target, config={**config, "layer": name}, command=COMMAND)
            plt.close(fig)
            if new:
                created.append(target)  # after its folder: the rollback removes in reverse order
        lines.append(f"wrote {layer_dir}/ ({len(names)} layer figures)")
    return lines
