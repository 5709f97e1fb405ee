"""The main job's pipeline on a tiny sweep: train-sweep (cached, strict JSON) → figures → check."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_one_line_error, run_cli
from tests.fake_datasets import write_fashion_mnist


def _strict_json(path: Path) -> dict:
    def refuse(name: str) -> None:
        raise AssertionError(f"{path} holds {name}: not valid JSON")
    return json.loads(path.read_text(), parse_constant=refuse)


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sweep")
    data = write_fashion_mnist(root / "data", n_train=256, n_test=128)
    out = root / "runs"
    args = ["train-sweep", "--out", str(out), "--omega0", "5,20", "--seeds", "0,1", "--epochs1", "1",
            "--epochs2", "1", "--data-dir", str(data)]
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("trained") == 6 and "reused" not in first.stdout
    second = run_cli(*args)  # cached: nothing is retrained
    assert second.returncode == 0 and second.stdout.count("reused") == 6, second.stdout
    return out


def test_sweep_json_has_runs_groups_and_provenance(sweep_dir: Path):
    sweep = _strict_json(sweep_dir / "sweep.json")
    assert {r["name"] for r in sweep["runs"]} == {"biper-w5-s0", "biper-w5-s1", "biper-w20-s0", "biper-w20-s1",
                                                  "sign-s0", "sign-s1"}
    groups = {(g["binarizer"], g["omega0"]): g for g in sweep["groups"]}
    assert set(groups) == {("biper", 5.0), ("biper", 20.0), ("sign", None)}
    g = groups[("biper", 20.0)]
    accs = [r["best_acc"] for r in sweep["runs"] if r["binarizer"] == "biper" and r["omega0"] == 20.0]
    assert g["best_acc"]["n"] == 2 and g["best_acc"]["mean"] == pytest.approx(sum(accs) / 2, abs=1e-12)
    row = sweep["runs"][0]["analysis"]["layers"][0]
    assert 0.0 < row["normalised"]["biper_emp"] < 1.0 and row["normalised"]["sign_pred"] == pytest.approx(0.5)
    assert sweep["provenance"]["git_revision"] and sweep["plan"]["seeds"] == [0, 1]


def test_figures_and_checks_read_the_sweep(sweep_dir: Path, tmp_path: Path):
    figs = run_cli("figures", "--out", str(tmp_path / "figs"), "--runs", str(sweep_dir), "--only", "fig6",
                   "--only", "fig7", "--only", "fig8", "--formats", "png")
    assert figs.returncode == 0, figs.stderr
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "fig6_network.png", "fig7_predicted_vs_measured.png", "fig8_accuracy_vs_omega0.png"]
    report = tmp_path / "REPORT.md"
    check = run_cli("check", "--runs", str(sweep_dir), "--only", "biper_beats_sign", "--only", "laplace",
                    "--report", str(report))
    assert check.returncode in (0, 1), check.stderr  # a failed claim is a finding, not a crash
    text = report.read_text()
    assert "n=2" in text and "BiPer layers" in text


def test_figures_without_a_sweep_say_which_command_makes_it(tmp_path: Path):
    # the default runs/sweep is absent here: skip the network figures and name the command that makes them
    proc = run_cli("figures", "--out", str(tmp_path / "f"), "--only", "fig7", cwd=tmp_path)
    assert proc.returncode == 0 and "biper-analysis train-sweep" in proc.stderr
    assert not any((tmp_path / "f").iterdir())
    # a --runs folder the user named must exist: a typo is an error, not a silent skip
    for command in ("figures", "check"):
        proc = run_cli(command, "--runs", str(tmp_path / "typo"), "--only", "fig7" if command == "figures" else "x",
                       cwd=tmp_path)
        assert_one_line_error(proc, "holds no sweep.json")


def test_train_sweep_bad_omega0_is_one_line(tmp_path: Path):
    proc = run_cli("train-sweep", "--out", str(tmp_path / "r"), "--omega0", "0,20")
    assert_one_line_error(proc, "--omega0")
    assert not (tmp_path / "r").exists()
