"""Write a Figure to disk deterministically, atomically, with provenance in the file metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from biper_analysis.atomic import atomic_path
from biper_analysis.provenance import provenance


def save_figure(fig: Any, path: str | Path, formats: Iterable[str] | None = None,
                config: dict[str, Any] | None = None, seed: int | None = None) -> list[Path]:
    """Save ``fig`` to ``path`` (its suffix picks the format) or, with ``formats``, to each ``path.with_suffix``.

    PNG gets the provenance as a text chunk, PDF in the Subject/Keywords fields; PDF creation dates are
    fixed so that reruns give the same bytes (deterministic output).
    """
    path = Path(path)
    suffixes = [f".{f.lstrip('.')}" for f in formats] if formats else [path.suffix or ".png"]
    record = json.dumps(provenance(config, seed, timestamp=False), sort_keys=True)  # same inputs, same bytes
    written = []
    for suffix in suffixes:
        target = path.with_suffix(suffix)
        if suffix == ".png":
            metadata = {"Software": "biper-analysis", "Description": record}
        elif suffix == ".pdf":
            metadata = {"Creator": "biper-analysis", "Producer": "biper-analysis", "CreationDate": None,
                        "Subject": record}
        elif suffix == ".svg":
            metadata = {"Creator": "biper-analysis", "Description": record, "Date": None}
        else:
            metadata = None
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."), metadata=metadata, dpi=150, bbox_inches="tight")
        written.append(target)
    return written
