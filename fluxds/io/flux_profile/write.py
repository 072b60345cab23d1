"""Writing gammapy's flux-profile table (see :mod:`fluxds.io.flux_profile.read` for the layout)."""

from __future__ import annotations

import os

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table

from fluxds import schema
from fluxds.errors import FormatError
from fluxds.io.flux_profile.columns import (
    ENERGY_COLUMNS,
    HDU_NAME,
    NOTES_KEY,
    REGION_DIM,
    SHAPE_COORD,
    SHARED_KEY,
    X_COLUMNS,
)
from fluxds.io.gti import gti_to_json
from fluxds.io.keywords import META_ATTRS, header_json, jsonable, standard_meta
from fluxds.io.output.atomic import atomic_path
from fluxds.units import format_unit, parse_unit

__all__ = ["profile_table_from_dataset", "write"]


def _check_dims(ds: xr.Dataset, where: str) -> None:
    if REGION_DIM not in ds.dims:
        raise FormatError(
            f"{where}: a profile table holds a Dataset with a 'region' dimension; this one has dims "
            f"{tuple(ds.dims)}"
        )
    for name, var in ds.data_vars.items():
        if str(name).startswith("gti_"):
            continue
        extra = [d for d in var.dims if d not in (REGION_DIM, schema.ENERGY)]
        if schema.ENERGY not in var.dims or len(extra) > 1:
            raise FormatError(
                f"{where}: variable {name!r} has dims {var.dims}; a profile table holds variables along "
                "'region' and 'energy' (with at most one 'scan'/'dataset' axis). Write netCDF instead, "
                "or select along the other dimensions first"
            )


def profile_table_from_dataset(ds: xr.Dataset, sed_type: str | None = None, *, where: str = "") -> Table:
    """The gammapy profile table of a Dataset with a ``region`` dimension.

    Parameters
    ----------
    ds : xarray.Dataset
    sed_type : str, optional
        SED type of the columns; default ``ds.attrs["sed_type_init"]`` (else ``likelihood``).
    where : str
        The target, for messages.

    Returns
    -------
    astropy.table.Table
        One row per region.
    """
    from fluxds.convert import to_sed_type

    _check_dims(ds, where)
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    out = to_sed_type(ds, sed, keep_likelihood=True)
    n = ds.sizes[REGION_DIM]
    table = Table()
    for name in X_COLUMNS:
        if name in ds.coords:
            table[name] = np.asarray(ds[name].values, dtype=np.float64)
            table[name].unit = format_unit(parse_unit(ds[name].attrs.get("units", "deg")))
    if "x_ref" not in table.colnames:
        raise FormatError(f"{where}: a profile needs an 'x_ref' coordinate on 'region' (projected distance)")
    table[REGION_DIM] = np.asarray(ds[REGION_DIM].values).astype(str)
    if SHAPE_COORD in ds.coords:
        table[SHAPE_COORD] = np.asarray(ds[SHAPE_COORD].values).astype(str)
    notes = {}
    for column, coord in ENERGY_COLUMNS.items():
        if coord in ds.coords:
            values = np.asarray(ds[coord].values, dtype=np.float64)
            table[column] = np.ascontiguousarray(np.broadcast_to(values, (n, values.size)))
            table[column].unit = format_unit(parse_unit(ds[coord].attrs.get("units")))
            if ds[coord].attrs.get("note"):
                notes[coord] = ds[coord].attrs["note"]
    shared = []
    for name, var in out.data_vars.items():
        if str(name).startswith("gti_"):
            continue
        if REGION_DIM not in var.dims:
            shared.append(str(name))
            var = var.expand_dims({REGION_DIM: n})
        extra = [d for d in var.dims if d not in (REGION_DIM, schema.ENERGY)]
        table[str(name)] = np.ascontiguousarray(var.transpose(REGION_DIM, schema.ENERGY, *extra).values)
        unit = var.attrs.get("units")
        if unit:
            table[str(name)].unit = format_unit(parse_unit(unit))
    attrs = {k: jsonable(v) for k, v in ds.attrs.items()}
    attrs[SHARED_KEY] = shared
    if notes:
        attrs[NOTES_KEY] = notes
    table.meta.update({k: v for k, v in standard_meta(ds, out.attrs["sed_type"]).items() if k != "GTI"})
    table.meta[META_ATTRS] = header_json(attrs)
    return table


def write(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a gammapy flux-profile table: FITS (``FLUXPOINTS`` and ``GTI`` HDUs) or ECSV (by the
    name; the GTI then goes into the table meta as JSON). Atomic; refuses to overwrite unless asked."""
    where = str(path)
    table = profile_table_from_dataset(ds, sed_type, where=where)
    gti = gti_to_json(ds)
    if where.lower().endswith(".ecsv"):
        if gti is not None:
            table.meta["GTI"] = gti
        with atomic_path(path, overwrite=overwrite) as tmp:
            table.write(tmp, format="ascii.ecsv")
        return
    from fluxds.io.gti import gti_hdu

    hdu = fits.table_to_hdu(table)
    hdu.name = HDU_NAME
    hdus = [fits.PrimaryHDU(), hdu]
    if gti is not None:
        hdus.append(gti_hdu(ds))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)
