"""The SED plot: flux points with error bars, upper-limit arrows and an optional model curve."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.convert import has_edges
from fluxds.errors import FluxdsError, MissingQuantityError
from fluxds.plotting._points import (
    MAX_LEGEND,
    SeriesArtists,
    arrow_length,
    check_ul_mode,
    draw_series,
    edges_err,
    finish_legend,
    hidden_ul_note,
    measurement,
    series_dims,
    series_labels,
    stacked,
)
from fluxds.plotting.labels import quantity_label, unit_text
from fluxds.plotting.systematics import draw_systematics, systematic_parts
from fluxds.units import conversion_factor, parse_unit, unit_attr

__all__ = ["SedArtists", "plot_sed"]

_MODEL_POINTS = 200


@dataclass
class SedArtists:
    """What :func:`plot_sed` drew.

    Attributes
    ----------
    ax : matplotlib.axes.Axes
    series : list of SeriesArtists
        One per source/instrument/time slice: ``points`` and ``upper_limits`` (``ErrorbarContainer`` or
        None) and the legend ``label``.
    model : list
        The model artists (a ``Line2D`` for dnde/e2dnde, a ``LineCollection`` of bin steps for
        flux/eflux), one per model drawn.
    systematics : list
        The systematic-error bars (``ErrorbarContainer``), one per series that has them.
    unit : str
        Unit of the y values; ``energy_unit`` the unit of the x values.
    colorbar : matplotlib.colorbar.Colorbar or None
        The time colour bar, when the series are more than ``MAX_LEGEND`` time bins (each series then
        takes the colour of its time instead of a legend entry).
    notes : list of str
        What the plot leaves out (``"1 upper limit <= 0 not drawn"``), also shown in the legend.
    """

    ax: Any
    series: list[SeriesArtists] = field(default_factory=list)
    model: list = field(default_factory=list)
    systematics: list = field(default_factory=list)
    unit: str = ""
    energy_unit: str = ""
    colorbar: Any = None
    notes: list[str] = field(default_factory=list)

    def __getitem__(self, key: str):
        """``artists["points"]``/``["upper_limits"]``: those of the first series (the old dict API)."""
        return getattr(self.series[0], key)


def _energies(ds: xr.Dataset, energy_unit) -> tuple[u.UnitBase, float, np.ndarray, np.ndarray | None]:
    """Energy unit, the factor from the stored unit, e_ref and the ``(2, n)`` x errors, in that unit."""
    stored = unit_attr(ds[schema.ENERGY])
    unit = parse_unit(energy_unit) if energy_unit is not None else stored
    factor = conversion_factor(stored, unit, what="energy")
    x = np.atleast_1d(np.asarray(ds[schema.ENERGY].values, dtype=float)) * factor
    xerr = None
    if has_edges(ds):
        lo, hi = (
            np.atleast_1d(np.asarray(ds[n].values, dtype=float)) * factor
            for n in (schema.ENERGY_MIN, schema.ENERGY_MAX)
        )
        xerr = edges_err(x, lo, hi)
    return unit, factor, x, xerr


def _y_unit(
    sed_type: str, energy_power: float, energy_unit: u.UnitBase, flux_unit
) -> tuple[u.UnitBase, float]:
    """Unit of the plotted values and the factor from ``<type unit> * energy_unit**p`` to it."""
    natural = schema.sed_type(sed_type).physical_unit * energy_unit**energy_power
    if flux_unit is None:
        return natural, 1.0
    target = parse_unit(flux_unit)
    return target, conversion_factor(natural, target, what=f"{sed_type} times E^{energy_power}")


def plot_sed(
    ds: xr.Dataset,
    sed_type: str = "e2dnde",
    ax: Any = None,
    *,
    energy_power: float | None = None,
    ul: str = "show",
    energy_unit: str | u.UnitBase | None = None,
    flux_unit: str | u.UnitBase | None = None,
    model: Any = None,
    **kwargs: Any,
) -> SedArtists:
    """Plot an SED: points with x error bars from the bin edges and y errors (asymmetric when
    ``norm_errp``/``norm_errn`` are stored), systematic errors (``norm_errsysn``/``norm_errsysp`` or
    ``norm_errsys``) as a wide light bar behind each point, upper limits as downward arrows from the UL
    value, log axes,
    labels with units; one series per source/region/time slice (every dim but ``energy``) with a legend;
    on a collection (:mod:`fluxds.collection`: papers, instruments, sources whose points lie along
    ``energy``), one series per member, its own points only (markers, nothing joins two members' points),
    the legend titled by the member label.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset with an ``energy`` dimension (any other measurement dims become series).
    sed_type : {"e2dnde", "dnde", "flux", "eflux", "norm"}
        The quantity on the y axis.
    ax : matplotlib.axes.Axes, optional
        Default: the current axes.
    energy_power : float, optional
        Multiply the values by ``E_ref**energy_power`` (``E_ref`` in ``energy_unit``); the y unit says so.
    ul : {"show", "hide", "only"}
        Upper limits (``is_ul``) as arrows with the points, not at all, or alone.
    energy_unit, flux_unit : str or astropy unit, optional
        Units of the x and y axes; default the stored energy unit and the SED type's unit (times
        ``energy_unit**energy_power``).
    model : None, "reference" or fluxds.models.SpectralModel
        A model curve: smooth for ``dnde``/``e2dnde``, bin-integrated steps for ``flux``/``eflux``.
    **kwargs
        Passed to ``Axes.errorbar`` for the points (``color``, ``marker``, ``markersize`` ...).

    Returns
    -------
    SedArtists
        The artists drawn (``.series[i].points``, ``.series[i].upper_limits``, ``.model``,
        ``.systematics``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import fluxds
    >>> ds = fluxds.read(fluxds.demo_path())
    >>> artists = plot_sed(ds, "e2dnde", energy_unit="GeV", model="reference")
    >>> artists.ax.get_xlabel(), artists.unit
    ('Energy [GeV]', 'erg cm-2 s-1')
    """
    import matplotlib.pyplot as plt

    check_ul_mode(ul)
    ax = ax if ax is not None else plt.gca()
    power = float(energy_power or 0)
    eunit, _, x, xerr = _energies(ds, energy_unit)
    yunit, yfactor = _y_unit(sed_type, power, eunit, flux_unit)
    factor = (x**power if power else 1.0) * yfactor
    parts = measurement(ds, sed_type, None)
    systematics = systematic_parts(ds, sed_type, None)
    series = series_dims(parts["value"], schema.ENERGY)
    arrays = {k: stacked(v, schema.ENERGY, series) for k, v in parts.items()}
    arrays = {k: (v * factor if v is not None and k != "is_ul" else v) for k, v in arrays.items()}
    log = sed_type != "norm"
    arrow = None
    if not log and arrays["_ul"] is not None:
        arrow = arrow_length(arrays["_ul"], arrays["value"], log=False)[0, 0]
    out = SedArtists(ax, unit=unit_text(yunit), energy_unit=unit_text(eunit))
    labels = series_labels(parts["value"], series)
    colours = None
    if len(labels) > MAX_LEGEND and series == ["time"] and "color" not in kwargs:
        colours, out.colorbar = _time_colours(ds, ax)
    groups = _member_groups(ds)
    rows = []  # (row of the arrays, points) of each series drawn
    for i, label in enumerate(labels):  # one artist per series (a legend entry each), not per bin
        row = {k: (None if v is None else v[i]) for k, v in arrays.items()}
        for name, keep in groups:  # a collection: one series per member, its own points only
            part = {k: (None if v is None else v[keep]) for k, v in row.items()}
            text = label if name is None else (name if label is None else f"{name}, {label}")
            px, pxerr = x[keep], (None if xerr is None else xerr[:, keep])
            if colours is not None:  # a time colour bar instead of a legend entry per time bin
                drawn = draw_series(ax, px, pxerr, part, ul, log, None, arrow, color=colours[i], **kwargs)
            else:
                drawn = draw_series(ax, px, pxerr, part, ul, log, text, arrow, **kwargs)
            out.series.append(drawn)
            rows.append((i, keep))
    labels = [s.label for s in out.series]
    if systematics is not None and ul != "only":
        out.systematics = _draw_systematics(ax, out.series, rows, systematics, series, x, arrays, factor)
    if model is not None:
        out.model = _draw_model(ax, ds, sed_type, model, eunit, yunit, power)
    ax.set_xscale("log")
    ax.set_yscale("log" if log else "linear")
    ax.set_xlabel(f"Energy [{unit_text(eunit)}]")
    ax.set_ylabel(quantity_label(sed_type, yunit, power))
    out.notes = hidden_ul_note(out.series)
    if (len(labels) > 1 and colours is None) or out.model or out.systematics or out.notes:
        from fluxds.collection import member_label

        finish_legend(ax, out.notes, title=member_label(ds, schema.ENERGY))
    return out


def _member_groups(ds: xr.Dataset) -> list[tuple[str | None, np.ndarray]]:
    """``(member name, points mask)`` of each member of a collection along ``energy`` (papers,
    instruments, sources: :mod:`fluxds.collection`), in order of first appearance; one group of every
    point on a grid."""
    from fluxds.collection import member_label, members

    label = member_label(ds, schema.ENERGY)
    if label is None:
        return [(None, np.ones(ds.sizes[schema.ENERGY], bool))]
    values = np.asarray(ds[label].values).astype(str)
    return [(name, values == name) for name in members(ds, label)]


def _time_colours(ds: xr.Dataset, ax) -> tuple[np.ndarray | None, Any]:
    """One colour per time bin (its centre, MJD, on viridis) and the colour bar; ``(None, None)`` when
    the Dataset has no time bins to place on a colour bar."""
    import matplotlib as mpl

    from fluxds.plotting._time import time_axis

    if "time_min" not in ds.coords or "time_max" not in ds.coords:
        return None, None
    centre, _, _, label = time_axis(ds, "mjd")
    norm = mpl.colors.Normalize(float(np.min(centre)), float(np.max(centre)))
    mappable = mpl.cm.ScalarMappable(norm=norm, cmap="viridis")
    colorbar = ax.figure.colorbar(mappable, ax=ax, label=label)
    colorbar.formatter = mpl.ticker.ScalarFormatter(useOffset=False)
    colorbar.update_ticks()
    return mappable.to_rgba(centre), colorbar


def _draw_systematics(ax, drawn: list[SeriesArtists], rows, parts, series, x, arrays, factor) -> list:
    """One systematic bar per series (legend entry on the first), in the colour of its points; ``rows``
    gives each series' row of the arrays and its points (a collection's member)."""
    errn, errp = (stacked(parts[k], schema.ENERGY, series) * factor for k in ("_errsysn", "_errsysp"))
    out = []
    for artists, (i, keep) in zip(drawn, rows, strict=True):
        color = None if artists.points is None else artists.points.lines[0].get_color()
        is_ul = None if arrays["is_ul"] is None else arrays["is_ul"][i][keep]
        label = "systematic error" if not out else None
        bar = draw_systematics(
            ax, x[keep], arrays["value"][i][keep], errn[i][keep], errp[i][keep], is_ul, color, label
        )
        if bar is not None:
            out.append(bar)
    return out


def _models(ds: xr.Dataset, model: Any) -> dict[str, Any]:
    from fluxds.construct import reference_model_of
    from fluxds.models import SpectralModel

    if isinstance(model, str) and model == "reference":
        found = reference_model_of(ds)
        if found is None:
            raise MissingQuantityError(
                f"model='reference' asked, and the Dataset has no reference model (attribute "
                f"'reference_model'; origin: {ds.attrs.get('reference_model_origin')!r})"
            )
        return (
            {f"reference {k}": m for k, m in found.items()}
            if isinstance(found, dict)
            else {"reference": found}
        )
    if isinstance(model, SpectralModel):
        return {model.name: model}
    raise FluxdsError(f"model is {model!r}; expected None, 'reference' or a fluxds.models.SpectralModel")


def _draw_model(ax, ds, sed_type: str, model: Any, eunit, yunit, power: float) -> list:
    kind = schema.sed_type(sed_type)
    if kind.name == "norm":
        raise FluxdsError("sed_type 'norm' has no model curve: plot the model in dnde, e2dnde, flux or eflux")
    models = _models(ds, model)
    artists = []
    if kind.needs_edges:
        if not has_edges(ds):
            raise MissingQuantityError(
                f"a {sed_type!r} model curve needs energy bin edges; the Dataset has none"
            )
        lo, hi = (
            np.atleast_1d(ds[n].values) * unit_attr(ds[n]) for n in (schema.ENERGY_MIN, schema.ENERGY_MAX)
        )
        e_ref = np.atleast_1d(ds[schema.ENERGY].values) * unit_attr(ds[schema.ENERGY])
        for name, m in models.items():
            values = getattr(m, kind.name)(lo, hi) * e_ref.to(eunit) ** power
            artists.append(
                ax.hlines(
                    values.to_value(yunit), lo.to_value(eunit), hi.to_value(eunit), color="k", label=name
                )
            )
        return artists
    edges = (
        [ds[n] for n in (schema.ENERGY_MIN, schema.ENERGY_MAX)] if has_edges(ds) else [ds[schema.ENERGY]] * 2
    )
    # points without edges (NaN, e.g. e_ref-only members of a collection) still count through e_ref
    lo = np.fmin(np.asarray(edges[0].values, float), np.asarray(ds[schema.ENERGY].values, float))
    hi = np.fmax(np.asarray(edges[1].values, float), np.asarray(ds[schema.ENERGY].values, float))
    span = [float(np.nanmin(lo)), float(np.nanmax(hi))] * unit_attr(ds[schema.ENERGY])
    energy = np.geomspace(*span.to_value(eunit), _MODEL_POINTS) * eunit
    for name, m in models.items():
        values = m.dnde(energy) * energy**kind.energy_power * energy**power
        (line,) = ax.plot(energy.to_value(eunit), values.to_value(yunit), color="k", lw=1, label=name)
        artists.append(line)
    return artists
