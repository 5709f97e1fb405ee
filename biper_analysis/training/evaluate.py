"""Test accuracy of a checkpoint: ours (ω0, stage, model stored inside) or official (config.txt beside it).

The file is read by the one checkpoint reader (:func:`biper_analysis.analysis.checkpoints.load_checkpoint`). Official
files hold ``epoch, model, state_dict, best_prec1, optimizer, lr_scheduler`` and no ω0; the official
``config.txt`` in the same folder holds ``freq`` (ω0), ``model``, ``dataset`` and ``stage2``. An option that
contradicts what the file says is applied as asked and reported as a warning naming both values; the
accuracy stored in the file (``best_prec1``) is reported beside the measured one. A tensor holding NaN/inf values,
or a binarised layer whose weights are all one value, is named in one warning line with its counts
(:func:`biper_analysis.theory.weights.weight_faults`, the rule fit-b and the plots follow).
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np
import torch

from biper_analysis.analysis.checkpoints import Checkpoint, load_checkpoint, omega0_from_config
from biper_analysis.theory.weights import weight_faults
from biper_analysis.training import data
from biper_analysis.training.loop import evaluate, resolve_device
from biper_analysis.training.nn.models import MODELS, binary_layer_names, build_model

__all__ = ["stored_info", "checkpoint_info", "weight_warnings", "evaluate_checkpoint"]

#: At most this many tensors are named one line each; the rest are counted in one more line.
MAX_NAMED_TENSORS = 5

#: The official config's dataset names → ours.
_OFFICIAL_DATASETS = {
    "cifar10": "cifar10",
    "mnist": "mnist",
    "fashion-mnist": "fashion-mnist",
    "fashionmnist": "fashion-mnist",
    "fmnist": "fashion-mnist",
}


def _official_stage(config: dict[str, str], state: dict[str, Any]) -> int:
    """Stage of an official file: its config's ``stage2`` line; without one, from β — the official stage 1 leaves
    β at its initial ones, stage 2 sets it to the per-channel mean|w| of the loaded weights."""
    if "stage2" in config:
        return 2 if config["stage2"].lower() == "true" else 1
    betas = [np.asarray(v) for k, v in state.items() if k.endswith(".beta")]
    return 1 if betas and all(bool(np.all(b == 1)) for b in betas) else 2


def stored_info(ckpt: Checkpoint) -> tuple[dict[str, Any], str]:
    """(model, ω0, stage, binarizer, surrogate, dataset) as the file or its config.txt says, and where from."""
    meta = ckpt.metadata
    if ckpt.format == "biper-analysis":
        config = meta.get("config") if isinstance(meta.get("config"), dict) else {}
        return (
            {
                "model": meta.get("model"),
                "omega0": meta.get("omega0"),
                "stage": meta.get("stage"),
                "binarizer": meta.get("binarizer", "biper"),
                "surrogate": meta.get("surrogate", "sine"),
                "dataset": config.get("dataset"),
            },
            "the checkpoint",
        )
    official = ckpt.config_txt
    name = official.get("dataset", "").lower()
    if name and name not in _OFFICIAL_DATASETS:
        raise ValueError(
            f"config.txt names dataset {name!r}, which this tool cannot load; pass dataset "
            f"({', '.join(sorted(set(_OFFICIAL_DATASETS.values())))})"
        )
    info = {
        "model": official.get("model", meta.get("model")),
        "omega0": omega0_from_config(ckpt.path.parent / "config.txt"),
        "stage": _official_stage(official, ckpt.state_dict()),
        "binarizer": "biper",
        "surrogate": "sine",
        "dataset": _OFFICIAL_DATASETS.get(name),
    }
    return info, ("config.txt" if official else "the checkpoint")


def _differs(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return not math.isclose(float(a), float(b), rel_tol=1e-9)
    return a != b


def checkpoint_info(ckpt: Checkpoint, overrides: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What the file says, with user overrides applied; a warning for each override that contradicts it."""
    info, where = stored_info(ckpt)
    warnings = []
    for key, value in overrides.items():
        if value is None:
            continue
        if info.get(key) is not None and _differs(info[key], value):
            warnings.append(
                f"--{key} {value:g} contradicts {key} = {info[key]:g} in {where}; evaluating with {value:g} as asked"
                if isinstance(value, float)
                else f"--{key} {value} contradicts {key} = {info[key]} in {where}; evaluating with {value} as asked"
            )
        info[key] = value
    if info.get("model") not in MODELS:
        raise ValueError(f"checkpoint model {info.get('model')!r} is not one of {', '.join(MODELS)}; pass model")
    if info.get("omega0") is None:
        raise ValueError(
            f"cannot tell ω0 of {ckpt.path}: it is not in the file and there is no config.txt with "
            "a 'freq:' line beside it; pass omega0 (and stage)"
        )
    if info.get("stage") is None:
        raise ValueError(f"cannot tell the stage of {ckpt.path}; pass stage=1 or stage=2")
    return info, warnings


