"""qe_grid: the QE table against independent witnesses (quadrature, finite differences); the lazy axes against numpy;
chunked evaluation and writing (chunk boundaries, every format's round trip with its provenance, read back by
pyarrow and numpy themselves); columns; size estimates; interruption."""

from __future__ import annotations

import json
import math
import zipfile

import numpy as np
import pytest

from biper_analysis._io.errors import UsageError
from biper_analysis._io.provenance import provenance
from biper_analysis.analysis import qe_grid
from biper_analysis.laws.priors import Gaussian, Laplace, StudentT
from biper_analysis.theory import analytic, quadrature

pa = pytest.importorskip("pyarrow")  # the Makefile installs the [parquet] extra; CI tests with it
pq = pytest.importorskip("pyarrow.parquet")
pacsv = pytest.importorskip("pyarrow.csv")

FORMATS = ("csv", "parquet", "npz")


def _grid(n_omega0: int = 37) -> qe_grid.QEGrid:
    """3 scales × 3 γ (γ*, 0, 0.6) × n ω0 (geometric): 9·n rows, γ* mixed with fixed values inside chunks."""
    return qe_grid.QEGrid(
        qe_grid.Axis.between(1.0, 500.0, n_omega0, log=True),
        qe_grid.LawFamily("laplace", qe_grid.Axis.of([0.01, 0.037, 0.05])),
        qe_grid.Axis.of([math.nan, 0.0, 0.6]),
    )


def _assert_same(a: dict, b: dict, columns=qe_grid.COLUMNS) -> None:
    assert list(a) == list(columns) == list(b)
    for c in columns:
        if c == "prior":
            assert list(a[c]) == list(b[c])
        else:
            np.testing.assert_array_equal(a[c], b[c], err_msg=c)  # bit for bit (NaN == NaN here)


# ---- the values ---------------------------------------------------------------------------------------------
def test_laplace_columns_against_quadrature_and_finite_differences():
    """Every column of a Laplace sweep against scipy quadrature period by period (1e-10) and dQE/dω0 against a
    central difference of the quadrature QE (1e-5)."""
    om = np.array([1.0, 7.0, 20.0, 150.0])
    t = qe_grid.qe_sweep(om, [0.01, 0.05], gamma=0.6)
    assert len(t["qe"]) == 8 and list(t) == list(qe_grid.COLUMNS)
    np.testing.assert_array_equal(t["omega0"][:4], om)  # scale-major order
    for i, (w, b) in enumerate(zip(t["omega0"], t["scale"])):
        m = quadrature.moments(w, b)
        assert t["e_sin2"][i] == pytest.approx(m["e_sin2"], rel=1e-10)
        assert t["e_abs_sin"][i] == pytest.approx(m["e_abs_sin"], rel=1e-10)
        assert t["qe"][i] == pytest.approx(quadrature.qe(w, b, 0.6), rel=1e-10)
        assert t["qe_min"][i] == pytest.approx(quadrature.qe(w, b, None), rel=1e-10)
        assert t["official_l1"][i] == pytest.approx(1.0 - m["e_abs_sin"], rel=1e-10)
        assert t["normalised_qe"][i] == pytest.approx(quadrature.qe(w, b, 0.6) / m["e_sin2"], rel=1e-10)
        h = 1e-4 * w
        fd = (quadrature.qe(w + h, b, 0.6) - quadrature.qe(w - h, b, 0.6)) / (2 * h)
        assert t["dqe_domega0"][i] == pytest.approx(fd, rel=1e-5, abs=1e-9)
    assert not t["gamma_is_optimal"].any() and (t["gamma"] == 0.6).all()


