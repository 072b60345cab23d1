"""Map panels on a WCS grid: one astropy ``WCSAxes`` per energy band, in real sky coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from fluxds.wcs import LAT, LON, cached_wcs, frame_name

__all__ = ["wcs_panel", "sky_axis_labels"]

_AXIS_LABELS = {
    "galactic": ("Galactic longitude", "Galactic latitude"),
    "icrs": ("Right ascension (ICRS)", "Declination (ICRS)"),
    "fk5": ("Right ascension (FK5)", "Declination (FK5)"),
    "fk4": ("Right ascension (FK4)", "Declination (FK4)"),
}


def sky_axis_labels(frame: str) -> tuple[str, str]:
    """Axis labels of a celestial frame (``"galactic"`` -> Galactic longitude/latitude).

    Examples
    --------
    >>> sky_axis_labels("icrs")
    ('Right ascension (ICRS)', 'Declination (ICRS)')
    """
    return _AXIS_LABELS.get(frame, (f"longitude ({frame})", f"latitude ({frame})"))


def wcs_panel(fig, nrows: int, ncols: int, index: int, image: xr.DataArray, **kwargs: Any) -> tuple[Any, Any]:
    """Add a ``WCSAxes`` panel at ``index`` (1-based) of an ``nrows x ncols`` grid and ``imshow`` the
    2-D map ``image`` (dims ``lat``, ``lon``; pixel ``(0, 0)`` at the lower left). Returns ``(ax, image)``.
    """
    wcs = cached_wcs(image)
    ax = fig.add_subplot(nrows, ncols, index, projection=wcs)
    data = np.asarray(image.transpose(LAT, LON).values, dtype=float)
    im = ax.imshow(np.ma.masked_invalid(data), origin="lower", interpolation="nearest", **kwargs)
    lon_label, lat_label = sky_axis_labels(frame_name(wcs))
    ax.coords[0].set_axislabel(lon_label)
    ax.coords[1].set_axislabel(lat_label)
    ax.coords[0].set_major_formatter("d.d")
    ax.coords[1].set_major_formatter("d.d")
    return ax, im
