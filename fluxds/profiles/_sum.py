"""The numpy kernel of joint likelihoods: sum profiles of several members on a common norm grid.

Used by :func:`fluxds.profiles.combine.combine` (all entries of a dimension) and
:func:`fluxds.profiles.resample.resample` (groups of entries).
"""

from __future__ import annotations

import numpy as np

from fluxds.profiles.interp import STENCIL, evaluate_profile
from fluxds.profiles.limits import profile_summary

__all__ = ["UNION_MAX", "grid_size", "common_grid", "sum_profiles", "merge_kernel"]

#: Largest union grid; beyond it the common grid is this many evenly spaced norms over the union range.
UNION_MAX = 400


def grid_size(n_members: int, n_scan: int, grid: int | str | None) -> int:
    """Number of points of the common grid (``grid``: "union", an int, or None for automatic)."""
    if grid is None:
        grid = "union" if n_members * n_scan <= UNION_MAX else UNION_MAX
    if grid == "union":
        return n_members * n_scan
    return int(grid)


def common_grid(norm_scan: np.ndarray, valid: np.ndarray, size: int) -> np.ndarray:
    """The common norm grid of profiles ``(..., member, scan)``: ``(..., size)``, NaN-padded.

    ``size == member * scan`` gives the union of all members' scan points (duplicates removed);
    otherwise ``size`` evenly spaced norms over the union range.
    """
    x = np.where(valid, norm_scan, np.nan)
    flat = x.reshape(x.shape[:-2] + (-1,))
    if size == flat.shape[-1]:
        grid = np.sort(flat, axis=-1)  # NaN last
        dup = np.zeros(grid.shape, dtype=bool)
        scale = np.nanmax(np.abs(grid), axis=-1, keepdims=True, initial=0.0)
        dup[..., 1:] = np.abs(np.diff(grid, axis=-1)) <= 1e-12 * scale
        grid = np.where(dup, np.nan, grid)
        return np.sort(grid, axis=-1)
    with np.errstate(invalid="ignore"):
        lo = np.nanmin(np.where(np.isnan(flat), np.inf, flat), axis=-1)
        hi = np.nanmax(np.where(np.isnan(flat), -np.inf, flat), axis=-1)
    lo, hi = np.where(np.isfinite(lo), lo, np.nan), np.where(np.isfinite(hi), hi, np.nan)
    return lo[..., None] + (hi - lo)[..., None] * np.linspace(0.0, 1.0, size)


def sum_profiles(norm_scan, stat_scan, member_mask, size: int, stencil: int = STENCIL):
    """Sum the members' interpolated profiles on their common grid.

    Parameters
    ----------
    norm_scan, stat_scan : ndarray, (..., member, scan)
    member_mask : ndarray of bool, (..., member)
        Members to include (False: padding of uneven groups).
    size : int
        Grid size (see :func:`common_grid`).

    Returns
    -------
    grid, stat_sum : ndarray, (..., size)
        NaN where the grid is padding, or where no member has a profile.
    """
    norm_scan, stat_scan = np.broadcast_arrays(np.asarray(norm_scan, float), np.asarray(stat_scan, float))
    member_mask = np.broadcast_to(member_mask, norm_scan.shape[:-1])
    valid = member_mask[..., None] & np.isfinite(norm_scan) & np.isfinite(stat_scan)
    grid = common_grid(norm_scan, valid, size)
    stat_scan = np.where(valid, stat_scan, np.nan)
    values, _ = evaluate_profile(norm_scan, stat_scan, grid[..., None, :], points=True, stencil=stencil)
    has = valid.any(axis=-1)  # members with a profile
    total = np.where(has[..., None], values, 0.0).sum(axis=-2)
    total = np.where(np.isnan(grid) | ~has.any(axis=-1)[..., None], np.nan, total)
    return grid, total


def merge_kernel(norm_scan, stat_scan, member_mask, *, size, n_sigma, n_sigma_ul, reference, stencil):
    """Summed profile and its summary: ``grid, stat_sum, norm, stat, errp, errn, ul, 3 statuses``."""
    shape = np.broadcast_shapes(norm_scan.shape, stat_scan.shape)[:-2]
    if 0 in norm_scan.shape or 0 in stat_scan.shape:  # dask's probe of output types
        empty = np.empty(shape)
        return (np.empty(shape + (size,)),) * 2 + (empty,) * 5 + (np.empty(shape, np.int8),) * 3
    grid, total = sum_profiles(norm_scan, stat_scan, member_mask, size, stencil)
    s = profile_summary(grid, total, n_sigma, n_sigma_ul, reference, stencil)
    keys = ("norm", "stat", "norm_errp", "norm_errn", "norm_ul")
    statuses = ("norm_errp_status", "norm_errn_status", "norm_ul_status")
    return (grid, total) + tuple(s[k] for k in keys) + tuple(s[k] for k in statuses)
