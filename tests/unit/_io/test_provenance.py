"""Provenance: the keys every result carries, the git revision (clean, dirty, outside a repository) read from a
scratch repository, and the compute environment."""

from __future__ import annotations

import json
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

from biper_analysis._io import provenance as prov
from biper_analysis._version import __version__

KEYS = {"package", "version", "git_revision", "python", "config", "seed"}


def test_the_record_and_its_keys():
    config = {"omega0": 20.0, "b": [0.01, 0.05]}
    p = prov.provenance(config, seed=3, command="sweep", stage=2)
    assert KEYS | {"producer", "created", "stage"} == set(p)
    assert (p["package"], p["version"], p["python"]) == ("biper-analysis", __version__, platform.python_version())
    assert p["config"] == config and p["config"] is not config and p["seed"] == 3 and p["stage"] == 2
    assert p["producer"] == "biper-analysis sweep" and p["git_revision"] == prov.git_revision()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", p["created"])  # UTC, to the second
    assert json.loads(json.dumps(p, allow_nan=False)) == p  # strict JSON
    bare = prov.provenance(timestamp=False)
    assert set(bare) == KEYS and bare["config"] == {} and bare["seed"] is None  # no producer, no time


def _git(cwd, *args):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture()
def scratch_repo(tmp_path, monkeypatch):
    """A small git repository standing in for the source tree (the function reads _REPO_ROOT when called)."""
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "figures").mkdir()
    (repo / "paper_checks").mkdir()
    for name in ("pkg/mod.py", "figures/fig1.png", "paper_checks/REPORT.md"):
        (repo / name).write_text("v1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "init")
    monkeypatch.setattr(prov, "_REPO_ROOT", repo)
    prov.git_revision.cache_clear()
    yield repo
    prov.git_revision.cache_clear()


def test_git_revision_clean_and_dirty(scratch_repo):
    head = _git(scratch_repo, "rev-parse", "HEAD")
    assert re.fullmatch(r"[0-9a-f]{40}", head) and prov.git_revision() == head
    # the committed gallery is regenerated on purpose, and untracked files are not source: still clean
    (scratch_repo / "figures" / "fig1.png").write_text("v2\n")
    (scratch_repo / "paper_checks" / "REPORT.md").write_text("v2\n")
    (scratch_repo / "pkg" / "new.py").write_text("untracked\n")
    prov.git_revision.cache_clear()
    assert prov.git_revision() == head
    (scratch_repo / "pkg" / "mod.py").write_text("v2\n")  # a changed source file
    prov.git_revision.cache_clear()
    assert prov.git_revision() == head + "+dirty"


def test_git_revision_outside_a_repository(tmp_path, monkeypatch):
    monkeypatch.setattr(prov, "_REPO_ROOT", tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))  # do not find a repository above
    prov.git_revision.cache_clear()
    try:
        assert prov.git_revision() == "unknown"
    finally:
        prov.git_revision.cache_clear()


def test_compute_environment(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.delenv("MKL_CBWR", raising=False)
    env = prov.compute_environment()
    assert env["numpy"] == np.__version__ and env["cpu"] == prov.cpu_model() and env["cpu"]
    assert set(env["pinned"]) == set(prov.PINNED_ENV)
    assert env["pinned"]["OMP_NUM_THREADS"] == "1" and env["pinned"]["MKL_CBWR"] is None
    import torch

    env = prov.compute_environment()
    assert env["torch"] == str(torch.__version__) and env["torch_threads"] == torch.get_num_threads()
    assert isinstance(env["torch"], str) and env["torch_cpu_capability"]
    monkeypatch.delitem(sys.modules, "torch")  # torch not loaded: nothing about it is recorded
    assert "torch" not in prov.compute_environment()
