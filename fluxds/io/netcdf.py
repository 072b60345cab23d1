"""netCDF through xarray (netcdf4 and h5netcdf engines), in the reversible CF encoding of
:mod:`fluxds.io.cf`: other tools read the files cleanly, fluxds reads them back exactly."""

from __future__ import annotations

import contextlib
import os

import xarray as xr

from fluxds.errors import FormatError
from fluxds.io.atomic import atomic_path
from fluxds.io.cf import decode, encode, netcdf_encoding
from fluxds.io.storage import merge_encoding, netcdf_storage
from fluxds.validate import validate

__all__ = ["read_netcdf", "write_netcdf", "WRITE_CHUNK_CACHE"]

# bytes of HDF5 chunk cache per variable while writing with the netcdf4 engine. netCDF-C's default,
# 64 MiB per variable, held every written chunk of a dask-backed write until the file closed: a 513 MiB
# cube written as 5 variables peaked at 750 MiB RSS (benchmarks/case_outofcore.py). Writes are of whole
# chunks (the file chunks are the dask chunks, fluxds.io.storage), so a cache of a few chunks suffices.
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
    :mod:`fluxds.io.storage`. A dask-backed Dataset is written chunk by chunk, never loaded whole.

    Parameters
    ----------
    ds : xarray.Dataset
    path : str or path-like
    engine : {"netcdf4", "h5netcdf"}
    overwrite : bool
    encoding : dict, optional
        Per-variable netCDF encoding (``{"norm": {"zlib": False}}``, ``{"norm": {"complevel": 9}}``),
        merged key by key over fluxds's defaults. Variable names are those of the file: map dims are
        ``iy``/``ix`` there (see :mod:`fluxds.io.cf`).

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


def read_netcdf(path: str | os.PathLike, *, engine: str | None = None) -> xr.Dataset:
    """Read a netCDF file written by fluxds (or any netCDF holding a valid fluxds Dataset)."""
    where = str(path)
    try:
        with xr.open_dataset(where, engine=engine) as opened:
            ds = decode(opened.load())
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None
    return validate(ds, where=where)
