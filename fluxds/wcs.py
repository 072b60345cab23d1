"""Sky maps on a WCS grid: how the celestial WCS travels with a Dataset, and world coordinates.

A WCS flux map has the dimensions ``lat`` (image rows, FITS axis 2) and ``lon`` (image columns, FITS
axis 1), in numpy order ``[..., iy, ix]``. What travels with the data (the rioxarray ``spatial_ref`` idea):

- ``wcs``: a scalar coordinate (int 0) whose attribute ``header`` holds the celestial WCS header cards
  as text, one 80-character card per line (trailing blanks dropped), **verbatim** from the file, so
  every projection (CAR, TAN, AIT, ...) and every keyword (``LONPOLE``, ``PVi_m``, ``DATE-OBS``, ...)
  round-trips exactly; ``frame`` and ``projection`` attributes say what it is;
- ``ix`` (on ``lon``) and ``iy`` (on ``lat``): the pixel indices of each column/row in the image that the
  header describes. They follow ``isel``/``sel``, so a cutout keeps its sky positions: :func:`wcs_of`
  shifts ``CRPIX`` by the first index (a cutout must be contiguous);
- world coordinates in degrees, in the frame of the header (``frame`` attribute):

  - where the projection is *separable* on this grid (longitude depends on the column only and latitude
    on the row only: CAR/CEA/MER with ``CRVAL2 = 0`` and no rotation), 1-D dimension coordinates ``lon``
    and ``lat``, so ``ds.sel(lon=..., lat=..., method="nearest")`` and slices work. ``lon`` is made
    continuous across the map: it lies within 180 deg of ``CRVAL1`` (in [0, 360)), so a Galactic map
    centred on l = 0 has ``lon`` from +0.775 to -0.775, not 359.225;
  - otherwise (TAN, AIT, an oblique CAR ...), 2-D coordinates ``sky_lon`` and ``sky_lat`` on
    ``(lat, lon)``, as wcslib gives them (longitude in [0, 360), NaN off the sky) — CF's auxiliary
    coordinates of a curvilinear grid.

  :func:`world_coordinates` gives the 2-D pair for any projection.
"""

from __future__ import annotations

import functools
import re
import warnings
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS
from astropy.wcs.utils import wcs_to_celestial_frame

from fluxds.errors import SchemaError
from fluxds.wcs_header import celestial_header, header_from_text, header_text, precise_header

__all__ = [
    "WCS_COORD",
    "celestial_header",
    "header_text",
    "header_from_text",
    "wcs_coords",
    "assign_wcs",
    "wcs_of",
    "cached_wcs",
    "header_of",
    "is_wcs_map",
    "world_coordinates",
    "frame_name",
    "celestial_frame",
]

WCS_COORD = "wcs"
LAT, LON = "lat", "lon"
IX, IY = "ix", "iy"
SKY_LON, SKY_LAT = "sky_lon", "sky_lat"
# world coordinates of a separable grid: equal within this (deg) along a column / row
_SEPARABLE_ATOL = 1e-9

_LONG_NAMES = {
    "galactic": ("galactic longitude", "galactic latitude"),
    "icrs": ("right ascension (ICRS)", "declination (ICRS)"),
    "fk5": ("right ascension (FK5)", "declination (FK5)"),
    "fk4": ("right ascension (FK4)", "declination (FK4)"),
}


def _as_header(wcs_or_header: Any, where: str) -> fits.Header:
    if isinstance(wcs_or_header, WCS):
        if wcs_or_header.naxis != 2:
            wcs_or_header = wcs_or_header.celestial
        return celestial_header(precise_header(wcs_or_header), where=where)
    if isinstance(wcs_or_header, fits.Header):
        return celestial_header(wcs_or_header, where=where)
    if isinstance(wcs_or_header, str):
        return celestial_header(header_from_text(wcs_or_header), where=where)
    raise SchemaError(
        f"{where}: expected an astropy WCS, a FITS header or header text, got {type(wcs_or_header)}"
    )


def _wcs(header: fits.Header, shape: tuple[int, int] | None = None) -> WCS:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        wcs = WCS(header, naxis=2)
    if shape is not None:
        wcs.pixel_shape = (shape[1], shape[0])
    return wcs


