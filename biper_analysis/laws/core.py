r"""Weight laws fitted to trained BiPer weights, and the QE each predicts from its parameters alone.

The paper's closed form assumes w ~ Laplace(0, b) (BiPer, CVPR 2024, arXiv:2404.01278, Sec. 3). Trained weights
are not Laplacian: the official CIFAR code adds τ·Σ mean sin²(ω0 w) to the loss (github.com/edmav4/BiPer,
``cifar10/main.py``, ``forward``: ``loss_reg``), which pulls weights towards the zeros kπ/ω0 of sin(ω0 w),
and weight decay pulls them towards 0. The laws here are models with at most five fitted parameters (not copies
of the data); each predicts E sin²(ωw), E|sin(ωw)| and so QE_min = E sin² − (E|sin|)²
(:func:`biper_analysis.theory.analytic.qe_from_moments`).

Laws (all symmetric, location 0; ``fit_law(w, omega0, model)`` fits any of :data:`MODELS` by maximum likelihood):

* ``laplace`` — :class:`LaplaceLaw` (= priors.Laplace): pdf e^{-|w|/b}/(2b), b̂ = mean|w|. 1 parameter.
* ``gaussian`` — :class:`GaussianLaw` (= priors.Gaussian): N(0, σ²), σ̂ = sqrt(mean w²). 1 parameter.
* ``gennorm`` — :class:`GenNorm`: pdf β/(2sΓ(1/β))·e^{-|w/s|^β} (scipy.stats.gennorm, loc 0). 2 parameters.
* ``penalised`` — :class:`Penalised`: p(w) ∝ exp(−|w/s|^β − κ sin²(ω0 w)), the exponential power times the Gibbs
  factor of the sin² penalty, κ ≥ 0, at the ω0 it was fitted for. 3 parameters (s, β, κ).
* ``penalised2`` — :class:`Penalised2`: the same with its own κ0 on the central period |ω0 w| < π/2. 4 parameters
  (s, β, κ0, κ). In trained first-stage layers the k = 0 peak is about twice as sharp as k = ±1.
* ``penalised-alpha`` — :class:`PenalisedAlpha`: exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α), two κ as above and a free
  peak shape α (α = 2: Gibbs peaks, α = 1: Laplace-shaped peaks). 5 parameters (s, β, κ0, κ, α).
* ``comb`` — :class:`Comb`: (1−ε)·Σ_k π_k Laplace(kπ/ω0, d_k) + ε·Laplace(0, b), Laplace-shaped peaks at the
  zeros of sin(ω0 w) with weights π_k ∝ exp(−(kπ/ω0)²/(2σ²)) from a Gaussian envelope, a separate width d0 for the
  central peak (d_k = d1 for |k| ≥ 1) and a broad background. 5 parameters (σ, d0, d1, ε, b). For layers whose
  weights sit in *narrow, heavy-tailed* peaks with a few % between them (the official long run's first stage):
  on such synthetic layers it is AIC-best and predicts QE_min within 1–12 %, where penalised-alpha is 11–15 % low.

What the laws predict on real weights (ResNet-20 1w1a, Fashion-MNIST, ω0 = 20, our 12 + 8-epoch run; QE_min
predicted vs measured, tolerance max(5 %, 2 SE)). Layers 2–3: penalised-alpha within 2 %. Layer 1 (2304 weights
each, 80–90 % near the zeros after stage 2): Laplace +100…+210 %, penalised −28 %, penalised2 −20…−24 %,
penalised-alpha (AIC-best) +7…+11 %, comb +9…+17 %; the best law is within tolerance in 14 of 18 layers after stage
2 (12 of 18 after stage 1, where penalised2 would be within −1…−4 %). The remaining layer-1 misfit: the k = ±1
peaks sit ~0.2 rad inward of ±π/ω0 (weight decay); a law with that shift fits far better by AIC (−400…−600) but
predicts QE_min 5–17 % low, so it is not included.

Every law offers ``name``, ``n_params``, ``params`` (dict), ``scale``, ``omega0`` (None when it does not depend on
ω0), ``is_symmetric``, ``pdf``, ``logpdf``, ``cdf`` (monotone), ``sample(rng, size)``, ``variance()``,
``expected_sin2(ω)``, ``expected_abs_sin(ω)`` (vectorised, ω may differ from ω0), ``characteristic_function``,
``one_minus_cf``, ``to_dict()``; :func:`law_from_dict` inverts ``to_dict`` exactly (:func:`law_to_dict` also takes
the plain priors).

Numerics (the sine moments; derivation in each docstring; witnesses in tests/unit/laws/test_laws.py):

* comb: closed forms per peak. With φ = ω·kπ/ω0 mod π and x = ω·d, a Laplace(0, d) offset gives
  E sin²(φ+Z) = (2x² + sin²φ)/(1+4x²) and E|sin(φ+Z)| = [x(e^{-φ/x} + e^{-(π−φ)/x})/(1−e^{-π/x}) + sin φ]/(1+x²)
  (half-period integrals summed as a geometric series; φ = 0 is the paper's x coth(π/(2x))/(1+x²)). All terms are
  non-negative, so nothing cancels.
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

Fitting: Laplace and Gaussian in closed form on all weights; the others on a seeded subsample (default 20 000,
without replacement): gennorm by the profile likelihood in β (ŝ^β = β·mean|w|^β, bounded Brent on log β);
the penalised laws by L-BFGS-B in (log s, log β, κ[, κ0][, log α]) with the exact gradient (an exponential family:
each component is a difference of data and model moments, the model moments from the same quadrature) from the
gennorm MLE at κ = 0 (again from κ = 10 when that run stalls or stays at κ = 0; penalised-alpha from the
penalised2 MLE at α = 2); comb by EM with an exact O(n)
E-step (discounted running sums over the peak lattice, no peak truncated) accelerated by SQUAREM (Varadhan &
Roland 2008). Deterministic: no threads, no BLAS, fixed summation order.

Timing, one core (measured; 16 layers shaped like CIFAR ResNet-18's binarised convs, 11.0 M weights; each law
fitted, its log-likelihood on all weights, its KS distance by fitting.ks_distance_sorted, its two moments):
laplace 0.05 s, gaussian 0.05 s, gennorm 0.25 s, penalised 0.6 s, penalised2 0.7 s, penalised-alpha 1.3 s,
comb 0.7 s — 3.6 s for all seven, against 0.5 s for a Laplace-only pass (one sort, weight_stats, Laplace
log-likelihood and KS). Per layer: fits on 2e4 weights 2 ms (gennorm), 12–20 ms (penalised, penalised2), ~50 ms
(penalised-alpha, which starts from the penalised2 fit), 25–60 ms (comb; up to ~0.5 s on broad, Gaussian-like
layers); moments ~1 ms; log-likelihood 5–30 ns per weight.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from scipy import optimize, signal, special

from biper_analysis._io import validation
from biper_analysis.laws.priors import Gaussian, Laplace
from biper_analysis.theory import analytic
from biper_analysis.theory.weights import weight_stats

__all__ = ["MODELS", "LaplaceLaw", "GaussianLaw", "GenNorm", "Penalised", "Penalised2", "PenalisedAlpha", "Comb",
           "fit_law", "fit_laws", "loglik", "n_params", "law_to_dict", "law_from_dict", "qe_prediction_se"]


# ---------------------------------------------------------------------------------------------------------
# Quadrature engine: ints[kind, mult] = ∫_0^∞ e^{-u^β} e^{-κ sin²(a u)} g_kind(b u) m(u) du
# ---------------------------------------------------------------------------------------------------------
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
_GREGORY = (1 / 2, -1 / 12, 1 / 24, -19 / 720, 3 / 160, -863 / 60480, 275 / 24192, -33953 / 3628800,
            8183 / 1036800)
#: Largest numerator/denominator of ω/ω0 treated as a rational ratio (common period of peaks and kinks).
_MAX_RATIO_TERM = 8
#: Elements evaluated at once (bounds temporary memory to a few MiB per array).
_CHUNK = 1 << 18

_KINDS = ("one", "sin2", "abs")


def _u_end(beta: float, mults: Sequence[str]) -> float:
    """Cut-off U: ∫_U^∞ u^p e^{-u^β} du < _TAIL·∫_0^∞ u^p e^{-u^β} du, p = 2 + the largest multiplier power."""
    p = 2.0 + (2.0 if "u2" in mults else 0.0) + (beta + 0.5 if ("ub" in mults or "ublog" in mults) else 0.0)
    v = float(special.gammainccinv((p + 1.0) / beta, _TAIL))
    return (v * 1.02 + 2.0) ** (1.0 / beta)


def _h(u: np.ndarray, beta: float, mults: Sequence[str]) -> np.ndarray:
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


def _q(theta_a: np.ndarray, theta_b: np.ndarray, kappa: float, kinds: Sequence[str],
       alpha: float = 2.0) -> np.ndarray:
    """Periodic factor e^{-κ|sin θ_a|^α}·g: shape (len(kinds),) + θ.shape, with g = 1, sin²θ_b, |sin θ_b|
    ("one", "sin2", "abs") or |sin θ_a|^α, |sin θ_a|^α log|sin θ_a| ("pa", "pal", for the α-law's gradient)."""
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


def _lattice(a: float | None, b: float | None, kappa: float) -> float | None:
    """Common period (in u) of e^{-κ sin²(a u)} and g(b u), or None (ω/ω0 not a ratio of integers <= 8)."""
    if kappa > 0:
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
    vmax = hi ** beta
    if vmax < 1e7:
        pts.append(np.arange(1.0, math.ceil(vmax) + 1.0) ** (1.0 / beta))
    p = np.concatenate(pts)
    return p[(p > lo) & (p < hi)]


def _feature_points(lo: float, hi: float, a: float | None, b: float | None, kappa: float,
                    need_kinks: bool, alpha: float = 2.0) -> np.ndarray:
    """Peak grading points around kπ/a (offsets _PEAK_T·κ^{-1/α}, and for α not an even integer geometric
    grading towards the cusp |θ|^α at each centre) and the kinks jπ/b of |sin(b u)| inside (lo, hi)."""
    pts = []
    if kappa > 0 and a is not None:
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


def _edges(lo: float, hi: float, beta: float, kappa: float, a: float | None, b: float | None,
           need_kinks: bool, grade: bool, mults: Sequence[str] = ("1",), alpha: float = 2.0) -> np.ndarray:
    """Sorted piece edges of [lo, hi]: envelope scales, peaks, kinks and (from 0) geometric grading."""
    edges = np.unique(np.concatenate([[lo, hi], _env_points(lo, hi, beta),
                                      _feature_points(lo, hi, a, b, kappa, need_kinks, alpha)]))
    if grade and lo == 0.0 and (not float(beta).is_integer() or "ublog" in mults):
        edges = np.unique(np.concatenate([edges, edges[1] * 2.0 ** -np.arange(1, _GRADE + 1)]))
    return edges


def _direct(lo: float, hi: float, beta: float, kappa: float, a: float | None, b: float | None,
            kinds: Sequence[str], mults: Sequence[str], *, grade: bool, alpha: float = 2.0) -> np.ndarray:
    """∫_lo^hi h q du by 20-point Gauss–Legendre on pieces split at every peak, kink and envelope scale."""
    out = np.zeros((len(kinds), len(mults)))
    if hi <= lo:
        return out
    edges = _edges(lo, hi, beta, kappa, a, b, any(k in ("sin2", "abs") for k in kinds), grade, mults, alpha)
    lo_e, hi_e = edges[:-1], edges[1:]
    per = max(1, _CHUNK // _N)
    for i in range(0, lo_e.size, per):
        mid = 0.5 * (lo_e[i:i + per] + hi_e[i:i + per])
        half = 0.5 * (hi_e[i:i + per] - lo_e[i:i + per])
        u = mid[:, None] + half[:, None] * _X[None, :]
        hv = _h(u, beta, mults) * (half[:, None] * _W[None, :])[None]                  # (M, P, N)
        qv = _q(u * a if a is not None else u, u * b if b is not None else u, kappa, kinds, alpha)  # (K, P, N)
        out += np.sum(qv[:, None] * hv[None, :], axis=(2, 3))
    return out


def _template_weights(L: float, a: float | None, b: float | None, kappa: float,
                      kinds: Sequence[str], alpha: float = 2.0) -> np.ndarray:
    """Product-rule weights W[kind, l] = ∫_{-L/2}^{L/2} q(θ) ℓ_l(θ) dθ, ℓ_l the Lagrange basis at θ_l = x_l L/2.

    At the Gauss–Legendre nodes x_l, ℓ_l(x) = w_l Σ_{j<N} (j+½) P_j(x_l) P_j(x) (discrete orthogonality), so
    W[kind, l] = w_l Σ_j (j+½) P_j(x_l) m_j with the Legendre moments m_j = ∫ q(θ) P_j(2θ/L) dθ, computed by a
    40-point rule on pieces split at every peak and kink of the period.
    """
    h = 0.5 * L
    edges = np.unique(np.concatenate([[-h, h], _feature_points(-h, h, a, b, kappa,
                                                                any(k in ("sin2", "abs") for k in kinds), alpha)]))
    mid, half = 0.5 * (edges[:-1] + edges[1:]), 0.5 * (edges[1:] - edges[:-1])
    th = (mid[:, None] + half[:, None] * _XF[None, :]).ravel()
    wt = (half[:, None] * _WF[None, :]).ravel()
    qv = _q(th * a if a is not None else th, th * b if b is not None else th, kappa, kinds, alpha)  # (K, P)
    P = np.polynomial.legendre.legvander(th / h, _N - 1)                                     # (P, N)
    m = np.sum(qv[:, :, None] * (P * wt[:, None])[None], axis=1)                             # (K, N)
    coef = (np.arange(_N) + 0.5)[None, :] * np.polynomial.legendre.legvander(_X, _N - 1)      # (l, j)
    return _W[None, :] * np.sum(coef[None] * m[:, None, :], axis=2)                          # (K, l)


def _period_sums(W: np.ndarray, L: float, k: np.ndarray, beta: float, mults: Sequence[str]) -> np.ndarray:
    """F(k)[kind, mult] = Σ_l W[kind, l] h_mult(kL + x_l L/2) for each period k: shape (K, M, len(k))."""
    out = np.empty((W.shape[0], len(mults), k.size))
    per = max(1, _CHUNK // _N)
    for i in range(0, k.size, per):
        hv = _h((k[i:i + per, None] + 0.5 * _X[None, :]) * L, beta, mults)              # (M, P, N)
        out[:, :, i:i + per] = np.sum(W[:, None, None, :] * hv[None], axis=3)
    return out


def _em_tail(W: np.ndarray, L: float, kE: int, U: float, beta: float, mults: Sequence[str]) -> np.ndarray:
    """Σ_{k>=kE} F(k) by Euler–Maclaurin in Gregory's form (forward differences of F at kE..kE+8).

    ∫_{kE}^∞ F(x) dx = (1/L) Σ_l W_l ∫_{(kE + x_l/2)L}^∞ h = (1/L) Σ_l W_l [H(kE L) − ∫_{kE L}^{kE L + x_l L/2} h]
    with H(u) = ∫_u^U h (Gauss–Legendre on envelope-scale pieces).
    """
    uE = kE * L
    H = _direct(uE, U, beta, 0.0, None, None, ("one",), mults, grade=False)[0]                 # (M,)
    d = 0.5 * L * _X
    us = uE + (0.5 * d)[:, None] * (1.0 + _X[None, :])                                         # (l, N)
    short = np.sum(_h(us, beta, mults) * ((0.5 * d)[:, None] * _W[None, :])[None], axis=2)     # (M, l)
    integral = np.sum(W[:, None, :] * (H[None, :, None] - short[None]), axis=2) / L            # (K, M)
    diff = _period_sums(W, L, np.arange(kE, kE + len(_GREGORY), dtype=np.float64), beta, mults)
    for g in _GREGORY:
        integral = integral + g * diff[..., 0]
        diff = np.diff(diff, axis=-1)
    return integral


def _half_line(beta: float, kappa: float, a: float | None, b: float | None, kinds: Sequence[str],
               mults: Sequence[str], kappa0: float | None = None, central: list | None = None,
               alpha: float = 2.0) -> np.ndarray:
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

    if beta == 1.0:                # λ = L
        kP = _K_PRODUCT if L <= _LAM_PRODUCT else never
        kE = _K_EM if L <= _LAM_EM else never
        kQ = k_end
    elif beta < 1.0:               # λ(u) = β u^{β-1} L falls with u
        kP = max(_K_PRODUCT, period_of(_LAM_PRODUCT, False))
        kE = max(_K_EM, period_of(_LAM_EM, False))
        kQ = k_end
    else:                          # λ grows with u: product rule while λ <= 1, then direct again
        kP = _K_PRODUCT
        kQ = min(k_end, period_of(_LAM_PRODUCT, True))
        kE = _K_EM if beta * U ** (beta - 1.0) * L <= _LAM_EM else never
    kP = max(kP, int(math.ceil(lo / L + 0.5)))   # periods of the product rule start beyond the central part
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


# ---------------------------------------------------------------------------------------------------------
# Piecewise-Chebyshev CDF table of e^{-u^β - κ sin²(a u)} on [0, u_max]
# ---------------------------------------------------------------------------------------------------------
_NC = 24
_CT = np.cos(math.pi * (np.arange(_NC) + 0.5) / _NC)                      # Chebyshev points (first kind)
_CM = (2.0 / _NC) * np.cos(np.outer(np.arange(_NC), math.pi * (np.arange(_NC) + 0.5) / _NC))
_CM[0] *= 0.5                                                             # values -> Chebyshev coefficients
#: Most pieces a CDF table may hold (~40 MiB); beyond it the CDF is integrated point by point.
_MAX_TABLE_PIECES = 200_000


class _CdfTable:
    """G(u) = ∫_0^u e^{-t^β − κ(t) sin²(a t)} dt on [0, u_max] (κ(t) = κ0 on the central half-period when given):
    per piece the antiderivative of the degree-23 Chebyshev interpolant (pieces as in the quadrature), anchored at
    the running sum of the piece integrals."""

    def __init__(self, beta: float, kappa: float, a: float, u_max: float, kappa0: float | None = None,
                 alpha: float = 2.0) -> None:
        edges = _edges(0.0, u_max, beta, max(kappa, kappa0 or 0.0), a, None, False, True, alpha=alpha)
        central = 0.5 * math.pi / a
        if kappa0 is not None and central < u_max:
            edges = np.unique(np.concatenate([edges, [central]]))
        lo, hi = edges[:-1], edges[1:]
        half = 0.5 * (hi - lo)
        f = np.empty((lo.size, _NC))
        per = max(1, _CHUNK // _NC)
        for i in range(0, lo.size, per):
            mid = 0.5 * (lo[i:i + per] + hi[i:i + per])
            u = mid[:, None] + half[i:i + per, None] * _CT[None, :]
            k = kappa if kappa0 is None else np.where(mid < central, kappa0, kappa)[:, None]
            sa = np.abs(np.sin(a * u))
            f[i:i + per] = np.exp(-np.power(u, beta) - k * (sa * sa if alpha == 2.0 else np.power(sa, alpha)))
        coef = np.sum(f[:, None, :] * _CM[None], axis=2)                                  # (P, NC)
        anti = np.polynomial.chebyshev.chebint(coef, lbnd=-1.0, axis=1) * half[:, None]  # (P, NC+1)
        piece = np.polynomial.chebyshev.chebval(1.0, anti.T)                             # integral per piece
        self.lo, self.hi, self.half, self.anti_t = lo, hi, half, np.ascontiguousarray(anti.T)
        self.start = np.concatenate([[0.0], np.cumsum(piece)[:-1]])
        self.end = self.start + piece
        self.u_max = float(u_max)

    def __call__(self, u: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(self.hi, u, side="left"), 0, self.lo.size - 1)
        x = np.clip((u - self.lo[idx]) / self.half[idx] - 1.0, -1.0, 1.0)
        c = self.anti_t[:, idx]                                                          # (NC+1, n)
        x2 = 2.0 * x
        b1, b2 = c[-1].copy(), np.zeros_like(x)
        for j in range(c.shape[0] - 2, 0, -1):                                           # Clenshaw
            t = x2 * b1
            t -= b2
            t += c[j]
            b1, b2 = t, b1
        val = x * b1
        val -= b2
        val += c[0]
        start = self.start[idx]
        return np.clip(start + np.maximum(val, 0.0), start, self.end[idx])


# ---------------------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------------------
def _omega_array(omega: Any) -> np.ndarray:
    return validation.positive("omega", omega)


def _w64(w: Any) -> np.ndarray:
    return np.asarray(w, dtype=np.float64)


def _check_param(name: str, value: Any, lo: float = 0.0, hi: float = math.inf, *, closed_lo: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a real number, got {value!r}") from None
    ok = math.isfinite(v) and (v >= lo if closed_lo else v > lo) and v < hi
    if not ok:
        rng = f"{'[' if closed_lo else '('}{lo:g}, {hi:g})"
        raise ValueError(f"{name} = {value!r} is outside {rng}; pass a finite value in that range")
    return v


#: Admissible ranges of the law parameters: (low, high, low included?).
_POSITIVE = (0.0, math.inf, False)
_SHAPE = (0.0, 1e3, False)
_SHARPNESS = (0.0, 1e8, True)
_FRACTION = (0.0, 1.0, True)


class _LawMixin:
    """The parts of the law interface every law of this module shares. ``_BOUNDS`` lists a law's fitted
    parameters in order with their ranges: it gives ``params`` and the checks made on construction."""

    name: str
    omega0: float | None
    is_symmetric = True
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {}

    @property
    def n_params(self) -> int:
        """The number of fitted parameters (ω0 is given, not fitted)."""
        return len(self._BOUNDS)

    def __post_init__(self) -> None:
        checks = dict(self._BOUNDS)
        if "omega0" in getattr(self, "__dataclass_fields__", {}):
            checks["omega0"] = _POSITIVE          # the frequency a law with a penalty was fitted at
        for nm, (lo, hi, closed_lo) in checks.items():
            object.__setattr__(self, nm, _check_param(nm, getattr(self, nm), lo, hi, closed_lo=closed_lo))

    @property
    def params(self) -> dict[str, float]:
        return {nm: float(getattr(self, nm)) for nm in self._BOUNDS}

    def pdf(self, w: Any) -> np.ndarray:
        return np.exp(self.logpdf(w))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly {"name", "params", "omega0"}; :func:`law_from_dict` rebuilds the law exactly."""
        return {"name": self.name, "params": {k: float(v) for k, v in self.params.items()},
                "omega0": None if self.omega0 is None else float(self.omega0)}

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = 2 E sin²(t w/2) (no cancellation at small t)."""
        t = np.abs(validation.as_float_array("t", t))
        out = np.zeros(t.shape)
        nz = t > 0
        if np.any(nz):
            out[nz] = 2.0 * np.asarray(self.expected_sin2(0.5 * t[nz]))
        return out

    def characteristic_function(self, t: Any) -> np.ndarray:
        """φ(t) = E cos(t w) = 1 − 2 E sin²(t w/2) (accurate to ~1e-15 absolute)."""
        return 1.0 - self.one_minus_cf(t)


class _TableCdf:
    """CDF of e^{-|w/s|^β − κ sin²(ω0 w)} (GenNorm: κ = 0) from a piecewise-Chebyshev table of
    G(u) = ∫_0^u e^{-t^β − κ sin²(a t)} dt (:class:`_CdfTable`): F(w) = ½ ± G(|w|/s)/(2I); monotone, ~1e-15
    absolute (tails are not resolved relative to their own size)."""

    s: float
    beta: float

    def _kappa_a(self) -> tuple[float, float]:  # pragma: no cover - overridden
        raise NotImplementedError

    def _kappa0(self) -> float | None:
        return None

    def _alpha(self) -> float:
        return 2.0

    def _total(self) -> float:  # pragma: no cover - overridden
        raise NotImplementedError

    @cached_property
    def _tables(self) -> list:
        return []

    @cached_property
    def _u_cut(self) -> float:
        return _u_end(self.beta, ("1",))

    def _table(self, u_need: float) -> _CdfTable:
        """The table on [0, u_max], u_max the power of 2 above u_need (or the cut-off, or the largest power of 2
        within the piece budget). Powers of 2 are always piece edges, so a larger table has the same pieces on
        the smaller one's range: the CDF does not depend on which points were asked for before."""
        kappa, a = self._kappa_a()
        u_max = min(self._u_cut, 2.0 ** math.ceil(math.log2(max(u_need, 1.0))))
        per_unit = a / math.pi * (2 * _PEAK_T.size + 2) if kappa > 0 else 0.0
        if u_max * per_unit > _MAX_TABLE_PIECES:
            u_max = 2.0 ** math.floor(math.log2(max(_MAX_TABLE_PIECES / per_unit, 2.0)))
        tabs = self._tables
        if not tabs or tabs[-1].u_max < u_max:
            tabs[:] = [_CdfTable(self.beta, kappa, a, u_max, self._kappa0(), self._alpha())]
        return tabs[-1]

    def cdf(self, w: Any) -> np.ndarray:
        w = _w64(w)
        u = np.minimum(np.abs(w) / self.s, self._u_cut)
        flat = u.ravel()
        umax = float(flat.max()) if flat.size else 0.0
        tabs = self._tables
        table = tabs[-1] if tabs and tabs[-1].u_max >= umax else self._table(umax)
        if flat.size <= _CHUNK:
            G = table(flat)
        else:
            G = np.empty(flat.shape)
            for i in range(0, flat.size, _CHUNK):
                G[i:i + _CHUNK] = table(flat[i:i + _CHUNK])
        if umax > table.u_max:
            kappa, a = self._kappa_a()
        for i in np.flatnonzero(flat > table.u_max):   # beyond the piece budget (millions of peaks): one by one
            G[i] = self._total() - float(_direct(float(flat[i]), self._u_cut, self.beta, kappa, a, None, ("one",),
                                                 ("1",), grade=False, alpha=self._alpha())[0, 0])
        half = np.minimum(G.reshape(u.shape) / (2.0 * self._total()), 0.5)
        return np.where(w < 0, 0.5 - half, 0.5 + half)


# ---------------------------------------------------------------------------------------------------------
# Laplace and Gaussian with the full law interface
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LaplaceLaw(Laplace, _LawMixin):
    r"""Laplace(0, b) of :mod:`biper_analysis.laws.priors` with the law interface: pdf :math:`e^{-|w|/b}/(2b)`.

    >>> LaplaceLaw(0.05).params, LaplaceLaw(0.05).n_params
    ({'b': 0.05}, 1)
    """

    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    omega0 = None
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"b": _POSITIVE}


@dataclass(frozen=True)
class GaussianLaw(Gaussian, _LawMixin):
    r"""N(0, σ²) of :mod:`biper_analysis.laws.priors` with the law interface: pdf :math:`e^{-w^2/(2σ^2)}/(σ\sqrt{2π})`.

    >>> GaussianLaw(0.1).params
    {'sigma': 0.1}
    """

    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    omega0 = None
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"sigma": _POSITIVE}


# ---------------------------------------------------------------------------------------------------------
# Generalised Gaussian (exponential power)
# ---------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class GenNorm(_TableCdf, _LawMixin):
    r"""Generalised Gaussian: pdf :math:`\frac{\beta}{2s\Gamma(1/\beta)} e^{-|w/s|^\beta}` (scipy.stats.gennorm
    with loc 0, scale s); β = 1 is Laplace(0, s), β = 2 is N(0, s²/2).

    E sin²(ωw), E|sin(ωw)|: the quadrature of :func:`_half_line` with κ = 0 (module docstring).

    >>> g = GenNorm(0.05, 1.0)
    >>> f"{g.expected_sin2(20.0):.14f}", f"{g.expected_abs_sin(20.0):.14f}"
    ('0.40000000000000', '0.54516570536368')
    """

    s: float
    beta: float
    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    name = "gennorm"
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"s": _POSITIVE, "beta": _SHAPE}
    omega0 = None

    @property
    def scale(self) -> float:
        return self.s

    def logpdf(self, w: Any) -> np.ndarray:
        u = np.abs(_w64(w)) / self.s
        return (math.log(self.beta / (2.0 * self.s)) - float(special.gammaln(1.0 / self.beta))) - np.power(u, self.beta)

    def _kappa_a(self) -> tuple[float, float]:
        return 0.0, 1.0

    def _total(self) -> float:
        return math.gamma(1.0 + 1.0 / self.beta)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """|w|/s = G^{1/β}, G ~ Gamma(1/β), with a random sign."""
        mag = self.s * rng.gamma(1.0 / self.beta, size=size) ** (1.0 / self.beta)
        return np.where(rng.random(size) < 0.5, -mag, mag)

    def variance(self) -> float:
        return self.s * self.s * math.exp(special.gammaln(3.0 / self.beta) - special.gammaln(1.0 / self.beta))

    def _moments(self, omega: Any) -> tuple[np.ndarray, np.ndarray]:
        om = _omega_array(omega)
        e2, e1 = np.empty(om.shape), np.empty(om.shape)
        for i, o in np.ndenumerate(om):
            ints = _half_line(self.beta, 0.0, None, float(o) * self.s, _KINDS, ("1",))[:, 0]
            e2[i], e1[i] = ints[1] / ints[0], ints[2] / ints[0]
        return e2, e1

    def expected_sin2(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[0], omega)

    def expected_abs_sin(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[1], omega)


# ---------------------------------------------------------------------------------------------------------
# Exponential power times the Gibbs factor of the sin² penalty
# ---------------------------------------------------------------------------------------------------------
class _PenalisedBase(_TableCdf, _LawMixin):
    """exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α)/Z with κ(w) = κ0 on the central half-period |ω0 w| < π/2 when
    :meth:`_kappa0` is not None (else κ everywhere) and α = :meth:`_alpha` (2: the sin² penalty itself):
    everything but the parameters is shared."""

    s: float
    beta: float
    kappa: float
    omega0: float

    @property
    def scale(self) -> float:
        return self.s

    @property
    def _a(self) -> float:
        return self.omega0 * self.s

    def _ints(self, b: float | None, kinds: Sequence[str], mults: Sequence[str]) -> np.ndarray:
        k0 = self._kappa0()
        a = self._a if (self.kappa > 0 or k0 is not None) else None
        return _half_line(self.beta, self.kappa, a, b, kinds, mults, kappa0=k0, alpha=self._alpha())

    @cached_property
    def _integral(self) -> float:
        """I = ∫_0^∞ e^{-u^β − κ(u) sin²(a u)} du (Z = 2 s I)."""
        return float(self._ints(None, ("one",), ("1",))[0, 0])

    def normaliser(self) -> float:
        """Z = ∫ exp(−|w/s|^β − κ(w) sin²(ω0 w)) dw over the real line."""
        return 2.0 * self.s * self._integral

    def _kappa_of(self, w: np.ndarray) -> Any:
        k0 = self._kappa0()
        if k0 is None:
            return self.kappa
        return np.where(np.abs(self.omega0 * w) < 0.5 * math.pi, k0, self.kappa)

    def _penalty(self, w: np.ndarray) -> np.ndarray:
        """κ(w)|sin(ω0 w)|^α."""
        sn = np.sin(self.omega0 * w)
        alpha = self._alpha()
        return self._kappa_of(w) * (sn * sn if alpha == 2.0 else np.power(np.abs(sn), alpha))

    def logpdf(self, w: Any) -> np.ndarray:
        w = _w64(w)
        return -np.power(np.abs(w) / self.s, self.beta) - self._penalty(w) - math.log(self.normaliser())

    def _kappa_a(self) -> tuple[float, float]:
        return self.kappa, self._a

    def _total(self) -> float:
        return self._integral

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Rejection from GenNorm(s, β): accept w with probability exp(−κ(w)|sin(ω0 w)|^α)."""
        env = GenNorm(self.s, self.beta)
        accept = self._integral / math.gamma(1.0 + 1.0 / self.beta)
        out: list[np.ndarray] = []
        got = 0
        while got < size:
            m = int(min(1 << 22, max(1024, 1.2 * (size - got) / accept + 64)))
            w = env.sample(rng, m)
            keep = w[rng.random(m) < np.exp(-self._penalty(w))]
            out.append(keep)
            got += keep.size
        return np.concatenate(out)[:size]

    def variance(self) -> float:
        ints = self._ints(None, ("one",), ("1", "u2"))[0]
        return self.s * self.s * float(ints[1] / ints[0])

    def _moments(self, omega: Any) -> tuple[np.ndarray, np.ndarray]:
        om = _omega_array(omega)
        e2, e1 = np.empty(om.shape), np.empty(om.shape)
        for i, o in np.ndenumerate(om):
            ints = self._ints(float(o) * self.s, _KINDS, ("1",))[:, 0]
            e2[i], e1[i] = ints[1] / ints[0], ints[2] / ints[0]
        return e2, e1

    def expected_sin2(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[0], omega)

    def expected_abs_sin(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[1], omega)


@dataclass(frozen=True)
class Penalised(_PenalisedBase):
    r"""p(w) = exp(−|w/s|^β − κ sin²(ω0 w)) / Z: the stationary law of a weight under the exponential-power
    prior and BiPer's penalty τ·sin²(ω0 w) (official repo, ``cifar10/main.py``, ``loss_reg``), κ ≥ 0.

    Z = 2s·I, I = ∫_0^∞ e^{-u^β − κ sin²(a u)} du with a = ω0 s; E sin²(ωw) and E|sin(ωw)| are ratios of such
    integrals (module docstring, "Numerics"). κ = 0 is :class:`GenNorm`.

    >>> p = Penalised(0.05, 1.3, 8.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}", f"{p.normaliser():.12f}"
    ('0.056678495532', '0.188256373600', '0.029158827472')
    """

    s: float
    beta: float
    kappa: float
    omega0: float
    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    name = "penalised"
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"s": _POSITIVE, "beta": _SHAPE, "kappa": _SHARPNESS}


@dataclass(frozen=True)
class Penalised2(_PenalisedBase):
    r"""p(w) ∝ exp(−|w/s|^β − κ(w) sin²(ω0 w)) with κ(w) = κ0 on the central period |ω0 w| < π/2 and κ elsewhere:
    :class:`Penalised` with its own sharpness for the k = 0 peak (4 parameters s, β, κ0, κ).

    In trained first-stage layers the central peak is about twice as sharp as the k = ±1 peaks (plausibly weight
    decay, which pulls the outer peaks inwards and widens them); one κ for all peaks under-predicts QE_min there
    (our ResNet-20 run: ~10 % after stage 1, ~28 % after stage 2; the official long run: 33–40 %).
    I = ∫_0^{π/(2a)} e^{-u^β − κ0 sin²(au)} du + ∫_{π/(2a)}^∞ e^{-u^β − κ sin²(au)} du, both by :func:`_half_line`.

    >>> p = Penalised2(0.12, 1.8, 6.0, 3.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.146995876611', '0.300731224459')
    """

    s: float
    beta: float
    kappa0: float
    kappa: float
    omega0: float
    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    name = "penalised2"
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"s": _POSITIVE, "beta": _SHAPE, "kappa0": _SHARPNESS,
                                                                 "kappa": _SHARPNESS}

    def _kappa0(self) -> float | None:
        return self.kappa0


@dataclass(frozen=True)
class PenalisedAlpha(_PenalisedBase):
    r"""p(w) ∝ exp(−|w/s|^β − κ(w)|sin(ω0 w)|^α), κ(w) = κ0 on the central period |ω0 w| < π/2 and κ elsewhere:
    :class:`Penalised2` with a free peak shape α > 0 (5 parameters s, β, κ0, κ, α). α = 2 is the Gibbs factor of
    the sin² penalty (Gaussian-like peaks, light tails); α = 1 gives peaks e^{-κ|θ|} near each zero, i.e.
    Laplace-shaped, with heavier tails; the fitted α sets how much mass lies between the peaks, which is what
    QE_min = Var|sin(ω0 w)| is most sensitive to. The cusp |θ|^α at each peak centre is resolved by geometric
    grading of the quadrature pieces.

    >>> p = PenalisedAlpha(0.12, 1.8, 6.0, 3.0, 1.0, 20.0)
    >>> f"{p.expected_sin2(20.0):.12f}", f"{p.expected_abs_sin(20.0):.12f}"
    ('0.145879602652', '0.273053892265')
    """

    s: float
    beta: float
    kappa0: float
    kappa: float
    alpha: float
    omega0: float
    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    name = "penalised-alpha"
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"s": _POSITIVE, "beta": _SHAPE, "kappa0": _SHARPNESS,
                                                                 "kappa": _SHARPNESS, "alpha": _SHAPE}

    def _kappa0(self) -> float | None:
        return self.kappa0

    def _alpha(self) -> float:
        return self.alpha


# ---------------------------------------------------------------------------------------------------------
# Comb: Laplace peaks at the zeros kπ/ω0 of sin(ω0 w) under a Gaussian envelope, plus a broad Laplace
# ---------------------------------------------------------------------------------------------------------
#: Peaks whose envelope weight is below this fraction of the central one are not part of the law.
_COMB_CUT = 1e-20
#: Neighbouring peaks summed per weight: all within this many Laplace scales (e^{-40} ≈ 4e-18).
_COMB_REACH = 40.0
_COMB_MAX_K = 5000


def _peak_weights(sigma: float, omega0: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices k = −K..K and weights π_k ∝ exp(−(kπ/ω0)²/(2σ²)) normalised over |k| <= K (π_K >= 1e-20 π_0)."""
    spacing = math.pi / omega0
    K = int(min(_COMB_MAX_K, math.floor(min(sigma / spacing, 1e9) * math.sqrt(2.0 * math.log(1.0 / _COMB_CUT)))))
    k = np.arange(-K, K + 1)
    logw = -0.5 * (k * spacing / sigma) ** 2
    p = np.exp(logw - logw.max())
    return k, p / p.sum()


def _abs_sin_shifted(phi: np.ndarray, x: np.ndarray) -> np.ndarray:
    r"""E|sin(φ + Z)|, Z ~ Laplace(0, x), φ ∈ [0, π]: [x(e^{-φ/x} + e^{-(π-φ)/x})/(1 − e^{-π/x}) + sin φ]/(1 + x²).

    Derived by summing the half-period integrals of |sin| against e^{-|z|/x} as a geometric series; φ = 0 gives
    the paper's x·coth(π/(2x))/(1 + x²). Every term is non-negative (no cancellation).
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        r = np.where(x > 0, (np.exp(-phi / x) + np.exp(-(math.pi - phi) / x)) / -np.expm1(-math.pi / x), 0.0)
    return (x * r + np.sin(phi)) / (1.0 + x * x)


@dataclass(frozen=True)
class Comb(_LawMixin):
    r"""Mixture (1−ε)·Σ_k π_k·Laplace(kπ/ω0, d_k) + ε·Laplace(0, b): narrow Laplace peaks at the zeros of
    sin(ω0 w), weighted by a Gaussian envelope π_k ∝ exp(−(kπ/ω0)²/(2σ²)), with d_0 = ``d0`` for the central
    peak and d_k = ``d1`` for |k| >= 1, plus a broad Laplace background of weight ε. Five parameters
    (σ, d0, d1, ε, b), at a given ω0; peaks with π_k < 1e-20 π_0 are not part of the law.

    Moments are closed forms (one per peak): with φ_k = ω·kπ/ω0 mod π and x = ω d_k,
    E sin²(ω(c_k + X)) = 2x²/(1+4x²) + sin²φ_k/(1+4x²) and E|sin| from :func:`_abs_sin_shifted`; at ω = ω0 every
    φ_k = 0 and these are the paper's Laplace forms (:mod:`biper_analysis.theory.analytic`).

    >>> c = Comb(sigma=0.1, d0=0.002, d1=0.005, eps=0.0, b=0.1, omega0=20.0)
    >>> f"{c.expected_sin2(20.0):.12f}", f"{c.expected_abs_sin(20.0):.12f}"
    ('0.009178966063', '0.062015707767')
    """

    sigma: float
    d0: float
    d1: float
    eps: float
    b: float
    omega0: float
    fit_info: dict = field(default_factory=dict, compare=False, repr=False)
    name = "comb"
    _BOUNDS: ClassVar[dict[str, tuple[float, float, bool]]] = {"sigma": _POSITIVE, "d0": _POSITIVE, "d1": _POSITIVE,
                                                                 "eps": _FRACTION, "b": _POSITIVE}

    @property
    def scale(self) -> float:
        return self.sigma

    @cached_property
    def _peaks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, p = _peak_weights(self.sigma, self.omega0)
        return k, p, np.where(k == 0, self.d0, self.d1)

    @cached_property
    def _padded(self) -> tuple[int, int, np.ndarray, np.ndarray]:
        """(K, reach, log-weight and 1/d per peak index padded by ``reach`` on both sides with −inf / 1)."""
        k, p, d = self._peaks
        K = (k.size - 1) // 2
        spacing = math.pi / self.omega0
        reach = min(int(math.ceil(_COMB_REACH * max(self.d0, self.d1) / spacing)) + 1, 2 * K)
        lp = np.full(k.size + 2 * reach, -np.inf)
        with np.errstate(divide="ignore"):
            lp[reach:reach + k.size] = np.log(p) + math.log1p(-self.eps) - np.log(2.0 * d)
        invd = np.ones(k.size + 2 * reach)
        invd[reach:reach + k.size] = 1.0 / d
        return K, reach, lp, invd

    def _component_logs(self, w: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """log of each near peak's weighted density at w (peaks k0−reach..k0+reach, k0 the nearest), the
        background's, and k0."""
        K, reach, lp, invd = self._padded
        spacing = math.pi / self.omega0
        k0 = np.rint(w * (1.0 / spacing))
        np.clip(k0, -K, K, out=k0)
        rho = w - k0 * spacing
        base = k0.astype(np.intp) + (K + reach)
        terms = []
        for j in range(-reach, reach + 1):
            idx = base + j
            terms.append(lp[idx] - np.abs(rho - j * spacing) * invd[idx])
        if self.eps > 0:
            bg = (math.log(self.eps) - math.log(2.0 * self.b)) - np.abs(w) * (1.0 / self.b)
        else:
            bg = np.full(w.shape, -np.inf)
        return terms, bg, k0

    @cached_property
    def _sides(self) -> tuple[np.ndarray, np.ndarray]:
        """log A_k = log Σ_{j<=k, j≠0} π_j e^{-(c_k − c_j)/d1} and log B_k = log Σ_{j>=k, j≠0} π_j e^{-(c_j − c_k)/d1}
        (padded with −inf: index 0 of A is k = −K−1, the last of B is k = K+1)."""
        k, p, _ = self._peaks
        step = (math.pi / self.omega0) / self.d1
        with np.errstate(divide="ignore"):
            lp = np.where(k == 0, -np.inf, np.log(p))
        A = np.full(k.size + 1, -np.inf)
        B = np.full(k.size + 1, -np.inf)
        acc = -math.inf
        for i in range(k.size):
            acc = float(np.logaddexp(acc - step, lp[i]))
            A[i + 1] = acc
        acc = -math.inf
        for i in range(k.size - 1, -1, -1):
            acc = float(np.logaddexp(acc - step, lp[i]))
            B[i] = acc
        return A, B

    def logpdf(self, w: Any) -> np.ndarray:
        """Exact: the peaks left of w sum to A_k e^{-(w − c_k)/d1}, those right of it to B_{k+1} e^{-(c_{k+1} − w)/d1}
        (c_k <= w < c_{k+1}), plus the central peak and the background; combined by log-sum-exp."""
        w = _w64(w)
        K = (self._peaks[0].size - 1) // 2
        A, B = self._sides
        spacing = math.pi / self.omega0
        c_side = math.log1p(-self.eps) - math.log(2.0 * self.d1) if self.eps < 1 else -math.inf
        c_mid = math.log1p(-self.eps) + math.log(self._peaks[1][K]) - math.log(2.0 * self.d0)
        c_bg = math.log(self.eps) - math.log(2.0 * self.b) if self.eps > 0 else -math.inf
        out = np.empty(w.shape)
        flat, res = w.ravel(), out.ravel()
        for i in range(0, flat.size, _CHUNK):
            x = flat[i:i + _CHUNK]
            kf = np.floor(x * (1.0 / spacing))
            kl = np.clip(kf, -K - 1, K)
            kr = np.clip(kf + 1.0, -K, K + 1)
            il, ir = (kl + (K + 1)).astype(np.intp), (kr + K).astype(np.intp)
            t_left = A[il] + (c_side - np.abs(x - kl * spacing) * (1.0 / self.d1))
            t_right = B[ir] + (c_side - np.abs(kr * spacing - x) * (1.0 / self.d1))
            ax = np.abs(x)
            t_mid = c_mid - ax * (1.0 / self.d0)
            t_bg = c_bg - ax * (1.0 / self.b)
            m = np.maximum(np.maximum(t_left, t_right), np.maximum(t_mid, t_bg))
            acc = np.exp(t_left - m)
            acc += np.exp(t_right - m)
            acc += np.exp(t_mid - m)
            acc += np.exp(t_bg - m)
            res[i:i + _CHUNK] = m + np.log(acc)
        return out

    def _logpdf_neighbours(self, w: np.ndarray) -> np.ndarray:
        """log pdf from the near peaks only (the E-step's form); equals :meth:`logpdf` to ~1e-16."""
        terms, bg, _ = self._component_logs(w)
        m = bg
        for t in terms:
            m = np.maximum(m, t)
        acc = np.exp(bg - m)
        for t in terms:
            acc += np.exp(t - m)
        return m + np.log(acc)

    def cdf(self, w: Any) -> np.ndarray:
        """Σ of the component Laplace CDFs in a fixed order (monotone), each tail without cancellation."""
        w = _w64(w)
        k, p, d = self._peaks
        spacing = math.pi / self.omega0
        out = np.empty(w.shape)
        flat, res = w.ravel(), out.ravel()
        for i in range(0, flat.size, max(1, _CHUNK // max(1, k.size))):
            x = flat[i:i + max(1, _CHUNK // max(1, k.size))]
            z = (x[:, None] - k[None, :] * spacing) / d[None, :]
            half = 0.5 * np.exp(-np.abs(z))
            peaks = np.sum(p[None, :] * np.where(z < 0, half, 1.0 - half), axis=1)
            hb = 0.5 * np.exp(-np.abs(x) / self.b)
            res[i:i + x.size] = (1.0 - self.eps) * peaks + self.eps * np.where(x < 0, hb, 1.0 - hb)
        return out

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Component first (background with probability ε, else peak k with probability π_k), then Laplace."""
        k, p, d = self._peaks
        bg = rng.random(size) < self.eps
        pick = rng.choice(k.size, size=size, p=p)
        noise = rng.laplace(0.0, 1.0, size=size)
        peak = k[pick] * (math.pi / self.omega0) + d[pick] * noise
        return np.where(bg, self.b * noise, peak)

    def variance(self) -> float:
        k, p, d = self._peaks
        peaks = float(np.sum(p * ((k * math.pi / self.omega0) ** 2 + 2.0 * d * d)))
        return (1.0 - self.eps) * peaks + self.eps * 2.0 * self.b * self.b

    def _moments(self, omega: Any) -> tuple[np.ndarray, np.ndarray]:
        om = _omega_array(omega)
        k, p, d = self._peaks
        e2, e1 = np.empty(om.shape), np.empty(om.shape)
        for i, o in np.ndenumerate(om):
            o = float(o)
            frac = np.mod(k * (o / self.omega0), 1.0)               # φ_k/π, exactly 0 at ω = ω0
            phi = math.pi * frac
            x = o * d
            inv = 1.0 / (1.0 + 4.0 * x * x)
            s2 = 2.0 * x * x * inv + np.sin(phi) ** 2 * inv
            a1 = _abs_sin_shifted(phi, x)
            xb = o * self.b
            e2[i] = (1.0 - self.eps) * float(np.sum(p * s2)) + self.eps * float(analytic.e_sin2_of_x(xb))
            e1[i] = (1.0 - self.eps) * float(np.sum(p * a1)) + self.eps * float(analytic.e_abs_sin_of_x(xb))
        return e2, e1

    def expected_sin2(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[0], omega)

    def expected_abs_sin(self, omega: Any) -> float | np.ndarray:
        return validation.scalar_or_array(self._moments(omega)[1], omega)

    def one_minus_cf(self, t: Any) -> np.ndarray:
        """1 − φ(t) = (1−ε)Σπ_k (u_k² + 2 sin²(t c_k/2))/(1 + u_k²) + ε u_b²/(1 + u_b²), u = scale·t."""
        t = validation.as_float_array("t", t)
        k, p, d = self._peaks
        c = k * (math.pi / self.omega0)
        tt = t.reshape(-1, 1)
        u2 = (tt * d[None, :]) ** 2
        peaks = np.sum(p[None, :] * (u2 + 2.0 * np.sin(0.5 * tt * c[None, :]) ** 2) / (1.0 + u2), axis=1)
        ub2 = (t.ravel() * self.b) ** 2
        return ((1.0 - self.eps) * peaks + self.eps * ub2 / (1.0 + ub2)).reshape(t.shape)


# ---------------------------------------------------------------------------------------------------------
# Maximum likelihood
# ---------------------------------------------------------------------------------------------------------
#: Every law :func:`fit_law` knows, from the paper's model to the most flexible.
MODELS = ("laplace", "gaussian", "gennorm", "penalised", "penalised2", "penalised-alpha", "comb")
#: L-BFGS-B stopping rules of the iterative fits (tight: the fits are cheap next to the quadrature in each step).
_FTOL, _GTOL = 1e-14, 1e-9
_NEEDS_OMEGA0 = ("penalised", "penalised2", "penalised-alpha", "comb")
_BETA_BOUNDS = (0.2, 10.0)
_KAPPA_MAX = 1e4
_ALPHA_BOUNDS = (0.25, 8.0)


def _clean_weights(weights: Any) -> np.ndarray:
    """Flattened weights (float32 kept as is); ValueError naming the problem and the fix."""
    try:
        w = np.asarray(weights)
    except Exception:  # anything numpy cannot read
        raise ValueError("weights must be an array of real numbers; pass a numpy array of one layer's weights") \
            from None
    if w.dtype.kind not in "fiu":
        raise ValueError(f"weights must be real numbers, got dtype {w.dtype}; pass a float array")
    w = w.ravel()
    if w.size == 0:
        raise ValueError("weights is empty; pass at least one weight (a non-empty layer)")
    if w.dtype.kind == "f":
        bad = ~np.isfinite(w)
        if bad.any():
            raise ValueError(f"weights contain {int(bad.sum())} non-finite value(s) (NaN/inf); drop them first, "
                             "e.g. w[np.isfinite(w)]")
    return w


def _subsample(w: np.ndarray, max_samples: int, seed: int) -> np.ndarray:
    """A seeded subsample without replacement (all weights when there are at most ``max_samples``), float64."""
    if w.size <= max_samples:
        return w.astype(np.float64)
    idx = np.sort(np.random.default_rng(seed).choice(w.size, size=max_samples, replace=False))
    return w[idx].astype(np.float64)


def _fit_gennorm(w: np.ndarray) -> tuple[GenNorm, dict[str, Any]]:
    """Profile likelihood: for fixed β the MLE of s is (β·mean|w|^β)^{1/β}; β by bounded Brent on log β."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    shift = float(np.max(la))

    def s_hat(beta: float) -> float:
        m = float(np.sum(np.exp(beta * (la - shift)))) / n
        return math.exp(shift + math.log(beta * m) / beta)

    def nll(lb: float) -> float:
        beta = math.exp(lb)
        return -(math.log(beta / 2.0) - math.log(s_hat(beta)) - float(special.gammaln(1.0 / beta)) - 1.0 / beta)

    res = optimize.minimize_scalar(nll, bounds=tuple(math.log(b) for b in _BETA_BOUNDS), method="bounded",
                                   options={"xatol": 1e-10, "maxiter": 200})
    beta = math.exp(float(res.x))
    return GenNorm(s_hat(beta), beta), {"n_fit": n, "converged": bool(res.success), "iterations": int(res.nfev),
                                        "method": "profile likelihood in beta (bounded Brent)"}


def _penalised_objective(w: np.ndarray, omega0: float):
    """−ℓ/n and its gradient in x = (log s, log β, κ) (exponential family: the gradient is a moment difference)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    s2 = float(np.mean(np.sin(omega0 * w) ** 2))

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta, kappa = math.exp(x[0]), math.exp(x[1]), max(float(x[2]), 0.0)
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        a = omega0 * s
        ints = _half_line(beta, kappa, a, a, ("one", "sin2"), ("1", "ub", "ublog"))
        z = float(ints[0, 0])
        f = mv + kappa * s2 + math.log(2.0 * s * z)
        g = np.array([beta * (float(ints[0, 1]) / z - mv),
                      beta * (mvl - float(ints[0, 2]) / z),
                      s2 - float(ints[1, 0]) / z])
        return f, g

    return fun


def _projected_gradient(res: Any, bounds: list[tuple[float, float]]) -> float:
    """Largest gradient component that could still move x inside the box (0 at a constrained optimum)."""
    g = np.asarray(res.jac, dtype=np.float64)
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    g = np.where((res.x <= lo) & (g > 0), 0.0, g)
    g = np.where((res.x >= hi) & (g < 0), 0.0, g)
    return float(np.max(np.abs(g)))


def _fit_exp_power(w: np.ndarray, omega0: float, two: bool, gennorm: GenNorm | None = None
                   ) -> tuple[Any, dict[str, Any]]:
    """L-BFGS-B on (log s, log β, κ) (``two``: (log s, log β, κ0, κ)) from the GenNorm MLE at κ = 0, and again from
    κ = 10 when that run stalls or ends at κ = 0; the lower −ℓ wins (converged: L-BFGS-B's own test, or a
    projected gradient below 1e-7). ``gennorm``: that MLE on the same ``w`` when already known."""
    g = gennorm if gennorm is not None else _fit_gennorm(w)[0]
    fun = (_penalised2_objective if two else _penalised_objective)(w, omega0)
    m = weight_stats(w).b
    bounds = [(math.log(m * 1e-3), math.log(m * 1e3)), tuple(math.log(b) for b in _BETA_BOUNDS)] + \
        [(0.0, _KAPPA_MAX)] * (2 if two else 1)
    runs = []
    for kappa0 in (0.0, 10.0):
        x0 = np.array([math.log(g.s), math.log(g.beta)] + [kappa0] * (2 if two else 1))
        res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 500, "ftol": _FTOL, "gtol": _GTOL})
        ok = bool(res.success) or _projected_gradient(res, bounds) <= 1e-7
        runs.append((float(res.fun), not ok, len(runs), res, ok))
        if ok and np.max(res.x[2:]) > 1e-6:
            break
    lowest = min(r[0] for r in runs)
    tie = 1e-12 * max(1.0, abs(lowest))
    _, _, _, best, ok = min((r for r in runs if r[0] <= lowest + tie), key=lambda r: (r[1], r[0], r[2]))
    s, beta = math.exp(best.x[0]), math.exp(best.x[1])
    law = Penalised2(s, beta, float(best.x[2]), float(best.x[3]), omega0) if two else \
        Penalised(s, beta, float(best.x[2]), omega0)
    names = "(log s, log beta, kappa0, kappa)" if two else "(log s, log beta, kappa)"
    info = {"n_fit": w.size, "converged": ok, "iterations": int(sum(r[3].nit for r in runs)),
            "method": f"L-BFGS-B on {names} from the gennorm MLE at kappa = 0 (then 10 if needed)"}
    return law, info


def _penalised2_objective(w: np.ndarray, omega0: float):
    """−ℓ/n of :class:`Penalised2` and its gradient in x = (log s, log β, κ0, κ) (moment differences)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    sq = np.sin(omega0 * w) ** 2
    mid = np.abs(omega0 * w) < 0.5 * math.pi
    s0, s1 = float(np.sum(sq[mid])) / n, float(np.sum(sq[~mid])) / n

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta, k0, k1 = math.exp(x[0]), math.exp(x[1]), max(float(x[2]), 0.0), max(float(x[3]), 0.0)
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        a = omega0 * s
        parts: list = []
        ints = _half_line(beta, k1, a, a, ("one", "sin2"), ("1", "ub", "ublog"), kappa0=k0, central=parts)
        z = float(ints[0, 0])
        c2 = float(parts[0][1, 0])
        f = mv + k0 * s0 + k1 * s1 + math.log(2.0 * s * z)
        g = np.array([beta * (float(ints[0, 1]) / z - mv), beta * (mvl - float(ints[0, 2]) / z),
                      s0 - c2 / z, s1 - (float(ints[1, 0]) - c2) / z])
        return f, g

    return fun


def _alpha_objective(w: np.ndarray, omega0: float):
    """−ℓ/n of :class:`PenalisedAlpha` and its gradient in x = (log s, log β, κ0, κ, log α)."""
    aw = np.abs(w)
    pos = aw > 0
    la = np.log(aw[pos])
    n = w.size
    sa = np.abs(np.sin(omega0 * w))
    nz = sa > 0
    lsa = np.log(sa[nz])
    mid = (np.abs(omega0 * w) < 0.5 * math.pi)[nz]

    def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
        s, beta = math.exp(x[0]), math.exp(x[1])
        k0, k1, alpha = max(float(x[2]), 0.0), max(float(x[3]), 0.0), math.exp(x[4])
        lu = la - x[0]
        v = np.exp(beta * lu)
        mv, mvl = float(np.sum(v)) / n, float(np.sum(v * lu)) / n
        pa = np.exp(alpha * lsa)
        p0, p1 = float(np.sum(pa[mid])) / n, float(np.sum(pa[~mid])) / n
        pl = pa * lsa
        l0, l1 = float(np.sum(pl[mid])) / n, float(np.sum(pl[~mid])) / n
        a = omega0 * s
        parts: list = []
        ints = _half_line(beta, k1, a, a, ("one", "pa", "pal"), ("1", "ub", "ublog"), kappa0=k0, central=parts,
                          alpha=alpha)
        c = parts[0]
        z = float(ints[0, 0])
        e_pa0, e_pa1 = float(c[1, 0]) / z, float(ints[1, 0] - c[1, 0]) / z
        e_pl = (k0 * float(c[2, 0]) + k1 * float(ints[2, 0] - c[2, 0])) / z
        f = mv + k0 * p0 + k1 * p1 + math.log(2.0 * s * z)
        g = np.array([beta * (float(ints[0, 1]) / z - mv), beta * (mvl - float(ints[0, 2]) / z),
                      p0 - e_pa0, p1 - e_pa1, alpha * ((k0 * l0 + k1 * l1) - e_pl)])
        return f, g

    return fun


def _fit_alpha(w: np.ndarray, omega0: float, start: tuple[Any, dict[str, Any]] | None = None
               ) -> tuple[PenalisedAlpha, dict[str, Any]]:
    """L-BFGS-B on (log s, log β, κ0, κ, log α) from the :class:`Penalised2` MLE at α = 2 and at α = 1 (the
    same κs); the lower −ℓ wins. ``start``: that MLE (law, info) on the same ``w`` when already known."""
    p2, info2 = start if start is not None else _fit_exp_power(w, omega0, two=True)
    fun = _alpha_objective(w, omega0)
    m = weight_stats(w).b
    bounds = [(math.log(m * 1e-3), math.log(m * 1e3)), tuple(math.log(b) for b in _BETA_BOUNDS), (0.0, _KAPPA_MAX),
              (0.0, _KAPPA_MAX), tuple(math.log(b) for b in _ALPHA_BOUNDS)]
    runs = []
    for alpha0 in (2.0, 1.0):
        x0 = np.array([math.log(p2.s), math.log(p2.beta), p2.kappa0, p2.kappa, math.log(alpha0)])
        res = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 500, "ftol": _FTOL, "gtol": _GTOL})
        ok = bool(res.success) or _projected_gradient(res, bounds) <= 1e-7
        runs.append((float(res.fun), not ok, len(runs), res, ok))
    lowest = min(r[0] for r in runs)
    tie = 1e-12 * max(1.0, abs(lowest))
    _, _, _, best, ok = min((r for r in runs if r[0] <= lowest + tie), key=lambda r: (r[1], r[0], r[2]))
    x = best.x
    law = PenalisedAlpha(math.exp(x[0]), math.exp(x[1]), float(x[2]), float(x[3]), math.exp(x[4]), omega0)
    return law, {"n_fit": w.size, "converged": ok,
                 "iterations": int(info2["iterations"]) + int(sum(r[3].nit for r in runs)),
                 "method": "L-BFGS-B on (log s, log beta, kappa0, kappa, log alpha) from the penalised2 MLE at "
                           "alpha = 2 and alpha = 1"}


def _decay_sum(x: np.ndarray, q: float) -> np.ndarray:
    """y_j = x_j + q·y_{j−1} (the running sum of geometrically discounted terms), exactly by scipy's lfilter."""
    return signal.lfilter([1.0], [1.0, -q], x)


def _comb_estep(law: Comb, w: np.ndarray, aw: np.ndarray) -> tuple[float, dict[str, Any]]:
    """Mean log-likelihood and the expected sufficient statistics of the comb mixture, in O(n + K).

    With c_m <= w_i < c_{m+1} (m = m_i), a side peak j <= m sees e^{-(w_i − c_j)/d1} = e^{-(w_i − c_m)/d1} q^{m−j}
    (q = e^{-Δ/d1}), so its responsibility sums are discounted running sums over the per-interval sums
    S_m = Σ_{m_i = m} e^{-(w_i − c_m)/d1}/p_i and T_m = Σ (w_i − c_m) e^{...}/p_i (and the mirror images from the
    right). Exact: no peak is truncated.
    """
    k, p, _ = law._peaks
    K = (k.size - 1) // 2
    spacing = math.pi / law.omega0
    inv1 = 1.0 / law.d1
    lp = law.logpdf(w)
    n = w.size
    m = np.clip(np.floor(w * (1.0 / spacing)), -K - 1, K)
    idx = (m + (K + 1)).astype(np.intp)                   # interval index 0 .. 2K+1 (0: left of every peak)
    dl = w - m * spacing                                   # distance to the peak on the left (>= 0 inside)
    dr = (m + 1.0) * spacing - w                          # distance to the peak on the right
    with np.errstate(over="ignore"):
        el = np.exp(np.minimum(-dl * inv1 - lp, 700.0))
        er = np.exp(np.minimum(-dr * inv1 - lp, 700.0))
    nb = k.size + 1
    S = np.bincount(idx, weights=el, minlength=nb)
    T = np.bincount(idx, weights=dl * el, minlength=nb)
    Sp = np.bincount(idx, weights=er, minlength=nb)
    Tp = np.bincount(idx, weights=dr * er, minlength=nb)
    q = math.exp(-spacing * inv1)
    # right-hand sums R_j, Q_j for peaks j = −K..K (interval index j + K + 1 holds samples with c_j <= w < c_{j+1})
    R = _decay_sum(S[1:][::-1], q)[::-1]
    Rn = np.append(R[1:], 0.0)
    Qsrc = T[1:]
    Q = np.empty(k.size)
    acc = 0.0
    for j in range(k.size - 1, -1, -1):                   # Q_j = T_j + q (Q_{j+1} + Δ R_{j+1})
        acc = Qsrc[j] + q * (acc + spacing * Rn[j])
        Q[j] = acc
    # left-hand sums: samples with c_{j'} <= w < c_{j'+1}, j' <= j − 1, i.e. interval index <= j + K
    Lh = _decay_sum(Sp[:-1], q)
    Ln = np.concatenate([[0.0], Lh[:-1]])
    P = np.empty(k.size)
    acc = 0.0
    for j in range(k.size):                               # P_j = T'_{j−1} + q (P_{j−1} + Δ L_{j−1})
        acc = Tp[j] + q * (acc + spacing * Ln[j])
        P[j] = acc
    side = (1.0 - law.eps) * p / (2.0 * law.d1)
    N = side * (R + Lh)
    D = side * (Q + P)
    with np.errstate(over="ignore"):
        r0 = np.exp(np.minimum(math.log1p(-law.eps) + math.log(p[K]) - math.log(2.0 * law.d0) - aw / law.d0 - lp,
                               700.0))
        rb = np.exp(np.minimum(math.log(law.eps) - math.log(2.0 * law.b) - aw / law.b - lp, 700.0)) \
            if law.eps > 0 else np.zeros(n)
    N[K] = float(np.sum(r0))
    D[K] = float(np.sum(r0 * aw))
    return float(np.sum(lp)) / n, {"N": N, "D": D, "Nb": float(np.sum(rb)), "Db": float(np.sum(rb * aw)), "n": n}


def _comb_mstep(law: Comb, st: dict[str, Any]) -> tuple[float, float, float, float, float]:
    """Maximisers given the expected statistics: ε, b, d0, d1 in closed form, σ by a 1-D moment equation."""
    k, _, _ = law._peaks
    K = (k.size - 1) // 2
    spacing = math.pi / law.omega0
    N, D, n = st["N"], st["D"], st["n"]
    eps = min(max(st["Nb"] / n, 0.0), 1.0 - 1e-12)
    b = st["Db"] / st["Nb"] if st["Nb"] > 1e-9 * n else law.b
    d0 = D[K] / N[K] if N[K] > 1e-9 * n else law.d0
    n1 = float(np.sum(N)) - float(N[K])
    d1 = (float(np.sum(D)) - float(D[K])) / n1 if n1 > 1e-9 * n else law.d1
    sigma = _comb_sigma(N, k, spacing, law.sigma)
    tiny = 1e-9 * spacing
    return sigma, max(d0, tiny), max(d1, tiny), eps, max(b, tiny)


def _comb_sigma(Nk: np.ndarray, k: np.ndarray, spacing: float, sigma0: float) -> float:
    """M-step of the envelope: E_π(σ)[c²] = Σ N_k c_k² / Σ N_k (the lattice Gaussian's second moment), by Newton
    in log σ from the current σ (d E[c²]/d log σ = Var_π(c²)/σ²), with a bracketing fallback."""
    tot = float(np.sum(Nk))
    if not tot > 0:
        return sigma0
    target = float(np.sum(Nk * (k * spacing) ** 2)) / tot
    lo, top = math.log(0.05 * spacing), math.log(spacing * _COMB_MAX_K / 4.0)   # the envelope stops at |k| = 5000

    def moments(ls: float) -> tuple[float, float]:
        kk, pp = _peak_weights(math.exp(ls), math.pi / spacing)
        c2 = (kk * spacing) ** 2
        m2 = float(np.sum(pp * c2))
        return m2 - target, float(np.sum(pp * c2 * c2)) - m2 * m2

    if moments(lo)[0] >= 0:
        return math.exp(lo)
    ls = min(max(math.log(sigma0), lo), top)
    for _ in range(12):
        g, var = moments(ls)
        if abs(g) <= 1e-12 * target:
            return math.exp(ls)
        if var <= 0:
            break
        step = -g * math.exp(2.0 * ls) / var
        ls = min(max(ls + max(min(step, 1.0), -1.0), lo), top)
    hi = min(math.log(max(2.0 * math.sqrt(target), spacing)), top)
    while moments(hi)[0] < 0:
        if hi >= top:
            return math.exp(top)
        hi = min(hi + 0.5, top)
    return math.exp(optimize.brentq(lambda x: moments(x)[0], lo, hi, xtol=1e-13, rtol=1e-13))


def _to_x(t: Sequence[float]) -> np.ndarray:
    sigma, d0, d1, eps, b = t
    e = min(max(eps, 1e-12), 1.0 - 1e-12)
    return np.array([math.log(sigma), math.log(d0), math.log(d1), math.log(e / (1.0 - e)), math.log(b)])


def _from_x(x: np.ndarray, omega0: float) -> Comb:
    return Comb(math.exp(x[0]), math.exp(x[1]), math.exp(x[2]), 1.0 / (1.0 + math.exp(-x[3])), math.exp(x[4]),
                omega0)


def _fit_comb(w: np.ndarray, omega0: float, max_iter: int = 200, tol: float = 1e-3) -> tuple[Comb, dict[str, Any]]:
    """EM for the comb mixture (:class:`Comb`), accelerated by SQUAREM (Varadhan & Roland 2008, scheme S3) in
    the unconstrained coordinates (log σ, log d0, log d1, logit ε, log b); the E-step is exact and O(n).
    Converged when a cycle raises the total log-likelihood by less than ``tol`` (far below anything that moves an
    AIC), or by less than 100·tol while the predicted E sin² and E|sin| at ω0 move by less than 1e-7 relative: on
    broad, Laplace-like layers the central peak and the background become interchangeable and the likelihood
    creeps along that ridge for hundreds of cycles without changing the prediction."""
    spacing = math.pi / omega0
    aw = np.abs(w)
    kn = np.rint(w / spacing)
    off = np.abs(w - kn * spacing)
    near = off < 0.25 * spacing
    m_abs = float(np.mean(aw))
    d0 = float(np.mean(off[near & (kn == 0)])) if np.any(near & (kn == 0)) else 0.1 * spacing
    d1 = float(np.mean(off[near & (kn != 0)])) if np.any(near & (kn != 0)) else d0
    eps = min(0.9, max(0.02, 2.0 * float(np.mean(~near))))
    b = max(float(np.mean(aw[~near])) if np.any(~near) else m_abs, 1e-3 * m_abs)
    sigma = max(math.sqrt(float(np.mean((kn * spacing)[near] ** 2))) if np.any(near) else m_abs, 0.3 * spacing)
    tiny = 1e-3 * spacing
    law = Comb(sigma, max(d0, tiny), max(d1, tiny), eps, b, omega0)

    def em(x: np.ndarray) -> tuple[np.ndarray, float]:
        cur = _from_x(x, omega0)
        ll, st = _comb_estep(cur, w, aw)
        return _to_x(_comb_mstep(cur, st)), ll

    x0 = _to_x((law.sigma, law.d0, law.d1, law.eps, law.b))
    ll_old = -math.inf
    mom_old = np.full(2, np.inf)
    converged = False
    evals = 0
    for _ in range(max_iter):
        x1, ll0 = em(x0)
        x2, ll1 = em(x1)
        evals += 2
        r, v = x1 - x0, x2 - 2.0 * x1 + x0
        nv = float(np.sqrt(np.sum(v * v)))
        x_new, ll_new = x2, ll1
        if nv > 0:
            alpha = min(-1.0, -float(np.sqrt(np.sum(r * r))) / nv)
            xp = x0 - 2.0 * alpha * r + alpha * alpha * v
            if np.all(np.isfinite(xp)) and np.all(np.abs(xp[[0, 1, 2, 4]]) < 700) and abs(xp[3]) < 60:
                try:
                    xs, llp = em(xp)
                    evals += 1
                    if math.isfinite(llp) and llp >= ll1:
                        x_new, ll_new = xs, llp
                except (ValueError, OverflowError, FloatingPointError):
                    pass
        x0 = x_new
        cur = _from_x(x0, omega0)
        mom = np.array([cur.expected_sin2(omega0), cur.expected_abs_sin(omega0)])
        gain = abs(ll_new - ll_old) * w.size
        if gain <= tol or (gain <= 100.0 * tol and np.all(np.abs(mom - mom_old) <= 1e-7 * np.abs(mom))):
            converged = True
            break
        ll_old, mom_old = ll_new, mom
    return _from_x(x0, omega0), {"n_fit": w.size, "converged": converged, "iterations": evals,
                                 "method": "EM with SQUAREM acceleration (EM steps counted)"}


def fit_law(weights: Any, omega0: float | None = None, model: str = "penalised", *, max_samples: int = 20000,
            seed: int = 0) -> Any:
    """Maximum-likelihood fit of one law of :data:`MODELS` to a layer's weights, location fixed at 0.

    Laplace (b = mean|w|) and Gaussian (σ = sqrt(mean w²)) use every weight (closed forms); the iterative fits
    use a seeded subsample of at most ``max_samples`` weights drawn without replacement. ``penalised``,
    ``penalised2`` and ``comb`` need the ω0 the weights were trained with. The law's ``fit_info`` records n used,
    whether the optimiser converged and its iterations. Deterministic: same weights and seed, same law, bit for
    bit, whatever the thread count.

    >>> law = fit_law([-0.1, 0.3, 0.2], model="laplace")
    >>> round(law.b, 15), law.fit_info["n_fit"]
    (0.2, 3)
    """
    key = str(model).strip().lower()
    if key not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")
    w = _clean_weights(weights)
    if key in _NEEDS_OMEGA0:
        if omega0 is None:
            raise ValueError(f"model {key!r} depends on the training frequency; pass omega0 (e.g. "
                             f"fit_law(w, omega0=20.0, model={key!r}))")
        omega0 = _check_param("omega0", omega0)
    if int(max_samples) < 2:
        raise ValueError(f"max_samples = {max_samples!r} must be at least 2; e.g. max_samples=20000")
    if key == "laplace":
        b = weight_stats(w).b
        if not b > 0:
            raise ValueError("every weight is 0, so no scale can be fitted; pass a layer with non-zero weights")
        return LaplaceLaw(b, fit_info={"n_fit": w.size, "converged": True, "iterations": 0,
                                       "method": "closed form b = mean|w|"})
    if key == "gaussian":
        sig = math.sqrt(weight_stats(w).mean_w2)
        if not sig > 0:
            raise ValueError("every weight is 0, so no scale can be fitted; pass a layer with non-zero weights")
        return GaussianLaw(sig, fit_info={"n_fit": w.size, "converged": True, "iterations": 0,
                                          "method": "closed form sigma = sqrt(mean w^2)"})
    return fit_laws(w, omega0, (key,), max_samples=max_samples, seed=seed)[key]


def fit_laws(weights: Any, omega0: float | None, models: Sequence[str], *, max_samples: int = 20000,
             seed: int = 0) -> dict[str, Any]:
    """:func:`fit_law` for several models at once, on one shared subsample: each iterative MLE starts from the one
    it builds on (gennorm → penalised, penalised2 → penalised-alpha) computed once, so fitting every law costs
    little more than its most expensive member. Same result as fitting each model alone.

    >>> sorted(fit_laws(np.linspace(-0.2, 0.2, 101), None, ("laplace", "gaussian")))
    ['gaussian', 'laplace']
    """
    keys = [str(m).strip().lower() for m in models]
    bad = [k for k in keys if k not in MODELS]
    if bad:
        raise ValueError(f"unknown model {bad[0]!r}; choose one of {', '.join(MODELS)}")
    out = {k: fit_law(weights, omega0, k, max_samples=max_samples, seed=seed) for k in keys
           if k in ("laplace", "gaussian")}
    rest = [k for k in keys if k not in out]
    if not rest:
        return out
    w = _clean_weights(weights)
    if any(k in _NEEDS_OMEGA0 for k in rest):
        if omega0 is None:
            raise ValueError(f"model {rest[0]!r} depends on the training frequency; pass omega0 (e.g. "
                             f"fit_law(w, omega0=20.0, model={rest[0]!r}))")
        omega0 = _check_param("omega0", omega0)
    if int(max_samples) < 2:
        raise ValueError(f"max_samples = {max_samples!r} must be at least 2; e.g. max_samples=20000")
    sub = _subsample(w, int(max_samples), int(seed))
    nz = int(np.count_nonzero(sub))
    if nz < 3:
        raise ValueError(f"only {nz} non-zero weight(s) in the fitted sample; model {rest[0]!r} needs at least 3 "
                         "(fit 'laplace' instead or pass more weights)")
    fitted: dict[str, tuple[Any, dict[str, Any]]] = {}

    def get(key: str) -> tuple[Any, dict[str, Any]]:
        if key not in fitted:
            if key == "gennorm":
                fitted[key] = _fit_gennorm(sub)
            elif key in ("penalised", "penalised2"):
                fitted[key] = _fit_exp_power(sub, omega0, two=key == "penalised2", gennorm=get("gennorm")[0])
            elif key == "penalised-alpha":
                fitted[key] = _fit_alpha(sub, omega0, start=get("penalised2"))
            else:
                fitted[key] = _fit_comb(sub, omega0)
        return fitted[key]

    with np.errstate(over="ignore", under="ignore"):
        for key in rest:
            law, info = get(key)
            law = law_from_dict(law_to_dict(law))      # a fresh object per model: fit_info is each law's own
            law.fit_info.update(info)
            out[key] = law
    return {k: out[k] for k in keys}


def n_params(law: Any) -> int:
    """Number of fitted parameters: ``law.n_params``; 1 for the priors Laplace and Gaussian, 2 for Student-t."""
    k = getattr(law, "n_params", None)
    if k is not None:
        return int(k)
    return {"laplace": 1, "gaussian": 1, "student-t": 2}[law.name]


def loglik(law: Any, weights: Any) -> float:
    """Σ log pdf(w) over all the given weights (float64, in chunks)."""
    w = _clean_weights(weights)
    return float(sum(float(np.sum(law.logpdf(w[i:i + _CHUNK].astype(np.float64))))
                     for i in range(0, w.size, _CHUNK)))


def law_to_dict(law: Any) -> dict[str, Any]:
    """{"name", "params", "omega0"} of any law here, or of priors.Laplace / priors.Gaussian."""
    if hasattr(law, "to_dict"):
        return law.to_dict()
    if isinstance(law, Laplace):
        return {"name": "laplace", "params": {"b": float(law.b)}, "omega0": None}
    if isinstance(law, Gaussian):
        return {"name": "gaussian", "params": {"sigma": float(law.sigma)}, "omega0": None}
    raise TypeError(f"cannot serialise {law!r}; pass a law from biper_analysis.laws or a Laplace/Gaussian prior")


def law_from_dict(d: dict[str, Any]) -> Any:
    """The law described by :func:`law_to_dict` / ``law.to_dict()`` (exact round trip).

    >>> law_from_dict({"name": "gennorm", "params": {"s": 0.05, "beta": 1.5}, "omega0": None})
    GenNorm(s=0.05, beta=1.5)
    """
    try:
        name, params = str(d["name"]), dict(d["params"])
    except (KeyError, TypeError):
        raise ValueError(f"a law dict needs 'name' and 'params' (as written by law_to_dict), got {d!r}") from None
    omega0 = d.get("omega0")
    try:
        if name == "laplace":
            return LaplaceLaw(params["b"])
        if name == "gaussian":
            return GaussianLaw(params["sigma"])
        if name == "gennorm":
            return GenNorm(params["s"], params["beta"])
        if name == "penalised":
            return Penalised(params["s"], params["beta"], params["kappa"], omega0)
        if name == "penalised2":
            return Penalised2(params["s"], params["beta"], params["kappa0"], params["kappa"], omega0)
        if name == "penalised-alpha":
            return PenalisedAlpha(params["s"], params["beta"], params["kappa0"], params["kappa"], params["alpha"],
                                  omega0)
        if name == "comb":
            return Comb(params["sigma"], params["d0"], params["d1"], params["eps"], params["b"], omega0)
    except KeyError as e:
        raise ValueError(f"law {name!r} needs parameter {e.args[0]!r}; got {sorted(params)}") from None
    except TypeError:
        raise ValueError(f"law {name!r} needs omega0 (a number); got {omega0!r}") from None
    raise ValueError(f"unknown law {name!r}; expected one of {', '.join(MODELS)}")


def _coords(law: Any) -> tuple[list[str], list[str]]:
    """Free parameters of a law and their coordinate ("log" or "logit"); parameters at a bound are left out."""
    names, kinds = [], []
    for k, v in law.params.items():
        if k == "eps":
            if 1e-9 < v < 1.0 - 1e-9:
                names.append(k)
                kinds.append("logit")
        elif v > 1e-8:          # κ, κ0 (and any scale) at their bound 0 count as fixed
            names.append(k)
            kinds.append("log")
    return names, kinds


def qe_prediction_se(law: Any, weights: Any, omega0: float | None = None, gamma: float | None = None, *,
                     max_samples: int = 20000, seed: int = 0) -> float:
    r"""Standard error of the QE a fitted law predicts, from the sampling error of its MLE (delta method).

    SE² = ∇QEᵀ (n·J)^{-1} ∇QE, J the observed information per weight (central-difference Hessian of the mean
    log-likelihood on a seeded subsample of ``weights``, in log / logit coordinates), n the number of weights and
    ∇QE by central differences of the law's moments. Parameters on a bound (κ = 0, ε = 0) count as fixed.
    Laplace: |dQE/db|·b/√n in closed form.

    >>> w = LaplaceLaw(0.05).sample(np.random.default_rng(0), 10000)
    >>> f"{qe_prediction_se(fit_law(w, model='laplace'), w, 20.0):.1e}"
    '1.8e-05'
    """
    w = _clean_weights(weights)
    om = omega0 if omega0 is not None else getattr(law, "omega0", None)
    if om is None:
        raise ValueError("qe_prediction_se needs omega0 (the frequency at which QE is predicted); pass omega0=")
    om = _check_param("omega0", om)
    g = None if gamma is None else float(gamma)

    def qe_of(lw: Any) -> float:
        return float(analytic.qe_from_moments(lw.expected_sin2(om), lw.expected_abs_sin(om), g))

    if isinstance(law, Laplace) and not hasattr(law, "d0"):
        b = float(law.b)
        return abs(om * float(analytic.dqe_domega0(om, b, g))) / math.sqrt(w.size)
    base = law_to_dict(law)
    names, kinds = _coords(law)
    if not names:
        return 0.0
    x0 = np.array([math.log(base["params"][k]) if c == "log" else
                   math.log(base["params"][k] / (1.0 - base["params"][k])) for k, c in zip(names, kinds)])

    def make(x: np.ndarray) -> Any:
        d = {"name": base["name"], "params": dict(base["params"]), "omega0": base["omega0"]}
        for k, c, v in zip(names, kinds, x):
            d["params"][k] = math.exp(v) if c == "log" else 1.0 / (1.0 + math.exp(-v))
        return law_from_dict(d)

    sub = _subsample(w, int(max_samples), int(seed))

    def f(x: np.ndarray) -> float:
        return float(np.mean(make(x).logpdf(sub)))

    p, h = x0.size, 2e-4
    H = np.empty((p, p))
    f0 = f(x0)
    e = np.eye(p) * h
    fp = [f(x0 + e[i]) for i in range(p)]
    fm = [f(x0 - e[i]) for i in range(p)]
    for i in range(p):
        H[i, i] = (fp[i] - 2.0 * f0 + fm[i]) / (h * h)
        for j in range(i):
            H[i, j] = H[j, i] = (f(x0 + e[i] + e[j]) - f(x0 + e[i] - e[j]) - f(x0 - e[i] + e[j])
                                 + f(x0 - e[i] - e[j])) / (4.0 * h * h)
    grad = np.array([(qe_of(make(x0 + e[i])) - qe_of(make(x0 - e[i]))) / (2.0 * h) for i in range(p)])
    cov = np.linalg.pinv(-H) / w.size
    return math.sqrt(max(float(grad @ cov @ grad), 0.0))
