"""gammapy ``HpxGeom`` <-> the HEALPix coordinates of :mod:`fluxds.healpix`.

Imported only by :func:`fluxds.from_gammapy` / :func:`fluxds.to_gammapy` (it imports gammapy).
gammapy keeps a partial-sky map's pixels in increasing index order; fluxds keeps them as given (a
Dataset in another order is sorted for gammapy).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from gammapy.maps import HpxGeom

from fluxds.errors import SchemaError
from fluxds.healpix import HEALPIX_COORD, PIXEL, is_healpix_map
from fluxds.healpix import healpix_coords as _coords

__all__ = ["healpix_coords", "healpix_geom", "sorted_pixels"]


def healpix_coords(geom: HpxGeom) -> dict[str, xr.Variable]:
    """The fluxds coordinates (``pixel``, ``healpix``, ``sky_lon``/``sky_lat``) of a gammapy HpxGeom."""
    nside = np.unique(np.asarray(geom.nside))
    if nside.size != 1:
        raise SchemaError(
            f"a HEALPix geometry whose NSIDE changes along its axes ({nside}) has no fluxds form"
        )
    image = geom.to_image()
    pixels = np.asarray(image.get_idx(flat=True)[0], dtype=np.int64)
    region = geom.region if isinstance(geom.region, str) and geom.region != "explicit" else ""
    return _coords(
        int(nside[0]),
        order="nested" if geom.nest else "ring",
        frame=str(geom.frame),
        pixels=pixels,
        region=region,
    )


def sorted_pixels(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with its pixels in increasing index order (gammapy's order)."""
    pixels = np.asarray(ds[PIXEL].values)
    if pixels.size > 1 and np.any(np.diff(pixels) <= 0):
        return ds.isel({PIXEL: np.argsort(pixels, kind="stable")})
    return ds


def healpix_geom(ds: xr.Dataset, axes: list) -> HpxGeom:
    """gammapy's HpxGeom of a fluxds HEALPix map (its pixels must be in increasing order, see
    :func:`sorted_pixels`): the region text when it gives exactly these pixels, else the explicit
    pixel list."""
    if not is_healpix_map(ds):
        raise SchemaError(
            "a 'pixel' dimension needs the 'healpix' coordinate (nside/order/frame): see fluxds.healpix"
        )
    attrs = ds[HEALPIX_COORD].attrs
    nside, nest, frame = int(attrs["nside"]), attrs.get("order", "nested") == "nested", str(attrs["frame"])
    pixels = np.asarray(ds[PIXEL].values, dtype=np.int64)
    if pixels.size == 12 * nside**2 and np.array_equal(pixels, np.arange(pixels.size)):
        return HpxGeom(nside, nest=nest, frame=frame, region=None, axes=axes)
    region = str(attrs.get("region") or "")
    if region:
        geom = HpxGeom(nside, nest=nest, frame=frame, region=region, axes=axes)
        if np.array_equal(np.asarray(geom.to_image().get_idx(flat=True)[0]), pixels):
            return geom
    return HpxGeom(nside, nest=nest, frame=frame, region=(pixels,), axes=axes)
