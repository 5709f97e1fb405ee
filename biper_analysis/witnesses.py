"""Convergence of the independent witnesses against the closed form (data for the witnesses figure).

Compute → results → figure: these functions return plain dicts of arrays; plotting.witnesses draws them.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from biper_analysis import analytic


def monte_carlo_convergence(omega0: float = 20.0, b: float = 0.05, gamma: float | None = None,
                            sizes: Any = None, seed: int = 0) -> dict[str, Any]:
    """|MC − exact| and the reported standard error for a range of sample sizes n (independent streams).

    >>> r = monte_carlo_convergence(sizes=[1000, 4000], seed=1)
    >>> r["n"].tolist(), bool(np.all(r["se"] > 0))
    ([1000, 4000], True)
    """
    from biper_analysis import montecarlo

    sizes = np.asarray(sizes if sizes is not None else np.geomspace(1e3, 1e7, 9).astype(int))
    exact = float(analytic.qe(omega0, b, gamma))
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    results = [montecarlo.qe(omega0, b, gamma, n=int(n), seed=np.random.default_rng(s))
               for n, s in zip(sizes, streams)]
    return {"omega0": omega0, "b": b, "gamma": gamma, "exact": exact, "n": sizes,
            "mean": np.array([r.mean for r in results]), "se": np.array([r.se for r in results]),
            "abs_err": np.array([abs(r.mean - exact) for r in results])}


def quadrature_accuracy(x: Any = None, gammas: tuple[float | None, ...] = (None, 1.0)) -> dict[str, Any]:
    """Relative difference quadrature/closed form − 1 across x = ω0·b (b = 1), for each γ."""
    from biper_analysis import quadrature

    x = np.asarray(x if x is not None else np.geomspace(1e-3, 1e3, 31), dtype=np.float64)
    rel = {}
    for g in gammas:
        exact = np.asarray(analytic.qe(x, 1.0, g))
        quad = np.array([float(quadrature.qe(float(xi), 1.0, g)) for xi in x])
        rel["opt" if g is None else f"{g:g}"] = np.abs(quad / exact - 1.0)
    return {"x": x, "rel_err": rel}
