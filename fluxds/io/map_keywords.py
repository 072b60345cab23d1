"""What fluxds keeps in the ``FDSATTRS`` keyword of the map files it writes (HEALPix maps, TS cubes):
the Dataset attributes, the notes of derived energy coordinates and the attributes of every data
variable, as JSON text, so that a file fluxds wrote reads back to the identical Dataset."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds import schema
from fluxds.io.keywords import META_ATTRS, header_json, parse_attrs_json

__all__ = [
    "META_ATTRS",
    "pack_attrs",
    "saved_attrs",
    "restore_attrs",
    "metadata_keywords",
    "keywords_from_attrs",
]

NOTES_KEY = "_energy_notes"
VARIABLE_ATTRS_KEY = "_variable_attrs"
_ENERGY_COORDS = (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX)


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def pack_attrs(ds: xr.Dataset) -> str:
    """JSON text of the attributes, energy-coordinate notes and variable attributes of ``ds``."""
    attrs = {k: _plain(v) for k, v in ds.attrs.items()}
    notes = {c: ds[c].attrs["note"] for c in _ENERGY_COORDS if c in ds.coords and ds[c].attrs.get("note")}
    if notes:
        attrs[NOTES_KEY] = notes
    attrs[VARIABLE_ATTRS_KEY] = {
        str(name): {k: _plain(v) for k, v in var.attrs.items()}
        for name, var in ds.data_vars.items()
        if not str(name).startswith("gti_")
    }
    return header_json(attrs)


def saved_attrs(header: fits.Header, where: str) -> dict | None:
    """The JSON object of the keyword ``FDSATTRS`` of a map file's primary header (WCS and HEALPix maps, TS
    cubes), or None when the file has none."""
    return parse_attrs_json(header.get(META_ATTRS), where)


def restore_attrs(ds: xr.Dataset, saved: dict | None) -> xr.Dataset:
    """``ds`` with what :func:`pack_attrs` saved (nothing changes when ``saved`` is None)."""
    if saved is None:
        return ds
    saved = dict(saved)
    for coord, note in saved.pop(NOTES_KEY, {}).items():
        if coord in ds.coords:
            ds[coord].attrs["note"] = note
    for name, attrs in saved.pop(VARIABLE_ATTRS_KEY, {}).items():
        if name in ds.data_vars and isinstance(attrs, dict):
            ds[name].attrs = attrs
    ds.attrs = saved
    return ds


# --- producer metadata as real header keywords (issue 13 item 17) --------------------------------------
_KEYWORD_RE = re.compile(r"^[A-Z0-9_-]{1,8}$")
# the FITS structure of a header (not fluxds.io.vocabulary.STRUCTURAL_META, the table keywords every reader
# turns into coordinates or attributes of their own): never producer metadata
_STRUCTURAL = {"SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "XTENSION", "EXTNAME", "BUNIT",
               "BSCALE", "BZERO", "CHECKSUM", "DATASUM", "COMMENT", "HISTORY", META_ATTRS, ""}  # fmt: skip


def metadata_keywords(header: fits.Header, exclude: fits.Header | None = None) -> dict[str, Any]:
    """The producer's metadata in a primary header (``TELESCOP``, ``INSTRUME``, ``DATE``, ``CREATOR``
    ...): every single-valued keyword that is not structure (``NAXISn`` ...) and not in ``exclude`` (the
    celestial WCS header, kept elsewhere), by keyword name, for the Dataset's attributes."""
    skip = set(exclude.keys()) if exclude is not None else set()
    return {
        card.keyword: card.value
        for card in header.cards
        if card.keyword not in _STRUCTURAL
        and card.keyword not in skip
        and not re.fullmatch(r"NAXIS\d+", card.keyword)
        and isinstance(card.value, (str, int, float, bool))
    }


def keywords_from_attrs(attrs: dict[str, Any], header: fits.Header) -> None:
    """Inverse of :func:`metadata_keywords`: the attributes named like FITS keywords (upper case, at most
    8 characters) with a single value, written into ``header`` as keywords (those ``header`` already has
    are kept as they are). In place."""
    for key, value in attrs.items():
        value = _plain(value)
        if _KEYWORD_RE.match(str(key)) and key not in header and key not in _STRUCTURAL:
            if isinstance(value, (str, int, float, bool)) and (not isinstance(value, str) or value.isascii()):
                header[str(key)] = value
