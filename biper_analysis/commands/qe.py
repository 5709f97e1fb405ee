"""``biper-analysis qe``: evaluate the closed form (and its moments) at one point."""
from __future__ import annotations

import argparse
import sys

from biper_analysis.commands._args import gamma_value, write_json

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qe", help="evaluate QE(ω0, b, γ) and its moments at one point",
                       description="Evaluate the stable closed form QE(ω0, b, γ) for Laplace(0, b) weights.")
    p.add_argument("--omega0", type=float, required=True, help="angular frequency ω0 (> 0)")
    p.add_argument("--b", type=float, help="Laplace scale b = mean|w| (> 0)")
    p.add_argument("--gamma", type=gamma_value, default=None, help="binary scale γ >= 0, or 'opt' (default)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def evaluate(omega0: float, b: float, gamma: float | None) -> dict[str, float | None]:
    """All quantities the ``qe`` command reports, from the library's single definitions."""
    from biper_analysis import analytic as A

    e_abs = A.expected_abs_sin(omega0, b)
    used_gamma = e_abs if gamma is None else gamma
    return {
        "omega0": omega0, "b": b, "x": omega0 * b, "gamma": used_gamma,
        "gamma_is_optimal": gamma is None,
        "qe": A.qe(omega0, b, used_gamma),
        "qe_min": A.qe_min(omega0, b),
        "gamma_opt": e_abs,
        "e_sin2": A.expected_sin2(omega0, b),
        "e_abs_sin": e_abs,
        "official_l1": A.official_l1(omega0, b),
        "normalised_qe": A.normalised_qe(omega0, b, used_gamma),
        "dqe_domega0": A.dqe_domega0(omega0, b, gamma),
    }


def run(args: argparse.Namespace) -> int:
    from biper_analysis.commands._args import require

    require(args.b, "--b is required (the Laplace scale, e.g. --b 0.05)")
    result = evaluate(args.omega0, args.b, args.gamma)
    if args.json:
        write_json(result, "-")
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        text = f"{value:.16g}" if isinstance(value, float) else str(value)
        sys.stdout.write(f"{key:<{width}}  {text}\n")
    return 0
