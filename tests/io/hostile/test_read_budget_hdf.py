"""The read budget on netCDF (netcdf4 and h5netcdf engines) and HDF5 tables, and the HDF5 layout check on
the netCDF route (issue 12, "Memory").

Every hostile file here is a few kB that *declares* far more than it holds (an unwritten variable, a
dimension of 10^12, a chunk whose zlib stream inflates past its declared size): the read must be a
BudgetError naming the file and the variable before anything is allocated, whatever the engine.
"""

from __future__ import annotations

import struct
import subprocess
import sys
import zlib
from pathlib import Path

import h5py
import netCDF4
import numpy as np
import pytest
import xarray as xr
from helpers import KNOWN

import fluxds
from fluxds.io.cf.netcdf import netcdf_read_plan, write_netcdf
from fluxds.io.guard.budget import BudgetError

ENGINES = ["netcdf4", "h5netcdf"]


@pytest.fixture(scope="module")
def sed() -> xr.Dataset:
    return fluxds.read(fluxds.demo_path())


def _netcdf(tmp_path: Path, sed: xr.Dataset, engine: str, name: str = "sed.nc") -> Path:
    path = tmp_path / f"{engine}-{name}"
    write_netcdf(sed, path, engine=engine)
    return path


def _declare(path: Path, variable: str, size: int, *, chunks: int | None = None) -> None:
    """Add to the file a variable of ``size`` float64 values on a dimension of its own, never written."""
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("big", size)
        if chunks:
            nc.createVariable(variable, "f8", ("big",), chunksizes=(chunks,), zlib=True)
        else:
            nc.createVariable(variable, "f8", ("big",))


def _read(path: Path, engine: str, **kwargs) -> xr.Dataset:
    return fluxds.read(path, format="netcdf", engine=engine, **kwargs)


# --- netCDF: declared sizes against the budget ------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_unwritten_2e8_element_variable_is_refused_by_the_budget(tmp_path, sed, engine):
    """The issue's 35 kB netCDF-4 file declaring an unwritten 2e8-element variable (here one fluxds reads:
    ``ref_npred``) was read at 3.25 GB; now a BudgetError naming the file, the variable and the
    budget, before anything is allocated."""
    path = _netcdf(tmp_path, sed, engine)
    _declare(path, "ref_npred", 200_000_000)
    assert path.stat().st_size < 100_000
    with pytest.raises(BudgetError) as info:
        _read(path, engine, max_bytes="1GiB")
    message = str(info.value)
    assert str(path) in message and "'ref_npred'" in message and "(200000000,)" in message
    assert "read budget of 1073741824 bytes" in message and "max_bytes" in message


@pytest.mark.parametrize("engine", ENGINES)
def test_declared_dimension_of_1e12_is_a_budget_error_not_a_memory_error(tmp_path, sed, engine):
    """At the default budget (half the machine's memory), whatever the machine."""
    path = _netcdf(tmp_path, sed, engine)
    _declare(path, "ref_npred", 10**12, chunks=1000)
    with pytest.raises(BudgetError, match=r"ref_npred.*\(1000000000000,\)"):
        _read(path, engine)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_budget_is_for_the_whole_read(tmp_path, sed, engine):
    """Each variable fits the budget; all of them together do not."""
    path = _netcdf(tmp_path, sed, engine)
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("n", 100_000)  # 800 kB a variable
        for name in ("npred_background", "ref_npred", "n_dof"):
            nc.createVariable(name, "f8", ("n",))
    with pytest.raises(BudgetError, match="reading the .* variables of the Dataset"):
        _read(path, engine, max_bytes="2MB")


def _huge_time_coordinate(path: Path) -> None:
    """A ``time`` dimension (one of the data model's) of 10^12 declared values, with its coordinate."""
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("time", 10**12)
        nc.createVariable("time", "f8", ("time",), chunksizes=(1000,), zlib=True)


@pytest.mark.parametrize("engine", ENGINES)
def test_huge_declared_coordinate_is_refused_before_xarray_indexes_it(tmp_path, sed, engine):
    """xarray reads a dimension coordinate as it opens a file (to build its index): the coordinate of a
    dimension of the data model is checked before, and xarray builds no index it was not asked for."""
    path = _netcdf(tmp_path, sed, engine)
    _huge_time_coordinate(path)
    with pytest.raises(BudgetError, match=r"variable 'time'.*\(1000000000000,\)"):
        _read(path, engine)


def _chunk_bomb(path: Path, variable: str, inflated: int) -> None:
    """Replace the one stored chunk of ``variable`` by a zlib stream inflating to ``inflated`` bytes (far
    beyond the chunk's declared size): HDF5's deflate filter grows its buffer to hold all of it."""
    with h5py.File(path, "a") as f:
        f[variable].id.write_direct_chunk((0,) * f[variable].ndim, zlib.compress(bytes(inflated), 9), 0)


