"""netCDF through xarray (netcdf4 and h5netcdf engines), in the reversible CF encoding of
:mod:`fluxds.io.cf.encoding`: other tools read the files cleanly, fluxds reads them back exactly.

**Reading files from elsewhere.** Before xarray opens a file, and before anything is read or
decompressed:

- a netCDF-4 (HDF5) file passes :func:`fluxds.io.guard.hdf5_layout.check_hdf5_layout` on *every*
  dataset it holds (a damaged type or layout message otherwise makes the HDF5 C library abort the
  process while converting data, under netCDF-C and h5py alike);
- what the read materialises is computed from the file's metadata (declared shape x item size in Python
  integers, plus a copy where CF decoding masks or scales, plus the largest chunk HDF5 may inflate, see
  :mod:`fluxds.io.guard.hdf5_sizes`) and checked against the read budget (:mod:`fluxds.io.guard.budget`): each
  variable, then the whole read. A declared size beyond it is a :class:`~fluxds.errors.BudgetError`
  naming the file and the variable, whatever the engine.

**Which variables are read.** :func:`read_netcdf` loads the fluxds Dataset: the variables fluxds knows by name
(:data:`fluxds.schema.QUANTITY_NAMES`) and every variable whose dimensions are all dimensions of the data
model (:data:`fluxds.schema.DIMS`, their netCDF names :data:`fluxds.io.cf.encoding.FILE_DIMS`, and those of
``norm``), coordinates included. A variable with a dimension of its own (an extra ``junk(n)``, or the
coordinate variable ``junk(junk)`` of such a dimension) is *not loaded, and not counted*: it stays in the
returned Dataset unread (xarray's lazy array; a coordinate of such a dimension gets no index), read from the
file only if asked for (``ds["junk"].load()``, or a write of the Dataset). Nothing is lost, and a file
declaring a huge extra variable costs nothing to read.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import xarray as xr

from fluxds.errors import FluxdsError, FormatError
from fluxds.io.cf.encoding import bounds_names, decode, encode, netcdf_encoding, split_model_variables
from fluxds.io.cf.storage import merge_encoding, netcdf_storage
from fluxds.io.guard.budget import check_allocation, read_budget
from fluxds.io.guard.classic_header import check_classic_header
from fluxds.io.guard.hdf5_layout import check_hdf5_layout
from fluxds.io.output.atomic import atomic_path
from fluxds.validate import validate

__all__ = [
    "read_netcdf",
    "open_netcdf",
    "write_netcdf",
    "WRITE_CHUNK_CACHE",
    "DASK_BYTES_PER_CHUNK",
    "netcdf_read_plan",
    "check_netcdf_file",
]

# bytes of HDF5 chunk cache per variable while writing with the netcdf4 engine. netCDF-C's default,
# 64 MiB per variable, held every written chunk of a dask-backed write until the file closed: a 513 MiB
# cube written as 5 variables peaked at 750 MiB RSS (benchmarks/case_outofcore.py). Writes are of whole
# chunks (the file chunks are the dask chunks, fluxds.io.cf.storage), so a cache of a few chunks suffices.
WRITE_CHUNK_CACHE = 8 * 2**20


@contextlib.contextmanager
def _chunk_cache(engine: str):
    """The netCDF-C chunk cache set to :data:`WRITE_CHUNK_CACHE` per variable for files opened inside
    (a process-wide setting of the netCDF4 library, restored after)."""
    if engine != "netcdf4":
        yield  # h5netcdf/h5py: 1 MiB per dataset already
        return
    import netCDF4

    old = netCDF4.get_chunk_cache()
    netCDF4.set_chunk_cache(WRITE_CHUNK_CACHE, old[1], old[2])
    try:
        yield
    finally:
        netCDF4.set_chunk_cache(*old)


def write_netcdf(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    engine: str = "netcdf4",
    overwrite: bool = False,
    encoding: dict[str, dict] | None = None,
) -> None:
    """Write ``ds`` to netCDF-4 (atomic; refuses to overwrite unless asked).

    Data variables of 65536 values or more are compressed (zlib level 1 + shuffle) and maps are chunked
    256 x 256 pixels with the other dimensions whole (dask-backed variables: their dask chunks); see
    :mod:`fluxds.io.cf.storage`. A dask-backed Dataset is written chunk by chunk, never loaded whole.

    Parameters
    ----------
    ds : xarray.Dataset
    path : str or path-like
    engine : {"netcdf4", "h5netcdf"}
    overwrite : bool
    encoding : dict, optional
        Per-variable netCDF encoding (``{"norm": {"zlib": False}}``, ``{"norm": {"complevel": 9}}``),
        merged key by key over fluxds's defaults. Variable names are those of the file: map dims are
        ``iy``/``ix`` there (see :mod:`fluxds.io.cf.encoding`).

    Examples
    --------
    >>> import tempfile, xarray as xr, fluxds
    >>> ds = fluxds.read(fluxds.demo_path())
    >>> path = tempfile.mkdtemp() + "/crab.nc"
    >>> write_netcdf(ds, path, encoding={"norm": {"zlib": True, "complevel": 9}})
    >>> xr.testing.assert_identical(fluxds.read(path), ds)
    """
    encoded = encode(ds)
    chosen = merge_encoding(netcdf_storage(encoded), netcdf_encoding(encoded), encoding)
    with atomic_path(path, overwrite=overwrite) as tmp, _chunk_cache(engine):
        encoded.to_netcdf(tmp, engine=engine, encoding=chosen)


def _hdf5_chunk_transients(where: str) -> dict[str, int]:
    """For a netCDF-4 (HDF5) file: the layout check of every dataset, then, per root-level dataset (the
    variables xarray sees), the bytes HDF5 may allocate to decompress one of its chunks. ``{}`` for a
    netCDF-3 file, whose header is checked instead
    (:func:`fluxds.io.guard.classic_header.check_classic_header`:
    netCDF-C allocates what a classic header declares before it finds that the file does not hold it)."""
    import h5py

    from fluxds.io.guard.hdf5_sizes import chunk_bytes

    try:
        if not h5py.is_hdf5(where):
            check_classic_header(where)
            return {}
        with h5py.File(where, "r") as f:
            check_hdf5_layout(f, where)
            limit = read_budget()
            return {name: chunk_bytes(obj, limit) for name, obj in f.items() if isinstance(obj, h5py.Dataset)}
    except FluxdsError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None


def check_netcdf_file(path: str | os.PathLike) -> None:
    """The checks every netCDF file from elsewhere passes before netCDF-C or HDF5 reads it: the HDF5
    layout of every dataset of a netCDF-4 file, the header of a classic (CDF-1/2/5) file.

    Raises
    ------
    FormatError
        Naming the file and what is wrong.
    """
    _hdf5_chunk_transients(str(path))


def _product(values) -> int:
    n = 1
    for value in values:
        n *= int(value)
    return n


def _itemsize(dtype) -> int:
    try:
        return max(np.dtype(dtype).itemsize, 1)
    except TypeError:
        return 8


_DECODED_COPY = ("_FillValue", "missing_value", "scale_factor", "add_offset")


def _bytes(var: xr.Variable) -> tuple[int, int]:
    """(bytes the decoded variable holds, bytes of the raw array CF decoding holds beside it meanwhile)."""
    n = _product(var.shape)
    decoded = n * _itemsize(var.dtype)
    copied = any(key in var.encoding for key in _DECODED_COPY)
    return decoded, n * _itemsize(var.encoding.get("dtype", var.dtype)) if copied else 0


def netcdf_read_plan(opened: xr.Dataset) -> tuple[list[str], list[str]]:
    """Which variables of a lazily opened netCDF file :func:`read_netcdf` loads, and which it leaves unread.

    Parameters
    ----------
    opened : xarray.Dataset
        The file opened by xarray, nothing loaded.

    Returns
    -------
    load : list of str
        The variables of the fluxds Dataset: known by name (:data:`fluxds.schema.QUANTITY_NAMES`), and
        those whose dimensions are all dimensions of the data model (their coordinates included).
    unread : list of str
        Variables with a dimension of their own (and the coordinate of such a dimension), not part of
        any fluxds Dataset.
    """
    return split_model_variables({str(name): tuple(var.dims) for name, var in opened.variables.items()})


def _describe(var: xr.Variable, raw: int = 0, inflate: int = 0) -> str:
    text = f"declared shape {tuple(int(s) for s in var.shape)} of {var.dtype}"
    text += f", with its raw copy while CF decoding masks or scales it ({raw} bytes)" if raw else ""
    return text + (f", and chunks HDF5 may inflate to {inflate} bytes" if inflate else "")


def _check_budget(opened: xr.Dataset, names: list[str], transients: dict[str, int], where: str) -> None:
    """Each variable in ``names``, then all of them together, against the read budget (nothing read)."""
    total, peak, largest = 0, 0, None
    for name in names:
        var = opened.variables[name]
        decoded, raw = _bytes(var)
        inflate = transients.get(name, 0)
        transient = raw + inflate
        check_allocation(decoded + transient, path=where, variable=name, what=_describe(var, raw, inflate))
        total += decoded
        peak = max(peak, transient)
        if largest is None or decoded > _bytes(opened.variables[largest])[0]:
            largest = name
    if largest is not None:
        what = (
            f"reading the {len(names)} variables of the Dataset (the largest, {largest!r}, of "
            f"{_describe(opened.variables[largest])})"
        )
        check_allocation(total + peak, path=where, variable=largest, what=what)


def _open_lazily(where: str, engine: str | None, **kwargs) -> xr.Dataset:
    """xarray's lazy view of the file, without the default indexes (which would read the coordinates)."""
    try:
        return xr.open_dataset(where, engine=engine, create_default_indexes=False, **kwargs)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None


