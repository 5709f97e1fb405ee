"""Atomic output: the target appears whole or not at all, with normal permissions, never through a device."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from biper_analysis._io.atomic import atomic_open, atomic_path


def test_file_written_with_umask_mode(tmp_path: Path):
    target = tmp_path / "out.txt"
    with atomic_open(target) as fh:
        fh.write("ok")
    mask = os.umask(0)
    os.umask(mask)
    assert target.read_text() == "ok"
    assert os.stat(target).st_mode & 0o777 == 0o666 & ~mask


def test_error_inside_block_leaves_nothing(tmp_path: Path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_existing_target_kept_on_error(tmp_path: Path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and len(list(tmp_path.iterdir())) == 1


def test_refuses_symlink_and_missing_folder(tmp_path: Path):
    real = tmp_path / "real.txt"
    real.write_text("keep")
    link = tmp_path / "link.txt"
    link.symlink_to(real)
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        with atomic_open(link) as fh:
            fh.write("x")
    assert link.is_symlink() and real.read_text() == "keep"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with atomic_open(tmp_path / "nope" / "x.txt") as fh:
            fh.write("x")
