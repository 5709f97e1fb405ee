"""Fitted weight laws on disk: ``fit-b --save-laws FILE.json`` writes them, ``--law FILE.json:LAYER[:MODEL]`` reads
one back for ``qe``, ``sweep`` and ``omega0`` (and :func:`load_law` for Python).

The file holds, per layer, every fitted law's name and parameters (``laws.law_to_dict``), the AIC-best model,
the ω0 the laws were fitted at, and the report's provenance.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biper_analysis._io.errors import UsageError

__all__ = ["law_to_dict", "load_law", "split_law_spec"]


def law_to_dict(law: Any) -> dict[str, Any]:
    """A law's name and parameters as JSON (every law of :mod:`biper_analysis.laws`, Laplace and Gaussian too)."""
    from biper_analysis import laws

    return laws.law_to_dict(law)


def split_law_spec(spec: str) -> tuple[Path, str, str | None]:
    """'FILE.json:LAYER[:MODEL]' → (file, layer, model or None); the file part may itself contain colons.

    >>> split_law_spec("laws.json:layer1.0.conv1.weight:penalised")
    (PosixPath('laws.json'), 'layer1.0.conv1.weight', 'penalised')
    """
    parts = spec.split(":")
    for cut in (len(parts) - 1, len(parts) - 2):
        if cut >= 1:
            path = Path(":".join(parts[:cut]))
            if path.suffix == ".json":
                rest = parts[cut:]
                return path, rest[0], rest[1] if len(rest) > 1 else None
    raise UsageError(f"--law {spec!r}: expected FILE.json:LAYER or FILE.json:LAYER:MODEL (a file written by "
                     "`biper-analysis fit-b --save-laws FILE.json`)")


def load_law(spec: str) -> Any:
    """The law named by 'FILE.json:LAYER[:MODEL]' (default: that layer's AIC-best model)."""
    from biper_analysis import laws

    path, layer, model = split_law_spec(spec)
    if not path.is_file():
        raise UsageError(f"--law {spec!r}: {path} does not exist; write it with `biper-analysis fit-b RUN "
                         f"--model all --save-laws {path}`")
    try:
        content = json.loads(path.read_text())
        layers = content["layers"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--law {spec!r}: {path} is not a laws file written by `biper-analysis fit-b "
                         "--save-laws`") from None
    if layer not in layers:
        names = ", ".join(list(layers)[:4]) + (", ..." if len(layers) > 4 else "")
        raise UsageError(f"--law {spec!r}: no layer {layer!r} in {path}; it has {names}")
    entry = layers[layer]
    model = model or entry.get("best_model")
    if model not in entry["laws"]:
        raise UsageError(f"--law {spec!r}: layer {layer} has no fitted {model!r} law; it has "
                         f"{', '.join(entry['laws'])}")
    return laws.law_from_dict(entry["laws"][model])
