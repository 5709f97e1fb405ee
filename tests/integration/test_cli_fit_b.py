"""``biper-analysis fit-b`` end to end: outputs, the JSON contract, and one-line errors on bad input. The full
run with every output and the unsafe pickle run as real subprocesses; the rest through cli.main in this process."""

from __future__ import annotations

import builtins
import csv
import json
import pickle

import pytest
import torch

from biper_analysis.cli import main
from tests.checkpoint_factory import binarised_conv_names, make_state_dict, official_checkpoint, save_official
from tests.conftest import assert_one_line_error, run_cli, run_cli_in_process

R20 = "resnet20_1w1a"


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    return save_official(tmp_path_factory.mktemp("cli"), R20, omega0=20.0, module_prefix=True)


def test_table_json_csv_plot(official, tmp_path):
    out_json, out_csv, out_png = tmp_path / "r.json", tmp_path / "r.csv", tmp_path / "r.png"
    proc = run_cli(
        "fit-b", str(official.parent), "--json", str(out_json), "--csv", str(out_csv), "--plot", str(out_png)
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"reading {official}"  # the file chosen in the run folder is named
    assert lines[1].split()[:3] == ["name", "n", "b_loc0"]  # the JSON/CSV column names
    assert [line.split()[0] for line in lines[2:20]] == binarised_conv_names(R20)
    assert "summed L1 QE" in proc.stdout
    d = json.loads(out_json.read_text())
    assert d["omega0"] == 20.0 and len(d["layers"]) == 18 and "provenance" in d
    assert len(list(csv.DictReader(line for line in out_csv.open() if not line.startswith("#")))) == 18
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


def test_json_stdout_is_exactly_one_object(official):
    proc = run_cli_in_process("fit-b", str(official), "--json", "-", "--gamma", "0.6")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)  # fails if anything else is on stdout
    assert {"omega0", "checkpoint", "layers", "totals"} <= set(d)
    assert d["gamma"] == 0.6 and d["layers"][0]["gamma"] == 0.6
    assert {
        "name",
        "n",
        "b",
        "b_ci",
        "loc",
        "b_loc0",
        "ks_stat",
        "gaussian_sigma",
        "delta_aic",
        "gamma",
        "qe_pred",
        "qe_emp",
        "qe_emp_se",
        "rel_err",
        "official_l1",
    } <= set(d["layers"][0])
    # stderr holds at most the progress note (printed when the analysis takes more than a second)
    assert all(line.startswith("biper-analysis fit-b: analysing") for line in proc.stderr.splitlines())


