"""Every notebook runs top to bottom headless in its quick setting (BIPER_NOTEBOOK_QUICK=1), under 2 minutes."""
from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

# One library number each notebook must print (so a notebook that silently computes nonsense fails).
EXPECTED = {
    "01_derivation": "QE_min peaks at x = 0.9548825 with 0.1028346",
    "02_witnesses": "x = 1        series E|sin| = 0.545165705363684  closed form 0.545165705363684",
    "03_priors_and_omega0": "target 0.1: ω0 = [18.70945",
    "04_train_and_fit": "weighted mean QE: predicted",
}
NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))


def test_all_four_notebooks_exist():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless(path: Path, monkeypatch: pytest.MonkeyPatch):
    if path.name.startswith("04") and not Path(os.environ.get("BIPER_DATA_DIR", "/usr/share/datasets/fashion-mnist")).is_dir():
        pytest.skip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
    monkeypatch.setenv("BIPER_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert EXPECTED[path.stem] in text
