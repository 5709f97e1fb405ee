"""argparse types shared by the sub-commands: each turns text into a checked value or one clear message."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterator
from typing import Any

import numpy as np

from biper_analysis._io.validation import parse_gamma

__all__ = [
    "float_list",
    "positive_float",
    "positive_float_list",
    "count",
    "seed",
    "seed_list",
    "grid",
    "gamma_grid",
    "gamma_value",
    "add_law_arguments",
    "laws_from_args",
    "law_axis_from_args",
    "warn_fitted_elsewhere",
]


def float_list(text: str) -> list[float]:
    """'0.01,0.037,0.05' -> [0.01, 0.037, 0.05].

    >>> float_list("0.01, 0.05")
    [0.01, 0.05]
    """
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.01,0.05, got {text!r}") from None
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


def _range(text: str) -> tuple[float, float, int]:
    """'START:STOP:N' → (START, STOP, N), or ArgumentTypeError."""
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        start, stop, n = float(parts[0]), float(parts[1]), count(parts[2])
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"expected START:STOP:N such as 1:200:400, got {text!r}") from None
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise argparse.ArgumentTypeError(f"START and STOP must be finite numbers, got {text!r}")
    return start, stop, n


def grid(text: str, log: bool = False) -> Any:
    """'START:STOP:N' → a lazy axis of N points from START to STOP (geometric when ``log``; never held in memory
    whole, so N may be 10⁹), or a comma list of values.

    >>> grid("1:3:3").take(np.arange(3)).tolist()
    [1.0, 2.0, 3.0]
    >>> grid("1:100:3", log=True).take(np.arange(3)).tolist()
    [1.0, 10.0, 100.0]
    """
    from biper_analysis.analysis.qe_grid import Axis

    if ":" not in text:
        return Axis.of(float_list(text))
    start, stop, n = _range(text)
    if log and (start <= 0 or stop <= 0):
        raise argparse.ArgumentTypeError(f"a --log grid needs START, STOP > 0, got {text!r}")
    return Axis.between(start, stop, n, log)


def gamma_grid(text: str) -> Any:
    """γ values as a lazy axis: 'opt' (γ* per row), numbers >= 0, both mixed ('opt,0.5,1'), or START:STOP:N.
    NaN on the axis stands for the optimal γ*.

    >>> gamma_grid("opt,0.6").describe(), gamma_grid("0:1:3").take(np.arange(3)).tolist()
    ([None, 0.6], [0.0, 0.5, 1.0])
    """
    from biper_analysis.analysis.qe_grid import Axis

    if ":" in text:
        start, stop, n = _range(text)
        if start < 0 or stop < 0:
            raise argparse.ArgumentTypeError(f"γ must be >= 0, got {text!r}")
        return Axis.between(start, stop, n)
    items = [v for v in text.split(",") if v.strip()]
    if not items:
        raise argparse.ArgumentTypeError(f"expected 'opt', numbers >= 0 or START:STOP:N, got {text!r}")
    values = [gamma_value(v) for v in items]
    return Axis.of([math.nan if v is None else v for v in values])


def gamma_value(text: str) -> float | None:
    """'opt' -> None (the optimal γ*), else a non-negative float (one parser: validation.parse_gamma)."""
    try:
        return parse_gamma(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# ---------------------------------------------------------------------------------------------------
# The weight law of qe / sweep / omega0: a named family with its scale, or a law fitted by fit-b
# ---------------------------------------------------------------------------------------------------
class _PriorNames:
    """The prior families for argparse's ``choices``, looked up only when argparse needs them: importing the laws
    (scipy.stats) costs more than the rest of a small sweep's start-up."""

    @staticmethod
    def _names() -> tuple[str, ...]:
        from biper_analysis.laws.priors import PRIOR_NAMES

        return PRIOR_NAMES

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __iter__(self) -> Iterator[str]:  # argparse lists the choices in its help and error text
        return iter(self._names())


