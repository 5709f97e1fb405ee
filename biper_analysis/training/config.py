"""One frozen training configuration, saved with every checkpoint; the ``train`` options are generated from it.

Defaults are the official recipe: the official BiPer CIFAR scripts (``cifar10/run_stg1.sh`` /
``cifar10/run_stg2.sh`` of the official repository: lr 0.021 / 0.0037, weight decay 0.0016 / 0.00016,
τ 0.037 / 0.0468, batch 256, SGD momentum 0.9, cosine with 5 warm-up epochs) at the Fashion-MNIST length
measured with the official code (28 + 19 epochs, ResNet-20, ω0 = 20). Each field carries its help text (and
unit) in ``metadata["help"]``: :func:`add_config_arguments` turns the fields into command-line options, so an
option, its default and its help are written once.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
import warnings
from dataclasses import dataclass, field
from typing import Any

from biper_analysis.paper import OFFICIAL_TAU, PUBLISHED_OMEGA0
from biper_analysis.training.nn.choices import SURROGATES, WEIGHT_BINARIZERS

__all__ = [
    "WEIGHT_BINARIZERS",
    "SURROGATES",
    "TrainConfig",
    "validate",
    "lr_at",
    "PRESETS",
    "PRESET_ALIASES",
    "preset",
    "add_config_arguments",
    "config_from_namespace",
    "options_given",
    "parse_set",
]


def _opt(default: Any, help: str, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, **extra})


@dataclass(frozen=True)
class TrainConfig:
    model: str = _opt("resnet20_1w1a", "resnet20_1w1a | resnet18_1w1a | vgg_small_1w1a | mlp_1w1a")
    dataset: str = _opt("fashion-mnist", "fashion-mnist | mnist | cifar10")
    data_dir: str | None = _opt(
        None,
        "folder with the dataset files (else $BIPER_DATA_DIR, else Debian's /usr/share/datasets/fashion-mnist)",
        resumable=True,
    )
    binarizer: str = _opt("biper", "biper | sign | fp (fp: one stage of epochs1 + epochs2 epochs)")
    surrogate: str = _opt("sine", "sine | triangle: the periodic latent behind sign(sin(ω0 w)) (biper only)")
    omega0: float = _opt(PUBLISHED_OMEGA0, "angular frequency ω0 > 0, rad per unit weight (every published run: 20)")
    epochs1: int = _opt(28, "stage-1 epochs (latent weights sin(ω0 w), binary activations), >= 1")
    epochs2: int = _opt(19, "stage-2 epochs (binary weights, from stage 1's best), >= 1")
    batch_size: int = _opt(256, "global batch (split across processes under torchrun)")
    test_batch_size: int = _opt(1000, "evaluation batch (memory only; results do not depend on it)")
    lr1: float = _opt(0.021, "peak learning rate, stage 1 (official run_stg1.sh)")
    lr2: float = _opt(0.0037, "peak learning rate, stage 2 (official run_stg2.sh)")
    weight_decay1: float = _opt(0.0016, "SGD weight decay, stage 1 (on every parameter, as official)")
    weight_decay2: float = _opt(0.00016, "SGD weight decay, stage 2")
    tau1: float = _opt(OFFICIAL_TAU[1], "τ of the τ·Σ_layers mean sin²(ω0 w) penalty, stage 1 (biper only)")
    tau2: float = _opt(OFFICIAL_TAU[2], "τ of the penalty, stage 2 (biper only; sign and fp use 0)")
    momentum: float = _opt(0.9, "SGD momentum (official)")
    warmup_epochs: int = _opt(5, "linear warm-up lr·(e+1)/W over W epochs, then cosine (official)")
    augment: bool = _opt(True, "random crop (pad 4) + horizontal flip on the training set")
    width: int | None = _opt(None, "hidden width of mlp_1w1a (default: the model's 512)")
    train_limit: int | None = _opt(None, "use the first N training images (default: all)")
    test_limit: int | None = _opt(None, "use the first N test images (default: all)")
    seed: int = _opt(0, "seed of the initial weights, data order and augmentation, >= 0")
    device: str = _opt("auto", "auto (CUDA when available) | cpu | cuda | cuda:N", resumable=True)
    in_channels: int | None = _opt(None, "input channels (default: 3 for the CIFAR models, 1 for mlp_1w1a)")
    trajectory: bool = _opt(
        True,
        "record, per binarised layer and epoch, flips, zero crossings of the latent and the "
        "phase histogram in metrics.jsonl (biper_analysis.training.trajectory)",
    )
    record_every_steps: int = _opt(
        0, "also record the trajectory every N optimiser steps within an epoch (0: per epoch only)"
    )
    tensorboard: bool = _opt(
        True, "write TensorBoard event files into the run folder (tensorboard --logdir RUN)", resumable=True
    )

    def __post_init__(self) -> None:
        validate(self)

    def replace(self, **changes: Any) -> TrainConfig:
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

    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the model factory beyond (num_classes, in_channels, ω0, stage, binarizer)."""
        return {} if self.width is None else {"width": self.width}