@pytest.mark.parametrize("engine", ENGINES)
def test_chunk_inflating_past_its_declared_size_is_counted(tmp_path, sed, engine):
    """A 40 kB chunk declaring 800 bytes inflates to 40 MiB inside HDF5 (which then returns the array as
    if nothing had happened): the budget counts what the stored chunk can inflate to (zlib's 1032:1),
    before anything is decompressed."""
    path = _netcdf(tmp_path, sed, engine)
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("n", 100)
        nc.createVariable("ref_npred", "f8", ("n",), chunksizes=(100,), zlib=True)[:] = np.zeros(100)
    assert _read(path, engine, max_bytes="8MiB")["ref_npred"].shape == (100,)  # intact: fine
    _chunk_bomb(path, "ref_npred", 40 * 2**20)
    with pytest.raises(BudgetError, match="'ref_npred'.*chunks HDF5 may inflate to"):
        _read(path, engine, max_bytes="8MiB")


# --- variables no fluxds reader needs ---------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_huge_extra_variable_is_not_loaded_and_the_file_reads(tmp_path, sed, engine):
    """An extra ``junk`` variable of 2e8 declared values on a dimension of its own is not part of the fluxds
    Dataset: not loaded, not counted (the file reads under a 16 MiB budget), and not lost either: it stays
    in the result unread, and a slice of it reads from the file when asked for."""
    path = _netcdf(tmp_path, sed, engine)
    _declare(path, "junk", 200_000_000)
    ds = _read(path, engine, max_bytes="16MiB")
    xr.testing.assert_identical(ds.drop_vars("junk"), sed)
    assert ds["junk"].shape == (200_000_000,)
    assert not isinstance(ds["junk"].variable._data, np.ndarray)  # not loaded
    assert ds["junk"][:3].shape == (3,)  # read on demand, from the closed file
    with xr.open_dataset(path, engine=engine, create_default_indexes=False) as opened:
        load, unread = netcdf_read_plan(opened)
    assert unread == ["junk"] and "norm" in load


@pytest.mark.parametrize("engine", ENGINES)
def test_huge_extra_coordinate_variable_is_not_loaded(tmp_path, sed, engine):
    """The fuzzer's form of junk: ``junk(junk)``, the coordinate variable of a dimension of its own, of 2e7
    declared values (xarray reads and indexes a coordinate as it opens a file: 320 MiB). Left unread and
    unindexed, through read and open_dataset alike."""
    path = _netcdf(tmp_path, sed, engine)
    with netCDF4.Dataset(path, "a") as nc:
        nc.createDimension("junk", 2 * 10**7)
        nc.createVariable("junk", "f8", ("junk",), chunksizes=(1 << 20,))
    ds = _read(path, engine, max_bytes="16MiB")
    assert "junk" in ds.coords and "junk" not in ds.xindexes
    assert not isinstance(ds["junk"].variable._data, np.ndarray)
    xr.testing.assert_identical(ds.drop_vars("junk"), sed)
    lazy = fluxds.open_dataset(path, chunks={"energy": 2}, max_bytes="16MiB", engine=engine)
    assert "junk" not in lazy.xindexes and lazy["junk"].chunks is not None


def test_every_variable_fluxds_writes_is_loaded(tmp_path, sed):
    """The split never leaves a variable of a fluxds Dataset unread, and a user's extra variable on the
    data's own dimensions is loaded with the rest."""
    extra = sed.assign(my_flag=("energy", np.arange(sed.sizes["energy"])))
    path = tmp_path / "extra.nc"
    write_netcdf(extra, path)
    ds = fluxds.read(path)
    assert all(isinstance(v._data, np.ndarray) for n, v in ds.variables.items() if n not in ds.indexes)
    xr.testing.assert_identical(ds, extra)


# --- HDF5 tables -------------------------------------------------------------------------------------------
def _hdf5_table_declaring(tmp_path: Path, sed: xr.Dataset, rows: int) -> Path:
    """The fluxds HDF5 table of ``sed``, re-declared with ``rows`` rows (chunked, never written)."""
    good = tmp_path / "good.h5"
    fluxds.write(sed, good)
    bad = tmp_path / "bomb.h5"
    with h5py.File(good, "r") as src, h5py.File(bad, "w") as dst:
        table = src["sed"]
        big = dst.create_dataset("sed", shape=(rows,), dtype=table.dtype, chunks=(64,), compression="gzip")
        big[: table.shape[0]] = table[()]
        for key, value in table.attrs.items():
            big.attrs[key] = value
        src.copy(src["sed.__table_column_meta__"], dst, "sed.__table_column_meta__")
    return bad


