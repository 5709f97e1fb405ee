"""The names of the weight binarizers and periodic latents (torch-free, so that the training options can list
them without loading torch). :mod:`biper_analysis.training.nn.binarizers` implements them."""

from __future__ import annotations

__all__ = ["WEIGHT_BINARIZERS", "SURROGATES"]

#: Weight binarizers (biper: sign(sin(ω0 w)); sign: the sign-STE baseline; fp: full precision).
WEIGHT_BINARIZERS = ("biper", "sign", "fp")
#: BiPer's periodic latents behind sign(sin(ω0 w)): the sine (official) or a triangle wave of the same period.
SURROGATES = ("sine", "triangle")
