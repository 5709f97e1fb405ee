"""Atomic file output: write to a temporary file in the target directory, then rename over the target.

A crash or an error mid-write never leaves a half-written result behind (README, "bad input"). An error of the
operating system (read-only folder, disk full, ...) is reported for the user's path, never the temporary name
(:func:`biper_analysis._io.outputs.unwritable`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from biper_analysis._io.outputs import WRITE_ERRNOS, unwritable

__all__ = ["atomic_path", "atomic_open"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` only if the block succeeds.

    ``suffix`` defaults to the target's own suffix so writers that infer a format from it (matplotlib,
    torch) behave as for the real name.

    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> d = pathlib.Path(folder.name)
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hi")
    >>> (d / "a.txt").read_text()
    'hi'
    >>> folder.cleanup()
    """
    target = Path(target)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"output directory {str(target.parent)!r} does not exist; create it first")
    if target.is_symlink() or (target.exists() and not target.is_file()):
        # a rename would replace the link or device itself instead of writing through it
        raise IsADirectoryError(f"output {str(target)!r} exists and is not a regular file; choose another path")
    try:
        fd, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=suffix if suffix is not None else target.suffix, dir=target.parent
        )
    except OSError as exc:
        raise unwritable(exc, target) from None
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            yield tmp
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the mode open() would have
            os.replace(tmp, target)
        except OSError as exc:
            if exc.filename in (None, str(tmp), tmp) or exc.errno in WRITE_ERRNOS:
                raise unwritable(exc, target) from None
            raise
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike[str], mode: str = "w", **kwargs: object) -> Iterator[IO]:
    """Open a temporary file for writing; it replaces ``target`` when the block exits without error."""
    with atomic_path(target) as tmp:
        with open(tmp, mode, **kwargs) as fh:  # type: ignore[call-overload]
            yield fh
