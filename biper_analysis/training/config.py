"""One frozen training configuration, saved with every checkpoint (DESIGN.md, convention 6).

Defaults are the anchor recipe: the official BiPer CIFAR scripts (``run_stg1.sh``/``run_stg2.sh``: lr 0.021 /
0.0037, weight decay 0.0016 / 0.00016, τ 0.037 / 0.0468, batch 256, SGD momentum 0.9, cosine with 5 warm-up
epochs) at the Fashion-MNIST length measured with the official code (28 + 19 epochs, ResNet-20, ω0 = 20).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from biper_analysis.nn.binarizers import SURROGATES, WEIGHT_BINARIZERS
from biper_analysis.paper import OFFICIAL_TAU, PUBLISHED_OMEGA0


@dataclass(frozen=True)
class TrainConfig:
    model: str = "resnet20_1w1a"          # a name in biper_analysis.nn.MODELS
    dataset: str = "fashion-mnist"        # fashion-mnist | mnist | cifar10
    data_dir: str | None = None           # None: $BIPER_DATA_DIR, else the dataset's default location
    binarizer: str = "biper"              # biper | sign | fp (fp: one stage of epochs1 + epochs2 epochs)
    surrogate: str = "sine"               # sine | triangle: the periodic latent behind sign(sin(ω0 w))
    omega0: float = PUBLISHED_OMEGA0      # angular frequency ω0 (rad per unit weight); all published runs use 20
    epochs1: int = 28                     # stage 1 epochs (latent weights sin(ω0 w), binary activations)
    epochs2: int = 19                     # stage 2 epochs (binary weights), initialised from stage 1's best
    batch_size: int = 256                 # global batch (split across processes under torchrun)
    test_batch_size: int = 1000           # evaluation batch (memory only; results do not depend on it)
    lr1: float = 0.021                    # peak learning rate, stage 1 (official run_stg1.sh)
    lr2: float = 0.0037                   # peak learning rate, stage 2 (official run_stg2.sh)
    weight_decay1: float = 0.0016         # SGD weight decay, stage 1 (on every parameter, as official)
    weight_decay2: float = 0.00016        # SGD weight decay, stage 2
    tau1: float = OFFICIAL_TAU[1]         # τ of the τ·Σ_layers mean sin²(ω0 w) penalty, stage 1 (biper only)
    tau2: float = OFFICIAL_TAU[2]         # τ, stage 2 (biper only; sign and fp use 0)
    momentum: float = 0.9                 # SGD momentum (official)
    warmup_epochs: int = 5                # linear warm-up lr·(e+1)/5, then cosine over the rest (official)
    augment: bool = True                  # random crop (pad 4) + horizontal flip on the training set
    train_limit: int | None = None        # keep the first N training examples (smoke runs), None: all
    test_limit: int | None = None         # keep the first N test examples, None: all
    seed: int = 0                         # seeds model init, data order and augmentation
    device: str = "auto"                  # auto (cuda when available) | cpu | cuda | cuda:N
    in_channels: int | None = None        # None: the model's default (3 for the CIFAR models, 1 for mlp_1w1a)

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def stages(self) -> tuple[int, ...]:
        """Stages this run trains: (1, 2) for biper/sign, (1,) for fp."""
        return (1,) if self.binarizer == "fp" else (1, 2)

    def stage_epochs(self, stage: int) -> int:
        return self.epochs1 + self.epochs2 if self.binarizer == "fp" else (self.epochs1 if stage == 1 else self.epochs2)

    def stage_lr(self, stage: int) -> float:
        return self.lr1 if stage == 1 else self.lr2

    def stage_weight_decay(self, stage: int) -> float:
        return self.weight_decay1 if stage == 1 else self.weight_decay2

    def stage_tau(self, stage: int) -> float:
        """τ of the sin² penalty: BiPer only (the sign baseline and fp use 0)."""
        if self.binarizer != "biper":
            return 0.0
        return self.tau1 if stage == 1 else self.tau2


def validate(cfg: TrainConfig) -> None:
    """ValueError naming the bad field, its valid range and the fix."""
    from biper_analysis.nn.models import MODELS
    from biper_analysis.training.data import DATASETS

    if cfg.model not in MODELS:
        raise ValueError(f"unknown model {cfg.model!r}; choose one of {', '.join(MODELS)}")
    if cfg.dataset not in DATASETS:
        raise ValueError(f"unknown dataset {cfg.dataset!r}; choose one of {', '.join(DATASETS)}")
    if cfg.binarizer not in WEIGHT_BINARIZERS:
        raise ValueError(f"unknown binarizer {cfg.binarizer!r}; choose one of {', '.join(WEIGHT_BINARIZERS)}")
    if cfg.surrogate not in SURROGATES:
        raise ValueError(f"unknown surrogate {cfg.surrogate!r}; choose one of {', '.join(SURROGATES)}")
    if not (math.isfinite(cfg.omega0) and cfg.omega0 > 0):
        raise ValueError(f"omega0 must be a finite number > 0, got {cfg.omega0}; e.g. --omega0 20")
    for name in ("epochs1", "epochs2", "warmup_epochs"):
        if getattr(cfg, name) < 0:
            raise ValueError(f"{name} must be >= 0, got {getattr(cfg, name)}")
    for name in ("batch_size", "test_batch_size"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(cfg, name)}")
    for name in ("train_limit", "test_limit"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"{name.replace('_', '-')} must be >= 1 (or omitted for the whole set), got {value}")
    for name in ("lr1", "lr2", "weight_decay1", "weight_decay2", "tau1", "tau2", "momentum"):
        value = getattr(cfg, name)
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")


def lr_at(epoch: int, base_lr: float, epochs: int, warmup_epochs: int = 5) -> float:
    r"""Learning rate of ``epoch`` (0-based), the official schedule as a pure function.

    Warm-up: base·(e+1)/W for e < W. Then cosine, :math:`\tfrac{base}{2}(1 + \cos(\pi (e − o)/(E − o)))`
    with o = W − 1 (the official ``CosineAnnealingLR(T_max = E − 4)`` stepped from epoch 4 on; o = 0 and plain
    cosine when W = 0).

    >>> [round(lr_at(e, 1.0, 10), 4) for e in range(10)]
    [0.2, 0.4, 0.6, 0.8, 1.0, 0.933, 0.75, 0.5, 0.25, 0.067]
    """
    if epoch < warmup_epochs:
        return base_lr * (epoch + 1) / warmup_epochs
    offset = max(warmup_epochs - 1, 0)
    span = max(epochs - offset, 1)
    return 0.5 * base_lr * (1.0 + math.cos(math.pi * (epoch - offset) / span))


#: Model size presets for quick runs. "short" is the small CPU network at a length the main job's sweep uses.
PRESETS: dict[str, dict[str, Any]] = {
    "short": {"model": "mlp_1w1a", "epochs1": 4, "epochs2": 3, "batch_size": 256, "lr1": 0.2, "lr2": 0.04,
              "weight_decay1": 1e-4, "weight_decay2": 1e-5, "warmup_epochs": 1, "augment": False},
    "anchor": {},
}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named configuration with overrides: ``preset("short", omega0=30.0, seed=1)``."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], **overrides})
