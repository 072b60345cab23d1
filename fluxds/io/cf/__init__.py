"""netCDF and zarr: the likelihood form as CF-shaped variables (energy bounds, time in days since an
epoch, the reference model as a JSON attribute); :mod:`.encoding` (shared CF encoding), :mod:`.netcdf`,
:mod:`.zarr_store`, :mod:`.multi` (many files as one), :mod:`.storage` (compression and chunking)."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]

FORMATS = (
    Format(
        name="netcdf",
        summary="netCDF-4 (or classic) with CF conventions",
        containers=("netcdf",),
        reader="cf.netcdf:read_netcdf",
        writer="cf.netcdf:write_netcdf",
        default_for=("netcdf",),
        takes_sed_type=False,
    ),
    Format(
        name="zarr",
        summary="a zarr store with CF conventions",
        containers=("zarr",),
        reader="cf.zarr_store:read_zarr",
        writer="cf.zarr_store:write_zarr",
        default_for=("zarr",),
        takes_sed_type=False,
    ),
)
