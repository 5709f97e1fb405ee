"""checkpoints.py: every supported format, layer selection, ω0 resolution, and refusal of bad or unsafe files."""

from __future__ import annotations

import builtins
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from biper_analysis.analysis import checkpoints
from tests.checkpoint_factory import (
    binarised_conv_names,
    make_state_dict,
    official_checkpoint,
    save_official,
    write_config_txt,
)

R20 = "resnet20_1w1a"


@pytest.fixture(scope="module")
def official(tmp_path_factory) -> Path:
    return save_official(tmp_path_factory.mktemp("official"), R20, omega0=20.0)


def test_official_checkpoint_layers_and_omega0_from_config(official):
    ck = checkpoints.load_checkpoint(official)
    assert ck.format == "official"
    assert ck.omega0 == 20.0 and ck.omega0_source == "config.txt"
    assert ck.layers == binarised_conv_names(R20)
    assert len(ck.layers) == 18 and "conv1.weight" not in ck.layers
    assert ck.metadata["model"] == R20 and ck.metadata["epoch"] == 600
    w = ck.array("layer1.0.conv1.weight")
    assert w.shape == (16, 16, 3, 3) and w.dtype == np.float32
    # the same directory as a save directory
    assert checkpoints.load_checkpoint(official.parent).path == official


def test_module_prefix_is_stripped(tmp_path):
    path = save_official(tmp_path, R20, module_prefix=True)
    ck = checkpoints.load_checkpoint(path)
    assert ck.layers == binarised_conv_names(R20)
    ref = make_state_dict(R20)
    np.testing.assert_array_equal(ck.array("layer3.2.conv2.weight"), ref["layer3.2.conv2.weight"].numpy())


def test_config_txt_parsing_and_missing_omega0(tmp_path):
    assert checkpoints.parse_config_txt("2024-03-28 11:02:13.5\nmodel:  vgg\nfreq:  20.0\n") == {
        "model": "vgg",
        "freq": "20.0",
    }
    path = save_official(tmp_path, R20, omega0=None)
    with pytest.raises(checkpoints.CheckpointError, match="pass omega0"):
        checkpoints.load_checkpoint(path)
    ck = checkpoints.load_checkpoint(path, omega0=30.0)
    assert ck.omega0 == 30.0 and ck.omega0_source == "--omega0"
    (tmp_path / "config.txt").write_text("2024\nfreq:  abc\n")
    with pytest.raises(checkpoints.CheckpointError, match="not a number"):
        checkpoints.load_checkpoint(path)


def test_explicit_omega0_overrides_config(official):
    ck = checkpoints.load_checkpoint(official, omega0=25.0)
    assert ck.omega0 == 25.0 and "overridden" in ck.omega0_source


def test_plain_state_dict_needs_layers_regex(tmp_path):
    sd = {k: v for k, v in make_state_dict(R20).items() if not k.endswith((".alpha", ".beta", ".tau"))}
    path = tmp_path / "resnet.pth"
    torch.save(sd, path)
    with pytest.raises(checkpoints.CheckpointError, match="pass layers=REGEX"):
        checkpoints.load_checkpoint(path, omega0=20.0)
    ck = checkpoints.load_checkpoint(path, omega0=20.0, layers=r"^layer.*conv.*\.weight$")
    assert ck.format == "state_dict" and ck.layers == binarised_conv_names(R20)
    with pytest.raises(checkpoints.CheckpointError, match="matches no"):
        checkpoints.load_checkpoint(path, omega0=20.0, layers="^nothing$")
    with pytest.raises(checkpoints.CheckpointError, match="regular expression"):
        checkpoints.load_checkpoint(path, omega0=20.0, layers="(")