def test_other_laws_against_quadrature():
    for law in (Gaussian(0.04), StudentT(4.0, 0.03)):
        t = qe_grid.qe_table([5.0, 20.0], [law], gamma=None)
        for i, w in enumerate(t["omega0"]):
            assert t["qe"][i] == pytest.approx(quadrature.qe(w, gamma=None, prior=law), rel=1e-9), law
            assert t["gamma"][i] == pytest.approx(quadrature.moments(w, prior=law)["e_abs_sin"], rel=1e-9)
        assert np.isnan(t["dqe_domega0"]).all() and (t["prior"] == law.name).all()


def test_point_equals_the_closed_form_bit_for_bit():
    row = qe_grid.qe_point(20.0, Laplace(0.05), 0.6)
    assert row["qe"] == analytic.qe(20.0, 0.05, 0.6) and row["qe_min"] == analytic.qe_min(20.0, 0.05)
    assert row["b"] == 0.05 and row["df"] is None


def test_a_full_grid_is_every_point_of_omega0_x_b_x_gamma_in_order():
    """Rows run law-major, then γ, then ω0; γ* rows equal QE_min and the fixed-γ rows the closed form, bit for bit,
    against the public functions of analytic called point set by point set."""
    g = _grid(5)
    t = qe_grid.grid_table(g)
    assert g.size == len(t["qe"]) == 3 * 3 * 5 and g.curves == 9
    om = np.geomspace(1.0, 500.0, 5)
    for k, (b, gamma) in enumerate([(b, gm) for b in (0.01, 0.037, 0.05) for gm in (None, 0.0, 0.6)]):
        rows = slice(5 * k, 5 * (k + 1))
        np.testing.assert_array_equal(t["omega0"][rows], om)
        assert (t["scale"][rows] == b).all() and (t["gamma_is_optimal"][rows] == (gamma is None)).all()
        expected = analytic.qe_min(om, b) if gamma is None else analytic.qe(om, b, gamma)
        np.testing.assert_array_equal(t["qe"][rows], expected)
        np.testing.assert_array_equal(t["dqe_domega0"][rows], analytic.dqe_domega0(om, b, gamma))
        np.testing.assert_array_equal(t["normalised_qe"][rows], analytic.normalised_qe(om, b, gamma))
        np.testing.assert_array_equal(
            t["gamma"][rows], analytic.optimal_gamma(om, b) if gamma is None else np.full(5, gamma)
        )


def test_a_fitted_law_over_a_gamma_axis_reuses_its_moments_and_matches_one_point_at_a_time():
    from biper_analysis.laws import GenNorm

    law = GenNorm(0.05, 1.4)
    g = qe_grid.QEGrid(qe_grid.Axis.between(2.0, 60.0, 6), qe_grid.LawList((law,)), qe_grid.Axis.of([math.nan, 0.5]))
    t = qe_grid.grid_table(g)
    for i in range(g.size):
        w, gamma = t["omega0"][i], None if t["gamma_is_optimal"][i] else t["gamma"][i]
        point = qe_grid.qe_point(w, law, gamma)
        assert t["qe"][i] == pytest.approx(point["qe"], rel=1e-14), i
        assert t["e_abs_sin"][i] == pytest.approx(law.expected_abs_sin(w), rel=1e-14)
    assert (t["prior"] == "gennorm").all() and np.isnan(t["dqe_domega0"]).all()


# ---- the axes -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [1, 2, 3, 7, 400, 100_003])
@pytest.mark.parametrize("start, stop", [(1.0, 200.0), (0.3, 1e5), (5.0, 5.0), (200.0, 1.0)])
def test_axes_are_numpy_linspace_and_geomspace_exactly(n, start, stop):
    every = np.arange(n)
    np.testing.assert_array_equal(qe_grid.Axis.between(start, stop, n).take(every), np.linspace(start, stop, n))
    np.testing.assert_array_equal(
        qe_grid.Axis.between(start, stop, n, log=True).take(every), np.geomspace(start, stop, n)
    )
    some = every[::7][::-1]  # any positions, in any order
    np.testing.assert_array_equal(
        qe_grid.Axis.between(start, stop, n, log=True).take(some), np.geomspace(start, stop, n)[some]
    )


