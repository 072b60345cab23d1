"""The likelihood-profile ("castro") plot: Δstat as a colour map over (energy or time bin, flux)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.convert import get_quantity
from fluxds.errors import FluxdsError, MissingQuantityError
from fluxds.plotting._time import format_time_axis, time_axis
from fluxds.plotting.labels import quantity_label, unit_text
from fluxds.units import conversion_factor, parse_unit, unit_attr

__all__ = ["ProfileArtists", "delta_stat", "plot_ts_profiles"]

_BIN_DIMS = ("energy", "time")


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
        The dimension along x (``"energy"`` or ``"time"``).
    """

    ax: Any
    mesh: Any
    colorbar: Any
    dim: str


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
        if dim not in _BIN_DIMS:
            raise FluxdsError(f"dim is {dim!r}; expected one of {', '.join(map(repr, _BIN_DIMS))}")
        others = [d for d in bins if d != dim]
        if dim not in delta.dims or others:
            raise FluxdsError(
                f"a profile plot along {dim!r} needs stat_scan with {dim!r} as its only bin dimension; it "
                f"has dims {dict(delta.sizes)}: select one bin of {others or [dim]} first (ds.isel / ds.sel)"
            )
        return dim
    candidates = [d for d in bins if d in _BIN_DIMS] or [d for d in _BIN_DIMS if d in delta.dims]
    if len(bins) > 1 or not candidates:
        raise FluxdsError(
            f"stat_scan has dims {dict(delta.sizes)}; a profile plot needs one bin dimension ('energy' or "
            "'time') besides 'scan': select the others first (e.g. ds.isel(time=0))"
        )
    return candidates[0]


def _edges(values: np.ndarray, log: bool) -> np.ndarray:
    """``(n_bins, n_scan + 1)`` cell edges around each bin's scan values (mid-points, log or linear)."""
    v = np.log(values) if log else values
    mid = (v[:, 1:] + v[:, :-1]) / 2
    first = v[:, :1] - (mid[:, :1] - v[:, :1])
    last = v[:, -1:] + (v[:, -1:] - mid[:, -1:])
    edges = np.concatenate([first, mid, last], axis=1)
    return np.exp(edges) if log else edges


def _x_edges(
    ds: xr.Dataset, dim: str, energy_unit, time_format: str
) -> tuple[np.ndarray, np.ndarray, str, bool]:
    if dim == "time":
        _, lo, hi, label = time_axis(ds, time_format)
        return lo, hi, label, False
    if schema.ENERGY_MIN not in ds.coords:
        raise MissingQuantityError(
            "a profile plot along energy needs energy bin edges (energy_min/energy_max)"
        )
    stored = unit_attr(ds[schema.ENERGY])
    eunit = parse_unit(energy_unit) if energy_unit is not None else stored
    factor = conversion_factor(stored, eunit, what="energy")
    lo, hi = (
        np.atleast_1d(ds[n].values).astype(float) * factor for n in (schema.ENERGY_MIN, schema.ENERGY_MAX)
    )
    return lo, hi, f"Energy [{unit_text(eunit)}]", True


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
        A fluxds Dataset with ``stat_scan``/``norm_scan`` and one bin dimension (``energy`` or ``time``)
        besides ``scan``: select the others first (``lc.isel(energy=0)``, ``lc.sel(time=...)``).
    sed_type : {"dnde", "e2dnde", "flux", "eflux", "norm"}
        The quantity on the y axis.
    dim : {"energy", "time"}, optional
        The x dimension; default the one bin dimension left.
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
    log_y = bool(np.all(y[np.isfinite(y)] > 0))
    lo, hi, xlabel, log_x = _x_edges(ds, dim, energy_unit, time_format)
    n = lo.size
    x_corners = np.stack([lo, hi], axis=1).ravel()  # lo0 hi0 lo1 hi1 ...: bin i spans columns 2i, 2i+1
    y_corners = np.repeat(_edges(y, log_y), 2, axis=0).T  # (scan + 1, 2 n)
    values = np.asarray(delta.values, dtype=float).T  # (scan, n)
    cells = np.ma.masked_all((values.shape[0], 2 * n - 1))
    cells[:, ::2] = np.ma.masked_invalid(values)
    kwargs.setdefault("cmap", "viridis_r")
    mesh = ax.pcolormesh(
        np.broadcast_to(x_corners, y_corners.shape), y_corners, cells, vmin=0, vmax=vmax, **kwargs
    )
    colorbar = None
    if add_cbar:
        colorbar = ax.figure.colorbar(mesh, ax=ax, label=r"$\Delta$stat ($-2\,\Delta\log L$)", extend="max")
    ax.set_xscale("log" if log_x else "linear")
    ax.set_yscale("log" if log_y else "linear")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(quantity_label(sed_type, unit))
    if dim == "time":
        format_time_axis(ax, time_format)
    return ProfileArtists(ax, mesh, colorbar, dim)
