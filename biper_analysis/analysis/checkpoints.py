r"""The one checkpoint reader: any format users bring, read safely; which tensors are binarised weights.

fit-b, eval, the figures, the notebooks and a resumed training run all read files through this module.

Formats:

* **official BiPer** ``model_best.pth.tar`` / ``checkpoint.pth.tar`` (written by the official repository's
  ``cifar10/main.py``): a dict with ``epoch, model, state_dict, best_prec1, optimizer, lr_scheduler``; keys may
  carry DataParallel's ``module.`` prefix; ω0 is *not* inside but in the ``config.txt`` beside it (a timestamp
  line, then ``key:  value`` lines, ω0 under ``freq``).
* **ours** (:mod:`biper_analysis.training`): the same dict plus ``omega0``, ``binarized_layers``, ``stage``,
  ``binarizer``, ``config``, ``provenance``.
* a plain ``state_dict`` (.pt/.pth), or a ``.safetensors`` file.

Which file of a run folder is read (:func:`resolve_checkpoint_path`, the one rule): the highest
``stageN/model_best.pth.tar``, else that stage's ``checkpoint.pth.tar``; a folder without stages gives its own
``model_best.pth.tar`` / ``checkpoint.pth.tar``. Never an initial-weights file (``init.pth.tar``).

Safety: torch files are read with ``torch.load(..., map_location="cpu", weights_only=True)`` (memory-mapped when
the file is a zip archive, so the optimizer state is never read); a file that needs arbitrary pickled objects
is refused with :class:`UnsafeCheckpointError` and nothing from it is executed. torch is imported only when a
torch file is read.

Binarised weights: ``layers`` (a regular expression) when given, else the names our checkpoints list in
``binarized_layers``, else every ``X.weight`` that has an ``X.alpha`` sibling (the official layers' learned scale).
"""

from __future__ import annotations

import json
import math
import re
import struct
import warnings
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.errors import UsageError

__all__ = [
    "CHECKPOINT_NAMES",
    "RUN_FOLDER_RULE",
    "OMEGA0_KEYS",
    "CheckpointError",
    "UnsafeCheckpointError",
    "Checkpoint",
    "parse_config_txt",
    "read_config_txt",
    "omega0_from_config",
    "resolve_checkpoint_path",
    "read_torch_file",
    "select_layers",
    "load_checkpoint",
    "describe",
]

#: File names looked for inside a stage directory (or an official save directory), in order of preference.
CHECKPOINT_NAMES = ("model_best.pth.tar", "checkpoint.pth.tar")
#: The rule of resolve_checkpoint_path, for --help texts.
RUN_FOLDER_RULE = (
    "a run folder is read at its highest stageN/model_best.pth.tar, else that stage's "
    "checkpoint.pth.tar (never init.pth.tar)"
)
#: config.txt keys that hold ω0 (the official scripts call it ``freq``).
OMEGA0_KEYS = ("freq", "omega0", "omega_0", "w0")
_STATE_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")
_PREFIXES = ("module.", "_orig_mod.")


class CheckpointError(UsageError):
    """A checkpoint cannot be used; the message names the file, what is wrong and how to fix it."""


