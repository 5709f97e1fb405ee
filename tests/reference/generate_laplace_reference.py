"""Generate tests/reference/laplace_reference.json: Laplace moments of |sin| at high precision, by integration.

Run:  .venv/bin/python tests/reference/generate_laplace_reference.py   (about a minute; output is deterministic)

Independent of every closed form in the package: nothing here evaluates coth, 2x²/(1+4x²) or the paper's formula.
With t = ω0|w| and x = ω0·b, w ~ Laplace(0, b), the law of t has density e^{-t/x}/x, and for f(t) = g(|sin t|)
(period π):

    E f = Σ_k ∫_{kπ}^{(k+1)π} f(t) e^{-t/x}/x dt = J / (1 − q),  J = ∫_0^π f(t) e^{-t/x}/x dt,  q = e^{-π/x}

(half-period k is half-period 0 weighted by q^k: the Laplace tail's geometric factor). J is integrated
numerically with mpmath (tanh-sinh) at 60 significant digits with break points at x·2^j to resolve the peak
of the weight at small x. Derivatives d/dx differentiate under the integral sign:
d/dx [J/(1−q)] = J'/(1−q) + J·q·(π/x²)/(1−q)², J' = ∫_0^π f(t) e^{-t/x}(t − x)/x³ dt.
Every value is computed twice (60 and 75 digits); the script fails unless the two agree to 45 digits, and
stores 45 significant digits (≥ 40 as required).

The QE_min peak is located by mpmath's findroot on dQE_min/dx = 0 computed from the same integrals.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath as mp

OUT = Path(__file__).with_name("laplace_reference.json")
DIGITS = 45
GAMMAS = ("0.25", "0.5", "0.75", "1")

# 4 points per decade over 1e-6 .. 1e6, plus points of interest.
X_STRINGS = sorted(
    {
        *(mp.nstr(mp.mpf(10) ** (mp.mpf(e) / 4), 17) for e in range(-24, 25)),
        "0.0044",
        "0.0354",
        "0.1",
        "0.5",
        "0.9548825",
        "1",
        "2",
        "3",
        "20",
        "1000",
        "123456.789",
    },
    key=lambda s: mp.mpf(s),
)


def _points(x: mp.mpf) -> list[mp.mpf]:
    pts = [mp.mpf(0)] + [x * mp.mpf(2) ** j for j in range(-2, 9) if x * mp.mpf(2) ** j < mp.pi] + [+mp.pi]
    return pts


def _half_period(g, x: mp.mpf) -> tuple[mp.mpf, mp.mpf]:
    """(J, J') for f(t) = g(sin t) on [0, π] (sin t ≥ 0 there, so |sin t| = sin t)."""
    pts = _points(x)
    j = mp.quad(lambda t: g(mp.sin(t)) * mp.exp(-t / x) / x, pts)
    jp = mp.quad(lambda t: g(mp.sin(t)) * mp.exp(-t / x) * (t - x) / x**3, pts)
    return j, jp


def _moment(g, x: mp.mpf) -> tuple[mp.mpf, mp.mpf]:
    """(E g(|sin t|), d/dx of it)."""
    j, jp = _half_period(g, x)
    one_minus_q = -mp.expm1(-mp.pi / x)
    q = 1 - one_minus_q
    return j / one_minus_q, jp / one_minus_q + j * q * (mp.pi / x**2) / one_minus_q**2


def values_at(xs: str) -> dict[str, mp.mpf]:
    x = mp.mpf(xs)
    e2, de2 = _moment(lambda s: s**2, x)
    e1, de1 = _moment(lambda s: s, x)
    e3, _ = _moment(lambda s: s**3, x)
    e4, _ = _moment(lambda s: s**4, x)
    out = {
        "e_sin2": e2,
        "e_abs_sin": e1,
        "e_abs_sin3": e3,
        "e_sin4": e4,
        "qe_min": e2 - e1**2,
        "official_l1": 1 - e1,
        "d_e_sin2_dx": de2,
        "d_e_abs_sin_dx": de1,
        "d_qe_min_dx": de2 - 2 * e1 * de1,
    }
    for g in GAMMAS:
        gm = mp.mpf(g)
        out[f"qe_gamma_{g}"] = e2 - 2 * gm * e1 + gm**2
    return out


def peak() -> tuple[mp.mpf, mp.mpf]:
    def _slope(x):
        e2, de2 = _moment(lambda s: s**2, x)
        e1, de1 = _moment(lambda s: s, x)
        return de2 - 2 * e1 * de1

    xp = mp.findroot(_slope, (mp.mpf("0.9"), mp.mpf("1.0")), solver="secant", tol=mp.eps * 1024)
    e2, _ = _moment(lambda s: s**2, xp)
    e1, _ = _moment(lambda s: s, xp)
    return xp, e2 - e1**2


def _at(dps: int):
    with mp.workdps(dps):
        rows = {xs: values_at(xs) for xs in X_STRINGS}
        xp, qp = peak()
        return rows, (xp, qp)


def main() -> int:
    rows60, peak60 = _at(60)
    rows75, peak75 = _at(75)
    worst = mp.mpf(0)
    with mp.workdps(80):
        for xs in X_STRINGS:
            for key, v in rows60[xs].items():
                ref = rows75[xs][key]
                rel = abs(v - ref) / abs(ref) if ref != 0 else abs(v)
                worst = max(worst, rel)
        for a, b in zip(peak60, peak75):
            worst = max(worst, abs(a - b) / abs(b))
    if worst > mp.mpf(10) ** (-DIGITS):
        sys.stderr.write(f"60- and 75-digit runs disagree: worst relative difference {mp.nstr(worst, 5)}\n")
        return 1
    data = {
        "description": "w ~ Laplace(0, b), x = omega0*b; E g(|sin(omega0 w)|) by mpmath quadrature over one "
        "half-period weighted by the geometric tail factor 1/(1-exp(-pi/x)); see the generator.",
        "generator": "tests/reference/generate_laplace_reference.py",
        "mpmath": mp.__version__,
        "digits": DIGITS,
        "self_check_worst_rel_60_vs_75_digits": mp.nstr(worst, 3),
        "gammas": list(GAMMAS),
        "points": [{"x": xs, **{k: mp.nstr(v, DIGITS) for k, v in rows75[xs].items()}} for xs in X_STRINGS],
        "qe_min_peak": {"x": mp.nstr(peak75[0], DIGITS), "qe_min": mp.nstr(peak75[1], DIGITS)},
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT} ({len(X_STRINGS)} points; 60 vs 75 digits agree to {mp.nstr(worst, 3)})")
    print(f"peak x = {data['qe_min_peak']['x']}, QE_min = {data['qe_min_peak']['qe_min']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
