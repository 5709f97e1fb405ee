"""Data: idx and CIFAR readers on small files in the real formats, the Fashion-MNIST convention, augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from biper_analysis.training import data as image_data
from tests.fake_datasets import learnable_images, write_cifar10, write_fashion_mnist, write_idx


def test_idx_roundtrip_gz_and_plain(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (True, False):
        p = write_idx(tmp_path / f"x{compress}-idx3-ubyte", arr, compress)
        assert np.array_equal(image_data.read_idx(p), arr)


def test_idx_bad_magic(tmp_path):
    p = tmp_path / "bad"
    p.write_bytes(b"\x00\x00\x09\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        image_data.read_idx(p)


@pytest.mark.parametrize("compress", [True, False])
def test_fashion_mnist_convention(tmp_path, compress):
    write_fashion_mnist(tmp_path, 10, 4, compress)
    train = image_data.load_split("fashion-mnist", "train", tmp_path)
    raw, labels = learnable_images(10, 0)
    assert train.images.shape == (10, 1, 32, 32) and train.images.dtype == torch.uint8
    assert torch.equal(train.images[:, 0, 2:30, 2:30], torch.from_numpy(raw))  # zero-padded 2 px on each side
    assert int(train.images[:, :, :2].sum()) == 0 and int(train.images[:, :, :, 30:].sum()) == 0
    assert torch.equal(train.labels, torch.from_numpy(labels.astype(np.int64)))
    x = image_data.to_input(train.images, train.mean, train.std, 3)
    assert x.shape == (10, 3, 32, 32) and torch.equal(x[:, 0], x[:, 2])
    assert abs(float(x[0, 0, 0, 0]) - (-0.2860 / 0.3530)) < 1e-6  # border = -0.810
    px = float(train.images[0, 0, 5, 5])
    assert abs(float(x[0, 1, 5, 5]) - (px / 255 - 0.2860) / 0.3530) < 1e-5
    assert len(image_data.load_split("fashion-mnist", "test", tmp_path, limit=3)) == 3


def test_cifar10_pickle_batches(tmp_path):
    write_cifar10(tmp_path / "cifar-10-batches-py", per_batch=6, n_test=5)
    train = image_data.load_split("cifar10", "train", tmp_path)  # the parent directory is accepted too
    test = image_data.load_split("cifar10", "test", tmp_path / "cifar-10-batches-py")
    assert train.images.shape == (30, 3, 32, 32) and len(test) == 5
    img, lab = learnable_images(6, 10, size=32, channels=3)
    assert torch.equal(train.images[:6], torch.from_numpy(img)) and train.labels[:6].tolist() == lab.tolist()
    assert image_data.to_input(test.images, test.mean, test.std, 3).shape == (5, 3, 32, 32)


def test_missing_data_messages(tmp_path, monkeypatch):
    monkeypatch.delenv(image_data.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        image_data.resolve_data_dir("fashion-mnist", tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        image_data.resolve_data_dir("fashion-mnist", tmp_path)
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        image_data.resolve_data_dir("cifar10")
    with pytest.raises(ValueError, match="unknown dataset 'svhn'"):
        image_data.resolve_data_dir("svhn")


def test_env_var_overrides_default(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "fashion-mnist", 4, 2)
    monkeypatch.setenv(image_data.ENV_VAR, str(tmp_path))  # a root holding a sub-directory per dataset
    assert image_data.resolve_data_dir("fashion-mnist") == tmp_path / "fashion-mnist"
    monkeypatch.setenv(image_data.ENV_VAR, str(tmp_path / "fashion-mnist"))  # or the directory itself
    assert image_data.resolve_data_dir("fashion-mnist") == tmp_path / "fashion-mnist"


def test_augment_equals_per_image_crop_and_flip():
    """The batched crop/flip equals torchvision-style per-image RandomCrop(32, padding=4) + flip with the same draws."""
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, 256, (9, 2, 32, 32), dtype=torch.uint8)
    out = image_data.augment(images, torch.Generator().manual_seed(3))
    dy = torch.randint(0, 9, (9,), generator=g)
    dx = torch.randint(0, 9, (9,), generator=g)
    flip = torch.rand(9, generator=g) < 0.5
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(9):
        ref = padded[i, :, dy[i] : dy[i] + 32, dx[i] : dx[i] + 32]
        if flip[i]:
            ref = ref.flip(-1)
        assert torch.equal(out[i], ref)
    assert 0 < int(flip.sum()) < 9  # both branches exercised


def test_batch_indices_shards_cover_the_global_batch():
    g = torch.Generator().manual_seed(0)
    full = image_data.batch_indices(10, 4, torch.Generator().manual_seed(0))
    r0 = image_data.batch_indices(10, 4, g, rank=0, world_size=2)
    r1 = image_data.batch_indices(10, 4, torch.Generator().manual_seed(0), rank=1, world_size=2)
    for f, a, b in zip(full, r0, r1):
        assert sorted(torch.cat([a, b]).tolist()) == sorted(f.tolist())
    assert [len(b) for b in full] == [4, 4, 2]
