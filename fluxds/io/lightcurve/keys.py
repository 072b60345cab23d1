"""Shared pieces of the light-curve table layouts: FITS time keywords, the per-row energy columns, the
private ``FDSATTRS`` keys fluxds writes, and the table meta that becomes attributes."""

from __future__ import annotations

import json
import math
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.errors import FormatError
from fluxds.io import vocabulary
from fluxds.io.keywords import DERIVED_KEYWORDS, is_label_keyword, jsonable
from fluxds.timeaxis import (
    NUMERIC_TIME_COORDS,
    check_mjd,
    check_time_reference,
    check_times,
    time_coords,
    time_scale_from_timesys,
)

__all__ = [
    "read_time_keywords",
    "time_coords_from_meta",
    "energy_row",
    "same_in_every_row",
    "shaped_columns",
    "extra_meta_attrs",
]

ENERGY_COLUMNS = tuple(schema.ENERGY_COLUMNS)
ENERGY_COORDS = tuple(schema.ENERGY_COLUMNS.values())
# columns that do not change with time when they come from one reference model / one scan grid
TIME_CONSTANT_CANDIDATES = schema.ENERGY_ONLY_VARIABLES
_TIME_KEYWORDS = ("MJDREFI", "MJDREFF", "MJDREF", "TIMESYS", "TIMEUNIT", "TIMEREF", "TIMEZERO")
# the keywords of every table (fluxds.io.vocabulary) and the time reference a light curve reads
STRUCTURAL_META = {*vocabulary.STRUCTURAL_META, *_TIME_KEYWORDS}
STANDARD_TIME_ATTRS = {"units", "time_scale", "mjdrefi", "mjdreff", "long_name", "timeref"}
# private FDSATTRS keys of the light-curve layouts
CONSTANT_KEY, TIME_ONLY_KEY = "_time_constant", "_time_only"
ENERGY_NOTES_KEY, TIME_ATTRS_KEY, MJDREFF_KEY = "_energy_notes", "_time_coord_attrs", "_mjdreff"
PRIVATE_KEYS = (
    CONSTANT_KEY,
    TIME_ONLY_KEY,
    ENERGY_NOTES_KEY,
    TIME_ATTRS_KEY,
    MJDREFF_KEY,
    "_energy",
    "_time_value_derived",
)


