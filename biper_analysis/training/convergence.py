"""The convergence study behind the main job's training length: is the "short" preset trained long enough?

The same runs — BiPer at ω0 = 20 and the sign baseline, paired seeds — are trained at the preset's length E and
at twice that length 2E, each through the training sweep (so with its reproducible single-threaded workers). The
preset is long enough when doubling it changes the mean best test accuracy by less than :data:`TOLERANCE_PP`
percentage points in both arms. The study takes ~15 minutes on two cores, so it was run once and its result is
shipped as package data, ``biper_analysis/data/convergence_study.json`` (with provenance: 5 paired seeds, the
"short" preset); figure 12 and the README read that copy (:func:`load_study`).

:func:`run_study` reruns it (``biper-analysis convergence --out runs/convergence``): the runs go to ``OUT/E/`` and
``OUT/2E/`` (training-sweep folders, cached) and the result to ``OUT/convergence_study.json``; the shipped copy is
not touched (copy the new file over it by hand to refresh figure 12).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from biper_analysis._io.atomic import atomic_open
from biper_analysis._io.jsonio import dumps, read_json
from biper_analysis._io.provenance import provenance
from biper_analysis.training.config import preset as preset_config
from biper_analysis.training.sweep import SweepPlan, run_training_sweep

__all__ = ["TOLERANCE_PP", "FROZEN", "STUDY_FILE", "run_study", "summarise", "load_study"]

#: Doubling the training length must change the mean best accuracy by less than this (percentage points).
TOLERANCE_PP = 0.1
#: The file a study writes into its folder; the frozen result of the study is a copy shipped as package data.
STUDY_FILE = "convergence_study.json"
FROZEN = Path(__file__).resolve().parents[1] / "data" / STUDY_FILE


def _plan(seeds: Sequence[int], factor: int, preset: str, data_dir: str | None) -> SweepPlan:
    base = preset_config(preset)  # the preset's length E (and a clear error for an unknown preset)
    overrides = {"epochs1": factor * base.epochs1, "epochs2": factor * base.epochs2}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    return SweepPlan(omega0s=(20.0,), seeds=tuple(seeds), side_seeds=(), preset=preset, overrides=overrides)


def summarise(short: dict[str, Any], long: dict[str, Any]) -> dict[str, Any]:
    """Per arm: best accuracy per seed at E and 2E, the mean change, the mean curves, and the verdict."""
    out: dict[str, Any] = {"tolerance_pp": TOLERANCE_PP, "arms": {}}
    for arm in ("biper", "sign"):
        runs = {
            length: {r["seed"]: r for r in sweep["runs"] if r["binarizer"] == arm}
            for length, sweep in (("E", short), ("2E", long))
        }
        seeds = sorted(set(runs["E"]) & set(runs["2E"]))
        best = {length: [runs[length][s]["best_acc"] for s in seeds] for length in runs}
        curves = {
            length: np.mean([[c["test_acc"] for c in runs[length][s]["curve"]] for s in seeds], axis=0).tolist()
            for length in runs
        }
        change = float(np.mean(best["2E"]) - np.mean(best["E"]))
        out["arms"][arm] = {
            "seeds": seeds,
            "best_E": best["E"],
            "best_2E": best["2E"],
            "mean_E": float(np.mean(best["E"])),
            "mean_2E": float(np.mean(best["2E"])),
            "change_pp": change,
            "converged": abs(change) < TOLERANCE_PP,
            "curve_E": curves["E"],
            "curve_2E": curves["2E"],
        }
    out["recipe_E"], out["recipe_2E"] = short["recipe"], long["recipe"]
    out["converged"] = all(a["converged"] for a in out["arms"].values())
    return out


def run_study(
    out_dir: str | Path,
    seeds: Sequence[int] = SweepPlan().seeds,
    preset: str = "short",
    jobs: int | None = None,
    data_dir: str | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train the study's runs (cached like any sweep) into ``out_dir/E`` and ``out_dir/2E`` and write
    ``out_dir/convergence_study.json``; the defaults (the sweep's 5 paired seeds, the "short" preset) are those of
    the frozen study."""
    out_dir = Path(out_dir)
    plans = {length: _plan(seeds, factor, preset, data_dir) for length, factor in (("E", 1), ("2E", 2))}
    out_dir.mkdir(parents=True, exist_ok=True)
    short = run_training_sweep(out_dir / "E", plans["E"], jobs=jobs, log=log)
    long = run_training_sweep(out_dir / "2E", plans["2E"], jobs=jobs, log=log)
    result = summarise(short, long)
    result["provenance"] = provenance(
        {"seeds": list(seeds), "preset": preset},
        command="convergence",
        environment=short["provenance"].get("environment"),
    )
    with atomic_open(out_dir / STUDY_FILE) as fh:
        fh.write(dumps(result))
    return result


def load_study(path: str | Path = FROZEN) -> dict[str, Any]:
    """The study's result (by default the frozen copy shipped with the package)."""
    return read_json(path)