#: Fields that may change when a run is resumed (where it runs, not what it computes).
RESUMABLE_FIELDS = tuple(f.name for f in dataclasses.fields(TrainConfig) if f.metadata.get("resumable"))


def validate(cfg: TrainConfig) -> None:
    """ValueError naming the bad field, its valid range and the fix."""
    from biper_analysis.training.data import DATASETS
    from biper_analysis.training.nn.models import MODELS

    choices = {"model": MODELS, "dataset": DATASETS, "binarizer": WEIGHT_BINARIZERS, "surrogate": SURROGATES}
    for name, valid in choices.items():
        if getattr(cfg, name) not in valid:
            raise ValueError(f"unknown {name} {getattr(cfg, name)!r}; choose one of {', '.join(valid)}")
    if cfg.surrogate != "sine" and cfg.binarizer != "biper":
        raise ValueError(
            f"surrogate {cfg.surrogate!r} applies to binarizer 'biper' only (the {cfg.binarizer} "
            "binarizer has no periodic latent); leave surrogate at 'sine'"
        )
    if not (isinstance(cfg.omega0, (int, float)) and math.isfinite(cfg.omega0) and cfg.omega0 > 0):
        raise ValueError(f"omega0 must be a finite number > 0, got {cfg.omega0}; e.g. omega0=20")
    minimum = {
        "epochs1": 1,
        "epochs2": 0 if cfg.binarizer == "fp" else 1,
        "warmup_epochs": 0,
        "seed": 0,
        "batch_size": 1,
        "test_batch_size": 1,
        "record_every_steps": 0,
    }
    for name, low in minimum.items():
        if getattr(cfg, name) < low:
            raise ValueError(f"{name} must be >= {low}, got {getattr(cfg, name)}; e.g. {name}={max(low, 1)}")
    for name in ("train_limit", "test_limit", "width", "in_channels"):
        value = getattr(cfg, name)
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1 (or None for the default), got {value}")
    if cfg.width is not None and cfg.model != "mlp_1w1a":
        raise ValueError(f"width applies to model 'mlp_1w1a' only, not {cfg.model!r}; leave width unset")
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


#: Named configurations. "short": the small CPU network of the main job's training sweep (mlp_1w1a at width 256; its
#: length and learning rates come from the convergence study, biper_analysis.training.convergence: doubling both stages
#: changed the mean best accuracy over 5 paired seeds by −0.10 pp for BiPer and +0.08 pp for sign). "official": the
#: official recipe as it is (the defaults).
PRESETS: dict[str, dict[str, Any]] = {
    "short": {
        "model": "mlp_1w1a",
        "width": 256,
        "epochs1": 8,
        "epochs2": 12,
        "batch_size": 256,
        "lr1": 0.2,
        "lr2": 0.1,
        "weight_decay1": 5e-4,
        "weight_decay2": 1e-5,
        "warmup_epochs": 1,
        "augment": False,
    },
    "official": {},
}
#: Old preset names that still work, with a deprecation warning.
PRESET_ALIASES = {"anchor": "official"}


