"""Shared fixtures. Tests run with the Agg backend and no seeding at import (each test seeds itself)."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 600, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m biper_analysis ARGS`` in a subprocess and capture its output.

    Without ``cwd`` the command runs in a new empty folder, so its default outputs never land in the repository;
    the folder is removed afterwards (a test that wants to look at default outputs passes its own ``cwd``).
    """
    if cwd is not None:
        return subprocess.run(
            [sys.executable, "-m", "biper_analysis", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=timeout,
            env=env,
        )
    with tempfile.TemporaryDirectory(prefix="biper-cli-") as folder:
        return subprocess.run(
            [sys.executable, "-m", "biper_analysis", *args],
            capture_output=True,
            text=True,
            cwd=folder,
            timeout=timeout,
            env=env,
        )


def run_cli_in_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``biper-analysis ARGS`` through :func:`biper_analysis.cli.main` in this process, returned like
    :func:`run_cli`: the same code path as the console script without a process start (~1 s of imports each).

    For refusals and cheap commands. The working folder defaults to a new empty one; ``env`` names variables set for
    the call only (the whole environment is restored after). Warnings a fresh process would print are appended to
    stderr, so a one-line check still sees them. What only a real process shows (a traceback escaping, signals, the
    console script itself) keeps its subprocess tests.
    """
    if cwd is None:  # a new empty folder, removed afterwards (a test that looks at outputs passes its own cwd)
        with tempfile.TemporaryDirectory(prefix="biper-cli-") as folder:
            return run_cli_in_process(*args, cwd=Path(folder), env=env)
    from biper_analysis.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        with (
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            warnings.catch_warnings(record=True) as caught,
        ):
            warnings.simplefilter("default")
            for hidden in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.filterwarnings("ignore", category=hidden)  # what python hides outside __main__
            try:
                code = main(list(args))
            except SystemExit as exc:  # argparse: usage errors, --help
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    shown = "".join(warnings.formatwarning(w.message, w.category, w.filename, w.lineno) for w in caught)
    return subprocess.CompletedProcess(["biper-analysis", *args], code, out.getvalue(), err.getvalue() + shown)


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


def _can_write(folder: Path) -> bool:
    try:
        fd, name = tempfile.mkstemp(dir=folder)
    except OSError:
        return False
    os.close(fd)
    os.unlink(name)
    return True


@pytest.fixture
def readonly_dir(tmp_path: Path):
    """A folder no write can go into — for real, also for root (who ignores permission bits): mode 0555 where that
    suffices, else the immutable attribute (``chattr +i``); skipped where neither makes the folder unwritable."""
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    immutable = False
    if _can_write(folder) and shutil.which("chattr"):
        immutable = subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
    try:
        if _can_write(folder):
            pytest.skip("cannot make a folder unwritable here (root without chattr +i)")
        yield folder
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)
