"""CLI: derive, qe, sweep, verify — normal runs, outputs, and bad input (exit 2, one line, no traceback,
nothing written). Most calls go through cli.main in this process (run_cli_in_process); `qe --json` and the default
verify table run as real subprocesses (the console script's entry point)."""

from __future__ import annotations

import json

import pytest

from biper_analysis.analysis.qe_grid import read_grid
from biper_analysis.theory.symbolic import FINAL_LINE
from tests.conftest import assert_one_line_error, run_cli, run_cli_in_process


def test_derive_prints_steps_and_proof():
    proc = run_cli_in_process("derive", "--latex")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-1] == FINAL_LINE
    assert "geometric series" in proc.stdout and "\\frac" in proc.stdout and "\\coth" in proc.stdout
    assert proc.stderr == ""


def test_qe_json_and_text():
    proc = run_cli("qe", "--omega0", "20", "--b", "0.05", "--gamma", "0.6", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    for key in ("omega0", "b", "x", "gamma", "qe", "qe_min", "gamma_opt", "e_sin2", "e_abs_sin"):
        assert key in out
    assert out["qe"] == pytest.approx(0.105801153563579, rel=1e-14)
    proc = run_cli_in_process("qe", "--omega0", "20", "--b", "0.05")
    assert proc.returncode == 0 and "qe_min" in proc.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (("qe", "--omega0", "-1", "--b", "0.05"), "omega0"),
        (("qe", "--omega0", "20"), "--b"),
        (("qe", "--omega0", "20", "--b", "nan"), "b"),
        (("qe", "--omega0", "20", "--b", "0.05", "--gamma", "-1"), "gamma"),
        (("verify", "--samples", "5"), "--samples"),
        (("verify", "--b", "0,0.05"), "--b"),
        (("verify", "--gamma", "opt,x"), "gamma"),
    ],
)
def test_bad_input_one_line(args, needle):
    assert_one_line_error(run_cli_in_process(*args), needle)


def test_sweep_writes_csv_with_provenance_and_plot(tmp_path):
    out, png = tmp_path / "s.csv", tmp_path / "s.png"
    proc = run_cli_in_process(
        "sweep",
        "--omega0",
        "1:200:50",
        "--b",
        "0.01,0.037,0.05",
        "--gamma",
        "opt",
        "--out",
        str(out),
        "--plot",
        str(png),
    )
    assert proc.returncode == 0, proc.stderr
    table, prov = read_grid(out)
    assert len(table["qe"]) == 150 and prov["config"]["b"] == [0.01, 0.037, 0.05]
    assert "git_revision" in prov and prov["producer"] == "biper-analysis sweep"
    assert table["gamma_is_optimal"].all()
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    from biper_analysis.theory import analytic

    m = table["scale"] == 0.037
    # the same engine, and the CSV's repr round-trips exactly
    assert abs(table["qe"][m] / analytic.qe_min(table["omega0"][m], 0.037) - 1).max() < 1e-15
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.csv", "s.png"]  # no temporary files left


def test_sweep_log_fixed_gamma_and_other_prior(tmp_path):
    out = tmp_path / "s.csv"
    proc = run_cli_in_process(
        "sweep", "--omega0", "1:1000:7", "--log", "--b", "0.05", "--gamma", "0.6", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    table, _ = read_grid(out)
    assert table["omega0"][-1] == pytest.approx(1000.0) and (table["gamma"] == 0.6).all()
    out2 = tmp_path / "g.csv"
    proc = run_cli_in_process("sweep", "--omega0", "1:100:5", "--b", "0.05", "--prior", "gaussian", "--out", str(out2))
    assert proc.returncode == 0, proc.stderr
    table, _ = read_grid(out2)
    assert (table["prior"] == "gaussian").all() and (table["qe"] >= 0).all()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (("--omega0", "0:200:4", "--b", "0.05"), "omega0"),
        (("--omega0", "1:200:x", "--b", "0.05"), "START:STOP:N"),
        (("--omega0", "1:200:4", "--b", "-0.05"), "--b"),
        (("--omega0", "1:200:4", "--b", "0.05", "--prior", "student-t"), "--df"),
        (("--omega0", "1:200:4", "--b", "0.05", "--df", "3"), "--df"),
        (("--omega0", "1:200:4", "--b", "0.05", "--plot", "PLOTDIR/missing/p.png"), "does not exist"),
        (("--omega0", "1:200:4", "--b", "0.05", "--plot", "PLOTDIR/p.xyz"), ".png"),
        (("--omega0", "1:200:4", "--b", "0.05", "--gamma", "big"), "gamma"),
    ],
)
def test_sweep_bad_input_leaves_nothing(tmp_path, extra, needle):
    extra = tuple(e.replace("PLOTDIR", str(tmp_path)) for e in extra)
    proc = run_cli_in_process("sweep", *extra, "--out", str(tmp_path / "s.csv"))
    assert_one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []


def test_verify_json_passes_small_grid():
    proc = run_cli_in_process(
        "verify",
        "--samples",
        "2e4",
        "--seed",
        "3",
        "--omega0",
        "20",
        "--b",
        "0.01,0.05",
        "--gamma",
        "opt,0.6",
        "--json",
    )  # the help's own notation, 2e6, is accepted
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["passed"] and len(out["rows"]) == 4
    assert out["worst_quad_rel_diff"] < 1e-10 and out["max_abs_z"] < 4
    assert out["provenance"]["seed"] == 3


def test_verify_table_default_grid():
    proc = run_cli("verify", "--samples", "50000")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout.splitlines()[-1] and proc.stdout.count("\n") == 29


def test_verify_exits_nonzero_when_a_witness_disagrees(monkeypatch, capsys):
    from biper_analysis import cli
    from biper_analysis.theory import quadrature

    real = quadrature.qe
    monkeypatch.setattr(quadrature, "qe", lambda *a, **k: real(*a, **k) * (1 + 1e-9))  # beyond the 1e-10 limit
    assert cli.main(["verify", "--samples", "2000", "--omega0", "20", "--b", "0.05", "--gamma", "0.6"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out.splitlines()[-1]


def test_the_cli_runners_leave_no_temporary_folder():
    """run_cli and run_cli_in_process run a command in a new empty folder and remove it afterwards."""
    import tempfile
    from pathlib import Path

    before = set(Path(tempfile.gettempdir()).glob("biper-cli-*"))
    assert run_cli_in_process("qe", "--omega0", "20", "--b", "0.05").returncode == 0
    assert run_cli("--version").returncode == 0
    assert set(Path(tempfile.gettempdir()).glob("biper-cli-*")) == before
