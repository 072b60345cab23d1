"""A basic netCDF round trip through xarray (both engines). The full CF encoding is a later step."""

from __future__ import annotations

import os

import xarray as xr

from fluxds.errors import FormatError
from fluxds.io.atomic import atomic_path
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
    with atomic_path(path, overwrite=overwrite) as tmp:
        ds.to_netcdf(tmp, engine=engine)


def read_netcdf(path: str | os.PathLike, *, engine: str | None = None) -> xr.Dataset:
    """Read a netCDF file written by fluxds (or any netCDF holding a valid fluxds Dataset)."""
    where = str(path)
    try:
        with xr.open_dataset(where, engine=engine) as opened:
            ds = opened.load()
    except (OSError, ValueError) as exc:
        raise FormatError(f"{where}: not a readable netCDF file: {exc}") from None
    return validate(ds, where=where)
