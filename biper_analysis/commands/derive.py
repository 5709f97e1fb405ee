"""``biper-analysis derive``: the sympy derivation of QE, step by step, ending in the proof against the paper."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run", "format_steps"]

ORDER = 10


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive",
        help="derive QE from the Laplace pdf with sympy and prove the paper's form",
        description="Derive E sin², E|sin| (half-periods as a geometric series), QE, γ*, QE_min, "
        "limits and dQE/dω0 from the Laplace pdf with sympy, then prove the result "
        "equals the paper's printed closed form.",
    )
    p.add_argument("--latex", action="store_true", help="print each step as LaTeX instead of plain text")
    p.set_defaults(func=run)


def format_steps(latex: bool = False) -> list[str]:
    """The derivation as printable lines (one block per step), without the final verdict line."""
    import sympy as sp

    from biper_analysis.theory.symbolic import derivation_steps

    lines: list[str] = []
    for i, step in enumerate(derivation_steps(), start=1):
        lines.append(f"[{i:2d}] {step.title}" + (f"   ({step.note})" if step.note else ""))
        body = sp.latex(step.expr) if latex else sp.pretty(step.expr, use_unicode=True, num_columns=110)
        lines.extend("     " + line for line in body.splitlines())
        lines.append("")
    return lines


def run(args: argparse.Namespace) -> int:
    from biper_analysis.theory.symbolic import FINAL_LINE, proves_printed_form

    sys.stdout.write("\n".join(format_steps(args.latex)) + "\n")
    if proves_printed_form():
        sys.stdout.write(FINAL_LINE + "\n")
        return 0
    sys.stdout.write("derived QE minus the paper's printed form did not simplify to 0: NOT proved\n")
    return 1
