"""Generate gaussian_reference.json: E sin²(sZ) and E|sin(sZ)| for Z ~ N(0, 1), by mpmath quadrature at 50 digits.

Run once from the repository root (takes about a minute):  python tests/reference/generate_gaussian_reference.py
Tests only read the JSON (generated once at high precision, frozen with this generator). Method, per s = ω·σ:

* s ≤ 100: numerical integration 2∫_0^Z f(s z) φ(z) dz in mpmath, split at every zero kπ/s of sin(s z) inside
  [0, Z] (half-period by half-period, so |sin| is smooth on each piece) and at z = 1, 2, 4, 8; Z = 15 (the
  mass beyond, ~1e-50, is below the 40 digits kept).
* s > 100: more than 480 half-periods per unit of z, so instead the Fourier series of |sin| with the Gaussian
  characteristic function, 2/π − (4/π)Σ exp(−2k²s²)/(4k²−1), whose first term is below e^{−20000}: the value
  equals 2/π to far more than 40 digits (E sin² likewise equals 1/2 − exp(−2s²)/2). These rows are marked
  "method": "series" and are an independent check of the float64 code only in the sense of its limits.

E sin² is also integrated (s ≤ 100), and compared with the exact −expm1(−2s²)/2 before writing.
"""

from __future__ import annotations

import json
from pathlib import Path

import mpmath as mp

DPS = 50
DIGITS = 40
S_VALUES = [
    "1e-6",
    "1e-4",
    "1e-3",
    "0.01",
    "0.05",
    "0.1",
    "0.2",
    "0.24",
    "0.25",
    "0.26",
    "0.3",
    "0.5",
    "0.75",
    "1",
    "1.5",
    "2",
    "3",
    "5",
    "10",
    "30",
    "100",
    "1e3",
    "1e4",
    "1e6",
]
Z_MAX = 15


def _integrate(f, s: mp.mpf) -> mp.mpf:
    zeros = [k * mp.pi / s for k in range(1, int(Z_MAX * s / mp.pi) + 1)]
    pts = sorted({mp.mpf(0), *[mp.mpf(v) for v in (1, 2, 4, 8) if v < Z_MAX], *zeros, mp.mpf(Z_MAX)})
    total = mp.mpf(0)
    for a, b in zip(pts[:-1], pts[1:]):
        total += mp.quad(lambda z: f(s * z) * mp.npdf(z), [a, b])
    return 2 * total


def row(s_text: str) -> dict[str, str]:
    s = mp.mpf(s_text)
    if s <= 100:
        e_abs = _integrate(lambda u: abs(mp.sin(u)), s)
        e_sin2 = _integrate(lambda u: mp.sin(u) ** 2, s)
        exact = -mp.expm1(-2 * s * s) / 2
        assert abs(e_sin2 / exact - 1) < mp.mpf(10) ** (-DIGITS), (s_text, e_sin2, exact)
        method = "quadrature"
    else:
        e_abs = 2 / mp.pi - 4 / mp.pi * mp.nsum(lambda k: mp.exp(-2 * k * k * s * s) / (4 * k * k - 1), [1, mp.inf])
        e_sin2 = -mp.expm1(-2 * s * s) / 2
        method = "series"
    return {"s": s_text, "e_sin2": mp.nstr(e_sin2, DIGITS), "e_abs_sin": mp.nstr(e_abs, DIGITS), "method": method}


def main() -> None:
    mp.mp.dps = DPS
    rows = [row(s) for s in S_VALUES]
    out = {
        "description": "E sin^2(sZ) and E|sin(sZ)|, Z ~ N(0,1), s = omega*sigma; mpmath, 40 significant digits",
        "generator": "tests/reference/generate_gaussian_reference.py",
        "mpmath_version": mp.__version__,
        "dps": DPS,
        "rows": rows,
    }
    path = Path(__file__).with_name("gaussian_reference.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path} ({len(rows)} rows)")


if __name__ == "__main__":
    main()
