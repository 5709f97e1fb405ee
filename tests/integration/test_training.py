"""Training loop on tiny data in the real formats: files, checkpoint format, metrics, resume, baselines and
checkpoint evaluation (the loop's pure parts and the learning-rate schedule: tests/unit/training)."""

from __future__ import annotations

import json
import math

import pytest
import torch

from biper_analysis.analysis.checkpoints import read_config_txt
from biper_analysis.training import TrainConfig, evaluate_checkpoint, loop, train_run
from tests.fake_datasets import write_fashion_mnist

OFFICIAL_KEYS = {"epoch", "model", "state_dict", "best_prec1", "optimizer", "lr_scheduler"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=96, n_test=40)


@pytest.fixture(scope="module")
def resnet_run(data_dir, tmp_path_factory):
    """One ResNet-20 run (1 + 1 epochs) shared by the evaluation tests, which only read it."""
    run = tmp_path_factory.mktemp("resnet") / "run"
    summary = train_run(tiny(data_dir, epochs1=1, epochs2=1, model="resnet20_1w1a", batch_size=48), run, quiet=True)
    return run, summary


def tiny(data_dir, **kw) -> TrainConfig:
    base = dict(
        model="mlp_1w1a",
        data_dir=str(data_dir),
        epochs1=2,
        epochs2=2,
        batch_size=32,
        lr1=0.05,
        lr2=0.01,
        warmup_epochs=1,
        device="cpu",
        augment=True,
        seed=3,
    )
    return TrainConfig(**{**base, **kw})


def test_run_files_checkpoint_and_metrics(data_dir, tmp_path):
    summary = train_run(tiny(data_dir), tmp_path / "run", quiet=True)
    run = tmp_path / "run"
    for stage in (1, 2):
        for name in ("checkpoint.pth.tar", "model_best.pth.tar", "config.txt"):
            assert (run / f"stage{stage}" / name).is_file()
    ckpt = torch.load(run / "stage2" / "checkpoint.pth.tar", map_location="cpu", weights_only=True)
    assert OFFICIAL_KEYS <= set(ckpt)
    assert (ckpt["omega0"], ckpt["stage"], ckpt["binarizer"], ckpt["surrogate"], ckpt["seed"]) == (
        20.0,
        2,
        "biper",
        "sine",
        3,
    )
    assert ckpt["binarized_layers"] == ["hidden.0.weight", "hidden.1.weight"]
    assert ckpt["config"]["model"] == "mlp_1w1a" and ckpt["epoch"] == 2
    assert {"version", "git_revision"} <= set(ckpt["provenance"])
    assert float(ckpt["state_dict"]["hidden.0.tau"]) == pytest.approx(0.0468)
    text = (run / "stage2" / "config.txt").read_text().splitlines()
    assert "freq:  20.0" in text and "model:  mlp_1w1a" in text and "stage2:  True" in text
    assert read_config_txt(run / "stage1" / "config.txt")["tau"] == "0.037"
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["epoch"]) for r in records] == [(1, 1), (1, 2), (2, 1), (2, 2)]
    # per-layer metrics of the stored weights, against a direct float64 computation (float32 weights: the
    # package takes sin in float32, so 1e-6 relative)
    w = ckpt["state_dict"]["hidden.1.weight"].double()
    lat = torch.sin(20.0 * w)
    layer = records[-1]["layers"][1]
    assert layer["b"] == pytest.approx(float(w.abs().mean()), rel=1e-12)
    direct = float((lat**2).mean()) - float(lat.abs().mean()) ** 2
    assert layer["qe_opt"] == pytest.approx(direct, rel=1e-6)
    assert layer["qe_gamma1"] == pytest.approx(float(((lat.abs() - 1.0) ** 2).mean()), rel=1e-6)
    assert layer["official_l1"] == pytest.approx(float((lat - torch.sign(lat)).abs().mean()), rel=1e-6)
    # the Laplace column: the closed form written out (not the library) at the same b
    x = 20.0 * layer["b"]
    e2, e1 = 2 * x * x / (1 + 4 * x * x), x / math.tanh(math.pi / (2 * x)) / (1 + x * x)
    assert layer["qe_laplace"] == pytest.approx(e2 - e1 * e1, rel=1e-12)
    # the initial weights are saved and rebuilt bit for bit from the seed
    init = torch.load(run / "init.pth.tar", map_location="cpu", weights_only=True)
    rebuilt = loop.initial_model(tiny(data_dir), num_classes=10, in_channels=1).state_dict()
    assert init["stage"] == 0 and set(init["state_dict"]) == set(rebuilt)
    assert all(torch.equal(init["state_dict"][k], rebuilt[k]) for k in rebuilt)
    assert summary["best_acc"] == max(r["test_acc"] for r in records[2:])
    assert summary["last_acc"] == records[-1]["test_acc"]
    # stage 2 started from stage 1's best, with beta = per-channel mean|w| (official main_stage2.py)
    best1 = torch.load(run / "stage1" / "model_best.pth.tar", map_location="cpu", weights_only=True)
    assert torch.equal(best1["state_dict"]["hidden.0.beta"], torch.ones(512))
    assert not torch.equal(ckpt["state_dict"]["hidden.0.beta"], torch.ones(512))


