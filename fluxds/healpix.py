"""Sky maps on a HEALPix grid: how the HEALPix geometry travels with a Dataset, and sky coordinates.

A HEALPix flux map has the dimensions ``("energy", "pixel")`` (instead of ``lat``/``lon``). What travels
with the data:

- ``pixel``: the dimension coordinate, the HEALPix pixel index (int64) in the map's ordering, in the
  order the pixels are stored (all-sky maps: ``0 .. 12 nside**2 - 1``; partial-sky maps: the pixels the
  file lists). It follows ``isel``/``sel``, so a selection of pixels stays a valid partial-sky map;
- ``healpix``: a scalar coordinate (int 0) whose attributes hold the geometry: ``nside`` (int),
  ``order`` (``"nested"`` or ``"ring"``), ``frame`` (an astropy frame name: ``"galactic"``, ``"icrs"``)
  and ``region`` (the partial-sky region as gammapy writes it in ``HPX_REG``, e.g. ``"DISK(0.,0.,15.)"``;
  ``""`` for an all-sky map or an explicit pixel list);
- ``sky_lon``/``sky_lat`` on ``pixel``: the pixel centres in degrees, in ``frame`` (longitude in
  [0, 360)). The names are those :mod:`fluxds.wcs` gives the 2-D world coordinates of a non-separable
  WCS map: auxiliary coordinates that are not dimensions.

All pixel geometry is astropy-healpix's (:class:`astropy_healpix.HEALPix`), except which pixel holds a
sky position (:func:`lonlat_to_pixel`): HEALPix's own ``ang2pix`` (healpy's, so gammapy's), which also
decides positions on a pixel edge or corner.
"""

from __future__ import annotations

import re
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord, angular_separation
from astropy_healpix import HEALPix

from fluxds.errors import FormatError, SchemaError

__all__ = [
    "HEALPIX_COORD",
    "PIXEL",
    "SKY_LON",
    "SKY_LAT",
    "check_nside",
    "healpix_coords",
    "assign_healpix",
    "is_healpix_map",
    "healpix_of",
    "pixel_skycoord",
    "pixel_positions",
    "index_positions",
    "lonlat_to_pixel",
    "interpolation_weights",
    "region_pixels",
    "region_size",
]

HEALPIX_COORD = "healpix"
PIXEL = "pixel"
SKY_LON, SKY_LAT = "sky_lon", "sky_lat"
ORDERS = ("nested", "ring")
MAX_NSIDE = 2**29
_LONG_NAMES = {
    "galactic": ("galactic longitude", "galactic latitude"),
    "icrs": ("right ascension (ICRS)", "declination (ICRS)"),
    "fk5": ("right ascension (FK5)", "declination (FK5)"),
}


def check_nside(nside: Any, *, where: str = "") -> int:
    """``nside`` as an int, checked: a power of two from 1 to 2**29.

    Raises
    ------
    FormatError
        Naming ``where``, the value found and what is expected.
    """
    try:
        value = int(nside)
        exact = value == float(nside)
    except (TypeError, ValueError):
        value, exact = -1, False
    if not exact or value < 1 or value > MAX_NSIDE or value & (value - 1):
        raise FormatError(f"{where}NSIDE is {nside!r}; expected a power of two from 1 to {MAX_NSIDE}")
    return value


def _order(order: str, where: str = "") -> str:
    key = str(order).strip().lower()
    key = {"nest": "nested", "nested": "nested", "ring": "ring"}.get(key, key)
    if key not in ORDERS:
        raise FormatError(f"{where}ordering is {order!r}; expected 'nested' or 'ring'")
    return key


def _hpx(nside: int, order: str, frame: str) -> HEALPix:
    return HEALPix(nside=nside, order=order, frame=frame)


