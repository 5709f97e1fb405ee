"""biper-analysis: derive, evaluate, witness and measure the quantisation error of BiPer binary networks.

>>> import biper_analysis as ba
>>> f"{ba.qe(20.0, 0.05, 0.6):.6f}"
'0.105801'

Heavy or optional parts (torch models, checkpoint analysis) load on first use, so ``import biper_analysis``
stays light and the theory never imports torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from biper_analysis._version import __version__
from biper_analysis.theory.analytic import (
    dqe_domega0,
    expected_abs_sin,
    expected_sin2,
    normalised_qe,
    normalised_qe_sign,
    official_l1,
    optimal_gamma,
    qe,
    qe_from_moments,
    qe_min,
    qe_min_peak,
    qe_sign,
)

# public name -> module that defines it (a module itself when the name is its last part); resolved on first
# attribute access (PEP 562), so that ``import biper_analysis`` stays light and the theory never imports torch.
_LAZY = {
    # theory
    "analytic": "biper_analysis.theory.analytic",
    "symbolic": "biper_analysis.theory.symbolic",
    "quadrature": "biper_analysis.theory.quadrature",
    "montecarlo": "biper_analysis.theory.montecarlo",
    "spectral": "biper_analysis.theory.spectral",
    "conventions": "biper_analysis.theory.conventions",
    "witnesses": "biper_analysis.theory.witnesses",
    "weights": "biper_analysis.theory.weights",
    "weight_stats": "biper_analysis.theory.weights",
    "omega0_for_qe": "biper_analysis.theory.inverse",
    # laws
    "laws": "biper_analysis.laws",
    "priors": "biper_analysis.laws.priors",
    "fit_law": "biper_analysis.laws",
    "load_law": "biper_analysis.laws.lawfile",
    # analysis
    "goodness": "biper_analysis.analysis.goodness",
    "checkpoints": "biper_analysis.analysis.checkpoints",
    "load_checkpoint": "biper_analysis.analysis.checkpoints",
    "report": "biper_analysis.analysis.report",
    "analyze_checkpoint": "biper_analysis.analysis.report",
    "qe_grid": "biper_analysis.analysis.qe_grid",
    # training
    "nn": "biper_analysis.training.nn",
    "training": "biper_analysis.training",
    "training_sweep": "biper_analysis.training.sweep",
    # faces and quoted numbers
    "plotting": "biper_analysis.plotting",
    "paper": "biper_analysis.paper",
}
#: the names of _LAZY that are functions of their module (the others are the modules themselves)
_FUNCTIONS = {"weight_stats", "omega0_for_qe", "fit_law", "load_law", "load_checkpoint", "analyze_checkpoint"}

__all__ = [
    "qe",
    "qe_min",
    "optimal_gamma",
    "expected_sin2",
    "expected_abs_sin",
    "dqe_domega0",
    "qe_min_peak",
    "qe_sign",
    "normalised_qe",
    "normalised_qe_sign",
    "official_l1",
    "qe_from_moments",
    "__version__",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'biper_analysis' has no attribute {name!r}")
    module = importlib.import_module(target)
    value = getattr(module, name) if name in _FUNCTIONS else module
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
