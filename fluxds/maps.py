"""Flux points from flux maps: the SED at one or many sky positions, as a Dataset with a ``source`` dim.

:func:`get_flux_points` works on WCS maps of any projection (:mod:`fluxds.wcs`) and on HEALPix maps (dims
``(energy, pixel)``, a ``pixel`` coordinate of HEALPix indices and a scalar ``healpix`` coordinate with
``nside``, ``order`` and ``frame`` attributes). Positions in any frame are transformed to the map's
frame; the pixel geometry is astropy's (``astropy.wcs`` world->pixel, ``astropy_healpix``), and all
positions are taken in one vectorised indexing step per variable (numpy fancy indexing of in-memory
arrays, xarray vectorised indexing of the others: no Python loop over positions, lazy on dask-backed
maps).

Speed (issue 16): the fixed cost of a call is kept small. Positions already in the map's frame are not
transformed (only where astropy's transform would be the identity: Galactic, ICRS, not FK4/FK5, whose
self-transform precesses even between equal equinoxes), the world->pixel->world round trip runs on plain
arrays, and in-memory variables are indexed with numpy directly, which leaves the Dataset construction
as the main fixed cost.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import (
    BaseCoordinateFrame,
    SkyCoord,
    SphericalRepresentation,
    UnitSphericalRepresentation,
    angular_separation,
    frame_transform_graph,
)
from astropy.wcs import WCS

from fluxds import schema
from fluxds.errors import SchemaError
from fluxds.wcs import LAT, LON, WCS_COORD, cached_wcs, celestial_frame, is_wcs_map

__all__ = ["get_flux_points", "OffMapWarning"]

SOURCE = "source"
DATASET = "dataset"
_CORNER = "corner"
# a world->pixel->world round trip further than this (deg) from the position: not on the map
_ROUNDTRIP_ATOL = 1e-6


class OffMapWarning(UserWarning):
    """Some positions lie off the map; their flux points are NaN."""


def _check_positions(positions) -> bool:
    """Whether ``positions`` (a SkyCoord, else a SchemaError) is a scalar."""
    if not isinstance(positions, SkyCoord):
        raise SchemaError(f"positions must be an astropy SkyCoord, got {type(positions).__name__}")
    return bool(positions.isscalar)


@functools.lru_cache(maxsize=64)
def _identity_self_transform(frame_class: type) -> bool:
    """Whether astropy's transform of a frame class to itself changes nothing (no transform steps:
    Galactic, ICRS ...; FK4 and FK5 precess, even between equal equinoxes)."""
    transform = frame_transform_graph.get_transform(frame_class, frame_class)
    return transform is not None and not transform.transforms


def _lonlat(positions: SkyCoord, frame: BaseCoordinateFrame) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude (deg, 1-D arrays) of the positions in ``frame``, the numbers of
    ``positions.transform_to(frame).spherical``; the transform is skipped where it would change nothing
    (an equivalent frame whose self-transform is the identity), the representation change where the
    data are spherical in degrees already."""
    if positions.is_equivalent_frame(frame) and _identity_self_transform(type(frame)):
        sky = positions
    else:
        sky = positions.transform_to(frame)
    data = sky.data
    spherical = (UnitSphericalRepresentation, SphericalRepresentation)
    if not (isinstance(data, spherical) and data.lon.unit == u.deg and data.lat.unit == u.deg):
        data = sky.spherical
    # copies: the result's source_lon/source_lat must not share memory with the caller's SkyCoord
    return np.array(np.ravel(data.lon.deg)), np.array(np.ravel(data.lat.deg))


@functools.lru_cache(maxsize=32)
def _wcs_frame(wcs: WCS) -> BaseCoordinateFrame:
    """The astropy frame of a (shared, unmodified: :func:`fluxds.wcs.cached_wcs`) WCS, cached."""
    return celestial_frame(wcs)


