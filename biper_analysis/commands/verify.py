"""``biper-analysis verify``: the closed form against its witnesses (quadrature, Monte Carlo) over a grid."""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from biper_analysis.commands._args import float_list, gamma_value

ORDER = 40

#: Thresholds (issue 2): quadrature within 1e-10 relative, Monte Carlo within 4 standard errors.
QUAD_RTOL = 1e-10
MC_MAX_Z = 4.0


def _gamma_list(text: str) -> list[float | None]:
    """'opt,0.6,1' -> [None, 0.6, 1.0] (each item parsed by the shared gamma_value)."""
    out = [gamma_value(item) for item in text.split(",") if item.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected at least one gamma, got {text!r}")
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check the closed form against quadrature and Monte Carlo on a grid",
                       description="For each (ω0, b, γ) on a grid: closed form, scipy quadrature (half-periods), "
                                   "Monte Carlo ± SE and its z-score. Exit status 1 if quadrature differs by more "
                                   f"than {QUAD_RTOL:g} relative or |z| > {MC_MAX_Z:g}.")
    p.add_argument("--samples", type=int, default=2_000_000, help="Monte Carlo samples per (ω0, b) (default 2e6)")
    p.add_argument("--seed", type=int, default=0, help="seed (default 0); each (ω0, b) gets its own spawned stream")
    p.add_argument("--omega0", type=float_list, default=[5.0, 20.0, 60.0], help="ω0 values (default 5,20,60)")
    p.add_argument("--b", type=float_list, default=[0.005, 0.05, 0.5], help="Laplace scales (default 0.005,0.05,0.5)")
    p.add_argument("--gamma", type=_gamma_list, default=[None, 0.6, 1.0],
                   help="γ values, 'opt' for γ* (default opt,0.6,1)")
    p.add_argument("--backend", choices=["numpy", "torch"], default="numpy", help="Monte Carlo backend")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for --backend torch (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    p.set_defaults(func=run)


def verify_rows(omega0s: list[float], bs: list[float], gammas: list[float | None], samples: int, seed: int,
                backend: str = "numpy", threads: int = 1) -> list[dict[str, Any]]:
    """One row per (ω0, b, γ): closed form, quadrature and its relative difference, MC mean ± SE and z."""
    import numpy as np

    from biper_analysis import analytic as A
    from biper_analysis import montecarlo as M
    from biper_analysis import quadrature as Q

    streams = np.random.SeedSequence(seed).spawn(len(omega0s) * len(bs))
    rows = []
    for i, (w0, b) in enumerate((w, bb) for w in omega0s for bb in bs):
        kw = {"threads": threads} if backend == "torch" else {}
        sums = M.abs_sin_sums(w0, b, n=samples, seed=np.random.default_rng(streams[i]), backend=backend, **kw)
        for g in gammas:
            closed = float(A.qe(w0, b, g))
            quad = float(Q.qe(w0, b, g))
            mc = sums.qe(g)
            rel = abs(quad - closed) / abs(closed) if closed != 0 else abs(quad)
            z = mc.z(closed)
            rows.append({"omega0": w0, "b": b, "x": w0 * b, "gamma": "opt" if g is None else g,
                         "gamma_used": float(A.optimal_gamma(w0, b)) if g is None else g,
                         "closed_form": closed, "quadrature": quad, "quad_rel_diff": rel,
                         "mc_mean": mc.mean, "mc_se": mc.se, "mc_n": mc.n, "z": z,
                         "ok": bool(rel <= QUAD_RTOL and abs(z) <= MC_MAX_Z)})
    return rows


def run(args: argparse.Namespace) -> int:
    from biper_analysis.cli import CLIError

    if args.samples < 100:
        raise CLIError(f"--samples must be >= 100 (standard errors need samples), got {args.samples}")
    if args.threads < 1:
        raise CLIError(f"--threads must be >= 1, got {args.threads}")
    if args.seed < 0:
        raise CLIError(f"--seed must be >= 0, got {args.seed}")
    for name, values in (("--omega0", args.omega0), ("--b", args.b)):
        bad = [v for v in values if not (math.isfinite(v) and v > 0)]
        if bad:
            raise CLIError(f"{name} values must be finite and > 0, got {bad[0]}")
    rows = verify_rows(args.omega0, args.b, args.gamma, args.samples, args.seed, args.backend, args.threads)
    worst_rel = max(r["quad_rel_diff"] for r in rows)
    worst_z = max(abs(r["z"]) for r in rows)
    passed = all(r["ok"] for r in rows)
    if args.json:
        from biper_analysis.commands._args import write_json
        from biper_analysis.provenance import provenance

        config = {"samples": args.samples, "omega0": args.omega0, "b": args.b,
                  "gamma": ["opt" if g is None else g for g in args.gamma], "backend": args.backend,
                  "threads": args.threads}
        write_json({"rows": rows, "worst_quad_rel_diff": worst_rel, "max_abs_z": worst_z,
                    "quad_rtol": QUAD_RTOL, "mc_max_z": MC_MAX_Z, "passed": passed,
                    "provenance": provenance(config, args.seed, command="verify")}, "-")
        return 0 if passed else 1
    out = sys.stdout
    out.write(f"{'omega0':>8} {'b':>7} {'x':>8} {'gamma':>6} {'closed form':>19} {'quadrature':>19} "
              f"{'rel diff':>9} {'Monte Carlo ± SE':>26} {'z':>6}\n")
    for r in rows:
        g = r["gamma"] if isinstance(r["gamma"], str) else f"{r['gamma']:g}"
        out.write(f"{r['omega0']:8g} {r['b']:7g} {r['x']:8.4g} {g:>6} {r['closed_form']:19.15f} "
                  f"{r['quadrature']:19.15f} {r['quad_rel_diff']:9.1e} {r['mc_mean']:13.9f} ± {r['mc_se']:.2e} "
                  f"{r['z']:6.2f}{'' if r['ok'] else '  FAIL'}\n")
    out.write(f"worst quadrature relative difference {worst_rel:.2e} (limit {QUAD_RTOL:g}); "
              f"max |z| {worst_z:.2f} (limit {MC_MAX_Z:g}); {rows[0]['mc_n']} samples per (ω0, b), "
              f"seed {args.seed}: {'PASS' if passed else 'FAIL'}\n")
    return 0 if passed else 1
