"""Binarizers: forward values, sign(0), and autograd vs the formulas on grids with exact zeros."""

from __future__ import annotations

import math

import pytest
import torch

from biper_analysis.training.nn import binarizers

OMEGA0 = 20.0


def _grid() -> torch.Tensor:
    """w on a grid holding 0, the zeros kπ/ω0 of sin(ω0 w), the peaks (k+1/2)π/ω0, and generic points."""
    k = torch.arange(-4, 5, dtype=torch.float64)
    zeros = k * math.pi / OMEGA0
    peaks = (k + 0.5) * math.pi / OMEGA0
    generic = torch.linspace(-0.37, 0.41, 23, dtype=torch.float64)
    return torch.cat([torch.zeros(1, dtype=torch.float64), zeros, peaks, generic])


def _grad(fn, w: torch.Tensor) -> torch.Tensor:
    w = w.clone().requires_grad_(True)
    fn(w).backward(torch.ones_like(w))
    return w.grad


def test_sign_of_zero_is_the_official_torch_sign_choice():
    assert binarizers.SIGN_OF_ZERO == 0.0
    assert binarizers.binary_sign(torch.tensor([0.0, -0.0])).tolist() == [0.0, 0.0]
    # exact zeros stay 0 through every binarizer that applies sign (official torch.sign behaviour)
    assert float(binarizers.PeriodicWeight.apply(torch.zeros(1), OMEGA0, 2, "sine")) == binarizers.SIGN_OF_ZERO
    assert float(binarizers.SignSTE.apply(torch.zeros(1))) == binarizers.SIGN_OF_ZERO
    assert float(binarizers.binary_activation(torch.zeros(1, 3), training=False)[0, 0]) == binarizers.SIGN_OF_ZERO


@pytest.mark.parametrize("stage", [1, 2])
def test_biper_sine_gradient_is_omega0_cos(stage):
    w = _grid()
    expected = OMEGA0 * torch.cos(OMEGA0 * w)
    got = _grad(lambda v: binarizers.PeriodicWeight.apply(v, OMEGA0, stage, "sine"), w)
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)  # float64: exact up to rounding


def test_biper_forward_values():
    w = _grid()
    s1 = binarizers.PeriodicWeight.apply(w, OMEGA0, 1, "sine")
    s2 = binarizers.PeriodicWeight.apply(w, OMEGA0, 2, "sine")
    assert torch.equal(s1, torch.sin(OMEGA0 * w))
    assert torch.equal(s2, torch.sign(torch.sin(OMEGA0 * w)))
    assert set(s2.unique().tolist()) <= {-1.0, 0.0, 1.0}


@pytest.mark.parametrize("stage", [1, 2])
def test_triangle_surrogate_gradient_and_zero_crossings(stage):
    w = _grid()
    got = _grad(lambda v: binarizers.PeriodicWeight.apply(v, OMEGA0, stage, "triangle"), w)
    expected = (2.0 / math.pi) * OMEGA0 * torch.sign(torch.cos(OMEGA0 * w))
    assert torch.allclose(got, expected, rtol=0, atol=1e-12)
    # same zero crossings: the stage-2 forward equals the sine's, away from the (measure-zero) zeros themselves
    generic = torch.linspace(-0.37, 0.41, 101, dtype=torch.float64)
    tri2 = binarizers.PeriodicWeight.apply(generic, OMEGA0, 2, "triangle")
    assert torch.equal(tri2, torch.sign(torch.sin(OMEGA0 * generic)))


def test_triangle_wave_shape():
    t = torch.tensor([0.0, math.pi / 4, math.pi / 2, math.pi, 3 * math.pi / 2], dtype=torch.float64)
    assert torch.allclose(
        binarizers.triangle_wave(t), torch.tensor([0.0, 0.5, 1.0, 0.0, -1.0], dtype=torch.float64), atol=1e-12
    )
    # the stage-1 triangle latent's autograd-free derivative agrees with a finite difference away from peaks
    w = torch.tensor([0.013, -0.021, 0.2], dtype=torch.float64)
    h = 1e-7
    fd = (binarizers.triangle_wave(OMEGA0 * (w + h)) - binarizers.triangle_wave(OMEGA0 * (w - h))) / (2 * h)
    got = _grad(lambda v: binarizers.PeriodicWeight.apply(v, OMEGA0, 1, "triangle"), w)
    assert torch.allclose(got, fd, rtol=1e-6)


