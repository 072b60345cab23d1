"""The light-curve plot: flux versus time (or phase, region, source ...), x error bars from the bins, ULs
as arrows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import FluxdsError
from fluxds.plotting._bins import bin_axis, check_dim, format_bin_axis
from fluxds.plotting._points import (
    SeriesArtists,
    arrow_length,
    check_ul_mode,
    draw_series,
    edges_err,
    finish_legend,
    hidden_ul_note,
    measurement,
    series_labels,
    stacked,
)
from fluxds.plotting.labels import energy_band_label, quantity_label, unit_text
from fluxds.units import parse_unit

__all__ = ["LightCurveArtists", "plot_lightcurve", "DODGE"]

#: how far (in category widths) the series of a categorical x axis spread around each category
DODGE = 0.2


@dataclass
class LightCurveArtists:
    """What :func:`plot_lightcurve` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    series : list of SeriesArtists
        One per energy band (and source/region, when present): ``points``, ``upper_limits``, ``label``.
    unit : str
        Unit of the y values.
    notes : list of str
        What the plot leaves out (``"1 upper limit <= 0 not drawn"``), also shown in the legend.
    """

    ax: Any
    series: list[SeriesArtists] = field(default_factory=list)
    unit: str = ""
    notes: list[str] = field(default_factory=list)


def _band_labels(ds: xr.Dataset, series: list[str], value: xr.DataArray) -> list[str | None]:
    """Legend labels, the energy band written as ``"0.316 - 1 TeV"``."""
    labels = series_labels(value, series)
    if series != [schema.ENERGY] or schema.ENERGY_MIN not in ds.coords:
        return labels if len(labels) > 1 else [None]
    unit = ds[schema.ENERGY].attrs.get("units", "")
    lo, hi = (np.atleast_1d(ds[n].values) for n in (schema.ENERGY_MIN, schema.ENERGY_MAX))
    return [energy_band_label(a, b, unit) for a, b in zip(lo, hi, strict=True)]


def plot_lightcurve(
    ds: xr.Dataset,
    sed_type: str = "flux",
    ax: Any = None,
    *,
    dim: str = "time",
    time_format: str = "mjd",
    energy: int | None = None,
    ul: str = "show",
    flux_unit: str | u.UnitBase | None = None,
    **kwargs: Any,
) -> LightCurveArtists:
    """Plot a light curve: ``sed_type`` versus time, x error bars from ``time_min``/``time_max``, upper
    limits as downward arrows from the UL value, one series per energy band with a legend. The same along
    any other dimension: a phase curve (x from ``phase``, error bars from ``phase_min``/``phase_max``),
    a flux profile along ``region`` (x from the distance ``x_ref``, error bars from ``x_min``/``x_max``),
    sources (one labelled category per source).

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve (a ``time`` dimension with ``time_min``/``time_max``), or a Dataset with ``dim``.
    sed_type : {"flux", "eflux", "dnde", "e2dnde", "norm"}
        The quantity on the y axis (linear scale).
    ax : matplotlib.axes.Axes, optional
    dim : str
        The x dimension: ``"time"``, ``"phase"``, ``"region"``, ``"source"`` or any other dimension
        (binned axes of :data:`fluxds.schema.BINNED_AXES` by their numbers, others as categories);
        every other dimension (energy bands, sources ...) gives one series each.
    time_format : {"mjd", "iso", "met"}
        x axis of ``dim="time"``: MJD, calendar dates (in the Dataset's time scale) or seconds since the
        file's reference time (``mjdrefi + mjdreff`` of ``time_min``, else of ``gti_start``).
    energy : int, optional
        Plot only the energy band of this index; default every band.
    ul : {"show", "hide", "only"}
        Upper limits (``is_ul``) as arrows with the points, not at all, or alone.
    flux_unit : str or astropy unit, optional
        Unit of the y axis; default the SED type's unit.
    **kwargs
        Passed to ``Axes.errorbar`` for the points.

    Returns
    -------
    LightCurveArtists

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import fluxds, numpy as np
    >>> from fluxds.timeaxis import time_coords
    >>> import astropy.units as u
    >>> lc = fluxds.from_sed("flux", {"flux": [[1e-11], [2e-11]] * u.Unit("cm-2 s-1")},
    ...                      energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, dims=("time", "energy"),
    ...                      coords=time_coords(time_min=[59000, 59001], time_max=[59001, 59002], scale="tt"))
    >>> artists = plot_lightcurve(lc)
    >>> artists.series[0].points.lines[0].get_xdata().tolist()
    [59000.5, 59001.5]
    """
    import matplotlib.pyplot as plt

    check_ul_mode(ul)
    if dim == "time" and "time" not in ds.dims:
        raise FluxdsError(f"a light curve needs a 'time' dimension; the Dataset has dims {dict(ds.sizes)}")
    check_dim(ds, dim, "a light-curve plot")
    if energy is not None:
        if schema.ENERGY not in ds.dims or not -ds.sizes[schema.ENERGY] <= energy < ds.sizes[schema.ENERGY]:
            raise FluxdsError(
                f"energy is {energy!r}; expected an index into the {ds.sizes.get('energy')} energy bins"
            )
        ds = ds.isel({schema.ENERGY: [energy]})
    ax = ax if ax is not None else plt.gca()
    along = bin_axis(ds, dim, time_format)
    x = along.x
    xerr = edges_err(x, along.lo, along.hi)
    unit = parse_unit(flux_unit) if flux_unit is not None else schema.sed_type(sed_type).physical_unit
    parts = measurement(ds, sed_type, unit)
    series = [d for d in schema.canonical_dims(parts["value"].dims) if d != dim]
    arrays = {k: stacked(v, dim, series) for k, v in parts.items()}
    arrow = None
    if arrays["_ul"] is not None:  # one arrow length (a fraction of the whole y range) for every band
        arrow = arrow_length(arrays["_ul"].ravel(), arrays["value"].ravel(), log=False)[0]
    out = LightCurveArtists(ax, unit=unit_text(unit))
    labels = _band_labels(ds, series, parts["value"])
    # categories (sources ...): the series side by side within each category, not on top of each other
    shift = np.linspace(-DODGE, DODGE, len(labels)) if along.ticks is not None and len(labels) > 1 else None
    for i, label in enumerate(labels):  # one artist per band (a legend entry each), not per time bin
        row = {k: (None if v is None else v[i]) for k, v in arrays.items()}
        at = x if shift is None else x + shift[i]
        out.series.append(draw_series(ax, at, xerr, row, ul, False, label, arrow, **kwargs))
    ax.set_ylabel(quantity_label(sed_type, unit))
    format_bin_axis(ax, along, time_format)
    if along.log:
        ax.set_xscale("log")
    out.notes = hidden_ul_note(out.series)
    if len(labels) > 1 or out.notes:
        finish_legend(ax, out.notes, title="energy band" if series == [schema.ENERGY] else None)
    return out
