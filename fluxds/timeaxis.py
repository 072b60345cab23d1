"""The ``time`` dimension of a light curve: coordinates, checks, and astropy ``Time`` objects.

A light curve is a fluxds Dataset with a ``time`` dimension. Its coordinates are

- ``time`` (the index, ``datetime64[ns]``): the centre of each bin as a calendar date and time *in the
  time scale of the data* (a TT light curve has TT dates), so that label selection works:
  ``ds.sel(time=slice("2021-03-01", "2021-03-03"))``. It is computed from the numbers below and never
  written to a file;
- ``time_min``, ``time_max`` (``float64``): the bin edges exactly as the file stores them, in ``units``
  (``d`` or ``s``) since the reference MJD ``mjdrefi + mjdreff`` (attributes), in the scale
  ``time_scale`` (attribute: ``tt``, ``utc``, ``tdb``, ``tai`` ...). Writers write these numbers back
  unchanged, so every round trip is bit-exact;
- ``time_value`` (``float64``, optional): a file's ``TIME`` column (GADF light curves), same attributes;
  when a file gives only ``TIME`` (no bins), ``time`` is this instant instead of a bin centre.

:func:`astropy_times` gives the bin edges as :class:`astropy.time.Time` (what ``ds.sed.times()`` returns).
"""

from __future__ import annotations

from collections.abc import Mapping

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.time import Time, TimeDelta

from fluxds import schema
from fluxds.errors import FormatError, SchemaError, TimeValueError, UnitError
from fluxds.units import format_unit, parse_unit

__all__ = ["TIME", "TIME_MIN", "TIME_MAX", "TIME_VALUE", "NUMERIC_TIME_COORDS", "MJD_RANGE",
           "time_scale_from_timesys", "time_coords", "time_coords_from_astropy",
           "astropy_time", "astropy_times", "time_reference", "time_keywords", "check_time_reference",
           "check_mjd", "check_times", "check_gti", "time_labels", "edge_labels",
           "shared_time_bins_problem"]  # fmt: skip

# the names come from the schema's description of the binned axis ``time``
_AXIS = schema.BINNED_AXES["time"]
TIME = _AXIS.dim
TIME_MIN = _AXIS.min_name
TIME_MAX = _AXIS.max_name
TIME_VALUE = _AXIS.centre_value
NUMERIC_TIME_COORDS = (TIME_MIN, TIME_MAX, TIME_VALUE)
_LONG_NAMES = {
    TIME_MIN: _AXIS.long_name_of[TIME_MIN],
    TIME_MAX: _AXIS.long_name_of[TIME_MAX],
    TIME_VALUE: "time of the measurement (the file's TIME column)",
}
#: The absolute times fluxds accepts (MJD, inclusive): 1678-03-05 to 2261-05-08. Calendar dates are
#: ``datetime64[ns]``, which holds 1677-09-21 to 2262-04-11; the margin of about 160 days on either side
#: covers the offsets between time scales. Every reference MJD, bin edge, instant and GTI bound outside it
#: (or not finite) is refused with a :class:`TimeValueError` before any conversion.
MJD_RANGE = (-66_000.0, 147_000.0)
_RANGE_TEXT = (
    "MJD -66000 (1678-03-05) to MJD 147000 (2261-05-08), the calendar dates numpy's datetime64[ns] holds"
)
_MJD_UNIX = 40_587  # MJD of 1970-01-01, the epoch of datetime64
_UNIX0 = np.datetime64("1970-01-01T00:00:00", "ns")


# FITS TIMESYS values (FITS standard 4.0, table 30, and their deprecated synonyms) -> astropy scale
_TIMESYS = dict(tt="tt", tdt="tt", et="tt", tai="tai", iat="tai", utc="utc", gmt="utc", ut1="ut1", tdb="tdb",
                tcg="tcg", tcb="tcb", local="local")  # fmt: skip


