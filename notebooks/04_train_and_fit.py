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
SWEEP = os.environ.get("BIPER_SWEEP", "../runs/sweep")  # the main job's training sweep

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
    print(
        f"cached sweep {SWEEP}: {len(sweep['runs'])} runs; analysing {run['name']} "
        f"(best test accuracy {run['best_acc']:.2f}%)"
    )
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
    print(
        f"{row['name']:<18} b = {row['b_loc0']:.4f}  QE predicted {row['qe_pred']:.4f}  measured "
        f"{row['qe_emp']:.4f} ± {row['qe_emp_se']:.4f} ({row['rel_err']:+.1%}, Laplace {row['laplace_verdict']}); "
        f"at init {row['ref_rel_err']:+.1%}; corr with init {row['drift_corr']:.3f}"
    )

# %%
fig = fig_checkpoint_summary(report)

# %% [markdown]
# ## Training you can watch: flips, zero crossings and the phase over the epochs
#
# Every run records, per binarised layer and epoch, what its latent weights did since the previous epoch
# (`biper_analysis.training.trajectory`, in `metrics.jsonl` and as TensorBoard event files in the run folder:
# `tensorboard --logdir RUN`): the **flip ratio** (binary weights whose sign changed), the weights that crossed a
# zero of sin(ω0 w) split into flips, **round trips** (crossed and came back) and jumps (a whole period on), and the
# histogram of the phase θ = ω0 w mod π with the near-zero and near-crest fractions `fit-b` reports. The heat map
# shows the phase density over the epochs (the zero of sin in the middle, the crests at the edges).

# %%
from biper_analysis.plotting.trajectory import fig_run_trajectory
from biper_analysis.training.trajectory import late_flip_ratio, read_trajectory

trajectory = read_trajectory(run_dir)
if trajectory["recorded"]:
    for name, layer in trajectory["layers"].items():
        print(
            f"{name:<18} flips per epoch: first {layer['flip_ratio'][0]:.4f}, last {layer['flip_ratio'][-1]:.5f}; "
            f"round trips last epoch {layer['round_trip_ratio'][-1]:.5f}; near zeros "
            f"{layer['near_zero_frac'][0]:.3f} → {layer['near_zero_frac'][-1]:.3f}, near crests "
            f"{layer['near_crest_frac'][0]:.3f} → {layer['near_crest_frac'][-1]:.3f}"
        )
    print(f"flips per epoch over the last third of stage 2 (all binarised weights): {late_flip_ratio(trajectory):.5f}")
    fig = fig_run_trajectory(trajectory, title=f"{run_dir.name}: phase density and flips per epoch")
else:
    print(f"{run_dir} was trained before trajectories were recorded; retrain it to see them")