class UnsafeCheckpointError(CheckpointError):
    """The file needs arbitrary pickled objects to load; refused without executing anything from it."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: where it came from, ω0 (if known), which tensors are binarised, and the tensors."""

    source: Path  # what the user named (file or run directory)
    path: Path  # the file actually read
    format: str  # "official" | "biper-analysis" | "state_dict" | "safetensors"
    omega0: float | None
    omega0_source: str  # where ω0 came from ("config.txt", "checkpoint", "--omega0", "missing")
    layers: list[str]  # binarised weight names, in state-dict order (prefixes stripped)
    selection: str  # how the layers were chosen
    metadata: dict[str, Any] = field(default_factory=dict)
    config_txt: dict[str, str] = field(default_factory=dict)  # the official-style config.txt beside the file
    _tensors: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def stored_accuracy(self) -> float | None:
        """The top-1 accuracy (%) the file says it reached (``best_prec1``), if it says."""
        value = self.metadata.get("best_prec1")
        return float(value) if isinstance(value, (int, float)) else None

    def state_dict(self) -> dict[str, Any]:
        """Every tensor by name (``module.`` / ``_orig_mod.`` prefixes removed), as stored (torch or numpy)."""
        return dict(self._tensors)

    def array(self, name: str) -> np.ndarray:
        """The weights of one layer as a numpy array (float32 / float64 as stored; half widened to float32)."""
        return _to_numpy(self._tensors[name])

    def iter_layers(self) -> Iterator[tuple[str, np.ndarray]]:
        """Yield (name, weights) one layer at a time, so only one layer is converted at a time."""
        for name in self.layers:
            yield name, self.array(name)


# ---------------------------------------------------------------------------------------------------
# config.txt
# ---------------------------------------------------------------------------------------------------
_CONFIG_LINE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*:\s?(.*?)\s*$")


