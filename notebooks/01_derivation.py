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
# # 01 · Deriving BiPer's quantisation error
#
# Starting from the Laplace pdf, sympy derives E[sin²(ω0 w)], E|sin(ω0 w)| (half-periods summed as a geometric
# series), QE, γ*, QE_min, the limits and dQE/dω0, and proves the result equals the paper's printed form.
# Everything here calls `biper_analysis.theory.symbolic`.

# %%
# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os

QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"

# %%
import numpy as np
import sympy as sp
from IPython.display import Math, display

import biper_analysis as ba
from biper_analysis.theory import symbolic

# %% [markdown]
# ## The derivation, step by step

# %%
for step in symbolic.derivation_steps():
    print(f"— {step.title}" + (f"  ({step.note})" if step.note else ""))
    display(Math(sp.latex(step.expr)))

# %%
print("derived QE equals the paper's printed form:", symbolic.proves_printed_form())
assert symbolic.proves_printed_form()

# %% [markdown]
# ## Why a stable evaluation is needed
#
# The printed form overflows (NaN) below x = ω0·b ≈ 0.0044; `ba.qe` evaluates the same closed form written in
# h = π/(2x) with tanh, which neither overflows nor cancels.

# %%
x = np.array([1e-4, 1e-3, 0.0044, 0.01, 1.0, 1e3, 1e6])
naive = ba.analytic.qe_printed_form_naive(x, 1.0, 0.5)
stable = ba.qe(x, 1.0, 0.5)
derived = symbolic.lambdified("qe")(x, 0.5)
for row in zip(x, naive, stable, derived):
    print("x = {:<8g} printed {:<22.16g} stable {:<22.16g} sympy {:.16g}".format(*row))

# %% [markdown]
# ## The peak of QE_min (the paper's number)

# %%
x_peak, q_peak = ba.qe_min_peak()
print(f"QE_min peaks at x = {x_peak:.7f} with {q_peak:.7f}; paper: 0.954882, 0.102835")
