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
from biper_analysis.analytic import (
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

# name -> module that defines it; resolved on first attribute access (PEP 562).
_LAZY = {
    "priors": "biper_analysis.priors",
    "spectral": "biper_analysis.spectral",
    "quadrature": "biper_analysis.quadrature",
    "montecarlo": "biper_analysis.montecarlo",
    "symbolic": "biper_analysis.symbolic",
    "conventions": "biper_analysis.conventions",
    "fitting": "biper_analysis.fitting",
    "checkpoints": "biper_analysis.checkpoints",
    "report": "biper_analysis.report",
    "sweeps": "biper_analysis.sweeps",
    "plotting": "biper_analysis.plotting",
    "paper": "biper_analysis.paper",
    "nn": "biper_analysis.nn",
    "training": "biper_analysis.training",
    "weights": "biper_analysis.weights",
    "laws": "biper_analysis.laws",
    "witnesses": "biper_analysis.witnesses",
    "training_sweep": "biper_analysis.training_sweep",
    "omega0_for_qe": "biper_analysis.inverse",
    "analyze_checkpoint": "biper_analysis.report",
    "weight_stats": "biper_analysis.weights",
    "fit_law": "biper_analysis.laws",
    "load_law": "biper_analysis.lawfile",
    "load_checkpoint": "biper_analysis.checkpoints",
}

__all__ = [
    "qe", "qe_min", "optimal_gamma", "expected_sin2", "expected_abs_sin", "dqe_domega0", "qe_min_peak",
    "qe_sign", "normalised_qe", "normalised_qe_sign", "official_l1", "qe_from_moments", "__version__", *_LAZY,
]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'biper_analysis' has no attribute {name!r}")
    module = importlib.import_module(target)
    value = module if target.rsplit(".", 1)[-1] == name else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
