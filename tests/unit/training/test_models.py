"""Models: official names, shapes and parameter counts; strict loading of official-format state dicts;
block structure (option-A shortcut, VGG max-pool placement); layer forward equal to the official layer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import biper_analysis.training.nn as bnn

BN2D = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.{k}": (() if k == "num_batches_tracked" else (c,)) for k in BN2D}


def _bconv(prefix: str, cin: int, cout: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (cout, cin, 3, 3),
        f"{prefix}.alpha": (cout, 1, 1),
        f"{prefix}.beta": (cout, 1, 1),
        f"{prefix}.tau": (),
    }


def official_resnet_shapes(widths, blocks, stem_in=3, num_classes=10):
    """Names and shapes written from the official CIFAR ResNets (models_cifar of the official repository), not
    from our code."""
    shapes = {"conv1.weight": (widths[0], stem_in, 3, 3), **_bn("bn1", widths[0])}
    cin = widths[0]
    for stage, (w, n) in enumerate(zip(widths, blocks), start=1):
        for b in range(n):
            p = f"layer{stage}.{b}"
            shapes.update(_bconv(f"{p}.conv1", cin, w))
            shapes.update(_bn(f"{p}.bn1", w))
            shapes.update(_bconv(f"{p}.conv2", w, w))
            shapes.update(_bn(f"{p}.bn2", w))
            cin = w
    shapes.update(_bn("bn2", cin))
    shapes.update({"linear.weight": (num_classes, cin), "linear.bias": (num_classes,)})
    return shapes


def official_vgg_shapes(num_classes=10):
    widths = [128, 128, 256, 256, 512, 512]
    shapes = {"conv0.weight": (128, 3, 3, 3), **_bn("bn0", 128)}
    for i in range(1, 6):
        shapes.update(_bconv(f"conv{i}", widths[i - 1], widths[i]))
        shapes.update(_bn(f"bn{i}", widths[i]))
    shapes.update({"fc.weight": (num_classes, 512 * 16), "fc.bias": (num_classes,)})
    return shapes


CASES = {
    "resnet20_1w1a": (lambda: official_resnet_shapes([16, 32, 64], [3, 3, 3]), 18, 271_000, 0.005),
    "resnet18_1w1a": (lambda: official_resnet_shapes([64, 128, 256, 512], [2, 2, 2, 2]), 16, 11.0e6, 0.005),
    "vgg_small_1w1a": (official_vgg_shapes, 5, 4.66e6, 0.002),
}


def _fake_official_state(shapes, prefix=""):
    """An official-format state dict: random values; ``tau`` saved as shape [1] as the official loop leaves it."""
    g = torch.Generator().manual_seed(0)
    sd = {}
    for k, shape in shapes.items():
        if k.endswith("num_batches_tracked"):
            sd[prefix + k] = torch.tensor(7)
        elif k.endswith(".tau"):
            sd[prefix + k] = torch.tensor([0.0468])
        elif k.endswith("running_var"):
            sd[prefix + k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[prefix + k] = torch.randn(shape, generator=g) * 0.1
    return sd


@pytest.mark.parametrize("name", list(CASES))
def test_names_shapes_counts_match_official(name):
    shapes_fn, n_binary, n_params, rel = CASES[name]
    model = bnn.build_model(name)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert ours == shapes_fn()
    assert len(bnn.binary_layer_names(model)) == n_binary
    count = sum(p.numel() for p in model.parameters())  # the official count (beta included)
    assert abs(count - n_params) / n_params < rel, count


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("prefix", ["", "module."])
def test_official_state_dict_loads_strictly(name, prefix, tmp_path):
    """Through the one checkpoint reader (which removes DataParallel's ``module.`` prefix)."""
    from biper_analysis.analysis.checkpoints import load_checkpoint

    sd = _fake_official_state(CASES[name][0](), prefix)
    torch.save({"epoch": 1, "best_prec1": 50.0, "state_dict": sd}, tmp_path / "m.pth.tar")
    model = bnn.build_model(name, stage=2)
    model.load_state_dict(load_checkpoint(tmp_path / "m.pth.tar", omega0=20.0).state_dict(), strict=True)
    key = "layer1.0.conv1.alpha" if name.startswith("resnet") else "conv1.alpha"
    assert torch.equal(model.state_dict()[key], sd[prefix + key])


def test_factory_signature_and_stage_switch():
    m = bnn.resnet20_1w1a(num_classes=7, in_channels=1, omega0=30.0, stage=1, binarizer="biper", surrogate="triangle")
    assert m(torch.randn(2, 1, 32, 32)).shape == (2, 7)
    layer = m.layer2[0].conv1
    assert (layer.omega0, layer.stage, layer.surrogate) == (30.0, 1, "triangle")
    bnn.set_stage(m, 2)
    assert layer.stage == 2 and set(layer.binary_weight().unique().tolist()) <= {-1.0, 0.0, 1.0}


def test_option_a_shortcut_pads_both_sides():
    block = bnn.resnet20_1w1a().layer2[0]  # 16 -> 32 channels, stride 2
    x = torch.randn(2, 16, 8, 8)
    out = block.shortcut(x)
    assert out.shape == (2, 32, 4, 4)
    assert torch.equal(out[:, :8], torch.zeros(2, 8, 4, 4)) and torch.equal(out[:, 24:], torch.zeros(2, 8, 4, 4))
    assert torch.allclose(out[:, 8:24], F.avg_pool2d(x, 2))


def test_vgg_maxpool_before_bn_after_conv1_3_5():
    m = bnn.vgg_small_1w1a().eval()
    seen = {}
    for i in range(1, 6):
        getattr(m, f"bn{i}").register_forward_hook(lambda mod, inp, out, i=i: seen.__setitem__(i, inp[0].shape[-1]))
    m(torch.randn(1, 3, 32, 32))
    assert seen == {1: 16, 2: 16, 3: 8, 4: 8, 5: 4}


def test_resnet20_residual_around_each_conv():
    """Block output equals the official block's formula computed by hand from the block's own submodules."""
    torch.manual_seed(0)
    block = bnn.resnet20_1w1a(stage=2).layer1[1].eval()
    x = torch.randn(2, 16, 8, 8)
    out = F.hardtanh(block.bn1(block.conv1(x)) + x)
    out = F.hardtanh(block.bn2(block.conv2(out)) + out)
    assert torch.equal(block(x), out)


def _official_binarize_conv(layer, a, omega0, stage2, training):
    """The official BinarizeConv2d forward, written from the official module cifar10/modules/binarized_modules.py."""
    if training:
        a = a / torch.sqrt(a.var([1, 2, 3], keepdim=True) + 1e-5)
    bw = torch.sin(omega0 * layer.weight)
    if stage2:
        bw = torch.sign(bw)
    return F.conv2d(torch.sign(a), bw, None, layer.stride, layer.padding) * layer.alpha


@pytest.mark.parametrize("stage", [1, 2])
@pytest.mark.parametrize("training", [True, False])
def test_binary_conv_forward_equals_official(stage, training):
    torch.manual_seed(1)
    layer = bnn.BinaryConv2d(4, 6, omega0=20.0, stage=stage).train(training)
    a = torch.randn(3, 4, 7, 7)
    assert torch.allclose(layer(a), _official_binarize_conv(layer, a, 20.0, stage == 2, training), atol=1e-6)


def test_binary_linear_and_mlp():
    layer = bnn.BinaryLinear(5, 3, omega0=20.0, stage=2)
    assert sorted(layer.state_dict()) == ["alpha", "beta", "tau", "weight"]
    assert layer.alpha.shape == (3,)
    m = bnn.mlp_1w1a()
    assert m(torch.randn(4, 1, 32, 32)).shape == (4, 10)
    assert bnn.binary_layer_names(m) == ["hidden.0.weight", "hidden.1.weight"]


def test_fp_and_sign_layers_use_real_weights_in_stage_1():
    torch.manual_seed(0)
    fp = bnn.BinaryConv2d(2, 2, binarizer="fp", stage=1).eval()
    a = torch.randn(1, 2, 4, 4)
    assert torch.allclose(fp(a), F.conv2d(a, fp.weight, padding=1) * fp.alpha, atol=1e-6)
    sign2 = bnn.BinaryConv2d(2, 2, binarizer="sign", stage=2).eval()
    assert torch.allclose(
        sign2(a), F.conv2d(torch.sign(a), torch.sign(sign2.weight), padding=1) * sign2.alpha, atol=1e-6
    )


def test_unknown_model_message():
    with pytest.raises(ValueError, match="unknown model 'resnet99'.*resnet20_1w1a"):
        bnn.build_model("resnet99")
    assert math.isclose(bnn.resnet20_1w1a().layer1[0].conv1.omega0, 20.0)
