"""Write a Figure to disk deterministically, atomically, with provenance and the producer mark in its metadata."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from biper_analysis._io.atomic import atomic_path
from biper_analysis._io.outputs import producer
from biper_analysis._io.provenance import provenance

__all__ = ["save_figure"]


def save_figure(
    fig: Any,
    path: str | Path,
    formats: Iterable[str] | None = None,
    config: dict[str, Any] | None = None,
    seed: int | None = None,
    command: str = "figures",
) -> list[Path]:
    """Save ``fig`` to ``path`` (its suffix picks the format) or, with ``formats``, to each ``path.with_suffix``.

    PNG gets the provenance as a text chunk and ``biper-analysis <command>`` as its Software; PDF the provenance
    in Subject and the producer as Creator; SVG the same in its metadata. PDF creation dates are fixed so that
    reruns give the same bytes. The producer mark lets the same command replace the file later
    (:mod:`biper_analysis._io.outputs`).
    """
    path = Path(path)
    suffixes = [f".{f.lstrip('.')}" for f in formats] if formats else [path.suffix or ".png"]
    record = json.dumps(provenance(config, seed, command=command, timestamp=False), sort_keys=True)
    mark = producer(command)
    written = []
    for suffix in suffixes:
        target = path.with_suffix(suffix)
        if suffix == ".png":
            metadata = {"Software": mark, "Description": record}
        elif suffix == ".pdf":
            metadata = {"Creator": mark, "Producer": "biper-analysis", "CreationDate": None, "Subject": record}
        elif suffix == ".svg":
            metadata = {"Creator": mark, "Description": record, "Date": None}
        else:
            metadata = None
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."), metadata=metadata, dpi=150, bbox_inches="tight")
        written.append(target)
    return written
