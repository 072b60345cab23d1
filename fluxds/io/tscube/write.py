"""Writing fermipy/gttscube TS cubes; the layout and the reader are in :mod:`fluxds.io.tscube.read`."""

from __future__ import annotations

import json
import os

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table

from fluxds import schema
from fluxds.confidence import ul_conf_of
from fluxds.construct import EREF_DERIVED
from fluxds.errors import FormatError
from fluxds.io.map_keywords import META_ATTRS, keywords_from_attrs, pack_attrs
from fluxds.io.output.atomic import atomic_path
from fluxds.wcs import LAT, LON, header_of, is_wcs_map

__all__ = ["write"]

_PIXEL_DIMS = (LAT, LON)
_EBOUNDS = (("E_MIN", schema.ENERGY_MIN), ("E_MAX", schema.ENERGY_MAX), ("E_REF", schema.ENERGY))


def _compact(values: np.ndarray) -> np.ndarray:
    """float32 where that loses nothing (numbers computed from float32 columns), else float64."""
    values = np.asarray(values, dtype=np.float64)
    narrow = values.astype(np.float32)
    return narrow if np.array_equal(narrow.astype(np.float64), values, equal_nan=True) else values


def _rows(var: xr.DataArray, extra: tuple[str, ...]) -> np.ndarray:
    """(lat, lon, *extra) -> one row per pixel, in the FITS (column-wise) order of the image."""
    values = np.asarray(var.transpose(LAT, LON, *extra).values)
    return values.reshape((values.shape[0] * values.shape[1],) + values.shape[2:])


def _scandata(ds: xr.Dataset, where: str) -> Table:
    table = Table()
    has_scan = "scan" in ds.dims
    for name, var in ds.data_vars.items():
        dims = set(var.dims)
        if schema.ENERGY not in dims or not set(_PIXEL_DIMS) <= dims:
            continue
        extra = (schema.ENERGY, "scan") if "scan" in dims else (schema.ENERGY,)
        if dims != set(_PIXEL_DIMS + extra):
            raise FormatError(
                f"{where}: variable {name!r} has dims {var.dims}; a TS cube holds (energy, lat, lon) or "
                "(energy, lat, lon, scan): write netCDF, or select first"
            )
        if name in ("stat", "stat_scan"):
            continue
        values = _rows(var, extra)
        table[str(name).upper()] = values.astype(bool) if values.dtype.kind == "b" else values
    if "stat" in ds.data_vars:
        loglike = -0.5 * _rows(ds["stat"], (schema.ENERGY,)).astype(np.float64)
    elif has_scan and "stat_scan" in ds.data_vars:
        loglike = np.nanmax(-0.5 * _rows(ds["stat_scan"], (schema.ENERGY, "scan")), axis=-1)
    else:
        loglike = None
    if loglike is not None:
        table["LOGLIKE"] = _compact(loglike)
    if "stat_scan" in ds.data_vars:
        scan = -0.5 * _rows(ds["stat_scan"], (schema.ENERGY, "scan")).astype(np.float64)
        table["DLOGLIKE_SCAN"] = _compact(scan - loglike[..., None])
    ul_conf = ul_conf_of(ds.attrs)
    if ul_conf is not None:
        table.meta["UL_CONF"] = ul_conf
    return table


def _hdu(table: Table, name: str) -> fits.BinTableHDU:
    hdu = fits.table_to_hdu(table) if table.colnames else fits.BinTableHDU.from_columns([])
    hdu.name = name
    return hdu


def _ebounds(ds: xr.Dataset) -> fits.BinTableHDU:
    table = Table()
    table["CHANNEL"] = np.arange(1, ds.sizes[schema.ENERGY] + 1, dtype=np.int16)
    for column, coord in _EBOUNDS:
        if coord in ds.coords and not (
            coord == schema.ENERGY and ds[coord].attrs.get("note") == EREF_DERIVED
        ):
            table[column] = np.asarray(ds[coord].values, dtype=np.float64)
            table[column].unit = ds[coord].attrs.get("units") or None
    for name, var in ds.data_vars.items():
        if var.dims == (schema.ENERGY,):
            table[str(name).upper()] = np.asarray(var.values)
            table[str(name).upper()].unit = var.attrs.get("units") or None
    return _hdu(table, "EBOUNDS")


def write(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a TS cube (``PRIMARY`` TS image with the WCS, ``SCANDATA``, ``FITDATA``, ``BASELINE``,
    ``EBOUNDS``) from a WCS map with dims ``(energy, lat, lon[, scan])``.

    Parameters
    ----------
    ds : xarray.Dataset
        A WCS map (see :mod:`fluxds.wcs`) in likelihood form; variables on ``(lat, lon)`` go to
        ``FITDATA`` (``ts_image``, else ``fit_ts``, is the primary image), on ``(energy,)`` to ``EBOUNDS``.
    path : str or path-like
    sed_type : {None, "likelihood"}
        A TS cube holds norms only.
    overwrite : bool
        Replace an existing file. Atomic either way.
    """
    where = str(path)
    if sed_type not in (None, schema.LIKELIHOOD):
        raise FormatError(f"{where}: a TS cube holds the likelihood form (norms); sed_type={sed_type!r}")
    if not is_wcs_map(ds) or schema.ENERGY not in ds.dims:
        raise FormatError(f"{where}: a TS cube is written from a WCS map with energy, lat and lon dims")
    extra = [d for d in ds.dims if d not in (schema.ENERGY, LAT, LON, "scan")]
    if extra:
        raise FormatError(f"{where}: dims {extra} cannot go into a TS cube; select along them first")
    ny, nx = ds.sizes[LAT], ds.sizes[LON]
    image_var = "ts_image" if "ts_image" in ds.data_vars else "fit_ts"
    if image_var in ds.data_vars:
        image = np.asarray(ds[image_var].transpose(LAT, LON).values)
    else:
        image = np.full((ny, nx), np.nan, dtype=np.float32)
    primary = fits.PrimaryHDU(image, header=header_of(ds))
    baseline = ds.attrs.get("baseline")
    keywords_from_attrs(ds.attrs, primary.header)  # TELESCOP, INSTRUME ... as keywords (issue 13 item 17)
    primary.header[META_ATTRS] = pack_attrs(ds)
    fit = Table()
    for name, var in ds.data_vars.items():
        if set(var.dims) == set(_PIXEL_DIMS) and name != "ts_image":
            fit[str(name).upper()] = _rows(var, ())
    base = Table({k: np.asarray(v) for k, v in json.loads(baseline).items()}) if baseline else Table()
    hdus = [primary, _hdu(_scandata(ds, where), "SCANDATA"), _hdu(fit, "FITDATA"), _hdu(base, "BASELINE")]
    hdus.append(_ebounds(ds))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)
