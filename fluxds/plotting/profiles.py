"""The likelihood-profile ("castro") plot: Δstat as a colour map over (bin, flux): bins of energy, time,
phase, regions (by distance) or sources (one labelled column each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.construct import require_scan_reference
from fluxds.convert import get_quantity
from fluxds.errors import FluxdsError, MissingQuantityError
from fluxds.plotting._bins import CATEGORY_HALF_WIDTH, bin_axis, check_dim, format_bin_axis
from fluxds.plotting.labels import quantity_label
from fluxds.units import conversion_factor, parse_unit, unit_attr

__all__ = ["ProfileArtists", "delta_stat", "plot_ts_profiles"]

# the dimensions a default x axis is looked for in (energy first, as before other axes were plotted);
# any other dimension of stat_scan can be asked for with dim=
_BIN_DIMS = (schema.ENERGY, *(d for d in schema.BINNED_AXES if d != schema.ENERGY), "source")
# half-width of the cell of a scan point without a neighbour (ln units on a log axis, else a fraction)
_ALONE_HALF_WIDTH = 0.1
# on the log axis, a bin's scan points below this fraction of its largest one count as "at zero flux"
# (fermipy scans start at 1e-10 for 0; a point at 3e-4 next to a step of 0.02 would stretch the axis
# over decades holding a single cell): left out with the points <= 0, and said so in the note
LOG_DEPTH = 1e-3


@dataclass
class ProfileArtists:
    """What :func:`plot_ts_profiles` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    mesh : matplotlib.collections.QuadMesh
        Its array is ``(scan, 2 n_bins - 1)``: column ``2 i`` is bin ``i``'s Δstat, the odd columns are
        masked gaps (each bin has its own flux grid).
    colorbar : matplotlib.colorbar.Colorbar or None
    dim : str
        The dimension along x (``"energy"``, ``"time"``, ``"phase"``, ``"region"``, ``"source"`` ...).
    hidden : int
        Scan points with a Δstat that have no cell: at flux ``<= 0`` on the log y axis (or not finite).
    notes : list of str
        What the plot leaves out, also shown in a legend on the plot.
    """

    ax: Any
    mesh: Any
    colorbar: Any
    dim: str
    hidden: int = 0
    notes: list[str] = field(default_factory=list)


def delta_stat(ds: xr.Dataset) -> xr.DataArray:
    """``stat_scan - stat`` (or ``stat_scan`` minus its minimum along ``scan`` when ``stat`` is not
    stored): the likelihood profile relative to the best fit, dims of ``stat_scan``.

    Examples
    --------
    >>> import fluxds
    >>> d = delta_stat(fluxds.read(fluxds.demo_path()))
    >>> d.dims
    ('energy', 'scan')
    """
    scan = get_quantity(ds, "stat_scan")
    best = ds["stat"] if "stat" in ds.data_vars else scan.min("scan")
    out = scan - best
    out.attrs = {"long_name": "fit statistic relative to the best fit (-2 Delta log L)", "units": ""}
    return out.rename("delta_stat")


def _bin_dim(delta: xr.DataArray, dim: str | None) -> str:
    bins = [d for d in delta.dims if d != "scan" and delta.sizes[d] > 1]
    if dim is not None:
        check_dim(delta, dim, "a profile plot")
        others = [d for d in bins if d != dim]
        if dim not in delta.dims or others:
            raise FluxdsError(
                f"a profile plot along {dim!r} needs stat_scan with {dim!r} as its only bin dimension; it "
                f"has dims {dict(delta.sizes)}: select one bin of {others or [dim]} first (ds.isel / ds.sel)"
            )
        return dim
    candidates = [d for d in bins if d in _BIN_DIMS] or [d for d in _BIN_DIMS if d in delta.dims]
    if len(bins) == 1 and not candidates:
        return bins[0]
    if len(bins) > 1 or not candidates:
        raise FluxdsError(
            f"stat_scan has dims {dict(delta.sizes)}; a profile plot needs one bin dimension ('energy', "
            "'time', 'phase', 'region', 'source' ...) besides 'scan': select the others first (e.g. "
            "ds.isel(time=0)), or name it with dim="
        )
    return candidates[0]


def _edges(values: np.ndarray, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(n_bins, n_scan + 1)`` cell edges around each bin's scan values (mid-points, log or linear) and
    the ``(n_bins, n_scan)`` mask of the points that have a cell.

    A point that cannot be placed on the axis (not finite, or ``<= 0`` on a log axis) gets no cell: the
    cells of its neighbours end half a step beyond them (as at the ends of a scan), and its own cell, which
    the caller masks, is what lies between (zero height at the ends of the scan)."""
    valid = np.isfinite(values) & ((values > 0) if log else True)
    safe = np.where(valid, values, 1.0)
    t = np.where(valid, np.log(safe) if log else safe, np.nan)
    gap = np.full(t[:, :1].shape, np.nan)
    mid = (t[:, 1:] + t[:, :-1]) / 2  # NaN next to a point without a cell
    left = t - np.concatenate([gap, mid], axis=1)  # half-widths of each cell below and above its point
    right = np.concatenate([mid, gap], axis=1) - t
    left, right = np.where(np.isfinite(left), left, right), np.where(np.isfinite(right), right, left)
    alone = valid & ~np.isfinite(left)  # no neighbour with a cell: a fixed width
    alone_half = _ALONE_HALF_WIDTH if log else _ALONE_HALF_WIDTH * np.maximum(np.abs(safe), 1e-300)
    left, right = (np.where(alone, alone_half, h) for h in (left, right))
    lower, upper = t - left, t + right
    inner = np.where(valid[:, :-1], upper[:, :-1], lower[:, 1:])
    edges = np.concatenate([lower[:, :1], inner, upper[:, -1:]], axis=1)
    edges = _fill_along_rows(edges)
    return (np.exp(edges) if log else edges), valid