def preset(name: str, **overrides: Any) -> TrainConfig:
    """A named configuration with overrides: ``preset("short", omega0=30.0, seed=1)``."""
    if name in PRESET_ALIASES:
        new = PRESET_ALIASES[name]
        warnings.warn(
            f"preset {name!r} is now called {new!r}; the old name will be removed", DeprecationWarning, stacklevel=2
        )
        name = new
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return TrainConfig(**{**PRESETS[name], **overrides})


# ---------------------------------------------------------------------------------------------------
# Command-line options from the fields
# ---------------------------------------------------------------------------------------------------
def _flag(name: str) -> str:
    return name.replace("_", "-")


def _field_types() -> dict[str, Any]:
    hints = typing.get_type_hints(TrainConfig)
    out = {}
    for name, hint in hints.items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        out[name] = args[0] if args else hint
    return out


def add_config_arguments(
    parser: argparse.ArgumentParser, skip: tuple[str, ...] = (), defaults: dict[str, Any] | None = None
) -> None:
    """One option per TrainConfig field (``--epochs1``; a bool that defaults to True becomes ``--no-augment``),
    help and default from the field, plus ``--set key=value`` for any field. Unset options stay None, so a preset's
    values apply unless the user overrides them. ``defaults``: the default a command applies instead of the
    field's (shown in the help)."""
    types = _field_types()
    for f in dataclasses.fields(TrainConfig):
        if f.name in skip:
            continue
        kind = types[f.name]
        if kind is bool:
            flag = f"--no-{_flag(f.name)}" if f.default else f"--{_flag(f.name)}"
            parser.add_argument(
                flag,
                dest=f.name,
                action="store_const",
                const=not f.default,
                default=None,
                help=f"{'no ' if f.default else ''}{f.metadata['help']}",
            )
            continue
        shown = (defaults or {}).get(f.name, f.default)
        default = "none" if shown is None else f"{shown:g}" if isinstance(shown, float) else shown
        parser.add_argument(
            f"--{_flag(f.name)}",
            dest=f.name,
            type=kind,
            default=None,
            metavar=f.name.upper(),
            help=f"{f.metadata['help']} (default {default})",
        )
    parser.add_argument(
        "--set",
        dest="set_fields",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set any training field, e.g. --set momentum=0.8 (see the options above)",
    )


def parse_set(items: list[str]) -> dict[str, Any]:
    """``["momentum=0.8", "augment=false"]`` → {"momentum": 0.8, "augment": False}, typed by the fields.

    >>> parse_set(["momentum=0.8", "augment=false", "train_limit=none"])
    {'momentum': 0.8, 'augment': False, 'train_limit': None}
    """
    types = _field_types()
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(types)}")
        kind = types[key]
        text = text.strip()
        if text.lower() == "none":
            out[key] = None
        elif kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(f"--set {item!r}: {key} takes true or false")
            out[key] = text.lower() in ("true", "1", "yes")
        else:
            try:
                out[key] = kind(text)
            except ValueError:
                raise ValueError(f"--set {item!r}: {key} takes a {kind.__name__}") from None
    return out


def options_given(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields an argparse namespace built by :func:`add_config_arguments` sets (the options given,
    then ``--set``)."""
    given = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(TrainConfig)
        if getattr(args, f.name, None) is not None
    }
    given.update(parse_set(getattr(args, "set_fields", []) or []))
    return given


def config_from_namespace(args: argparse.Namespace, preset_name: str | None = None) -> TrainConfig:
    """The TrainConfig an argparse namespace built by :func:`add_config_arguments` asks for (a preset, then the
    options given, then ``--set``)."""
    given = options_given(args)
    if preset_name is not None:
        return preset(preset_name, **given)
    return TrainConfig(**given)