def _final_weights(run):
    return torch.load(run / "stage2" / "checkpoint.pth.tar", map_location="cpu", weights_only=True)["state_dict"]


@pytest.mark.parametrize("interrupt_at", [1, 3])  # mid stage 1; at the start of stage 2's second epoch
def test_resume_gives_identical_weights(data_dir, tmp_path, monkeypatch, interrupt_at):
    cfg = tiny(data_dir)
    train_run(cfg, tmp_path / "a", quiet=True)
    real = loop.train_one_epoch
    calls = {"n": 0}

    def flaky(*args, **kwargs):
        if calls["n"] == interrupt_at:
            raise KeyboardInterrupt
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(loop, "train_one_epoch", flaky)
    with pytest.raises(KeyboardInterrupt):
        train_run(cfg, tmp_path / "b", quiet=True)
    monkeypatch.setattr(loop, "train_one_epoch", real)
    with pytest.raises(ValueError, match="already holds a run"):
        train_run(cfg, tmp_path / "b", quiet=True)  # refuses to overwrite
    train_run(cfg, tmp_path / "b", resume=True, quiet=True)
    a, b = _final_weights(tmp_path / "a"), _final_weights(tmp_path / "b")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda p: [
        {k: v for k, v in json.loads(line).items() if k not in ("time_s", "wall_time")}
        for line in (p / "metrics.jsonl").read_text().splitlines()
    ]
    assert strip(tmp_path / "a") == strip(tmp_path / "b")


def test_same_seed_is_deterministic_and_seed_matters(data_dir, tmp_path):
    cfg = tiny(data_dir, epochs1=1, epochs2=1)
    train_run(cfg, tmp_path / "a", quiet=True)
    train_run(cfg, tmp_path / "b", quiet=True)
    train_run(cfg.replace(seed=4), tmp_path / "c", quiet=True)
    load = lambda p: torch.load(p / "stage1" / "checkpoint.pth.tar", weights_only=True)["state_dict"]
    a, b, c = load(tmp_path / "a"), load(tmp_path / "b"), load(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["fc0.weight"], c["fc0.weight"])


def test_sign_and_fp_baselines(data_dir, tmp_path):
    s = train_run(tiny(data_dir, binarizer="sign", epochs1=1, epochs2=1), tmp_path / "sign", quiet=True)
    assert set(s["stages"]) == {1, 2}
    assert read_config_txt(tmp_path / "sign" / "stage2" / "config.txt")["tau"] == "0.0"
    ck = torch.load(tmp_path / "sign" / "stage2" / "checkpoint.pth.tar", weights_only=True)
    assert ck["binarizer"] == "sign" and "qe_gamma1" not in s["layers"][0]
    assert s["layers"][0]["qe_laplace"] == pytest.approx(s["layers"][0]["b"] ** 2, rel=1e-12)  # Laplace: QE = b²
    f = train_run(tiny(data_dir, binarizer="fp", epochs1=1, epochs2=1), tmp_path / "fp", quiet=True)
    assert set(f["stages"]) == {1} and f["stages"][1]["epochs"] == 2
    assert not (tmp_path / "fp" / "stage2").exists()