def test_hdf5_table_declaring_millions_of_rows_is_refused(tmp_path, sed):
    """The issue's 7.7 kB HDF5 table read at 2 GB: a BudgetError naming the file and the table."""
    path = _hdf5_table_declaring(tmp_path, sed, 10_000_000)
    assert path.stat().st_size < 50_000
    with pytest.raises(BudgetError) as info:
        fluxds.read(path, max_bytes="1GiB")
    assert str(path) in str(info.value) and "variable 'sed'" in str(info.value)
    assert "(10000000,)" in str(info.value)


def test_hdf5_table_of_1e12_rows_is_a_budget_error_at_the_default_budget(tmp_path, sed):
    with pytest.raises(BudgetError, match="variable 'sed'"):
        fluxds.read(_hdf5_table_declaring(tmp_path, sed, 10**12))


def test_hdf5_table_chunk_inflating_past_its_declared_size_is_counted(tmp_path, sed):
    path = tmp_path / "sed.h5"
    fluxds.write(sed, path)
    chunked = tmp_path / "chunked.h5"
    with h5py.File(path, "r") as src, h5py.File(chunked, "w") as dst:
        dst.create_dataset("sed", data=src["sed"][()], chunks=(5,), compression="gzip")
        for key, value in src["sed"].attrs.items():
            dst["sed"].attrs[key] = value
        src.copy(src["sed.__table_column_meta__"], dst, "sed.__table_column_meta__")
    assert fluxds.read(chunked, max_bytes="8MiB").sizes == sed.sizes  # intact: fine
    _chunk_bomb(chunked, "sed", 40 * 2**20)
    with pytest.raises(BudgetError, match="variable 'sed'.*chunks HDF5 may inflate to"):
        fluxds.read(chunked, max_bytes="8MiB")