def read_netcdf(path: str | os.PathLike, *, engine: str | None = None) -> xr.Dataset:
    """Read a netCDF file written by fluxds (or any netCDF holding a valid fluxds Dataset).

    Checked before anything is read (module docstring): the HDF5 layout of a netCDF-4 file, and the
    declared sizes of the variables loaded against the read budget. Variables with a dimension of their
    own are left unread in the result (:func:`netcdf_read_plan`).

    Parameters
    ----------
    path : str or path-like
    engine : {"netcdf4", "h5netcdf"}, optional
        xarray's engine (default: xarray's choice, netcdf4 where installed).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    fluxds.errors.BudgetError
        A variable, or the whole read, declares more than the read budget.
    FormatError
        A damaged or unreadable file.
    """
    where = str(path)
    transients = _hdf5_chunk_transients(where)
    opened = _open_lazily(where, engine)
    try:
        load, _unread = netcdf_read_plan(opened)
        _check_budget(opened, load, transients, where)
        for name in load:
            opened.variables[name].load()
        indexed = opened.assign_coords(
            {name: opened.variables[name] for name in load if opened.variables[name].dims == (name,)}
        )
        ds = decode(indexed)
    except FluxdsError:
        raise
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None
    finally:
        opened.close()  # an unread variable reopens the file when asked for
    return validate(ds, where=where)