def test_a_grid_of_a_billion_points_is_not_held_in_memory():
    g = qe_grid.QEGrid(qe_grid.Axis.between(1.0, 200.0, 10**9), qe_grid.LawFamily("laplace", qe_grid.Axis.of([0.05])))
    last = g.columns_at(g.size - 3, g.size, ("omega0", "qe"))
    assert g.size == 10**9 and last["omega0"][-1] == 200.0
    assert last["qe"][-1] == analytic.qe_min(np.array([200.0]), 0.05)[0]


@pytest.mark.parametrize(
    "bad, needle",
    [
        (dict(omega0=qe_grid.Axis.of([1.0, -2.0])), "omega0 must be > 0"),
        (dict(omega0=qe_grid.Axis.of([1.0, math.nan])), "omega0 must be finite"),
        (dict(gamma=qe_grid.Axis.of([-0.5])), "gamma must be >= 0"),
        (dict(laws=qe_grid.LawFamily("laplace", qe_grid.Axis.between(-1.0, 1.0, 3))), "scale (b) must be > 0"),
    ],
)
def test_bad_axes_are_refused_with_the_argument_named(bad, needle):
    parts = dict(
        omega0=qe_grid.Axis.of([1.0]),
        laws=qe_grid.LawFamily("laplace", qe_grid.Axis.of([0.05])),
        gamma=qe_grid.Axis.of([math.nan]),
    )
    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        qe_grid.QEGrid(**{**parts, **bad})


# ---- chunks and formats ----------------------------------------------------------------------------------
@pytest.mark.parametrize("chunk_rows", [1, 7, 37, 50, 332, 333, 334, 10_000])
def test_chunk_boundaries_do_not_change_any_value(chunk_rows):
    """A grid of 9·37 = 333 rows evaluated in chunks that do not divide it (nor its curves of 37) equals the grid
    evaluated as one chunk, bit for bit."""
    g = _grid()
    whole = qe_grid.grid_table(g)
    parts = [g.columns_at(lo, min(lo + chunk_rows, g.size)) for lo in range(0, g.size, chunk_rows)]
    pieced = {c: np.concatenate([p[c] for p in parts]) for c in qe_grid.COLUMNS}
    pieced["prior"] = np.array(g.laws.names, dtype=object)[pieced["prior"]]
    _assert_same(pieced, whole)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("chunk_rows", [7, 50, 10_000])
def test_every_format_round_trips_exactly_with_its_provenance(tmp_path, fmt, chunk_rows):
    g = _grid()
    record = provenance({"grid": "test"}, command="sweep", rows=g.size, columns=list(qe_grid.COLUMNS))
    seen: list[int] = []
    path = qe_grid.write_grid(g, tmp_path / f"g.{fmt}", record, progress=seen.append, chunk_rows=chunk_rows)
    assert sum(seen) == g.size and len(seen) == -(-g.size // chunk_rows)
    back, prov = qe_grid.read_grid(path)
    assert prov == json.loads(json.dumps(record))
    _assert_same(back, qe_grid.grid_table(g))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temporary file left


def test_csv_is_read_by_pyarrow_itself_with_the_provenance_line_first(tmp_path):
    g = _grid()
    path = qe_grid.write_grid(g, tmp_path / "g.csv", {"producer": "biper-analysis sweep"}, chunk_rows=50)
    first = path.read_text().splitlines()[0]
    assert first == '# provenance: {"producer": "biper-analysis sweep"}'
    table = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows=1))
    assert table.column_names == list(qe_grid.COLUMNS) and table.num_rows == g.size
    ref = qe_grid.grid_table(g)
    np.testing.assert_array_equal(table.column("qe").to_numpy(), ref["qe"])
    assert table.column("df").null_count == g.size  # NaN is an empty field
    assert table.column("prior").to_pylist() == ["laplace"] * g.size


