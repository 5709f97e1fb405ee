"""Shared fixtures. Tests run with the Agg backend and no seeding at import (each test seeds itself)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m biper_analysis ARGS`` in a subprocess and capture its output.

    Without ``cwd`` the command runs in a new empty folder, so its default outputs never land in the repository;
    the folder is removed afterwards (a test that wants to look at default outputs passes its own ``cwd``).
    """
    if cwd is not None:
        return subprocess.run([sys.executable, "-m", "biper_analysis", *args], capture_output=True, text=True,
                              cwd=cwd, timeout=timeout, env=env)
    with tempfile.TemporaryDirectory(prefix="biper-cli-") as folder:
        return subprocess.run([sys.executable, "-m", "biper_analysis", *args], capture_output=True, text=True,
                              cwd=folder, timeout=timeout, env=env)


@pytest.fixture
def cli():
    return run_cli


def assert_one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Bad input: exit 2, exactly one line on stderr (no traceback) containing every needle."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``cuda`` run only where torch sees a CUDA device (never in CI); elsewhere they are skipped."""
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False here)")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
