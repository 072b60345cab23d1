"""netCDF through xarray (netcdf4 and h5netcdf engines), in the reversible CF encoding of
:mod:`fluxds.io.cf`: other tools read the files cleanly, fluxds reads them back exactly."""

from __future__ import annotations

import os

import xarray as xr

from fluxds.errors import FormatError
from fluxds.io.atomic import atomic_path
from fluxds.io.cf import decode, encode, netcdf_encoding
from fluxds.validate import validate

__all__ = ["read_netcdf", "write_netcdf"]


def write_netcdf(
    ds: xr.Dataset, path: str | os.PathLike, *, engine: str = "netcdf4", overwrite: bool = False
) -> None:
    """Write ``ds`` to netCDF-4 (atomic; refuses to overwrite unless asked).

    Parameters
    ----------
    ds : xarray.Dataset
    path : str or path-like
    engine : {"netcdf4", "h5netcdf"}
    overwrite : bool
    """
    encoded = encode(ds)
    with atomic_path(path, overwrite=overwrite) as tmp:
        encoded.to_netcdf(tmp, engine=engine, encoding=netcdf_encoding(encoded))


def read_netcdf(path: str | os.PathLike, *, engine: str | None = None) -> xr.Dataset:
    """Read a netCDF file written by fluxds (or any netCDF holding a valid fluxds Dataset)."""
    where = str(path)
    try:
        with xr.open_dataset(where, engine=engine) as opened:
            ds = decode(opened.load())
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None
    return validate(ds, where=where)
