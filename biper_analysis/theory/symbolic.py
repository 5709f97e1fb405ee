r"""Symbolic derivation of BiPer's quantisation error with sympy, from the Laplace pdf to the printed form.

Everything here is *derived* by sympy (integration, summation, solving, limits, differentiation); nothing
is typed in except the starting point (the Laplace pdf, the definition of QE) and the paper's printed
form, which is quoted in :mod:`biper_analysis.paper` and only used as the target of the final proof.

Parameterisation: :math:`w \sim \mathrm{Laplace}(0, b)` with pdf :math:`e^{-|w|/b}/(2b)`, angular frequency
:math:`\omega_0`, :math:`x = \omega_0 b`. The chain of steps (see :func:`derivation_steps`):

1. symmetry + substitution :math:`t = \omega_0 |w|`:
   :math:`E f(\sin\omega_0 w) = \int_0^\infty f(\sin t)\,e^{-t/x}/x\,dt` for :math:`f(\sin)` even in ``w``;
2. :math:`E\sin^2 = 2x^2/(1+4x^2)` (direct integral);
3. :math:`E|\sin|`: the half-period :math:`[k\pi, (k+1)\pi]` contributes :math:`q^k I_0`, :math:`q = e^{-\pi/x}`,
   so :math:`E|\sin| = I_0/(1-q) = x\coth(\pi/(2x))/(1+x^2)` (a geometric series);
4. QE :math:`= E\sin^2 - 2\gamma E|\sin| + \gamma^2`, :math:`\gamma^* = E|\sin|`,
   :math:`QE_{min} = E\sin^2 - (E|\sin|)^2`;
5. limits at :math:`x \to 0` and :math:`x \to \infty`, :math:`dQE/d\omega_0`;
6. the sign baseline :math:`2b^2 - 2\gamma b + \gamma^2` and the official L1 metric :math:`1 - E|\sin|`;
7. derived QE minus the paper's printed QE simplifies to 0.

The whole derivation takes a few seconds and is cached per process.

>>> r = results()
>>> r["e_sin2"]
2*x**2/(4*x**2 + 1)
>>> proves_printed_form()
True
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sympy as sp
from sympy.simplify.fu import TR8

from biper_analysis.paper import printed_qe_sympy

__all__ = [
    "Step",
    "Derivation",
    "derive",
    "derivation_steps",
    "results",
    "proves_printed_form",
    "lambdified",
    "SYMBOLS",
]

#: The symbols every derived expression is written in (all positive; γ ≥ 0).
SYMBOLS: dict[str, sp.Symbol] = {
    "x": sp.Symbol("x", positive=True),
    "omega0": sp.Symbol("omega0", positive=True),
    "b": sp.Symbol("b", positive=True),
    "gamma": sp.Symbol("gamma", nonnegative=True),
    "w": sp.Symbol("w", real=True),
    "t": sp.Symbol("t", positive=True),
    "s": sp.Symbol("s", positive=True),
    "k": sp.Symbol("k", integer=True, nonnegative=True),
    "q": sp.Symbol("q", positive=True),
}

FINAL_LINE = "equals the paper's printed form: proved"


@dataclass(frozen=True)
class Step:
    """One step of the derivation: a title, a sympy expression (often an ``Eq``) and a short reason."""

    title: str
    expr: Any
    note: str = ""


@dataclass(frozen=True)
class Derivation:
    """The derivation's steps, its results (sympy expressions of ``x``, ``gamma``, ``omega0``, ``b``) and the proof."""

    steps: tuple[Step, ...]
    results: dict[str, Any] = field(default_factory=dict)
    proved: bool = False


def _coth_form(expr: Any) -> Any:
    """Display 1/tanh(u) as coth(u) (cosmetic only; sympy prefers tanh)."""
    return expr.replace(
        lambda e: e.is_Pow and e.exp == -1 and isinstance(e.base, sp.tanh), lambda e: sp.coth(e.base.args[0])
    )