def healpix_coords(
    nside: int,
    *,
    order: str = "nested",
    frame: str = "icrs",
    pixels: Any = None,
    region: str = "",
    sky_coords: bool = True,
    where: str = "",
) -> dict[str, xr.Variable]:
    """The coordinates of a HEALPix map: ``pixel``, ``healpix`` and (optionally) ``sky_lon``/``sky_lat``.

    Parameters
    ----------
    nside : int
        HEALPix NSIDE (a power of two).
    order : {"nested", "ring"}
        Pixel ordering.
    frame : str
        Astropy frame name of the pixelisation (``"galactic"``, ``"icrs"`` ...).
    pixels : array_like of int, optional
        The pixel indices held, in storage order; default all ``12 nside**2`` pixels.
    region : str
        The partial-sky region text (``HPX_REG``), ``""`` when none.
    sky_coords : bool
        Add the pixel centres ``sky_lon``/``sky_lat`` (degrees).
    where : str
        For messages.

    Returns
    -------
    dict of str to xarray.Variable

    Raises
    ------
    FormatError
        Bad NSIDE or ordering, or a pixel index outside ``[0, 12 nside**2)`` or given twice.
    """
    where = f"{where}: " if where and not where.endswith(": ") else where
    nside = check_nside(nside, where=where)
    order = _order(order, where)
    hpx = _hpx(nside, order, frame)
    npix = int(hpx.npix)
    if pixels is None:
        index = np.arange(npix, dtype=np.int64)
    else:
        index = np.asarray(pixels)
        if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
            raise FormatError(
                f"{where}pixel indices must be a 1-D integer array, found {index.dtype} {index.shape}"
            )
        index = index.astype(np.int64)
        bad = (index < 0) | (index >= npix)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                f"{where}pixel index {int(index[i])} (entry {i}) is outside [0, {npix}) for NSIDE {nside}"
            )
        unique, counts = np.unique(index, return_counts=True)
        if (counts > 1).any():
            raise FormatError(f"{where}pixel index {int(unique[counts > 1][0])} is listed more than once")
    coords = {
        PIXEL: xr.Variable(
            (PIXEL,), index, {"long_name": f"HEALPix pixel index ({order} ordering, NSIDE {nside})"}
        ),
        HEALPIX_COORD: xr.Variable(
            (),
            0,
            {
                "long_name": "HEALPix geometry of the pixel dimension",
                "nside": nside,
                "order": order,
                "frame": hpx.frame.name,
                "region": str(region or ""),
            },
        ),
    }
    if sky_coords:
        lon, lat = hpx.healpix_to_lonlat(index)
        names = _LONG_NAMES.get(hpx.frame.name, (f"{hpx.frame.name} longitude", f"{hpx.frame.name} latitude"))
        for name, angle, long_name in ((SKY_LON, lon, names[0]), (SKY_LAT, lat, names[1])):
            attrs = {
                "units": "degree",
                "long_name": f"{long_name} of the pixel centre",
                "frame": hpx.frame.name,
            }
            coords[name] = xr.Variable((PIXEL,), angle.to_value(u.deg), attrs)
    return coords


def assign_healpix(
    ds: xr.Dataset,
    nside: int,
    *,
    order: str = "nested",
    frame: str = "icrs",
    region: str = "",
    sky_coords: bool = True,
) -> xr.Dataset:
    """``ds`` (with a ``pixel`` dimension) with the HEALPix coordinates of :func:`healpix_coords`; the
    pixel indices are ``ds.pixel`` where it exists, else all pixels of the sky (then the dimension
    must have ``12 nside**2`` entries).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"counts": (("pixel",), np.zeros(12))})
    >>> ds = assign_healpix(ds, 1, order="ring", frame="galactic")
    >>> ds.healpix.attrs["nside"], float(ds.sky_lat[0])
    (1, 41.810314895778596)
    """
    if PIXEL not in ds.dims:
        raise SchemaError(f"a HEALPix map needs a 'pixel' dimension; dims are {tuple(ds.dims)}")
    pixels = ds[PIXEL].values if PIXEL in ds.coords else None
    coords = healpix_coords(
        nside, order=order, frame=frame, pixels=pixels, region=region, sky_coords=sky_coords
    )
    if coords[PIXEL].size != ds.sizes[PIXEL]:
        raise SchemaError(
            f"the 'pixel' dimension has {ds.sizes[PIXEL]} entries; an all-sky map of NSIDE {nside} has "
            f"{coords[PIXEL].size}: give the pixel indices as the 'pixel' coordinate"
        )
    return ds.assign_coords(coords)


