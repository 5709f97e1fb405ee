"""BiPer networks in torch: binarizers, layers and models compatible with the official checkpoints.

Names load on first use (PEP 562), so that the torch-free :mod:`biper_analysis.training.nn.choices` can be imported
by the training options without loading torch.

>>> import biper_analysis.training.nn as bnn
>>> m = bnn.resnet20_1w1a(num_classes=10, in_channels=3, omega0=20.0, stage=2, binarizer="biper")
>>> len(bnn.binary_layer_names(m))
18
"""

from __future__ import annotations

import importlib
from typing import Any

_MODULES = {
    "choices": ("SURROGATES", "WEIGHT_BINARIZERS"),
    "binarizers": (
        "SIGN_OF_ZERO",
        "ActivationSign",
        "NormalisedActivationSign",
        "PeriodicWeight",
        "SignSTE",
        "binary_activation",
        "binary_sign",
        "triangle_wave",
        "weight_binarizer",
    ),
    "layers": ("BinaryConv2d", "BinaryLinear", "binary_layers"),
    "models": (
        "DEFAULT_IN_CHANNELS",
        "MODELS",
        "binary_layer_names",
        "build_model",
        "mlp_1w1a",
        "resnet18_1w1a",
        "resnet20_1w1a",
        "set_stage",
        "vgg_small_1w1a",
    ),
}
_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'biper_analysis.training.nn' has no attribute {name!r}")
    return getattr(importlib.import_module(f"biper_analysis.training.nn.{module}"), name)


def __dir__() -> list[str]:
    return __all__
