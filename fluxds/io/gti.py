"""Good time intervals (GTI): the ``gti_start``/``gti_stop`` variables, their JSON form in table metadata
and the FITS ``GTI`` HDU, read and written. Shared by every family that writes FITS or tables."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds.errors import FormatError
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.io.keywords import jsonable
from fluxds.units import format_unit, parse_unit

# --- good time intervals --------------------------------------------------------------------------
GTI_VARS = ("gti_start", "gti_stop")


def gti_from_columns(
    start, stop, *, unit: str, mjdrefi: float, mjdreff: float, timesys: str, where: str
) -> xr.Dataset:
    """A Dataset holding ``gti_start``/``gti_stop`` on the ``gti`` dimension, times as stored
    (``unit`` since the reference MJD ``mjdrefi + mjdreff`` in ``timesys``), so they write back
    bit-exactly."""
    start = np.asarray(start, dtype=np.float64)
    stop = np.asarray(stop, dtype=np.float64)
    if start.shape != stop.shape or start.ndim != 1:
        raise FormatError(f"{where}: GTI START and STOP must be 1-D columns of equal length")
    for keyword, value in (("MJDREFI", mjdrefi), ("MJDREFF", mjdreff)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise FormatError(f"{where}: GTI keyword {keyword} is {value!r}; expected a number (days)")
    from fluxds.timeaxis import check_gti  # issue 12 item 9: finite bounds within MJD_RANGE, START <= STOP

    check_gti(start, stop, unit=unit, mjdrefi=mjdrefi, mjdreff=mjdreff, where=where)
    attrs = {
        "units": format_unit(parse_unit(unit)),
        "mjdrefi": float(mjdrefi),
        "mjdreff": float(mjdreff),
        "time_scale": str(timesys).lower(),
    }
    return xr.Dataset(
        {
            "gti_start": ("gti", start, {**attrs, "long_name": "start of good time interval"}),
            "gti_stop": ("gti", stop, {**attrs, "long_name": "stop of good time interval"}),
        }
    )


_GTI_KEYWORD_RE = re.compile(r"^[A-Z0-9_-]{1,8}$")


def gti_keywords(ds: xr.Dataset) -> dict[str, Any]:
    """The header keywords of the GTI HDU kept from reading (``CREATOR``, ``CREATED`` ...): the
    upper-case attributes of ``gti_start`` (issue 13 item 17)."""
    if "gti_start" not in ds.data_vars:
        return {}
    return {k: jsonable(v) for k, v in ds["gti_start"].attrs.items() if _GTI_KEYWORD_RE.match(str(k))}


def with_gti_keywords(gti: xr.Dataset, keywords: dict[str, Any]) -> xr.Dataset:
    """``gti`` with the keywords of its HDU as upper-case attributes of ``gti_start`` and ``gti_stop``."""
    for name in GTI_VARS:
        gti[name].attrs.update(keywords)
    return gti


def gti_to_json(ds: xr.Dataset) -> str | None:
    """The GTI of a Dataset as JSON text (for table formats without a GTI extension)."""
    if "gti_start" not in ds.data_vars:
        return None
    attrs = ds["gti_start"].attrs
    obj = {
        "start": ds["gti_start"].values.tolist(),
        "stop": ds["gti_stop"].values.tolist(),
        "unit": attrs.get("units", "s"),
        "mjdrefi": attrs.get("mjdrefi", 0.0),
        "mjdreff": attrs.get("mjdreff", 0.0),
        "timesys": attrs.get("time_scale", "tt"),
    }
    keywords = gti_keywords(ds)
    if keywords:
        obj["keywords"] = keywords
    return json.dumps(obj)


def gti_from_json(text: str, where: str) -> xr.Dataset:
    """Inverse of :func:`gti_to_json`."""
    try:
        obj = json.loads(text)
        gti = gti_from_columns(
            obj["start"],
            obj["stop"],
            unit=obj["unit"],
            mjdrefi=obj["mjdrefi"],
            mjdreff=obj["mjdreff"],
            timesys=obj["timesys"],
            where=where,
        )
        keywords = obj.get("keywords", {})
        if not isinstance(keywords, dict):
            raise TypeError("'keywords' must be an object")
        return with_gti_keywords(
            gti, {str(k): v for k, v in keywords.items() if _GTI_KEYWORD_RE.match(str(k))}
        )
    except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: the GTI entry of the table meta is not valid: {exc}") from None


def read_gti(hdul, path: str) -> xr.Dataset | None:
    if "GTI" not in hdul:
        return None
    hdu = hdul["GTI"]
    where = f"{path}[GTI]"
    names = [n.upper() for n in hdu.columns.names]
    if "START" not in names or "STOP" not in names:
        raise FormatError(f"{where}: a GTI HDU needs START and STOP columns, found {names}")
    header = hdu.header
    unit = hdu.columns["START"].unit or header.get("TIMEUNIT", "s")
    check_fits_hdu(hdu, path, label="GTI")
    gti = gti_from_columns(
        hdu.data["START"],
        hdu.data["STOP"],
        unit=unit,
        mjdrefi=header.get("MJDREFI", 0.0),
        mjdreff=header.get("MJDREFF", 0.0),
        timesys=header.get("TIMESYS", "tt"),
        where=where,
    )
    return with_gti_keywords(gti, gti_header_keywords(header))


def gti_header_keywords(header: fits.Header) -> dict:
    """The keywords of a GTI HDU beyond its structure and time reference (``CREATOR``, ``CREATED``,
    ``TELESCOP`` ...; issue 13 item 17), to keep and write back as keywords."""
    found = {}
    for card in header.cards:
        key = card.keyword
        if not key or key in _GTI_STRUCTURAL or key in ("COMMENT", "HISTORY") or key.startswith(_TABLE_KEYS):
            continue
        if isinstance(card.value, (str, int, float, bool)):
            found[key] = card.value
    return found


_GTI_STRUCTURAL = {
    "XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS", "EXTNAME",
    "MJDREFI", "MJDREFF", "TIMESYS", "TIMEUNIT", "CHECKSUM", "DATASUM", "",
}  # fmt: skip


_TABLE_KEYS = ("TTYPE", "TFORM", "TUNIT", "TDIM", "TNULL", "TSCAL", "TZERO", "TDISP", "TCOMM")


def gti_hdu(ds: xr.Dataset) -> fits.BinTableHDU:
    attrs = ds["gti_start"].attrs
    unit = attrs.get("units", "s")
    cols = [
        fits.Column("START", "D", unit=unit, array=ds["gti_start"].values),
        fits.Column("STOP", "D", unit=unit, array=ds["gti_stop"].values),
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="GTI")
    hdu.header["MJDREFI"] = attrs.get("mjdrefi", 0.0)
    hdu.header["MJDREFF"] = attrs.get("mjdreff", 0.0)
    hdu.header["TIMESYS"] = attrs.get("time_scale", "tt")
    hdu.header["TIMEUNIT"] = unit
    for key, value in gti_keywords(ds).items():  # CREATOR, CREATED ... as they were read
        hdu.header[key] = value
    return hdu
