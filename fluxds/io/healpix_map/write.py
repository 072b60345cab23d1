"""Writing gammapy's HEALPix flux-map layout; the reader and the layout are in
:mod:`fluxds.io.healpix_map.read`."""

from __future__ import annotations

import os

import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds import schema
from fluxds.construct import EREF_DERIVED
from fluxds.convert import to_sed_type
from fluxds.errors import FormatError
from fluxds.healpix import HEALPIX_COORD, PIXEL, is_healpix_map
from fluxds.io.gti import gti_hdu
from fluxds.io.healpix_map.hdu import BOOL_KEY, COORDSYS
from fluxds.io.map_keywords import META_ATTRS, pack_attrs
from fluxds.io.output.atomic import atomic_path
from fluxds.units import format_unit, parse_unit

__all__ = ["write"]


def _column(name: str, values: np.ndarray) -> tuple[fits.Column, bool]:
    """A FITS column keeping the dtype (float32 E, float64 D, integers K); booleans as E (as gammapy)."""
    is_bool = values.dtype.kind == "b"
    if is_bool:
        values = values.astype(np.float32)
    fmt = {"f4": "E", "f8": "D"}.get(values.dtype.str[1:], "K" if values.dtype.kind in "iu" else "D")
    if fmt == "D" and values.dtype.kind not in "f":
        values = values.astype(np.float64)
    return fits.Column(name, fmt, array=values), is_bool


def _geometry_header(ds: xr.Dataset, indxschm: str) -> fits.Header:
    attrs = ds[HEALPIX_COORD].attrs
    nside, frame = int(attrs["nside"]), str(attrs.get("frame", "icrs"))
    if frame not in COORDSYS:
        raise FormatError(f"HEALPix frame {frame!r} cannot be written; expected one of {sorted(COORDSYS)}")
    header = fits.Header()
    header["COORDSYS"] = COORDSYS[frame]
    header["PIXTYPE"] = "HEALPIX"
    header["ORDERING"] = "NESTED" if attrs.get("order", "nested") == "nested" else "RING"
    header["INDXSCHM"] = indxschm
    header["ORDER"] = int(nside).bit_length() - 1
    header["NSIDE"] = nside
    header["FIRSTPIX"] = 0
    header["LASTPIX"] = 12 * nside**2 - 1
    header["HPX_CONV"] = "GADF"
    if frame != "galactic":
        header["EQUINOX"] = (2000.0, "Equinox of RA & DEC specifications")
    if attrs.get("region"):
        header["HPX_REG"] = str(attrs["region"])
    return header


def _bands_hdu(ds: xr.Dataset, name: str, energy_only: list[str]) -> fits.BinTableHDU:
    cols = [fits.Column("CHANNEL", "K", array=np.arange(ds.sizes[schema.ENERGY], dtype=np.int64))]
    for column, coord in (
        ("ENERGY", schema.ENERGY),
        ("E_MIN", schema.ENERGY_MIN),
        ("E_MAX", schema.ENERGY_MAX),
    ):
        if coord not in ds.coords or (coord == schema.ENERGY and ds[coord].attrs.get("note") == EREF_DERIVED):
            continue
        cols.append(fits.Column(column, "D", unit=ds[coord].attrs.get("units"), array=ds[coord].values))
    for var in energy_only:
        unit = ds[var].attrs.get("units")
        cols.append(
            fits.Column(var.upper(), "D", unit=unit or None, array=np.asarray(ds[var].values, np.float64))
        )
    hdu = fits.BinTableHDU.from_columns(cols, name=name)
    if schema.ENERGY_MIN in ds.coords:
        hdu.header["AXCOLS1"] = "E_MIN,E_MAX"
    hdu.header["INTERP1"] = "log"
    return hdu


def write(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a HEALPix flux map in gammapy's layout (one table HDU per quantity with its bands table).

    Parameters
    ----------
    ds : xarray.Dataset
        A HEALPix map (see :mod:`fluxds.healpix`): variables on ``(energy, pixel)`` become map HDUs,
        on ``(pixel,)`` single-column maps, on ``(energy,)`` ``REF_*``-style columns of the bands tables.
    path : str or path-like
    sed_type : str, optional
        SED type of the quantity HDUs (the norms are written beside them, so the file reads back to the
        very same Dataset); default ``ds.attrs["sed_type_init"]``.
    overwrite : bool
        Replace an existing file. Atomic either way.
    """
    where = str(path)
    if not is_healpix_map(ds):
        raise FormatError(
            f"{where}: not a HEALPix map (needs a 'pixel' dimension and a 'healpix' coordinate with "
            "nside/order/frame); write WCS maps with format='flux-map'"
        )
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    out = to_sed_type(ds, sed, keep_likelihood=True)
    nside = int(ds[HEALPIX_COORD].attrs["nside"])
    pixels = np.asarray(ds[PIXEL].values, dtype=np.int64)
    implicit = pixels.size == 12 * nside**2 and np.array_equal(pixels, np.arange(pixels.size))
    maps, single, energy_only = [], [], []
    for name, var in out.data_vars.items():
        dims = set(var.dims)
        if str(name).startswith("gti_"):
            continue
        if dims == {schema.ENERGY, PIXEL}:
            maps.append(str(name))
        elif dims == {PIXEL}:
            single.append(str(name))
        elif dims == {schema.ENERGY}:
            energy_only.append(str(name))
        else:
            raise FormatError(
                f"{where}: variable {name!r} has dims {var.dims}; a HEALPix map file holds variables on "
                "(energy, pixel), (pixel,) or (energy,) only: write netCDF, or select first"
            )
    geometry = _geometry_header(ds, "IMPLICIT" if implicit else "EXPLICIT")
    pix_format = "J" if pixels.size == 0 or pixels.max() < 2**31 else "K"
    hdus = [fits.PrimaryHDU()]
    for name in maps + single:
        var = out[name]
        extname = name.upper()
        cols = [] if implicit else [fits.Column("PIX", pix_format, array=pixels)]
        header = geometry.copy()
        if name in maps:
            values = np.asarray(var.transpose(schema.ENERGY, PIXEL).values)
            made = [_column(f"CHANNEL{i + 1}", values[i]) for i in range(values.shape[0])]
            header["BANDSHDU"] = f"{extname}_BANDS"
        else:
            made = [_column("CHANNEL1", np.asarray(var.values))]
        cols += [c for c, _ in made]
        if made[0][1]:
            header[BOOL_KEY] = "bool"
        hdu = fits.BinTableHDU.from_columns(cols, header=header, name=extname)
        hdu.header["BUNIT"] = format_unit(parse_unit(var.attrs["units"])) if var.attrs.get("units") else ""
        hdus.append(hdu)
        if name in maps:
            hdus.append(_bands_hdu(out, f"{extname}_BANDS", energy_only))
    if "gti_start" in ds.data_vars:
        hdus.append(gti_hdu(ds))
    hdus[0].header["SED_TYPE"] = out.attrs["sed_type"]
    hdus[0].header[META_ATTRS] = pack_attrs(ds)
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)