def _as_torch(state: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {k: v if isinstance(v, torch.Tensor) else torch.from_numpy(np.asarray(v)) for k, v in state.items()}


def weight_warnings(state: dict[str, torch.Tensor], binarised: list[str]) -> list[str]:
    """One line per tensor with NaN/inf values, and per binarised layer whose weights are all one value (a constant
    BatchNorm bias or running variance is normal and not named)."""
    lines, more = [], 0
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            continue
        fault = weight_faults(tensor.detach().cpu().numpy())
        if fault is None or (fault.n_nonfinite == 0 and name not in binarised):
            continue
        if len(lines) >= MAX_NAMED_TENSORS:
            more += 1
            continue
        what = "layer" if name in binarised else "tensor"
        effect = (
            "the accuracy below does not measure a sound network (binarised, NaN/inf acts as 0: torch.sign(NaN)"
            " = 0; unbinarised, it spreads to the outputs)"
            if fault.n_nonfinite
            else "its binary weights all take one value"
        )
        lines.append(f"{what} {name}: {fault.describe()}; {effect}")
    if more:
        lines.append(f"{more} more tensors hold NaN/inf values or a constant binarised layer (not named)")
    return lines


def evaluate_checkpoint(
    path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    data_dir: str | None = None,
    test_limit: int | None = None,
    device: str = "auto",
    batch_size: int = 1000,
    model: str | None = None,
    omega0: float | None = None,
    stage: int | None = None,
) -> dict[str, Any]:
    """Load a checkpoint strictly into our model and return its test loss and top-1 accuracy (%), the accuracy
    the file stores, and warnings for options that contradict the file."""
    ckpt = load_checkpoint(path, require_omega0=False, require_layers=False)
    info, warnings = checkpoint_info(ckpt, {"model": model, "omega0": omega0, "stage": stage, "dataset": dataset})
    ds = info["dataset"] or "fashion-mnist"
    state = _as_torch(ckpt.state_dict())
    # the input layer: VGG-small's stem is conv0 (its conv1 is binarised 128→128), the ResNets' is conv1
    first_conv = state.get("conv0.weight", state.get("conv1.weight", state.get("fc0.weight")))
    head = state.get("linear.weight", state.get("fc.weight"))
    in_channels = int(first_conv.shape[1]) if first_conv is not None and first_conv.dim() == 4 else None
    kwargs: dict[str, Any] = {
        "num_classes": int(head.shape[0]) if head is not None else 10,
        "omega0": float(info["omega0"]),
        "stage": int(info["stage"]),
        "binarizer": info["binarizer"],
        "surrogate": info["surrogate"],
    }
    if in_channels is not None:
        kwargs["in_channels"] = in_channels
    if info["model"] == "mlp_1w1a" and first_conv is not None and first_conv.dim() == 2:
        # the MLP's width and depth are read from the weights (any width a run was trained at loads)
        kwargs["width"] = int(first_conv.shape[0])
        kwargs["depth"] = sum(1 for k in state if k.startswith("hidden.") and k.endswith(".weight"))
        in_channels = kwargs["in_channels"] = int(first_conv.shape[1]) // (32 * 32)  # 32×32 images, flattened
    net = build_model(info["model"], **kwargs)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:3]) or str(exc)
        raise ValueError(f"{ckpt.path} does not match {info['model']}: {detail[:300]}") from None
    warnings += weight_warnings(state, binary_layer_names(net))
    test = data.load_split(ds, "test", data_dir, test_limit)
    if kwargs["num_classes"] != test.num_classes:
        raise ValueError(
            f"the checkpoint has {kwargs['num_classes']} output classes but {ds} has "
            f"{test.num_classes}; pass the dataset it was trained on"
        )
    dev = resolve_device(device)
    net.to(dev)
    loss, acc = evaluate(net, test, in_channels or 1, dev, batch_size)
    return {
        "checkpoint": str(ckpt.path),
        **info,
        "format": ckpt.format,
        "dataset": ds,
        "test_loss": loss,
        "test_acc": acc,
        "stored_acc": ckpt.stored_accuracy,
        "n_test": len(test),
        "binarized_layers": binary_layer_names(net),
        "warnings": warnings,
    }