def _wcs_lookup(ds: xr.Dataset, positions: SkyCoord, method: str):
    """Pixel indices (and weights) of WCS positions: ``(near, linear, on_map, lon, lat)``."""
    wcs = cached_wcs(ds)
    ny, nx = ds.sizes[LAT], ds.sizes[LON]
    lon, lat = _lonlat(positions, _wcs_frame(wcs))
    with np.errstate(invalid="ignore"):
        x, y = wcs.world_to_pixel_values(lon, lat)
        lon2, lat2 = wcs.pixel_to_world_values(x, y)
        sep = np.rad2deg(angular_separation(*np.deg2rad([lon, lat, lon2, lat2])))
        sep = np.nan_to_num(sep, nan=np.inf)
        on_map = (
            np.isfinite(x) & np.isfinite(y) & (x >= -0.5) & (x <= nx - 0.5) & (y >= -0.5) & (y <= ny - 0.5)
        ) & (sep < _ROUNDTRIP_ATOL)
    x, y = np.where(on_map, x, 0.0), np.where(on_map, y, 0.0)
    # the nearest pixel; a tie (a position on the edge between pixels k and k + 1) goes to the LOWER
    # index k, as gammapy's FluxMaps.get_flux_points (scipy's RegularGridInterpolator 'nearest'): pixel k
    # holds (k - 1/2, k + 1/2]; the map's outer edges (-1/2 and n - 1/2) belong to the border pixels
    near = (
        np.clip(np.ceil(y - 0.5), 0, max(ny - 1, 0)).astype(np.int64),
        np.clip(np.ceil(x - 0.5), 0, max(nx - 1, 0)).astype(np.int64),
    )
    if method == "nearest":
        return near, None, on_map, lon, lat
    xc, yc = np.clip(x, 0, nx - 1), np.clip(y, 0, ny - 1)
    x0 = np.minimum(np.floor(xc).astype(np.int64), max(nx - 2, 0))
    y0 = np.minimum(np.floor(yc).astype(np.int64), max(ny - 2, 0))
    wx, wy = xc - x0, yc - y0
    x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
    corners_y = np.stack([y0, y0, y1, y1], axis=1)
    corners_x = np.stack([x0, x1, x0, x1], axis=1)
    weights = np.stack([(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx], axis=1)
    return near, ((corners_y, corners_x), weights), on_map, lon, lat


def _frame(name: str):
    """An astropy frame instance for a frame name (``galactic``, ``icrs``, ``fk5`` ...)."""
    cls = frame_transform_graph.lookup_name(str(name).lower())
    if cls is None:
        raise SchemaError(f"unknown sky frame {name!r} (astropy frame names: galactic, icrs, fk5 ...)")
    return cls()


def _healpix_lookup(ds: xr.Dataset, positions: SkyCoord, method: str):
    from astropy_healpix import HEALPix

    from fluxds.healpix import lonlat_to_pixel

    attrs = ds["healpix"].attrs
    try:
        nside, order, frame = int(attrs["nside"]), str(attrs["order"]).lower(), str(attrs["frame"])
    except KeyError as exc:
        raise SchemaError(
            f"the 'healpix' coordinate needs attributes nside, order and frame; missing {exc}"
        ) from None
    hp = HEALPix(nside=nside, order=order, frame=_frame(frame))
    lon, lat = _lonlat(positions, hp.frame)
    pixels = np.asarray(ds["pixel"].values, dtype=np.int64)
    sorter = np.argsort(pixels, kind="stable")
    ordered = pixels[sorter]

    def index_of(ipix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.clip(np.searchsorted(ordered, ipix), 0, max(ordered.size - 1, 0))
        found = ordered[pos] == ipix if ordered.size else np.zeros(ipix.shape, bool)
        return np.where(found, sorter[pos], 0), found

    # healpy's ang2pix (gammapy's choice), which also decides positions on pixel edges and corners
    near, on_map = index_of(lonlat_to_pixel(lon, lat, nside=nside, order=order))
    if method == "nearest":
        return (near,), None, on_map, lon, lat
    ipix, weights = hp.bilinear_interpolation_weights(lon * u.deg, lat * u.deg)
    corners, found = index_of(np.asarray(ipix, dtype=np.int64).T)
    on_map = on_map & found.all(axis=1)
    return (near,), ((corners,), np.asarray(weights, dtype=float).T), on_map, lon, lat


def _numpy_data(var: xr.Variable) -> np.ndarray | None:
    """The numpy array of a variable held in memory; None for dask arrays and for arrays a file backend
    reads lazily (asking for their ``.data`` would read all of them). xarray's ``_in_memory`` says which
    (there is no public test, and ``Variable.chunks`` costs more than the indexing); should xarray drop
    it, xarray's own indexing runs: slower, the same result."""
    if not getattr(var, "_in_memory", False):
        return None
    data = var.data
    return data if isinstance(data, np.ndarray) else None


def _take(var: xr.Variable, spatial: Sequence[str], index, dims, *, canonical: bool = False) -> xr.Variable:
    """``var`` at the pixels ``index`` (one integer array per spatial dim, on ``dims``), the spatial dims
    replaced in place by ``dims`` (xarray's vectorised indexing; numpy fancy indexing directly when the
    array is in memory and the spatial dims are adjacent: the same array, without xarray's overhead).
    ``canonical``: a numpy result comes transposed to the canonical dim order already."""
    first = var.dims.index(spatial[0])
    after = first + len(spatial)
    data = _numpy_data(var) if var.dims[first:after] == tuple(spatial) else None
    if data is None:
        return var.isel({d: xr.Variable(dims, i) for d, i in zip(spatial, index, strict=True)})
    values = data[(slice(None),) * first + tuple(index)]
    new_dims = (*var.dims[:first], *dims, *var.dims[after:])
    if canonical:
        values, new_dims = _transposed(values, new_dims)
    return xr.Variable(new_dims, values, var.attrs, var.encoding)


def _transposed(values: np.ndarray, dims: tuple) -> tuple[np.ndarray, tuple]:
    """``(values, dims)`` in the canonical dim order: a transposed view, as ``Variable.transpose``."""
    order = tuple(schema.canonical_dims(dims))
    if order == dims:
        return values, dims
    return np.transpose(values, [dims.index(d) for d in order]), order


def _extract(var: xr.Variable, spatial, near, linear, on_map, pos_dims: tuple) -> xr.Variable:
    """The values of one variable at the positions (Variable arithmetic: no alignment, lazy on dask),
    dims in the canonical order."""
    if linear is not None and var.dtype.kind == "f":
        index, weights = linear
        taken = _take(var, spatial, index, (*pos_dims, _CORNER))
        out = (taken * xr.Variable((*pos_dims, _CORNER), weights)).sum(_CORNER, skipna=False)
        out.attrs = dict(var.attrs)
    else:
        out = _take(var, spatial, near, pos_dims, canonical=on_map is None)
    if on_map is not None:  # some positions off the map
        out = out & on_map if out.dtype == bool else out.where(on_map)
    data = _numpy_data(out)
    if data is None:
        return out.transpose(*schema.canonical_dims(out.dims))
    values, dims = _transposed(data, out.dims)
    return out if dims == out.dims else xr.Variable(dims, values, out.attrs, out.encoding)


def get_flux_points(
    ds: xr.Dataset,
    positions: SkyCoord,
    *,
    method: str = "nearest",
    names: Sequence[str] | None = None,
    off_map: str = "nan",
) -> xr.Dataset:
    """The flux points of a flux map at one or many sky positions.

    Parameters
    ----------
    ds : xarray.Dataset
        A WCS map (dims ``lat``, ``lon``) or a HEALPix map (dim ``pixel``), numpy or dask-backed.
    positions : astropy.coordinates.SkyCoord
        One position or an array of N, in any frame (transformed to the map's frame).
    method : {"nearest", "linear"}
        The pixel holding the position (gammapy's choice; a position on the edge between two pixels
        takes the one of lower index, as gammapy's ``get_flux_points``), or bilinear interpolation
        between the four nearest pixel centres (WCS: clamped to the outermost centres within the last
        half pixel; HEALPix: ``astropy_healpix`` weights, NaN where a neighbour is not in a partial
        map). Boolean and integer variables (``is_ul``, ``success``) always take the nearest pixel.
    names : sequence of str, optional
        Source names, one per position; default ``pos0``, ``pos1``, ...
    off_map : {"nan", "raise"}
        Positions off the map give NaN (``False`` for booleans) and an :class:`OffMapWarning`, or raise
        :class:`fluxds.SchemaError`.

    Returns
    -------
    xarray.Dataset
        Every variable of the map at the positions, on ``(source, energy[, scan | dataset])`` (a scalar
        position gives a scalar ``source`` coordinate and no ``source`` dim, the xarray way); the
        energy-only variables (``ref_*``), GTI and attributes as they are; coordinates ``source`` (names),
        ``source_lon``/``source_lat`` (deg, in the map's frame). A likelihood SED: ``ds.sed.write`` writes
        it as a GADF SED file, one HDU per source.

    Examples
    --------
    >>> from astropy.coordinates import SkyCoord
    >>> import fluxds
    >>> fm = fluxds.read("tests/data/gammapy-written/fm_excess.fits")  # doctest: +SKIP
    >>> where = SkyCoord([0.0, 0.3], [0.0, 0.1], unit="deg", frame="galactic")
    >>> fp = fm.sed.get_flux_points(where, names=["centre", "east"])  # doctest: +SKIP
    """
    if method not in ("nearest", "linear"):
        raise SchemaError(f"method must be 'nearest' or 'linear', got {method!r}")
    if off_map not in ("nan", "raise"):
        raise SchemaError(f"off_map must be 'nan' or 'raise', got {off_map!r}")
    scalar = _check_positions(positions)
    if is_wcs_map(ds):
        spatial, drop = (LAT, LON), [WCS_COORD]
        near, linear, on_map, lon, lat = _wcs_lookup(ds, positions, method)
        frame = ds[WCS_COORD].attrs.get("frame", "")
    elif "pixel" in ds.dims and "healpix" in ds.coords:
        spatial, drop = ("pixel",), ["healpix"]
        near, linear, on_map, lon, lat = _healpix_lookup(ds, positions, method)
        frame = str(ds["healpix"].attrs.get("frame", ""))
    else:
        raise SchemaError(
            "get_flux_points needs a flux map: dims lat/lon with a 'wcs' coordinate (fluxds.wcs), or dim "
            "'pixel' with a 'healpix' coordinate"
        )
    n = lon.size
    if names is None:
        names = [f"pos{i}" for i in range(n)]  # distinct by construction
    else:
        names = [str(s) for s in names]
        if len(names) != n or len(set(names)) != n:
            raise SchemaError(f"names must hold {n} distinct names, one per position; got {len(names)}")
    if not on_map.all():
        bad = np.flatnonzero(~on_map)
        listed = ", ".join(f"{names[i]} ({lon[i]:.4f}, {lat[i]:.4f})" for i in bad[:5])
        message = f"{bad.size} of {n} positions lie off the map ({frame} deg): {listed}"
        if off_map == "raise":
            raise SchemaError(message)
        warnings.warn(message + "; their values are NaN", OffMapWarning, stacklevel=2)
    pos_dims: tuple = (SOURCE,)
    if scalar:  # index with 0-d arrays: no source dim, and no second indexing pass
        pos_dims, near, on_map, lon, lat = (), tuple(i[0] for i in near), on_map[0], lon[0], lat[0]
        linear = None if linear is None else (tuple(i[0] for i in linear[0]), linear[1][0])
    mask = None if np.all(on_map) else xr.Variable(pos_dims, on_map)
    variables = {}
    for name in ds.data_vars:
        var = ds.variables[name]
        if set(spatial) <= set(var.dims):
            variables[name] = _extract(var, spatial, near, linear, mask, pos_dims)
            spec = schema.VARIABLES.get(str(name))
            if spec is not None and spec.extra_dim == DATASET and DATASET not in var.dims:
                # a flux point holds per-dataset counts (GADF/gammapy: a vector per energy bin); the
                # map's are summed over its datasets: one dataset
                got = variables[name]
                variables[name] = xr.Variable((*got.dims, DATASET), got.data[..., np.newaxis], got.attrs)
        else:
            variables[name] = var
    pos_attrs = {"units": "degree", "frame": frame}
    coords = {
        SOURCE: xr.Variable(pos_dims, np.asarray(names[0] if scalar else names, dtype=str)),
        "source_lon": xr.Variable(
            pos_dims, lon, {**pos_attrs, "long_name": f"{frame} longitude of the position"}
        ),
        "source_lat": xr.Variable(
            pos_dims, lat, {**pos_attrs, "long_name": f"{frame} latitude of the position"}
        ),
    }
    for key in ds.coords:
        coord = ds.variables[key]
        if key not in drop and not set(coord.dims) & set(spatial):
            coords[str(key)] = coord
    return xr.Dataset(variables, coords=coords, attrs=dict(ds.attrs))
