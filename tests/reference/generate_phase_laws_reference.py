"""Generate phase_laws_reference.json: normaliser and sine moments of the laws with peaks at zeros and crests.

Run once from the repository root:  python tests/reference/generate_phase_laws_reference.py  (``--quick``: two
rows, a smoke test). Tests only read the JSON (tests/unit/laws/test_phase.py).

The laws (biper_analysis.laws.phase), in u = w/s, a = ω0·s, b = ω·s, θ = a·u:

    harmonic:  V(θ) = κ(u)·sin²θ + c·sin²2θ,     κ(u) = κ0 for θ < π/2, else κ
    maxent:    V(θ) = λ(u)·|sin θ| + μ·sin²θ,     λ(u) = λ0 for θ < π/2, else λ

    I_g = ∫_0^∞ exp(−u^β − V(a u)) g(b u) du,   g = 1, sin², |sin|

Each row stores I_1 (the normaliser is Z = 2 s I_1), E sin²(ωw) = I_sin²/I_1 and E|sin(ωw)| = I_|sin|/I_1 to 25
significant digits, computed at 30 decimal digits with mpmath.quad (tanh–sinh) on pieces split at every zero kπ/a
and crest (k+½)π/a of sin(a u), every kink jπ/b of |sin(b u)|, offsets ±{1/4, 1/2, 1, 2, 4}/(a√k) around every
zero and crest (k the larger |coefficient|, for the peaks), and the envelope scales 2^j, up to U with
∫_U^∞ u² e^{−u^β} du < 1e-34 of the whole. This is a different method from the float64 code (Gauss–Legendre pieces,
a product rule over the common period and Gregory differences); rows are kept to supports of a few hundred
half-periods so that the direct method stays affordable.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from fractions import Fraction
from pathlib import Path

import mpmath as mp

DPS = 30
DIGITS = 25
TAIL = mp.mpf("1e-34")

# (law, β, a, ω/ω0, three coefficients in the law's parameter order after s and β)
ROWS = [
    ("harmonic", "1", "1", "1", ("6", "2", "3")),
    ("harmonic", "1.2", "2.5", "1", ("-3", "-5", "4")),  # crest-heavy: negative sin² coefficients
    ("harmonic", "0.8", "0.3", "1", ("10", "0", "0")),
    ("harmonic", "2", "5", "1", ("40", "20", "10")),
    ("harmonic", "1.5", "3", "3/2", ("8", "-2", "6")),
    ("harmonic", "1", "2", "0.7071067811865476", ("5", "5", "1")),
    ("harmonic", "1.5", "8", "1", ("-20", "-30", "40")),
    ("harmonic", "3", "0.05", "1", ("2", "1", "1")),
    ("maxent", "1", "1", "1", ("6", "2", "-3")),
    ("maxent", "1.2", "2.5", "1", ("30", "15", "-20")),  # zero and crest peaks
    ("maxent", "0.8", "0.3", "1", ("10", "4", "0")),
    ("maxent", "2", "5", "1", ("60", "30", "5")),
    ("maxent", "1.5", "3", "3/2", ("8", "8", "-2")),
    ("maxent", "1", "2", "0.7071067811865476", ("5", "5", "-8")),
    ("maxent", "1.5", "8", "1", ("0", "2", "-10")),
    ("maxent", "3", "0.05", "1", ("2", "1", "1")),
]


def _u_end(beta: mp.mpf) -> mp.mpf:
    s = 3 / beta
    f = lambda v: mp.log(mp.gammainc(s, v, regularized=True)) - mp.log(TAIL)
    v = mp.findroot(f, s + 90)
    return (v * mp.mpf("1.01") + 2) ** (1 / beta)


def _potential(law: str, coefs: tuple[mp.mpf, ...], theta: mp.mpf) -> mp.mpf:
    central = theta < mp.pi / 2
    s = mp.sin(theta)
    if law == "harmonic":
        k0, k, c = coefs
        return (k0 if central else k) * s * s + c * mp.sin(2 * theta) ** 2
    l0, lam, mu = coefs
    return (l0 if central else lam) * abs(s) + mu * s * s


def _points(hi: mp.mpf, a: mp.mpf, b: mp.mpf, width: mp.mpf) -> list[mp.mpf]:
    pts = {mp.mpf(0), hi}
    j = -60
    while mp.mpf(2) ** j < hi:
        pts.add(mp.mpf(2) ** j)
        j += 1
    k = 0
    while k * mp.pi / (2 * a) < hi:
        c = k * mp.pi / (2 * a)  # zeros (even k) and crests (odd k)
        pts.add(c)
        for t in ("0.25", "0.5", "1", "2", "4"):
            for sign in (-1, 1):
                pts.add(c + sign * mp.mpf(t) * width / a)
        k += 1
    j = 0
    while j * mp.pi / b < hi:
        pts.add(j * mp.pi / b)
        j += 1
    return sorted(p for p in pts if 0 <= p <= hi)


def row(law: str, beta_t: str, a_t: str, ratio_t: str, coef_t: tuple[str, str, str]) -> dict:
    mp.mp.dps = DPS
    t0 = time.time()
    beta, a = mp.mpf(beta_t), mp.mpf(a_t)
    frac = Fraction(ratio_t) if "/" in ratio_t else None
    ratio = mp.mpf(frac.numerator) / frac.denominator if frac else mp.mpf(ratio_t)
    b = a * ratio
    coefs = tuple(mp.mpf(c) for c in coef_t)
    hi = _u_end(beta)
    width = 1 / mp.sqrt(max(max(abs(c) for c in coefs), mp.mpf(1)))
    pts = _points(hi, a, b, width)
    out = {}
    for kind in ("one", "sin2", "abs"):

        def f(u, kind=kind):
            g = 1 if kind == "one" else mp.sin(b * u) ** 2 if kind == "sin2" else abs(mp.sin(b * u))
            return mp.exp(-(u**beta) - _potential(law, coefs, a * u)) * g

        out[kind] = mp.fsum(mp.quad(f, [lo, up]) for lo, up in zip(pts[:-1], pts[1:]))
    return {
        "law": law,
        "beta": beta_t,
        "a": a_t,
        "omega_over_omega0": ratio_t,
        "coefs": list(coef_t),
        "I_one": mp.nstr(out["one"], DIGITS),
        "e_sin2": mp.nstr(out["sin2"] / out["one"], DIGITS),
        "e_abs_sin": mp.nstr(out["abs"] / out["one"], DIGITS),
        "pieces": len(pts) - 1,
        "seconds": round(time.time() - t0, 1),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="two rows only (a smoke test; writes nothing)")
    args = p.parse_args()
    todo = ROWS[:1] + ROWS[8:9] if args.quick else ROWS
    start = time.time()
    rows = []
    for spec in todo:
        r = row(*spec)
        print(json.dumps(r), file=sys.stderr, flush=True)
        rows.append(r)
    if args.quick:
        return
    data = {
        "description": __doc__.splitlines()[0],
        "generator": "tests/reference/generate_phase_laws_reference.py",
        "mpmath_version": mp.__version__,
        "dps": DPS,
        "total_seconds": round(time.time() - start),
        "rows": rows,
    }
    out = Path(__file__).with_name("phase_laws_reference.json")
    out.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {out} ({len(rows)} rows, {data['total_seconds']} s)")


if __name__ == "__main__":
    main()
