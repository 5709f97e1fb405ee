"""Write the four notebooks from the cell sources below (run: python notebooks/build_notebooks.py).

The notebooks hold no math of their own: every number comes from the library. Each starts with a parameter
cell; the test suite sets BIPER_NOTEBOOK_QUICK=1 to run a small subset headless.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMS = '''# Parameters. The test suite runs a quick subset (BIPER_NOTEBOOK_QUICK=1); leave QUICK = False for the full size.
import os
QUICK = os.environ.get("BIPER_NOTEBOOK_QUICK", "0") == "1"'''

NOTEBOOKS: dict[str, list[tuple[str, str]]] = {
    "01_derivation.ipynb": [
        ("md", "# 01 · Deriving BiPer's quantisation error\n\nStarting from the Laplace pdf, sympy derives "
               "E[sin²(ω0 w)], E|sin(ω0 w)| (half-periods summed as a geometric series), QE, γ*, QE_min, the limits "
               "and dQE/dω0, and proves the result equals the paper's printed form. Everything here calls "
               "`biper_analysis.symbolic`."),
        ("code", PARAMS),
        ("code", "import numpy as np\nimport sympy as sp\nfrom IPython.display import Math, display\n"
                 "import biper_analysis as ba\nfrom biper_analysis import symbolic"),
        ("md", "## The derivation, step by step"),
        ("code", "for step in symbolic.derivation_steps():\n"
                 "    print(f'— {step.title}' + (f'  ({step.note})' if step.note else ''))\n"
                 "    display(Math(sp.latex(step.expr)))"),
        ("code", "print(\"derived QE equals the paper's printed form:\", symbolic.proves_printed_form())\n"
                 "assert symbolic.proves_printed_form()"),
        ("md", "## Why a stable evaluation is needed\n\nThe printed form overflows (NaN) below x = ω0·b ≈ 0.0044; "
               "`ba.qe` uses coth(u/2) = (2 + expm1(−u))/(−expm1(−u)) instead."),
        ("code", "x = np.array([1e-4, 1e-3, 0.0044, 0.01, 1.0, 1e3, 1e6])\n"
                 "naive = ba.analytic.qe_printed_form_naive(x, 1.0, 0.5)\n"
                 "stable = ba.qe(x, 1.0, 0.5)\n"
                 "derived = symbolic.lambdified('qe')(x, 0.5)\n"
                 "for row in zip(x, naive, stable, derived):\n"
                 "    print('x = {:<8g} printed {:<22.16g} stable {:<22.16g} sympy {:.16g}'.format(*row))"),
        ("md", "## The peak of QE_min (the paper's number)"),
        ("code", "x_peak, q_peak = ba.qe_min_peak()\nprint(f'QE_min peaks at x = {x_peak:.7f} with {q_peak:.7f}; "
                 "paper: 0.954882, 0.102835')"),
    ],
    "02_witnesses.ipynb": [
        ("md", "# 02 · Independent witnesses of the closed form\n\nQuadrature period by period, Monte Carlo with "
               "standard errors, and the characteristic-function series all agree with `ba.qe`."),
        ("code", PARAMS),
        ("code", "import numpy as np\nimport biper_analysis as ba\n"
                 "from biper_analysis import montecarlo, quadrature, spectral, witnesses\n"
                 "from biper_analysis.plotting.witnesses import fig_witnesses\n"
                 "n = 200_000 if QUICK else 4_000_000"),
        ("md", "## Closed form, quadrature, Monte Carlo on a grid"),
        ("code", "rng = np.random.default_rng(0)\n"
                 "print(f\"{'ω0':>6} {'b':>6} {'γ':>5} {'closed form':>14} {'quadrature':>14} {'MC ± SE':>24} {'z':>6}\")\n"
                 "for omega0, b, gamma in [(20, 0.05, 0.6), (20, 0.05, None), (5, 0.01, 1.0), (200, 0.05, 0.3)]:\n"
                 "    exact = ba.qe(omega0, b, gamma)\n"
                 "    quad = quadrature.qe(omega0, b, gamma)\n"
                 "    mc = montecarlo.qe(omega0, b, gamma, n=n, seed=rng)\n"
                 "    g = 'opt' if gamma is None else gamma\n"
                 "    print(f'{omega0:>6} {b:>6} {g:>5} {exact:14.10f} {quad:14.10f} {mc.mean:12.6f} ± {mc.se:.6f} {mc.z(exact):6.2f}')"),
        ("md", "## Convergence"),
        ("code", "sizes = np.geomspace(1e3, 1e5 if QUICK else 1e7, 5 if QUICK else 9).astype(int)\n"
                 "mc = witnesses.monte_carlo_convergence(sizes=sizes, seed=0)\n"
                 "quad = witnesses.quadrature_accuracy(np.geomspace(1e-3, 1e3, 7 if QUICK else 31))\n"
                 "fig = fig_witnesses(mc, quad)"),
        ("md", "## The characteristic-function series (any symmetric weight law)"),
        ("code", "for x in [1e-3, 0.3, 1.0, 30.0, 1e4]:\n"
                 "    p = ba.priors.Laplace(1.0)\n"
                 "    series = spectral.e_abs_sin(p, x)\n"
                 "    print(f'x = {x:<8g} series E|sin| = {series:.15f}  closed form {ba.expected_abs_sin(x, 1.0):.15f}')"),
    ],
    "03_priors_and_omega0.ipynb": [
        ("md", "# 03 · Weight laws beyond Laplace, and choosing ω0 from a target error\n\nThe paper's "
               "\"flexible initialisation\" picks ω0 from the fitted b; `ba.omega0_for_qe` solves it exactly."),
        ("code", PARAMS),
        ("code", "import numpy as np\nimport biper_analysis as ba\nfrom biper_analysis.plotting import theory"),
        ("code", "priors = [ba.priors.Laplace(0.05), ba.priors.Gaussian(0.05), ba.priors.StudentT(df=4, scale=0.03)]\n"
                 "for p in priors:\n"
                 "    print(f'{p.name:<10} scale {p.scale:<6} QE(ω0=20, γ*) = {ba.qe(20.0, prior=p):.6f}   '\n"
                 "          f'QE(ω0=20, γ=0.6) = {ba.qe(20.0, gamma=0.6, prior=p):.6f}')"),
        ("md", "Empirical weights: the same function, computed from samples (here Laplace samples, so it should match)."),
        ("code", "w = np.random.default_rng(0).laplace(0.0, 0.05, size=20_000 if QUICK else 2_000_000)\n"
                 "print('empirical', ba.qe(20.0, prior=ba.priors.Empirical(w)), ' closed form', ba.qe(20.0, 0.05))"),
        ("md", "## Every ω0 giving a target QE"),
        ("code", "for target in [0.05, 0.10, 0.1025]:\n"
                 "    print(f'target {target}: ω0 =', ba.omega0_for_qe(target, b=0.037))\n"
                 "try:\n    ba.omega0_for_qe(0.2, b=0.037)\nexcept ValueError as err:\n    print('unreachable:', err)"),
        ("code", "fig = theory.fig_priors_equal_variance()\nfig2 = theory.fig_inverse_map()"),
    ],
    "04_train_and_fit.ipynb": [
        ("md", "# 04 · Train a small BiPer network on Fashion-MNIST, fit b, compare predicted and measured QE\n\n"
               "Needs Debian's `dataset-fashion-mnist` (or `BIPER_DATA_DIR`). QUICK trains on a subset for one "
               "epoch per stage; the full setting is the main job's small network."),
        ("code", PARAMS),
        ("code", "import tempfile\nfrom pathlib import Path\nimport biper_analysis as ba\n"
                 "from biper_analysis.training import preset, train_run\n"
                 "from biper_analysis.plotting.checkpoint import fig_checkpoint_summary"),
        ("code", "limits = dict(epochs1=1, epochs2=1, train_limit=3000, test_limit=1000) if QUICK else {}\n"
                 "cfg = preset('short', binarizer='biper', omega0=20.0, seed=0, **limits)\n"
                 "run_dir = Path(tempfile.mkdtemp()) / 'biper-w20'\n"
                 "summary = train_run(cfg, run_dir, quiet=True)\n"
                 "print(f\"best test accuracy {summary['best_acc']:.2f}%, last {summary['last_acc']:.2f}%\")"),
        ("code", "report = ba.analyze_checkpoint(run_dir)\nprint(report.table())"),
        ("code", "for row in report.rows:\n"
                 "    print(f\"{row['name']:<20} b = {row['b_loc0']:.4f}  QE predicted {row['qe_pred']:.4f}  \"\n"
                 "          f\"measured {row['qe_emp']:.4f} ± {row['qe_emp_se']:.4f}  rel. err {row['rel_err']:+.1%}\")"),
        ("code", "fig = fig_checkpoint_summary(report)"),
    ],
}


def build(name: str, cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    nb = new_notebook(cells=[new_markdown_cell(src) if kind == "md" else new_code_cell(src) for kind, src in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nbformat.write(build(name, cells), HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
