r"""The standard error of the QE a fitted law predicts, from the sampling error of its maximum-likelihood fit."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from biper_analysis.laws.base import FRACTION, Law, check_param
from biper_analysis.laws.fitting import _clean_weights, subsample
from biper_analysis.laws.lawfile import law_from_dict, law_to_dict
from biper_analysis.theory import analytic

__all__ = ["qe_prediction_se"]


def _coords(law: Law) -> tuple[list[str], list[str]]:
    """Free parameters of a law and their coordinate ("logit" for a fraction in [0, 1), else "log"); parameters
    at a bound (κ = 0, ε = 0) are left out."""
    names, kinds = [], []
    for k, v in law.params.items():
        if law.PARAMS[k] == FRACTION:
            if 1e-9 < v < 1.0 - 1e-9:
                names.append(k)
                kinds.append("logit")
        elif v > 1e-8:  # κ, κ0 (and any scale) at their bound 0 count as fixed
            names.append(k)
            kinds.append("log")
    return names, kinds


def qe_prediction_se(
    law: Law,
    weights: Any,
    omega0: float | None = None,
    gamma: float | None = None,
    *,
    max_samples: int = 20000,
    seed: int = 0,
) -> float:
    r"""Standard error of the QE a fitted law predicts, from the sampling error of its MLE (delta method).

    SE² = ∇QEᵀ (n·J)^{-1} ∇QE, J the observed information per weight (central-difference Hessian of the mean
    log-likelihood on a seeded subsample of ``weights``, in log / logit coordinates), n the number of weights and
    ∇QE by central differences of the law's moments. Parameters on a bound (κ = 0, ε = 0) count as fixed.
    A law whose SE has a closed form gives that (Laplace: |dQE/db|·b/√n).

    >>> from biper_analysis.laws import Laplace, fit_law
    >>> w = Laplace(0.05).sample(np.random.default_rng(0), 10000)
    >>> f"{qe_prediction_se(fit_law(w, law='laplace'), w, 20.0):.1e}"
    '1.8e-05'
    """
    w = _clean_weights(weights)
    om = omega0 if omega0 is not None else getattr(law, "omega0", None)
    if om is None:
        raise ValueError("qe_prediction_se needs omega0 (the frequency at which QE is predicted); pass omega0=")
    om = check_param("omega0", om)
    g = None if gamma is None else float(gamma)
    closed = law._qe_se_closed_form(om, g, w.size)
    if closed is not None:
        return closed

    def qe_of(lw: Law) -> float:
        return float(analytic.qe_from_moments(*lw.moments(om), g))

    base = law_to_dict(law)
    names, kinds = _coords(law)
    if not names:
        return 0.0
    x0 = np.array(
        [
            math.log(base["params"][k]) if c == "log" else math.log(base["params"][k] / (1.0 - base["params"][k]))
            for k, c in zip(names, kinds)
        ]
    )

    def make(x: np.ndarray) -> Law:
        d = {"name": base["name"], "params": dict(base["params"]), "omega0": base["omega0"]}
        for k, c, v in zip(names, kinds, x):
            d["params"][k] = math.exp(v) if c == "log" else 1.0 / (1.0 + math.exp(-v))
        return law_from_dict(d)

    sub = subsample(w, int(max_samples), int(seed))

    def f(x: np.ndarray) -> float:
        return float(np.mean(make(x).logpdf(sub)))

    p, h = x0.size, 2e-4
    H = np.empty((p, p))
    f0 = f(x0)
    e = np.eye(p) * h
    fp = [f(x0 + e[i]) for i in range(p)]
    fm = [f(x0 - e[i]) for i in range(p)]
    for i in range(p):
        H[i, i] = (fp[i] - 2.0 * f0 + fm[i]) / (h * h)
        for j in range(i):
            H[i, j] = H[j, i] = (
                f(x0 + e[i] + e[j]) - f(x0 + e[i] - e[j]) - f(x0 - e[i] + e[j]) + f(x0 - e[i] - e[j])
            ) / (4.0 * h * h)
    grad = np.array([(qe_of(make(x0 + e[i])) - qe_of(make(x0 - e[i]))) / (2.0 * h) for i in range(p)])
    cov = np.linalg.pinv(-H) / w.size
    return math.sqrt(max(float(grad @ cov @ grad), 0.0))