def _integrate_linearised(power: Any, weight: Any, var: Any, lo: Any, hi: Any) -> Any:
    """∫ power·weight d var with the trigonometric power first rewritten as a sum of sines/cosines of multiple
    angles (sympy's TR8): the same integral, integrated term by term, several times faster than as a power."""
    terms = sp.Add.make_args(sp.expand(TR8(power)))
    return sp.factor(sp.together(sp.Add(*[sp.integrate(term * weight, (var, lo, hi)) for term in terms])))


@functools.lru_cache(maxsize=1)
def derive() -> Derivation:
    """Run the whole derivation once (a few seconds) and return its steps, results and the final proof."""
    x, w0, b, g = SYMBOLS["x"], SYMBOLS["omega0"], SYMBOLS["b"], SYMBOLS["gamma"]
    w, t, s, k, q = SYMBOLS["w"], SYMBOLS["t"], SYMBOLS["s"], SYMBOLS["k"], SYMBOLS["q"]
    pi = sp.pi
    steps: list[Step] = []

    # 1. The Laplace pdf and the reduction to a half-line integral in t = ω0 |w|.
    pdf = sp.exp(-sp.Abs(w) / b) / (2 * b)
    wp = sp.Symbol("w", positive=True)
    norm = 2 * sp.integrate(pdf.subs(w, wp), (wp, 0, sp.oo))
    steps.append(
        Step(
            "Laplace pdf p(w), normalised",
            sp.Eq(sp.Integral(pdf, (w, -sp.oo, sp.oo)), norm),
            "w ~ Laplace(0, b), b = scale = E|w|",
        )
    )
    half = sp.simplify((2 * pdf.subs(w, t / w0) / w0).subs(b, x / w0))  # |dw/dt| = 1/ω0, both signs of w
    steps.append(
        Step(
            "density of t = ω0|w| (x = ω0 b)",
            sp.Eq(sp.Symbol("p_t"), half),
            "sin² and |sin| are even in w, so E f = ∫_0^∞ f(sin t) p_t dt",
        )
    )

    # 2. E sin², a direct integral (sin² written as a sum of cosines first: faster for sympy, same integral).
    e_sin2 = _integrate_linearised(sp.sin(t) ** 2, half, t, 0, sp.oo)
    steps.append(Step("E sin^2(ω0 w)", sp.Eq(sp.Symbol("E_sin2"), e_sin2), "∫_0^∞ sin²t e^{-t/x}/x dt"))

    # 3. E|sin| over half-periods: t = s + kπ, |sin(s + kπ)| = |(-1)^k sin s| = sin s on [0, π].
    shifted = sp.sin(s + k * pi)  # sympy evaluates this to (-1)^k sin s
    steps.append(
        Step(
            "shift to half-period k: sin(s + kπ)",
            sp.Eq(sp.Symbol("sin(s+k*pi)"), shifted),
            "so |sin(s + kπ)| = sin s for 0 ≤ s ≤ π",
        )
    )
    i0 = sp.factor(sp.together(sp.integrate(sp.sin(s) * half.subs(t, s), (s, 0, pi))))
    ratio = sp.simplify(half.subs(t, s + k * pi) / half.subs(t, s))
    assert s not in ratio.free_symbols  # a constant factor: it comes out of the half-period integral
    steps.append(Step("one half-period: I_0 = ∫_0^π sin s e^{-s/x}/x ds", sp.Eq(sp.Symbol("I_0"), i0)))
    steps.append(
        Step(
            "half-period k: p_t(s + kπ)/p_t(s), free of s, so I_k = q^k I_0",
            sp.Eq(sp.Symbol("I_k/I_0"), ratio),
            "q = e^{-π/x}",
        )
    )
    geo = sp.summation(q**k, (k, 0, sp.oo))
    geo_sum = geo.args[0][0] if isinstance(geo, sp.Piecewise) else geo
    steps.append(Step("geometric series Σ_k q^k", sp.Eq(sp.Sum(q**k, (k, 0, sp.oo)), geo), "0 < q < 1"))
    e_abs = sp.simplify(i0 * geo_sum.subs(q, ratio.subs(k, 1)))
    steps.append(Step("E|sin(ω0 w)| = I_0/(1 - q)", sp.Eq(sp.Symbol("E_abs_sin"), _coth_form(e_abs))))
    coth_target = x * sp.coth(pi / (2 * x)) / (1 + x**2)
    coth_difference = sp.simplify((e_abs - coth_target).rewrite(sp.exp))
    steps.append(Step("E|sin| - x coth(π/(2x))/(1+x²)", sp.Eq(sp.Symbol("difference"), coth_difference)))

    # Moments for Monte Carlo variances: E|sin|³ over half-periods, E sin⁴ directly.
    i3 = _integrate_linearised(sp.sin(s) ** 3, half.subs(t, s), s, 0, pi)
    e_abs3 = sp.simplify(i3 * geo_sum.subs(q, ratio.subs(k, 1)))
    e_sin4 = _integrate_linearised(sp.sin(t) ** 4, half, t, 0, sp.oo)
    steps.append(
        Step("E|sin|^3 (half-periods, same geometric factor)", sp.Eq(sp.Symbol("E_abs_sin3"), _coth_form(e_abs3)))
    )
    steps.append(Step("E sin^4", sp.Eq(sp.Symbol("E_sin4"), e_sin4)))

    # 4. QE from its definition: with S = sin, σ = sign S, write S = σ a, a = |S|, σ² = 1.
    a = sp.Symbol("a", nonnegative=True)
    per_sample = {sv: sp.expand((sv * a - g * sv) ** 2) for sv in (1, -1)}
    assert per_sample[1] == per_sample[-1]
    steps.append(
        Step(
            "(S - γ sign S)² with S = σ a, σ = ±1, a = |S|",
            sp.Eq(sp.Symbol("Y"), per_sample[1]),
            "the same for σ = +1 and σ = -1",
        )
    )
    a2, a1 = sp.Symbol("E_sin2"), sp.Symbol("E_abs_sin")
    qe_moments = per_sample[1].xreplace({a**2: a2}).xreplace({a: a1})
    steps.append(Step("QE = E[(S - γ sign S)²] (linearity)", sp.Eq(sp.Symbol("QE"), qe_moments)))
    qe_x = qe_moments.subs({a2: e_sin2, a1: e_abs})
    gamma_opt = sp.solve(sp.diff(qe_x, g), g)
    assert len(gamma_opt) == 1
    gamma_opt = gamma_opt[0]
    steps.append(
        Step(
            "γ*: solve dQE/dγ = 0 (d²QE/dγ² = 2 > 0)",
            sp.Eq(sp.Symbol("gamma_opt"), _coth_form(gamma_opt)),
            "γ* = E|sin|",
        )
    )
    qe_min = sp.simplify(qe_x.subs(g, gamma_opt))
    steps.append(Step("QE_min = QE(γ*)", sp.Eq(sp.Symbol("QE_min"), _coth_form(qe_min))))
    identity = sp.simplify(sp.expand(qe_x - ((g - gamma_opt) ** 2 + qe_min)))
    steps.append(Step("QE - ((γ - γ*)² + QE_min)", sp.Eq(sp.Symbol("difference"), identity)))

    # 5. Limits.
    lim0 = {
        "e_sin2": sp.limit(e_sin2, x, 0, "+"),
        "gamma_opt": sp.limit(gamma_opt, x, 0, "+"),
        "qe_min_over_x2": sp.limit(qe_min / x**2, x, 0, "+"),
        "qe": sp.limit(qe_x, x, 0, "+"),
    }
    liminf = {
        "e_sin2": sp.limit(e_sin2, x, sp.oo),
        "gamma_opt": sp.limit(gamma_opt, x, sp.oo),
        "qe_min": sp.simplify(sp.limit(qe_min, x, sp.oo)),
        "qe": sp.expand(sp.limit(qe_x, x, sp.oo)),
    }
    steps.append(
        Step("limits x → 0+", sp.Tuple(*[sp.Eq(sp.Symbol(n), v) for n, v in lim0.items()]), "QE_min ~ x², QE → γ²")
    )
    steps.append(
        Step(
            "limits x → ∞",
            sp.Tuple(*[sp.Eq(sp.Symbol(n), v) for n, v in liminf.items()]),
            "γ* → 2/π, QE_min → 1/2 - 4/π²",
        )
    )

    # Derivatives.
    d_e_sin2 = sp.simplify(sp.diff(e_sin2, x))
    d_e_abs = sp.diff(e_abs, x)
    qe_wb = qe_x.subs(x, w0 * b)
    dqe = sp.diff(qe_wb, w0)
    steps.append(Step("dQE/dω0 (chain rule through x = ω0 b)", sp.Eq(sp.Symbol("dQE/domega0"), _coth_form(dqe))))

    # 6. Sign baseline and the official L1 metric.
    qe_sign = sp.expand(2 * sp.integrate((wp - g) ** 2 * pdf.subs(w, wp), (wp, 0, sp.oo)))
    steps.append(
        Step("sign binarizer: E[(w - γ sign w)²]", sp.Eq(sp.Symbol("QE_sign"), qe_sign), "optimal γ = b gives b²")
    )
    c = sp.Symbol("c", nonnegative=True)  # c = 1 - a ≥ 0 because |sin| ≤ 1
    l1_cases = {sv: sp.simplify(sp.Abs(sv * (1 - c) - sv)) for sv in (1, -1)}
    assert l1_cases[1] == l1_cases[-1] == c
    official_l1 = 1 - e_abs
    steps.append(
        Step(
            "official L1: |S - sign S| = 1 - |S| (|S| ≤ 1)",
            sp.Eq(sp.Symbol("L1"), _coth_form(official_l1)),
            "E|S - sign S| = 1 - E|sin| (γ = 1)",
        )
    )

    # 7. The proof against the printed form.
    printed = printed_qe_sympy(w0, b, g)
    difference = sp.simplify((qe_wb - printed).rewrite(sp.exp))
    proved = difference == 0
    steps.append(Step("paper's printed QE", sp.Eq(sp.Symbol("QE_printed"), printed), "BiPer, CVPR 2024, Sec. 3"))
    steps.append(Step("derived QE - printed QE", sp.Eq(sp.Symbol("difference"), difference)))

    res = {
        "pdf": pdf,
        "half_line_density": half,
        "e_sin2": e_sin2,
        "e_abs_sin": e_abs,
        "e_abs_sin3": e_abs3,
        "e_sin4": e_sin4,
        "qe": qe_x,
        "qe_omega0_b": qe_wb,
        "gamma_opt": gamma_opt,
        "qe_min": qe_min,
        "d_e_sin2_dx": d_e_sin2,
        "d_e_abs_sin_dx": d_e_abs,
        "dqe_domega0": dqe,
        "qe_sign": qe_sign,
        "official_l1": official_l1,
        "limits_x0": lim0,
        "limits_xinf": liminf,
        "printed_qe": printed,
        "normalisation": norm,
        "coth_difference": coth_difference,
        "identity_difference": identity,
    }
    return Derivation(steps=tuple(steps), results=res, proved=bool(proved))


