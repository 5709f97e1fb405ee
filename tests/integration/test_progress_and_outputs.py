"""Where outputs go by default and what a command says while it works: `figures` into ./figures-out/ (never the
tracked gallery), `check` into ./check-out/REPORT.md, a "wrote …" line for every file, progress on stderr from the
start (and none with --quiet), and tests that leave no temporary folders."""

from __future__ import annotations

import json
import tempfile

from biper_analysis.cli import main
from tests.checkpoint_factory import save_official
from tests.conftest import run_cli
from tests.fake_datasets import write_fashion_mnist


def test_figures_default_to_figures_out_and_count_as_they_go(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["figures", "--only", "fig3", "--formats", "png"]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["wrote figures-out/fig3_qe_min.{png} [1/1]"]
    assert err.splitlines()[-1] == "rendering 1 figures into figures-out/ (a line as each is written)"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figures-out"]  # never ./figures, the gallery
    assert main(["figures", "--only", "fig3", "--formats", "png", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "rendering" not in err and out.startswith("wrote figures-out/fig3_qe_min.{png} (replacing")


def test_check_reports_progress_and_where_it_wrote(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--quick", "--only", "qe_min_peak"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["[1/1] check_qe_min_peak ..."]
    assert out.splitlines()[-1] == "wrote check-out/REPORT.md; 1 of 1 claims not failed"


def test_fit_b_says_wrote_for_every_file(tmp_path, capsys):
    ckpt = save_official(tmp_path / "ckpt", "resnet20_1w1a", omega0=20.0)
    out = tmp_path / "out"
    out.mkdir()
    assert (
        main(
            [
                "fit-b",
                str(ckpt),
                "--layers",
                r"^layer3\.2\.conv[12]\.weight$",
                "--model",
                "laplace,gaussian",
                "--json",
                str(out / "r.json"),
                "--csv",
                str(out / "r.csv"),
                "--plot",
                str(out / "r.png"),
                "--plot-layers",
                str(out / "layers"),
                "--save-laws",
                str(out / "laws.json"),
                "--jobs",
                "1",
            ]
        )
        == 0
    )
    stdout = capsys.readouterr().out
    wrote = [line for line in stdout.splitlines() if line.startswith("wrote ")]
    assert wrote == [
        f"wrote {out / 'r.png'}",
        f"wrote {out / 'layers'}/ (2 layer figures)",
        f"wrote {out / 'r.csv'}",
        f"wrote {out / 'r.json'}",
        f"wrote {out / 'laws.json'}",
    ]
    assert sorted(p.name for p in (out / "layers").iterdir()) == [
        "layer3.2.conv1.weight.png",
        "layer3.2.conv2.weight.png",
    ]
    # with --json - the JSON alone is standard output: the "wrote" lines go to stderr
    assert (
        main(
            [
                "fit-b",
                str(ckpt),
                "--layers",
                r"^layer3\.2\.conv1\.weight$",
                "--json",
                "-",
                "--csv",
                str(out / "r.csv"),
                "--quiet",
            ]
        )
        == 0
    )
    stdout, stderr = capsys.readouterr()
    assert json.loads(stdout)["layers"][0]["name"] == "layer3.2.conv1.weight"
    assert stderr.splitlines() == [
        f"biper-analysis fit-b: replacing {out / 'r.csv'} (an earlier output of this command)",
        f"wrote {out / 'r.csv'}",
    ]


def test_train_shows_progress_from_the_start_and_says_what_it_wrote(tmp_path, capsys):
    data = write_fashion_mnist(tmp_path / "data", n_train=64, n_test=32)
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "--model",
                "mlp_1w1a",
                "--data-dir",
                str(data),
                "--epochs1",
                "2",
                "--epochs2",
                "1",
                "--batch-size",
                "32",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    stdout, stderr = capsys.readouterr()
    err = stderr.splitlines()
    assert err[0] == (
        f"training mlp_1w1a (biper ω0=20) on fashion-mnist (64 training, 32 test images) into {out} "
        "(stage 1: 2 epochs, stage 2: 1 epochs); one line per epoch follows"
    )
    assert err[1].startswith("stage 1 epoch 1/2: ") and err[1].endswith(" left")  # with an estimate
    assert err[3].startswith("stage 2 epoch 1/1: ") and not err[3].endswith(" left")
    assert stdout.splitlines()[-1] == (
        f"wrote {out}/ (init.pth.tar, stage1/{{checkpoint.pth.tar,"
        "model_best.pth.tar,config.txt}, stage2/{checkpoint.pth.tar,"
        "model_best.pth.tar,config.txt}, metrics.jsonl)"
    )


def test_run_cli_leaves_no_temporary_folder(tmp_path, monkeypatch):
    """`make test` left ~92 empty /tmp/biper-cli-* folders per run: the folder run_cli makes is removed again."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's own temporary root
    proc = run_cli("qe", "--omega0", "20", "--b", "0.05")
    assert proc.returncode == 0, proc.stderr
    assert list(tmp_path.iterdir()) == []
