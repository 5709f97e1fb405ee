"""``biper-analysis verify``: the closed form against its witnesses (quadrature, Monte Carlo) over a grid."""

from __future__ import annotations

import argparse
import sys

from biper_analysis._io.errors import UsageError
from biper_analysis._io.jsonio import write_json
from biper_analysis._io.provenance import provenance
from biper_analysis.commands._args import count, gamma_value, positive_float_list, seed
from biper_analysis.theory.witnesses import (
    DEFAULT_B,
    DEFAULT_GAMMA,
    DEFAULT_OMEGA0,
    MAX_SAMPLES,
    MC_MAX_Z,
    QUAD_RTOL,
    verify_closed_form,
)

__all__ = ["register", "run"]

ORDER = 40
_PROGRESS_SAMPLES = 50_000_000  # a progress bar when the whole run draws more samples than this


def _gamma_list(text: str) -> list[float | None]:
    """'opt,0.6,1' -> [None, 0.6, 1.0] (each item parsed by the shared gamma_value)."""
    out = [gamma_value(item) for item in text.split(",") if item.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected at least one gamma, got {text!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check the closed form against quadrature and Monte Carlo on a grid",
        description="For each (ω0, b, γ) on a grid: closed form, scipy quadrature (half-periods), "
        "Monte Carlo ± SE and its z-score. Exit status 1 if quadrature differs by more "
        f"than {QUAD_RTOL:g} relative or |z| > {MC_MAX_Z:g}.",
    )
    p.add_argument(
        "--samples",
        type=count,
        default=2_000_000,
        help="Monte Carlo samples per (ω0, b), e.g. 2000000 or 2e6 (default 2e6)",
    )
    p.add_argument(
        "--max-samples",
        type=count,
        default=MAX_SAMPLES,
        help=f"largest --samples allowed (default {MAX_SAMPLES:.0e}; ~15 M samples/s per core)",
    )
    p.add_argument("--seed", type=seed, default=0, help="seed (default 0); each (ω0, b) gets its own spawned stream")
    p.add_argument(
        "--omega0",
        type=positive_float_list,
        default=list(DEFAULT_OMEGA0),
        help="ω0 values (default " + ",".join(f"{v:g}" for v in DEFAULT_OMEGA0) + ")",
    )
    p.add_argument(
        "--b",
        type=positive_float_list,
        default=list(DEFAULT_B),
        help="Laplace scales (default " + ",".join(f"{v:g}" for v in DEFAULT_B) + ")",
    )
    p.add_argument(
        "--gamma", type=_gamma_list, default=list(DEFAULT_GAMMA), help="γ values, 'opt' for γ* (default opt,0.6,1)"
    )
    p.add_argument("--backend", choices=["numpy", "torch"], default="numpy", help="Monte Carlo backend")
    p.add_argument("--threads", type=count, default=1, help="torch CPU threads for --backend torch (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.samples < 100:
        raise UsageError(f"--samples must be >= 100 (standard errors need samples), got {args.samples}")
    if args.samples > args.max_samples:
        raise UsageError(
            f"--samples {args.samples:.3g} is more than {args.max_samples:.3g} per (ω0, b) (about "
            f"{args.samples / 15e6 / 60:.0f} min each); pass --max-samples {args.samples} to allow it"
        )
    total = args.samples * len(args.omega0) * len(args.b)
    result = _verify(args, total)
    if args.json:
        config = {
            "samples": args.samples,
            "omega0": args.omega0,
            "b": args.b,
            "gamma": ["opt" if g is None else g for g in args.gamma],
            "backend": args.backend,
            "threads": args.threads,
        }
        write_json({**result.to_dict(), "provenance": provenance(config, args.seed, command="verify")}, "-")
        return 0 if result.passed else 1
    out = sys.stdout
    out.write(
        f"{'omega0':>8} {'b':>7} {'x':>8} {'gamma':>6} {'closed form':>19} {'quadrature':>19} "
        f"{'rel diff':>9} {'Monte Carlo ± SE':>26} {'z':>6}\n"
    )
    for r in result.rows:
        g = r["gamma"] if isinstance(r["gamma"], str) else f"{r['gamma']:g}"
        out.write(
            f"{r['omega0']:8g} {r['b']:7g} {r['x']:8.4g} {g:>6} {r['closed_form']:19.15f} "
            f"{r['quadrature']:19.15f} {r['quad_rel_diff']:9.1e} {r['mc_mean']:13.9f} ± {r['mc_se']:.2e} "
            f"{r['z']:6.2f}{'' if r['ok'] else '  FAIL'}\n"
        )
    out.write(
        f"worst quadrature relative difference {result.worst_quad_rel_diff:.2e} (limit {QUAD_RTOL:g}); "
        f"max |z| {result.max_abs_z:.2f} (limit {MC_MAX_Z:g}); {args.samples} samples per (ω0, b), "
        f"seed {args.seed}: {'PASS' if result.passed else 'FAIL'}\n"
    )
    return 0 if result.passed else 1


def _verify(args: argparse.Namespace, total: int):  # -> VerifyResult
    kwargs = dict(samples=args.samples, seed=args.seed, backend=args.backend, threads=args.threads)
    if total < _PROGRESS_SAMPLES:
        return verify_closed_form(args.omega0, args.b, args.gamma, **kwargs)
    from tqdm import tqdm

    with tqdm(total=total, unit="samples", unit_scale=True, desc="Monte Carlo", file=sys.stderr) as bar:
        return verify_closed_form(args.omega0, args.b, args.gamma, progress=bar.update, **kwargs)
