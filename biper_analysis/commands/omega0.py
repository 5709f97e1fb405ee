"""``biper-analysis omega0``: every ω0 giving a target QE (the paper's flexible initialisation, inverted)."""

from __future__ import annotations

import argparse
import sys

from biper_analysis._io.jsonio import write_json
from biper_analysis.commands._args import add_law_arguments, gamma_value, laws_from_args, warn_fitted_elsewhere
from biper_analysis.laws.priors import Laplace
from biper_analysis.theory.inverse import omega0_report

__all__ = ["register", "run"]

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "omega0",
        help="find every ω0 with QE(ω0, b, γ) equal to a target",
        description="Solve QE(ω0, b, γ) = target for ω0 (Laplace(0, b) weights, or another law). "
        "With the optimal γ* and Laplace weights there are 0, 1 or 2 roots: two for "
        "targets between 1/2 − 4/π² and the peak 0.1028346…",
    )
    add_law_arguments(p)
    p.add_argument("--target-qe", type=float, required=True, help="the QE to reach (> 0)")
    p.add_argument("--gamma", type=gamma_value, default=None, help="binary scale γ >= 0, or 'opt' (default)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    (law,) = laws_from_args(args)
    if isinstance(law, Laplace):
        result = omega0_report(args.target_qe, b=law.b, gamma=args.gamma)
    else:
        result = omega0_report(args.target_qe, gamma=args.gamma, prior=law)
        warn_fitted_elsewhere(law, result["omega0"], "omega0")
    if args.json:
        write_json(result, "-")
        return 0
    gtxt = "γ*" if args.gamma is None else f"γ = {args.gamma:g}"
    where = f"b = {law.b:g}" if isinstance(law, Laplace) else repr(law)
    sys.stdout.write(f"QE = {args.target_qe:g} at {where} with {gtxt}: {len(result['omega0'])} root(s)\n")
    for i, (w, x) in enumerate(zip(result["omega0"], result["x"])):
        branch = f"  ({result['branches'][i]} branch)" if result["branches"] else ""
        sys.stdout.write(f"  omega0 = {w:.12g}   x = omega0*scale = {x:.12g}{branch}\n")
    return 0
