"""Weight laws: one protocol, one registry (see :mod:`biper_analysis.laws.core`)."""
from biper_analysis.laws.core import *  # noqa: F403
from biper_analysis.laws.core import __all__  # noqa: F401