def derivation_steps() -> list[Step]:
    """The derivation as a list of :class:`Step` (title, sympy expression, note), in order."""
    return list(derive().steps)


def results() -> dict[str, Any]:
    """The derived expressions (functions of ``x = ω0 b`` and ``gamma``; ``dqe_domega0`` of ``omega0, b, gamma``)."""
    return dict(derive().results)


def proves_printed_form() -> bool:
    """True when sympy simplified (derived QE − the paper's printed QE) to exactly 0."""
    return derive().proved


def lambdified(name: str) -> Callable[..., Any]:
    """A numpy function of the derived expression ``name``: arguments ``(x)`` or ``(x, gamma)`` or
    ``(omega0, b, gamma)`` for ``dqe_domega0`` (used by tests to cross-check :mod:`biper_analysis.theory.analytic`).

    >>> f"{lambdified('e_abs_sin')(1.0):.12f}"
    '0.545165705364'
    """
    expr = results()[name]
    sy = SYMBOLS
    if name in {"dqe_domega0", "qe_omega0_b"}:
        args = (sy["omega0"], sy["b"], sy["gamma"])
    elif sy["gamma"] in expr.free_symbols:
        args = (sy["x"], sy["gamma"])
    elif sy["b"] in expr.free_symbols:
        args = (sy["b"], sy["gamma"])
    else:
        args = (sy["x"],)
    return sp.lambdify(args, expr, modules="numpy")
