"""Official-format BiPer checkpoints built by hand (names and keys of the official code's models_cifar and
save_checkpoint), for tests and benchmarks.

Weights of binarised convs are Laplace(0, b) float32 draws, so the closed form should fit them.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

# (stage channels, blocks per stage, stem channels, head features) per architecture
ARCHS = {
    "resnet20_1w1a": ((16, 32, 64), 3, 16),
    "resnet18_1w1a": ((64, 128, 256, 512), 2, 64),
}


def _bn(prefix: str, c: int, torch: Any) -> dict[str, Any]:
    return {
        f"{prefix}.weight": torch.ones(c),
        f"{prefix}.bias": torch.zeros(c),
        f"{prefix}.running_mean": torch.zeros(c),
        f"{prefix}.running_var": torch.ones(c),
        f"{prefix}.num_batches_tracked": torch.tensor(0),
    }


def binarised_conv_names(arch: str) -> list[str]:
    stages, blocks, _ = ARCHS[arch]
    return [f"layer{s + 1}.{b}.conv{c}.weight" for s in range(len(stages)) for b in range(blocks) for c in (1, 2)]


def make_state_dict(
    arch: str = "resnet20_1w1a", b: float | list[float] = 0.03, seed: int = 0, num_classes: int = 10
) -> OrderedDict[str, Any]:
    """A state_dict with the official names; binarised conv weights ~ Laplace(0, b) (b per layer if a list)."""
    import torch

    rng = np.random.default_rng(seed)
    stages, blocks, stem = ARCHS[arch]
    sd: OrderedDict[str, Any] = OrderedDict()
    sd["conv1.weight"] = torch.from_numpy(rng.normal(0, 0.1, (stem, 3, 3, 3)).astype(np.float32))
    sd.update(_bn("bn1", stem, torch))
    cin = stem
    k = 0
    for s, c in enumerate(stages):
        for blk in range(blocks):
            for conv in (1, 2):
                name = f"layer{s + 1}.{blk}.conv{conv}"
                bk = b[k] if isinstance(b, (list, tuple)) else b
                k += 1
                w = rng.laplace(0.0, bk, (c, cin if conv == 1 else c, 3, 3)).astype(np.float32)
                sd[f"{name}.weight"] = torch.from_numpy(w)
                sd[f"{name}.alpha"] = torch.from_numpy(rng.uniform(0, 1, (c, 1, 1)).astype(np.float32))
                sd[f"{name}.beta"] = torch.from_numpy(np.abs(w).mean(axis=(1, 2, 3)).reshape(c, 1, 1))
                sd[f"{name}.tau"] = torch.tensor(0.037)
                sd.update(_bn(f"layer{s + 1}.{blk}.bn{conv}", c, torch))
                cin = c
    sd.update(_bn("bn2", cin, torch))
    sd["linear.weight"] = torch.from_numpy(rng.normal(0, 0.05, (num_classes, cin)).astype(np.float32))
    sd["linear.bias"] = torch.zeros(num_classes)
    return sd


def official_checkpoint(
    sd: OrderedDict[str, Any], arch: str, module_prefix: bool = False, optimizer_state: bool = False
) -> dict[str, Any]:
    """The official training script's dict (keys epoch, model, state_dict, best_prec1, optimizer, lr_scheduler)."""
    import torch

    if module_prefix:
        sd = OrderedDict((f"module.{k}", v) for k, v in sd.items())
    params = [k for k, v in sd.items() if v.is_floating_point() and "running" not in k]
    opt: dict[str, Any] = {
        "state": {},
        "param_groups": [{"lr": 0.1, "momentum": 0.9, "params": list(range(len(params)))}],
    }
    if optimizer_state:
        opt["state"] = {i: {"momentum_buffer": torch.zeros_like(sd[k])} for i, k in enumerate(params)}
    return {
        "epoch": 600,
        "model": arch,
        "state_dict": sd,
        "best_prec1": 86.98,
        "optimizer": opt,
        "lr_scheduler": {"last_epoch": 600, "T_max": 600},
    }


def write_config_txt(directory: Path, arch: str, omega0: float | None = 20.0) -> Path:
    lines = ["2024-03-28 11:02:13.544710", f"model:  {arch}", "lr:  0.1", "epochs:  600"]
    if omega0 is not None:
        lines.append(f"freq:  {float(omega0)!r}")
    path = Path(directory) / "config.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def save_official(
    directory: Path,
    arch: str = "resnet20_1w1a",
    omega0: float | None = 20.0,
    b: Any = 0.03,
    seed: int = 0,
    module_prefix: bool = False,
    optimizer_state: bool = False,
    name: str = "model_best.pth.tar",
) -> Path:
    """Write an official-format checkpoint and its config.txt into ``directory``; return the checkpoint path."""
    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    sd = make_state_dict(arch, b=b, seed=seed)
    path = directory / name
    torch.save(official_checkpoint(sd, arch, module_prefix, optimizer_state), path)
    write_config_txt(directory, arch, omega0)
    return path