def _fill_along_rows(a: np.ndarray) -> np.ndarray:
    """NaNs replaced by the nearest finite value before them in their row, else after; rows without any
    finite value by the smallest finite value of the array (their cells are all masked)."""
    index = np.arange(a.shape[1])
    for _ in range(2):  # forward, then backward (on the reversed rows)
        last = np.maximum.accumulate(np.where(np.isfinite(a), index, 0), axis=1)
        a = np.take_along_axis(a, last, axis=1)[:, ::-1]
    finite = a[np.isfinite(a)]
    return np.where(np.isfinite(a), a, finite.min() if finite.size else 0.0)


def _x_edges(ds: xr.Dataset, dim: str, energy_unit, time_format: str):
    """The x extent of each bin's column (``lo``, ``hi``) and the :class:`BinAxis` (label, ticks, scale).

    Binned axes without edges get columns between the midpoints of neighbouring centres (half a step at
    the ends); categories a column of ``2 * CATEGORY_HALF_WIDTH`` around each."""
    if dim == schema.ENERGY and schema.ENERGY_MIN not in ds.coords:
        raise MissingQuantityError(
            "a profile plot along energy needs energy bin edges (energy_min/energy_max)"
        )
    axis = bin_axis(ds, dim, time_format, energy_unit)
    if axis.lo is not None:
        return axis.lo, axis.hi, axis
    if axis.ticks is not None or axis.x.size < 2:
        half = CATEGORY_HALF_WIDTH if axis.ticks is not None else 0.5 * max(abs(float(axis.x[0])), 1.0)
        return axis.x - half, axis.x + half, axis
    t = np.log(axis.x) if axis.log else axis.x
    mid = 0.5 * (t[1:] + t[:-1])
    lo = np.concatenate([[t[0] - (mid[0] - t[0])], mid])
    hi = np.concatenate([mid, [t[-1] + (t[-1] - mid[-1])]])
    return (np.exp(lo), np.exp(hi), axis) if axis.log else (lo, hi, axis)


