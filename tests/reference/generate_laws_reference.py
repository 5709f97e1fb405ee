"""Generate laws_reference.json: sine moments and normaliser of the exponential-power law with the sin² Gibbs factor.

Run once from the repository root:  python tests/reference/generate_laws_reference.py   (147 rows, 2199 s of
compute on one core, i.e. about 37 minutes, the slowest row 260 s; ``--quick`` computes a handful of rows for a
smoke test, ``--reuse LOG`` takes rows already computed from a log of earlier output). Tests only read the JSON.

The law (biper_analysis.laws.Penalised; κ = 0 is GenNorm), in u = w/s, a = ω0·s, b = ω·s:

    I_g = ∫_0^∞ exp(−u^β − κ sin²(a u)) g(b u) du,   g = 1, sin², |sin|

and for biper_analysis.laws.Penalised2 (rows with "kappa0") κ0 instead of κ on the central half-period u < π/(2a);
rows with "alpha" (biper_analysis.laws.PenalisedAlpha) have the peak factor exp(−κ|sin(a u)|^α) instead.

Each row stores I_1 (the normaliser is Z = 2 s I_1), E sin²(ωw) = I_sin² / I_1 and E|sin(ωw)| = I_|sin| / I_1, to
25 significant digits, computed at 30 decimal digits (mpmath). The method is deliberately *different* from the
float64 code (which uses Gauss–Legendre pieces, a product rule and Gregory differences):

* "direct": mpmath.quad (tanh–sinh, which copes with the u^β branch point at the end point 0) on pieces split at
  every kink jπ/b of |sin(bu)|, every peak centre kπ/a and the offsets ±{1, 2, 4, 8}/(a√κ) around it, and the
  envelope scales 2^j, up to U with ∫_U^∞ u² e^{−u^β} du < 1e-34 of the whole.
* "euler-maclaurin" (many periods; only when ω/ω0 is a ratio p/q so that L = qπ/a is a common period): the first K
  periods directly as above; the rest, Σ_{k≥K} F(k) with F(x) = ∫_{−L/2}^{L/2} P(θ) e^{−(xL+θ)^β} dθ and
  P(θ) = e^{−κ sin²(aθ)} g(bθ), by the Euler–Maclaurin formula with derivative end terms:
  ∫_K^∞ F dx + F(K)/2 − Σ_{j=1}^{5} B_{2j}/(2j)! F^{(2j−1)}(K), where ∫_K^∞ F dx = (1/L)∫ P(θ) T(KL+θ) dθ with the
  exact tail T(u) = Γ(1/β, u^β)/β (mpmath.gammainc), and F^{(n)}(K) = n! L^n ∫ P(θ) c_n(KL+θ) dθ with the exact
  Taylor coefficients c_n of the envelope (power-series arithmetic). K is the first period >= 40 whose envelope
  log-derivative per period is <= 0.05 (β < 1; for β >= 1 it must be <= 0.25 up to U, else "direct"); each such
  row is recomputed with K + 16 and the two must agree to 1e-18 relative (stored as "em_check").
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

BETAS = ["0.5", "1", "2", "3"]
KAPPAS = ["0", "1", "20", "200"]
AS = ["1e-3", "0.1", "1", "10", "1e3"]
# (β, κ, a, ω/ω0) rows with ω ≠ ω0: a rational ratio (product-rule path of the float64 code) over the whole a range,
# an irrational one (direct path) where the support holds few periods.
EXTRA = (
    [(bt, kp, a, "3/2") for bt in ("0.5", "1.5", "3") for kp in ("1", "200") for a in AS]
    + [(bt, "20", a, "1/2") for bt in ("0.7", "2") for a in ("0.1", "10", "1e3")]
    + [(bt, kp, a, "0.7071067811865476") for bt in ("1", "2") for kp in ("1", "20", "200") for a in ("0.1", "1")]
    + [("0.75", "50", "2", "1"), ("1.25", "5", "0.5", "1"), ("2.5", "100", "30", "1")]
)
# (β, κ, a, ω/ω0, κ0[, α]): the two-κ laws (biper_analysis.laws.Penalised2, and PenalisedAlpha with the peak factor
# e^{-κ|sin(a u)|^α}), κ0 on the central half-period u < π/(2a)
ALPHA = [
    ("1.8", "3", "2.5", "1", "6", "1"),
    ("0.7", "10", "2.5", "1", "40", "0.6"),
    ("1.5", "4", "0.3", "1", "8", "1.5"),
    ("2", "20", "8", "3/2", "50", "0.9"),
    ("3", "5", "1", "0.7071067811865476", "20", "3"),
    ("0.5", "20", "1e3", "1", "200", "1.2"),
    ("1.2", "8", "30", "1", "8", "0.8"),
    ("1", "2", "1e-3", "1", "5", "1"),
]
CENTRAL = [
    ("0.7", "5", "2.5", "1", "40"),
    ("1.8", "3", "2.5", "1", "6"),
    ("1.8", "3", "2.5", "3/2", "6"),
    ("3", "20", "8", "1", "150"),
    ("1", "2", "0.3", "1", "10"),
    ("0.5", "20", "1e3", "1", "200"),
    ("2", "200", "30", "1", "20"),
    ("1.2", "8", "1", "0.7071067811865476", "30"),
]


def _u_end(beta: mp.mpf) -> mp.mpf:
    """U with ∫_U^∞ u² e^{−u^β} du / ∫_0^∞ u² e^{−u^β} du < TAIL."""
    s = 3 / beta
    f = lambda v: mp.log(mp.gammainc(s, v, regularized=True)) - mp.log(TAIL)
    v = mp.findroot(f, s + 90)
    return (v * mp.mpf("1.01") + 2) ** (1 / beta)


def _points(lo, hi, beta, kappa, a, b, kinks, env=True, alpha=2):
    pts = {lo, hi}
    j = -60
    while env and mp.mpf(2) ** j < hi:
        if mp.mpf(2) ** j > lo:
            pts.add(mp.mpf(2) ** j)
        j += 1
    if kinks and b is not None:
        for j in range(int(mp.floor(lo * b / mp.pi)), int(mp.ceil(hi * b / mp.pi)) + 1):
            p = j * mp.pi / b
            if lo < p < hi:
                pts.add(p)
    if kappa > 0:
        offs = [mp.mpf(0)] + [t * kappa ** (-1 / mp.mpf(alpha)) for t in (1, 2, 4, 8)]
        offs = [t for t in offs if t < mp.pi / 2]
        for k in range(int(mp.floor(lo * a / mp.pi)) - 1, int(mp.ceil(hi * a / mp.pi)) + 2):
            for t in offs:
                for sg in (1, -1):
                    p = (k * mp.pi + sg * t) / a
                    if lo < p < hi:
                        pts.add(p)
    return sorted(pts)


def _g(kind, x):
    if kind == "one":
        return mp.mpf(1)
    s = mp.sin(x)
    return s * s if kind == "sin2" else abs(s)


def _direct_one(lo, hi, beta, kappa, a, b, kind, alpha=2):
    f = lambda u: mp.exp(-(u**beta) - kappa * abs(mp.sin(a * u)) ** alpha) * _g(kind, b * u)
    pts = _points(lo, hi, beta, kappa, a, b, kind != "one", alpha=alpha)
    return mp.fsum(mp.quad(f, [p, q]) for p, q in zip(pts[:-1], pts[1:]))


def _template(L, beta, kappa, a, b, kind, alpha=2):
    """Pieces of the period [−L/2, L/2] and P(θ)."""
    pts = sorted(set(_points(-L / 2, L / 2, beta, kappa, a, b, kind != "one", env=False, alpha=alpha)) | {mp.mpf(0)})
    P = lambda th: mp.exp(-kappa * abs(mp.sin(a * th)) ** alpha) * _g(kind, b * th)
    return pts, P


def _env_taylor(u, beta, n):
    """Taylor coefficients c_m = env^{(m)}(u)/m!, m = 0..n, of env(u) = exp(−u^β), by series arithmetic:
    V(h) = (u+h)^β = u^β Σ_m C(β, m)(h/u)^m, then the exp recurrence e_m = −(1/m) Σ_{i=1}^m i v_i e_{m−i}."""
    v = [u**beta * mp.binomial(beta, m) / u**m for m in range(n + 1)]
    e = [mp.exp(-v[0])]
    for m in range(1, n + 1):
        e.append(-mp.fsum(i * v[i] * e[m - i] for i in range(1, m + 1)) / m)
    return e


def _em(K, L, beta, kappa, a, b, kind, alpha=2):
    """Σ_{k≥K} F(k), F(x) = ∫ P(θ) e^{−(xL+θ)^β} dθ, by Euler–Maclaurin with 5 derivative end terms;
    F^{(n)}(K) = n! L^n ∫ P(θ) c_n(KL+θ) dθ with the exact Taylor coefficients c_n of the envelope."""
    pts, P = _template(L, beta, kappa, a, b, kind, alpha)

    def over_period(fn):
        return mp.fsum(mp.quad(fn, [p, q]) for p, q in zip(pts[:-1], pts[1:]))

    T = lambda u: mp.gammainc(1 / beta, u**beta) / beta
    integral = over_period(lambda th: P(th) * T(K * L + th)) / L
    total = integral + over_period(lambda th: P(th) * mp.exp(-((K * L + th) ** beta))) / 2
    for j in range(1, 6):
        n = 2 * j - 1
        deriv = mp.factorial(n) * L**n * over_period(lambda th, n=n: P(th) * _env_taylor(K * L + th, beta, n)[n])
        total -= mp.bernoulli(2 * j) / mp.factorial(2 * j) * deriv
    return total


def _integrals(beta, kappa, a, ratio, frac, kappa0=None, alpha=2):
    """The three integrals, the method used and (Euler–Maclaurin rows) the K vs K+16 relative difference.
    With ``kappa0`` the central half-period u < π/(2a) has κ0 instead of κ."""
    b = a * ratio
    h = mp.pi / (2 * a)

    def _direct(lo, hi, beta, kappa, a, b, kind):
        if kappa0 is None or lo >= h:
            return _direct_one(lo, hi, beta, kappa, a, b, kind, alpha)
        return _direct_one(lo, min(hi, h), beta, kappa0, a, b, kind, alpha) + (
            _direct_one(h, hi, beta, kappa, a, b, kind, alpha) if hi > h else 0
        )

    U = _u_end(beta)
    L = None
    if kappa == 0:
        L = mp.pi / b
    elif frac is not None and frac.denominator <= 8 and frac.numerator <= 8:
        L = frac.denominator * mp.pi / a
    kinds = ("one", "sin2", "abs")
    if L is None or U / L <= 200:
        return {k: _direct(mp.mpf(0), U, beta, kappa, a, b, k) for k in kinds}, "direct", None
    lam = lambda u: beta * u ** (beta - 1) * L
    K = 40
    if beta < 1:
        while lam((K - mp.mpf(1) / 2) * L) > mp.mpf("0.05"):
            K = int(K * 1.25) + 1
    elif lam(max(U, K * L)) > mp.mpf("0.25"):
        K = None  # envelope steep on the period scale: few enough periods to integrate
    if K is None or (K + 16) * L >= U:
        return {k: _direct(mp.mpf(0), U, beta, kappa, a, b, k) for k in kinds}, "direct", None
    out, worst = {}, mp.mpf(0)
    for kind in kinds:
        head = _direct(mp.mpf(0), (K - mp.mpf(1) / 2) * L, beta, kappa, a, b, kind)
        more = _direct((K - mp.mpf(1) / 2) * L, (K + 16 - mp.mpf(1) / 2) * L, beta, kappa, a, b, kind)
        vals = [
            head + _em(K, L, beta, kappa, a, b, kind, alpha),
            head + more + _em(K + 16, L, beta, kappa, a, b, kind, alpha),
        ]
        worst = max(worst, abs(vals[1] / vals[0] - 1))
        out[kind] = vals[0]
    assert worst < mp.mpf("1e-18"), (beta, kappa, a, ratio, worst)
    return out, "euler-maclaurin", worst


def row(beta_t, kappa_t, a_t, ratio_t, kappa0_t=None, alpha_t=None):
    t0 = time.time()
    beta, kappa, a = mp.mpf(beta_t), mp.mpf(kappa_t), mp.mpf(a_t)
    frac = Fraction(ratio_t) if ("/" in ratio_t or ratio_t == "1") else None
    ratio = mp.mpf(frac.numerator) / frac.denominator if frac is not None else mp.mpf(ratio_t)
    ints, method, check = _integrals(
        beta,
        kappa,
        a,
        ratio,
        frac,
        None if kappa0_t is None else mp.mpf(kappa0_t),
        2 if alpha_t is None else mp.mpf(alpha_t),
    )
    one = ints["one"]
    out = {
        "beta": beta_t,
        "kappa": kappa_t,
        "a": a_t,
        "omega_over_omega0": ratio_t,
        **({} if kappa0_t is None else {"kappa0": kappa0_t}),
        **({} if alpha_t is None else {"alpha": alpha_t}),
        "I_one": mp.nstr(one, DIGITS),
        "e_sin2": mp.nstr(ints["sin2"] / one, DIGITS),
        "e_abs_sin": mp.nstr(ints["abs"] / one, DIGITS),
        "method": method,
        "seconds": round(time.time() - t0, 1),
    }
    if check is not None:
        out["em_check"] = mp.nstr(check, 3)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a few rows only, written to stdout")
    ap.add_argument(
        "--reuse",
        type=Path,
        help="a log of rows (one JSON object per line, as printed to stderr) "
        "whose rows are taken instead of recomputed",
    )
    args = ap.parse_args()
    mp.mp.dps = DPS
    cases = [(bt, kp, a, "1") for bt in BETAS for kp in KAPPAS for a in AS] + EXTRA + CENTRAL + ALPHA
    if args.quick:
        cases = [
            ("0.5", "200", "1e3", "1"),
            ("3", "1", "1e3", "3/2"),
            ("1", "20", "1", "3/2"),
            ("2", "1", "0.1", "0.7071067811865476"),
        ]
    done = {}
    if args.reuse:
        for line in args.reuse.read_text().splitlines():
            if line.startswith("{"):
                r = json.loads(line)
                key = (r["beta"], r["kappa"], r["a"], r["omega_over_omega0"])
                done[key + ((r["kappa0"],) if "kappa0" in r else ()) + ((r["alpha"],) if "alpha" in r else ())] = r
    rows = []
    for c in cases:
        rows.append(done[c] if c in done else row(*c))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    out = {
        "description": "I_1 = ∫_0^∞ exp(−u^β − κ(u) sin²(a u)) du, E sin²(b u) and E|sin(b u)| under the density ∝ "
        "exp(−u^β − κ(u) sin²(a u)) on u ≥ 0; a = ω0·s, b = ω·s = a·omega_over_omega0; κ(u) = κ, "
        "or kappa0 for u < π/(2a) in rows that have it; |sin(a u)|^alpha for sin² in rows with "
        "alpha; 25 digits",
        "generator": "tests/reference/generate_laws_reference.py",
        "mpmath_version": mp.__version__,
        "dps": DPS,
        "total_seconds": round(sum(r["seconds"] for r in rows)),
        "rows": rows,
    }
    if args.quick:
        print(json.dumps(out, indent=1))
        return
    path = Path(__file__).with_name("laws_reference.json")
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {path} ({len(rows)} rows, {out['total_seconds']} s)")


if __name__ == "__main__":
    main()