def is_healpix_map(ds: xr.Dataset | xr.DataArray) -> bool:
    """Whether ``ds`` is a HEALPix map (a ``pixel`` dimension and a ``healpix`` coordinate with ``nside``)."""
    return PIXEL in ds.dims and HEALPIX_COORD in ds.coords and "nside" in ds[HEALPIX_COORD].attrs


def _geometry(ds: xr.Dataset | xr.DataArray) -> tuple[int, str, str]:
    if not is_healpix_map(ds):
        raise SchemaError(
            "not a HEALPix map: needs a 'pixel' dimension and a scalar 'healpix' coordinate with "
            "nside/order/frame attributes (see fluxds.healpix.assign_healpix)"
        )
    attrs = ds[HEALPIX_COORD].attrs
    return check_nside(attrs["nside"]), _order(attrs.get("order", "nested")), str(attrs.get("frame", "icrs"))


def healpix_of(ds: xr.Dataset | xr.DataArray) -> HEALPix:
    """The :class:`astropy_healpix.HEALPix` pixelisation of a HEALPix map (NSIDE, ordering, frame)."""
    return _hpx(*_geometry(ds))


def pixel_skycoord(ds: xr.Dataset | xr.DataArray) -> SkyCoord:
    """The centres of the pixels held (in ``pixel`` order) as a :class:`~astropy.coordinates.SkyCoord`."""
    hpx = healpix_of(ds)
    return hpx.healpix_to_skycoord(np.asarray(ds[PIXEL].values))


