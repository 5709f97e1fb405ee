"""The notebooks: each .py (jupytext percent) and its paired .ipynb hold the same cells, and every notebook runs
top to bottom headless in its quick setting (BIPER_NOTEBOOK_QUICK=1) and prints a number the library decides."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parents[2] / "notebooks"
# One library number (or verdict) each notebook must print, so a notebook that silently computes nonsense fails.
EXPECTED = {
    "01_derivation": "QE_min peaks at x = 0.9548825 with 0.1028346",
    "02_witnesses": "x = 1        series E|sin| = 0.545165705363684  closed form 0.545165705363684",
    "03_priors_and_omega0": "target 0.1: ω0 = [18.70945",
    "04_train_and_fit": "weighted mean QE: predicted",
    "05_weight_laws": "AIC-best",
}
SOURCES = sorted(HERE.glob("0*.py"))
NEEDS_DATA = ("04_train_and_fit", "05_weight_laws")


def test_every_notebook_is_a_paired_py_and_ipynb():
    assert [p.stem for p in SOURCES] == sorted(EXPECTED)
    assert sorted(p.stem for p in HERE.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_ipynb_is_in_sync_with_its_py(source: Path):
    """`jupyter lab notebooks/` opens the .ipynb, the .py is what is reviewed: their cells must be the same."""
    from_py = jupytext.read(source)
    ipynb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]
    assert cells(from_py) == cells(ipynb), f"run `jupytext --sync {source.relative_to(HERE.parent)}`"
    assert not any(c.get("outputs") for c in ipynb.cells if c.cell_type == "code"), "commit notebooks unexecuted"


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs_headless(source: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    if (
        source.stem in NEEDS_DATA
        and not Path(os.environ.get("BIPER_DATA_DIR", "/usr/share/datasets/fashion-mnist")).is_dir()
    ):
        pytest.fail("Fashion-MNIST is not installed: apt-get install dataset-fashion-mnist (or set BIPER_DATA_DIR)")
    monkeypatch.setenv("BIPER_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("BIPER_SWEEP", str(tmp_path / "no-sweep"))  # trains its own tiny run, deterministic
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the tiny training runs gain nothing from more threads
    nb = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    NotebookClient(nb, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(HERE)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors[0].get("evalue") if errors else ""
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert EXPECTED[source.stem] in text