def test_model_is_the_deprecated_name_of_law(official, capsys):
    """--model still works for a release, with exactly one warning line on stderr."""
    assert main(["fit-b", str(official), "--model", "laplace,gaussian", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == [
        "biper-analysis fit-b: warning: --model is deprecated and will be removed; use --law (same values)"
    ]
    assert json.loads(out)["models"] == ["laplace", "gaussian"]
    assert main(["fit-b", str(official), "--law", "gaussian", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["models"] == ["laplace", "gaussian"]


def test_safetensors_with_layers_and_omega0(tmp_path):
    from safetensors.numpy import save_file

    sd = {k: v.numpy() for k, v in make_state_dict(R20).items()}
    path = tmp_path / "m.safetensors"
    save_file(sd, str(path))
    proc = run_cli_in_process(
        "fit-b", str(path), "--omega0", "20", "--layers", r"^layer3.*conv.*\.weight$", "--json", "-"
    )
    assert proc.returncode == 0, proc.stderr
    assert [r["name"] for r in json.loads(proc.stdout)["layers"]] == binarised_conv_names(R20)[12:]


def test_partial_nan_is_a_warning_not_an_error(tmp_path, capsys):
    sd = make_state_dict(R20)
    sd["layer2.0.conv1.weight"][:] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(official_checkpoint(sd, R20), path)
    assert main(["fit-b", str(path), "--omega0", "20", "--json", "-"]) == 0
    out, err = capsys.readouterr()
    assert "layer2.0.conv1.weight" in err and "NaN" in err
    assert json.loads(out)["totals"]["n_layers_analysed"] == 17


def test_bad_inputs_one_line_exit_2(tmp_path, official):
    marker = tmp_path / "MARKER"

    class Evil:
        def __reduce__(self):
            return (builtins.open, (str(marker), "w"))

    (tmp_path / "evil.pth").write_bytes(pickle.dumps({"state_dict": {"a.weight": torch.zeros(2)}, "x": Evil()}))
    data = official.read_bytes()
    (tmp_path / "trunc.pth.tar").write_bytes(data[:1000])
    (tmp_path / "empty_dir").mkdir()
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "plain.pth")
    no_cfg = tmp_path / "nocfg"
    no_cfg.mkdir()
    (no_cfg / "model_best.pth.tar").write_bytes(data)
    sd = make_state_dict(R20)
    for k in binarised_conv_names(R20):
        sd[k][:] = float("inf")
    torch.save(official_checkpoint(sd, R20), tmp_path / "allinf.pth")
    cases = [
        ((str(tmp_path / "missing.pth"),), "does not exist"),
        ((str(tmp_path / "empty_dir"),), "no checkpoint found"),
        ((str(tmp_path / "plain.pth"), "--omega0", "20"), "no binarised layers"),
        ((str(no_cfg),), "pass omega0"),
        ((str(tmp_path / "allinf.pth"), "--omega0", "20"), "NaN/inf"),
        ((str(official), "--layers", "("), "regular expression"),
        ((str(official), "--gamma", "-1"), "gamma"),
        ((str(official), "--omega0", "-3"), "omega0"),
        ((str(official), "--csv", str(tmp_path / "nodir" / "x.csv")), "does not exist"),
        ((str(tmp_path / "trunc.pth.tar"), "--omega0", "20"), "truncated"),
    ]
    # in-process through cli.main (the same code path as the console script, without a torch import per case)
    for args, needle in cases:
        proc = run_cli_in_process("fit-b", *args)
        assert_one_line_error(proc, needle)
        assert proc.stdout == ""
    # the unsafe pickle in a real subprocess: nothing of it runs, and no traceback slips out of the process
    proc = run_cli("fit-b", str(tmp_path / "evil.pth"), "--omega0", "20")
    assert_one_line_error(proc, "refusing")
    assert proc.stdout == "" and not marker.exists()


@pytest.mark.slow
def test_checkpoint_of_a_real_training_run(tmp_path):
    """A tiny real BiPer run (ResNet-20, 1 + 1 epochs on 256 Fashion-MNIST images, ~20 s on 2 CPUs): fit-b
    reads the run directory, takes ω0 and the layer list from the checkpoint, and qe_emp equals a direct
    computation on the stored weights."""
    import numpy as np

    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.training import TrainConfig, train_run

    data = "/usr/share/datasets/fashion-mnist"
    cfg = TrainConfig(
        model="resnet20_1w1a",
        dataset="fashion-mnist",
        data_dir=data,
        omega0=25.0,
        epochs1=1,
        epochs2=1,
        batch_size=128,
        train_limit=256,
        test_limit=128,
        device="cpu",
        augment=False,
    )
    run = tmp_path / "run"
    train_run(cfg, run, quiet=True)
    rep = analyze_checkpoint(run)
    assert rep.checkpoint["path"] == str(run / "stage2" / "model_best.pth.tar")
    assert rep.checkpoint["format"] == "biper-analysis" and rep.checkpoint["omega0_source"] == "checkpoint"
    assert rep.omega0 == 25.0 and [r["name"] for r in rep.rows] == binarised_conv_names(R20)
    sd = torch.load(run / "stage2" / "model_best.pth.tar", map_location="cpu", weights_only=True)["state_dict"]
    for row in rep.rows:
        w = sd[row["name"]].double().numpy().ravel()
        s = np.sin(25.0 * w)
        assert row["qe_emp"] == pytest.approx(np.mean(s * s) - np.mean(np.abs(s)) ** 2, rel=1e-6)
        assert row["b_loc0"] == pytest.approx(np.mean(np.abs(w)), rel=1e-12)
    proc = run_cli("fit-b", str(run), "--json", "-")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["totals"]["n_layers"] == 18


def test_run_directory_of_a_real_mlp_run(tmp_path, capsys):
    """A real (tiny, ~4 s) training run of the small MLP: the run directory is read through the CLI in-process."""
    import numpy as np

    from biper_analysis.training import TrainConfig, train_run

    cfg = TrainConfig(
        model="mlp_1w1a",
        dataset="fashion-mnist",
        data_dir="/usr/share/datasets/fashion-mnist",
        omega0=25.0,
        epochs1=1,
        epochs2=1,
        batch_size=128,
        train_limit=256,
        test_limit=128,
        device="cpu",
        augment=False,
    )
    run = tmp_path / "run"
    train_run(cfg, run, quiet=True)
    assert main(["fit-b", str(run), "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    ck = torch.load(run / "stage2" / "model_best.pth.tar", map_location="cpu", weights_only=True)
    assert d["omega0"] == 25.0 and d["checkpoint"]["path"].endswith("stage2/model_best.pth.tar")
    assert [r["name"] for r in d["layers"]] == ck["binarized_layers"]
    for row in d["layers"]:
        w = ck["state_dict"][row["name"]].double().numpy().ravel()
        s = np.sin(25.0 * w)
        assert row["qe_emp"] == pytest.approx(np.mean(s * s) - np.mean(np.abs(s)) ** 2, rel=1e-6)


def test_a_text_file_is_not_called_unsafe(tmp_path):
    path = tmp_path / "notes.pth"
    path.write_text("not a checkpoint\n")
    proc = run_cli_in_process("fit-b", str(path), "--omega0", "20")
    assert_one_line_error(proc, "not a PyTorch checkpoint")
