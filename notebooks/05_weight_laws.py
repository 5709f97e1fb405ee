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
# # 05 · The laws trained BiPer weights follow
#
# ## Why the penalised law
#
# BiPer's loss adds τ·Σ_layers mean(sin²(ω0 w)) to the cross-entropy, and SGD adds weight decay λ. Near the end
# of training SGD behaves like Langevin dynamics at an effective temperature T (set by the learning rate and the
# gradient noise: Mandt, Hoffman and Blei, *Stochastic Gradient Descent as Approximate Bayesian Inference*,
# JMLR 2017), whose stationary law is the Gibbs density of the potential it descends. For one weight of a layer
# with n weights that potential is the data term plus (λ/2)·w² plus (τ/n)·sin²(ω0 w), so
#
# p(w) ∝ exp(−U_data(w)/T − λ w²/(2T) − (τ/(nT))·sin²(ω0 w)).
#
# Modelling the data and weight-decay part by an exponential power exp(−|w/s|^β) (β = 1: Laplace, β = 2:
# Gaussian) gives the **penalised law** p(w) ∝ exp(−|w/s|^β − κ sin²(ω0 w)) with κ = τ/(nT): the comb of
# preferred values kπ/ω0 (the zeros of sin) deepens as κ grows, and at equal temperature κ ∝ 1/n, so the small
# first-stage layers (few weights) feel the penalty most.
#
# What it leaves out: the coupling of weights through the data term (U_data is not a sum over weights), that
# training stops before stationarity (a cosine schedule cools T towards 0 and the weights keep a memory of
# their initialisation), stage 2's straight-through gradient of sign(sin(ω0 w)) (a different potential), and
# layer-to-layer differences of T. When the comb is deep, the peaks at kπ/ω0 have their own widths and weights;
# the **comb** law (a broad component plus narrow peaks at kπ/ω0) models that directly.
#
# ## Why peaks at the crests too: gradient noise that vanishes there
#
# The task gradient reaches a latent weight only through the sine, ∂L/∂w = ω0·cos(ω0 w)·∂L/∂sin(ω0 w), so the
# minibatch noise has a variance D(w) ∝ cos²(ω0 w) (+ a floor D0) that *vanishes at the crests* of |sin(ω0 w)|.
# With position-dependent noise the stationary density of dw = −U'(w) dt + √(2D(w)) dB is
# p(w) ∝ D(w)⁻¹·exp(−∫U'/D dw): the factor 1/D piles weights up at the crests, where they stop moving — what the
# main job's ω0 = 60 layers show (two thirds of hidden.0 within π/8 of a crest). As a function of the phase
# θ = ω0 w, log p is an even π-periodic function plus the envelope; its first two harmonics give the **harmonic**
# law exp(−|w/s|^β − κ(w) sin²θ − c sin²2θ) (c > 0: peaks at zeros *and* crests), and the terms |sin θ|, sin²θ
# — the very moments QE_min = E sin² − (E|sin|)² is made of — give the maximum-entropy law **maxent**
# exp(−|w/s|^β − λ(w)|sin θ| − μ sin²θ), whose fit reproduces the sample's E|sin| and E sin² exactly. Because it
# does, only an out-of-sample comparison can test it: the report fits every law on one half of a layer's output
# channels and scores its QE on the other half, both ways, and picks the best law by the held-out likelihood.

# %%
# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os

QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"
SWEEP = os.environ.get("BIPER_SWEEP", "../runs/sweep")  # the main job's training sweep

# %%
import tempfile
from pathlib import Path

import biper_analysis as ba
from biper_analysis.analysis.checkpoints import load_checkpoint
from biper_analysis.plotting.gallery import representative_run
from biper_analysis.training import preset, train_run
from biper_analysis.training.sweep import load_training_sweep

# %%
if (Path(SWEEP) / "sweep.json").is_file():
    run_dir = Path(SWEEP) / representative_run(load_training_sweep(SWEEP))["name"]
else:
    limits = dict(epochs1=1, epochs2=1, train_limit=3000, test_limit=1000) if QUICK else {}
    run_dir = Path(tempfile.mkdtemp()) / "biper-w20"
    train_run(preset("short", binarizer="biper", omega0=20.0, seed=0, **limits), run_dir, quiet=True)
ckpt = load_checkpoint(run_dir)
name, w = next(ckpt.iter_layers())
print(f"{run_dir.name}: layer {name}, {w.size} weights, ω0 = {ckpt.omega0:g}")

# %% [markdown]
# ## Every law fitted to one layer, and the QE each predicts from its parameters alone

# %%
measured = ba.weights.weight_stats(w, ckpt.omega0)
print(f"measured QE_min {measured.qe():.5f} ± {measured.qe_se():.5f}")
for name in ba.laws.MODELS:
    law = ba.fit_law(w, omega0=ckpt.omega0, law=name, max_samples=5000 if QUICK else 20000, seed=0)
    k, ll = ba.laws.n_params(law), ba.laws.loglik(law, w)
    pred = ba.qe(ckpt.omega0, prior=law)
    print(
        f"{name:<10} k = {k}  AIC {2 * k - 2 * ll:12.1f}  QE predicted {pred:.5f} "
        f"({(pred - measured.qe()) / measured.qe():+.1%})  {law.params}"
    )

# %% [markdown]
# ## The same through the report: every layer, every law, out of sample
#
# `best_model` is the law with the highest held-out log-likelihood; `best_rel_err` its out-of-sample error (fitted
# on one half of the output channels, scored on the other, both ways) and `best_within_tol` whether that is within
# max(5 %, 2 SE) with channel-clustered SEs. The in-sample AIC-best law is kept beside it, labelled.

# %%
report = ba.analyze_checkpoint(run_dir, laws=("all",), max_samples=5000 if QUICK else 10000)
for row in report.rows:
    print(
        f"{row['name']:<18} Laplace {row['rel_err']:+.1%}  best out of sample {row['best_model']} "
        f"{row['best_rel_err']:+.1%} (z {row['best_z']:+.1f}, within tolerance: {row['best_within_tol']})  "
        f"AIC-best in sample {row['best_model_in_sample']} {row['best_rel_err_in_sample']:+.1%}"
    )
