"""Argument parsing and output helpers shared by the CLI sub-commands."""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis.atomic import atomic_open


def float_list(text: str) -> list[float]:
    """'0.01,0.037,0.05' -> [0.01, 0.037, 0.05]."""
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers such as 0.01,0.05, got {text!r}")
    if not values:
        raise argparse.ArgumentTypeError(f"expected at least one number, got {text!r}")
    return values


def grid(text: str, log: bool = False) -> np.ndarray:
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
        start, stop, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected START:STOP:N such as 1:200:400, got {text!r}")
    if n < 1 or n > 10_000_000:
        raise argparse.ArgumentTypeError(f"N in START:STOP:N must be between 1 and 10000000, got {n}")
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise argparse.ArgumentTypeError(f"START and STOP must be finite numbers, got {text!r}")
    if log:
        if start <= 0 or stop <= 0:
            raise argparse.ArgumentTypeError(f"a --log grid needs START, STOP > 0, got {text!r}")
        return np.geomspace(start, stop, n)
    return np.linspace(start, stop, n)


def gamma_value(text: str) -> float | None:
    """'opt' -> None (the optimal γ*), else a non-negative float."""
    if text.strip().lower() in {"opt", "optimal", "none"}:
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'opt' or a number >= 0, got {text!r}")
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"gamma must be 'opt' or a finite number >= 0, got {text!r}")
    return value


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays (and NaN → None) so ``json.dumps`` accepts the object."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, dest: str) -> None:
    """Write ``obj`` as JSON to stdout (``dest == '-'``) or atomically to the file ``dest``."""
    text = json.dumps(jsonable(obj), indent=2) + "\n"
    if dest == "-":
        sys.stdout.write(text)
        return
    with atomic_open(dest) as fh:
        fh.write(text)


def require(value: Any, message: str) -> None:
    """Raise the CLI's one-line error when a conditionally required option is missing."""
    if value is None:
        from biper_analysis.cli import CLIError

        raise CLIError(message)


def sweep_dir(runs: Any) -> Path:
    """The training-sweep folder of ``--runs``: the default runs/sweep may be absent (callers then skip what
    needs it), but a folder the user named must hold a sweep.json."""
    if runs is None:
        return Path("runs/sweep")
    if not (Path(runs) / "sweep.json").is_file():
        from biper_analysis.cli import CLIError

        raise CLIError(f"--runs {str(runs)!r} holds no sweep.json; make it with `biper-analysis train-sweep --out {runs}`")
    return Path(runs)
