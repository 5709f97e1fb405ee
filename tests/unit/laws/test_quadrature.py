"""laws/_quadrature.py: the half-line engine's paths agree (direct Gauss–Legendre, product rule over a common period,
Euler–Maclaurin tail); its accuracy against mpmath is checked through the laws (test_gennorm, test_penalised)."""

from __future__ import annotations

import numpy as np

from biper_analysis.laws import Penalised
from biper_analysis.laws._quadrature import _KINDS, _direct, _half_line, _u_end
from tests.unit.laws.law_checks import W0, rel


def test_irrational_ratio_uses_the_direct_path():
    """ω/ω0 irrational: no common period; the law's moments equal a brute-force direct integration to U."""
    law = Penalised(0.05, 1.5, 30.0, W0)
    om = W0 * 0.7071067811865476
    u_end = _u_end(1.5, ("1",))
    direct = _direct(0.0, u_end, 1.5, 30.0, W0 * 0.05, om * 0.05, _KINDS, ("1",), grade=True)
    assert rel(law.expected_abs_sin(om), float(direct[2, 0] / direct[0, 0])) < 1e-12


def test_product_rule_and_euler_maclaurin_agree_with_the_direct_path():
    """ω/ω0 = 3/2 with many periods before the cut-off takes the product rule (and, for a = 300, the
    Euler–Maclaurin tail); the direct integration over every piece is the witness (1e-12 relative)."""
    for beta, kappa, a in ((1.0, 5.0, 10.0), (1.0, 5.0, 300.0), (0.7, 20.0, 30.0), (2.0, 1.0, 40.0)):
        fast = _half_line(beta, kappa, a, 1.5 * a, _KINDS, ("1",))
        slow = _direct(0.0, _u_end(beta, ("1",)), beta, kappa, a, 1.5 * a, _KINDS, ("1",), grade=True)
        np.testing.assert_allclose(fast, slow, rtol=1e-12)
