"""ResNet-20, ResNet-18 and VGG-small 1w1a for 32×32 inputs with the official names and shapes, plus a small
CPU-friendly BiPer MLP.

The architectures follow the official BiPer code (github.com/edmav4/BiPer, ``cifar10/models_cifar``; the facts
below) so that official checkpoints load with ``load_state_dict(..., strict=True)``:

* resnet20_1w1a: full-precision stem conv1 3→16 + bn1 + hardtanh; 3 stages × 3 blocks (16/32/64 channels,
  strides 1/2/2), a residual around *each* binarised conv; global average pool → BatchNorm1d(64) ``bn2`` →
  ``linear``. 18 binarised convs, 271k parameters (official count, ``beta`` included).
* resnet18_1w1a: stem conv1 3→64 + bn1 with no nonlinearity; 4 stages × 2 blocks (64/128/256/512, strides
  1/2/2/2), block out = ht(bn1(conv1 x)); out = ht(bn2(conv2 out) + shortcut x); avg_pool2d(4) → bn2 → linear.
* Shortcut on a shape change: AvgPool2d(2) then zero channels on both sides, planes//4 each ("option A").
* vgg_small_1w1a: conv0 3→128 + bn0 + ht (full precision); binarised conv1..conv5 (128,128,256,256,512,512)
  each followed by bn and hardtanh, MaxPool2d(2) right after conv1, conv3, conv5 (before their bn); fc 8192→C.

Every factory has the signature ``(num_classes=10, in_channels=3, omega0=20.0, stage=2, binarizer="biper",
surrogate="sine")``; these names and keywords are a stable API.
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn import init

from biper_analysis.training.nn.layers import BinaryConv2d, BinaryLinear, binary_layers

__all__ = [
    "resnet20_1w1a",
    "resnet18_1w1a",
    "vgg_small_1w1a",
    "mlp_1w1a",
    "MODELS",
    "DEFAULT_IN_CHANNELS",
    "build_model",
    "binary_layer_names",
    "set_stage",
]


def _kaiming_conv_init(module: nn.Module) -> None:
    """Official init: kaiming_normal_ on every Conv2d weight (binarised ones included); Linear keeps torch's."""
    if isinstance(module, nn.Conv2d):
        init.kaiming_normal_(module.weight)