def _number(value, keyword: str, where: str) -> float:
    try:
        return float(str(value).replace("D", "E")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        raise FormatError(f"{where}: keyword {keyword} is {value!r}; expected a number") from None


def read_time_keywords(
    meta: dict[str, Any],
    where: str,
    *,
    column_unit=None,
    default_unit: str = "d",
    default_scale: str | None = "utc",
    require_reference: bool = False,
    saved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The time reference of a table from its FITS time keywords (upper-case ``meta``).

    ``MJDREFI``/``MJDREFF`` (or ``MJDREF``, split into integer and fraction), ``TIMESYS`` (the scale; a
    missing one is ``default_scale``, recorded as a note, or an error when that is None), ``TIMEUNIT``
    (overridden by the column's own unit), ``TIMEREF``. Returns the keyword arguments of
    :func:`fluxds.timeaxis.time_coords` plus ``note`` (or None). A FITS header holds 20 characters of a
    number, too few for every ``MJDREFF``: the exact value fluxds keeps in ``FDSATTRS`` (``saved``) wins
    when it rounds to the header's.
    """
    if "TIMEZERO" in meta and _number(meta["TIMEZERO"], "TIMEZERO", where) != 0.0:
        raise FormatError(
            f"{where}: keyword TIMEZERO is {meta['TIMEZERO']!r}; fluxds reads TIMEZERO = 0 only"
        )
    if "MJDREFI" in meta or "MJDREFF" in meta:
        refi = _number(meta.get("MJDREFI", 0), "MJDREFI", where)
        reff = _number(meta.get("MJDREFF", 0.0), "MJDREFF", where)
    elif "MJDREF" in meta:
        ref = _number(meta["MJDREF"], "MJDREF", where)
        check_mjd(ref, "keyword MJDREF", where)  # before floor(): NaN and infinities are refused here
        refi = float(math.floor(ref))
        reff = ref - refi
    elif require_reference:
        raise FormatError(
            f"{where}: keywords MJDREFI and MJDREFF (or MJDREF) are missing; they have no default"
        )
    else:
        refi, reff = 0.0, 0.0
    exact = (saved or {}).get(MJDREFF_KEY)
    if isinstance(exact, float) and abs(exact - reff) <= 1e-15:
        reff = exact
    # finite, a whole number of days in MJDREFI, and MJDREFI and MJDREFI + MJDREFF within MJD_RANGE: each
    # keyword named for what is wrong with it (TimeValueError, a FormatError)
    check_time_reference(refi, reff, where)
    note = None
    if "TIMESYS" in meta:
        scale = time_scale_from_timesys(meta["TIMESYS"], where)
    elif default_scale is None:
        raise FormatError(f"{where}: keyword TIMESYS (the time scale: TT, UTC, TDB ...) is missing")
    else:
        scale = default_scale
        note = f"keyword TIMESYS missing in the file: {default_scale.upper()} assumed"
    unit = column_unit or meta.get("TIMEUNIT") or default_unit
    extra = {"timeref": str(meta["TIMEREF"])} if meta.get("TIMEREF") else {}
    return {
        "unit": str(unit),
        "mjdrefi": int(refi),
        "mjdreff": float(reff),
        "scale": scale,
        "extra_attrs": extra,
        "note": note,
    }


def energy_row(columns: dict[str, Any], where: str) -> dict[str, u.Quantity | None]:
    """Pop ``e_ref``/``e_min``/``e_max`` per-row columns; check every row holds the same energies and return
    the first row (1-D Quantities, ``None`` where absent)."""
    out = {}
    for name in ENERGY_COLUMNS:
        col = columns.pop(name, None)
        if col is None:
            out[name] = None
            continue
        arr = np.asarray(u.Quantity(col).value)
        differ = np.flatnonzero(np.any((arr != arr[:1]).reshape(arr.shape[0], -1), axis=1))
        if differ.size:
            raise FormatError(
                f"{where}: column {name!r} differs between time bins (row {int(differ[0])} vs row 0); a "
                "fluxds light curve has one set of energy bins"
            )
        out[name] = np.atleast_1d(col[0])
    return out


def same_in_every_row(arr: np.ndarray) -> bool:
    if arr.shape[0] == 0:
        return True
    first = arr[:1]
    same = (arr == first) | (np.isnan(arr) & np.isnan(first)) if arr.dtype.kind == "f" else arr == first
    return bool(np.all(same))


def shaped_columns(columns: dict[str, Any], scalar_rows: bool, time_only: set[str], where: str):
    """Per-row arrays -> (time, energy[, extra]) arrays; per-row scalars are one energy bin in scalar-row
    layouts and time-only variables otherwise."""
    shaped, alone = {}, {}
    for name, col in columns.items():
        ndim = np.ndim(col)
        if name in time_only or (ndim == 1 and not scalar_rows):
            alone[name] = col
        elif scalar_rows and ndim in (1, 2):
            shaped[name] = col[:, None] if ndim == 1 else col[:, None, :]
        elif not scalar_rows and ndim in (2, 3):
            shaped[name] = col
        else:
            raise FormatError(
                f"{where}: column {name!r} has shape {np.shape(col)}; expected one value or one "
                "vector over energy (with at most one scan/dataset axis) per row"
            )
    return shaped, alone


def extra_meta_attrs(table: Table) -> dict[str, Any]:
    """Table meta that is not structural, as netCDF-friendly attributes."""
    return {
        str(k): v if isinstance(v, (str, int, float)) else json.dumps(jsonable(v), default=str)
        for k, v in table.meta.items()
        if str(k).upper() not in STRUCTURAL_META
        and str(k).upper() not in DERIVED_KEYWORDS  # E_EDGES, E_REF: notes on the energy coordinates
        and not is_label_keyword(str(k).upper())  # DSETn: labels of the dataset axis
        and not isinstance(v, bool)
    }


def time_coords_from_meta(
    times: dict[str, Any], meta, where: str, *, members: np.ndarray | None = None, **options
) -> dict[str, xr.Variable]:
    """``time_coords`` for the time columns ``times`` (``time_min``/``time_max``/``time_value``);
    ``members``: a collection's member codes, see :func:`fluxds.timeaxis.time_coords`."""
    column_unit = next((c.unit for c in times.values() if isinstance(c, u.Quantity)), None)
    ref = read_time_keywords(meta, where, column_unit=column_unit, **options)
    note = ref.pop("note")
    values = {k: (v.to_value(ref["unit"]) if isinstance(v, u.Quantity) else v) for k, v in times.items()}
    for name, arr in values.items():  # finite and within MJD_RANGE, naming the file's column and row
        arr = np.asarray(arr)
        if arr.ndim == 1 and arr.dtype.kind in "fiu":
            column = "time" if name == "time_value" else name
            check_times(arr, unit=ref["unit"], mjdrefi=ref["mjdrefi"], mjdreff=ref["mjdreff"],
                        what=f"column {column!r}", where=where)  # fmt: skip
    coords = time_coords(**values, **ref, where=where, members=members)
    if note:
        for name in NUMERIC_TIME_COORDS:
            if name in coords:
                coords[name].attrs["note"] = note
    return coords