def index_positions(ds: xr.Dataset | xr.DataArray, index: np.ndarray) -> np.ndarray:
    """For each HEALPix pixel index, its position along ``pixel`` in a map.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A HEALPix map (its ``pixel`` coordinate holds the indices of the pixels it stores).
    index : array_like of int
        HEALPix pixel indices in the map's ordering, any shape.

    Returns
    -------
    numpy.ndarray of int64
        Shape of ``index``; -1 where the map does not hold the pixel (partial-sky maps).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(coords={"pixel": ("pixel", np.array([7, 3, 5]))})
    >>> index_positions(ds, np.array([[3, 4], [7, 5]]))
    array([[ 1, -1],
           [ 0,  2]])
    """
    held = np.asarray(ds[PIXEL].values, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    if held.size == 0:
        return np.full(index.shape, -1, dtype=np.int64)
    order = np.argsort(held, kind="stable")
    sorted_held = held[order]
    at = np.clip(np.searchsorted(sorted_held, index), 0, held.size - 1)
    return np.where(sorted_held[at] == index, order[at], -1).astype(np.int64)


def pixel_positions(ds: xr.Dataset | xr.DataArray, positions: SkyCoord) -> np.ndarray:
    """For each sky position, the position along ``pixel`` of the pixel that contains it.

    Parameters
    ----------
    ds : xarray.Dataset or xarray.DataArray
        A HEALPix map.
    positions : astropy.coordinates.SkyCoord
        Any shape, any frame (converted to the map's).

    Returns
    -------
    numpy.ndarray of int64
        Shape of ``positions``; -1 where the pixel is not in the map (partial-sky maps).
    """
    nside, order, _ = _geometry(ds)
    sph = positions.transform_to(healpix_of(ds).frame).spherical
    return index_positions(ds, lonlat_to_pixel(sph.lon.deg, sph.lat.deg, nside=nside, order=order))


_INV_HALFPI = 0.6366197723675813430755350534900574  # 2 / pi, as HEALPix writes it
_TWOTHIRD = 2.0 / 3.0


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """The bits of ``v`` (< 2**32) interleaved with zeros: bit i goes to bit 2 i."""
    v = v.astype(np.int64)
    for shift, mask in (
        (16, 0x0000FFFF0000FFFF),
        (8, 0x00FF00FF00FF00FF),
        (4, 0x0F0F0F0F0F0F0F0F),
        (2, 0x3333333333333333),
        (1, 0x5555555555555555),
    ):
        v = (v | (v << shift)) & mask
    return v


def _xyf_to_nested(ix: np.ndarray, iy: np.ndarray, face: np.ndarray, level: int) -> np.ndarray:
    return (face.astype(np.int64) << (2 * level)) + _spread_bits(ix) + (_spread_bits(iy) << 1)


def lonlat_to_pixel(lon, lat, *, nside: int, order: str) -> np.ndarray:
    """The HEALPix pixel that holds each position, decided as healpy's ``ang2pix`` (hence gammapy) does.

    A position on the edge or corner of pixels belongs to one of them by the floating-point arithmetic of
    HEALPix's ``ang2pix`` (Gorski et al. 2005; the C++ library healpy wraps), which this reproduces step
    by step in numpy: colatitude ``theta = pi/2 - lat`` (radians), ``z = cos(theta)``, then the ring /
    nested index. astropy-healpix works from the latitude directly and decides some of these ties
    otherwise (e.g. ``(l, b) = (45, 0)`` deg at nside 4: astropy-healpix ring pixel 74, healpy 90).

    Parameters
    ----------
    lon, lat : array_like
        Longitude and latitude in degrees, in the map's frame (any shape, broadcast together).
    nside : int
        A power of two, 1 to 2**29.
    order : {"ring", "nested"}
        The pixel ordering.

    Returns
    -------
    numpy.ndarray of int64
        HEALPix indices; -1 where ``lon`` or ``lat`` is not finite or ``|lat| > 90``.
    """
    nside = check_nside(nside)
    nested = _order(order) == "nested"
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lat) <= 90.0)
    lon, lat = np.where(valid, lon, 0.0), np.where(valid, lat, 0.0)
    theta = np.pi / 2.0 - lat * (np.pi / 180.0)  # as gammapy: degrees -> radians -> colatitude
    z, sth = np.cos(theta), np.sin(theta)
    near_pole = (theta < 0.01) | (theta > 3.14159 - 0.01)
    za = np.abs(z)
    v = lon * (np.pi / 180.0) * _INV_HALFPI
    tt = np.where(v >= 0, np.where(v < 4.0, v, np.fmod(v, 4.0)), np.fmod(v, 4.0) + 4.0)
    tt = np.where(tt == 4.0, 0.0, tt)  # in [0, 4)
    n = np.int64(nside)
    # equatorial belt (|z| <= 2/3): indices of the ascending and descending edge lines
    temp1, temp2 = n * (0.5 + tt), n * (z * 0.75)
    jp, jm = (temp1 - temp2).astype(np.int64), (temp1 + temp2).astype(np.int64)
    # polar caps
    ntt = np.minimum(3, tt.astype(np.int64))
    tp = tt - (ntt if nested else tt.astype(np.int64))
    cap = np.where(
        (za < 0.99) | ~near_pole, n * np.sqrt(3.0 * (1.0 - za)), n * sth / np.sqrt((1.0 + za) / 3.0)
    )
    cjp, cjm = (tp * cap).astype(np.int64), ((1.0 - tp) * cap).astype(np.int64)
    if nested:
        level = int(nside).bit_length() - 1
        ifp, ifm = jp >> level, jm >> level
        face = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
        belt = _xyf_to_nested(jm & (n - 1), n - (jp & (n - 1)) - 1, face, level)
        cjp, cjm = np.minimum(cjp, n - 1), np.minimum(cjm, n - 1)
        north = _xyf_to_nested(n - cjm - 1, n - cjp - 1, ntt, level)
        south = _xyf_to_nested(cjp, cjm, ntt + 8, level)
        caps = np.where(z >= 0, north, south)
    else:
        nl4 = 4 * n
        ring = n + 1 + jp - jm
        t1 = jp + jm - n + (1 - (ring & 1)) + 1 + 2 * nl4
        belt = 2 * n * (n - 1) + (ring - 1) * nl4 + (t1 >> 1) % nl4
        cring = cjp + cjm + 1
        cip = (tt * cring).astype(np.int64)
        caps = np.where(z > 0, 2 * cring * (cring - 1) + cip, 12 * n * n - 2 * cring * (cring + 1) + cip)
    return np.where(valid, np.where(za <= _TWOTHIRD, belt, caps), -1).astype(np.int64)


