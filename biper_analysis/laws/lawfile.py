"""Laws as JSON, and fitted laws on disk: the one serialiser.

:func:`law_to_dict` / :func:`law_from_dict` turn any registered law into {"name", "params", "omega0"} and back
exactly (through the registry: a new law needs nothing here). ``fit-b --save-laws FILE.json`` writes, per layer,
every fitted law, the best one out of sample (``best_model``: the highest held-out log-likelihood), the ω0 the laws
were fitted at and the report's provenance; ``--law FILE.json:LAYER[:LAW]`` reads one back for ``qe``, ``sweep``
and ``omega0`` (:func:`load_law` for Python).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from biper_analysis._io.errors import UsageError
from biper_analysis.laws.base import Law, law_class

__all__ = ["law_to_dict", "law_from_dict", "load_law", "split_law_spec"]


def law_to_dict(law: Law) -> dict[str, Any]:
    """{"name", "params", "omega0"} of any registered law (priors included).

    >>> from biper_analysis.laws import Laplace
    >>> law_to_dict(Laplace(0.05))
    {'name': 'laplace', 'params': {'b': 0.05}, 'omega0': None}
    """
    if not isinstance(law, Law):
        raise TypeError(f"cannot serialise {law!r}; pass a law from biper_analysis.laws")
    return law.to_dict()


def law_from_dict(d: dict[str, Any]) -> Law:
    """The law described by :func:`law_to_dict` / ``law.to_dict()`` (exact round trip).

    >>> law_from_dict({"name": "gennorm", "params": {"s": 0.05, "beta": 1.5}, "omega0": None})
    GenNorm(s=0.05, beta=1.5)
    """
    try:
        name, params = str(d["name"]), dict(d["params"])
    except (KeyError, TypeError, ValueError):
        raise ValueError(f"a law dict needs 'name' and 'params' (as written by law_to_dict), got {d!r}") from None
    cls = law_class(name)
    omega0 = d.get("omega0")
    missing = [k for k in cls.PARAMS if k not in params]
    if missing:
        raise ValueError(f"law {name!r} needs parameter {missing[0]!r}; got {sorted(params)}")
    if cls.needs_omega0() and omega0 is None:
        raise ValueError(f"law {name!r} needs omega0 (a number); got {omega0!r}")
    return cls.from_params(params, omega0)


def split_law_spec(spec: str) -> tuple[Path, str, str | None]:
    """'FILE.json:LAYER[:LAW]' → (file, layer, law or None); the file part may itself contain colons.

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
    raise UsageError(
        f"--law {spec!r}: expected FILE.json:LAYER or FILE.json:LAYER:LAW (a file written by "
        "`biper-analysis fit-b --save-laws FILE.json`)"
    )


def load_law(spec: str) -> Law:
    """The law named by 'FILE.json:LAYER[:LAW]' (default: that layer's best law out of sample, ``best_model``)."""
    path, layer, name = split_law_spec(spec)
    if not path.is_file():
        raise UsageError(
            f"--law {spec!r}: {path} does not exist; write it with `biper-analysis fit-b RUN "
            f"--law all --save-laws {path}`"
        )
    try:
        content = json.loads(path.read_text())
        layers = content["layers"]
    except (ValueError, KeyError, TypeError):
        raise UsageError(
            f"--law {spec!r}: {path} is not a laws file written by `biper-analysis fit-b --save-laws`"
        ) from None
    if layer not in layers:
        names = ", ".join(list(layers)[:4]) + (", ..." if len(layers) > 4 else "")
        raise UsageError(f"--law {spec!r}: no layer {layer!r} in {path}; it has {names}")
    entry = layers[layer]
    name = name or entry.get("best_model")
    if name not in entry["laws"]:
        raise UsageError(f"--law {spec!r}: layer {layer} has no fitted {name!r} law; it has {', '.join(entry['laws'])}")
    return law_from_dict(entry["laws"][name])
