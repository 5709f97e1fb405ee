"""``biper-analysis train`` / ``eval``: a tiny run end to end, and bad input as one line, exit 2, nothing left."""

from __future__ import annotations

import pytest

from biper_analysis.cli import main
from tests.conftest import assert_one_line_error, run_cli, run_cli_in_process
from tests.fake_datasets import write_fashion_mnist


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=64, n_test=32)


def _train_args(data_dir, out, *extra):
    return [
        "train",
        "--model",
        "mlp_1w1a",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(data_dir),
        "--epochs1",
        "1",
        "--epochs2",
        "1",
        "--batch-size",
        "32",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


def test_train_then_eval_in_process(data_dir, tmp_path, capsys):
    assert main(_train_args(data_dir, tmp_path / "r", "--omega0", "25", "--seed", "1")) == 0
    line = capsys.readouterr().out
    assert "stage 2: best" in line
    assert main(["eval", str(tmp_path / "r"), "--data-dir", str(data_dir), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "ω0=25.0 stage 2" in out and "top-1" in out and "(32 test images)" in out


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--model", "resnet99"], ["unknown model 'resnet99'"]),
        (["--dataset", "svhn"], ["unknown dataset 'svhn'"]),
        (["--omega0", "0"], ["omega0 must be"]),
        (["--omega0", "-3"], ["omega0 must be"]),
        (["--epochs1", "-1"], ["epochs1 must be >= 1"]),
        (["--epochs2", "0"], ["epochs2 must be >= 1"]),
        (["--seed", "-1"], ["seed must be >= 0"]),
        (["--record-every-steps", "-1"], ["record_every_steps must be >= 0"]),
        (
            ["--binarizer", "sign", "--surrogate", "triangle"],
            ["surrogate 'triangle' applies to binarizer 'biper' only"],
        ),
        (["--width", "64", "--model", "resnet20_1w1a"], ["width applies to model 'mlp_1w1a' only"]),
        (["--set", "momentum"], ["--set 'momentum'"]),
        (["--set", "colour=red"], ["KEY one of"]),
        (["--binarizer", "xnor"], ["unknown binarizer"]),
        (["--resume"], ["no checkpoint"]),
        (["--preset", "huge"], ["unknown preset 'huge'"]),
    ],
)
def test_bad_input_one_line_no_run_dir(data_dir, tmp_path, capsys, extra, needles):
    out = tmp_path / "never"
    args = _train_args(data_dir, out)
    for flag, value in zip(extra[::2], extra[1::2]):  # later options override the defaults above
        args += [flag, value]
    if extra == ["--resume"]:
        args.append("--resume")
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(n in err[0] for n in needles), err
    assert not out.exists()


def test_missing_data_dir_subprocess(tmp_path):
    """The real entry point: one line naming the fix, exit 2, no traceback, no run directory."""
    proc = run_cli(
        "train",
        "--dataset",
        "fashion-mnist",
        "--data-dir",
        str(tmp_path / "nodata"),
        "--out",
        str(tmp_path / "run"),
        "--quiet",
        timeout=120,
    )
    assert_one_line_error(proc, "does not exist", "apt-get install dataset-fashion-mnist")
    assert not (tmp_path / "run").exists()


def test_eval_bad_inputs(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "missing.pth.tar")]) == 2
    assert "does not exist" in capsys.readouterr().err
    bad = tmp_path / "x.pth.tar"
    bad.write_text("not a checkpoint")
    assert main(["eval", str(bad)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_preset_short_picks_the_small_network(data_dir, tmp_path, capsys):
    args = [
        "train",
        "--preset",
        "short",
        "--data-dir",
        str(data_dir),
        "--epochs1",
        "1",
        "--epochs2",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(tmp_path / "s"),
        "--set",
        "momentum=0.8",
    ]
    assert main(args) == 0
    import torch

    ckpt = torch.load(tmp_path / "s" / "stage1" / "checkpoint.pth.tar", weights_only=True)
    assert ckpt["model"] == "mlp_1w1a" and ckpt["config"]["batch_size"] == 256 and not ckpt["config"]["augment"]
    assert ckpt["config"]["momentum"] == 0.8
    env = ckpt["provenance"]["environment"]
    assert env["torch_threads"] == 1 and env["torch"] == torch.__version__ and "cpu" in env


def test_the_old_preset_name_still_works_with_a_warning(data_dir, tmp_path, capsys):
    args = [
        "train",
        "--preset",
        "anchor",
        "--model",
        "mlp_1w1a",
        "--data-dir",
        str(data_dir),
        "--epochs1",
        "1",
        "--epochs2",
        "1",
        "--batch-size",
        "32",
        "--no-augment",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(tmp_path / "a"),
    ]
    assert main(args) == 0
    assert "'anchor' is now called 'official'" in capsys.readouterr().err


def test_the_option_list_is_pinned():
    """Every option of today's train command keeps its name (the options are generated from TrainConfig)."""
    from biper_analysis.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["train"]
    flags = {opt for action in sub._actions for opt in action.option_strings}
    assert flags >= {
        "--model",
        "--dataset",
        "--data-dir",
        "--binarizer",
        "--surrogate",
        "--omega0",
        "--epochs1",
        "--epochs2",
        "--batch-size",
        "--lr1",
        "--lr2",
        "--weight-decay1",
        "--weight-decay2",
        "--tau1",
        "--tau2",
        "--warmup-epochs",
        "--no-augment",
        "--preset",
        "--out",
        "--device",
        "--train-limit",
        "--test-limit",
        "--resume",
        "--seed",
        "--quiet",
        "--threads",
        "--set",
        "--width",
        "--test-batch-size",
        "--momentum",
        "--in-channels",
    }


def test_the_command_list_and_the_convergence_options_are_pinned():
    from biper_analysis.cli import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert set(commands) == {
        "derive",
        "qe",
        "omega0",
        "sweep",
        "verify",
        "fit-b",
        "train",
        "eval",
        "train-sweep",
        "convergence",
        "figures",
        "check",
    }
    flags = {opt for action in commands["convergence"]._actions for opt in action.option_strings}
    assert flags == {"-h", "--help", "--out", "--seeds", "--preset", "--data-dir", "--jobs"}


def test_convergence_refuses_before_training(data_dir, tmp_path):
    """Each refusal is one line, exit 2, before any run folder is made: a file as --out, a study file it did not
    write, an unknown preset, repeated seeds, missing data."""
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "convergence_study.json").write_text('{"my": "study"}')
    cases = [
        (("--out", str(afile)), "is a file"),
        (("--out", str(mine)), "was not written by `biper-analysis convergence`"),
        (("--out", str(tmp_path / "a"), "--preset", "huge", "--data-dir", str(data_dir)), "unknown preset 'huge'"),
        (("--out", str(tmp_path / "a"), "--seeds", "0,0"), "repeat"),
        (("--out", str(tmp_path / "a"), "--data-dir", str(tmp_path / "nodata")), "does not exist"),
    ]
    for args, needle in cases:
        assert_one_line_error(run_cli_in_process("convergence", *args), needle)
    assert afile.read_text() == "keep me" and sorted(p.name for p in mine.iterdir()) == ["convergence_study.json"]
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_convergence_study_end_to_end(data_dir, tmp_path, monkeypatch):
    """A real study on a tiny preset (1 + 1 epochs, so E and 2E differ): two cached sweeps, the study file with its
    provenance, one verdict line per arm; a rerun reuses every run and replaces its own study file."""
    from biper_analysis.training import config

    monkeypatch.setitem(
        config.PRESETS,
        "tiny",
        {**config.PRESETS["short"], "epochs1": 1, "epochs2": 1, "width": 16, "train_limit": 64, "test_limit": 32},
    )
    args = (
        "convergence",
        "--out",
        str(tmp_path / "c"),
        "--preset",
        "tiny",
        "--seeds",
        "0",
        "--jobs",
        "1",
        "--data-dir",
        str(data_dir),
    )
    proc = run_cli_in_process(*args)
    assert proc.returncode == 0, proc.stderr
    assert "biper: mean best" in proc.stdout and "sign: mean best" in proc.stdout
    from biper_analysis.training.convergence import load_study

    study = load_study(tmp_path / "c" / "convergence_study.json")
    assert study["recipe_2E"]["epochs1"] == 2 * study["recipe_E"]["epochs1"] == 2
    assert study["provenance"]["config"] == {"seeds": [0], "preset": "tiny"}
    again = run_cli_in_process(*args)
    assert again.returncode == 0 and again.stdout.count("reused") == 4, again.stdout
