"""Systematic errors in the SED plot: a second, wide and light error bar behind each point.

Systematic errors (``<type>_errsysn``/``<type>_errsysp``, or the symmetric ``<type>_errsys``) are kept apart
from the statistical ones: they are drawn as a broad translucent bar in the colour of the series, so that
both can be read off the plot (the statistical bar thin and dark on top).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from fluxds.convert import get_quantity
from fluxds.errors import MissingQuantityError

__all__ = ["systematic_parts", "draw_systematics"]

#: line width (points) and opacity of the systematic bars
SYSTEMATIC_STYLE = {"elinewidth": 6.0, "alpha": 0.3}


def systematic_parts(ds: xr.Dataset, sed_type: str, unit=None) -> dict[str, xr.DataArray] | None:
    """``{"_errsysn": ..., "_errsysp": ...}`` of ``sed_type`` in ``unit`` (the symmetric ``_errsys`` for
    both when the asymmetric pair is not stored), or None when the Dataset holds no systematic error."""
    out = {}
    for suffix in ("_errsysn", "_errsysp", "_errsys"):
        try:
            out[suffix] = get_quantity(ds, f"{sed_type}{suffix}", unit)
        except MissingQuantityError:
            out[suffix] = None
    if out["_errsysn"] is None or out["_errsysp"] is None:
        if out["_errsys"] is None:
            return None
        out["_errsysn"] = out["_errsysp"] = out["_errsys"]
    return {"_errsysn": out["_errsysn"], "_errsysp": out["_errsysp"]}


def draw_systematics(
    ax,
    x: np.ndarray,
    y: np.ndarray,
    errn: np.ndarray,
    errp: np.ndarray,
    is_ul: np.ndarray | None,
    color: Any,
    label: str | None = "systematic error",
) -> Any:
    """Draw the systematic errors of one series (points that are not upper limits) as a wide light bar.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    x, y : numpy.ndarray
        Reference energies and values (1-D, in the plot's units).
    errn, errp : numpy.ndarray
        Negative and positive systematic errors (magnitudes, in the units of ``y``).
    is_ul : numpy.ndarray or None
        Points drawn as upper limits get no systematic bar.
    color
        The series' colour.
    label : str or None
        Legend entry.

    Returns
    -------
    matplotlib.container.ErrorbarContainer or None
        None when no point has a finite systematic error.
    """
    keep = np.isfinite(y) & np.isfinite(errn) & np.isfinite(errp)
    if is_ul is not None:
        keep &= ~np.asarray(is_ul, bool)
    if not keep.any():
        return None
    return ax.errorbar(
        x[keep],
        y[keep],
        yerr=np.stack([errn[keep], errp[keep]]),
        fmt="none",
        ecolor=color,
        label=label,
        zorder=1,
        **SYSTEMATIC_STYLE,
    )