def test_sign_ste_is_identity_gradient():
    w = _grid()
    assert torch.equal(_grad(binarizers.SignSTE.apply, w), torch.ones_like(w))
    assert torch.equal(binarizers.SignSTE.apply(w), torch.sign(w))


def test_weight_binarizer_kinds():
    w = torch.tensor([-0.3, 0.0, 0.02], dtype=torch.float64)
    assert torch.equal(binarizers.weight_binarizer("sign", OMEGA0, 1)(w), w)
    assert torch.equal(binarizers.weight_binarizer("sign", OMEGA0, 2)(w), torch.sign(w))
    assert torch.equal(binarizers.weight_binarizer("fp", OMEGA0, 2)(w), w)
    with pytest.raises(ValueError, match="omega0"):
        binarizers.weight_binarizer("biper", 0.0, 2)
    with pytest.raises(ValueError, match="stage"):
        binarizers.weight_binarizer("biper", OMEGA0, 3)
    with pytest.raises(ValueError, match="surrogate"):
        binarizers.weight_binarizer("biper", OMEGA0, 2, "square")


def test_activation_surrogate_on_grid_with_zero_and_kinks():
    a = torch.tensor([-1.5, -1.0, -0.5, -0.25, 0.0, 0.25, 0.5, 1.0, 1.5], dtype=torch.float64)
    got = _grad(binarizers.ActivationSign.apply, a)
    assert torch.equal(got, torch.clamp(2 - 2 * a.abs(), min=0))
    assert got[4] == 2.0 and got[1] == 0.0


@pytest.mark.parametrize("shape", [(3, 4, 5, 5), (6, 7)])
def test_normalised_activation_matches_autograd_of_the_official_composition(shape):
    """Our fused backward == autograd through sign_surrogate(a / sqrt(var_unbiased(a) + 1e-5)) (official)."""
    torch.manual_seed(0)
    a = torch.randn(*shape, dtype=torch.float64) * 0.7 + 0.2
    a[0].view(-1)[0] = 0.0  # an exact zero in the grid
    g = torch.randn(*shape, dtype=torch.float64)
    x = a.clone().requires_grad_(True)
    out = binarizers.NormalisedActivationSign.apply(x)
    out.backward(g)
    y = a.clone().requires_grad_(True)
    dims = tuple(range(1, a.dim()))
    ref = binarizers.ActivationSign.apply(y / torch.sqrt(y.var(dims, keepdim=True) + binarizers.ACTIVATION_VAR_EPS))
    ref.backward(g)
    assert torch.equal(out, ref)  # sign(a/s) = sign(a)
    assert torch.allclose(x.grad, y.grad, rtol=1e-10, atol=1e-12)


def test_eval_activation_is_plain_sign():
    a = torch.randn(4, 3, 2, 2)
    assert torch.equal(binarizers.binary_activation(a, training=False), torch.sign(a))


def test_normalised_activation_float32_with_large_mean():
    """The one-pass variance is accurate in float32 with a sizeable mean (rel. 1e-4). (Where |mean| >> std the
    surrogate vanishes anyway: u = a/std lies outside (-1, 1).)"""
    torch.manual_seed(1)
    a = torch.randn(4, 16, 8, 8) * 0.1 + 0.08
    g = torch.randn_like(a)
    x = a.clone().requires_grad_(True)
    binarizers.NormalisedActivationSign.apply(x).backward(g)
    y = a.double().requires_grad_(True)
    scale = torch.sqrt(y.var((1, 2, 3), keepdim=True) + binarizers.ACTIVATION_VAR_EPS)
    binarizers.ActivationSign.apply(y / scale).backward(g.double())
    assert float((y.grad != 0).double().mean()) > 0.3  # the surrogate is active on much of the grid
    assert torch.allclose(x.grad.double(), y.grad, rtol=1e-4, atol=1e-4 * float(y.grad.abs().max()))
