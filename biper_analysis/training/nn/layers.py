"""BiPer layers: a binarised 3×3 convolution and a binarised linear layer with official state-dict names.

Official layer (github.com/edmav4/BiPer, ``BinarizeConv2d``): no bias; ``alpha`` [C_out, 1, 1] learned
per-output-channel scale (init uniform(0, 1)) multiplying the output; ``beta`` [C_out, 1, 1] (a parameter
without gradient, set to the per-channel mean|w| at the start of stage 2) and the scalar buffer ``tau`` are
stored but unused in the forward pass. ω0, stage, binarizer and surrogate are constructor arguments.

``binarizer``: "biper" (weights p(ω0 w) in stage 1, sign(p(ω0 w)) in stage 2; binary activations), "sign"
(weights w in stage 1, sign(w) STE in stage 2; binary activations), "fp" (real weights and activations).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from biper_analysis.training.nn.binarizers import binary_activation, check_binarizer, weight_binarizer

__all__ = ["BinaryConv2d", "BinaryLinear", "BINARY_LAYERS", "binary_layers"]


class _BinaryMixin:
    """What a binarised conv and a binarised linear layer share: the options, alpha/beta/tau, the penalty."""

    weight: nn.Parameter

    def _init_binary(
        self,
        out_features: int,
        scale_shape: tuple[int, ...],
        *,
        omega0: float,
        stage: int,
        binarizer: str,
        surrogate: str,
    ) -> None:
        check_binarizer(binarizer, omega0, stage, surrogate)
        self.omega0, self.stage, self.binarizer, self.surrogate = float(omega0), int(stage), binarizer, surrogate
        self.alpha = nn.Parameter(torch.rand(out_features, *scale_shape))
        self.beta = nn.Parameter(torch.ones(out_features, *scale_shape), requires_grad=False)
        self.register_buffer("tau", torch.tensor(1.0))
        self._wfn = weight_binarizer(binarizer, self.omega0, self.stage, surrogate)

    def set_stage(self, stage: int) -> None:
        """Switch stage in place (stage 2 is initialised from stage 1 with the same ω0)."""
        check_binarizer(self.binarizer, self.omega0, stage, self.surrogate)
        self.stage = int(stage)
        self._wfn = weight_binarizer(self.binarizer, self.omega0, self.stage, self.surrogate)

    def binary_weight(self) -> Tensor:
        """The weight the layer computes with (sin(ω0 w), sign(sin(ω0 w)), w or sign(w))."""
        return self._wfn(self.weight)

    def _input(self, a: Tensor) -> Tensor:
        return a if self.binarizer == "fp" else binary_activation(a, self.training)

    def sin2_penalty(self) -> Tensor:
        """mean(sin²(ω0 w)) of this layer (the official τ-penalty term, before multiplying by τ)."""
        return torch.sin(self.omega0 * self.weight).pow(2).mean()

    def extra_repr(self) -> str:  # type: ignore[override]
        return (
            super().extra_repr() + f", omega0={self.omega0}, stage={self.stage}, "  # type: ignore[misc]
            f"binarizer={self.binarizer!r}, surrogate={self.surrogate!r}"
        )


class BinaryConv2d(_BinaryMixin, nn.Conv2d):
    """Binarised convolution (no bias) with per-output-channel scale alpha; official names and shapes.

    >>> layer = BinaryConv2d(4, 8, omega0=20.0, stage=2)
    >>> sorted(layer.state_dict())
    ['alpha', 'beta', 'tau', 'weight']
    >>> layer(torch.randn(2, 4, 5, 5)).shape
    torch.Size([2, 8, 5, 5])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        *,
        omega0: float = 20.0,
        stage: int = 2,
        binarizer: str = "biper",
        surrogate: str = "sine",
    ) -> None:
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False)
        self._init_binary(out_channels, (1, 1), omega0=omega0, stage=stage, binarizer=binarizer, surrogate=surrogate)

    def forward(self, a: Tensor) -> Tensor:  # type: ignore[override]
        out = F.conv2d(
            self._input(a), self.binary_weight(), None, self.stride, self.padding, self.dilation, self.groups
        )
        return out * self.alpha


class BinaryLinear(_BinaryMixin, nn.Linear):
    """Binarised linear layer (no bias), alpha [out_features]; activations normalised per sample in training.

    >>> layer = BinaryLinear(6, 3, omega0=20.0, stage=1)
    >>> layer(torch.randn(4, 6)).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        omega0: float = 20.0,
        stage: int = 2,
        binarizer: str = "biper",
        surrogate: str = "sine",
    ) -> None:
        nn.Linear.__init__(self, in_features, out_features, bias=False)
        self._init_binary(out_features, (), omega0=omega0, stage=stage, binarizer=binarizer, surrogate=surrogate)

    def forward(self, a: Tensor) -> Tensor:  # type: ignore[override]
        return F.linear(self._input(a), self.binary_weight()) * self.alpha


BINARY_LAYERS = (BinaryConv2d, BinaryLinear)


def binary_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(name, layer) of every binarised layer, in module order."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, BINARY_LAYERS)]
