"""The convergence study behind the main job's training length: is the "short" preset trained long enough?

The same runs — BiPer at ω0 = 20 and the sign baseline, paired seeds — are trained at the preset's length E and
at twice that length 2E, each through the training sweep (so with its reproducible single-threaded workers). The
preset is long enough when doubling it changes the mean best test accuracy by less than :data:`TOLERANCE_PP`
percentage points in both arms. The study takes ~15 minutes on two cores, so it is run once and its result is
kept in ``biper_analysis/data/convergence_study.json`` (with provenance); figure 12 and the README read that file.

    python -m biper_analysis.training.convergence --out runs/convergence      # rerun it (writes runs/convergence/...)
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.jsonio import dumps, read_json
from biper_analysis._io.provenance import provenance
from biper_analysis.training.config import PRESETS
from biper_analysis.training.sweep import SweepPlan, run_training_sweep

__all__ = ["TOLERANCE_PP", "FROZEN", "run_study", "summarise", "load_study", "main"]

#: Doubling the training length must change the mean best accuracy by less than this (percentage points).
TOLERANCE_PP = 0.1
#: The frozen result of the study (package data).
FROZEN = Path(__file__).resolve().parent.parent / "data" / "convergence_study.json"


def _plan(seeds: Sequence[int], factor: int, preset: str) -> SweepPlan:
    e1, e2 = PRESETS[preset]["epochs1"], PRESETS[preset]["epochs2"]
    return SweepPlan(omega0s=(20.0,), seeds=tuple(seeds), side_seeds=(), preset=preset, epochs1=factor * e1,
                     epochs2=factor * e2)


def summarise(short: dict[str, Any], long: dict[str, Any]) -> dict[str, Any]:
    """Per arm: best accuracy per seed at E and 2E, the mean change, the mean curves, and the verdict."""
    out: dict[str, Any] = {"tolerance_pp": TOLERANCE_PP, "arms": {}}
    for arm in ("biper", "sign"):
        runs = {length: {r["seed"]: r for r in sweep["runs"] if r["binarizer"] == arm}
                for length, sweep in (("E", short), ("2E", long))}
        seeds = sorted(set(runs["E"]) & set(runs["2E"]))
        best = {length: [runs[length][s]["best_acc"] for s in seeds] for length in runs}
        curves = {length: np.mean([[c["test_acc"] for c in runs[length][s]["curve"]] for s in seeds], axis=0).tolist()
                  for length in runs}
        change = float(np.mean(best["2E"]) - np.mean(best["E"]))
        out["arms"][arm] = {"seeds": seeds, "best_E": best["E"], "best_2E": best["2E"],
                            "mean_E": float(np.mean(best["E"])), "mean_2E": float(np.mean(best["2E"])),
                            "change_pp": change, "converged": abs(change) < TOLERANCE_PP,
                            "curve_E": curves["E"], "curve_2E": curves["2E"]}
    out["recipe_E"], out["recipe_2E"] = short["recipe"], long["recipe"]
    out["converged"] = all(a["converged"] for a in out["arms"].values())
    return out


def run_study(out_dir: str | Path, seeds: Sequence[int] = (0, 1, 2), preset: str = "short", jobs: int | None = None,
              log: Any = print) -> dict[str, Any]:
    """Train the study's runs (cached like any sweep) and write ``out_dir/convergence_study.json``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    short = run_training_sweep(out_dir / "E", _plan(seeds, 1, preset), jobs=jobs, log=log)
    long = run_training_sweep(out_dir / "2E", _plan(seeds, 2, preset), jobs=jobs, log=log)
    result = summarise(short, long)
    result["provenance"] = provenance({"seeds": list(seeds), "preset": preset}, command="convergence",
                                      environment=short["provenance"].get("environment"))
    with atomic_open(out_dir / "convergence_study.json") as fh:
        fh.write(dumps(result))
    return result


def load_study(path: str | Path = FROZEN) -> dict[str, Any]:
    """The study's result (by default the frozen copy shipped with the package)."""
    return read_json(path)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m biper_analysis.training.convergence",
                                description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/convergence"), help="study folder (default runs/convergence)")
    p.add_argument("--seeds", default="0,1,2", help="paired seeds (default 0,1,2)")
    p.add_argument("--jobs", type=int, default=None, help="runs trained at once (default: the number of cores)")
    args = p.parse_args(argv)
    result = run_study(args.out, [int(s) for s in args.seeds.split(",")], jobs=args.jobs)
    for arm, a in result["arms"].items():
        sys.stdout.write(f"{arm}: mean best {a['mean_E']:.3f} % at E, {a['mean_2E']:.3f} % at 2E "
                         f"({a['change_pp']:+.3f} pp; converged: {a['converged']})\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