def open_netcdf(path: str | os.PathLike, chunks, *, engine: str | None = None, **kwargs) -> xr.Dataset:
    """Open a netCDF file as a dask-backed fluxds Dataset (:func:`fluxds.open_dataset`'s netCDF route).

    A lazy open materialises only the coordinates (they index the data, and are validated), and a
    computation at least one dask chunk of a variable. Before opening, as for :func:`read_netcdf`: the
    HDF5 layout check; then the coordinates against the read budget, the number of dask chunks of each
    variable (dask lists them all at open, :data:`DASK_BYTES_PER_CHUNK` bytes each: 10^9 chunks of a
    declared 10^12 values would be tens of GB), and, once the dask chunks are known, the largest chunk
    of each variable of the Dataset (plus what HDF5 may inflate while reading it). The whole of the
    data is *not* checked: opening lazily is how to work with files larger than the budget, and
    ``.load()``/``.compute()`` of all of it is the caller's decision.

    Parameters
    ----------
    path : str or path-like
    chunks : dict, int or "auto"
        As for :func:`xarray.open_dataset`.
    engine : {"netcdf4", "h5netcdf"}, optional
    **kwargs
        Passed to :func:`xarray.open_dataset`.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    fluxds.errors.BudgetError
        The coordinates, or one dask chunk of a variable, exceed the read budget.
    FormatError
        A damaged or unreadable file.
    """
    where = str(path)
    transients = _hdf5_chunk_transients(where)
    with _open_lazily(where, engine, **kwargs) as opened:
        load, _unread = netcdf_read_plan(opened)
        # decode reads the CF bounds of the binned axes
        coords = [name for name in load if name in opened.coords or name in bounds_names()]
        _check_budget(opened, coords, transients, where)
        for name, var in opened.variables.items():  # dask lists every chunk of every variable
            blocks = _dask_blocks(var, chunks)
            check_allocation(
                blocks * DASK_BYTES_PER_CHUNK,
                path=where,
                variable=str(name),
                what=f"a dask array of {blocks} chunks (choose larger chunks=)",
            )
        # the dimension coordinates of the Dataset, read (checked above) to index it; those of other
        # dimensions stay lazy and unindexed, as in read_netcdf
        indexed = {name: opened.variables[name].load() for name in coords if opened[name].dims == (name,)}
    try:
        ds = xr.open_dataset(where, chunks=chunks, engine=engine, create_default_indexes=False, **kwargs)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None
    try:
        ds = ds.assign_coords(indexed)
        for name in load:
            var = ds.variables.get(name)
            if var is None or var.chunks is None:
                continue
            block = _product(max(c) if c else 0 for c in var.chunks) * _itemsize(var.dtype)
            what = f"one dask chunk of {tuple(max(c) if c else 0 for c in var.chunks)} of {var.dtype}"
            transient = transients.get(name, 0)
            inflate = f", and chunks HDF5 may inflate to {transient} bytes" if transient else ""
            what += f"{inflate} (choose smaller chunks=)"
            check_allocation(block + transient, path=where, variable=name, what=what)
        return validate(decode(ds), where=where)
    except BaseException:
        ds.close()
        raise


#: what dask holds per chunk of an array before computing anything (its entry in ``.chunks``, its task)
DASK_BYTES_PER_CHUNK = 100


def _dask_blocks(var: xr.Variable, chunks) -> int:
    """How many dask chunks ``xr.open_dataset(chunks=chunks)`` gives ``var`` (from the metadata: the
    chunks asked for, else the file's preferred chunks, else whole dimensions; ``"auto"``: counted at
    the file's chunks, an upper bound)."""
    preferred = var.encoding.get("preferred_chunks") or {}
    blocks = 1
    for dim, size in zip(var.dims, var.shape, strict=True):
        asked = chunks.get(dim) if isinstance(chunks, dict) else chunks
        if isinstance(asked, (tuple, list)):
            blocks *= max(len(asked), 1)
            continue
        if not isinstance(asked, int) or isinstance(asked, bool) or asked <= 0:
            asked = preferred.get(dim) or size  # "auto", None, -1: at most the file's chunks
        blocks *= max(-(-int(size) // max(int(asked), 1)), 1)
    return blocks
