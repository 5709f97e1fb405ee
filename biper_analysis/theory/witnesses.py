"""The closed form against its independent witnesses: the verify grid, its tolerances and the comparison.

One definition used by ``biper-analysis verify``, the closed-form paper check and notebook 02: for each
(ω0, b) of a grid, Monte Carlo sums from one seeded stream, and for each γ the closed form
(:mod:`biper_analysis.theory.analytic`), adaptive quadrature period by period
(:mod:`biper_analysis.theory.quadrature`) and the Monte Carlo estimate ± SE
(:mod:`biper_analysis.theory.montecarlo`). The convergence data for the witnesses figure live here too
(compute → results → figure: plain dicts of arrays; plotting.witnesses draws them).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from biper_analysis.theory import analytic, montecarlo, quadrature

__all__ = [
    "QUAD_RTOL",
    "MC_MAX_Z",
    "DEFAULT_OMEGA0",
    "DEFAULT_B",
    "DEFAULT_GAMMA",
    "MAX_SAMPLES",
    "VerifyResult",
    "verify_closed_form",
    "monte_carlo_convergence",
    "quadrature_accuracy",
]

#: Quadrature must agree within 1e-10 relative: scipy's adaptive quad converges to ~1e-13 here, so 1e-10 leaves
#: room for its own error estimate while still catching any wrong term of the closed form.
QUAD_RTOL = 1e-10
#: Monte Carlo must agree within 4 standard errors: a false alarm has probability ~6e-5 per point.
MC_MAX_Z = 4.0
#: The default grid: x = ω0·b from 0.025 to 30, both sides of the QE_min peak; γ* and two fixed scales.
DEFAULT_OMEGA0 = (5.0, 20.0, 60.0)
DEFAULT_B = (0.005, 0.05, 0.5)
DEFAULT_GAMMA: tuple[float | None, ...] = (None, 0.6, 1.0)
#: Monte Carlo samples per (ω0, b) above which a caller must raise the limit explicitly (time: ~15 M/s).
MAX_SAMPLES = 10_000_000_000


@dataclass(frozen=True)
class VerifyResult:
    """Rows (one per (ω0, b, γ)), the worst disagreements and whether every point is within tolerance."""

    rows: list[dict[str, Any]]
    samples: int
    seed: int
    quad_rtol: float = QUAD_RTOL
    mc_max_z: float = MC_MAX_Z
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def worst_quad_rel_diff(self) -> float:
        return max(r["quad_rel_diff"] for r in self.rows)

    @property
    def max_abs_z(self) -> float:
        return max(abs(r["z"]) for r in self.rows)

    @property
    def passed(self) -> bool:
        return all(r["ok"] for r in self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "worst_quad_rel_diff": self.worst_quad_rel_diff,
            "max_abs_z": self.max_abs_z,
            "quad_rtol": self.quad_rtol,
            "mc_max_z": self.mc_max_z,
            "passed": self.passed,
            "samples": self.samples,
            "seed": self.seed,
            **self.settings,
        }


def verify_closed_form(
    omega0s: Sequence[float] = DEFAULT_OMEGA0,
    bs: Sequence[float] = DEFAULT_B,
    gammas: Sequence[float | None] = DEFAULT_GAMMA,
    samples: int = 2_000_000,
    seed: int = 0,
    backend: str = "numpy",
    threads: int = 1,
    progress: Callable[[int], None] | None = None,
) -> VerifyResult:
    """Closed form vs quadrature vs Monte Carlo on the grid ω0s × bs × gammas (see the module docstring).

    Each (ω0, b) gets its own stream spawned from ``seed``; ``progress(m)`` is called after every m samples.

    >>> r = verify_closed_form([20.0], [0.05], [0.6], samples=20_000, seed=1)
    >>> r.passed, r.rows[0]["quad_rel_diff"] < 1e-12
    (True, True)
    """
    if not 2 <= samples <= MAX_SAMPLES:
        raise ValueError(f"samples must be between 2 and {MAX_SAMPLES:.0e}, got {samples}")
    streams = np.random.SeedSequence(seed).spawn(len(omega0s) * len(bs))
    kw = {"threads": threads} if backend == "torch" else {}
    rows = []
    for i, (w0, b) in enumerate((w, bb) for w in omega0s for bb in bs):
        sums = montecarlo.abs_sin_sums(
            w0, b, n=samples, seed=np.random.default_rng(streams[i]), backend=backend, progress=progress, **kw
        )
        for g in gammas:
            closed = float(analytic.qe(w0, b, g))
            quad = float(quadrature.qe(w0, b, g))
            mc = sums.qe(g)
            rel = abs(quad - closed) / abs(closed) if closed != 0 else abs(quad)
            z = mc.z(closed)
            rows.append(
                {
                    "omega0": w0,
                    "b": b,
                    "x": w0 * b,
                    "gamma": "opt" if g is None else g,
                    "gamma_used": float(analytic.optimal_gamma(w0, b)) if g is None else g,
                    "closed_form": closed,
                    "quadrature": quad,
                    "quad_rel_diff": rel,
                    "mc_mean": mc.mean,
                    "mc_se": mc.se,
                    "mc_n": mc.n,
                    "z": z,
                    "ok": bool(rel <= QUAD_RTOL and abs(z) <= MC_MAX_Z),
                }
            )
    return VerifyResult(rows, samples, seed, settings={"backend": backend, "threads": threads})


def monte_carlo_convergence(
    omega0: float = 20.0, b: float = 0.05, gamma: float | None = None, sizes: Any = None, seed: int = 0
) -> dict[str, Any]:
    """|MC − exact| and the reported standard error for a range of sample sizes n (independent streams).

    >>> r = monte_carlo_convergence(sizes=[1000, 4000], seed=1)
    >>> r["n"].tolist(), bool(np.all(r["se"] > 0))
    ([1000, 4000], True)
    """
    sizes = np.asarray(sizes if sizes is not None else np.geomspace(1e3, 1e7, 9).astype(int))
    exact = float(analytic.qe(omega0, b, gamma))
    streams = np.random.SeedSequence(seed).spawn(len(sizes))
    results = [montecarlo.qe(omega0, b, gamma, n=int(n), seed=np.random.default_rng(s)) for n, s in zip(sizes, streams)]
    return {
        "omega0": omega0,
        "b": b,
        "gamma": gamma,
        "exact": exact,
        "n": sizes,
        "mean": np.array([r.mean for r in results]),
        "se": np.array([r.se for r in results]),
        "abs_err": np.array([abs(r.mean - exact) for r in results]),
    }


def quadrature_accuracy(x: Any = None, gammas: tuple[float | None, ...] = (None, 1.0)) -> dict[str, Any]:
    """Relative difference quadrature/closed form − 1 across x = ω0·b (b = 1), for each γ."""
    x = np.asarray(x if x is not None else np.geomspace(1e-3, 1e3, 31), dtype=np.float64)
    rel = {}
    for g in gammas:
        exact = np.asarray(analytic.qe(x, 1.0, g))
        quad = np.array([float(quadrature.qe(float(xi), 1.0, g)) for xi in x])
        rel["opt" if g is None else f"{g:g}"] = np.abs(quad / exact - 1.0)
    return {"x": x, "rel_err": rel}
