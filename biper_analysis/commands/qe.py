"""``biper-analysis qe``: QE and its moments at one point, for Laplace, Gaussian, Student-t or a fitted law."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from biper_analysis._io.jsonio import write_json
from biper_analysis.analysis.qe_grid import COLUMNS, qe_point
from biper_analysis.commands._args import add_law_arguments, gamma_value, laws_from_args, warn_fitted_elsewhere

__all__ = ["register", "run"]

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "qe",
        help="evaluate QE(ω0, b, γ) and its moments at one point",
        description="Evaluate QE(ω0, γ) for Laplace(0, b) weights (stable closed form), for Gaussian "
        "or Student-t weights (characteristic-function series), or for a weight law "
        "fitted to a layer (--law).",
    )
    p.add_argument("--omega0", type=float, required=True, help="angular frequency ω0 (> 0)")
    add_law_arguments(p)
    p.add_argument("--gamma", type=gamma_value, default=None, help="binary scale γ >= 0, or 'opt' (default)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def _ordered(row: dict[str, Any], law: Any) -> dict[str, Any]:
    # the grid's columns, in the grid's order, with b (the Laplace scale, when given) after ω0
    keys = tuple(k for c in COLUMNS for k in ((c, "b") if c == "omega0" else (c,)))
    out = {k: row[k] for k in keys}
    if getattr(law, "omega0", None) is not None or hasattr(law, "params"):
        out["law"] = repr(law)
        out["fitted_at_omega0"] = getattr(law, "omega0", None)
    return out


def run(args: argparse.Namespace) -> int:
    from biper_analysis._io.validation import positive

    positive("omega0", args.omega0)
    (law,) = laws_from_args(args)
    warn_fitted_elsewhere(law, args.omega0, "qe")
    result = _ordered(qe_point(args.omega0, law, args.gamma), law)
    if args.json:
        write_json(result, "-")
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        if value is None:
            continue  # not defined for this law (e.g. b or df); --json keeps the key as null
        text = f"{value:.16g}" if isinstance(value, float) else str(value)
        sys.stdout.write(f"{key:<{width}}  {text}\n")
    return 0
