"""Datasets as whole tensors in memory: Fashion-MNIST / MNIST (idx .gz) and CIFAR-10 (python-pickle batches).

Convention (so the CIFAR architectures and official-format checkpoints apply unchanged to Fashion-MNIST):
images are kept as uint8 and zero-padded from 28×28 to 32×32; a batch is scaled to [0, 1], normalised with
the dataset's mean/std (Fashion-MNIST 0.2860 / 0.3530, so the border becomes −0.810) and repeated to the
model's channel count (3 for the CIFAR models). Training augmentation is a random crop with 4 pixels of zero
padding plus a horizontal flip (torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip, as the
official code), done on the uint8 batch with plain torch indexing — no DataLoader, no worker processes.
CIFAR-10 is normalised with the official code's statistics (ImageNet mean/std).

Where the files are: ``data_dir`` argument, else the environment variable ``BIPER_DATA_DIR`` (the directory
itself, or a sub-directory named after the dataset), else the default location (Debian's
``dataset-fashion-mnist`` package for Fashion-MNIST). CIFAR-10 has no default: it cannot be downloaded here.

A file that is truncated, corrupt, of the wrong shape or holds labels out of range raises
:class:`~biper_analysis._io.errors.DataFileError`: one line naming the file and how to replace it, before any
training (and, for a run, before its folder is made).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from biper_analysis._io.errors import DataFileError

__all__ = [
    "ENV_VAR",
    "IMAGE_SIZE",
    "DatasetSpec",
    "DATASETS",
    "ImageData",
    "spec",
    "resolve_data_dir",
    "read_idx",
    "load_split",
    "check_dataset",
    "augment",
    "to_input",
    "batch_indices",
]

ENV_VAR = "BIPER_DATA_DIR"
IMAGE_SIZE = 32
CROP_PADDING = 4


@dataclass(frozen=True)
class DatasetSpec:
    """What we know about one dataset: where it usually lives, its files, statistics and how to get it."""

    name: str
    default_dir: str | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int
    how_to_get: str
    how_to_repair: str = "replace it with a good copy"


DATASETS: dict[str, DatasetSpec] = {
    "fashion-mnist": DatasetSpec(
        "fashion-mnist",
        "/usr/share/datasets/fashion-mnist",
        (0.2860,),
        (0.3530,),
        10,
        "install it with `apt-get install dataset-fashion-mnist`, or pass --data-dir "
        f"(or set {ENV_VAR}) to a directory with the four idx .gz files",
        "reinstall it with `apt-get install --reinstall dataset-fashion-mnist`, or pass "
        "--data-dir to a good copy of the four idx .gz files",
    ),
    "mnist": DatasetSpec(
        "mnist",
        "/usr/share/datasets/mnist",
        (0.1307,),
        (0.3081,),
        10,
        f"pass --data-dir (or set {ENV_VAR}) to a directory with the four MNIST idx .gz files",
        "replace it with a good copy, or pass --data-dir to another copy of the four idx .gz files",
    ),
    "cifar10": DatasetSpec(
        "cifar10",
        None,
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        10,
        f"pass --data-dir (or set {ENV_VAR}) to your copy of cifar-10-batches-py "
        "(data_batch_1..5, test_batch); it cannot be downloaded here",
        "replace cifar-10-batches-py with a fresh copy of the CIFAR-10 python version, or pass "
        "--data-dir to another copy",
    ),
}
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


@dataclass(frozen=True)
class ImageData:
    """One split in memory: uint8 images [N, C, 32, 32], int64 labels [N], and the normalisation."""

    images: Tensor
    labels: Tensor
    mean: tuple[float, ...]
    std: tuple[float, ...]
    num_classes: int

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def spec(dataset: str) -> DatasetSpec:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return DATASETS[dataset]


def resolve_data_dir(dataset: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """The directory holding ``dataset``'s files; FileNotFoundError (one line naming the fix) if absent."""
    s = spec(dataset)
    if data_dir is None and os.environ.get(ENV_VAR):
        root = Path(os.environ[ENV_VAR])
        data_dir = root / dataset if (root / dataset).is_dir() else root
    if data_dir is None:
        if s.default_dir is None:
            raise FileNotFoundError(f"no data directory for {dataset}; {s.how_to_get}")
        data_dir = s.default_dir
    path = Path(data_dir)
    if dataset == "cifar10" and (path / "cifar-10-batches-py").is_dir():
        path = path / "cifar-10-batches-py"
    needed = (
        [f for pair in IDX_FILES.values() for f in pair]
        if dataset != "cifar10"
        else [f for group in CIFAR_FILES.values() for f in group]
    )
    if not path.is_dir():
        raise FileNotFoundError(f"{dataset} data directory {str(path)!r} does not exist; {s.how_to_get}")
    missing = [f for f in needed if _find(path, f) is None]
    if missing:
        raise FileNotFoundError(f"{dataset} files missing in {str(path)!r} ({missing[0]}); {s.how_to_get}")
    return path