def parse_config_txt(text: str) -> dict[str, str]:
    """Parse an official-style config.txt: an optional timestamp line, then ``key:  value`` lines.

    >>> parse_config_txt("2024-03-01 10:00:00.1\\nmodel:  resnet20_1w1a\\nfreq:  20.0\\n")
    {'model': 'resnet20_1w1a', 'freq': '20.0'}
    """
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _CONFIG_LINE.match(line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def read_config_txt(path: str | Path) -> dict[str, str]:
    """The ``key: value`` lines of a config.txt; {} when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return {}
    try:
        return parse_config_txt(path.read_text(errors="replace"))
    except OSError:
        return {}


def omega0_from_config(config_path: Path) -> float | None:
    """ω0 from a config.txt (key ``freq``, or ``omega0``/``w0``), None when the file or key is absent."""
    config = read_config_txt(config_path)
    for key in OMEGA0_KEYS:
        if key in config:
            try:
                value = float(config[key])
            except ValueError:
                raise CheckpointError(
                    f"{config_path}: '{key}: {config[key]}' is not a number; fix the file or pass omega0"
                ) from None
            if not math.isfinite(value) or value <= 0:
                raise CheckpointError(
                    f"{config_path}: ω0 '{key}: {config[key]}' must be a finite number > 0; fix the file or pass omega0"
                )
            return value
    return None


# ---------------------------------------------------------------------------------------------------
# Locating the file
# ---------------------------------------------------------------------------------------------------
def resolve_checkpoint_path(path: str | Path) -> Path:
    """The checkpoint file meant by ``path``: the file itself, or inside a run / save folder.

    A run folder resolves to its highest stageN/model_best.pth.tar, else that stage's checkpoint.pth.tar; a
    folder without stages (an official save folder) to its model_best.pth.tar, else checkpoint.pth.tar.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {str(p)!r} does not exist; give a checkpoint file or a run directory")
    if p.is_file():
        return p
    if not p.is_dir():
        raise CheckpointError(f"{p} is neither a file nor a directory")
    stages = []
    for child in p.iterdir():
        m = re.fullmatch(r"stage(\d+)", child.name)
        if m and child.is_dir():
            stages.append((int(m.group(1)), child))
    for _, stage_dir in sorted(stages, reverse=True):
        for name in CHECKPOINT_NAMES:
            if (stage_dir / name).is_file():
                return stage_dir / name
    for name in CHECKPOINT_NAMES:
        if (p / name).is_file():
            return p / name
    looked = ", ".join([f"stageN/{n}" for n in CHECKPOINT_NAMES] + list(CHECKPOINT_NAMES))
    raise CheckpointError(
        f"no checkpoint found in directory {p} (looked for {looked}); give the checkpoint file itself"
    )


# ---------------------------------------------------------------------------------------------------
# Reading files
# ---------------------------------------------------------------------------------------------------
def _is_safetensors(path: Path) -> bool:
    if path.suffix == ".safetensors":
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(9)
    except OSError:
        return False
    if len(head) < 9:
        return False
    (size,) = struct.unpack("<Q", head[:8])
    return 2 <= size < (1 << 30) and head[8:9] == b"{"


def _load_safetensors(path: Path) -> dict[str, Any]:
    """All tensors of a .safetensors file (lazily per tensor, numpy; torch only for bfloat16)."""
    from safetensors import safe_open

    try:
        out: dict[str, Any] = {}
        try:
            with safe_open(str(path), framework="numpy") as f:
                for k in f.keys():
                    out[k] = f.get_tensor(k)
        except (TypeError, ValueError) as exc:
            if "bfloat16" not in str(exc).lower() and "bf16" not in str(exc).lower():
                raise
            with safe_open(str(path), framework="pt") as f:
                out = {k: f.get_tensor(k) for k in f.keys()}
        return out
    except Exception as exc:  # safetensors raises its own SafetensorError for bad headers / truncation
        raise CheckpointError(
            f"cannot read {path} as safetensors: {_first_line(exc)} (the file is truncated or corrupt)"
        ) from None


def _safetensors_metadata(path: Path) -> dict[str, Any]:
    """The string metadata of a .safetensors header; ``omega0`` (if present) parsed as a float."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta: dict[str, Any] = dict(f.metadata() or {})
    if "omega0" in meta:
        try:
            meta["omega0"] = float(meta["omega0"])
        except ValueError:
            raise CheckpointError(f"{path}: metadata omega0={meta['omega0']!r} is not a number; pass omega0") from None
    return meta


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return re.sub(r"\x1b\[[0-9;]*m", "", first)[:200]


def read_torch_file(path: str | Path) -> Any:
    """torch.load with weights_only=True on the CPU; mmap for zip files; errors turned into one clear line.

    The one place a torch file is opened (also for resuming a run from its checkpoint.pth.tar).
    """
    path = Path(path)
    import pickle

    import torch

    is_zip = zipfile.is_zipfile(path)
    if not is_zip:
        with open(path, "rb") as fh:
            head = fh.read(2)
        # torch.save writes a zip archive ("PK", maybe truncated) or a pickle starting with PROTO (0x80)
        if head and not head.startswith((b"\x80", b"PK")):
            raise CheckpointError(
                f"cannot read {path}: not a PyTorch checkpoint (neither a zip archive nor a "
                "pickle) and not .safetensors; pass a .pth/.pt/.pth.tar or .safetensors file"
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as exc:
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise UnsafeCheckpointError(
                f"refusing {path}: it needs arbitrary pickled Python objects to load (e.g. a whole nn.Module or "
                "custom classes), which could run code; nothing from it was executed. Re-save only tensors, e.g. "
                "torch.save(model.state_dict(), path), from a trusted environment"
            ) from None
        raise CheckpointError(f"cannot read {path}: {_first_line(exc)} (the file is truncated or corrupt)") from None
    except (
        RuntimeError,
        EOFError,
        KeyError,
        OSError,
        ValueError,
        struct.error,
        IndexError,
        TypeError,
        AttributeError,
        ImportError,
        MemoryError,
        OverflowError,
    ) as exc:
        what = "is empty" if path.stat().st_size == 0 else "is truncated, corrupt or not a PyTorch file"
        raise CheckpointError(
            f"cannot read {path}: the file {what} ({type(exc).__name__}: {_first_line(exc)[:120]})"
        ) from None


def _is_tensor(v: Any) -> bool:
    if isinstance(v, np.ndarray):
        return True
    return type(v).__module__.startswith("torch") and hasattr(v, "dtype") and hasattr(v, "shape")


def _to_numpy(t: Any) -> np.ndarray:
    if isinstance(t, np.ndarray):
        a = t
    else:
        import torch

        t = t.detach()
        if t.dtype in (torch.bfloat16, torch.float16):
            t = t.to(torch.float32)
        a = t.numpy()
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(np.float32)
    return a


def _strip_prefix(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in _PREFIXES:
            if name.startswith(p):
                name, changed = name[len(p) :], True
    return name


def _state_dict_of(obj: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(tensors by stripped name, the checkpoint's other top-level entries)."""
    if not isinstance(obj, Mapping):
        raise CheckpointError(
            f"{path} holds a {type(obj).__name__}, not a dict of tensors; save a state_dict "
            "or a dict with a 'state_dict' entry"
        )
    state: Any = None
    meta: dict[str, Any] = {}
    for key in _STATE_KEYS:
        if isinstance(obj.get(key), Mapping) and any(_is_tensor(v) for v in obj[key].values()):
            state = obj[key]
            meta = {k: v for k, v in obj.items() if k != key}
            break
    if state is None:
        state = obj
    tensors: dict[str, Any] = {}
    for k, v in state.items():
        if _is_tensor(v):
            name = _strip_prefix(str(k))
            if name in tensors:
                raise CheckpointError(f"{path}: two tensors map to {name!r} after removing 'module.' prefixes")
            tensors[name] = v
    if not tensors:
        raise CheckpointError(f"{path} contains no tensors; is it a checkpoint?")
    return tensors, meta


def _plain(v: Any) -> Any:
    """Keep JSON-friendly metadata only (numbers, strings, small lists/dicts)."""
    if isinstance(v, (str, bool, int, float)) or v is None:
        return v
    if isinstance(v, (list, tuple)) and len(v) <= 1000 and all(isinstance(x, (str, int, float)) for x in v):
        return list(v)
    if isinstance(v, Mapping) and len(v) <= 200:
        return {str(k): _plain(x) for k, x in v.items() if not _is_tensor(x)}
    if _is_tensor(v) and getattr(v, "ndim", 1) == 0:
        return float(v)
    return None


# ---------------------------------------------------------------------------------------------------
# Layer selection
# ---------------------------------------------------------------------------------------------------
def _is_float(t: Any) -> bool:
    dt = t.dtype
    if isinstance(dt, np.dtype):
        return dt.kind == "f"
    return bool(getattr(dt, "is_floating_point", False))


def _numel(t: Any) -> int:
    return int(np.prod(t.shape)) if len(t.shape) else 1


def select_layers(
    tensors: Mapping[str, Any], layers: str | None = None, named: list[str] | None = None
) -> tuple[list[str], str]:
    """Names of the binarised weights and a phrase saying how they were chosen.

    >>> import numpy as np
    >>> z = np.zeros(1)
    >>> select_layers({"conv1.weight": z, "l.conv1.weight": z, "l.conv1.alpha": z, "fc.weight": z})
    (['l.conv1.weight'], "weights with an 'alpha' sibling")
    """
    if layers is not None:
        try:
            rx = re.compile(layers)
        except re.error as exc:
            raise CheckpointError(f"layers {layers!r} is not a valid regular expression ({exc})") from None
        names = [k for k, t in tensors.items() if rx.search(k) and _is_float(t) and _numel(t) > 0]
        if not names:
            raise CheckpointError(
                f"layers {layers!r} matches no floating-point tensor; names look like {_examples(tensors)}"
            )
        return names, f"--layers {layers}"
    if named:
        stripped = [_strip_prefix(n) for n in named]
        missing = [n for n in stripped if n not in tensors]
        if missing:
            raise CheckpointError(
                f"the checkpoint lists binarised layers that its state_dict lacks: "
                f"{', '.join(missing[:3])}; pass layers=REGEX instead"
            )
        return stripped, "the checkpoint's binarized_layers"
    names = [
        k
        for k in tensors
        if k.endswith(".weight")
        and k[: -len("weight")] + "alpha" in tensors
        and _is_float(tensors[k])
        and _numel(tensors[k]) > 0
    ]
    return names, "weights with an 'alpha' sibling"


def _examples(tensors: Mapping[str, Any], k: int = 4) -> str:
    names = list(tensors)
    return ", ".join(repr(n) for n in names[:k]) + (", ..." if len(names) > k else "")


# ---------------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------------
def load_checkpoint(
    path: str | Path,
    omega0: float | None = None,
    layers: str | None = None,
    require_omega0: bool = True,
    require_layers: bool = True,
) -> Checkpoint:
    """Load ``path`` (a file or run folder) safely and pick its binarised layers and ω0.

    ω0: an explicit ``omega0`` wins; else the value stored in our checkpoints; else ``config.txt`` beside the
    file (official format); else :class:`CheckpointError` (when ``require_omega0``).
    """
    source = Path(path)
    if omega0 is not None and (not math.isfinite(omega0) or omega0 <= 0):
        raise CheckpointError(f"omega0 must be a finite number > 0, got {omega0}")
    file = resolve_checkpoint_path(source)
    if file.stat().st_size == 0:
        raise CheckpointError(f"cannot read {file}: the file is empty")
    meta: dict[str, Any] = {}
    if _is_safetensors(file):
        tensors = {_strip_prefix(k): v for k, v in _load_safetensors(file).items()}
        if not tensors:
            raise CheckpointError(f"{file} contains no tensors")
        fmt = "safetensors"
        meta = _safetensors_metadata(file)
    else:
        obj = read_torch_file(file)
        tensors, meta = _state_dict_of(obj, file)
        if "omega0" in meta or "binarized_layers" in meta:
            fmt = "biper-analysis"
        elif {"epoch", "best_prec1"} & set(meta):
            fmt = "official"
        else:
            fmt = "state_dict"
    named = meta.get("binarized_layers") if isinstance(meta.get("binarized_layers"), (list, tuple)) else None
    names, selection = select_layers(tensors, layers, list(named) if named else None)
    if not names and require_layers:
        raise CheckpointError(
            f"no binarised layers found in {file}: no '<name>.weight' has a '<name>.alpha' "
            f"sibling (names look like {_examples(tensors, 3)}); pass layers=REGEX, "
            "e.g. layers='^layer.*conv.*\\.weight$'"
        )
    stored = meta.get("omega0")
    stored = float(stored) if isinstance(stored, (int, float)) or _is_tensor(stored) else None
    from_config = omega0_from_config(file.parent / "config.txt")
    if omega0 is not None:
        w0, w0_source = float(omega0), "--omega0"
        known = stored if stored is not None else from_config
        if known is not None and not math.isclose(known, w0, rel_tol=1e-9):
            w0_source = f"--omega0 (the checkpoint's own value {known:g} overridden)"
    elif stored is not None and stored > 0 and math.isfinite(stored):
        w0, w0_source = stored, "checkpoint"
    elif from_config is not None:
        w0, w0_source = from_config, "config.txt"
    else:
        w0, w0_source = None, "missing"
        if require_omega0:
            raise CheckpointError(
                f"ω0 of {file} is unknown: it is not stored in the file and there is no config.txt "
                "with a 'freq:' line beside it; pass omega0 (the published runs use 20)"
            )
    keep = {k: _plain(v) for k, v in meta.items() if k not in ("optimizer", "lr_scheduler", "state_dict")}
    keep = {k: v for k, v in keep.items() if v is not None}
    return Checkpoint(
        source=source,
        path=file,
        format=fmt,
        omega0=w0,
        omega0_source=w0_source,
        layers=names,
        selection=selection,
        metadata=keep,
        config_txt=read_config_txt(file.parent / "config.txt"),
        _tensors=tensors,
    )


def describe(ckpt: Checkpoint) -> dict[str, Any]:
    """A JSON-friendly summary of where a checkpoint came from (for reports)."""
    return {
        "path": str(ckpt.path),
        "source": str(ckpt.source),
        "format": ckpt.format,
        "omega0_source": ckpt.omega0_source,
        "layer_selection": ckpt.selection,
        "metadata": json.loads(json.dumps(ckpt.metadata, default=str)),
    }
