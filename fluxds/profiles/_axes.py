"""The bin edges of a binned axis (:data:`fluxds.schema.BINNED_AXES`) when its bins are merged: by
``resample`` (groups of neighbours) and by ``combine``/``variability`` (all of them at once).

The rules, the same for every binned axis:

- a merged bin spans its members: ``min`` of their lower edges to ``max`` of their upper edges;
- its centre is the midpoint of the new edges on the axis' scale (``sqrt(lo * hi)`` for energy, the
  arithmetic midpoint for phase and the region's distance), and a one-member group keeps its own centre
  (a given centre is never replaced); without edges, the midpoint of the first and last member's centres;
- ``time`` keeps its own rule (:func:`fluxds.timeaxis.time_coords`: labels recomputed from the new edges
  with the reference MJD and time scale of ``time_min``), applied by :mod:`fluxds.profiles.resample`.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema

__all__ = ["numeric_coord", "group_centres", "merged_coords", "spanned_edges"]


def numeric_coord(ds: xr.Dataset, name: str, dim: str) -> np.ndarray | None:
    """The values of coordinate ``name`` when it is a 1-D number coordinate along ``dim``, else None."""
    if name not in ds.coords or ds[name].dims != (dim,):
        return None
    values = np.asarray(ds[name].values)
    return values if values.dtype.kind in "iuf" else None


def group_centres(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, str | None] | None:
    """The numbers that place each entry along ``dim`` when grouping by edges, and the coordinate whose
    ``units`` they are in: the axis' numeric centre coordinate (``energy``, ``phase``, ``x_ref``), else the
    midpoint of its edges (``time``: ``(time_min + time_max) / 2``); None for a dimension that is not a
    binned axis or has neither."""
    axis = schema.binned_axis(dim)
    if axis is None:
        return None
    centre = numeric_coord(ds, axis.centre, dim)
    if centre is not None:
        return centre, axis.centre
    lo, hi = (numeric_coord(ds, e, dim) for e in axis.edges)
    if lo is None or hi is None:
        return None
    middle = np.sqrt(lo * hi) if axis.scale == "log" else 0.5 * (lo + hi)
    return middle, axis.min_name


def merged_coords(ds: xr.Dataset, axis: schema.BinnedAxis, table: np.ndarray) -> dict[str, tuple]:
    """The coordinates of ``axis`` for the groups of ``table`` (rows: groups; columns: member indices
    along the axis, ``-1`` padding), by the rules of the module docstring.

    Parameters
    ----------
    ds : xarray.Dataset
        The Dataset before merging (edge coordinates in memory).
    axis : fluxds.schema.BinnedAxis
    table : numpy.ndarray of int, (groups, width)

    Returns
    -------
    dict
        ``name -> (dim, values, attrs)`` for the centre and edges the Dataset has (numeric, along the axis).
    """
    mask = table >= 0
    idx = np.maximum(table, 0)
    count = mask.sum(axis=1)
    coords: dict[str, tuple] = {}
    lo, hi = (numeric_coord(ds, e, axis.dim) for e in axis.edges)
    if lo is not None and hi is not None:
        lo = np.where(mask, lo[idx], np.inf).min(axis=1)
        hi = np.where(mask, hi[idx], -np.inf).max(axis=1)
        for name, values in zip(axis.edges, (lo, hi), strict=True):
            coords[name] = (axis.dim, values, dict(ds[name].attrs))
    centre = numeric_coord(ds, axis.centre, axis.dim)
    if centre is not None:
        first = centre[idx[:, 0]]
        if lo is not None and hi is not None:
            middle = axis.midpoint(lo, hi)
        else:
            middle = axis.midpoint(first, centre[idx[np.arange(len(table)), count - 1]])
        values = np.where(count == 1, first, middle)
        coords[axis.centre] = (axis.dim, values, dict(ds[axis.centre].attrs))
    return coords


def spanned_edges(ds: xr.Dataset, dim: str) -> dict[str, xr.DataArray]:
    """Scalar edge coordinates spanning every entry along ``dim`` (``min`` of the lower edges, ``max``
    of the upper ones, attributes kept), for a result without ``dim``; empty when ``dim`` is not a binned
    axis or the Dataset lacks its edges."""
    axis = schema.binned_axis(dim)
    if axis is None or not all(e in ds.coords and dim in ds[e].dims for e in axis.edges):
        return {}
    return {axis.min_name: ds[axis.min_name].min(), axis.max_name: ds[axis.max_name].max()}