def test_evaluate_ours_and_official_format_agree(data_dir, resnet_run, tmp_path):
    run, summary = resnet_run
    ours = evaluate_checkpoint(run, data_dir=str(data_dir), device="cpu")
    assert ours["test_acc"] == summary["stages"][2]["best_acc"] and ours["stage"] == 2
    # the same weights as an official file: only the official keys, DataParallel prefix, tau of shape [1],
    # and an official config.txt (timestamp line, `key:  value`, freq as a float) beside it
    ck = torch.load(run / "stage2" / "model_best.pth.tar", weights_only=True)
    sd = {("module." + k): (v.reshape(1) if k.endswith(".tau") else v) for k, v in ck["state_dict"].items()}
    off = tmp_path / "official"
    off.mkdir()
    torch.save({k: ck[k] for k in OFFICIAL_KEYS} | {"state_dict": sd}, off / "model_best.pth.tar")
    (off / "config.txt").write_text(
        "2024-03-01 12:00:00.000000\n\nmodel:  resnet20_1w1a\ndataset:  cifar10\n"
        "freq:  20.0\ntau:  0.0468\nstage2:  True\n"
    )
    res = evaluate_checkpoint(off / "model_best.pth.tar", dataset="fashion-mnist", data_dir=str(data_dir), device="cpu")
    assert res["format"] == "official" and (res["omega0"], res["stage"]) == (20.0, 2)
    assert res["test_acc"] == ours["test_acc"] and res["test_loss"] == pytest.approx(ours["test_loss"], rel=1e-6)


def test_official_file_without_stage_line_and_unknown_dataset(data_dir, resnet_run, tmp_path):
    run, summary = resnet_run
    off = tmp_path / "official"
    off.mkdir()
    for stage in (1, 2):
        ck = torch.load(run / f"stage{stage}" / "model_best.pth.tar", weights_only=True)
        torch.save({k: ck[k] for k in OFFICIAL_KEYS}, off / "model_best.pth.tar")
        # no stage2 line: the stage is read from β (ones after the official stage 1, mean|w| after stage 2)
        (off / "config.txt").write_text("2024-03-01 12:00:00\nmodel:  resnet20_1w1a\nfreq:  20.0\n")
        res = evaluate_checkpoint(
            off / "model_best.pth.tar", dataset="fashion-mnist", data_dir=str(data_dir), device="cpu"
        )
        assert res["stage"] == stage and res["test_acc"] == summary["stages"][stage]["best_acc"]
    (off / "config.txt").write_text("2024-03-01 12:00:00\nmodel:  resnet20_1w1a\nfreq:  20.0\ndataset:  cifar100\n")
    with pytest.raises(ValueError, match="cifar100"):
        evaluate_checkpoint(off / "model_best.pth.tar", data_dir=str(data_dir), device="cpu")


def test_eval_vgg_small_uses_its_conv0_stem(data_dir, tmp_path):
    """VGG-small's stem is conv0 (its conv1 is a binarised 128→128 conv): evaluation builds the right model. The
    widest network here, so the smallest data: 16 training and 8 test images."""
    summary = train_run(
        tiny(data_dir, epochs1=1, epochs2=1, model="vgg_small_1w1a", batch_size=16, train_limit=16, test_limit=8),
        tmp_path / "vgg",
        quiet=True,
    )
    res = evaluate_checkpoint(tmp_path / "vgg", data_dir=str(data_dir), device="cpu", test_limit=8)
    assert res["model"] == "vgg_small_1w1a" and res["stage"] == 2
    assert res["test_acc"] == summary["stages"][2]["best_acc"]


