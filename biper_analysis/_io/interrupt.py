"""Ctrl-C and SIGTERM stop a command promptly, workers included.

The CLI turns SIGTERM into ``KeyboardInterrupt`` (as Ctrl-C) and exits 130 with one line saying what was finished
and how to go on (:class:`~biper_analysis._io.errors.Interrupted`). A library call that fans work out to a process
pool would, on that ``KeyboardInterrupt``, wait in the pool's shutdown for every queued task (tens of seconds
for fit-b's law fits). Inside :func:`stop_workers_on_interrupt` the first signal terminates this process's worker
processes before the interrupt unwinds the call, so the pool breaks at once and the command stops within a second.
Workers hold no output of their own (results come back to the parent, which writes atomically), so nothing is lost.

:func:`ignore_interrupts` is the initializer half: a worker that leaves Ctrl-C to its parent prints no traceback
of its own when the terminal sends Ctrl-C to the whole process group.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import signal
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

__all__ = ["stop_workers_on_interrupt", "ignore_interrupts", "terminate_workers"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def terminate_workers() -> int:
    """Send SIGTERM to every live child process started by :mod:`multiprocessing`; returns how many."""
    children = multiprocessing.active_children()
    for child in children:
        with contextlib.suppress(OSError, ValueError, AttributeError):
            child.terminate()
    return len(children)


def _quiet_pool_threads(args: Any) -> None:
    """After an interrupt, a process pool's management thread may fail on futures it was about to cancel
    (``InvalidStateError``, ``BrokenProcessPool``): noise, not news; other thread errors are shown as usual."""
    if args.exc_type.__module__.startswith("concurrent.futures"):
        return
    threading.__excepthook__(args)


def _stop(signum: int, frame: Any) -> NoReturn:
    threading.excepthook = _quiet_pool_threads
    terminate_workers()
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_workers_on_interrupt() -> Iterator[None]:
    """Within the block, Ctrl-C and SIGTERM terminate the worker processes, then raise ``KeyboardInterrupt``.

    Outside the main thread (where handlers cannot be installed) the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    hook = threading.excepthook
    for s in _SIGNALS:
        signal.signal(s, _stop)
    interrupted = False
    try:
        yield
    except BaseException:
        interrupted = True
        raise
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        # after an interrupt the pool's management thread may still fail on the futures it was handling once this
        # block is left: keep its noise quiet for the rest of the process
        threading.excepthook = _quiet_pool_threads if interrupted else hook


def ignore_interrupts() -> None:
    """Worker initializer: Ctrl-C goes to the whole process group; the parent stops the workers (see above)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
