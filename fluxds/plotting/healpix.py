"""HEALPix maps for plotting: a vectorised rasterisation onto a lon/lat grid, drawn in a Mollweide
(all-sky) or cartesian (partial-sky) view."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds.errors import FluxdsError
from fluxds.healpix import PIXEL, healpix_of, index_positions
from fluxds.plotting.maps import sky_axis_labels

__all__ = ["rasterize", "healpix_panel", "choose_view", "VIEWS"]

VIEWS = ("auto", "mollweide", "cartesian")
_MAX_SIDE = 720  # grid points along the longer side of the raster
_ALLSKY_FRACTION = 0.5  # "auto": a map holding more than this fraction of the sky is drawn all-sky


def choose_view(da: xr.DataArray | xr.Dataset, view: str = "auto") -> str:
    """``view``, or for ``"auto"``: ``"mollweide"`` for a map holding more than half the sky, else
    ``"cartesian"``."""
    if view not in VIEWS:
        raise FluxdsError(f"view is {view!r}; expected one of {', '.join(map(repr, VIEWS))}")
    if view != "auto":
        return view
    npix = healpix_of(da).npix
    return "mollweide" if da.sizes[PIXEL] > _ALLSKY_FRACTION * npix else "cartesian"


def _box(da: xr.DataArray) -> tuple[float, float, float, float]:
    """Longitude (continuous around the map's centre) and latitude range of the pixels, padded by one
    pixel size, in degrees."""
    lon = np.asarray(da["sky_lon"].values, dtype=float)
    lat = np.asarray(da["sky_lat"].values, dtype=float)
    rad = np.radians(lon)
    centre = np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean()))
    lon = centre + (lon - centre + 180) % 360 - 180
    pad = healpix_of(da).pixel_resolution.to_value(u.deg)
    return lon.min() - pad, lon.max() + pad, max(lat.min() - pad, -90.0), min(lat.max() + pad, 90.0)


def rasterize(da: xr.DataArray, view: str = "auto") -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Sample a HEALPix map on a regular lon/lat grid (each grid point takes the value of the pixel it
    falls in; NaN outside a partial-sky map), for every other dimension at once.

    Parameters
    ----------
    da : xarray.DataArray
        A HEALPix map (a ``pixel`` dimension and a ``healpix`` coordinate); ``pixel`` must be its last dim.
    view : {"auto", "mollweide", "cartesian"}
        The whole sky (Mollweide) or the box around the pixels held (cartesian); "auto" chooses.

    Returns
    -------
    lon, lat : numpy.ndarray
        1-D grid centres in degrees (in the map's frame; ``lon`` continuous, not wrapped).
    image : numpy.ndarray
        ``da``'s other dims + ``(lat, lon)``.
    view : str
        The view chosen.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from fluxds.healpix import assign_healpix
    >>> da = assign_healpix(xr.Dataset({"v": ("pixel", np.arange(12.0))}), nside=1, order="ring",
    ...                     frame="icrs")["v"]
    >>> lon, lat, image, view = rasterize(da)
    >>> view, image.shape, sorted(np.unique(image)) == list(range(12))
    ('mollweide', (360, 720), True)
    """
    view = choose_view(da, view)
    if view == "mollweide":
        lon0, lon1, lat0, lat1 = -180.0, 180.0, -90.0, 90.0
    else:
        lon0, lon1, lat0, lat1 = _box(da)
    step = max(lon1 - lon0, lat1 - lat0) / _MAX_SIDE
    lon = lon0 + step * (np.arange(int(np.ceil((lon1 - lon0) / step))) + 0.5)
    lat = lat0 + step * (np.arange(int(np.ceil((lat1 - lat0) / step))) + 0.5)
    grid_lon, grid_lat = np.meshgrid(lon, lat)
    index = healpix_of(da).lonlat_to_healpix(grid_lon * u.deg, grid_lat * u.deg)
    where = index_positions(da, index)  # (lat, lon): position along `pixel`, -1 off the map
    values = np.asarray(da.values, dtype=float)
    image = np.where(where >= 0, values[..., np.clip(where, 0, None)], np.nan)
    return lon, lat, image, view


def _lon_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: f"{x % 360:g}")


def healpix_panel(
    fig,
    nrows: int,
    ncols: int,
    index: int,
    lon: np.ndarray,
    lat: np.ndarray,
    image: np.ndarray,
    view: str,
    frame: str,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """Add a panel at ``index`` (1-based) and draw a rasterised HEALPix image (from :func:`rasterize`);
    longitude increases to the left, as on the sky. Returns ``(ax, artist)``."""
    from matplotlib.ticker import FuncFormatter

    lon_label, lat_label = sky_axis_labels(frame)
    masked = np.ma.masked_invalid(image)
    if view == "mollweide":
        ax = fig.add_subplot(nrows, ncols, index, projection="mollweide")
        # mollweide x runs -pi .. pi to the right: plot -lon so that longitude grows to the left
        artist = ax.pcolormesh(
            -np.radians(lon[::-1]), np.radians(lat), masked[:, ::-1], shading="nearest", **kwargs
        )
        ax.set_xticks(np.radians([-120, -60, 0, 60, 120]))
        ax.set_yticks(np.radians([-60, -30, 0, 30, 60]))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, pos: f"{(-np.degrees(x)) % 360:.0f}°"))
        ax.tick_params(labelsize="x-small")
        ax.grid(True, lw=0.3)
    else:
        ax = fig.add_subplot(nrows, ncols, index)
        step = lon[1] - lon[0] if lon.size > 1 else 1.0
        extent = (lon[0] - step / 2, lon[-1] + step / 2, lat[0] - step / 2, lat[-1] + step / 2)
        artist = ax.imshow(masked, origin="lower", extent=extent, interpolation="nearest", **kwargs)
        ax.invert_xaxis()
        ax.xaxis.set_major_formatter(_lon_formatter())
        ax.set_aspect("equal")
    ax.set_xlabel(f"{lon_label} [deg]")
    ax.set_ylabel(f"{lat_label} [deg]")
    return ax, artist
