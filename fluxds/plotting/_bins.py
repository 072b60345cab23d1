"""The x axis of a plot along one dimension: bin centres and edges of a binned axis, or categories.

- ``time``: MJD, calendar dates or MET (:mod:`fluxds.plotting._time`);
- another binned axis of :data:`fluxds.schema.BINNED_AXES` (``phase``; ``region``, placed by its distance
  ``x_ref``; ``energy``): the centre coordinate, the edges as the bin extent when present (without a
  centre, the midpoint of the edges on the axis' scale);
- any other dimension, or a binned one without numbers (``source``, regions without ``x_ref``): one
  category per entry at 0, 1, 2 ..., labelled with the dimension coordinate (names) or the index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import FluxdsError
from fluxds.plotting._time import format_time_axis, time_axis
from fluxds.plotting.labels import unit_text
from fluxds.units import parse_unit

__all__ = ["BinAxis", "bin_axis", "check_dim", "format_bin_axis", "CATEGORY_HALF_WIDTH"]

#: half the width of a category's column in the castro plot
CATEGORY_HALF_WIDTH = 0.4
_TIME = schema.BINNED_AXES["time"].dim
_NOT_ALONG = ("scan", "dataset", "gti")
_KIND_LABELS = {"angle": "Projected distance", "energy": "Energy"}


@dataclass
class BinAxis:
    """x values of a plot along ``dim``.

    Attributes
    ----------
    dim : str
    x : numpy.ndarray
        Where each entry is drawn.
    lo, hi : numpy.ndarray or None
        The bin extent of each entry (None: categories, or a binned axis without edges).
    label : str
        The axis label.
    ticks : list of str or None
        Category labels (then ``x`` is 0, 1, 2 ...).
    log : bool
        A log scale (energy).
    """

    dim: str
    x: np.ndarray
    lo: np.ndarray | None
    hi: np.ndarray | None
    label: str
    ticks: list[str] | None = None
    log: bool = False


def check_dim(ds: xr.Dataset | xr.DataArray, dim: str, what: str) -> None:
    """Refuse a ``dim`` that the Dataset lacks or that is no axis to plot along (``scan``, ``dataset``)."""
    dims = [str(d) for d in ds.dims if d not in _NOT_ALONG and d != schema.ENERGY]
    if dim not in ds.dims or dim in _NOT_ALONG:
        raise FluxdsError(
            f"{what} along {dim!r} needs a {dim!r} dimension; the Dataset has dims {dict(ds.sizes)} "
            f"(along: {', '.join(map(repr, dims)) or 'none'})"
        )


def _numbers(ds: xr.Dataset, name: str, dim: str) -> np.ndarray | None:
    if name not in ds.coords or ds[name].dims != (dim,):
        return None
    values = np.asarray(ds[name].values)
    return values.astype(float) if values.dtype.kind in "iuf" else None


def _categories(ds: xr.Dataset, dim: str) -> BinAxis:
    n = ds.sizes[dim]
    if dim in ds.coords and ds[dim].ndim == 1:
        ticks = [str(v) for v in np.asarray(ds[dim].values).tolist()]
    else:
        ticks = [str(i) for i in range(n)]
    x = np.arange(n, dtype=float)
    return BinAxis(dim, x, None, None, dim.capitalize(), ticks)


def bin_axis(ds: xr.Dataset, dim: str, time_format: str = "mjd", energy_unit=None) -> BinAxis:
    """The x axis of a plot of ``ds`` along ``dim`` (see the module docstring)."""
    if dim == _TIME:
        x, lo, hi, label = time_axis(ds, time_format)
        return BinAxis(dim, x, lo, hi, label)
    axis = schema.binned_axis(dim)
    if axis is None:
        return _categories(ds, dim)
    centre = _numbers(ds, axis.centre, dim)
    lo, hi = (_numbers(ds, e, dim) for e in axis.edges)
    if lo is None or hi is None:
        lo = hi = None
    if centre is None and lo is None:
        return _categories(ds, dim)
    if centre is None:
        centre = axis.midpoint(lo, hi)
    source = axis.centre if axis.centre in ds.coords else axis.min_name
    unit = ds[source].attrs.get("units") or ""
    if energy_unit is not None and axis.unit_kind == "energy":
        from fluxds.units import conversion_factor

        target = parse_unit(energy_unit)
        factor = conversion_factor(parse_unit(unit), target, what="energy")
        centre, lo, hi = (None if v is None else v * factor for v in (centre, lo, hi))
        unit = target
    text = unit_text(parse_unit(unit)) if unit else ""
    name = _KIND_LABELS.get(axis.unit_kind, dim.capitalize())
    label = f"{name} [{text}]" if text else name
    return BinAxis(dim, centre, lo, hi, label, log=axis.scale == "log")


def format_bin_axis(ax, axis: BinAxis, time_format: str = "mjd") -> None:
    """Ticks of the x axis: dates/MJD for time, the category names, or a plain number axis."""
    ax.set_xlabel(axis.label)
    if axis.dim == _TIME:
        format_time_axis(ax, time_format)
        return
    if axis.ticks is not None:
        long = max((len(t) for t in axis.ticks), default=0) * len(axis.ticks) > 60
        ax.set_xticks(axis.x, labels=axis.ticks, rotation=45 if long else 0, ha="right" if long else "center")
        ax.set_xlim(axis.x[0] - 0.5, axis.x[-1] + 0.5)
