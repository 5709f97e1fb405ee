"""BiPer networks in torch: binarizers, layers and models compatible with the official checkpoints.

>>> import biper_analysis.nn as bnn
>>> m = bnn.resnet20_1w1a(num_classes=10, in_channels=3, omega0=20.0, stage=2, binarizer="biper")
>>> len(bnn.binary_layer_names(m))
18
"""
from biper_analysis.nn.binarizers import (
    SIGN_OF_ZERO,
    SURROGATES,
    WEIGHT_BINARIZERS,
    ActivationSign,
    NormalisedActivationSign,
    PeriodicWeight,
    SignSTE,
    binary_activation,
    binary_sign,
    triangle_wave,
    weight_binarizer,
)
from biper_analysis.nn.layers import BinaryConv2d, BinaryLinear, binary_layers
from biper_analysis.nn.models import (
    DEFAULT_IN_CHANNELS,
    MODELS,
    binary_layer_names,
    build_model,
    mlp_1w1a,
    resnet18_1w1a,
    resnet20_1w1a,
    set_stage,
    vgg_small_1w1a,
)

__all__ = [
    "SIGN_OF_ZERO", "SURROGATES", "WEIGHT_BINARIZERS", "ActivationSign", "NormalisedActivationSign",
    "PeriodicWeight", "SignSTE", "binary_activation", "binary_sign", "triangle_wave", "weight_binarizer",
    "BinaryConv2d", "BinaryLinear", "binary_layers", "DEFAULT_IN_CHANNELS", "MODELS", "binary_layer_names",
    "build_model", "mlp_1w1a", "resnet18_1w1a", "resnet20_1w1a", "set_stage",
    "vgg_small_1w1a",
]