def test_safetensors(tmp_path):
    from safetensors.numpy import save_file

    sd = {k: v.numpy() for k, v in make_state_dict(R20).items()}
    path = tmp_path / "model.safetensors"
    save_file(sd, str(path))
    ck = checkpoints.load_checkpoint(path, omega0=20.0)
    assert ck.format == "safetensors" and ck.layers == binarised_conv_names(R20)
    np.testing.assert_array_equal(ck.array("layer2.0.conv1.weight"), sd["layer2.0.conv1.weight"])
    with pytest.raises(checkpoints.CheckpointError, match="pass omega0"):
        checkpoints.load_checkpoint(path)
    save_file(sd, str(path), metadata={"omega0": "17.5"})  # ω0 in the header's metadata
    ck = checkpoints.load_checkpoint(path)
    assert ck.omega0 == 17.5 and ck.omega0_source == "checkpoint"


def _ours(directory: Path, stage: int, omega0: float = 15.0) -> Path:
    sd = make_state_dict(R20, seed=stage)
    names = binarised_conv_names(R20)[:4]
    ck = official_checkpoint(sd, R20)
    ck.update(
        {
            "omega0": omega0,
            "stage": stage,
            "binarizer": "biper",
            "surrogate": "triangle",
            "binarized_layers": names,
            "config": {"omega0": omega0},
            "seed": 0,
            "provenance": {"v": "x"},
        }
    )
    d = directory / f"stage{stage}"
    d.mkdir(parents=True)
    torch.save(ck, d / "model_best.pth.tar")
    write_config_txt(d, R20, omega0)
    return d / "model_best.pth.tar"


def test_our_run_directory_prefers_stage2_then_highest(tmp_path):
    run = tmp_path / "run"
    _ours(run, 1, omega0=15.0)
    ck = checkpoints.load_checkpoint(run)
    assert ck.path == run / "stage1" / "model_best.pth.tar"
    p2 = _ours(run, 2, omega0=15.0)
    ck = checkpoints.load_checkpoint(run)
    assert ck.path == p2 and ck.format == "biper-analysis"
    assert ck.omega0 == 15.0 and ck.omega0_source == "checkpoint"
    assert ck.layers == binarised_conv_names(R20)[:4]
    assert ck.selection == "the checkpoint's binarized_layers" and ck.metadata["stage"] == 2


class _Evil:
    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (builtins.open, (self.marker, "w"))


@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_unsafe_pickle_is_refused_and_not_executed(tmp_path, how):
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pth"
    obj = {"state_dict": {"a.weight": torch.zeros(3), "a.alpha": torch.ones(1)}, "x": _Evil(marker)}
    if how == "torch.save":
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj))
    assert not marker.exists()
    with pytest.raises(checkpoints.UnsafeCheckpointError, match="nothing from it was executed"):
        checkpoints.load_checkpoint(path, omega0=20.0)
    assert not marker.exists()


def test_corrupt_truncated_empty_and_missing(tmp_path, official):
    data = official.read_bytes()
    (tmp_path / "trunc.pth.tar").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pth").write_bytes(b"this is not a checkpoint at all")
    (tmp_path / "empty.pth").write_bytes(b"")
    (tmp_path / "bad.safetensors").write_bytes(b'\x10\x00\x00\x00\x00\x00\x00\x00{"a": 1')
    for name, needle in [
        ("trunc.pth.tar", "truncated"),
        ("garbage.pth", "corrupt"),
        ("empty.pth", "empty"),
        ("bad.safetensors", "corrupt"),
    ]:
        with pytest.raises(checkpoints.CheckpointError, match=needle):
            checkpoints.load_checkpoint(tmp_path / name, omega0=20.0)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoints.load_checkpoint(tmp_path / "nope.pth")
    empty_dir = tmp_path / "emptydir"
    empty_dir.mkdir()
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint found"):
        checkpoints.load_checkpoint(empty_dir)


def test_whole_module_is_refused(tmp_path):
    path = tmp_path / "module.pth"
    torch.save(torch.nn.Linear(2, 2), path)
    with pytest.raises(checkpoints.UnsafeCheckpointError, match="state_dict"):
        checkpoints.load_checkpoint(path, omega0=20.0)