def time_scale_from_timesys(value, where: str = "") -> str:
    """The astropy time scale of a FITS ``TIMESYS`` value (``"TT"`` -> ``"tt"``, ``"TDT"`` -> ``"tt"``).

    Raises
    ------
    FormatError
        For a value astropy has no scale for (``GPS`` among them), naming ``where``.
    """
    scale = _TIMESYS.get(str(value).strip().lower())
    if scale is None:
        raise FormatError(
            f"{where}: keyword TIMESYS is {value!r}; expected one of "
            f"{', '.join(sorted({k.upper() for k in _TIMESYS}))}"
        )
    return scale


def _time_unit(unit, where: str) -> str:
    try:
        parsed = parse_unit(unit, where=where)
    except UnitError as exc:
        raise FormatError(str(exc)) from None
    if parsed.physical_type != "time":
        raise UnitError(f"{where}: time unit is {unit!r}, which is not a time (expected 'd' or 's')")
    return format_unit(parsed)


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _float(value) -> float:
    """``float(value)``, infinite for an integer too large for a float (``10**400``)."""
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def check_mjd(value: float, what: str, where: str = "") -> None:
    """Refuse an absolute time ``value`` (MJD, days) that is not finite or lies outside :data:`MJD_RANGE`.

    Parameters
    ----------
    value : float
        The MJD (days).
    what : str
        What it is, for the message (``"keyword MJDREFI"``).
    where : str
        The file and HDU.

    Raises
    ------
    TimeValueError
    """
    value = _float(value)
    if not np.isfinite(value):
        raise TimeValueError(f"{_prefix(where)}{what} is {value!r}; expected a finite MJD (days)")
    if not MJD_RANGE[0] <= value <= MJD_RANGE[1]:
        raise TimeValueError(f"{_prefix(where)}{what} is MJD {value!r}; fluxds accepts {_RANGE_TEXT}")


def check_time_reference(
    mjdrefi: float,
    mjdreff: float,
    where: str = "",
    *,
    names: tuple[str, str] = ("keyword MJDREFI", "keyword MJDREFF"),
    integer: bool = True,
) -> None:
    """Refuse a reference MJD ``mjdrefi + mjdreff`` that is not finite, not in :data:`MJD_RANGE`, or whose
    integer part is not a whole number of days (``integer=True``), naming the keyword at fault.

    Parameters
    ----------
    mjdrefi, mjdreff : float
        Integer and fractional part of the reference MJD (days), as read (not yet converted to ``int``).
    where : str
        The file and HDU.
    names : tuple of str
        How to name the two parts in messages.
    integer : bool
        Require a whole number of days in ``mjdrefi``.

    Raises
    ------
    TimeValueError
        For example ``keyword MJDREFI is MJD 1000000.0; fluxds accepts MJD -66000 (1678-03-05) to ...``.
    """
    refi, reff = _float(mjdrefi), _float(mjdreff)
    if not np.isfinite(refi) or (integer and refi != np.floor(refi)):
        expected = "an integer" if integer else "a finite"
        raise TimeValueError(f"{_prefix(where)}{names[0]} is {mjdrefi!r}; expected {expected} number of days")
    if not np.isfinite(reff):
        raise TimeValueError(f"{_prefix(where)}{names[1]} is {mjdreff!r}; expected a finite number of days")
    check_mjd(refi, names[0], where)
    if not MJD_RANGE[0] <= refi + reff <= MJD_RANGE[1]:
        raise TimeValueError(
            f"{_prefix(where)}{names[1]} is {mjdreff!r}: the reference {names[0].split()[-1]} + "
            f"{names[1].split()[-1]} is MJD {refi + reff!r}; fluxds accepts {_RANGE_TEXT}"
        )