def test_csv_without_pyarrow_is_written_column_by_column_and_reads_back_the_same(tmp_path, monkeypatch):
    g = _grid()
    with_arrow = qe_grid.write_grid(g, tmp_path / "a.csv", {}, chunk_rows=50)
    monkeypatch.setattr(qe_grid, "_has_pyarrow", lambda: False)
    without = qe_grid.write_grid(g, tmp_path / "b.csv", {}, chunk_rows=50)
    text = without.read_text().splitlines()
    assert text[2].startswith("laplace,0.01,,1.0,0.01,")  # repr: 1.0 (pyarrow writes 1)
    a, _ = qe_grid.read_grid(with_arrow)
    b, _ = qe_grid.read_grid(without)  # the Python reader, as pyarrow is "missing"
    _assert_same(a, b)
    _assert_same(b, qe_grid.grid_table(g))


def test_parquet_is_read_by_pyarrow_with_the_provenance_in_its_metadata(tmp_path):
    g = _grid()
    record = {"producer": "biper-analysis sweep", "rows": g.size}
    path = qe_grid.write_grid(g, tmp_path / "g.parquet", record, chunk_rows=100)
    meta = pq.read_metadata(path)
    assert meta.num_rows == g.size and meta.num_row_groups == 4  # one row group per chunk
    assert json.loads(meta.metadata[b"provenance"]) == record
    table = pq.read_table(path)
    assert table.schema.field("prior").type == pa.dictionary(pa.int32(), pa.string())
    assert table.schema.field("gamma_is_optimal").type == pa.bool_()
    np.testing.assert_array_equal(table.column("dqe_domega0").to_numpy(), qe_grid.grid_table(g)["dqe_domega0"])


def test_npz_is_a_valid_zip64_archive_that_numpy_loads(tmp_path):
    g = _grid()
    path = qe_grid.write_grid(g, tmp_path / "g.npz", {"producer": "biper-analysis sweep"}, chunk_rows=64)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None  # every member's CRC-32 checks
        assert z.namelist() == [f"{c}.npy" for c in qe_grid.COLUMNS] + ["provenance.npy"]
    with np.load(path, allow_pickle=False) as data:
        assert json.loads(str(data["provenance"])) == {"producer": "biper-analysis sweep"}
        assert data["prior"].dtype == np.dtype("<U7") and data["gamma_is_optimal"].dtype == bool
        np.testing.assert_array_equal(data["qe"], qe_grid.grid_table(g)["qe"])
    again = qe_grid.write_grid(g, tmp_path / "h.npz", {"producer": "biper-analysis sweep"}, chunk_rows=333)
    assert again.read_bytes() == path.read_bytes()  # chunking leaves no trace in the bytes


@pytest.mark.parametrize("fmt", FORMATS)
def test_selected_columns_in_the_order_asked(tmp_path, fmt):
    g = _grid()
    columns = qe_grid.parse_columns("qe,omega0,prior,gamma_is_optimal")
    path = qe_grid.write_grid(g, tmp_path / f"g.{fmt}", {}, columns, chunk_rows=100)
    back, _ = qe_grid.read_grid(path)
    ref = qe_grid.grid_table(g)
    _assert_same(back, {c: ref[c] for c in columns}, columns)