def interpolation_weights(
    ds: xr.Dataset | xr.DataArray, positions: SkyCoord
) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear interpolation on the sphere (astropy-healpix's scheme): the four neighbouring pixels of
    each position, as positions along ``pixel``, and their weights.

    Returns
    -------
    index : numpy.ndarray of int64
        Shape ``(4,) + positions.shape``; -1 where a neighbour is not in the map.
    weights : numpy.ndarray of float
        Same shape; they sum to 1 over the first axis.
    """
    hpx = healpix_of(ds)
    coord = positions.transform_to(hpx.frame).spherical
    pix, weights = hpx.bilinear_interpolation_weights(coord.lon, coord.lat)
    return index_positions(ds, pix), weights


_REGION = re.compile(r"^\s*([A-Za-z_]*)\s*\((.*)\)\s*$")


def _region_parts(region: str) -> tuple[str, list[str]]:
    match = _REGION.match(str(region))
    tokens = [t.strip() for t in match.group(2).split(",")] if match else []
    return (match.group(1).upper() if match else ""), tokens


def _region_error(region: str, where: str) -> FormatError:
    return FormatError(
        f"{where}region {region!r} is not a HEALPix region; expected DISK(lon,lat,radius), "
        "DISK_INC(lon,lat,radius,fact) or HPX_PIXEL(NESTED|RING,nside,ipix)"
    )


def region_size(nside: int, region: str, *, where: str = "") -> int:
    """How many pixels a partial-sky region holds at most, computed from its parameters alone (no
    pixel is listed): what a reader checks against the read budget before :func:`region_pixels`.

    ``DISK``/``DISK_INC``: the pixels of a disc of the radius widened by two pixel sizes,
    ``12 nside**2 (1 - cos r') / 2`` (an upper bound of both the pixels whose centres lie in the disc and
    those that overlap it); ``HPX_PIXEL``: ``(nside / nside_pix)**2`` (1 when the region's pixel is the
    smaller).

    Parameters
    ----------
    nside : int
        NSIDE of the map (a power of two).
    region : str
        gammapy's ``HPX_REG`` text.
    where : str
        For messages.

    Returns
    -------
    int
        An upper bound of the number of pixels, at most ``12 nside**2``.

    Raises
    ------
    FormatError
        A region text that is none of these, or parameters that are not finite numbers.

    Examples
    --------
    >>> region_size(65536, "DISK(0,0,10)") > 10**8
    True
    >>> region_size(1024, "HPX_PIXEL(NESTED,4,7)")
    65536
    """
    where = f"{where}: " if where and not where.endswith(": ") else where
    nside = check_nside(nside, where=where)
    npix = 12 * nside**2
    kind, tokens = _region_parts(region)
    try:
        if kind in ("DISK", "DISK_INC") and len(tokens) >= 3:
            lon, lat, radius = (float(t) for t in tokens[:3])
            if not np.isfinite([lon, lat, radius]).all():
                raise ValueError("the disc's centre and radius must be finite numbers")
            widened = min(np.radians(max(radius, 0.0)) + 2.0 * np.sqrt(4.0 * np.pi / npix), np.pi)
            return int(min(npix, np.ceil(npix * (1.0 - np.cos(widened)) / 2.0) + 12))
        if kind == "HPX_PIXEL" and len(tokens) == 3:
            coarse = check_nside(tokens[1], where=where)
            return (nside // coarse) ** 2 if coarse <= nside else 1
    except ValueError as exc:
        raise FormatError(f"{where}region {region!r} cannot be read: {exc}") from None
    raise _region_error(region, where)


def region_pixels(nside: int, order: str, frame: str, region: str, *, where: str = "") -> np.ndarray:
    """The pixels of a partial-sky region given as gammapy's ``HPX_REG`` text, sorted.

    ``DISK(lon,lat,radius)`` (degrees): the pixels whose centres lie within the disc (healpy's
    ``query_disc(inclusive=False)``, as gammapy); ``DISK_INC(lon,lat,radius[,fact])``: the pixels that
    overlap the disc (astropy-healpix's exact test, where healpy approximates it with ``fact``);
    ``HPX_PIXEL(NESTED|RING,nside_pix,ipix)``: the pixels whose centres lie in that pixel (found from
    the nested hierarchy, without listing the sky).

    Before listing anything, the region's size (:func:`region_size`) is checked against the read budget
    (:func:`fluxds.io.guard.budget.check_allocation`, 40 bytes a pixel: the index and the centres the disc
    test computes): a disc at NSIDE 65536 is refused at once, not after minutes of listing.

    Raises
    ------
    FormatError
        A region text that is none of these.
    fluxds.errors.BudgetError
        A region of more pixels than the read budget allows.
    """
    from fluxds.io.guard.budget import check_allocation

    where = f"{where}: " if where and not where.endswith(": ") else where
    nside = check_nside(nside, where=where)
    order = _order(order, where)
    size = region_size(nside, region, where=where)
    check_allocation(
        size * 40,
        path=where.rstrip(": ") or "HEALPix region",
        variable=f"HPX_REG {region!r}",
        what=f"a region of up to {size} pixels at NSIDE {nside}",
    )
    hpx = _hpx(nside, order, frame)
    kind, tokens = _region_parts(region)
    try:
        if kind in ("DISK", "DISK_INC") and len(tokens) >= 3:
            lon, lat, radius = (float(t) * u.deg for t in tokens[:3])
            pix = hpx.cone_search_lonlat(lon, lat, radius)
            if kind == "DISK":
                plon, plat = hpx.healpix_to_lonlat(pix)
                pix = pix[angular_separation(plon, plat, lon, lat) <= radius]
            return np.sort(pix.astype(np.int64))
        if kind == "HPX_PIXEL" and len(tokens) == 3:
            coarse_nside = check_nside(tokens[1], where=where)
            coarse_order = _order(tokens[0], where)
            ipix = int(tokens[2])
            if not 0 <= ipix < 12 * coarse_nside**2:
                raise ValueError(f"pixel {ipix} is not a pixel of NSIDE {coarse_nside}")
            coarse_nested = _hpx(coarse_nside, "nested", frame)
            nest = ipix if coarse_order == "nested" else int(coarse_nested.ring_to_nested(ipix))
            if coarse_nside <= nside:  # the pixels nested in it: a contiguous range of nested indices
                k = (nside // coarse_nside) ** 2
                fine = np.arange(nest * k, (nest + 1) * k, dtype=np.int64)
            else:  # a pixel smaller than the map's: at most the map pixel that contains it
                candidate = np.array([nest // (coarse_nside // nside) ** 2], dtype=np.int64)
                clon, clat = _hpx(nside, "nested", frame).healpix_to_lonlat(candidate)
                inside = coarse_nested.lonlat_to_healpix(clon, clat) == nest
                fine = candidate[inside]
            if order == "ring":
                fine = np.asarray(_hpx(nside, "nested", frame).nested_to_ring(fine), dtype=np.int64)
            return np.sort(fine)
    except ValueError as exc:
        raise FormatError(f"{where}region {region!r} cannot be read: {exc}") from None
    raise _region_error(region, where)
