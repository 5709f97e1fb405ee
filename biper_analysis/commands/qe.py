"""``biper-analysis qe``: evaluate QE (and its moments) at one point, for Laplace, Gaussian or Student-t weights."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from biper_analysis.commands._args import gamma_value, write_json

ORDER = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("qe", help="evaluate QE(ω0, b, γ) and its moments at one point",
                       description="Evaluate QE(ω0, γ) for Laplace(0, b) weights (stable closed form) or, with "
                                   "--prior, for Gaussian or Student-t weights (characteristic-function series).")
    p.add_argument("--omega0", type=float, required=True, help="angular frequency ω0 (> 0)")
    p.add_argument("--prior", choices=["laplace", "gaussian", "student-t"], default="laplace",
                   help="weight law (default laplace)")
    p.add_argument("--b", type=float, help="Laplace scale b = mean|w| (> 0); for --prior laplace")
    p.add_argument("--sigma", type=float, help="Gaussian standard deviation σ (> 0); for --prior gaussian")
    p.add_argument("--scale", type=float,
                   help="scale of the prior (Student-t scale; also accepted for laplace = b, gaussian = σ)")
    p.add_argument("--df", type=float, help="Student-t degrees of freedom ν (> 0); for --prior student-t")
    p.add_argument("--gamma", type=gamma_value, default=None, help="binary scale γ >= 0, or 'opt' (default)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.set_defaults(func=run)


def evaluate(omega0: float, b: float, gamma: float | None) -> dict[str, float | None]:
    """All quantities the ``qe`` command reports for Laplace weights, from the library's single definitions."""
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


def evaluate_prior(omega0: float, prior: Any, gamma: float | None) -> dict[str, Any]:
    """The same report for any prior of :mod:`biper_analysis.priors` (``b`` is null unless Laplace).

    ``dqe_domega0`` is null for non-Laplace priors (no closed form for the derivative).
    """
    from biper_analysis import analytic as A
    from biper_analysis import conventions

    if prior.name == "laplace":
        out: dict[str, Any] = {"prior": "laplace", "scale": prior.scale, "df": None}
        out.update(evaluate(omega0, prior.scale, gamma))
        return out
    e2 = float(prior.expected_sin2(omega0))
    e_abs = float(prior.expected_abs_sin(omega0))
    used_gamma = e_abs if gamma is None else gamma
    qe_val = float(A._qe_from_moments(e2, e_abs, used_gamma))
    return {
        "prior": prior.name, "scale": prior.scale, "df": getattr(prior, "df", None),
        "omega0": omega0, "b": None, "x": omega0 * prior.scale, "gamma": used_gamma,
        "gamma_is_optimal": gamma is None,
        "qe": qe_val,
        "qe_min": float(A._qe_from_moments(e2, e_abs, None)),
        "gamma_opt": e_abs,
        "e_sin2": e2,
        "e_abs_sin": e_abs,
        "official_l1": 1.0 - e_abs,
        "normalised_qe": float(conventions.normalised_qe(omega0, gamma=gamma, prior=prior)),
        "dqe_domega0": None,
    }


def _prior_from_args(args: argparse.Namespace) -> Any:
    from biper_analysis.cli import CLIError
    from biper_analysis.priors import make_prior

    def pick(*names: str) -> float:
        given = [(n, getattr(args, n)) for n in names if getattr(args, n) is not None]
        if not given:
            raise CLIError(f"--prior {args.prior} needs --{names[0]} (the scale, > 0), e.g. --{names[0]} 0.05")
        if len(given) > 1:
            raise CLIError(f"--prior {args.prior}: pass only one of " + ", ".join(f"--{n}" for n in names))
        return given[0][1]

    unused = {"laplace": ("sigma", "df"), "gaussian": ("b", "df"), "student-t": ("b", "sigma")}[args.prior]
    for name in unused:
        if getattr(args, name) is not None:
            raise CLIError(f"--{name} does not apply to --prior {args.prior}; remove it")
    if args.prior == "laplace":
        return make_prior("laplace", pick("b", "scale"))
    if args.prior == "gaussian":
        return make_prior("gaussian", pick("sigma", "scale"))
    if args.df is None:
        raise CLIError("--prior student-t needs --df (degrees of freedom > 0), e.g. --df 4")
    return make_prior("student-t", pick("scale"), df=args.df)


def run(args: argparse.Namespace) -> int:
    from biper_analysis import _validate as V

    V.positive("omega0", args.omega0)
    prior = _prior_from_args(args)
    if args.prior == "laplace" and args.scale is None:
        result: dict[str, Any] = evaluate(args.omega0, prior.scale, args.gamma)
    else:
        result = evaluate_prior(args.omega0, prior, args.gamma)
    if args.json:
        write_json(result, "-")
        return 0
    width = max(len(k) for k in result)
    for key, value in result.items():
        if value is None:
            continue  # not defined for this prior (e.g. b or df); --json keeps the key as null
        text = f"{value:.16g}" if isinstance(value, float) else str(value)
        sys.stdout.write(f"{key:<{width}}  {text}\n")
    return 0
