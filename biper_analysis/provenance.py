"""Provenance stamped into every result this package writes: config, seed, version, git revision, time.

One definition (DESIGN.md, convention 6): checkpoints, sweep files, figure metadata and reports all call
:func:`provenance`.
"""
from __future__ import annotations

import datetime as _dt
import functools
import platform
import subprocess
from pathlib import Path
from typing import Any

_REPO_ROOT = Path(__file__).resolve().parent.parent


@functools.lru_cache(maxsize=1)
def git_revision() -> str:
    """The git revision of the source tree this package runs from ('+dirty' if modified), else 'unknown'."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=_REPO_ROOT, capture_output=True, text=True,
                             timeout=5, check=True).stdout.strip()
        # "dirty" means changed *source*: the generated figures and report are rewritten by every main job
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":!figures", ":!paper_checks/REPORT.md"], cwd=_REPO_ROOT,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def package_version() -> str:
    from biper_analysis import __version__

    return __version__


def provenance(config: dict[str, Any] | None = None, seed: int | None = None, *, timestamp: bool = True,
               **extra: Any) -> dict[str, Any]:
    """A JSON-serialisable provenance record (``timestamp=False`` for byte-reproducible outputs such as figures).

    >>> p = provenance({"omega0": 20.0}, seed=0)
    >>> sorted(p)[:4]
    ['config', 'created', 'git_revision', 'package']
    """
    record: dict[str, Any] = {
        "package": "biper-analysis",
        "version": package_version(),
        "git_revision": git_revision(),
        "python": platform.python_version(),
        "config": dict(config or {}),
        "seed": seed,
    }
    if timestamp:
        record["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    record.update(extra)
    return record