def add_law_arguments(p: argparse.ArgumentParser, several_scales: bool = False) -> None:
    """--prior/--b/--sigma/--scale/--df, or --law FILE.json:LAYER[:LAW] instead."""
    p.add_argument(
        "--prior",
        choices=_PriorNames(),
        default=None,
        metavar="FAMILY",
        help="weight law family: %(choices)s (default laplace)",
    )
    p.add_argument(
        "--b",
        type=grid if several_scales else float,
        metavar="B1,B2,..." if several_scales else "B",
        help="Laplace scale b = mean|w| (> 0)"
        + ("; several for a sweep, or START:STOP:N" if several_scales else "")
        + "; for --prior laplace",
    )
    p.add_argument("--sigma", type=float, help="Gaussian standard deviation σ (> 0); for --prior gaussian")
    p.add_argument(
        "--scale",
        type=grid if several_scales else float,
        help="scale of the prior (Student-t scale; also accepted for laplace = b, gaussian = σ)",
    )
    p.add_argument("--df", type=float, help="Student-t degrees of freedom ν (> 0); for --prior student-t")
    p.add_argument(
        "--law",
        metavar="FILE.json:LAYER[:LAW]",
        default=None,
        help="a weight law fitted to a layer by `fit-b --law all --save-laws FILE.json` (default "
        "LAW: the layer's best law); replaces --prior and its scale",
    )


def _scale_option(args: argparse.Namespace, several_scales: bool) -> tuple[str, str, Any]:
    """(family, the option giving its scale, that option's value) after checking the options fit together; one
    line naming the fix otherwise. Not for --law (see :func:`_fitted_law`)."""
    from biper_analysis._io.errors import UsageError

    prior = args.prior or "laplace"
    if prior == "student-t" and args.df is None:
        raise UsageError("--prior student-t needs --df (degrees of freedom > 0), e.g. --df 4")
    if prior != "student-t" and args.df is not None:
        raise UsageError(f"--df applies only to --prior student-t, not {prior}; remove --df")
    scale_options = {"laplace": ("b", "scale"), "gaussian": ("sigma", "scale"), "student-t": ("scale",)}[prior]
    if several_scales:  # a sweep takes its scales from --b (or --scale) whatever the family
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
    return prior, name, value


def _fitted_law(args: argparse.Namespace) -> Any:
    """The law --law names (nothing else may give the law); None without --law."""
    if args.law is None:
        return None
    from biper_analysis._io.errors import UsageError
    from biper_analysis.laws.lawfile import load_law  # the laws (scipy.stats) only when a law file is read

    given = [n for n in ("prior", "b", "sigma", "scale", "df") if getattr(args, n) is not None]
    if given:
        raise UsageError(f"--law replaces --prior and its scale; remove --{given[0]}")
    return load_law(args.law)


def laws_from_args(args: argparse.Namespace) -> list[Any]:
    """The one law object the options ask for (a family with its scale, or --law), or one line naming the fix."""
    from biper_analysis.laws.priors import make_prior

    law = _fitted_law(args)
    if law is not None:
        return [law]
    prior, _, value = _scale_option(args, several_scales=False)
    return [make_prior(prior, value, args.df)]


def law_axis_from_args(args: argparse.Namespace) -> Any:
    """The sweep's law axis: a family over the scales of --b (a list or START:STOP:N, made lazily), or the one law
    of --law; one line naming the fix otherwise."""
    from biper_analysis._io.errors import UsageError
    from biper_analysis.analysis.qe_grid import Axis, LawFamily, LawList

    law = _fitted_law(args)
    if law is not None:
        return LawList((law,))
    prior, name, value = _scale_option(args, several_scales=True)
    axis = value if isinstance(value, Axis) else Axis.of([value])
    try:
        axis.check(f"--{name} values")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return LawFamily(prior, axis, args.df)


def warn_fitted_elsewhere(law: Any, omega0s: Any, command: str) -> None:
    """One stderr line when a law fitted at one ω0 is evaluated at another."""
    import sys

    fitted = getattr(law, "omega0", None)
    if fitted is None:
        return
    values = np.atleast_1d(np.asarray(omega0s, dtype=np.float64))  # all of them, or a sample of a long grid
    if np.any(~np.isclose(values, fitted, rtol=1e-9)):
        sys.stderr.write(
            f"biper-analysis {command}: warning: the law was fitted to weights trained at ω0 = "
            f"{fitted:g}; at other ω0 it describes those same weights, not a network trained there\n"
        )
