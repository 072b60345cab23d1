"""Time-axis values for plots: bin centres and edges as MJD, calendar dates or mission elapsed time."""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds.errors import FluxdsError, SchemaError

TIME_FORMATS = ("mjd", "iso", "met")


def _met_reference(ds: xr.Dataset, scale: str):
    """The reference time of MET: the time coordinates' own MJDREF when non-zero, else the GTI's."""
    from astropy.time import Time

    for name in ("time_min", "gti_start"):
        attrs = ds[name].attrs if name in ds.variables else {}
        ref = float(attrs.get("mjdrefi", 0)) + float(attrs.get("mjdreff", 0))
        if ref:
            return Time(
                float(attrs.get("mjdrefi", 0)), float(attrs.get("mjdreff", 0)), format="mjd", scale=scale
            )
    raise FluxdsError(
        "time_format='met' needs a reference time: the coordinate 'time_min' has mjdrefi + mjdreff = 0 "
        "(plain MJDs) and no 'gti_start' with a non-zero reference; use time_format='mjd' or 'iso'"
    )


def time_axis(ds: xr.Dataset, time_format: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Bin centres, starts and ends of a light curve in ``time_format``, and the axis label.

    ``mjd``: MJD in the Dataset's time scale; ``iso``: matplotlib date numbers (days since 1970-01-01,
    calendar dates in the Dataset's scale); ``met``: seconds since the file's reference time.
    """
    from fluxds.timeaxis import astropy_times

    if time_format not in TIME_FORMATS:
        raise FluxdsError(
            f"time_format is {time_format!r}; expected one of {', '.join(map(repr, TIME_FORMATS))}"
        )
    if "time_min" not in ds.coords or "time_max" not in ds.coords:
        raise SchemaError("a time axis needs the coordinates 'time_min' and 'time_max' (time bins)")
    start, stop = astropy_times(ds)
    scale = start.scale
    if time_format == "mjd":
        lo, hi = np.atleast_1d(start.mjd), np.atleast_1d(stop.mjd)
        label = f"Time [MJD, {scale.upper()}]"
    elif time_format == "iso":
        import matplotlib.dates as mdates

        lo, hi = (np.atleast_1d(mdates.date2num(t.datetime64)) for t in (start, stop))
        label = f"Time [{scale.upper()}]"
    else:
        ref = _met_reference(ds, scale)
        lo, hi = (np.atleast_1d((t - ref).to_value("s")) for t in (start, stop))
        label = f"Time [s since MJD {ref.mjd:.10g}, {scale.upper()}]"
    return (lo + hi) / 2, lo, hi, label


def format_time_axis(ax, time_format: str) -> None:
    """Date ticks for ``iso`` (concise, no overlap); plain numbers (no offset) for the numeric formats."""
    from matplotlib.ticker import ScalarFormatter

    numeric = isinstance(ax.xaxis.get_major_formatter(), ScalarFormatter)  # not on a log or date axis
    if time_format == "mjd" and numeric:
        ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    elif time_format == "met" and numeric:  # 9-10 digit seconds: a common power of ten
        ax.ticklabel_format(axis="x", useOffset=False, style="sci", scilimits=(0, 0))
    elif time_format == "iso":
        import matplotlib.dates as mdates

        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
