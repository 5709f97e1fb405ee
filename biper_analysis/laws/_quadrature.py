r"""The quadrature engine of the exponential-power laws (:mod:`~biper_analysis.laws.gennorm`,
:mod:`~biper_analysis.laws.penalised`): ``ints[kind, mult] = ∫_0^∞ e^{-u^β} e^{-κ(u)|sin(a u)|^α} g_kind(b u) m(u) du``.

Numerics (the sine moments; derivation in each docstring; witnesses in tests/unit/laws/):

* gennorm and the penalised laws: in u = w/s, a = ω0 s, b = ω s, every quantity is a ratio of
  I = ∫_0^∞ e^{-u^β} e^{-κ|sin(au)|^α} g(bu) m(u) du (g = 1, sin², |sin|; m = 1, u^β, u^β log u, u²; κ0 on the
  first half-period integrated apart; α ≠ 2 adds geometric grading towards each peak's |θ|^α cusp), computed by
  :func:`_half_line`: 20-point Gauss–Legendre on pieces split at every kink jπ/b of |sin|, at graded offsets
  {0.5, 1, 2, 3, 4.5, 6.5, 9, 13, 18}/√κ around every peak kπ/a, at envelope scales (u^β steps ≤ 1, u ratios ≤ 2) and
  geometrically towards the cusp at u = 0, for the first periods; then, when ω/ω0 is a ratio of integers ≤ 8
  (always for ω = ω0), a product rule over the common period L (the Lagrange weights of the periodic factor
  against the 20 Gauss–Legendre nodes, exact for an envelope of degree 19 on the period) while the envelope's
  log-derivative per period λ ≤ 1, and beyond λ ≤ 0.03 the Euler–Maclaurin formula in Gregory's form (the tail
  integral exactly, nine forward differences of the period sums). Truncation at U with a relative envelope tail
  of 1e-19. Without a common period (κ > 0 and irrational ω/ω0) the pieces run to U (cost ∝ number of periods).
* Accuracy against 30-digit mpmath (tests/reference/laws_reference.json, 147 rows, another method: tanh–sinh
  pieces and an Euler–Maclaurin tail with derivative end terms) over β ∈ [0.5, 3], κ ∈ [0, 200],
  ω0 s ∈ [1e-3, 1e3], ω = ω0, 1.5 ω0, ω0/2 and ω0/√2, plus 8 penalised2 and 8 penalised-alpha rows (α 0.6–3):
  worst relative error 3.1e-15 for the normaliser and at ω = ω0, 2.7e-14 at ω ≠ ω0 (tests assert 1e-10);
  against the Bessel × characteristic-function series (β = 1, 2; κ ≤ 200): 3e-12, the series' own truncation.

The comb law needs none of this: its moments are closed forms per peak (:mod:`~biper_analysis.laws.comb`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy import special

from biper_analysis.laws.base import CHUNK as _CHUNK

#: Gauss–Legendre nodes per piece. Pieces are chosen so that the integrand is analytic in a Bernstein ellipse
#: of parameter >= ~6 around each piece, where 20 nodes give ~1e-16 relative per piece.
_N = 20
_X, _W = np.polynomial.legendre.leggauss(_N)
#: Finer rule for the template moments (Legendre moments of degree < _N times the periodic factor).
_NF = 40
_XF, _WF = np.polynomial.legendre.leggauss(_NF)
#: Relative mass of u^p e^{-u^β} left beyond the cut-off U (p = 2 + the largest multiplier power).
_TAIL = 1e-19
#: Peak grading offsets in units of 1/√κ of the phase θ = a u − kπ (e^{-κ sin²θ} ≈ e^{-κθ²} there).
_PEAK_T = np.array([0.5, 1.0, 2.0, 3.0, 4.5, 6.5, 9.0, 13.0, 18.0])
#: Depth of the geometric grading towards u = 0 (cusp of u^β for non-integer β, log of u^β log u), and towards
#: each peak centre when the peak is e^{-κ|sin θ|^α} with α not an even integer (a |θ|^α cusp).
_GRADE = 56
_CUSP_GRADE = 40
#: Per-period log-derivative λ = |d(u^β)/du|·L of the envelope up to which a period is summed by the
#: product rule, and below which the rest of the tail is summed by Euler–Maclaurin (Gregory's form).
_LAM_PRODUCT = 1.0
_LAM_EM = 0.03
#: First period of the product rule (the branch point of u^β at 0 is then >= 5 half-periods away) and of the
#: Euler–Maclaurin tail; tails of fewer periods than _EM_MIN_PERIODS are summed period by period.
_K_PRODUCT = 3
_K_EM = 64
_EM_MIN_PERIODS = 400
#: Gregory coefficients: Σ_{k>=K} F(k) = ∫_K^∞ F + Σ_j G_j Δ^j F(K)  (the series of 1/log(1+x) − 1/x).
_GREGORY = (1 / 2, -1 / 12, 1 / 24, -19 / 720, 3 / 160, -863 / 60480, 275 / 24192, -33953 / 3628800, 8183 / 1036800)
#: Largest numerator/denominator of ω/ω0 treated as a rational ratio (common period of peaks and kinks).
_MAX_RATIO_TERM = 8

_KINDS = ("one", "sin2", "abs")


@dataclass(frozen=True)
class SinePolynomial:
    r"""A periodic factor e^{-(V(θ) − shift)} with V(θ) = c_abs·|sin θ| + c_sin2·sin²θ + c_h2·sin²2θ, θ = a u.

    With c_abs ≥ 0 and c_h2 ≥ 0 (c_sin2 of either sign), V is concave in x = sin²θ (√x and −x² are), so its minima,
    the peaks of e^{-V}, lie only at the zeros θ = kπ and at the crests θ = π/2 + kπ of |sin θ|: the grading of the
    quadrature needs only those two kinds of centre. ``shift`` (≤ the minimum of V, the same for every region of a
    law) keeps e^{-(V − shift)} ≤ 1. Feature kinds for the gradients of the fits: "f_abs" |sin θ|, "f_sin2" sin²θ,
    "f_h2" sin²2θ (each times the factor).

    >>> SinePolynomial(1.0, -3.0, 0.5).minimum()   # V at a crest: 1 − 3
    -2.0
    """

    c_abs: float = 0.0
    c_sin2: float = 0.0
    c_h2: float = 0.0
    shift: float = 0.0

    def __post_init__(self) -> None:
        if not (self.c_abs >= 0.0 and self.c_h2 >= 0.0 and math.isfinite(self.c_sin2)):
            raise ValueError(f"a sine polynomial needs c_abs >= 0, c_h2 >= 0 and a finite c_sin2, got {self!r}")

    def minimum(self) -> float:
        """min over θ of V: at a zero (0) or at a crest (c_abs + c_sin2), V being concave in sin²θ."""
        return min(0.0, self.c_abs + self.c_sin2)

    def is_flat(self) -> bool:
        return self.c_abs == 0.0 and self.c_sin2 == 0.0 and self.c_h2 == 0.0

    def value(self, theta: np.ndarray) -> np.ndarray:
        """V(θ) − shift."""
        s = np.sin(theta)
        s2 = s * s
        v = self.c_sin2 * s2
        if self.c_abs:
            v += self.c_abs * np.abs(s)
        if self.c_h2:
            v += (4.0 * self.c_h2) * s2 * (1.0 - s2)  # sin²2θ = 4 sin²θ cos²θ
        return v - self.shift

    def feature(self, theta: np.ndarray, kind: str) -> np.ndarray:
        s = np.sin(theta)
        if kind == "f_abs":
            return np.abs(s)
        if kind == "f_sin2":
            return s * s
        if kind == "f_h2":
            return 4.0 * s * s * (1.0 - s * s)
        raise ValueError(f"unknown feature {kind!r}")

    def peaks(self) -> list[tuple[float, float]]:
        """(centre phase, width) of every kind of peak of e^{-V}: the zeros (phase 0) when V rises from them, the
        crests (phase π/2) when V falls towards them; width = the phase distance over which V changes by ~1."""
        out = []
        k0 = self.c_sin2 + 4.0 * self.c_h2  # V ≈ c_abs|t| + k0 t² near a zero
        if self.c_abs > 0.0 or k0 > 0.0:
            if k0 > 0.0:
                width = (-self.c_abs + math.sqrt(self.c_abs * self.c_abs + 4.0 * k0)) / (2.0 * k0)
            else:
                width = 1.0 / self.c_abs
            out.append((0.0, width))
        kc = -0.5 * self.c_abs - self.c_sin2 + 4.0 * self.c_h2  # V ≈ V(π/2) + kc t² near a crest (θ = π/2 + t)
        if kc > 0.0:  # a minimum of V (a peak of e^{-V}) at the crest
            out.append((0.5 * math.pi, 1.0 / math.sqrt(kc)))
        return out


def _has_phase(kappa: float | SinePolynomial) -> bool:
    """Whether the periodic factor is not identically 1."""
    return (not kappa.is_flat()) if isinstance(kappa, SinePolynomial) else kappa > 0


def _u_end(beta: float, mults: Sequence[str]) -> float:
    """Cut-off U: ∫_U^∞ u^p e^{-u^β} du < _TAIL·∫_0^∞ u^p e^{-u^β} du, p = 2 + the largest multiplier power."""
    p = 2.0 + (2.0 if "u2" in mults else 0.0) + (beta + 0.5 if ("ub" in mults or "ublog" in mults) else 0.0)
    v = float(special.gammainccinv((p + 1.0) / beta, _TAIL))
    return (v * 1.02 + 2.0) ** (1.0 / beta)


def _envelope(u: np.ndarray, beta: float, mults: Sequence[str]) -> np.ndarray:
    """Envelope e^{-u^β} times each multiplier (1, u^β, u^β log u, u²): shape (len(mults),) + u.shape; u >= 0."""
    v = np.power(u, beta)
    env = np.exp(-v)
    out = np.empty((len(mults),) + u.shape)
    for i, m in enumerate(mults):
        if m == "1":
            out[i] = env
        elif m == "ub":
            out[i] = v * env
        elif m == "ublog":
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i] = np.where(u > 0, v * np.log(u) * env, 0.0)
        else:  # "u2"
            out[i] = u * u * env
    return out


def _q(
    theta_a: np.ndarray, theta_b: np.ndarray, kappa: float | SinePolynomial, kinds: Sequence[str], alpha: float = 2.0
) -> np.ndarray:
    """Periodic factor e^{-κ|sin θ_a|^α}·g: shape (len(kinds),) + θ.shape, with g = 1, sin²θ_b, |sin θ_b|
    ("one", "sin2", "abs") or |sin θ_a|^α, |sin θ_a|^α log|sin θ_a| ("pa", "pal", for the α-law's gradient).
    ``kappa`` a :class:`SinePolynomial`: the factor e^{-(V(θ_a) − shift)}, and its features "f_*" as g."""
    if isinstance(kappa, SinePolynomial):
        per = np.exp(-kappa.value(theta_a))
        out = np.empty((len(kinds),) + theta_a.shape)
        sb = None
        for i, k in enumerate(kinds):
            if k == "one":
                out[i] = per
            elif k.startswith("f_"):
                out[i] = per * kappa.feature(theta_a, k)
            else:
                if sb is None:
                    sb = np.sin(theta_b)
                out[i] = per * (sb * sb if k == "sin2" else np.abs(sb))
        return out
    pa = None
    if kappa > 0 or "pa" in kinds or "pal" in kinds:
        sa = np.abs(np.sin(theta_a))
        pa = sa * sa if alpha == 2.0 else np.power(sa, alpha)
    per = np.exp(-kappa * pa) if kappa > 0 else np.ones_like(theta_a)
    out = np.empty((len(kinds),) + theta_a.shape)
    sb = None
    for i, k in enumerate(kinds):
        if k == "one":
            out[i] = per
        elif k == "pa":
            out[i] = per * pa
        elif k == "pal":
            with np.errstate(divide="ignore", invalid="ignore"):
                out[i] = np.where(pa > 0, per * pa * np.log(np.abs(np.sin(theta_a))), 0.0)
        else:
            if sb is None:
                sb = np.sin(theta_b)
            out[i] = per * (sb * sb if k == "sin2" else np.abs(sb))
    return out


def _lattice(a: float | None, b: float | None, kappa: float | SinePolynomial) -> float | None:
    """Common period (in u) of e^{-κ sin²(a u)} and g(b u), or None (ω/ω0 not a ratio of integers <= 8)."""
    if _has_phase(kappa):
        if b is None or b == a:
            return math.pi / a
        r = Fraction(b / a).limit_denominator(_MAX_RATIO_TERM)
        if r.numerator <= _MAX_RATIO_TERM and abs(float(r) - b / a) <= 8 * np.finfo(float).eps * (b / a):
            return r.denominator * math.pi / a
        return None
    return None if b is None else math.pi / b


def _env_points(lo: float, hi: float, beta: float) -> np.ndarray:
    """Breakpoints in (lo, hi) with u^β steps <= 1 and u ratios <= 2 (the envelope is smooth on each piece)."""
    pts = [2.0 ** np.arange(-_GRADE, int(math.ceil(math.log2(max(hi, 1e-300)))) + 1)]
    vmax = hi**beta
    if vmax < 1e7:
        pts.append(np.arange(1.0, math.ceil(vmax) + 1.0) ** (1.0 / beta))
    p = np.concatenate(pts)
    return p[(p > lo) & (p < hi)]


def _feature_points(
    lo: float,
    hi: float,
    a: float | None,
    b: float | None,
    kappa: float | SinePolynomial,
    need_kinks: bool,
    alpha: float = 2.0,
) -> np.ndarray:
    """Peak grading points around kπ/a (offsets _PEAK_T·κ^{-1/α}, and for α not an even integer geometric
    grading towards the cusp |θ|^α at each centre) and the kinks jπ/b of |sin(b u)| inside (lo, hi)."""
    pts = []
    if isinstance(kappa, SinePolynomial):
        if a is not None and not kappa.is_flat():
            # centres: every zero and crest (edges there also split the |sin| kink), graded around each peak
            c = np.arange(math.floor(lo * a / math.pi) - 1, math.ceil(hi * a / math.pi) + 2) * math.pi
            pts += [c / a, (c + 0.5 * math.pi) / a]
            for centre, width in kappa.peaks():
                t = _PEAK_T * width
                t = np.concatenate([t[t < 0.5 * math.pi], [0.5 * math.pi]])
                cc = c + centre
                pts += [((cc[:, None] + t[None, :]) / a).ravel(), ((cc[:, None] - t[None, :]) / a).ravel()]
    elif kappa > 0 and a is not None:
        t = _PEAK_T * kappa ** (-1.0 / alpha)
        t = np.concatenate([t[t < 0.5 * math.pi], [0.5 * math.pi]])
        if not (alpha % 2.0 == 0.0):
            t = np.concatenate([t, min(t[0], 0.5 * math.pi) * 2.0 ** -np.arange(1, _CUSP_GRADE + 1)])
        t = t / a
        c = np.arange(math.floor(lo * a / math.pi) - 1, math.ceil(hi * a / math.pi) + 2) * (math.pi / a)
        pts += [c, (c[:, None] + t[None, :]).ravel(), (c[:, None] - t[None, :]).ravel()]
    if need_kinks and b is not None:
        pts.append(np.arange(math.floor(lo * b / math.pi), math.ceil(hi * b / math.pi) + 1) * (math.pi / b))
    if not pts:
        return np.empty(0)
    p = np.concatenate(pts)
    return p[(p > lo) & (p < hi)]


def _edges(
    lo: float,
    hi: float,
    beta: float,
    kappa: float,
    a: float | None,
    b: float | None,
    need_kinks: bool,
    grade: bool,
    mults: Sequence[str] = ("1",),
    alpha: float = 2.0,
) -> np.ndarray:
    """Sorted piece edges of [lo, hi]: envelope scales, peaks, kinks and (from 0) geometric grading."""
    edges = np.unique(
        np.concatenate([[lo, hi], _env_points(lo, hi, beta), _feature_points(lo, hi, a, b, kappa, need_kinks, alpha)])
    )
    if grade and lo == 0.0 and (not float(beta).is_integer() or "ublog" in mults):
        edges = np.unique(np.concatenate([edges, edges[1] * 2.0 ** -np.arange(1, _GRADE + 1)]))
    return edges


def _direct(
    lo: float,
    hi: float,
    beta: float,
    kappa: float,
    a: float | None,
    b: float | None,
    kinds: Sequence[str],
    mults: Sequence[str],
    *,
    grade: bool,
    alpha: float = 2.0,
) -> np.ndarray:
    """∫_lo^hi h q du by 20-point Gauss–Legendre on pieces split at every peak, kink and envelope scale."""
    out = np.zeros((len(kinds), len(mults)))
    if hi <= lo:
        return out
    edges = _edges(lo, hi, beta, kappa, a, b, any(k in ("sin2", "abs") for k in kinds), grade, mults, alpha)
    lo_e, hi_e = edges[:-1], edges[1:]
    per = max(1, _CHUNK // _N)
    for i in range(0, lo_e.size, per):
        mid = 0.5 * (lo_e[i : i + per] + hi_e[i : i + per])
        half = 0.5 * (hi_e[i : i + per] - lo_e[i : i + per])
        u = mid[:, None] + half[:, None] * _X[None, :]
        hv = _envelope(u, beta, mults) * (half[:, None] * _W[None, :])[None]  # (M, P, N)
        qv = _q(u * a if a is not None else u, u * b if b is not None else u, kappa, kinds, alpha)  # (K, P, N)
        out += np.sum(qv[:, None] * hv[None, :], axis=(2, 3))
    return out


def _template_weights(
    L: float, a: float | None, b: float | None, kappa: float, kinds: Sequence[str], alpha: float = 2.0
) -> np.ndarray:
    """Product-rule weights W[kind, l] = ∫_{-L/2}^{L/2} q(θ) ℓ_l(θ) dθ, ℓ_l the Lagrange basis at θ_l = x_l L/2.

    At the Gauss–Legendre nodes x_l, ℓ_l(x) = w_l Σ_{j<N} (j+½) P_j(x_l) P_j(x) (discrete orthogonality), so
    W[kind, l] = w_l Σ_j (j+½) P_j(x_l) m_j with the Legendre moments m_j = ∫ q(θ) P_j(2θ/L) dθ, computed by a
    40-point rule on pieces split at every peak and kink of the period.
    """
    h = 0.5 * L
    edges = np.unique(
        np.concatenate([[-h, h], _feature_points(-h, h, a, b, kappa, any(k in ("sin2", "abs") for k in kinds), alpha)])
    )
    mid, half = 0.5 * (edges[:-1] + edges[1:]), 0.5 * (edges[1:] - edges[:-1])
    th = (mid[:, None] + half[:, None] * _XF[None, :]).ravel()
    wt = (half[:, None] * _WF[None, :]).ravel()
    qv = _q(th * a if a is not None else th, th * b if b is not None else th, kappa, kinds, alpha)  # (K, P)
    P = np.polynomial.legendre.legvander(th / h, _N - 1)  # (P, N)
    m = np.sum(qv[:, :, None] * (P * wt[:, None])[None], axis=1)  # (K, N)
    coef = (np.arange(_N) + 0.5)[None, :] * np.polynomial.legendre.legvander(_X, _N - 1)  # (l, j)
    return _W[None, :] * np.sum(coef[None] * m[:, None, :], axis=2)  # (K, l)


def _period_sums(W: np.ndarray, L: float, k: np.ndarray, beta: float, mults: Sequence[str]) -> np.ndarray:
    """F(k)[kind, mult] = Σ_l W[kind, l] h_mult(kL + x_l L/2) for each period k: shape (K, M, len(k))."""
    out = np.empty((W.shape[0], len(mults), k.size))
    per = max(1, _CHUNK // _N)
    for i in range(0, k.size, per):
        hv = _envelope((k[i : i + per, None] + 0.5 * _X[None, :]) * L, beta, mults)  # (M, P, N)
        out[:, :, i : i + per] = np.sum(W[:, None, None, :] * hv[None], axis=3)
    return out


def _em_tail(W: np.ndarray, L: float, kE: int, U: float, beta: float, mults: Sequence[str]) -> np.ndarray:
    """Σ_{k>=kE} F(k) by Euler–Maclaurin in Gregory's form (forward differences of F at kE..kE+8).

    ∫_{kE}^∞ F(x) dx = (1/L) Σ_l W_l ∫_{(kE + x_l/2)L}^∞ h = (1/L) Σ_l W_l [H(kE L) − ∫_{kE L}^{kE L + x_l L/2} h]
    with H(u) = ∫_u^U h (Gauss–Legendre on envelope-scale pieces).
    """
    uE = kE * L
    H = _direct(uE, U, beta, 0.0, None, None, ("one",), mults, grade=False)[0]  # (M,)
    d = 0.5 * L * _X
    us = uE + (0.5 * d)[:, None] * (1.0 + _X[None, :])  # (l, N)
    short = np.sum(_envelope(us, beta, mults) * ((0.5 * d)[:, None] * _W[None, :])[None], axis=2)  # (M, l)
    integral = np.sum(W[:, None, :] * (H[None, :, None] - short[None]), axis=2) / L  # (K, M)
    diff = _period_sums(W, L, np.arange(kE, kE + len(_GREGORY), dtype=np.float64), beta, mults)
    for g in _GREGORY:
        integral = integral + g * diff[..., 0]
        diff = np.diff(diff, axis=-1)
    return integral


def _half_line(
    beta: float,
    kappa: float,
    a: float | None,
    b: float | None,
    kinds: Sequence[str],
    mults: Sequence[str],
    kappa0: float | None = None,
    central: list | None = None,
    alpha: float = 2.0,
) -> np.ndarray:
    r"""ints[kind, mult] = ∫_0^∞ e^{-u^β} e^{-κ(u)|sin(a u)|^α} g_kind(b u) m(u) du (module docstring, "Numerics"),
    κ(u) = κ, or κ0 on the central half-period u < π/(2a) when ``kappa0`` is given (its part of the result is
    appended to ``central`` when a list is passed).

    Direct Gauss–Legendre over the first periods (and wherever the envelope changes fast within a period),
    the product rule of a common period in between, Euler–Maclaurin for the slowly varying far tail.
    """
    U = _u_end(beta, mults)
    lo = 0.0
    out = np.zeros((len(kinds), len(mults)))
    if kappa0 is not None:
        lo = min(0.5 * math.pi / a, U)
        out += _direct(0.0, lo, beta, kappa0, a, b, kinds, mults, grade=True, alpha=alpha)
        if central is not None:
            central.append(out.copy())
    L = _lattice(a, b, kappa)
    if L is None or L >= U / _K_PRODUCT:
        return out + _direct(lo, U, beta, kappa, a, b, kinds, mults, grade=lo == 0.0, alpha=alpha)
    k_end = int(math.ceil(U / L + 0.5))
    never = k_end + 1

    def period_of(lam: float, right: bool) -> int:
        """Period index where the envelope's per-period log-derivative β u^{β-1} L equals lam (β ≠ 1)."""
        e = math.log(lam / (beta * L)) / (beta - 1.0)
        if e > math.log(U / L + 2.0) + math.log(L):
            return never
        u = math.exp(e)
        return int(math.floor(u / L - 0.5)) if right else int(math.ceil(u / L + 0.5))

    if beta == 1.0:  # λ = L
        kP = _K_PRODUCT if L <= _LAM_PRODUCT else never
        kE = _K_EM if L <= _LAM_EM else never
        kQ = k_end
    elif beta < 1.0:  # λ(u) = β u^{β-1} L falls with u
        kP = max(_K_PRODUCT, period_of(_LAM_PRODUCT, False))
        kE = max(_K_EM, period_of(_LAM_EM, False))
        kQ = k_end
    else:  # λ grows with u: product rule while λ <= 1, then direct again
        kP = _K_PRODUCT
        kQ = min(k_end, period_of(_LAM_PRODUCT, True))
        kE = _K_EM if beta * U ** (beta - 1.0) * L <= _LAM_EM else never
    kP = max(kP, int(math.ceil(lo / L + 0.5)))  # periods of the product rule start beyond the central part
    kE = max(kE, kP)
    if kE + _EM_MIN_PERIODS > k_end:
        kE = never
    if kP > kQ:
        return out + _direct(lo, U, beta, kappa, a, b, kinds, mults, grade=lo == 0.0, alpha=alpha)
    out += _direct(lo, (kP - 0.5) * L, beta, kappa, a, b, kinds, mults, grade=lo == 0.0, alpha=alpha)
    W = _template_weights(L, a, b, kappa, kinds, alpha)
    stop = min(kQ, kE - 1)
    if stop >= kP:
        out += np.sum(_period_sums(W, L, np.arange(kP, stop + 1, dtype=np.float64), beta, mults), axis=2)
    if kE <= kQ:
        out += _em_tail(W, L, kE, U, beta, mults)
    elif kQ < k_end:
        out += _direct((kQ + 0.5) * L, U, beta, kappa, a, b, kinds, mults, grade=False, alpha=alpha)
    return out
