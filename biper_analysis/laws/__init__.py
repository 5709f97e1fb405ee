"""Weight laws: one protocol (:class:`Law`), one registry, the fits, the law file and the prediction SE.

Every public module of this package is imported with it, so a law defined in a new module here registers itself
(:func:`register`) and is offered everywhere laws are listed: ``fit-b --law``, the law file, the figures and the
analysis cache key. See :mod:`biper_analysis.laws.base` for the protocol.

Laws (all symmetric, location 0; :data:`MODELS` = the fittable ones, from the paper's model to the most flexible):
``laplace`` (b), ``gaussian`` (σ), ``gennorm`` (s, β), ``penalised`` (s, β, κ), ``penalised2`` (s, β, κ0, κ),
``penalised-alpha`` (s, β, κ0, κ, α), ``comb`` (σ, d0, d1, ε, b), ``harmonic`` (s, β, κ0, κ, c) and ``maxent``
(s, β, λ0, λ, μ), the two with peaks at the crests of |sin(ω0 w)| as well as at its zeros; and the priors
``student-t`` (df, scale) and ``empirical`` (a sample).

Why laws beyond Laplace: the paper's closed form assumes w ~ Laplace(0, b) (BiPer, CVPR 2024, arXiv:2404.01278,
Sec. 3), but trained weights are not Laplacian: the official CIFAR code adds τ·Σ mean sin²(ω0 w) to the loss
(github.com/edmav4/BiPer, ``cifar10/main.py``, ``forward``: ``loss_reg``), which pulls weights towards the zeros
kπ/ω0 of sin(ω0 w), and weight decay pulls them towards 0. Each law here has at most five fitted parameters and
predicts E sin²(ωw), E|sin(ωw)| and so QE_min = E sin² − (E|sin|)².

What they predict on real weights, out of sample (fitted on one half of a layer's output channels, scored on the
other, both ways; tolerance max(5 %, 2 SE) with channel-clustered SEs; the best law by held-out log-likelihood;
RESULTS.md has the per-layer tables): in a ResNet-20 1w1a trained by this package on Fashion-MNIST (ω0 = 20, 12 + 8
epochs, seed 0) the best law is within tolerance in 18 of 18 binarised convs (Laplace: 4 of 18; in layer 1, whose
2304 weights sit 77–89 % within π/8 of the zeros of sin(ω0 w), Laplace is +61 … +185 % off, the best law +1.4 …
+30 %, two of the six within by the 2-SE arm only); in the main job's MLP sweep, in 21 of 22 BiPer layers
(Laplace: 5 of 22), ``harmonic`` and ``maxent`` taking the ω0 = 20 and 60 layers, where weights also pile up at the
crests.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from biper_analysis.laws.base import (
    Law,
    LawInfo,
    law_class,
    law_info,
    law_names,
    law_style,
    law_versions,
    register,
    registered,
    unregister,
)
from biper_analysis.laws.comb import Comb
from biper_analysis.laws.empirical import Empirical
from biper_analysis.laws.fitting import fit_law, fit_laws, loglik, n_params
from biper_analysis.laws.gaussian import Gaussian
from biper_analysis.laws.gennorm import GenNorm
from biper_analysis.laws.laplace import Laplace
from biper_analysis.laws.lawfile import law_from_dict, law_to_dict
from biper_analysis.laws.penalised import Penalised, Penalised2, PenalisedAlpha
from biper_analysis.laws.phase import Harmonic, Maxent
from biper_analysis.laws.student_t import StudentT
from biper_analysis.laws.uncertainty import qe_prediction_se

__all__ = [
    "MODELS",
    "Law",
    "LawInfo",
    "Laplace",
    "Gaussian",
    "StudentT",
    "Empirical",
    "GenNorm",
    "Penalised",
    "Penalised2",
    "PenalisedAlpha",
    "Comb",
    "Harmonic",
    "Maxent",
    "fit_law",
    "fit_laws",
    "loglik",
    "n_params",
    "law_to_dict",
    "law_from_dict",
    "qe_prediction_se",
    "register",
    "unregister",
    "registered",
    "law_class",
    "law_info",
    "law_names",
    "law_versions",
    "law_style",
]

# a law module added to this package registers itself on import: import every public module
for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
del _module


def __getattr__(name: str) -> Any:
    if name == "MODELS":  # read at access time: the registry may have grown (a law registered by a test)
        return law_names(fittable=True)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
