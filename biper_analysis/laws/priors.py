r"""The priors of ``ba.qe(..., prior=...)``: Laplace, Gaussian, Student-t and the empirical law of a sample.

They are weight laws like every other (:mod:`biper_analysis.laws`; each defined in its own module there); this
module keeps the public spelling ``ba.priors.Laplace(b)`` and builds a prior from the command line's
``--prior NAME --scale S [--df DF]`` (:func:`make_prior`). Parameterisations (all centred at 0):

* ``Laplace(b)``: pdf :math:`e^{-|w|/b}/(2b)`, b = E|w|; its moments are the paper's closed forms, so
  ``ba.qe(ω0, prior=Laplace(b)) == ba.qe(ω0, b)`` exactly.
* ``Gaussian(sigma)``: N(0, σ²).
* ``StudentT(df, scale)``: scale × Student-t with ν = df degrees of freedom.
* ``Empirical(weights)``: mass 1/n on each weight; moments are sample means.
"""

from __future__ import annotations

from biper_analysis.laws.empirical import Empirical
from biper_analysis.laws.gaussian import Gaussian
from biper_analysis.laws.laplace import Laplace
from biper_analysis.laws.student_t import StudentT

__all__ = ["Laplace", "Gaussian", "StudentT", "Empirical", "PRIOR_NAMES", "make_prior"]

#: The priors ``--prior`` accepts.
PRIOR_NAMES = ("laplace", "gaussian", "student-t")


def make_prior(name: str, scale: float, df: float | None = None) -> Laplace | Gaussian | StudentT:
    """Build a prior by name: "laplace" (scale = b), "gaussian" (scale = σ), "student-t" (scale, df required).

    >>> make_prior("student-t", 0.03, df=4)
    StudentT(df=4.0, scale=0.03)
    """
    key = str(name).strip().lower().replace("_", "-")
    if key in {"studentt", "t", "student"}:
        key = "student-t"
    if key == "laplace":
        return Laplace(scale)
    if key == "gaussian" or key == "normal":
        return Gaussian(scale)
    if key == "student-t":
        if df is None:
            raise ValueError("the student-t prior needs df (degrees of freedom > 0), e.g. df=4")
        return StudentT(df, scale)
    raise ValueError(f"unknown prior {name!r}; choose one of {', '.join(PRIOR_NAMES)}")
