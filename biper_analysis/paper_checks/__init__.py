"""The executable paper checks, one claim per module (``check_*.py``), shipped inside the package so that
``biper-analysis check`` works from a plain install. Each module defines ``run(context) -> CheckResult`` and can be
run alone: ``python -m biper_analysis.paper_checks.check_qe_min_peak``. The framework is
:mod:`biper_analysis.paper_checks.record`.
"""