def celestial_frame(wcs: WCS):
    """The astropy frame of a celestial WCS (with its equinox)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return wcs_to_celestial_frame(wcs)


def frame_name(wcs: WCS) -> str:
    """The astropy frame name of a celestial WCS (``galactic``, ``icrs``, ``fk5`` ...)."""
    return celestial_frame(wcs).name


def _wrapped_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs((a - b + 180.0) % 360.0 - 180.0)


def _separable_axes(wcs: WCS, ny: int, nx: int) -> tuple[np.ndarray, np.ndarray] | None:
    """1-D ``(lon, lat)`` if longitude depends on the column only and latitude on the row only,
    checked on three rows and three columns (first, middle, last); else None."""
    x, y = np.arange(nx, dtype=float), np.arange(ny, dtype=float)
    rows = np.unique([0, ny // 2, ny - 1]).astype(float)
    cols = np.unique([0, nx // 2, nx - 1]).astype(float)
    lon_r, lat_r = wcs.pixel_to_world_values(np.tile(x, rows.size), np.repeat(rows, nx))
    lon_c, lat_c = wcs.pixel_to_world_values(np.repeat(cols, ny), np.tile(y, cols.size))
    lon_r, lat_r = lon_r.reshape(rows.size, nx), lat_r.reshape(rows.size, nx)
    lon_c, lat_c = lon_c.reshape(cols.size, ny), lat_c.reshape(cols.size, ny)
    if not all(np.isfinite(a).all() for a in (lon_r, lat_r, lon_c, lat_c)):
        return None
    ok = (
        (_wrapped_difference(lon_r, lon_r[:1]) < _SEPARABLE_ATOL).all()
        and (_wrapped_difference(lon_c, lon_c[:, :1]) < _SEPARABLE_ATOL).all()
        and (np.abs(lat_c - lat_c[:1]) < _SEPARABLE_ATOL).all()
        and (np.abs(lat_r - lat_r[:, :1]) < _SEPARABLE_ATOL).all()
    )
    if not ok:
        return None
    centre = float(wcs.wcs.crval[0]) % 360.0
    lon = centre + (lon_r[0] - centre + 180.0) % 360.0 - 180.0
    return lon, lat_c[0]


def _coord_attrs(frame: str, which: int) -> dict[str, str]:
    names = _LONG_NAMES.get(frame, (f"{frame} longitude", f"{frame} latitude"))
    return {"units": "degree", "long_name": f"{names[which]} of the pixel centre", "frame": frame}


def wcs_coords(wcs_or_header: Any, shape: tuple[int, int], *, where: str = "") -> dict[str, xr.Variable]:
    """The coordinates of a WCS map of ``shape = (ny, nx)``: ``wcs``, ``ix``, ``iy`` and the world
    coordinates (``lon``/``lat`` or ``sky_lon``/``sky_lat``), ready for ``assign_coords``.

    Parameters
    ----------
    wcs_or_header : astropy.wcs.WCS, astropy.io.fits.Header or str
        The celestial WCS; a header keeps its cards verbatim, a WCS object is written as a header at
        full double precision.
    shape : tuple of int
        ``(ny, nx)``: the sizes of ``lat`` and ``lon``.
    where : str
        For messages.

    Returns
    -------
    dict of str to xarray.Variable
    """
    header = _as_header(wcs_or_header, where)
    ny, nx = (int(n) for n in shape)
    wcs = _wcs(header, (ny, nx))
    frame = frame_name(wcs)
    projection = wcs.wcs.ctype[0][-3:]
    coords = {
        WCS_COORD: xr.Variable(
            (),
            0,
            {
                "long_name": "celestial WCS of the lat/lon grid (FITS header cards in 'header')",
                "header": header_text(header),
                "frame": frame,
                "projection": projection,
            },
        ),
        IX: xr.Variable((LON,), np.arange(nx, dtype=np.int64), {"long_name": "image column index"}),
        IY: xr.Variable((LAT,), np.arange(ny, dtype=np.int64), {"long_name": "image row index"}),
    }
    axes = _separable_axes(wcs, ny, nx)
    if axes is not None:
        coords[LON] = xr.Variable((LON,), axes[0], _coord_attrs(frame, 0))
        coords[LAT] = xr.Variable((LAT,), axes[1], _coord_attrs(frame, 1))
    else:
        x, y = np.meshgrid(np.arange(nx, dtype=float), np.arange(ny, dtype=float))
        lon, lat = wcs.pixel_to_world_values(x, y)
        coords[SKY_LON] = xr.Variable((LAT, LON), lon, _coord_attrs(frame, 0))
        coords[SKY_LAT] = xr.Variable((LAT, LON), lat, _coord_attrs(frame, 1))
    return coords


def assign_wcs(ds: xr.Dataset, wcs_or_header: Any) -> xr.Dataset:
    """``ds`` (with ``lat``/``lon`` dimensions) with the WCS coordinates of :func:`wcs_coords`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from astropy.wcs import WCS
    >>> w = WCS(naxis=2); w.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]; w.wcs.crpix = [3.5, 2.5]
    >>> w.wcs.cdelt = [-0.1, 0.1]
    >>> ds = assign_wcs(xr.Dataset({"counts": (("lat", "lon"), np.zeros((4, 6)))}), w)
    >>> [round(float(v), 2) for v in ds.lon.values]
    [0.25, 0.15, 0.05, -0.05, -0.15, -0.25]
    """
    for dim in (LAT, LON):
        if dim not in ds.dims:
            raise SchemaError(f"a WCS map needs a {dim!r} dimension; dims are {tuple(ds.dims)}")
    return ds.assign_coords(wcs_coords(wcs_or_header, (ds.sizes[LAT], ds.sizes[LON])))


def _coord_variable(ds: Any, name: str) -> xr.Variable | None:
    """The coordinate ``name`` of a Dataset or DataArray as a Variable, or None (without building the
    mapping of all coordinates that ``ds.coords.variables`` makes on each call)."""
    coords = getattr(ds, "coords", None)
    if coords is None or name not in coords:
        return None
    if isinstance(ds, xr.Dataset):
        return ds.variables[name]
    return coords[name].variable


def is_wcs_map(ds: xr.Dataset) -> bool:
    """Whether ``ds`` is a WCS map (a ``wcs`` coordinate holding a header, and ``lat``/``lon`` dims)."""
    coord = _coord_variable(ds, WCS_COORD)
    return coord is not None and "header" in coord.attrs and LAT in ds.dims and LON in ds.dims


def _offsets(ds: xr.Dataset) -> tuple[int, int]:
    out = []
    for name in (IX, IY):
        coord = _coord_variable(ds, name)
        if coord is None:
            out.append(0)
            continue
        index = np.asarray(coord.values)
        if index.size > 1 and not np.all(np.diff(index) == 1):
            raise SchemaError(
                f"coordinate {name!r} is not contiguous (a strided or reordered selection); the WCS "
                "describes contiguous cutouts only: select with slices of step 1"
            )
        out.append(int(index[0]) if index.size else 0)
    return out[0], out[1]


def header_of(ds: xr.Dataset) -> fits.Header:
    """The celestial WCS header of a WCS map, with ``CRPIX`` shifted for a cutout (``ix``/``iy`` not
    starting at 0); the cards are verbatim otherwise.

    Raises
    ------
    SchemaError
        If ``ds`` is not a WCS map, or a cutout is not contiguous.
    """
    if not is_wcs_map(ds):
        raise SchemaError(
            "not a WCS map: needs 'lat'/'lon' dims and a scalar 'wcs' coordinate with a 'header' "
            "attribute (see fluxds.wcs.assign_wcs)"
        )
    header = header_from_text(ds[WCS_COORD].attrs["header"])
    _shift_crpix(header, *_offsets(ds))
    return header


def _shift_crpix(header: fits.Header, x0: int, y0: int) -> None:
    for axis, offset in ((1, x0), (2, y0)):
        if offset:
            keys = [k for k in header if re.fullmatch(rf"CRPIX{axis}[A-Z]?", k)] or [f"CRPIX{axis}"]
            for key in keys:
                header[key] = float(header.get(key, 0.0)) - offset


@functools.lru_cache(maxsize=32)
def _cached(text: str, x0: int, y0: int, ny: int, nx: int) -> WCS:
    header = header_from_text(text)
    _shift_crpix(header, x0, y0)
    return _wcs(header, (ny, nx))


def cached_wcs(ds: xr.Dataset) -> WCS:
    """:func:`wcs_of`, from a cache keyed by the header text, cutout offsets and shape (building a WCS
    costs milliseconds). The object is shared: do not modify it (``wcs_of`` gives a private copy)."""
    if not is_wcs_map(ds):
        header_of(ds)  # raises the error
    x0, y0 = _offsets(ds)
    text = _coord_variable(ds, WCS_COORD).attrs["header"]
    return _cached(text, x0, y0, ds.sizes[LAT], ds.sizes[LON])


def wcs_of(ds: xr.Dataset) -> WCS:
    """The astropy WCS of a WCS map (of a cutout: its own pixels), with ``pixel_shape`` set.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A WCS map.

    Returns
    -------
    astropy.wcs.WCS
        Two celestial axes; pixel ``(x, y) = (0, 0)`` is ``ds.isel(lon=0, lat=0)``.
    """
    return _wcs(header_of(ds), (ds.sizes[LAT], ds.sizes[LON]))


def world_coordinates(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """2-D world coordinates ``(lon, lat)`` in degrees on ``(lat, lon)``, for any projection.

    For a separable map, the 1-D coordinates broadcast; otherwise ``sky_lon``/``sky_lat``.
    """
    if SKY_LON in ds.coords:
        return ds[SKY_LON], ds[SKY_LAT]
    if LON in ds.coords and LAT in ds.coords:
        lon, lat = xr.broadcast(ds[LON], ds[LAT])
        return lon.transpose(LAT, LON), lat.transpose(LAT, LON)
    wcs = wcs_of(ds)
    x, y = np.meshgrid(np.arange(ds.sizes[LON], dtype=float), np.arange(ds.sizes[LAT], dtype=float))
    lon, lat = wcs.pixel_to_world_values(x, y)
    frame = frame_name(wcs)
    return (
        xr.DataArray(lon, dims=(LAT, LON), attrs=_coord_attrs(frame, 0)),
        xr.DataArray(lat, dims=(LAT, LON), attrs=_coord_attrs(frame, 1)),
    )
