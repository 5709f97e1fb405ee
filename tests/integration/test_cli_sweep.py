"""CLI ``sweep``: full grids ω0 × b × γ and over a fitted law, every format written and read back with its
provenance, --columns, the size limit, the install hint, own files replaced and foreign ones refused, and a real
Ctrl-C (SIGINT) in the middle of a big write."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from biper_analysis.analysis.qe_grid import COLUMNS, read_grid
from biper_analysis.theory import analytic
from tests.conftest import assert_one_line_error, run_cli

pytest.importorskip("pyarrow")  # the Makefile installs the [parquet] extra; CI tests with it

FORMATS = ("csv", "parquet", "npz")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_full_grid_to_each_format_reads_back_with_its_provenance(tmp_path, fmt):
    out = tmp_path / f"s.{fmt}"
    proc = run_cli(
        "sweep", "--omega0", "1:200:20", "--log", "--b", "0.01:0.05:3", "--gamma", "opt,0.6", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert f"wrote {out} (120 rows: 20 ω0 × 3 law(s) × 2 γ; 15 columns" in proc.stdout
    table, prov = read_grid(out)
    assert list(table) == list(COLUMNS) and len(table["qe"]) == 120
    assert prov["producer"] == "biper-analysis sweep" and "git_revision" in prov and prov["rows"] == 120
    assert prov["config"]["b"] == "0.01:0.05:3" and prov["config"]["gamma"] == ["opt", 0.6]
    om = np.geomspace(1.0, 200.0, 20)
    for k, (b, gamma) in enumerate((b, g) for b in (0.01, 0.03, 0.05) for g in (None, 0.6)):
        rows = slice(20 * k, 20 * (k + 1))
        assert (table["scale"][rows] == b).all()
        np.testing.assert_array_equal(table["omega0"][rows], om)
        expected = analytic.qe_min(om, b) if gamma is None else analytic.qe(om, b, gamma)
        np.testing.assert_array_equal(table["qe"][rows], expected)  # exact, whatever the format
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_columns_are_written_in_the_order_given(tmp_path):
    out = tmp_path / "s.parquet"
    proc = run_cli("sweep", "--omega0", "1:200:50", "--b", "0.05", "--columns", "omega0,qe", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    table, prov = read_grid(out)
    assert list(table) == ["omega0", "qe"] and prov["columns"] == ["omega0", "qe"]
    np.testing.assert_array_equal(table["qe"], analytic.qe_min(np.linspace(1.0, 200.0, 50), 0.05))


def _laws_file(path: Path) -> Path:
    """A laws file in the layout `fit-b --save-laws` writes (the laws given by their parameters, not fitted here)."""
    from biper_analysis import laws
    from biper_analysis.laws.lawfile import law_to_dict

    layer = {
        "best_model": "penalised",
        "laws": {
            "penalised": law_to_dict(laws.Penalised(0.05, 1.3, 4.0, 20.0)),
            "laplace": law_to_dict(laws.Laplace(0.04)),
        },
    }
    path.write_text(json.dumps({"omega0": 20.0, "layers": {"layer1.0.conv1.weight": layer}}))
    return path


def test_a_fitted_law_over_omega0_and_gamma(tmp_path):
    spec = f"{_laws_file(tmp_path / 'laws.json')}:layer1.0.conv1.weight"
    out = tmp_path / "law.npz"
    proc = run_cli("sweep", "--omega0", "5:40:8", "--law", spec, "--gamma", "opt,0.5", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "fitted to weights trained at ω0 = 20" in proc.stderr  # the one warning line
    table, prov = read_grid(out)
    assert len(table["qe"]) == 16 and (table["prior"] == "penalised").all()
    assert prov["config"]["law"] == spec
    from biper_analysis.analysis.qe_grid import qe_point
    from biper_analysis.laws.lawfile import load_law

    law = load_law(spec)
    for i in (0, 7, 8, 15):
        gamma = None if table["gamma_is_optimal"][i] else 0.5
        assert table["qe"][i] == pytest.approx(qe_point(table["omega0"][i], law, gamma)["qe"], rel=1e-14)
    proc = run_cli("sweep", "--omega0", "5:40:8", "--law", spec + ":laplace", "--out", str(tmp_path / "l.csv"))
    assert proc.returncode == 0, proc.stderr
    table, _ = read_grid(tmp_path / "l.csv")
    assert (table["prior"] == "laplace").all() and not np.isnan(table["dqe_domega0"]).any()


@pytest.mark.parametrize(
    "extra, needle",
    [
        (("--omega0", "1:200:1e13"), "10,000,000,000,000 rows × 15 columns as .csv take up to 3.4 PB, but"),
        (("--omega0", "1:200:2e12", "--columns", "qe"), "rows × 1 columns as .csv take up to"),
        (
            ("--omega0", "1:200:1000", "--max-points", "999"),
            "1,000 rows (1000 ω0 × 1 law(s) × 1 γ), more than --max-points 999",
        ),
        (("--omega0", "1:200:10", "--columns", "qe,omega"), "no column 'omega'"),
        (("--omega0", "1:200:10", "--columns", "qe,qe"), "names 'qe' twice"),
        (("--omega0", "1:200:10", "--gamma", "opt,-1"), "gamma"),
        (("--omega0", "1:200:10", "--gamma", "0:1:x"), "START:STOP:N"),
        (("--omega0", "1:200:10", "--b", "0:0.05:3"), "--b values must be > 0"),
        (("--omega0", "1:200:10", "--gamma", "0:1:30", "--plot", "PLOT"), "30 is more than 24"),
    ],
)
def test_refusals_are_one_line_before_any_work(tmp_path, extra, needle):
    extra = tuple(e.replace("PLOT", str(tmp_path / "p.png")) for e in extra)
    proc = (
        run_cli("sweep", "--b", "0.05", *extra, "--out", str(tmp_path / "s.csv"))
        if "--b" not in extra
        else run_cli("sweep", *extra, "--out", str(tmp_path / "s.csv"))
    )
    assert_one_line_error(proc, needle)
    assert list(tmp_path.iterdir()) == []


def test_the_size_limit_names_the_free_space_of_the_output_disk(tmp_path):
    proc = run_cli("sweep", "--omega0", "1:200:1e13", "--b", "0.05", "--out", str(tmp_path / "s.parquet"))
    assert_one_line_error(
        proc,
        "10,000,000,000,000 rows × 15 columns as .parquet take up to 920.6 TB",
        f"but {tmp_path} has",
        "GB free",
        "use fewer points, fewer --columns, a larger disk",
    )


def test_without_pyarrow_parquet_gives_the_install_hint_and_csv_still_works(tmp_path):
    """pyarrow made unimportable for the child (a module on its path that raises ImportError, as a missing one does)."""
    hide = tmp_path / "hide"
    hide.mkdir()
    (hide / "pyarrow.py").write_text("raise ImportError(\"No module named 'pyarrow'\")\n")
    env = {"PYTHONPATH": str(hide), "PATH": "/usr/bin:/bin"}
    work = tmp_path / "work"
    work.mkdir()
    proc = run_cli("sweep", "--omega0", "1:200:10", "--b", "0.05", "--out", str(work / "s.parquet"), env=env)
    assert_one_line_error(
        proc, "writing .parquet needs pyarrow, which is not installed: install biper-analysis[parquet]"
    )
    proc = run_cli("sweep", "--omega0", "1:200:10", "--b", "0.05", "--out", str(work / "s.csv"), env=env)
    assert proc.returncode == 0, proc.stderr
    table, prov = read_grid(work / "s.csv")
    assert prov["producer"] == "biper-analysis sweep"
    np.testing.assert_array_equal(table["qe"], analytic.qe_min(np.linspace(1.0, 200.0, 10), 0.05))
    assert sorted(p.name for p in work.iterdir()) == ["s.csv"]


def test_its_own_file_is_replaced_and_a_foreign_one_refused(tmp_path):
    """(Which files are a sweep's own, format by format: tests/unit/analysis/test_qe_grid.py.)"""
    own = tmp_path / "own.parquet"
    for _attempt in range(2):
        proc = run_cli("sweep", "--omega0", "1:10:3", "--b", "0.05", "--out", str(own))
        assert proc.returncode == 0, proc.stderr
    assert proc.stderr == f"biper-analysis sweep: replacing {own} (an earlier output of this command)\n"
    foreign = tmp_path / "data.npz"
    np.savez(foreign, a=np.arange(3))
    before = foreign.read_bytes()
    assert_one_line_error(
        run_cli("sweep", "--omega0", "1:10:3", "--b", "0.05", "--out", str(foreign)), "was not written by"
    )
    assert foreign.read_bytes() == before


@pytest.mark.parametrize("fmt", FORMATS)
def test_ctrl_c_mid_write_leaves_nothing_and_says_so_in_one_line(tmp_path, fmt):
    """A real SIGINT to a sweep writing a big grid, once its temporary file exists: exit status 130, one line on
    stderr, no file and no temporary file left."""
    out = tmp_path / f"big.{fmt}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "biper_analysis",
            "sweep",
            "--omega0",
            "1:200:2e7",
            "--b",
            "0.05",
            "--columns",
            "omega0,qe",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT as a terminal's foreground command has it: a shell without job control starts its background
        # jobs (a CI script's `make test &`, say) with SIGINT ignored, and Python then never turns it into Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.time() + 120
    started = lambda: any(p.name.startswith(f".big.{fmt}.") for p in tmp_path.iterdir())
    while time.time() < deadline and not started() and proc.poll() is None:
        time.sleep(0.02)
    assert started(), "the sweep never started writing"
    time.sleep(0.3)  # well inside the write (2·10⁷ rows take seconds)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert err.splitlines() == ["biper-analysis sweep: interrupted; nothing half-written was left"]
    assert list(tmp_path.iterdir()) == []


def test_a_long_grid_shows_progress_on_a_terminal(tmp_path):
    """On a terminal (a pseudo-terminal of 120 columns here) a grid of 10⁶ rows or more shows a progress bar on
    stderr; the other tests show that without a terminal stderr stays empty."""
    pty = pytest.importorskip("pty")
    import fcntl
    import os
    import select
    import struct
    import termios

    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    out = tmp_path / "p.parquet"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "biper_analysis",
            "sweep",
            "--omega0",
            "1:200:2e6",
            "--b",
            "0.05",
            "--columns",
            "omega0,qe",
            "--out",
            str(out),
        ],
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    seen = b""
    while True:
        ready, _, _ = select.select([main], [], [], 1.0)
        if not ready and proc.poll() is not None:
            break
        try:
            data = os.read(main, 65536) if ready else b""
        except OSError:  # the terminal closed: the command has exited
            break
        if ready and not data:
            break
        seen += data
    os.close(main)
    assert proc.wait(timeout=120) == 0, seen
    text = seen.decode("utf-8", "replace")
    assert f"writing {out.name}:" in text and "2.00M" in text and "rows/s" in text, text[:500]
    assert f"wrote {out}" in text


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from Linux's /proc/self/status")
def test_memory_stays_bounded_on_a_grid_bigger_than_the_bound(tmp_path):
    """3·10⁶ rows × 15 columns (360 MB of float64 if held at once) written with less than 300 MB resident: the peak
    of the process's own memory (VmHWM; rusage would also count the copy of the test runner it was forked from)."""
    out = tmp_path / "big.npz"
    code = (
        "import sys; from biper_analysis.cli import main; "
        f"rc = main(['sweep', '--omega0', '1:200:3e6', '--b', '0.05', '--out', {str(out)!r}]); "
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    peak_mb = int(proc.stdout.splitlines()[-1]) / 1024
    assert out.stat().st_size > 360e6 and peak_mb < 300, peak_mb
    with np.load(out) as data:
        assert data["qe"][-1] == analytic.qe_min(np.array([200.0]), 0.05)[0] and math.isnan(data["df"][0])
