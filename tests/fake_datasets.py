"""Tiny datasets written in the real on-disk formats (idx .gz, CIFAR-10 python pickle) for tests."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, compress: bool = True) -> Path:
    """Write a uint8 array as an idx file (magic 0x0000 08 NDIM, big-endian dims, raw bytes)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


def learnable_images(n: int, seed: int, size: int = 28, channels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class k lights a 4-pixel-high band at row 2 + 2k (easy to learn), plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    shape = (n, size, size) if channels is None else (n, channels, size, size)
    images = rng.integers(0, 60, shape)
    for i, k in enumerate(labels):
        images[i, ..., 2 + 2 * k : 6 + 2 * k, :] = 250
    return images.astype(np.uint8), labels.astype(np.uint8)


def write_fashion_mnist(directory: Path, n_train: int = 64, n_test: int = 32, compress: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        images, labels = learnable_images(n, seed)
        write_idx(directory / f"{split}-images-idx3-ubyte", images, compress)
        write_idx(directory / f"{split}-labels-idx1-ubyte", labels, compress)
    return directory


def write_cifar10(directory: Path, per_batch: int = 6, n_test: int = 5) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for j, name in enumerate(names):
        images, labels = learnable_images(n_test if name == "test_batch" else per_batch, 10 + j, size=32, channels=3)
        with open(directory / name, "wb") as fh:
            pickle.dump({b"data": images.reshape(len(images), -1), b"labels": labels.astype(int).tolist()}, fh)
    return directory