def _find(directory: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (directory / name).is_file():
            return directory / name
    return None


def read_idx(path: str | os.PathLike[str], fix: str = "replace it with a good copy") -> np.ndarray:
    """Read an idx file (gzip-compressed or not): big-endian magic 0x0000TTDD, DD dims, then uint8 data.

    A truncated or corrupt file raises :class:`DataFileError` naming the file and ``fix``.

    >>> import tempfile, pathlib
    >>> folder = tempfile.TemporaryDirectory()
    >>> p = pathlib.Path(folder.name) / "x-idx1-ubyte"
    >>> _ = p.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]))
    >>> read_idx(p).tolist()
    [7, 8, 9]
    >>> folder.cleanup()
    """
    path = Path(path)
    compressed = path.suffix == ".gz"
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as fh:
            raw = fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataFileError(f"{path}: truncated or corrupt gzip file ({_first_line(exc)}); {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise DataFileError(f"{path} is not an unsigned-byte idx file (bad magic number); {fix}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DataFileError(
            f"{path} is truncated: its header names {ndim} dimensions but the file ends at byte {len(raw)}; {fix}"
        )
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims, dtype=np.int64)):
        what = "truncated" if data.size < int(np.prod(dims, dtype=np.int64)) else "longer than its header says"
        raise DataFileError(f"{path} is {what}: header says {dims}, found {data.size} bytes of data; {fix}")
    return data.reshape(dims)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _check_labels(labels: np.ndarray, num_classes: int, path: Path, fix: str) -> None:
    if labels.size and int(labels.max()) >= num_classes:
        bad = int(np.argmax(labels >= num_classes))
        raise DataFileError(
            f"{path}: label {int(labels[bad])} at example {bad} is out of range (labels are 0 to "
            f"{num_classes - 1}); {fix}"
        )


