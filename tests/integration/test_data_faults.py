"""Broken dataset files — truncated, corrupt, of the wrong shape, with labels out of range — in the real on-disk
formats (idx .gz, CIFAR-10 python batches): one line naming the file and the fix, exit status 2, in `train`, `eval`
and `train-sweep`, and nothing left behind (no run or sweep folder)."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from biper_analysis._io.errors import DataFileError
from biper_analysis.cli import main
from biper_analysis.training import data as image_data
from tests.checkpoint_factory import save_official
from tests.fake_datasets import write_cifar10, write_fashion_mnist, write_idx

TRAIN_IMAGES = "train-images-idx3-ubyte.gz"
TEST_LABELS = "t10k-labels-idx1-ubyte.gz"


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fmnist"), n_train=64, n_test=32)


def _copy(good: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    shutil.copytree(good, folder)
    return folder


def _truncate(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])  # a download or copy cut short


def _corrupt(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 16] = bytes(16)  # damaged bytes in the compressed stream
    path.write_bytes(bytes(raw))


def _regz(path: Path, array: np.ndarray) -> None:
    """Replace an idx .gz file by ``array`` in the same format (a wrong shape or wrong labels, but a valid file)."""
    path.unlink()
    write_idx(path.with_name(path.name.removesuffix(".gz")), array)


@pytest.mark.parametrize(
    "fault, file, needle",
    [
        ("truncated", TRAIN_IMAGES, "truncated or corrupt gzip file"),
        ("corrupt", TRAIN_IMAGES, "truncated or corrupt gzip file"),
        ("not gzip", TRAIN_IMAGES, "truncated or corrupt gzip file"),
        ("short data", TRAIN_IMAGES, "is truncated: header says (64, 28, 28)"),
        ("wrong shape", TRAIN_IMAGES, "expected images of shape [N, 28, 28], found [64, 784]"),
        ("wrong count", TRAIN_IMAGES, "holds 60 images but train-labels-idx1-ubyte.gz holds 64 labels"),
        ("wrong labels", TEST_LABELS, "label 12 at example 3 is out of range (labels are 0 to 9)"),
    ],
)
def test_a_broken_fashion_mnist_file_is_named_with_its_fix(good, tmp_path, fault, file, needle):
    data = _copy(good, tmp_path)
    path = data / file
    if fault == "truncated":
        _truncate(path)
    elif fault == "corrupt":
        _corrupt(path)
    elif fault == "not gzip":
        path.write_bytes(b"<html>404 Not Found</html>")
    elif fault == "short data":
        raw = gzip.decompress(path.read_bytes())
        path.write_bytes(gzip.compress(raw[:-100]))  # a valid gzip whose idx payload stops early
    elif fault == "wrong shape":
        _regz(path, np.zeros((64, 784), dtype=np.uint8))
    elif fault == "wrong count":
        _regz(path, np.zeros((60, 28, 28), dtype=np.uint8))
    elif fault == "wrong labels":
        labels = image_data.read_idx(path).copy()
        labels[3] = 12
        _regz(path, labels)
    split = "test" if file.startswith("t10k") else "train"
    with pytest.raises(DataFileError) as info:
        image_data.load_split("fashion-mnist", split, data)
    message = str(info.value)
    assert str(data) in message and needle in message, message
    assert "apt-get install --reinstall dataset-fashion-mnist" in message and "\n" not in message


@pytest.mark.parametrize(
    "fault, needle",
    [
        ("truncated", "truncated or corrupt CIFAR-10 batch"),
        ("no keys", "is not a CIFAR-10 python batch"),
        ("wrong shape", "expected data of shape [N, 3072]"),
        ("wrong labels", "label 10 at example 0 is out of range"),
    ],
)
def test_a_broken_cifar_batch_is_named_with_its_fix(tmp_path, fault, needle):
    folder = write_cifar10(tmp_path / "cifar-10-batches-py", per_batch=4, n_test=3)
    path = folder / "data_batch_3"
    batch = pickle.loads(path.read_bytes())
    if fault == "truncated":
        _truncate(path)
    else:
        if fault == "no keys":
            batch = {b"pixels": batch[b"data"]}
        elif fault == "wrong shape":
            batch[b"data"] = batch[b"data"][:, :1000]
        else:
            batch[b"labels"] = [10] * len(batch[b"labels"])
        path.write_bytes(pickle.dumps(batch))
    with pytest.raises(DataFileError) as info:
        image_data.load_split("cifar10", "train", folder)
    assert str(path) in str(info.value) and needle in str(info.value), str(info.value)
    assert "fresh copy of the CIFAR-10 python version" in str(info.value)


def test_train_eval_and_train_sweep_name_a_truncated_file_and_leave_nothing(good, tmp_path, capsys):
    """The issue's case: a truncated Fashion-MNIST file gave "internal error: EOFError", exit 1, and train-sweep left
    an empty folder. Now: one line naming the file, exit 2, no run or sweep folder (the CLI's own main)."""

    def one_line(args: list[str], *needles: str) -> None:
        assert main(args) == 2, args
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and all(n in err for n in needles), err

    data = _copy(good, tmp_path)
    _truncate(data / TRAIN_IMAGES)
    run, sweep = tmp_path / "run", tmp_path / "sweep"
    one_line(
        [
            "train",
            "--model",
            "mlp_1w1a",
            "--data-dir",
            str(data),
            "--epochs1",
            "1",
            "--epochs2",
            "1",
            "--out",
            str(run),
        ],
        f"biper-analysis train: error: {data / TRAIN_IMAGES}: truncated or corrupt gzip file",
        "apt-get install --reinstall dataset-fashion-mnist",
    )
    one_line(
        [
            "train-sweep",
            "--data-dir",
            str(data),
            "--epochs1",
            "1",
            "--epochs2",
            "1",
            "--seeds",
            "0",
            "--omega0",
            "20",
            "--out",
            str(sweep),
        ],
        str(data / TRAIN_IMAGES),
        "truncated or corrupt gzip file",
    )
    assert not run.exists() and not sweep.exists()
    _truncate(data / TEST_LABELS)  # eval reads the test split
    checkpoint = save_official(tmp_path / "official", "resnet20_1w1a", omega0=20.0)
    one_line(
        ["eval", str(checkpoint), "--dataset", "fashion-mnist", "--data-dir", str(data), "--device", "cpu"],
        str(data / TEST_LABELS),
        "truncated or corrupt gzip file",
    )