def test_hdf5_table_metadata_yaml_bomb_is_refused(tmp_path, sed):
    """astropy parses the table's metadata (YAML) on reading: aliases expanding a thousandfold are
    refused before it does."""
    path = tmp_path / "sed.h5"
    fluxds.write(sed, path)
    lines = ["meta:", "  a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"  {k}: &{k} [{', '.join([f'*{p}'] * 10)}]" for p, k in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    lines += ["datatype:", "- {name: e_ref, datatype: float64}"]
    with h5py.File(path, "a") as f:
        del f["sed.__table_column_meta__"]
        f.create_dataset("sed.__table_column_meta__", data=np.array([s.encode() for s in lines]))
    with pytest.raises(fluxds.FormatError, match="HDF5 table metadata"):
        fluxds.read(path)


# --- open_dataset(chunks=) ---------------------------------------------------------------------------------
def test_open_dataset_checks_coordinates_and_each_chunk_not_the_whole(tmp_path, sed):
    """A lazy open materialises the coordinates, and a computation one dask chunk: those are checked at
    open; the whole of a large variable is not (opening lazily is how to work beyond the budget)."""
    path = tmp_path / "sed.nc"
    write_netcdf(sed, path)
    _declare(path, "ref_npred", 200_000_000, chunks=1_000_000)  # 1.6 GB declared, chunks of 8 MB
    ds = fluxds.open_dataset(path, chunks={"big": 1_000_000}, max_bytes="64MiB")
    assert ds["ref_npred"].chunks is not None  # opened, nothing computed
    with pytest.raises(BudgetError, match="'ref_npred'.*one dask chunk.*choose smaller chunks="):
        fluxds.open_dataset(path, chunks={"big": 100_000_000}, max_bytes="64MiB")


def test_open_dataset_refuses_a_dask_graph_of_a_billion_chunks(tmp_path, sed):
    """A variable of 10^12 declared values in file chunks of 1000: ``chunks={}`` (the file's chunks) would
    make dask list 10^9 chunks (tens of GB) before computing anything; refused at open. Larger chunks
    open it lazily."""
    path = tmp_path / "sed.nc"
    write_netcdf(sed, path)
    _declare(path, "ref_npred", 10**12, chunks=1000)
    with pytest.raises(BudgetError, match="'ref_npred'.*1000000000 chunks.*choose larger chunks="):
        fluxds.open_dataset(path, chunks={})
    lazy = fluxds.open_dataset(path, chunks={"big": 10**8}, max_bytes="1GiB")
    assert lazy["ref_npred"].data.npartitions == 10**4


def test_open_dataset_refuses_a_huge_declared_coordinate(tmp_path, sed):
    path = tmp_path / "sed.nc"
    write_netcdf(sed, path)
    _huge_time_coordinate(path)
    with pytest.raises(BudgetError, match="variable 'time'"):
        fluxds.open_dataset(path, chunks={"time": 10**9})


# --- the HDF5 layout check on the netCDF route ------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", sorted(p.name for p in KNOWN.glob("*.h5")))
def test_damaged_hdf5_read_as_netcdf_is_refused_not_aborted(tmp_path, name, engine):
    """The fuzzer's damaged HDF5 tables (overlapping compound members), renamed .nc and read as netCDF,
    aborted the process ("double free", "munmap_chunk") in 4 of 4 cases. Read in a subprocess, so that a
    regression kills the child, not the test run: the child must exit normally with a FormatError
    naming the file."""
    path = tmp_path / name.replace(".h5", ".nc")
    path.write_bytes((KNOWN / name).read_bytes())
    code = (
        "import sys, fluxds\n"
        "try:\n"
        "    fluxds.read(sys.argv[1], format='netcdf', engine=sys.argv[2])\n"
        "except fluxds.FormatError as exc:\n"
        "    print('FormatError:', exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path), engine], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("FormatError:") and str(path) in done.stdout, done.stdout
    assert "overlaps member" in done.stdout and "damaged" in done.stdout


# --- data stored in other files ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("storage", ["external", "virtual"])
def test_variable_stored_in_another_file_is_refused(tmp_path, sed, engine, storage):
    """HDF5 lets a dataset keep its data in other files (external storage, virtual datasets): a netCDF-4
    file whose variable lives in a file outside it (here a stand-in for ``/etc/passwd``) would read that
    file as the variable's values. Refused before any data is read, through both engines."""
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"root:x:0:0:root:/root:/bin/bash\n" * 4)
    path = _netcdf(tmp_path, sed, engine)
    with h5py.File(path, "a") as f:
        if storage == "external":
            f.create_dataset("ref_npred", shape=(64,), dtype="u1", external=[(str(secret), 0, 64)])
        else:
            with h5py.File(tmp_path / "other.h5", "w") as other:
                other["data"] = np.arange(4.0)
            layout = h5py.VirtualLayout(shape=(4,), dtype="f8")
            layout[:] = h5py.VirtualSource(str(tmp_path / "other.h5"), "data", shape=(4,))
            f.create_virtual_dataset("ref_npred", layout)
    with pytest.raises(fluxds.FormatError, match=r"\[ref_npred\]: its data live in other files") as info:
        _read(path, engine)
    assert str(path) in str(info.value)


def test_hdf5_table_stored_in_another_file_is_refused(tmp_path, sed):
    path = tmp_path / "sed.h5"
    fluxds.write(sed, path)
    with h5py.File(path, "r") as f:
        rows = f["sed"][()]
    raw = tmp_path / "rows.bin"
    raw.write_bytes(rows.tobytes())
    with h5py.File(path, "a") as f:
        del f["sed"]
        f.create_dataset("sed", shape=rows.shape, dtype=rows.dtype, external=[(str(raw), 0, rows.nbytes)])
    with pytest.raises(fluxds.FormatError, match=r"\[sed\]: its data live in other files"):
        fluxds.read(path)


# --- classic netCDF (CDF-1/2/5): the header is checked before netCDF-C parses it ---------------------
def _classic(path: Path, fmt: str) -> Path:
    ds = xr.Dataset(
        {"a": (("t", "x"), np.arange(12.0).reshape(4, 3), {"units": "m", "v": np.arange(5)})},
        attrs={"title": "a classic file", "comment": "x" * 64},
    )
    ds.to_netcdf(path, format=fmt, engine="netcdf4", unlimited_dims=["t"])
    return path


@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET", "NETCDF3_64BIT_DATA"])
def test_valid_classic_headers_pass(tmp_path, fmt):
    from fluxds.io.guard.classic_header import check_classic_header

    check_classic_header(_classic(tmp_path / "c.nc", fmt))  # raises nothing


def test_classic_attribute_declaring_more_than_the_file_is_refused_before_netcdf_c_allocates(tmp_path):
    """The fuzz run's input 8045 of seed 5, rebuilt: one attribute's value count set to 587,203,002 in a
    7 kB classic file made ``nc_open`` allocate 560 MiB before failing; the header walk refuses it, naming
    the attribute, and the read's peak memory stays small."""
    path = _classic(tmp_path / "bomb.nc", "NETCDF3_CLASSIC")
    data = bytearray(path.read_bytes())
    at = data.index(b"comment") + len(b"comment") + 1 + 4  # name padded to 8, then the type: the count
    assert struct.unpack(">I", data[at : at + 4])[0] == 64
    data[at : at + 4] = struct.pack(">I", 587_203_002)
    path.write_bytes(bytes(data))
    code = f"""
import resource, fluxds
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    fluxds.read({str(path)!r}, format="netcdf")
except fluxds.FormatError as exc:
    print("refused:", exc)
print("grew", (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "refused:" in out and "bomb.nc" in out and "global attribute 1" in out, out
    assert int(out.rsplit("grew", 1)[1]) < 100, out  # MiB