class _OptionA(nn.Module):
    """Shortcut on a shape change: AvgPool2d(2), then ``pad`` zero channels on each side of the channel axis."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.pad = pad
        self.pool = nn.AvgPool2d(2)

    def forward(self, x: Tensor) -> Tensor:
        return F.pad(self.pool(x), (0, 0, 0, 0, self.pad, self.pad), "constant", 0.0)


def _shortcut(in_planes: int, planes: int, stride: int) -> nn.Module:
    if stride != 1 or in_planes != planes:
        return _OptionA(planes // 4)
    return nn.Identity()


class _BinaryBlock(nn.Module):
    """Two binarised 3×3 convs with BatchNorm and an option-A shortcut; subclasses differ only in forward."""

    def __init__(self, in_planes: int, planes: int, stride: int, **opts: object) -> None:
        super().__init__()
        self.conv1 = BinaryConv2d(in_planes, planes, 3, stride, 1, **opts)  # type: ignore[arg-type]
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = BinaryConv2d(planes, planes, 3, 1, 1, **opts)  # type: ignore[arg-type]
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = _shortcut(in_planes, planes, stride)


class BasicBlock20(_BinaryBlock):
    """ResNet-20 1w1a block: a residual around each conv (official ``BasicBlock_1w1a``)."""

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn1(self.conv1(x)) + self.shortcut(x))
        return F.hardtanh(self.bn2(self.conv2(out)) + out)


class BasicBlock18(_BinaryBlock):
    """ResNet-18 1w1a block: out = ht(bn1(conv1 x)); out = ht(bn2(conv2 out) + shortcut x)."""

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn1(self.conv1(x)))
        return F.hardtanh(self.bn2(self.conv2(out)) + self.shortcut(x))


class CifarResNet(nn.Module):
    """The official CIFAR ResNet skeleton (stem, stages ``layer1..``, BatchNorm1d ``bn2``, ``linear``)."""

    def __init__(
        self,
        block: type[nn.Module],
        num_blocks: list[int],
        widths: list[int],
        strides: list[int],
        num_classes: int,
        in_channels: int,
        stem_hardtanh: bool,
        final_pool: int | None,
        **opts: object,
    ) -> None:
        super().__init__()
        self.stem_hardtanh, self.final_pool = stem_hardtanh, final_pool
        self.conv1 = nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        in_planes = widths[0]
        for i, (n, planes, stride) in enumerate(zip(num_blocks, widths, strides), start=1):
            blocks = []
            for s in [stride] + [1] * (n - 1):
                blocks.append(block(in_planes, planes, s, **opts))
                in_planes = planes
            self.add_module(f"layer{i}", nn.Sequential(*blocks))
        self.n_stages = len(num_blocks)
        self.bn2 = nn.BatchNorm1d(in_planes)
        self.linear = nn.Linear(in_planes, num_classes)
        self.apply(_kaiming_conv_init)

    def forward(self, x: Tensor) -> Tensor:
        out = self.bn1(self.conv1(x))
        if self.stem_hardtanh:
            out = F.hardtanh(out)
        for i in range(1, self.n_stages + 1):
            out = getattr(self, f"layer{i}")(out)
        pool = out.size(3) if self.final_pool is None else self.final_pool
        out = F.avg_pool2d(out, pool).flatten(1)
        return self.linear(self.bn2(out))


class VGGSmall(nn.Module):
    """VGG-small 1w1a (official names conv0/bn0, conv1..5, bn1..5, fc)."""

    def __init__(self, num_classes: int, in_channels: int, **opts: object) -> None:
        super().__init__()
        widths = [128, 128, 256, 256, 512, 512]
        self.conv0 = nn.Conv2d(in_channels, 128, 3, 1, 1, bias=False)
        self.bn0 = nn.BatchNorm2d(128)
        for i in range(1, 6):
            self.add_module(f"conv{i}", BinaryConv2d(widths[i - 1], widths[i], 3, 1, 1, **opts))  # type: ignore[arg-type]
            self.add_module(f"bn{i}", nn.BatchNorm2d(widths[i]))
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(512 * 4 * 4, num_classes)
        self.apply(_kaiming_conv_init)

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn0(self.conv0(x)))
        for i in range(1, 6):
            out = getattr(self, f"conv{i}")(out)
            if i in (1, 3, 5):
                out = self.pool(out)
            out = F.hardtanh(getattr(self, f"bn{i}")(out))
        return self.fc(out.flatten(1))


class BiPerMLP(nn.Module):
    """Small CPU-friendly BiPer network: fp ``fc0`` + bn0 + hardtanh, binarised hidden layers, fp ``fc``.

    Like the CIFAR models the first and last layers stay full precision; every hidden ``hiddenK`` is a
    :class:`BinaryLinear` followed by BatchNorm1d and hardtanh. Input: any (N, C, H, W), flattened.
    """

    def __init__(self, num_classes: int, in_features: int, width: int, depth: int, **opts: object) -> None:
        super().__init__()
        self.fc0 = nn.Linear(in_features, width, bias=False)
        self.bn0 = nn.BatchNorm1d(width)
        self.hidden = nn.ModuleList(BinaryLinear(width, width, **opts) for _ in range(depth))  # type: ignore[arg-type]
        self.bns = nn.ModuleList(nn.BatchNorm1d(width) for _ in range(depth))
        self.fc = nn.Linear(width, num_classes)
        for layer in self.hidden:
            init.kaiming_normal_(layer.weight)

    def forward(self, x: Tensor) -> Tensor:
        out = F.hardtanh(self.bn0(self.fc0(x.flatten(1))))
        for layer, bn in zip(self.hidden, self.bns):
            out = F.hardtanh(bn(layer(out)))
        return self.fc(out)


def _opts(omega0: float, stage: int, binarizer: str, surrogate: str) -> dict[str, object]:
    return {"omega0": omega0, "stage": stage, "binarizer": binarizer, "surrogate": surrogate}


def resnet20_1w1a(
    num_classes: int = 10,
    in_channels: int = 3,
    omega0: float = 20.0,
    stage: int = 2,
    binarizer: str = "biper",
    surrogate: str = "sine",
) -> CifarResNet:
    """ResNet-20 1w1a (official ``resnet20_1w1a``).

    >>> m = resnet20_1w1a()
    >>> sum(p.numel() for p in m.parameters()), len(binary_layer_names(m))
    (271194, 18)
    """
    return CifarResNet(
        BasicBlock20,
        [3, 3, 3],
        [16, 32, 64],
        [1, 2, 2],
        num_classes,
        in_channels,
        stem_hardtanh=True,
        final_pool=None,
        **_opts(omega0, stage, binarizer, surrogate),
    )


def resnet18_1w1a(
    num_classes: int = 10,
    in_channels: int = 3,
    omega0: float = 20.0,
    stage: int = 2,
    binarizer: str = "biper",
    surrogate: str = "sine",
) -> CifarResNet:
    """ResNet-18 1w1a for 32×32 inputs (official CIFAR ``resnet18_1w1a``): 16 binarised convs."""
    return CifarResNet(
        BasicBlock18,
        [2, 2, 2, 2],
        [64, 128, 256, 512],
        [1, 2, 2, 2],
        num_classes,
        in_channels,
        stem_hardtanh=False,
        final_pool=4,
        **_opts(omega0, stage, binarizer, surrogate),
    )


def vgg_small_1w1a(
    num_classes: int = 10,
    in_channels: int = 3,
    omega0: float = 20.0,
    stage: int = 2,
    binarizer: str = "biper",
    surrogate: str = "sine",
) -> VGGSmall:
    """VGG-small 1w1a (official ``vgg_small_1w1a``): 5 binarised convs, 4.66M parameters."""
    return VGGSmall(num_classes, in_channels, **_opts(omega0, stage, binarizer, surrogate))


def mlp_1w1a(
    num_classes: int = 10,
    in_channels: int = 1,
    omega0: float = 20.0,
    stage: int = 2,
    binarizer: str = "biper",
    surrogate: str = "sine",
    *,
    image_size: int = 32,
    width: int = 512,
    depth: int = 2,
) -> BiPerMLP:
    """The small CPU network: 1024 → 512 (fp) → 2 × BiPer 512 → 10 on one-channel 32×32 images."""
    return BiPerMLP(
        num_classes, in_channels * image_size * image_size, width, depth, **_opts(omega0, stage, binarizer, surrogate)
    )


#: Every model the CLI and the training loop accept, by name.
MODELS: dict[str, Callable[..., nn.Module]] = {
    "resnet20_1w1a": resnet20_1w1a,
    "resnet18_1w1a": resnet18_1w1a,
    "vgg_small_1w1a": vgg_small_1w1a,
    "mlp_1w1a": mlp_1w1a,
}
#: Input channels each model expects by default (the CIFAR models take the 3-channel convention).
DEFAULT_IN_CHANNELS = {"resnet20_1w1a": 3, "resnet18_1w1a": 3, "vgg_small_1w1a": 3, "mlp_1w1a": 1}


def build_model(name: str, **kwargs: object) -> nn.Module:
    """Build a model by name; ValueError listing the valid names otherwise."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[name](**kwargs)


def binary_layer_names(model: nn.Module) -> list[str]:
    """State-dict names of the binarised weights (``<layer>.weight``), in module order."""
    return [f"{name}.weight" for name, _ in binary_layers(model)]


def set_stage(model: nn.Module, stage: int) -> None:
    """Switch every binarised layer of ``model`` to ``stage`` (1 or 2) in place."""
    for _, layer in binary_layers(model):
        layer.set_stage(stage)  # type: ignore[operator]
