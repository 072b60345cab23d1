"""Points with error bars and upper-limit arrows: what the SED and the light-curve plots share."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.convert import get_quantity
from fluxds.errors import FluxdsError, MissingQuantityError

UL_MODES = ("show", "hide", "only")
# length of an upper-limit arrow: a factor below the UL on a log axis, a fraction of the data range on a
# linear one
_LOG_ARROW = 0.45
_LINEAR_ARROW = 0.08
#: at most this many legend entries (series beyond are summed up in one "... more" entry)
MAX_LEGEND = 10


@dataclass
class SeriesArtists:
    """The artists of one series: ``points`` (ErrorbarContainer or None), ``upper_limits``
    (ErrorbarContainer or None: a downward arrow from each UL value), its legend ``label`` and
    ``hidden_ul``, the number of upper limits not drawn because their value is <= 0."""

    label: str | None
    points: Any = None
    upper_limits: Any = None
    hidden_ul: int = 0


def check_ul_mode(ul: str) -> None:
    if ul not in UL_MODES:
        raise FluxdsError(f"ul is {ul!r}; expected one of {', '.join(map(repr, UL_MODES))}")


def measurement(ds: xr.Dataset, sed_type: str, unit) -> dict[str, xr.DataArray | None]:
    """The value, its errors (``errn``/``errp``, falling back to ``err``), the UL and ``is_ul``, all in
    ``unit``; entries the Dataset cannot give are None."""
    out: dict[str, xr.DataArray | None] = {"value": get_quantity(ds, sed_type, unit)}
    for suffix in ("_errn", "_errp", "_err", "_ul"):
        try:
            out[suffix] = get_quantity(ds, f"{sed_type}{suffix}", unit)
        except MissingQuantityError:
            out[suffix] = None
    if out["_errn"] is None or out["_errp"] is None:
        out["_errn"] = out["_errp"] = out["_err"]
    out["is_ul"] = get_quantity(ds, "is_ul") if out["_ul"] is not None else None
    return out


def stacked(da: xr.DataArray | None, along: str, series: list[str]) -> np.ndarray | None:
    """``da`` as a 2-D array ``(series, along)`` (1 series when ``series`` is empty)."""
    if da is None:
        return None
    if along not in da.dims:
        da = da.expand_dims(along)
    da = da.transpose(*series, along, missing_dims="ignore")
    values = np.asarray(da.values)
    return values.reshape(-1, values.shape[-1])


def series_labels(da: xr.DataArray, series: list[str]) -> list[str | None]:
    """One legend label per series of ``da`` (``"source=Crab, time=2021-03-01T22:00"``), in the order of
    :func:`stacked`; None for a single series."""
    if not series:
        return [None]
    values = [np.atleast_1d(da[d].values) if d in da.coords else np.arange(da.sizes[d]) for d in series]
    return [
        ", ".join(f"{d}={_short(v)}" for d, v in zip(series, combo, strict=True))
        for combo in itertools.product(*values)
    ]


def _short(value) -> str:
    if isinstance(value, np.datetime64):
        return str(np.datetime_as_string(value, unit="m"))
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    return str(value)


def arrow_length(ul: np.ndarray, values: np.ndarray, log: bool) -> np.ndarray:
    """How far below each UL its arrow reaches (a factor on a log axis, a range fraction on a linear one)."""
    if log:
        return _LOG_ARROW * np.abs(ul)
    finite = np.concatenate([values[np.isfinite(values)], ul[np.isfinite(ul)]])
    span = np.ptp(finite) if finite.size > 1 else 0.0
    span = span if span > 0 else (abs(finite).max() if finite.size else 1.0)
    return np.full(ul.shape, _LINEAR_ARROW * span)


def draw_series(
    ax,
    x: np.ndarray,
    xerr: np.ndarray | None,
    parts: dict[str, np.ndarray | None],
    ul: str,
    log: bool,
    label: str | None,
    arrow_scale: np.ndarray | None = None,
    **kwargs: Any,
) -> SeriesArtists:
    """Draw one series: points (``~is_ul``) with x and y error bars, ULs (``is_ul``) as arrows.

    ``parts`` holds 1-D arrays ``value``, ``_errn``, ``_errp``, ``_ul``, ``is_ul`` (any of the last four
    may be None); ``xerr`` is ``(2, n)``. ``arrow_scale`` gives the linear-axis arrow length.
    """
    y = parts["value"]
    is_ul = np.zeros(y.shape, bool) if parts["is_ul"] is None else np.asarray(parts["is_ul"], bool)
    artists = SeriesArtists(label)
    kwargs.setdefault("fmt", "o")
    kwargs.setdefault("markersize", 4)
    color = kwargs.pop("color", None)
    if ul != "only":
        keep = ~is_ul & np.isfinite(y)
        yerr = None
        if parts["_errn"] is not None:
            yerr = np.stack([parts["_errn"], parts["_errp"]])[:, keep]
        artists.points = ax.errorbar(
            x[keep],
            y[keep],
            xerr=None if xerr is None else xerr[:, keep],
            yerr=yerr,
            label=label,
            color=color,
            **kwargs,
        )
        color = artists.points.lines[0].get_color()
        label = None
    if ul != "hide" and parts["_ul"] is not None:
        values = parts["_ul"]
        # an arrow starts at a positive limit only: a limit <= 0 (gammapy writes them for bins with a
        # negative excess) cannot sit on a log axis, and on a linear one an arrow pointing down from below
        # zero reads as a measured negative flux. They are counted, and the plot says so in a note.
        keep = is_ul & np.isfinite(values) & (values > 0)
        artists.hidden_ul = int(np.count_nonzero(is_ul & np.isfinite(values) & (values <= 0)))
        length = arrow_length(values, y, log) if arrow_scale is None else arrow_scale
        artists.upper_limits = ax.errorbar(
            x[keep],
            values[keep],
            xerr=None if xerr is None else xerr[:, keep],
            yerr=np.stack(
                [length[keep] if np.ndim(length) else np.full(keep.sum(), length), np.zeros(keep.sum())]
            ),
            uplims=True,
            fmt="none",
            color=color,
            label=label,
        )
    return artists


def hidden_ul_note(series: list[SeriesArtists]) -> list[str]:
    """``["2 upper limits <= 0 not drawn"]`` when some series hid upper limits, else ``[]``."""
    hidden = sum(s.hidden_ul for s in series)
    if not hidden:
        return []
    return [f"{hidden} upper limit{'s' if hidden > 1 else ''} \u2264 0 not drawn"]


def finish_legend(ax, notes: list[str], *, title: str | None = None, max_entries: int = MAX_LEGEND) -> Any:
    """The legend of a points plot: the labelled artists (at most ``max_entries``, the rest summed up as
    one ``"... and N more"`` entry) and each note as an entry without a symbol. Returns the legend (None
    when there is nothing to list)."""
    from matplotlib.lines import Line2D

    handles, labels = ax.get_legend_handles_labels()
    if len(handles) > max_entries:
        more = len(handles) - (max_entries - 1)
        handles, labels = handles[: max_entries - 1], labels[: max_entries - 1]
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(f"\u2026 and {more} more")
    for note in notes:
        handles.append(Line2D([], [], linestyle="none"))
        labels.append(note)
    if not handles:
        return None
    return ax.legend(handles, labels, fontsize="small", title=title)


def edges_err(center: np.ndarray, low: np.ndarray | None, high: np.ndarray | None) -> np.ndarray | None:
    """``(2, n)`` x error bars from bin edges around ``center``."""
    if low is None or high is None:
        return None
    return np.stack([center - low, high - center])


def series_dims(da: xr.DataArray, along: str) -> list[str]:
    """The dimensions of ``da`` other than ``along``, in the contract's order: the series dims."""
    return [d for d in schema.canonical_dims(da.dims) if d != along]
