"""Test accuracy of a checkpoint: ours (ω0, stage, model stored inside) or official (config.txt beside it).

Official files hold ``epoch, model, state_dict, best_prec1, optimizer, lr_scheduler`` and no ω0; the official
``config.txt`` in the same directory holds ``freq`` (ω0), ``model``, ``dataset`` and ``stage2``. Official
checkpoints hold CUDA tensors (loaded with ``map_location="cpu"``); DataParallel keys lose ``module.``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from biper_analysis.nn.models import MODELS, binary_layer_names, build_model, strip_module_prefix
from biper_analysis.training import data as D
from biper_analysis.training.loop import BEST, CONFIG_TXT, evaluate, read_config_txt, resolve_device

#: The official config's dataset names → ours.
_OFFICIAL_DATASETS = {"cifar10": "cifar10", "mnist": "mnist", "fashion-mnist": "fashion-mnist",
                      "fashionmnist": "fashion-mnist", "fmnist": "fashion-mnist"}


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """A run directory → RUN/stage2/model_best.pth.tar, else the highest stage present; a file → itself."""
    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        for candidate in (p / "stage2" / BEST, p / "stage1" / BEST, p / BEST):
            if candidate.is_file():
                return candidate
        raise FileNotFoundError(f"no {BEST} under {str(p)!r} (looked in stage2/, stage1/ and the directory)")
    raise FileNotFoundError(f"checkpoint {str(p)!r} does not exist; pass a run directory or a .pth.tar file")


def _official_stage(official: dict[str, str], state: dict[str, Any]) -> int:
    """Stage of an official file: its config's ``stage2`` line; without one, from β — the official stage 1 leaves
    β at its initial ones, stage 2 sets it to the per-channel mean|w| of the loaded weights."""
    if "stage2" in official:
        return 2 if official["stage2"].lower() == "true" else 1
    betas = [v for k, v in state.items() if k.endswith(".beta")]
    return 1 if betas and all(bool(torch.all(b == 1)) for b in betas) else 2


def checkpoint_info(path: Path, ckpt: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """model, ω0, stage, binarizer, surrogate, dataset of a checkpoint (ours or official) with user overrides."""
    if "omega0" in ckpt:
        info = {"model": ckpt["model"], "omega0": float(ckpt["omega0"]), "stage": int(ckpt["stage"]),
                "binarizer": ckpt.get("binarizer", "biper"), "surrogate": ckpt.get("surrogate", "sine"),
                "dataset": ckpt.get("config", {}).get("dataset"), "format": "biper-analysis"}
    else:
        cfg_path = path.parent / CONFIG_TXT
        official = read_config_txt(cfg_path) if cfg_path.is_file() else {}
        if not official and overrides.get("omega0") is None:
            raise FileNotFoundError(f"{str(path)!r} holds no ω0 and has no {CONFIG_TXT} beside it; "
                                    "pass --omega0 and --stage (and --model)")
        from biper_analysis.checkpoints import omega0_from_config

        dataset_name = official.get("dataset", "").lower()
        if dataset_name and dataset_name not in _OFFICIAL_DATASETS and overrides.get("dataset") is None:
            raise ValueError(f"{CONFIG_TXT} names dataset {dataset_name!r}, which this tool cannot load; "
                             f"pass --dataset ({', '.join(sorted(set(_OFFICIAL_DATASETS.values())))})")
        info = {"model": official.get("model", ckpt.get("model")),
                "omega0": omega0_from_config(cfg_path),
                "stage": _official_stage(official, ckpt["state_dict"]),
                "binarizer": "biper", "surrogate": "sine",
                "dataset": _OFFICIAL_DATASETS.get(dataset_name), "format": "official"}
    for key, value in overrides.items():
        if value is not None:
            info[key] = value
    if info.get("model") not in MODELS:
        raise ValueError(f"checkpoint model {info.get('model')!r} is not one of {', '.join(MODELS)}; pass --model")
    if info.get("omega0") is None:
        raise ValueError(f"cannot tell ω0 of {str(path)!r}; pass --omega0")
    return info


def evaluate_checkpoint(path: str | os.PathLike[str], *, dataset: str | None = None, data_dir: str | None = None,
                        test_limit: int | None = None, device: str = "auto", batch_size: int = 1000,
                        model: str | None = None, omega0: float | None = None, stage: int | None = None
                        ) -> dict[str, Any]:
    """Load a checkpoint strictly into our model and return its test loss and top-1 accuracy (%)."""
    ckpt_path = find_checkpoint(path)
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is one line for the user
        raise ValueError(f"cannot read {str(ckpt_path)!r} as a torch checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt:
        raise ValueError(f"{str(ckpt_path)!r} has no 'state_dict'; is it a BiPer checkpoint?")
    info = checkpoint_info(ckpt_path, ckpt, {"model": model, "omega0": omega0, "stage": stage, "dataset": dataset})
    ds = info["dataset"] or "fashion-mnist"
    state = strip_module_prefix(ckpt["state_dict"])
    # the input layer: VGG-small's stem is conv0 (its conv1 is binarised 128→128), the ResNets' is conv1
    first_conv = state.get("conv0.weight", state.get("conv1.weight", state.get("fc0.weight")))
    head = state.get("linear.weight", state.get("fc.weight"))
    in_channels = int(first_conv.shape[1]) if first_conv is not None and first_conv.dim() == 4 else None
    kwargs = {"num_classes": int(head.shape[0]) if head is not None else 10, "omega0": info["omega0"],
              "stage": info["stage"], "binarizer": info["binarizer"], "surrogate": info["surrogate"]}
    if in_channels is not None:
        kwargs["in_channels"] = in_channels
    net = build_model(info["model"], **kwargs)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        detail = "; ".join(line.strip() for line in str(exc).splitlines()[1:3]) or str(exc)
        raise ValueError(f"{str(ckpt_path)!r} does not match {info['model']}: {detail[:300]}") from None
    dev = resolve_device(device)
    net.to(dev)
    test = D.load_split(ds, "test", data_dir, test_limit)
    if kwargs["num_classes"] != test.num_classes:
        raise ValueError(f"the checkpoint has {kwargs['num_classes']} output classes but {ds} has "
                         f"{test.num_classes}; pass the --dataset it was trained on")
    channels = in_channels or 1
    loss, acc = evaluate(net, test, channels, dev, batch_size)
    return {"checkpoint": str(ckpt_path), **info, "dataset": ds, "test_loss": loss, "test_acc": acc,
            "n_test": len(test), "binarized_layers": binary_layer_names(net)}
