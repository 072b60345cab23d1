"""Write a WCS map in gammapy's flux-map layout (see :mod:`fluxds.io.flux_maps`)."""

from __future__ import annotations

import os
from pathlib import Path

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds import schema
from fluxds.convert import to_sed_type
from fluxds.errors import FormatError
from fluxds.io.atomic import atomic_path
from fluxds.io.gadf_table import header_json
from fluxds.io.map_bands import Axis, bands_hdu
from fluxds.io.map_model import write_model_yaml
from fluxds.io.sed_files import _gti_hdu
from fluxds.wcs import LAT, LON, header_of, is_wcs_map

__all__ = ["write", "TABLE_MAPS", "TABLE_MAP_KEY"]

# maps gammapy must not read (its FluxMaps takes every image HDU of a likelihood file as a quantity):
# written as a one-row binary table with this keyword
TABLE_MAPS = ("norm_scan",)
TABLE_MAP_KEY = "FDSMAP"


def _axis_for(ds: xr.Dataset, dim: str) -> Axis:
    size = ds.sizes[dim]
    if dim == "scan":
        return Axis("scan", size, {"center": np.arange(size, dtype=np.float64)}, "DNDE_BIN")
    if dim in ds.coords and ds[dim].dtype.kind in "US":
        return Axis(dim, size, {"labels": np.asarray(ds[dim].values, dtype=str)}, dim.upper())
    values = ds[dim].values if dim in ds.coords else np.arange(size)
    return Axis(dim, size, {"center": np.asarray(values, dtype=np.float64)}, dim.upper())


def _energy_axis(ds: xr.Dataset) -> Axis:
    values = {}
    for key, coord in (("e_ref", schema.ENERGY), ("e_min", schema.ENERGY_MIN), ("e_max", schema.ENERGY_MAX)):
        if coord in ds.coords and not (
            key == "e_ref" and ds[coord].attrs.get("note") and schema.ENERGY_MIN in ds.coords
        ):
            values[key] = u.Quantity(ds[coord].values, ds[coord].attrs.get("units", "TeV"))
    return Axis("energy", ds.sizes[schema.ENERGY], values, "ENERGY")


def _image_hdu(name: str, var: xr.DataArray, wcs_header: fits.Header, bands: fits.BinTableHDU):
    extra = [d for d in var.dims if d not in (schema.ENERGY, LAT, LON)]
    data = np.asarray(var.transpose(schema.ENERGY, *extra, LAT, LON).values)
    if data.dtype == bool:
        data = data.astype(np.int64)  # FITS images hold no booleans (gammapy's choice)
    if name in TABLE_MAPS:
        dim = "(" + ",".join(str(n) for n in data.shape[::-1]) + ")"
        column = fits.Column(name.upper(), f"{data.size}D", dim=dim, array=data[np.newaxis])
        hdu = fits.BinTableHDU.from_columns([column], name=name.upper())
        hdu.header[TABLE_MAP_KEY] = (True, "a map, TDIM1 = image axes")
        hdu.header["BANDSHDU"] = bands.name
        return hdu
    header = wcs_header.copy()
    for key in ("AXCOLS", "INTERP"):
        for k in range(1, 4):
            if f"{key}{k}" in bands.header:
                header[f"{key}{k}"] = bands.header[f"{key}{k}"]
    header["WCSSHAPE"] = "(" + ",".join(str(n) for n in data.shape[::-1]) + ")"
    header["BANDSHDU"] = bands.name
    header["BUNIT"] = var.attrs.get("units", "")
    return fits.ImageHDU(data, header=header, name=name.upper())


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    sed_type: str | None = None,
    overwrite: bool = False,
    model_file: bool | str | os.PathLike = True,
) -> None:
    """Write a WCS map in gammapy's flux-map layout (atomic; refuses to overwrite unless asked).

    Parameters
    ----------
    ds : xarray.Dataset
        A WCS map (see :mod:`fluxds.wcs`).
    path : str or path-like
    sed_type : str, optional
        SED type of the quantity HDUs; default ``ds.attrs["sed_type_init"]``.
    overwrite : bool
    model_file : bool or path-like
        Also write the reference model as a gammapy model YAML (default ``<stem>_model.yaml`` beside the
        file) and name it in ``MODEL``, so that gammapy's ``FluxMaps.read`` finds it; False for none.
    """
    where = str(path)
    if not is_wcs_map(ds):
        raise FormatError(
            f"{where}: the flux-map format holds WCS maps (lat/lon dims and a 'wcs' coordinate)"
        )
    wcs_header = header_of(ds)
    has_norm = "norm" in ds.data_vars
    sed = (sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD) if has_norm else None
    out = to_sed_type(ds, sed, keep_likelihood=True) if has_norm and sed != schema.LIKELIHOOD else ds
    energy_axis = _energy_axis(ds)
    maps, per_energy = [], {}
    for name, var in out.data_vars.items():
        name = str(name)
        if name.startswith("gti_"):
            continue
        if {schema.ENERGY, LAT, LON} <= set(var.dims) and var.ndim <= 4:
            maps.append(name)
        elif var.dims == (schema.ENERGY,):
            per_energy[name.upper()] = (np.asarray(var.values), var.attrs.get("units", ""))
        else:
            raise FormatError(
                f"{where}: variable {name!r} has dims {var.dims}; a flux-map file holds maps on (energy, "
                "lat, lon) with at most one more axis, and per-energy columns"
            )
    if "norm_scan" in maps and "ref_dnde" in ds.data_vars:
        dnde_scan = ds["norm_scan"] * ds["ref_dnde"]
        dnde_scan.attrs["units"] = ds["ref_dnde"].attrs.get("units", "")
        out = out.assign(dnde_scan_values=dnde_scan)
        maps.insert(maps.index("norm_scan") + 1, "dnde_scan_values")
    primary = fits.PrimaryHDU()
    shared = bands_hdu("BANDS", [energy_axis], extra=per_energy)
    hdus = [primary]
    for name in maps:
        var = out[name]
        extra = [_axis_for(ds, d) for d in var.dims if d not in (schema.ENERGY, LAT, LON)]
        bands = bands_hdu(f"{name.upper()}_BANDS", [*extra, energy_axis]) if extra else shared
        hdus.append(_image_hdu(name, var, wcs_header, bands))
        if extra:
            hdus.append(bands)
    hdus.append(shared)
    if "gti_start" in ds.data_vars:
        hdus.append(_gti_hdu(ds))
    if sed is not None:
        primary.header["SED_TYPE"] = sed
    keyword = write_model_yaml(ds.attrs, Path(path), model_file, overwrite)
    if keyword:
        primary.header["MODEL"] = keyword
    primary.header["FDSATTRS"] = header_json(dict(ds.attrs))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)
