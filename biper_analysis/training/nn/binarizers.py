r"""Binarizers as small autograd Functions: forward and backward side by side, no global state.

Source: Vargas et al., "BiPer", CVPR 2024 (arXiv:2404.01278), Sec. 3, and the official code
(github.com/edmav4/BiPer, ``cifar10/modules/binarized_modules.py``). ω0 is an angular frequency: the
latent weight is :math:`\sin(\omega_0 w)`, a wave of period :math:`2\pi/\omega_0` in w.

Weight binarizers (``weight_binarizer(kind, omega0, stage, surrogate)`` builds one):

* ``"biper"`` stage 1: forward :math:`\sin(\omega_0 w)` (real), backward :math:`\omega_0\cos(\omega_0 w)`.
  stage 2: forward :math:`\mathrm{sign}(\sin(\omega_0 w))`, backward straight through the sign and then
  through the sine, again :math:`\omega_0\cos(\omega_0 w)` times the incoming gradient (official code).
  ``surrogate="triangle"`` replaces the sine by the triangle wave
  :math:`\mathrm{tri}(t) = \tfrac{2}{\pi}\arcsin(\sin t)` with the same zeros and the same sign (so the stage-2
  forward is unchanged), derivative :math:`\tfrac{2}{\pi}\omega_0\,\mathrm{sign}(\cos(\omega_0 w))`.
* ``"sign"`` (baseline): stage 1 the real weight w; stage 2 sign(w) with the identity straight-through
  gradient (as the official ``BinaryQuantize``).
* ``"fp"``: the real weight, one stage.

Activations: :class:`ActivationSign` — forward sign(a), backward the triangle surrogate
:math:`\max(2 - 2|a|, 0)`; in training the official code first divides a by its per-sample standard
deviation over (C, H, W) (unbiased variance + 1e-5). :func:`binary_activation` fuses that normalisation
with the sign in one Function whose hand-written backward equals autograd through the official composition.

sign(0): :data:`SIGN_OF_ZERO` = 0.0, the official code's ``torch.sign``. This keeps the evaluation of official
checkpoints bit-identical to the official code; for weights the event sin(ω0 w) = 0 has probability zero,
and the zero padding of the convolutions is applied *after* binarisation, so it is not affected.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.autograd import Function

from biper_analysis.training.nn.choices import SURROGATES, WEIGHT_BINARIZERS

__all__ = [
    "SIGN_OF_ZERO",
    "ACTIVATION_VAR_EPS",
    "WEIGHT_BINARIZERS",
    "SURROGATES",
    "binary_sign",
    "triangle_wave",
    "PeriodicWeight",
    "SignSTE",
    "weight_binarizer",
    "check_binarizer",
    "ActivationSign",
    "NormalisedActivationSign",
    "binary_activation",
]

#: sign(0) — the official ``torch.sign`` convention (a true 0 at exactly 0). Named so tests pin it.
SIGN_OF_ZERO = 0.0
#: Added to the per-sample variance before the square root (official code).
ACTIVATION_VAR_EPS = 1e-5


def binary_sign(x: Tensor) -> Tensor:
    """sign(x) with sign(0) = :data:`SIGN_OF_ZERO` (torch.sign: −1, 0, +1).

    >>> binary_sign(torch.tensor([-2.0, 0.0, 3.0])).tolist()
    [-1.0, 0.0, 1.0]
    """
    return torch.sign(x)


def triangle_wave(t: Tensor) -> Tensor:
    r"""tri(t) = (2/π)·arcsin(sin t): period 2π, zeros at kπ like sin, amplitude 1 at t = π/2 + kπ.

    >>> round(float(triangle_wave(torch.tensor(math.pi / 4, dtype=torch.float64))), 12)
    0.5
    """
    return (2.0 / math.pi) * torch.asin(torch.sin(t).clamp(-1.0, 1.0))


# ---------------------------------------------------------------------------------------------------
# Weight binarizers
# ---------------------------------------------------------------------------------------------------
class PeriodicWeight(Function):
    r"""BiPer weight: latent p(ω0 w) with p = sin (or tri); stage 2 applies sign on top.

    forward:  stage 1 → p(ω0 w);  stage 2 → sign(p(ω0 w)) = sign(sin(ω0 w))
    backward: g · ω0 p'(ω0 w) in both stages (straight through the sign, then through the periodic latent);
              p' = cos for the sine, (2/π)·sign(cos) for the triangle.
    """

    @staticmethod
    def forward(ctx, w: Tensor, omega0: float, stage: int, surrogate: str) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(w)
        ctx.omega0, ctx.surrogate = omega0, surrogate
        t = omega0 * w
        if stage == 2:
            return binary_sign(torch.sin(t))
        return torch.sin(t) if surrogate == "sine" else triangle_wave(t)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (w,) = ctx.saved_tensors
        c = torch.cos(ctx.omega0 * w)
        slope = c if ctx.surrogate == "sine" else (2.0 / math.pi) * torch.sign(c)
        return grad * (ctx.omega0 * slope), None, None, None


class SignSTE(Function):
    """Sign baseline, stage 2: forward sign(w), backward the identity (official ``BinaryQuantize``)."""

    @staticmethod
    def forward(ctx, w: Tensor) -> Tensor:  # type: ignore[override]
        return binary_sign(w)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad


def weight_binarizer(kind: str, omega0: float, stage: int, surrogate: str = "sine") -> Callable[[Tensor], Tensor]:
    """The weight transform of one binarised layer, w → weight used in the convolution.

    >>> f = weight_binarizer("biper", 20.0, 2)
    >>> f(torch.tensor([0.01, -0.01, 0.2])).tolist()
    [1.0, -1.0, -1.0]
    """
    check_binarizer(kind, omega0, stage, surrogate)
    if kind == "biper":
        return lambda w: PeriodicWeight.apply(w, omega0, stage, surrogate)
    if kind == "sign" and stage == 2:
        return SignSTE.apply
    return lambda w: w


def check_binarizer(kind: str, omega0: float, stage: int, surrogate: str) -> None:
    """ValueError naming the bad argument, the valid values and the fix."""
    if kind not in WEIGHT_BINARIZERS:
        raise ValueError(f"binarizer must be one of {', '.join(WEIGHT_BINARIZERS)}, got {kind!r}")
    if stage not in (1, 2):
        raise ValueError(f"stage must be 1 or 2, got {stage!r}")
    if surrogate not in SURROGATES:
        raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)}, got {surrogate!r}")
    if not (isinstance(omega0, (int, float)) and math.isfinite(omega0) and omega0 > 0):
        raise ValueError(f"omega0 must be a finite number > 0, got {omega0!r}; e.g. omega0=20")


# ---------------------------------------------------------------------------------------------------
# Activation binarizer
# ---------------------------------------------------------------------------------------------------
class ActivationSign(Function):
    """forward sign(a); backward g·max(2 − 2|a|, 0) (official ``BinaryQuantize_a``)."""

    @staticmethod
    def forward(ctx, a: Tensor) -> Tensor:  # type: ignore[override]
        ctx.save_for_backward(a)
        return binary_sign(a)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        (a,) = ctx.saved_tensors
        return grad * (2.0 - 2.0 * a.abs()).clamp_(min=0.0)


class NormalisedActivationSign(Function):
    r"""Training-mode activation: sign(a / s) with s = sqrt(var_unbiased(a over non-batch dims) + 1e-5).

    Forward: since s > 0, sign(a/s) = sign(a). Backward (equal to autograd through the official
    composition ``sign_surrogate(a / sqrt(a.var(dims) + eps))``), with u = a/s, n elements per sample,
    g_u = g·max(2 − 2|u|, 0):

    .. math::  \partial L/\partial a = g_u/s − (a − \bar a)\,\frac{\sum g_u a}{(n−1)\,s^3}
    """

    @staticmethod
    def forward(ctx, a: Tensor) -> Tensor:  # type: ignore[override]
        flat = a.reshape(a.shape[0], -1)
        n = flat.shape[1]
        mean = flat.mean(1, keepdim=True)
        # unbiased per-sample variance (Σa² − n·mean²)/(n − 1) from one vectorised norm: torch's Welford
        # ``var`` is ~10x slower on CPU; float32 cancellation is negligible here (|mean| ≲ std)
        sumsq = torch.linalg.vector_norm(flat, dim=1, keepdim=True).square()
        var = ((sumsq - n * mean * mean) / max(n - 1, 1)).clamp_(min=0.0)
        s = torch.sqrt(var + ACTIVATION_VAR_EPS)
        ctx.save_for_backward(a, mean, s)
        return binary_sign(a)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        a, mean, s = ctx.saved_tensors
        shape = a.shape
        a = a.reshape(shape[0], -1)
        n = a.shape[1]
        inv_s = 1.0 / s
        g_u = a.abs().mul_(-2.0 * inv_s).add_(2.0).relu_().mul_(grad.reshape(shape[0], -1))
        coef = (g_u * a).sum(1, keepdim=True) * inv_s.pow(3) / max(n - 1, 1)
        out = g_u.mul_(inv_s).addcmul_(a, coef, value=-1.0).add_(mean * coef)
        return out.view(shape)


def binary_activation(a: Tensor, training: bool) -> Tensor:
    """Binary activation of a layer input: normalised + sign surrogate in training, plain sign in eval.

    >>> binary_activation(torch.tensor([[-0.5, 0.0, 2.0]]), training=False).tolist()
    [[-1.0, 0.0, 1.0]]
    """
    return NormalisedActivationSign.apply(a) if training else ActivationSign.apply(a)
