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
# # 02 · Independent witnesses of the closed form
#
# Quadrature period by period, Monte Carlo with standard errors, and the characteristic-function series all agree
# with `ba.qe`. The grid and tolerances are the library's own (`biper_analysis.theory.witnesses`), the same that
# `biper-analysis verify` and the closed-form paper check use.

# %%
# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os

QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"

# %%
import numpy as np

import biper_analysis as ba
from biper_analysis.plotting.witnesses import fig_witnesses
from biper_analysis.theory import spectral, witnesses

# %% [markdown]
# ## Closed form, quadrature, Monte Carlo on the verify grid

# %%
result = witnesses.verify_closed_form(samples=200_000 if QUICK else 4_000_000, seed=0)
print(f"{'ω0':>6} {'b':>6} {'γ':>5} {'closed form':>14} {'quadrature':>14} {'MC ± SE':>24} {'z':>6}")
for r in result.rows:
    g = r["gamma"] if isinstance(r["gamma"], str) else f"{r['gamma']:g}"
    print(
        f"{r['omega0']:>6g} {r['b']:>6g} {g:>5} {r['closed_form']:14.10f} {r['quadrature']:14.10f} "
        f"{r['mc_mean']:12.6f} ± {r['mc_se']:.6f} {r['z']:6.2f}"
    )
print(
    f"worst quadrature rel. diff {result.worst_quad_rel_diff:.1e} (tolerance {witnesses.QUAD_RTOL:g}), "
    f"max |z| {result.max_abs_z:.2f} (tolerance {witnesses.MC_MAX_Z:g}): passed = {result.passed}"
)

# %% [markdown]
# ## Convergence

# %%
sizes = np.geomspace(1e3, 1e5 if QUICK else 1e7, 5 if QUICK else 9).astype(int)
mc = witnesses.monte_carlo_convergence(sizes=sizes, seed=0)
quad = witnesses.quadrature_accuracy(np.geomspace(1e-3, 1e3, 7 if QUICK else 31))
fig = fig_witnesses(mc, quad)

# %% [markdown]
# ## The characteristic-function series (any symmetric weight law)

# %%
for x in [1e-3, 0.3, 1.0, 30.0, 1e4]:
    p = ba.priors.Laplace(1.0)
    series = spectral.e_abs_sin(x, prior=p)
    print(f"x = {x:<8g} series E|sin| = {series:.15f}  closed form {ba.expected_abs_sin(x, 1.0):.15f}")
