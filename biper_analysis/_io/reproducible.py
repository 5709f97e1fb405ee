"""Bit-reproducible CPU training: one thread and pinned CPU code paths, set before torch is imported.

Why: with several threads, reductions (convolution and matrix products, BatchNorm statistics) add in an order
that depends on the thread count, and oneDNN / MKL / ATen pick kernels by the CPU's instruction set — the same
seed gave 88.11 % with two threads and 88.33 % with one. One thread and the AVX2 code path everywhere
(``ATEN_CPU_CAPABILITY``, ``MKL_CBWR``, ``ONEDNN_MAX_CPU_ISA``; a CPU without AVX2 keeps its defaults) make a run's
weights identical whatever ``OMP_NUM_THREADS``, the number of parallel runs or the machine load, on the same kind
of CPU and torch version. :func:`biper_analysis._io.provenance.compute_environment` records what was used.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import platform
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["cpu_has_avx2", "pinned_environment", "pin_cpu_code_path", "pin_worker", "use_threads", "pinned_pool"]


def cpu_has_avx2() -> bool:
    """True on an x86-64 CPU that reports AVX2 (Linux /proc/cpuinfo)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        return " avx2" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def pinned_environment(threads: int = 1) -> dict[str, str]:
    """The environment variables that fix the thread count and CPU code path of torch, MKL and oneDNN.

    >>> pinned_environment(1)["OMP_NUM_THREADS"]
    '1'
    """
    env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    if cpu_has_avx2():
        env.update({"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"})
    return env


def pin_cpu_code_path() -> bool:
    """Pin the CPU code path (not the threads) for this process if torch is not loaded yet; a variable the user
    set is kept. Returns False when torch was already imported (then only the thread count can still change)."""
    if "torch" in sys.modules:
        return False
    for key, value in pinned_environment().items():
        if key not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(key, value)
    return True


def pin_worker(threads: int = 1) -> None:
    """Run first in a worker process (a process pool's initializer, a cluster task), before torch is imported:
    ``threads`` threads and the pinned CPU code path (:func:`pinned_environment`), so the worker's results do not
    depend on the machine load or on how many workers run beside it. Where torch is already loaded only its thread
    count can still change, and that is set."""
    os.environ.update(pinned_environment(threads=threads))
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)


def use_threads(threads: int) -> None:
    """torch's intra-op threads (OpenMP and MKL) for this process; 1 gives thread-count-independent results."""
    import torch

    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    torch.set_num_threads(threads)


class _StoppablePool(ProcessPoolExecutor):
    """A process pool that, left by an exception (an interrupt: the workers were just terminated), neither waits for
    its workers nor for the thread that feeds them.

    The tasks carry a layer's weights (megabytes), so the pool's feeder thread may be blocked writing one into the
    pipe of workers that are gone; CPython on Linux then waits for it forever, in ``shutdown(wait=True)`` and again
    at interpreter exit (multiprocessing joins every queue's feeder). So: don't join that feeder, close the pipe's
    read end (the blocked write fails and the feeder ends) and shut down without waiting."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if exc_type is None:
            return bool(super().__exit__(exc_type, exc, tb))
        queue = getattr(self, "_call_queue", None)  # CPython's internals (3.9–3.13), so looked up with care
        if queue is not None:
            with contextlib.suppress(Exception):
                queue.cancel_join_thread()
            with contextlib.suppress(Exception):
                queue._reader.close()
        self.shutdown(wait=False)  # the management thread fails the pending futures itself (workers are gone)
        return False


def pinned_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes, each set up by :func:`pin_worker` with one thread (so a result does not
    depend on how many there are, nor on the parent's threads) and leaving Ctrl-C to the parent; left by an
    interrupt, it stops at once (:class:`_StoppablePool`)."""
    return _StoppablePool(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_pool_worker)


def _pool_worker() -> None:
    """A pool worker: one thread and the pinned code path; Ctrl-C is left to the parent, which stops the workers
    (:mod:`biper_analysis._io.interrupt`), so a worker never prints a traceback of its own."""
    from biper_analysis._io.interrupt import ignore_interrupts

    pin_worker(1)
    ignore_interrupts()
