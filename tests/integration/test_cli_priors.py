"""CLI: `qe --prior ...` and `omega0`, their JSON, and one-line errors (exit 2) for bad input, through cli.main
in this process (run_cli_in_process; the console script itself is exercised in test_cli_core.py)."""

from __future__ import annotations

import json

import pytest

import biper_analysis as ba
from biper_analysis.laws.priors import Gaussian, StudentT
from tests.conftest import assert_one_line_error, run_cli_in_process

CORE_KEYS = {"omega0", "b", "x", "gamma", "qe", "qe_min", "gamma_opt", "e_sin2", "e_abs_sin"}


def test_qe_gaussian_json_matches_library():
    proc = run_cli_in_process("qe", "--omega0", "20", "--prior", "gaussian", "--sigma", "0.05", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert CORE_KEYS <= set(out)
    assert out["prior"] == "gaussian" and out["b"] is None and out["x"] == pytest.approx(1.0)
    assert out["qe"] == pytest.approx(ba.qe(20.0, prior=Gaussian(0.05)), rel=1e-15)
    assert out["e_abs_sin"] == pytest.approx(0.579153218723036, rel=1e-14)  # mpmath reference, s = 1


def test_qe_student_t_fixed_gamma():
    proc = run_cli_in_process(
        "qe", "--omega0", "20", "--prior", "student-t", "--scale", "0.03", "--df", "4", "--gamma", "0.6", "--json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["qe"] == pytest.approx(ba.qe(20.0, gamma=0.6, prior=StudentT(4, 0.03)), rel=1e-15)
    assert out["gamma"] == 0.6 and out["df"] == 4.0 and CORE_KEYS <= set(out)


def test_omega0_command():
    proc = run_cli_in_process("omega0", "--b", "0.037", "--target-qe", "0.1", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert len(out["omega0"]) == 2 and out["branches"] == ["rising", "falling"]
    for w in out["omega0"]:
        assert abs(ba.qe(w, 0.037) - 0.1) < 1e-11
    proc = run_cli_in_process("omega0", "--b", "0.037", "--target-qe", "0.09", "--gamma", "0.3")
    assert proc.returncode == 0, proc.stderr
    assert "root(s)" in proc.stdout and "omega0 =" in proc.stdout


@pytest.mark.parametrize(
    "args,needles",
    [
        (("qe", "--omega0", "20", "--prior", "gaussian"), ("--sigma",)),
        (("qe", "--omega0", "20", "--prior", "student-t", "--scale", "0.03"), ("--df",)),
        (("qe", "--omega0", "20", "--prior", "gaussian", "--sigma", "0.05", "--b", "0.1"), ("--b", "remove")),
        (("qe", "--omega0", "20", "--prior", "cauchy", "--scale", "1"), ("cauchy",)),
        (("qe", "--omega0", "20", "--prior", "gaussian", "--sigma", "-1"), ("sigma must be > 0",)),
        (("omega0", "--b", "0.037", "--target-qe", "0.2"), ("not attainable", "0.1028346")),
        (("omega0", "--b", "0.037", "--target-qe", "0.1", "--gamma", "1"), ("not attainable", "γ = 1.0")),
        (("omega0", "--b", "-1", "--target-qe", "0.05"), ("b must be > 0",)),
    ],
)
def test_bad_input_one_line_exit_2(args, needles):
    assert_one_line_error(run_cli_in_process(*args), *needles)
