"""Plots of fluxds Datasets. matplotlib is imported only when a plot is asked for."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.convert import get_quantity, has_edges

__all__ = ["plot_sed"]


def plot_sed(ds: xr.Dataset, sed_type: str = "e2dnde", ax: Any = None, **kwargs: Any) -> dict:
    """Plot an SED (one source): points with x error bars from the bin edges, y errors (asymmetric
    when stored), upper limits as downward arrows from the UL value, log axes, labels with units.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset with only the ``energy`` dimension among its measurement dims.
    sed_type : {"dnde", "e2dnde", "flux", "eflux"}
    ax : matplotlib Axes, optional
    **kwargs
        Passed to ``errorbar``.

    Returns
    -------
    dict
        ``{"points": ErrorbarContainer, "upper_limits": ErrorbarContainer or None}``.
    """
    import matplotlib.pyplot as plt

    ax = ax if ax is not None else plt.gca()
    energy = ds[schema.ENERGY]
    e_unit = energy.attrs.get("units", "")
    value = get_quantity(ds, sed_type)
    is_ul = np.asarray(get_quantity(ds, "is_ul").values, dtype=bool)
    x = np.asarray(energy.values)
    if has_edges(ds):
        xerr = np.array([x - ds[schema.ENERGY_MIN].values, ds[schema.ENERGY_MAX].values - x])
    else:
        xerr = None
    y = np.asarray(value.values, dtype=float)
    if "norm_errp" in ds and "norm_errn" in ds:
        yerr = np.array(
            [get_quantity(ds, f"{sed_type}_errn").values, get_quantity(ds, f"{sed_type}_errp").values]
        )
    elif "norm_err" in ds:
        err = get_quantity(ds, f"{sed_type}_err").values
        yerr = np.array([err, err])
    else:
        yerr = None
    points = ~is_ul
    pts = ax.errorbar(
        x[points],
        y[points],
        xerr=None if xerr is None else xerr[:, points],
        yerr=None if yerr is None else yerr[:, points],
        fmt="o",
        **kwargs,
    )
    uls = None
    if is_ul.any() and "norm_ul" in ds:
        ul = np.asarray(get_quantity(ds, f"{sed_type}_ul").values)
        uls = ax.errorbar(
            x[is_ul],
            ul[is_ul],
            xerr=None if xerr is None else xerr[:, is_ul],
            yerr=0.4 * ul[is_ul],
            uplims=True,
            fmt="none",
            color=pts[0].get_color(),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"Energy [{e_unit}]")
    ax.set_ylabel(f"{sed_type} [{value.attrs.get('units', '')}]")
    return {"points": pts, "upper_limits": uls}