def plot_ts_profiles(
    ds: xr.Dataset,
    sed_type: str = "dnde",
    dim: str | None = None,
    ax: Any = None,
    *,
    flux_unit: str | u.UnitBase | None = None,
    energy_unit: str | u.UnitBase | None = None,
    time_format: str = "mjd",
    vmax: float = 25.0,
    add_cbar: bool = True,
    **kwargs: Any,
) -> ProfileArtists:
    """Plot the likelihood profiles as a colour map of Δstat (``stat_scan - stat``) over the bins (x) and
    the flux they scan (y: ``norm_scan`` times the reference quantity of ``sed_type``), a "castro" plot.

    Each bin keeps its own scan grid (no interpolation): the bins are drawn as separate columns of one
    ``QuadMesh``.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset with ``stat_scan``/``norm_scan`` and one bin dimension (``energy``, ``time``,
        ``phase``, ``region``, ``source`` ...) besides ``scan``: select the others first
        (``lc.isel(energy=0)``, ``lc.sel(time=...)``).
    sed_type : {"dnde", "e2dnde", "flux", "eflux", "norm"}
        The quantity on the y axis.
    dim : str, optional
        The x dimension: ``"energy"``, ``"time"``, ``"phase"``, ``"region"`` (placed by its distance
        ``x_ref``), ``"source"`` (one labelled column per source) or any other dimension of ``stat_scan``;
        default the one bin dimension left.
    ax : matplotlib.axes.Axes, optional
    flux_unit, energy_unit : str or astropy unit, optional
        Units of the y axis and (for ``dim="energy"``) of the x axis.
    time_format : {"mjd", "iso", "met"}
        The x axis of ``dim="time"``.
    vmax : float
        Δstat at which the colour scale saturates (the colour scale is 0 .. vmax).
    add_cbar : bool
        Draw a colour bar.
    **kwargs
        Passed to ``Axes.pcolormesh`` (``cmap`` ...).

    Returns
    -------
    ProfileArtists

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import fluxds
    >>> artists = plot_ts_profiles(fluxds.read(fluxds.demo_path()), "e2dnde")
    >>> artists.dim, artists.mesh.get_array().shape
    ('energy', (11, 9))
    """
    import matplotlib.pyplot as plt

    require_scan_reference(ds, "the castro (TS profile) plot")
    ax = ax if ax is not None else plt.gca()
    delta = delta_stat(ds)
    dim = _bin_dim(delta, dim)
    scan = get_quantity(ds, "norm_scan")
    if sed_type == "norm":
        unit = parse_unit(flux_unit) if flux_unit is not None else u.dimensionless_unscaled
        flux = scan * conversion_factor(u.dimensionless_unscaled, unit, what="norm")
    else:
        ref = get_quantity(ds, f"{sed_type}_ref", flux_unit)
        unit = unit_attr(ref)
        flux = scan * ref
    delta, flux = xr.broadcast(delta, flux)
    drop = [d for d in delta.dims if d not in (dim, "scan")]  # size-1 leftovers
    delta, flux = (a.isel({d: 0 for d in drop}).transpose(dim, "scan") for a in (delta, flux))
    y = np.asarray(flux.values, dtype=float)
    # a log axis whenever a scan point is > 0; points at flux <= 0 (a scan starting at norm 0, or scanning
    # negative norms) have no place on it: they are left out and counted in a note
    log_y = bool(np.any(y[np.isfinite(y)] > 0))
    lo, hi, along = _x_edges(ds, dim, energy_unit, time_format)
    n = lo.size
    x_corners = np.stack([lo, hi], axis=1).ravel()  # lo0 hi0 lo1 hi1 ...: bin i spans columns 2i, 2i+1
    if log_y:  # the points at (or near) zero flux: NaN, so that they get no cell
        top = np.max(np.where(y > 0, y, -np.inf), axis=1, keepdims=True)
        y_shown = np.where(y >= top * LOG_DEPTH, y, np.nan)
    else:
        y_shown = y
    y_edges, placed = _edges(y_shown, log_y)
    y_corners = np.repeat(y_edges, 2, axis=0).T  # (scan + 1, 2 n)
    values = np.asarray(delta.values, dtype=float).T  # (scan, n)
    cells = np.ma.masked_all((values.shape[0], 2 * n - 1))
    cells[:, ::2] = np.ma.masked_where(~placed.T, np.ma.masked_invalid(values))
    hidden = int(np.count_nonzero(~placed.T & np.isfinite(values)))
    kwargs.setdefault("cmap", "viridis_r")
    mesh = ax.pcolormesh(
        np.broadcast_to(x_corners, y_corners.shape), y_corners, cells, vmin=0, vmax=vmax, **kwargs
    )
    colorbar = None
    if add_cbar:
        colorbar = ax.figure.colorbar(mesh, ax=ax, label=r"$\Delta$stat ($-2\,\Delta\log L$)", extend="max")
    ax.set_xscale("log" if along.log else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_ylabel(quantity_label(sed_type, unit))
    format_bin_axis(ax, along, time_format)
    notes = _notes(y, values.T, placed, log_y)
    if notes:
        from matplotlib.lines import Line2D

        blank = [Line2D([], [], linestyle="none") for _ in notes]
        # lower left: below the bins of a falling spectrum, out of the way of most profiles
        ax.legend(blank, notes, loc="lower left", fontsize="small", handlelength=0, handletextpad=0)
    return ProfileArtists(ax, mesh, colorbar, dim, hidden, notes)


def _notes(y: np.ndarray, delta: np.ndarray, placed: np.ndarray, log_y: bool) -> list[str]:
    """What the castro plot leaves out: scan points (with a finite Δstat) at flux <= 0 (or below
    ``LOG_DEPTH`` times the bin's largest scan point) on the log axis."""
    left_out = ~placed & np.isfinite(delta) & np.isfinite(y)
    if not left_out.any():
        return [] if log_y or not np.isfinite(y).any() else ["no scan point at flux > 0: linear y axis"]
    points, bins = int(left_out.sum()), int(left_out.any(axis=1).sum())
    plural = ("s" if points > 1 else "", "s" if bins > 1 else "")
    return [
        f"{points} scan point{plural[0]} at flux \u2264 0 or \u2248 0 ({bins} bin{plural[1]}) "
        "not shown on the log axis"
    ]
