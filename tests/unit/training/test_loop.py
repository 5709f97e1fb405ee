"""The training loop's pure parts, on a tiny MLP and no data files: per-layer metrics against weight_stats and the
closed form, checkpoint and initial-weight records (official keys, ours, provenance), config.txt as the official
stage-2 script parses it, the run-folder refusals, devices, per-epoch seeds, and evaluation against a direct
computation. Whole runs (resume, baselines, evaluation of saved files) are in tests/integration/test_training.py."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from biper_analysis.analysis.checkpoints import read_config_txt
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats
from biper_analysis.training import loop
from biper_analysis.training.config import TrainConfig
from biper_analysis.training.data import ImageData

OFFICIAL_KEYS = {"epoch", "model", "state_dict", "best_prec1", "optimizer", "lr_scheduler"}
PROVENANCE_KEYS = {"package", "version", "git_revision", "python", "config", "seed", "producer", "created"}


def tiny_config(**changes) -> TrainConfig:
    return TrainConfig(
        **{
            "model": "mlp_1w1a",
            "width": 16,
            "seed": 5,
            "device": "cpu",
            "epochs1": 3,
            "epochs2": 2,
            "warmup_epochs": 1,
            **changes,
        }
    )


def tiny_model(cfg: TrainConfig) -> torch.nn.Module:
    return loop.initial_model(cfg, num_classes=10, in_channels=1)


@pytest.mark.parametrize("binarizer", ["biper", "sign", "fp"])
def test_layer_metrics_are_weight_stats_of_each_layer(binarizer):
    """Each row is weight_stats of that layer's latent weights (the one definition: equal to the last bit), and
    qe_laplace the closed form at the same b (BiPer: QE_min; sign: b²)."""
    cfg = tiny_config(binarizer=binarizer, omega0=25.0)
    model = tiny_model(cfg)
    rows = loop.layer_metrics(model, binarizer, 25.0)
    state = model.state_dict()
    assert [r["name"] for r in rows] == ["hidden.0.weight", "hidden.1.weight"]
    for row in rows:
        w = state[row["name"]].numpy()
        if binarizer == "fp":
            assert row == {"name": row["name"], "b": weight_stats(w).b}
            continue
        st = weight_stats(w, 25.0 if binarizer == "biper" else None)
        assert row["b"] == st.b
        if binarizer == "biper":
            assert (row["gamma_opt"], row["qe_opt"], row["qe_gamma1"], row["official_l1"], row["normalised_qe"]) == (
                st.e_abs_sin,
                st.qe(),
                st.qe(1.0),
                st.official_l1,
                st.normalised_qe(),
            )
            assert row["qe_laplace"] == float(analytic.qe(25.0, st.b))
        else:
            assert (row["gamma_opt"], row["qe_opt"], row["normalised_qe"]) == (
                st.b,
                st.qe_sign(),
                st.normalised_qe_sign(),
            )
            assert row["qe_laplace"] == pytest.approx(st.b**2, rel=1e-14)


def test_initial_model_is_rebuilt_bit_for_bit_from_the_seed():
    cfg = tiny_config()
    a, b = tiny_model(cfg).state_dict(), tiny_model(cfg).state_dict()
    other = tiny_model(cfg.replace(seed=6)).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["hidden.0.weight"], other["hidden.0.weight"])
    assert a["hidden.0.weight"].shape == (16, 16)


def test_checkpoint_record_has_the_official_keys_ours_and_provenance():
    cfg = tiny_config()
    core = tiny_model(cfg)
    opt = torch.optim.SGD(core.parameters(), lr=0.1, momentum=0.9)
    rec = loop.checkpoint_record(core, opt, cfg, stage=1, epochs_done=2, best=71.5, lr=0.05, extra={"test_acc": 70.0})
    assert OFFICIAL_KEYS <= set(rec)
    assert (rec["epoch"], rec["model"], rec["best_prec1"], rec["omega0"], rec["stage"], rec["seed"]) == (
        2,
        "mlp_1w1a",
        71.5,
        20.0,
        1,
        5,
    )
    assert (rec["binarizer"], rec["surrogate"], rec["test_acc"]) == ("biper", "sine", 70.0)
    assert rec["binarized_layers"] == ["hidden.0.weight", "hidden.1.weight"]
    # the official scheduler's state: T_max = E − (W − 1) for the stage (3 epochs, warm-up 1)
    assert rec["lr_scheduler"] == {"last_epoch": 1, "base_lr": cfg.lr1, "last_lr": 0.05, "T_max": 3, "warmup_epochs": 1}
    assert rec["config"] == cfg.to_dict() and TrainConfig(**rec["config"]) == cfg  # the run can be rebuilt
    prov = rec["provenance"]
    assert PROVENANCE_KEYS <= set(prov) and prov["producer"] == "biper-analysis train" and prov["stage"] == 1
    assert prov["config"] == cfg.to_dict() and prov["seed"] == 5
    assert {"torch", "torch_threads", "cpu", "pinned"} <= set(prov["environment"])
    assert all(v.device.type == "cpu" for v in rec["state_dict"].values())


def test_checkpoint_records_load_with_weights_only(tmp_path):
    """Everything in a checkpoint is a plain type: it loads with torch.load(weights_only=True)."""
    cfg = tiny_config()
    core = tiny_model(cfg)
    opt = torch.optim.SGD(core.parameters(), lr=0.1)
    for name, rec in (
        ("c.pth.tar", loop.checkpoint_record(core, opt, cfg, 2, 1, 50.0, 0.1, {})),
        ("i.pth.tar", loop.initial_record(core, cfg)),
    ):
        torch.save(rec, tmp_path / name)
        back = torch.load(tmp_path / name, weights_only=True)
        assert back["config"] == cfg.to_dict() and set(back["state_dict"]) == set(core.state_dict())
    init = torch.load(tmp_path / "i.pth.tar", weights_only=True)
    assert init["stage"] == 0 and init["epoch"] == 0 and init["provenance"]["what"] == "initial weights"


@pytest.mark.parametrize("omega0", [20.0, 2.5, 1e-5, 1e20, 123456789.125])
def test_config_txt_is_what_the_official_stage2_script_parses(tmp_path, omega0):
    """The official stage-2 script reads ω0 with the pattern freq:\\s+(\\d+\\.\\d+): always digits, a point, digits
    (never '20', '1e-05' or '1e+20'), and the value round-trips exactly."""
    cfg = tiny_config(omega0=omega0)
    path = tmp_path / "config.txt"
    loop.write_config_txt(path, cfg, stage=2)
    text = path.read_text()
    match = re.search(r"freq:\s+(\d+\.\d+)\n", text)
    assert match and float(match.group(1)) == omega0
    lines = text.splitlines()
    assert lines[1] == "" and re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[0])  # timestamp, blank line
    parsed = read_config_txt(path)
    assert (parsed["model"], parsed["stage2"], parsed["lr"], parsed["epochs"], parsed["tau"]) == (
        "mlp_1w1a",
        "True",
        str(cfg.lr2),
        "2",
        str(cfg.tau2),
    )


def test_check_run_dir_refusals(tmp_path):
    """Each refusal names the problem and happens before anything is written; hidden files are not a run."""
    fresh = tmp_path / "new"
    loop.check_run_dir(fresh, resume=False)  # a new folder: fine, and not created
    assert not fresh.exists()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        loop.check_run_dir(fresh, resume=True)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file"):
        loop.check_run_dir(tmp_path / "afile", resume=False)
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / ".nfs0001").write_text("")
    loop.check_run_dir(hidden, resume=False)
    held = tmp_path / "held"
    held.mkdir()
    (held / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty \\(it holds 'notes.txt'\\)"):
        loop.check_run_dir(held, resume=False)
    (held / "notes.txt").unlink()
    (held / loop.METRICS).write_text("{}\n")
    with pytest.raises(ValueError, match="metrics.jsonl from another run"):
        loop.check_run_dir(held, resume=False)
    (held / "stage1").mkdir()
    (held / "stage1" / loop.CHECKPOINT).write_bytes(b"")
    with pytest.raises(ValueError, match="already holds a run"):
        loop.check_run_dir(held, resume=False)
    loop.check_run_dir(held, resume=True)


def test_resolve_device():
    assert loop.resolve_device("cpu") == torch.device("cpu")
    assert loop.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device 'tpu7'"):
        loop.resolve_device("tpu7")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            loop.resolve_device("cuda:0")


def test_epoch_seeds_differ_across_stage_epoch_and_stream():
    seeds = {
        loop._epoch_seed(3, stage, epoch, stream) for stage in (1, 2) for epoch in range(50) for stream in (0, 1, 2)
    }
    assert len(seeds) == 2 * 50 * 3
    assert loop._epoch_seed(3, 1, 0, 0) != loop._epoch_seed(4, 1, 0, 0)


def _images(n: int, seed: int) -> ImageData:
    g = torch.Generator().manual_seed(seed)
    return ImageData(
        images=torch.randint(0, 256, (n, 1, 32, 32), dtype=torch.uint8, generator=g),
        labels=torch.randint(0, 10, (n,), generator=g),
        mean=(0.3,),
        std=(0.35,),
        num_classes=10,
    )


def test_evaluate_equals_a_direct_computation():
    """Mean cross-entropy (1e-6 relative: float32 logits) and top-1 accuracy (exactly), whatever the batch size."""
    cfg = tiny_config()
    model = tiny_model(cfg)
    data = _images(37, 0)
    model.eval()
    with torch.no_grad():
        x = (data.images.float() / 255.0 - 0.3) / 0.35
        logits = model(x)
    loss = float(F.cross_entropy(logits, data.labels))
    acc = 100.0 * float((logits.argmax(1) == data.labels).sum()) / 37
    for batch in (5, 1000):
        got_loss, got_acc = loop.evaluate(model, data, 1, torch.device("cpu"), batch_size=batch)
        assert got_loss == pytest.approx(loss, rel=1e-6) and got_acc == pytest.approx(acc, rel=1e-12)


def test_one_epoch_is_deterministic_and_adds_the_penalty():
    """Two epochs from the same weights and seed give the same loss and weights (bit for bit); with τ > 0 the loss
    carries τ·Σ mean sin²(ω0 w), so it exceeds the τ = 0 loss of the same step."""
    cfg = tiny_config(batch_size=8, augment=True)
    data = _images(24, 1)

    def one_epoch(tau: float) -> tuple[float, dict[str, torch.Tensor]]:
        core = tiny_model(cfg)
        opt = torch.optim.SGD(core.parameters(), lr=0.05, momentum=0.9)
        loss, _ = loop.train_one_epoch(
            core, core, opt, data, cfg, 1, 0, tau, 1, torch.device("cpu"), loop.Dist(), False
        )
        return loss, core.state_dict()

    (l1, w1), (l2, w2), (l0, _) = one_epoch(0.5), one_epoch(0.5), one_epoch(0.0)
    assert l1 == l2 and all(torch.equal(w1[k], w2[k]) for k in w1)
    assert l1 > l0
