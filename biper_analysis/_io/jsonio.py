"""JSON in and out: numpy-aware conversion, atomic writing, and JSON-lines files (a run's metrics.jsonl).

One place for these so the library, the training loop and the command line write the same JSON.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.atomic import atomic_open

__all__ = ["jsonable", "dumps", "write_json", "read_json", "read_jsonl", "write_jsonl"]


def jsonable(obj: Any) -> Any:
    """Convert numpy scalars/arrays, paths and tuples (and NaN/inf → None) so ``json.dumps`` accepts the object.

    >>> jsonable({"a": np.float64(1.5), "b": [np.nan, np.int64(2)], "c": (1, 2)})
    {'a': 1.5, 'b': [None, 2], 'c': [1, 2]}
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.floating, float)):
        value = float(obj)
        return value if math.isfinite(value) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def dumps(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as strict JSON text (no NaN tokens) ending in a newline."""
    return json.dumps(jsonable(obj), indent=indent, allow_nan=False) + "\n"


def write_json(obj: Any, dest: str | Path) -> None:
    """Write ``obj`` as JSON to stdout (``dest == '-'``) or atomically to the file ``dest``.

    Callers that write a user-named file check it first with :func:`biper_analysis._io.outputs.claim_output`.
    """
    text = dumps(obj)
    if str(dest) == "-":
        sys.stdout.write(text)
        return
    with atomic_open(dest) as fh:
        fh.write(text)


def read_json(path: str | Path) -> Any:
    """Parse a JSON file."""
    return json.loads(Path(path).read_text())


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The records of a JSON-lines file, in order (blank lines skipped); [] when the file does not exist."""
    path = Path(path)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: str | Path, records: Iterable[Any]) -> None:
    """Write records as JSON lines, atomically (the whole file is replaced)."""
    with atomic_open(path) as fh:
        for rec in records:
            fh.write(json.dumps(jsonable(rec), allow_nan=False) + "\n")
