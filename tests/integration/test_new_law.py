"""Adding a weight law is one file: a law defined in this test module, and registered only while a test runs, is
offered and fitted by fit-b (``--law all``), saved in and read back from the law file, drawn in the figures in its
own style, and is part of the training sweep's analysis cache key."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch

from biper_analysis.cli import main
from biper_analysis.laws import Laplace, Law, law_names, registered
from biper_analysis.laws.base import POSITIVE
from biper_analysis.laws.lawfile import load_law
from tests.checkpoint_factory import official_checkpoint, write_config_txt


@dataclass(frozen=True)
class TwiceB(Law):
    """Laplace(0, c/2), parameterised by c = 2b: a trivial one-parameter law with an iterative (subsample) fit."""

    c: float
    name = "twice-b"
    order = 95
    style = ("C9", ":")
    version = "test-1"
    fittable = True
    omega0 = None
    PARAMS = {"c": POSITIVE}

    @property
    def scale(self) -> float:
        return 0.5 * self.c

    def _laplace(self) -> Laplace:
        return Laplace(0.5 * self.c)

    def logpdf(self, w: Any) -> np.ndarray:
        return self._laplace().logpdf(w)

    def cdf(self, w: Any) -> np.ndarray:
        return self._laplace().cdf(w)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return self._laplace().sample(rng, size)

    def variance(self) -> float:
        return self._laplace().variance()

    def _moments(self, omega: np.ndarray) -> tuple[Any, Any]:
        return self._laplace()._moments(omega)

    @classmethod
    def fit_sample(cls, sample, omega0, fitted):
        return cls(2.0 * float(np.mean(np.abs(sample)))), {
            "n_fit": sample.size,
            "converged": True,
            "iterations": 0,
            "method": "c = 2 mean|w|",
        }


@pytest.fixture
def twice_b():
    before = law_names()
    with registered(TwiceB):
        yield TwiceB
    assert law_names() == before and "twice-b" not in law_names()


def _two_layers(tmp_path, seed: int = 0):
    """A plain state_dict of two binarised-size layers (Laplace weights), read with --layers and --omega0."""
    rng = np.random.default_rng(seed)
    sd = {
        f"l{i}.weight": torch.tensor(rng.laplace(0.0, b, (64, 64)), dtype=torch.float32)
        for i, b in enumerate((0.02, 0.06))
    }
    path = tmp_path / "two.pth"
    torch.save(sd, path)
    return path


def test_fit_b_fits_saves_and_reads_back_a_new_law(twice_b, tmp_path, capsys):
    path = _two_layers(tmp_path)
    out, saved, png = tmp_path / "r.json", tmp_path / "laws.json", tmp_path / "r.png"
    assert (
        main(
            [
                "fit-b",
                str(path),
                "--omega0",
                "20",
                "--layers",
                r"\.weight$",
                "--law",
                "all",
                "--jobs",
                "1",
                "--json",
                str(out),
                "--save-laws",
                str(saved),
                "--plot",
                str(png),
            ]
        )
        == 0
    )
    assert "twice-b" in capsys.readouterr().out  # the table's per-law summary line
    report = json.loads(out.read_text())
    assert report["models"][-1] == "twice-b" and report["models"][:-1] == list(law_names(fittable=True))[:-1]
    for row in report["layers"]:
        entry, lap = row["models"]["twice-b"], row["models"]["laplace"]
        assert entry["n_params"] == 1 and entry["fit_info"]["method"] == "c = 2 mean|w|"
        assert entry["params"]["c"] == pytest.approx(2 * row["b_loc0"], rel=1e-12)
        assert entry["qe_pred"] == pytest.approx(lap["qe_pred"], rel=1e-12)  # the same law as Laplace
        assert entry["loglik"] == pytest.approx(lap["loglik"], rel=1e-12) and math.isfinite(entry["oos"]["qe_pred"])
        law = load_law(f"{saved}:{row['name']}:twice-b")
        assert isinstance(law, TwiceB) and law.c == entry["params"]["c"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_figures_draw_the_new_law_in_its_style(twice_b, tmp_path):
    import matplotlib.pyplot as plt

    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary, fig_layer_laws

    report = analyze_checkpoint(_two_layers(tmp_path), omega0=20.0, layers=r"\.weight$", laws=("twice-b",))
    assert report.law_names == ("laplace", "twice-b")
    for fig in (fig_checkpoint_summary(report), fig_layer_laws(report, "l0.weight")):
        lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label() == "twice-b"]
        assert lines and all(ln.get_color() == "C9" and ln.get_linestyle() == ":" for ln in lines)
        plt.close(fig)


def test_the_analysis_cache_key_follows_the_registry(tmp_path):
    """training.sweep caches a run's analysis under the laws' (name, version) list: registering a law re-analyses
    the run (with the new law in it), an unchanged registry reuses the cache."""
    from biper_analysis.training.sweep import ANALYSIS_FILE, _analyse

    rng = np.random.default_rng(1)
    w = rng.laplace(0.0, 0.03, (32, 16, 3, 3)).astype(np.float32)
    sd = {"layer1.0.conv1.weight": torch.from_numpy(w), "layer1.0.conv1.alpha": torch.ones(32, 1, 1)}
    run = tmp_path / "run"
    run.mkdir()
    torch.save(official_checkpoint(sd, "resnet20_1w1a"), run / "model_best.pth.tar")
    write_config_txt(run, "resnet20_1w1a", 20.0)
    first = _analyse(run)
    assert "twice-b" not in first["models"]
    stamp = (run / ANALYSIS_FILE).stat().st_mtime_ns
    with registered(TwiceB):
        second = _analyse(run)
        assert second["models"][-1] == "twice-b"
        cached = json.loads((run / ANALYSIS_FILE).read_text())
        assert ["twice-b", "test-1"] in cached["laws"]
        stamp2 = (run / ANALYSIS_FILE).stat().st_mtime_ns
        assert stamp2 != stamp and _analyse(run) == second  # reused: the file is not rewritten
        assert (run / ANALYSIS_FILE).stat().st_mtime_ns == stamp2
    assert "twice-b" not in _analyse(run)["models"]
