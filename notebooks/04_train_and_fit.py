# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · A trained BiPer network: fit b, compare predicted and measured QE, against the initial weights
#
# Reads the main job's cached training sweep (`biper-analysis train-sweep`, in `runs/sweep/`) when it is there and
# analyses one of its runs; otherwise it trains a small run itself (needs Debian's `dataset-fashion-mnist` or
# `BIPER_DATA_DIR`; QUICK: a subset, one epoch per stage). Every statement about the trained weights is made
# against the run's initial weights (`init.pth.tar`).

# %%
# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os

QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"
SWEEP = os.environ.get("BIPER_SWEEP", "../runs/sweep")   # the main job's training sweep

# %%
import tempfile
from pathlib import Path

import biper_analysis as ba
from biper_analysis.plotting.checkpoint import fig_checkpoint_summary
from biper_analysis.plotting.gallery import representative_run
from biper_analysis.training import preset, train_run
from biper_analysis.training.sweep import load_training_sweep

# %%
if (Path(SWEEP) / "sweep.json").is_file():
    sweep = load_training_sweep(SWEEP)
    run = representative_run(sweep)
    run_dir = Path(SWEEP) / run["name"]
    print(f"cached sweep {SWEEP}: {len(sweep['runs'])} runs; analysing {run['name']} "
          f"(best test accuracy {run['best_acc']:.2f}%)")
else:
    limits = dict(epochs1=1, epochs2=1, train_limit=3000, test_limit=1000) if QUICK else {}
    cfg = preset("short", binarizer="biper", omega0=20.0, seed=0, **limits)
    run_dir = Path(tempfile.mkdtemp()) / "biper-w20"
    summary = train_run(cfg, run_dir, quiet=True)
    print(f"no cached sweep at {SWEEP}: trained {run_dir.name}, best test accuracy {summary['best_acc']:.2f}%")

# %%
report = ba.analyze_checkpoint(run_dir, reference=run_dir / "init.pth.tar")
print(report.table())

# %%
for row in report.rows:
    print(f"{row['name']:<18} b = {row['b_loc0']:.4f}  QE predicted {row['qe_pred']:.4f}  measured "
          f"{row['qe_emp']:.4f} ± {row['qe_emp_se']:.4f} ({row['rel_err']:+.1%}, Laplace {row['laplace_verdict']}); "
          f"at init {row['ref_rel_err']:+.1%}; corr with init {row['drift_corr']:.3f}")

# %%
fig = fig_checkpoint_summary(report)
