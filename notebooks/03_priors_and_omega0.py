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
# # 03 · Weight laws beyond Laplace, and choosing ω0 from a target error
#
# The paper's "flexible initialisation" picks ω0 from the fitted b; `ba.omega0_for_qe` solves it exactly.

# %%
# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os

QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"

# %%
import numpy as np

import biper_analysis as ba
from biper_analysis.plotting import theory

# %%
priors = [ba.priors.Laplace(0.05), ba.priors.Gaussian(0.05), ba.priors.StudentT(df=4, scale=0.03)]
for p in priors:
    print(
        f"{p.name:<10} scale {p.scale:<6} QE(ω0=20, γ*) = {ba.qe(20.0, prior=p):.6f}   "
        f"QE(ω0=20, γ=0.6) = {ba.qe(20.0, gamma=0.6, prior=p):.6f}"
    )

# %% [markdown]
# Empirical weights: the same function, computed from samples (here Laplace samples, so it should match).

# %%
w = np.random.default_rng(0).laplace(0.0, 0.05, size=20_000 if QUICK else 2_000_000)
print("empirical", ba.qe(20.0, prior=ba.priors.Empirical(w)), " closed form", ba.qe(20.0, 0.05))

# %% [markdown]
# ## Every ω0 giving a target QE

# %%
for target in [0.05, 0.10, 0.1025]:
    print(f"target {target}: ω0 =", ba.omega0_for_qe(target, b=0.037))
try:
    ba.omega0_for_qe(0.2, b=0.037)
except ValueError as err:
    print("unreachable:", err)

# %%
fig = theory.fig_priors_equal_variance()
fig2 = theory.fig_inverse_map()
