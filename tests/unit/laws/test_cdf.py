"""laws/_cdf.py: the piecewise-Chebyshev CDF tables (their accuracy is checked through each law's protocol test)."""

from __future__ import annotations

import numpy as np

from biper_analysis.laws import GenNorm, Penalised2


def test_cdf_does_not_depend_on_what_was_asked_before():
    """A larger table has the smaller one's pieces on its range: F(w) is the same whether the table was first built
    for small |w| and then grown, or built for large |w| at once."""
    for make in (lambda: GenNorm(0.04, 0.6), lambda: Penalised2(0.12, 1.8, 6.0, 3.0, 20.0)):
        x = np.array([-0.02, 0.001, 0.05])
        grown = make()
        grown.cdf(np.array([1e-3]))
        small_first = grown.cdf(np.concatenate([x, [40.0]]))
        direct = make().cdf(np.concatenate([x, [40.0]]))
        assert np.array_equal(small_first, direct) and direct[-1] == 1.0
