"""argparse types shared by the sub-commands: each turns text into a checked value or one clear message."""
from __future__ import annotations

import argparse
import math
import re
from typing import Any

import numpy as np

from biper_analysis._io.validation import parse_gamma

__all__ = ["float_list", "positive_float", "positive_float_list", "count", "seed", "seed_list", "grid",
           "gamma_value", "MAX_GRID_POINTS", "add_law_arguments", "laws_from_args", "warn_fitted_elsewhere"]

#: Largest QE grid a command evaluates unless --max-points raises it.
MAX_GRID_POINTS = 10_000_000


def float_list(text: str) -> list[float]:
    """'0.01,0.037,0.05' -> [0.01, 0.037, 0.05].

    >>> float_list("0.01, 0.05")
    [0.01, 0.05]
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.01,0.05, got {text!r}") \
            from None
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one number, got {text!r}")
    return values


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def positive_float_list(text: str) -> list[float]:
    """Comma-separated finite numbers > 0."""
    values = float_list(text)
    bad = [v for v in values if not (math.isfinite(v) and v > 0)]
    if bad:
        raise argparse.ArgumentTypeError(f"every value must be a finite number > 0, got {bad[0]:g}")
    return values


def count(text: str) -> int:
    """A whole number >= 1 written as 2000000, 2_000_000 or 2e6.

    >>> count("2e6"), count("2_000_000")
    (2000000, 2000000)
    """
    cleaned = text.strip().replace("_", "")
    try:
        value = float(cleaned) if re.search(r"[eE.]", cleaned) else int(cleaned)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number such as 2000000 or 2e6, got {text!r}") from None
    if not math.isfinite(value) or value != int(value) or value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(value)


def seed(text: str) -> int:
    """A seed: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed must be a whole number >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be >= 0, got {value}")
    return value


def seed_list(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2] (each >= 0, no repeats).

    >>> seed_list("0,1")
    [0, 1]
    """
    values = [seed(v) for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one seed such as 0,1, got {text!r}")
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"seeds repeat in {text!r}; give each seed once")
    return values


def grid(text: str, log: bool = False, max_points: int = MAX_GRID_POINTS) -> np.ndarray:
    """'START:STOP:N' -> N points from START to STOP (geometric when ``log``), or a comma list.

    >>> grid("1:3:3").tolist()
    [1.0, 2.0, 3.0]
    >>> grid("1:100:3", log=True).tolist()
    [1.0, 10.0, 100.0]
    """
    if ":" not in text:
        return np.asarray(float_list(text))
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, n = float(parts[0]), float(parts[1]), count(parts[2])
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected START:STOP:N such as 1:200:400, got {text!r}") from None
    if n > max_points:
        raise argparse.ArgumentTypeError(f"N = {n} is more than {max_points} points; pass --max-points {n} to "
                                         "allow it (it takes time and disk)")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise argparse.ArgumentTypeError(f"START and STOP must be finite numbers, got {text!r}")
    if log:
        if start <= 0 or stop <= 0:
            raise argparse.ArgumentTypeError(f"a --log grid needs START, STOP > 0, got {text!r}")
        return np.geomspace(start, stop, n)
    return np.linspace(start, stop, n)


def gamma_value(text: str) -> float | None:
    """'opt' -> None (the optimal γ*), else a non-negative float (one parser: validation.parse_gamma)."""
    try:
        return parse_gamma(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------------------------------
# The weight law of qe / sweep / omega0: a named family with its scale, or a law fitted by fit-b
# ---------------------------------------------------------------------------------------------------
def add_law_arguments(p: argparse.ArgumentParser, several_scales: bool = False) -> None:
    """--prior/--b/--sigma/--scale/--df, or --law FILE.json:LAYER[:MODEL] instead."""
    from biper_analysis.laws.priors import PRIOR_NAMES

    p.add_argument("--prior", choices=PRIOR_NAMES, default=None, help="weight law family (default laplace)")
    p.add_argument("--b", type=float_list if several_scales else float, metavar="B1,B2,..." if several_scales
                   else "B", help="Laplace scale b = mean|w| (> 0)" + ("; several for a sweep" if several_scales
                                                                          else "") + "; for --prior laplace")
    p.add_argument("--sigma", type=float, help="Gaussian standard deviation σ (> 0); for --prior gaussian")
    p.add_argument("--scale", type=float_list if several_scales else float,
                   help="scale of the prior (Student-t scale; also accepted for laplace = b, gaussian = σ)")
    p.add_argument("--df", type=float, help="Student-t degrees of freedom ν (> 0); for --prior student-t")
    p.add_argument("--law", metavar="FILE.json:LAYER[:LAW]", default=None,
                   help="a weight law fitted to a layer by `fit-b --law all --save-laws FILE.json` (default "
                        "law: the layer's AIC-best); replaces --prior and its scale")


def laws_from_args(args: argparse.Namespace, several_scales: bool = False) -> list[Any]:
    """The law objects the options ask for (one per scale for a sweep, where --b gives the scales of any family),
    or one line naming the fix."""
    from biper_analysis._io.errors import UsageError
    from biper_analysis.laws.lawfile import load_law
    from biper_analysis.laws.priors import make_prior

    given = [n for n in ("prior", "b", "sigma", "scale", "df") if getattr(args, n) is not None]
    if args.law is not None:
        if given:
            raise UsageError(f"--law replaces --prior and its scale; remove --{given[0]}")
        return [load_law(args.law)]
    prior = args.prior or "laplace"
    if prior == "student-t" and args.df is None:
        raise UsageError("--prior student-t needs --df (degrees of freedom > 0), e.g. --df 4")
    if prior != "student-t" and args.df is not None:
        raise UsageError(f"--df applies only to --prior student-t, not {prior}; remove --df")
    scale_options = {"laplace": ("b", "scale"), "gaussian": ("sigma", "scale"), "student-t": ("scale",)}[prior]
    if several_scales:   # a sweep takes its scales from --b (or --scale) whatever the family
        scale_options = ("b", "scale") + (("sigma",) if prior == "gaussian" else ())
    for name in ("b", "sigma"):
        if getattr(args, name) is not None and name not in scale_options:
            raise UsageError(f"--{name} does not apply to --prior {prior}; remove it")
    values = [(n, getattr(args, n)) for n in scale_options if getattr(args, n) is not None]
    if not values:
        raise UsageError(f"--prior {prior} needs --{scale_options[0]} (the scale, > 0), e.g. --{scale_options[0]} 0.05")
    if len(values) > 1:
        raise UsageError(f"--prior {prior}: pass only one of " + ", ".join(f"--{n}" for n in scale_options))
    name, value = values[0]
    scales = value if isinstance(value, list) else [value]
    if several_scales:
        bad = [v for v in scales if not (math.isfinite(v) and v > 0)]
        if bad:
            raise UsageError(f"--{name} values must be finite and > 0, got {bad[0]:g}")
    return [make_prior(prior, s, args.df) for s in scales]


def warn_fitted_elsewhere(law: Any, omega0s: Any, command: str) -> None:
    """One stderr line when a law fitted at one ω0 is evaluated at another."""
    import sys

    fitted = getattr(law, "omega0", None)
    if fitted is None:
        return
    values = np.atleast_1d(np.asarray(omega0s, dtype=np.float64))
    if np.any(~np.isclose(values, fitted, rtol=1e-9)):
        sys.stderr.write(f"biper-analysis {command}: warning: the law was fitted to weights trained at ω0 = "
                         f"{fitted:g}; at other ω0 it describes those same weights, not a network trained there\n")
