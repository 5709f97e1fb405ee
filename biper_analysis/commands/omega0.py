"""``biper-analysis omega0``: every ω0 giving a target QE (the paper's flexible initialisation, inverted)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from biper_analysis.commands._args import gamma_value, write_json

ORDER = 21


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("omega0", help="find every ω0 with QE(ω0, b, γ) equal to a target",
                       description="Solve QE(ω0, b, γ) = target for ω0 (Laplace(0, b) weights). With the optimal "
                                   "γ* there are 0, 1 or 2 roots: two for targets between 1/2 − 4/π² and the "
                                   "peak 0.1028346…")
    p.add_argument("--b", type=float, required=True, help="Laplace scale b = mean|w| (> 0)")
    p.add_argument("--target-qe", type=float, required=True, help="the QE to reach (> 0)")
    p.add_argument("--gamma", type=gamma_value, default=None, help="binary scale γ >= 0, or 'opt' (default)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def solve(b: float, target: float, gamma: float | None) -> dict[str, Any]:
    """Roots and context as one record (the JSON output)."""
    from biper_analysis import analytic as A
    from biper_analysis.inverse import attainable_range, omega0_for_qe

    roots = omega0_for_qe(target, b=b, gamma=gamma)
    x_peak, q_peak = A.qe_min_peak()
    lo, hi = attainable_range(gamma)
    branches = None
    if gamma is None:
        branches = ["rising" if r * b <= x_peak else "falling" for r in roots]
    return {
        "target_qe": target, "b": b, "gamma": "opt" if gamma is None else gamma,
        "omega0": [float(r) for r in roots], "x": [float(r * b) for r in roots],
        "qe_at_roots": [float(A.qe(r, b, gamma)) for r in roots],
        "branches": branches, "attainable": [lo, hi],
        "qe_min_peak": q_peak, "x_peak": x_peak, "qe_min_limit_large_x": A.QE_MIN_LIMIT_LARGE_X,
    }


def run(args: argparse.Namespace) -> int:
    result = solve(args.b, args.target_qe, args.gamma)
    if args.json:
        write_json(result, "-")
        return 0
    gtxt = "γ*" if args.gamma is None else f"γ = {args.gamma:g}"
    sys.stdout.write(f"QE = {args.target_qe:g} at b = {args.b:g} with {gtxt}: {len(result['omega0'])} root(s)\n")
    for i, (w, x) in enumerate(zip(result["omega0"], result["x"])):
        branch = f"  ({result['branches'][i]} branch)" if result["branches"] else ""
        sys.stdout.write(f"  omega0 = {w:.12g}   x = omega0*b = {x:.12g}{branch}\n")
    return 0
