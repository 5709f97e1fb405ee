"""Progress a person sees from the first second, without breaking the one-line rule for bad input.

A command whose work starts inside one library call cannot tell bad input (refused within a moment, as one line)
from the start of long work. :func:`note_if_slow` prints its line on stderr only if the block is still running
after ``delay`` seconds: a quick refusal stays one line, long work says what it is doing at once after.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

__all__ = ["note_if_slow"]


@contextlib.contextmanager
def note_if_slow(text: str, delay: float = 1.0, enabled: bool = True) -> Iterator[None]:
    """Write ``text`` (one line) to stderr if the block has not finished after ``delay`` seconds."""
    if not enabled:
        yield
        return
    done = threading.Event()

    def note() -> None:
        if not done.wait(delay):
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    thread = threading.Thread(target=note, name="note_if_slow", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