def test_training_figure_from_metrics(data_dir, tmp_path):
    from biper_analysis.plotting.training import fig_training, read_metrics

    train_run(tiny(data_dir, epochs1=1, epochs2=1), tmp_path / "run", quiet=True)
    records = read_metrics(tmp_path / "run")
    fig = fig_training(records, "tiny")
    assert len(fig.axes) == 3 and len(fig.axes[1].lines) == 2  # one line per binarised layer
    with pytest.raises(FileNotFoundError, match="metrics.jsonl"):
        read_metrics(tmp_path)


def test_resume_refuses_a_changed_recipe(data_dir, tmp_path):
    cfg = tiny(data_dir, epochs1=1, epochs2=1)
    train_run(cfg, tmp_path / "r", quiet=True)
    with pytest.raises(ValueError, match="started with omega0=20.0"):
        train_run(cfg.replace(omega0=30.0), tmp_path / "r", resume=True, quiet=True)


@pytest.mark.cuda
def test_eval_on_cuda_equals_cpu(data_dir, tmp_path):
    """The same checkpoint evaluated on CUDA (TF32 off) and on the CPU: the same accuracy to 0.01 pp."""
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    train_run(tiny(data_dir, epochs1=1, epochs2=1), tmp_path / "run", quiet=True)
    cpu = evaluate_checkpoint(tmp_path / "run", data_dir=str(data_dir), device="cpu")
    gpu = evaluate_checkpoint(tmp_path / "run", data_dir=str(data_dir), device="cuda")
    assert abs(cpu["test_acc"] - gpu["test_acc"]) <= 0.01


def test_official_summed_l1_of_a_trained_run_equals_the_official_loop(data_dir, tmp_path):
    """The official metric (official repository, cifar10/vis_get_QE.py), transcribed: for every binarised module
    of the loaded model, QE += mean|sin(f·w) − sign(sin(f·w))| and b += mean|w|, in the model's float32. fit-b's
    totals reproduce it to 1e-6 on a trained run."""
    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.training.nn import BinaryConv2d, BinaryLinear, build_model

    train_run(tiny(data_dir, omega0=30.0), tmp_path / "run", quiet=True)
    ckpt = torch.load(tmp_path / "run" / "stage2" / "model_best.pth.tar", map_location="cpu", weights_only=True)
    width = ckpt["state_dict"]["fc0.weight"].shape[0]
    model = build_model("mlp_1w1a", num_classes=10, in_channels=1, omega0=30.0, stage=2, width=width)
    model.load_state_dict(ckpt["state_dict"])
    qe, b, freq = 0.0, 0.0, 30.0
    for module in model.modules():
        if isinstance(module, (BinaryConv2d, BinaryLinear)):
            bw = torch.sin(freq * module.weight.detach())
            qe = qe + torch.mean(torch.abs(bw - torch.sign(bw)))
            b = b + torch.mean(torch.abs(module.weight.detach()))
    totals = analyze_checkpoint(tmp_path / "run").totals
    assert totals["n_layers_analysed"] == 2
    assert totals["official_l1_sum"] == pytest.approx(float(qe), rel=1e-6)
    assert totals["b_loc0_sum"] == pytest.approx(float(b), rel=1e-6)


def test_evaluate_a_narrow_mlp_run(data_dir, tmp_path):
    """An mlp_1w1a trained at another width (the main job's sweep uses 256) loads and evaluates to the accuracy
    it stored."""
    for width, channels in ((64, 1), (32, 3)):  # 3 channels: the one-channel images repeated, as in training
        run = tmp_path / f"run-{width}-{channels}"
        summary = train_run(tiny(data_dir, width=width, in_channels=channels), run, quiet=True)
        res = evaluate_checkpoint(run, data_dir=str(data_dir), device="cpu")
        assert res["test_acc"] == summary["stages"][2]["best_acc"] == res["stored_acc"]