def check_times(
    values,
    *,
    unit: str,
    mjdrefi: float = 0,
    mjdreff: float = 0.0,
    what: str,
    where: str = "",
    row: str = "row",
) -> np.ndarray:
    """Refuse times that are not finite, or that lie outside :data:`MJD_RANGE` once added to the reference.

    Overflow-safe: the check is made in floating point (an out-of-range product becomes infinite, and
    is refused) before any integer arithmetic converts the times to calendar dates.

    Parameters
    ----------
    values : array_like
        1-D times in ``unit`` since the reference MJD ``mjdrefi + mjdreff`` (checked beforehand).
    unit : str
        A time unit.
    what : str
        What the numbers are, for messages (``"column 'time_min'"``).
    where : str
        The file and HDU.
    row : str
        What one element is called in messages (``"time bin"``, ``"row"``).

    Returns
    -------
    numpy.ndarray
        The values as ``float64``.

    Raises
    ------
    TimeValueError
        Naming ``what``, the first offending row and its value.
    """
    prefix = _prefix(where)
    arr = np.asarray(values, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise TimeValueError(f"{prefix}{what} must be finite; found {float(arr.flat[i])} in {row} {i}")
    days_per_unit = parse_unit(_time_unit(unit, where)).to(u.day)
    with np.errstate(over="ignore", invalid="ignore"):
        mjd = (float(mjdrefi) + float(mjdreff)) + arr * days_per_unit
    bad = np.flatnonzero(~((mjd >= MJD_RANGE[0]) & (mjd <= MJD_RANGE[1])))
    if bad.size:
        i = int(bad[0])
        ref = float(mjdrefi) + float(mjdreff)
        raise TimeValueError(
            f"{prefix}{what} is {float(arr.flat[i])!r} {unit} since MJD {ref!r} in {row} {i}, that is "
            f"MJD {float(mjd.flat[i]):.6g}; fluxds accepts {_RANGE_TEXT}"
        )
    return arr


def check_gti(start, stop, *, unit: str, mjdrefi: float, mjdreff: float, where: str = "") -> None:
    """Refuse good time intervals whose bounds are not finite, outside :data:`MJD_RANGE`, or whose
    ``START`` is after their ``STOP``; and a reference MJD that is not finite or out of range.

    Parameters
    ----------
    start, stop : array_like
        The ``START``/``STOP`` columns, in ``unit`` since ``mjdrefi + mjdreff`` (days).
    unit : str
        A time unit.
    mjdrefi, mjdreff : float
        The reference MJD of the GTI table (a fractional ``MJDREFI`` is accepted here).
    where : str
        The file and HDU (``file.fits[GTI]``).

    Raises
    ------
    TimeValueError
    """
    names = ("GTI keyword MJDREFI", "GTI keyword MJDREFF")
    check_time_reference(mjdrefi, mjdreff, where, names=names, integer=False)
    lo = check_times(start, unit=unit, mjdrefi=mjdrefi, mjdreff=mjdreff, what="GTI column START", where=where)
    hi = check_times(stop, unit=unit, mjdrefi=mjdrefi, mjdreff=mjdreff, what="GTI column STOP", where=where)
    bad = np.flatnonzero(lo > hi) if lo.shape == hi.shape else []
    if len(bad):
        i = int(bad[0])
        raise TimeValueError(
            f"{_prefix(where)}GTI row {i} has START={float(lo[i])!r} after STOP={float(hi[i])!r} ({unit}); a "
            "good time interval cannot end before it starts"
        )


def time_coords(
    *,
    time_min=None,
    time_max=None,
    time_value=None,
    unit: str = "d",
    mjdrefi: int = 0,
    mjdreff: float = 0.0,
    scale: str = "tt",
    where: str = "",
    extra_attrs: Mapping[str, str] | None = None,
    members: np.ndarray | None = None,
) -> dict[str, xr.Variable]:
    """The coordinates of a ``time`` dimension from the numbers a file stores.

    Parameters
    ----------
    time_min, time_max : array_like, optional
        Bin edges (1-D, ``float64``), in ``unit`` since the reference MJD. Both or neither.
    time_value : array_like, optional
        Instants (a GADF ``TIME`` column), same convention. Needed when there are no bins.
    unit : str
        Time unit of the numbers (``d``, ``s``, any astropy time unit).
    mjdrefi, mjdreff : int, float
        Integer and fractional part of the reference MJD (days), as the ``MJDREFI``/``MJDREFF`` keywords.
    scale : str
        astropy time scale (``tt``, ``utc``, ``tdb``, ``tai``, ``tcg``, ``tcb``, ``ut1``, ``local``).
    where : str
        The file and HDU, for messages.
    extra_attrs : mapping, optional
        Further attributes of the numeric coordinates (e.g. ``timeref``).
    members : numpy.ndarray, optional
        A collection's member of each bin (integer codes, :func:`fluxds.collection.member_codes`): the
        bins increase within each member instead of along the whole axis (light curves of several
        sources one after the other, see ``docs/data_model.md``, "Collections").

    Returns
    -------
    dict of str to xarray.Variable
        ``time`` (``datetime64[ns]`` bin centres or instants) and the numeric coordinates given.

    Raises
    ------
    SchemaError
        Non-finite numbers, ``time_min >= time_max`` in a bin, bins (or instants) not in increasing
        order (within each member when ``members`` is given); the message names the bin and the values.
    """
    prefix = f"{where}: " if where else ""
    if scale not in set(_TIMESYS.values()):
        raise SchemaError(f"{prefix}time scale {scale!r} is not an astropy time scale")
    if (time_min is None) != (time_max is None):
        raise SchemaError(f"{prefix}time bins need both time_min and time_max")
    if time_min is None and time_value is None:
        raise SchemaError(f"{prefix}no times: give time_min and time_max, or time_value")
    unit = _time_unit(unit, where)
    check_time_reference(mjdrefi, mjdreff, where, names=("mjdrefi", "mjdreff"))
    attrs = {"units": unit, "time_scale": scale, "mjdrefi": int(mjdrefi), "mjdreff": float(mjdreff)}
    attrs.update(extra_attrs or {})
    numbers = {}
    for name, values in ((TIME_MIN, time_min), (TIME_MAX, time_max), (TIME_VALUE, time_value)):
        if values is not None:
            numbers[name] = _checked(name, values, prefix)
            check_times(numbers[name], unit=unit, mjdrefi=mjdrefi, mjdreff=mjdreff, what=repr(name),
                        where=where, row="time bin")  # fmt: skip
    sizes = {arr.size for arr in numbers.values()}
    if len(sizes) > 1:
        raise SchemaError(
            f"{prefix}time columns differ in length: { ({k: v.size for k, v in numbers.items()}) }"
        )
    if TIME_MIN in numbers:
        lo, hi = numbers[TIME_MIN], numbers[TIME_MAX]
        _increasing(TIME_MIN, lo, prefix, members)
        bad = np.flatnonzero(lo >= hi)
        if bad.size:
            i = int(bad[0])
            raise SchemaError(f"{prefix}time bin {i} has time_min={lo[i]!r} >= time_max={hi[i]!r} ({unit})")
        centre = lo + 0.5 * (hi - lo)
    if TIME_VALUE in numbers:
        _increasing(TIME_VALUE, numbers[TIME_VALUE], prefix, members)
        centre = numbers[TIME_VALUE]
    stamps = _datetime64(centre, unit, int(mjdrefi), float(mjdreff), scale, prefix)
    what = "instant of the measurement" if TIME_MIN not in numbers else "centre of the time bin"
    coords = {
        TIME: xr.Variable(
            (TIME,), stamps, {"long_name": f"{what}, calendar date in the {scale} scale", "time_scale": scale}
        )
    }
    for name, values in numbers.items():
        coords[name] = xr.Variable((TIME,), values, {**attrs, "long_name": _LONG_NAMES[name]})
    return coords


def _checked(name: str, values, prefix: str) -> np.ndarray:
    arr = np.asarray(u.Quantity(values).value if isinstance(values, u.Quantity) else values)
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        raise SchemaError(f"{prefix}{name!r} must be a 1-D column of numbers, found {arr.dtype} {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise TimeValueError(
            f"{prefix}{name!r} must be finite; found {arr[bad[0]]} in time bin {int(bad[0])}"
        )
    return arr


def _increasing(name: str, arr: np.ndarray, prefix: str, members: np.ndarray | None = None) -> None:
    if members is not None:
        from fluxds.collection import not_increasing_within_members

        j = not_increasing_within_members(arr, np.asarray(members))
        if j is not None:
            i = int(np.flatnonzero(np.asarray(members)[:j] == members[j])[-1])
            raise SchemaError(
                f"{prefix}time bins must be in strictly increasing order of {name!r} within each member "
                f"of the collection; bin {j} has {name}={arr[j]!r} after {arr[i]!r} in bin {i} of the "
                "same member"
            )
        return
    bad = np.flatnonzero(np.diff(arr) <= 0)
    if bad.size:
        i = int(bad[0]) + 1
        raise SchemaError(
            f"{prefix}time bins must be in strictly increasing order of {name!r}; bin {i} has "
            f"{name}={arr[i]!r} after {arr[i - 1]!r} in bin {i - 1}"
        )


def _times(values: np.ndarray, unit: str, mjdrefi: int, mjdreff: float, scale: str) -> Time:
    ref = Time(float(mjdrefi), float(mjdreff), format="mjd", scale=scale)
    if mjdrefi == 0 and mjdreff == 0.0 and unit == "d":
        return Time(values, format="mjd", scale=scale)  # the numbers are MJDs: keep them as they are
    delta_scale = scale if scale in TimeDelta.SCALES else None  # a UTC delta counts TAI seconds
    return ref + TimeDelta(u.Quantity(values, unit), scale=delta_scale)


_NS_PER_DAY = 86_400_000_000_000


def _datetime64(values, unit, mjdrefi, mjdreff, scale, prefix) -> np.ndarray:
    """Calendar dates in ``scale`` of the times, ``datetime64[ns]``. Every day has 86400 s except in UTC,
    whose leap seconds astropy handles; for the other scales plain integer arithmetic is exact to the
    nanosecond and fast (whole days and seconds as int64, only fractions in floating point).

    The times must have passed :func:`check_times` (finite, within :data:`MJD_RANGE`): then every
    intermediate integer stays within int64. Whole days are counted from 1970-01-01 (the epoch of
    ``datetime64``, so that 2262 fits) and summed *before* scaling to nanoseconds; a large ``MJDREFF`` is
    split into whole days and a fraction, and seconds into whole days and a remainder."""
    try:
        if scale == "utc":
            return _utc_datetime64(_times(values, unit, mjdrefi, mjdreff, scale))
        reff_days = int(np.floor(mjdreff))
        reff_frac = float(mjdreff) - reff_days
        base = int(mjdrefi) + reff_days - _MJD_UNIX  # whole days from 1970-01-01 to the reference
        values = np.asarray(values, dtype=np.float64)
        with np.errstate(over="raise", invalid="raise"):
            if unit == "d":
                whole = np.floor(values)
                days = whole.astype(np.int64) + base
                fraction = np.round((values - whole + reff_frac) * _NS_PER_DAY).astype(np.int64)
                ns = days * _NS_PER_DAY + fraction
            else:
                seconds = u.Quantity(values, unit).to_value(u.s)
                whole = np.floor(seconds)
                whole_s = whole.astype(np.int64)
                days, rest = np.divmod(whole_s, 86_400)
                fraction = np.round((seconds - whole) * 1e9 + reff_frac * _NS_PER_DAY).astype(np.int64)
                ns = (days + base) * _NS_PER_DAY + rest * 1_000_000_000 + fraction
        return _UNIX0 + ns.astype("timedelta64[ns]")
    except (ValueError, OverflowError, FloatingPointError) as exc:
        raise TimeValueError(f"{prefix}times outside the datetime64[ns] range (1678-2262): {exc}") from None


def _utc_datetime64(t: Time) -> np.ndarray:
    """``datetime64[ns]`` of UTC times. ``datetime64`` has no leap seconds: an instant inside one
    (``2016-12-31T23:59:60.5``) is labelled with the last nanosecond before it (``23:59:59.999999999``),
    so that the label keeps its UTC date and labels never go backwards. (astropy's
    ``Time.to_datetime(leap_second_strict="silent")`` gives ``2017-01-01T00:00:00.5`` instead, after the
    label of an instant half a second later.) The numeric edges (``time_min``/``time_max``) are untouched."""
    ymdhms = t.ymdhms
    leap = np.asarray(ymdhms["second"]) >= 60
    if not leap.any():
        return t.datetime64.astype("datetime64[ns]")
    out = np.empty(t.shape, dtype="datetime64[ns]")
    out[~leap] = t[~leap].datetime64.astype("datetime64[ns]")
    fields = {k: np.asarray(ymdhms[k])[leap] for k in ("year", "month", "day")}
    months = (fields["year"] - 1970).astype("datetime64[Y]").astype("datetime64[M]")
    days = (months + (fields["month"] - 1).astype("timedelta64[M]")).astype("datetime64[D]")
    next_midnight = days + (fields["day"] - 1).astype("timedelta64[D]") + np.timedelta64(1, "D")
    out[leap] = next_midnight.astype("datetime64[ns]") - np.timedelta64(1, "ns")
    return out


def shared_time_bins_problem(ds: xr.Dataset) -> str | None:
    """What is wrong when the numeric time coordinates of ``ds`` have dimensions besides ``time`` (light
    curves of different time bins stacked with ``xr.concat``), and how to fix it; else ``None``.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    str or None
    """
    bad = [n for n in NUMERIC_TIME_COORDS if n in ds.coords and ds[n].dims != (TIME,)]
    if not bad:
        return None
    return (
        f"coordinate {bad[0]!r} has dims {ds[bad[0]].dims}, expected ('time',): one Dataset holds one set "
        "of time bins, shared by all its sources (light curves with different time bins stacked with "
        "xr.concat, aligned by an outer join and padded with NaN?). Keep such light curves as separate "
        "Datasets, or keep only the bins they share (xr.concat(..., join='inner'); fluxds.concat_sources "
        "refuses bins that differ)"
    )


def time_labels(ds: xr.Dataset) -> np.ndarray | None:
    """The ``time`` labels (``datetime64[ns]``) that :func:`time_coords` computes from a Dataset's numeric
    time coordinates (``time_value`` when present, else the bin centres), or ``None`` when the Dataset has
    neither ``time_value`` nor ``time_min``/``time_max`` with their reference attributes.

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    SchemaError
        Time coordinates with dimensions besides ``time`` (:func:`shared_time_bins_problem`).
    """
    problem = shared_time_bins_problem(ds)
    if problem:
        raise SchemaError(problem)
    name = TIME_VALUE if TIME_VALUE in ds.coords else TIME_MIN
    if name not in ds.coords or (name == TIME_MIN and TIME_MAX not in ds.coords):
        return None
    try:
        ref = time_reference(ds[name])
    except SchemaError:
        return None
    if name == TIME_VALUE:
        centre = np.asarray(ds[TIME_VALUE].values, dtype=np.float64)
    else:  # as time_coords computes it, without its order checks (a part of a concatenation may be unsorted)
        lo = np.asarray(ds[TIME_MIN].values, dtype=np.float64)
        hi = np.asarray(ds[TIME_MAX].values, dtype=np.float64)
        centre = lo + 0.5 * (hi - lo)
    reference = {k: ref[k] for k in ("unit", "mjdrefi", "mjdreff")}
    check_times(centre, **reference, what=f"the {name} of the time bins")
    return _datetime64(centre, *reference.values(), ref["scale"], "")


def edge_labels(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray] | None:
    """The bin edges ``time_min``/``time_max`` as ``datetime64[ns]`` calendar dates in the Dataset's time
    scale, computed as :func:`time_labels` computes the centres (so that each centre lies between its
    edges), or ``None`` without edges and their reference attributes.

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve.

    Returns
    -------
    tuple of numpy.ndarray, or None
        ``(start, stop)``.
    """
    if shared_time_bins_problem(ds) or TIME_MIN not in ds.coords or TIME_MAX not in ds.coords:
        return None
    try:
        ref = time_reference(ds[TIME_MIN])
    except SchemaError:
        return None
    reference = {k: ref[k] for k in ("unit", "mjdrefi", "mjdreff")}
    out = []
    for name in (TIME_MIN, TIME_MAX):
        values = np.asarray(ds[name].values, dtype=np.float64)
        if values.ndim != 1:
            return None
        check_times(values, **reference, what=f"the {name} of the time bins")
        out.append(_datetime64(values, *reference.values(), ref["scale"], ""))
    return out[0], out[1]


def time_reference(var: xr.DataArray | xr.Variable, where: str = "") -> dict:
    """``unit``, ``mjdrefi``, ``mjdreff`` and ``scale`` of a numeric time coordinate, from its attributes."""
    attrs = var.attrs
    missing = [k for k in ("units", "time_scale", "mjdrefi", "mjdreff") if k not in attrs]
    if missing:
        raise SchemaError(f"{where}numeric time coordinate lacks the attributes {missing}")
    return {
        "unit": str(attrs["units"]),
        "mjdrefi": int(attrs["mjdrefi"]),
        "mjdreff": float(attrs["mjdreff"]),
        "scale": str(attrs["time_scale"]),
    }


def astropy_time(ds: xr.Dataset, name: str = TIME_MIN) -> Time:
    """One numeric time coordinate (``time_min``, ``time_max``, ``time_value``) as astropy ``Time``.

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve.
    name : str
        The coordinate.

    Returns
    -------
    astropy.time.Time
        In the Dataset's time scale, ``format="mjd"``; for MJD numbers (``units="d"``, reference 0)
        ``.mjd`` gives the stored numbers exactly.
    """
    if name not in ds.coords:
        have = [c for c in NUMERIC_TIME_COORDS if c in ds.coords]
        raise SchemaError(
            f"the Dataset has no {name!r} coordinate; numeric time coordinates: {have or 'none'}"
        )
    ref = time_reference(ds[name], where=f"coordinate {name!r}: ")
    values = np.asarray(ds[name].values, dtype=np.float64)
    t = _times(values, ref["unit"], ref["mjdrefi"], ref["mjdreff"], ref["scale"])
    t.format = "mjd"
    return t


def astropy_times(ds: xr.Dataset) -> tuple[Time, Time]:
    """The time bins of a light curve as astropy ``Time`` objects ``(time_min, time_max)``.

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve with ``time_min``/``time_max`` coordinates.

    Returns
    -------
    tuple of astropy.time.Time
        Bin starts and ends in the Dataset's time scale (``ds.time_min.attrs["time_scale"]``).

    Raises
    ------
    SchemaError
        If the Dataset has no time bins.

    Examples
    --------
    >>> import fluxds, numpy as np, astropy.units as u
    >>> coords = time_coords(time_min=[59274.5], time_max=[59275.5], scale="tt")
    >>> ds = fluxds.from_sed("dnde", {"dnde": [[1e-12]] * u.Unit("cm-2 s-1 TeV-1")}, dims=("time", "energy"),
    ...                      energy_ref=[1] * u.TeV, coords=coords)
    >>> start, stop = astropy_times(ds)
    >>> start.scale, float(stop.mjd[0])
    ('tt', 59275.5)
    """
    return astropy_time(ds, TIME_MIN), astropy_time(ds, TIME_MAX)


def time_coords_from_astropy(time_min: Time, time_max: Time, *, scale: str | None = None) -> dict:
    """Coordinates for a ``time`` dimension from astropy ``Time`` bin edges, stored as MJD (``d``, reference
    MJD 0) in ``scale`` (default: the scale of ``time_min``). Pass the result as ``coords=`` to
    :func:`fluxds.from_sed`."""
    scale = scale or time_min.scale
    return time_coords(
        time_min=getattr(time_min, scale).mjd, time_max=getattr(time_max, scale).mjd, unit="d", scale=scale
    )


def time_keywords(ds: xr.Dataset, name: str = TIME_MIN, where: str = "", *, upper: bool = True) -> dict:
    """The FITS time keywords (``MJDREFI``, ``MJDREFF``, ``TIMESYS``, ``TIMEUNIT`` and ``TIMEREF`` when
    known) of a light curve's numeric time coordinate ``name``; ``TIMESYS`` in upper case as the FITS
    standard spells it, or (``upper=False``) in lower case, which gammapy 2.1 needs."""
    if name not in ds.coords:
        raise FormatError(
            f"{where}: the Dataset has no {name!r} coordinate; a light curve needs time_min/time_max "
            "(see fluxds.timeaxis.time_coords)"
        )
    ref = time_reference(ds[name], where=f"{where}: coordinate {name!r}: ")
    keywords = {
        "MJDREFI": ref["mjdrefi"],
        "MJDREFF": ref["mjdreff"],
        "TIMESYS": ref["scale"].upper() if upper else ref["scale"],
        "TIMEUNIT": ref["unit"],
    }
    if ds[name].attrs.get("timeref"):
        keywords["TIMEREF"] = str(ds[name].attrs["timeref"])
    return keywords