@pytest.mark.parametrize(
    "text, needle",
    [
        ("qe,omega", "no column 'omega'; choose from prior,scale"),
        ("qe,omega0,qe", "names 'qe' twice"),
        (" , ", "at least one column"),
    ],
)
def test_columns_are_validated_by_name(text, needle):
    with pytest.raises(UsageError, match=needle):
        qe_grid.parse_columns(text)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_interruption_mid_write_leaves_nothing(tmp_path, fmt):
    """Ctrl-C after the first chunk (raised from the progress callback, i.e. between two writes): no file, no
    temporary file."""

    def interrupt(rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        qe_grid.write_grid(_grid(), tmp_path / f"g.{fmt}", {}, progress=interrupt, chunk_rows=10)
    assert list(tmp_path.iterdir()) == []


# ---- sizes ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("columns", [qe_grid.COLUMNS, ("omega0", "qe")])
def test_the_size_estimate_is_an_upper_bound_within_a_factor_two(tmp_path, fmt, columns):
    g = _grid(401)
    path = qe_grid.write_grid(g, tmp_path / f"g.{fmt}", {"producer": "biper-analysis sweep"}, columns)
    actual, estimate = path.stat().st_size, qe_grid.estimate_bytes(g, columns, fmt)
    assert actual <= estimate <= 2 * actual + 16_384, (actual, estimate)


def test_a_grid_too_big_for_the_disk_is_refused_with_the_sizes(tmp_path):
    g = qe_grid.QEGrid(qe_grid.Axis.between(1.0, 200.0, 10**13), qe_grid.LawFamily("laplace", qe_grid.Axis.of([0.05])))
    with pytest.raises(
        UsageError,
        match=r"10,000,000,000,000 rows × 15 columns as \.csv take up to 3\.4 PB, but .* "
        r"GB free",
    ):
        qe_grid.check_room(g, qe_grid.COLUMNS, tmp_path / "big.csv")
    small = qe_grid.QEGrid(qe_grid.Axis.between(1.0, 200.0, 1000), g.laws)
    assert qe_grid.check_room(small, ("qe",), tmp_path / "ok.parquet") == qe_grid.estimate_bytes(
        small, ("qe",), "parquet"
    )


# ---- whose file is it (the output claim rules for the three formats) ------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_sweep_file_carries_the_sweep_mark_and_only_that_one(tmp_path, fmt):
    from biper_analysis._io.outputs import written_by

    g = _grid()
    record = provenance({}, command="sweep", rows=g.size, columns=["qe", "omega0"])
    path = qe_grid.write_grid(g, tmp_path / f"g.{fmt}", record, ("qe", "omega0"), chunk_rows=100)
    assert written_by(path, "sweep") and not written_by(path, "fit-b")


def test_a_table_rewritten_by_another_program_or_not_ours_is_not_the_sweeps(tmp_path, monkeypatch):
    """pyarrow carries the metadata (our provenance) over when it rewrites a table: a file whose rows or columns no
    longer match the record is not ours to replace; numpy's own .npz and an .npz without the record neither. A CSV's
    mark is read from its first line whatever its size; whole-file formats keep their size cap."""
    from biper_analysis._io import outputs

    g = _grid()
    record = provenance({}, command="sweep", rows=g.size, columns=list(qe_grid.COLUMNS))
    ours = qe_grid.write_grid(g, tmp_path / "g.parquet", record)
    table = pq.read_table(ours)
    pq.write_table(table.slice(0, 10).replace_schema_metadata(table.schema.metadata), tmp_path / "fewer.parquet")
    pq.write_table(table.drop_columns(["x"]).replace_schema_metadata(table.schema.metadata), tmp_path / "cols.parquet")
    pq.write_table(table.replace_schema_metadata(None), tmp_path / "plain.parquet")  # no provenance key
    np.savez(tmp_path / "numpy.npz", qe=np.zeros(3))
    np.savez(tmp_path / "forged.npz", qe=np.zeros(3), provenance=np.array(json.dumps({**record, "rows": 2})))
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    for name in ("fewer.parquet", "cols.parquet", "plain.parquet", "numpy.npz", "forged.npz", "bad.parquet"):
        assert not outputs.written_by(tmp_path / name, "sweep"), name
    csv = qe_grid.write_grid(g, tmp_path / "g.csv", record)
    json_file = tmp_path / "r.json"
    json_file.write_text(json.dumps({"provenance": record}))
    monkeypatch.setattr(outputs, "_MAX_SNIFF_BYTES", 100)
    assert outputs.written_by(csv, "sweep") and outputs.written_by(ours, "sweep")
    assert not outputs.written_by(json_file, "sweep")