def _load_idx(directory: Path, split: str, s: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    img_name, lab_name = IDX_FILES[split]
    img_path, lab_path = _find(directory, img_name), _find(directory, lab_name)
    assert img_path is not None and lab_path is not None  # resolve_data_dir checked that both exist
    fix = s.how_to_repair
    images = read_idx(img_path, fix)
    labels = read_idx(lab_path, fix)
    if images.ndim != 3 or not (1 <= images.shape[1] <= IMAGE_SIZE and 1 <= images.shape[2] <= IMAGE_SIZE):
        raise DataFileError(f"{img_path}: expected images of shape [N, 28, 28], found {list(images.shape)}; {fix}")
    if labels.ndim != 1:
        raise DataFileError(f"{lab_path}: expected labels of shape [N], found {list(labels.shape)}; {fix}")
    if images.shape[0] != labels.shape[0]:
        raise DataFileError(
            f"{img_path} holds {images.shape[0]} images but {lab_path.name} holds {labels.shape[0]} labels; {fix}"
        )
    if images.shape[0] == 0:
        raise DataFileError(f"{img_path} holds no images; {fix}")
    _check_labels(labels, s.num_classes, lab_path, fix)
    pad = IMAGE_SIZE - images.shape[1]
    lo = pad // 2
    padded = np.zeros((images.shape[0], 1, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    padded[:, 0, lo : lo + images.shape[1], lo : lo + images.shape[2]] = images
    return padded, labels.astype(np.int64)


def _read_cifar_batch(path: Path, fix: str, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 python batch: a pickled dict with b"data" [N, 3072] uint8 and b"labels" (N ints)."""
    try:
        with open(path, "rb") as fh:
            batch = pickle.load(fh, encoding="bytes")  # the CIFAR-10 python format is a pickle
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        ImportError,
        IndexError,
        KeyError,
        MemoryError,
    ) as exc:
        raise DataFileError(
            f"{path}: truncated or corrupt CIFAR-10 batch ({type(exc).__name__}: {_first_line(exc)}); {fix}"
        ) from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DataFileError(f"{path} is not a CIFAR-10 python batch (no 'data' and 'labels' entries); {fix}")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"])
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or data.dtype != np.uint8:
        raise DataFileError(
            f"{path}: expected data of shape [N, 3072] and type uint8, found {list(data.shape)} {data.dtype}; {fix}"
        )
    if labels.ndim != 1 or labels.shape[0] != data.shape[0] or not np.issubdtype(labels.dtype, np.integer):
        raise DataFileError(
            f"{path}: expected {data.shape[0]} integer labels, found shape {list(labels.shape)} {labels.dtype}; {fix}"
        )
    if labels.size and int(labels.min()) < 0:
        raise DataFileError(f"{path}: negative label {int(labels.min())} (labels are 0 to {num_classes - 1}); {fix}")
    _check_labels(labels, num_classes, path, fix)
    return data.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def _load_cifar(directory: Path, split: str, s: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    images, labels = [], []
    for name in CIFAR_FILES[split]:
        path = _find(directory, name)
        assert path is not None  # resolve_data_dir checked that every batch exists
        img, lab = _read_cifar_batch(path, s.how_to_repair, s.num_classes)
        images.append(img)
        labels.append(lab)
    return np.concatenate(images), np.concatenate(labels)


def load_split(
    dataset: str, split: str, data_dir: str | os.PathLike[str] | None = None, limit: int | None = None
) -> ImageData:
    """Load a whole split ("train" or "test") into uint8 tensors; ``limit`` keeps the first N examples."""
    s = spec(dataset)
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    directory = resolve_data_dir(dataset, data_dir)
    images, labels = (_load_cifar if dataset == "cifar10" else _load_idx)(directory, split, s)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return ImageData(
        torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels), s.mean, s.std, s.num_classes
    )


def check_dataset(dataset: str, data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Read both splits of ``dataset`` once and return its folder; a missing, truncated or corrupt file raises one
    line naming it (:class:`DataFileError`, FileNotFoundError) — for commands that hand the data to worker processes
    and must not start them on a broken copy."""
    for split in ("train", "test"):
        load_split(dataset, split, data_dir)
    return resolve_data_dir(dataset, data_dir)


def augment(images: Tensor, generator: torch.Generator) -> Tensor:
    """Random crop (zero padding 4, on raw pixels) + horizontal flip with probability 1/2, batched on uint8.

    >>> g = torch.Generator().manual_seed(0)
    >>> augment(torch.ones(2, 1, 32, 32, dtype=torch.uint8), g).shape
    torch.Size([2, 1, 32, 32])
    """
    n, c, h, w = images.shape
    padded = F.pad(images, (CROP_PADDING,) * 4)
    dy = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * CROP_PADDING + 1, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = dx[:, None] + torch.arange(w)
    cols = torch.where(flip[:, None], cols.flip(1), cols)[:, None, None, :]
    return padded[torch.arange(n)[:, None, None, None], torch.arange(c)[None, :, None, None], rows, cols]


def to_input(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...], channels: int) -> Tensor:
    """uint8 [N, C, H, W] → float32 normalised, repeated to ``channels`` (1 → 3 for the CIFAR models).

    >>> x = to_input(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), (0.2860,), (0.3530,), 3)
    >>> x.shape, round(float(x[0, 2, 0, 0]), 3)
    (torch.Size([1, 3, 2, 2]), -0.81)
    """
    c = images.shape[1]
    if c != channels and c != 1:
        raise ValueError(f"images have {c} channels but the model takes {channels}; use a {c}-channel model")
    m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    x = (images.to(torch.float32) / 255.0 - m) / s
    return x.expand(-1, channels, -1, -1).contiguous() if c != channels else x


def batch_indices(
    n: int,
    batch_size: int,
    generator: torch.Generator | None,
    rank: int = 0,
    world_size: int = 1,
    drop_last: bool = False,
) -> list[Tensor]:
    """Index batches of one epoch: shuffled with ``generator`` (or in order when None); global batch
    ``batch_size`` split into ``world_size`` interleaved shards, this rank's shard returned. A trailing batch
    with fewer than 2 examples per process is dropped (BatchNorm cannot train on one example).

    >>> [b.tolist() for b in batch_indices(7, 3, None)]
    [[0, 1, 2], [3, 4, 5]]
    """
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    out = []
    for start in range(0, n, batch_size):
        batch = order[start : start + batch_size]
        if (drop_last and batch.numel() < batch_size) or batch.numel() < 2 * world_size:
            break
        out.append(batch[rank::world_size])
    return out
