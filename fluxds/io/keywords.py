"""Header keywords and table metadata: how a Dataset's attributes travel in FITS headers and ECSV meta.

The ``FDSATTRS`` keyword (JSON of the attributes fluxds wrote), text a header keeps unchanged, the
keywords every table carries (``SED_TYPE``, ``UL_CONF``, ``SOURCE``, ``DSETn`` dataset labels, the
``E_EDGES``/``E_REF`` derivation marks), column descriptions as ``TCOMMn``, and the 0-d coordinates and
variables that travel in ``FDSATTRS``. Shared by every table family.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.confidence import ul_conf_of
from fluxds.construct import EDGES_DERIVED, EREF_DERIVED
from fluxds.errors import FormatError
from fluxds.io.vocabulary import META_ATTRS, STRUCTURAL_META, canonical_column


def jsonable(value: Any) -> Any:
    """A numpy scalar or array as the plain Python value JSON and header cards take; anything else as it
    is."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def header_json(value: Any) -> str:
    """JSON text for a FITS header keyword: ASCII, NaN/inf allowed, and no apostrophe (written as the
    JSON escape ``\\u0027``). A FITS string doubles an apostrophe, and astropy (8.0) reads ``''/`` or
    ``'' /`` inside a string as the string's end and a comment, losing the rest of the value."""
    return json.dumps(value, allow_nan=True).replace("'", "\\u0027")


# issue 13 item 11: keywords that tell every reader an energy column was derived, not measured
DERIVED_KEYWORDS = {
    "E_EDGES": "derived from e_ref (log midpoints), not measured",
    "E_REF": "derived: sqrt(e_min e_max), not measured",
}


# issue 13 item 12: the labels of the ``dataset`` axis, one keyword per label (DSET1, DSET2 ...)
DATASET_KEY = "DSET"


_DATASET_KEY_RE = re.compile(r"^DSET([1-9][0-9]{0,3})$")


def table_meta(table: Table) -> dict[str, Any]:
    return {str(k).upper(): v for k, v in table.meta.items()}


def attrs_from_meta(meta: dict[str, Any], where: str) -> dict[str, Any] | None:
    return parse_attrs_json(meta.get(META_ATTRS), where)


def parse_attrs_json(text: str | None, where: str) -> dict[str, Any] | None:
    """The JSON object of a ``FDSATTRS`` keyword (the attributes fluxds wrote), or None without one."""
    if text is None:
        return None
    try:
        attrs = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: keyword {META_ATTRS} is not valid JSON: {exc}") from None
    if not isinstance(attrs, dict):
        raise FormatError(f"{where}: keyword {META_ATTRS} must hold a JSON object")
    return attrs


def encode_keyword_text(text: str) -> str:
    """Text a FITS header keeps unchanged as it is (printable ASCII, no leading/trailing blanks, no
    apostrophe, no enclosing double quotes); anything else as a JSON string literal (ASCII, quoted, see
    :func:`header_json`), which :func:`decode_keyword_text` turns back into the very same text."""
    plain = text.isascii() and text.isprintable() and text == text.strip() and text != "" and "'" not in text
    if plain and not (text.startswith('"') and text.endswith('"')):
        return text
    return header_json(text)


def decode_keyword_text(text: str) -> str:
    """Inverse of :func:`encode_keyword_text`."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, str):
            return value
    return text


def standard_meta(ds: xr.Dataset, sed_type: str) -> dict[str, Any]:
    """The keywords every table fluxds writes carries: ``SED_TYPE``, ``UL_CONF`` (exact), ``SOURCE`` for a
    scalar source name, ``GTI`` as JSON (a FITS writer moves it to a GTI HDU)."""
    meta: dict[str, Any] = {"SED_TYPE": sed_type}
    ul_conf = ul_conf_of(ds.attrs)
    if ul_conf is not None:
        meta["UL_CONF"] = ul_conf
    if "source" in ds.coords and ds["source"].ndim == 0:
        meta["SOURCE"] = encode_keyword_text(str(ds["source"].values))
    from fluxds.io.gti import gti_to_json  # gti.py uses this module's jsonable

    gti = gti_to_json(ds)
    if gti is not None:
        meta["GTI"] = gti
    return meta


def derived_energy_meta(ds: xr.Dataset, written: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Header keywords (value, comment) marking the energy columns among ``written`` that were derived
    (``E_EDGES`` for edges derived from ``e_ref``, ``E_REF`` for a log-centre ``e_ref``), so that any
    reader of the file knows they were not measured (issue 13 item 11)."""
    meta = {}
    edges = schema.ENERGY_MIN in ds.coords and ds[schema.ENERGY_MIN].attrs.get("note") == EDGES_DERIVED
    if edges and "e_min" in written:
        meta["E_EDGES"] = DERIVED_KEYWORDS["E_EDGES"]
    if (
        schema.ENERGY in ds.coords
        and ds[schema.ENERGY].attrs.get("note") == EREF_DERIVED
        and "e_ref" in written
    ):
        meta["E_REF"] = DERIVED_KEYWORDS["E_REF"]
    return meta


def dataset_label_meta(ds: xr.Dataset, where: str) -> dict[str, str]:
    """The labels of a 1-D ``dataset`` coordinate as keywords ``DSET1``, ``DSET2`` ... (text; see
    :func:`encode_keyword_text`), or nothing without such a coordinate. gammapy writes the per-dataset
    columns (``counts``, ``npred``) without their labels; these keywords keep them (issue 13 item 12)."""
    if "dataset" not in ds.coords or ds["dataset"].dims != ("dataset",):
        return {}
    labels = [str(v) for v in ds["dataset"].values.tolist()]
    if len(labels) > 9999:
        raise FormatError(
            f"{where}: {len(labels)} dataset labels; a table keeps at most 9999 (keywords DSET1 .. DSET9999)"
        )
    return {f"{DATASET_KEY}{i}": encode_keyword_text(label) for i, label in enumerate(labels, start=1)}


def dataset_labels_from_meta(meta: dict[str, Any], size: int | None, where: str) -> np.ndarray | None:
    """Inverse of :func:`dataset_label_meta` (``meta`` with upper-case keys): the labels, or None when the
    table has no ``DSETn`` keyword. ``size`` is the length of the ``dataset`` axis the columns hold."""
    found = {int(m.group(1)): str(v) for k, v in meta.items() if (m := _DATASET_KEY_RE.match(k))}
    if not found:
        return None
    if sorted(found) != list(range(1, len(found) + 1)) or (size is not None and len(found) != size):
        raise FormatError(
            f"{where}: dataset label keywords {DATASET_KEY}1 .. must be numbered 1 to the length of the "
            f"'dataset' axis ({size}); found numbers {sorted(found)}"
        )
    return np.array([decode_keyword_text(found[i]) for i in range(1, len(found) + 1)])


def is_label_keyword(key: str) -> bool:
    """Whether a (upper-case) keyword is one of the ``DSETn`` dataset labels."""
    return _DATASET_KEY_RE.match(key) is not None


def column_descriptions(table: Table) -> dict[str, str]:
    """The description of every column that has one, by normalised (GADF) column name."""
    found = {}
    for raw in table.colnames:
        text = table[raw].info.description
        if text:
            found[canonical_column(raw)] = str(text)
    return found


def apply_descriptions(ds: xr.Dataset, descriptions: dict[str, str]) -> xr.Dataset:
    """Keep the column descriptions of a table (issue 13 item 17) in the Dataset: a column that is a
    variable or coordinate by name gives its ``description`` attribute; a measured column of another SED
    type (``dnde_errp``), held as ``norm_errp``, gives ``norm_errp``'s attribute ``description_dnde_errp``.
    A description that only repeats the note of a derived energy coordinate is that note, not kept twice."""
    for column, text in descriptions.items():
        target = schema.ENERGY_COLUMNS.get(column, column)
        if target in ds.variables:
            if text != ds[target].attrs.get("note"):
                ds[target].attrs["description"] = text
            continue
        split = schema.split_measurement(column)
        if split is not None and f"norm{split[1]}" in ds.data_vars:
            ds[f"norm{split[1]}"].attrs[f"description_{column}"] = text
    return ds


def describe_columns(table: Table, ds: xr.Dataset) -> None:
    """Inverse of :func:`apply_descriptions`: set the description of the columns of ``table`` (written
    from ``ds``); a derived energy column is described by its note."""
    for name in table.colnames:
        target = schema.ENERGY_COLUMNS.get(name, name)
        text = None
        if target in ds.variables:
            attrs = ds.variables[target].attrs
            text = attrs.get("description") or attrs.get("note")
        split = schema.split_measurement(name)
        if text is None and split is not None and f"norm{split[1]}" in ds.data_vars:
            text = ds.variables[f"norm{split[1]}"].attrs.get(f"description_{name}")
        if text:
            table[name].info.description = str(text)


_TCOMM_RE = re.compile(r"^TCOMM([1-9][0-9]{0,2})$")


_KEYWORD_ATTR_RE = re.compile(r"^[A-Z][A-Z0-9_-]{0,7}$")


_COLUMN_KEYWORD_RE = re.compile(r"^T[A-Z]{3,5}[0-9]+$|^NAXIS[0-9]*$")


def keyword_meta(ds: xr.Dataset, taken) -> dict[str, Any]:
    """The Dataset attributes that were header keywords of the file read (upper-case names of at most 8
    characters, one plain value: ``TELESCOP``, ``INSTRUME``, ``OBJECT`` ...), to write back as keywords
    (issue 13 item 17), not only inside ``FDSATTRS``. Names in ``taken`` (the keywords the writer sets
    itself) and column/structure keywords are left out."""
    found = {}
    for key, value in ds.attrs.items():
        key, value = str(key), jsonable(value)
        if (
            _KEYWORD_ATTR_RE.match(key)
            and key not in taken
            and key not in STRUCTURAL_META
            and not _COLUMN_KEYWORD_RE.match(key)
            and not is_label_keyword(key)
            and isinstance(value, (str, int, float, bool))
            and (not isinstance(value, str) or (value.isascii() and value.isprintable()))
        ):
            found[key] = value
    return found


def table_hdu(table: Table, where: str = ""):
    """``astropy.io.fits.table_to_hdu`` of ``table``, with each column's description as a ``TCOMMn``
    keyword (the column-comment convention TOPCAT/STILTS read and write); astropy's own FITS table
    writer drops descriptions. A table FITS cannot hold (a column name longer than one card) is a
    :class:`~fluxds.errors.FormatError` naming ``where`` (the target) and the columns."""
    import warnings

    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    from fluxds.errors import FormatError

    with warnings.catch_warnings():  # keywords longer than 8 characters (FIT_NORM_ERR ...): HIERARCH, meant
        warnings.filterwarnings("ignore", message=".*a HIERARCH card will be created", category=VerifyWarning)
        try:
            hdu = fits.table_to_hdu(table)
        except AssertionError as exc:  # astropy's check of column names (one card each) and cell shapes
            long = [n for n in table.colnames if len(fits.Card("TTYPE1", n).image) != 80]
            what = f"variable name(s) {long} too long for a FITS column (68 characters)" if long else str(exc)
            prefix = f"{where}: " if where else ""
            raise FormatError(
                f"{prefix}a FITS table cannot hold this Dataset: {what}; write netCDF or zarr"
            ) from None
    for i, name in enumerate(table.colnames, start=1):
        text = table[name].info.description
        if text:
            hdu.header.set(f"TCOMM{i}", str(text), after=f"TTYPE{i}")
    return hdu


def descriptions_from_tcomm(table: Table) -> Table:
    """Inverse of :func:`table_hdu` on a table astropy read from FITS: the ``TCOMMn`` keywords (which
    astropy leaves in the meta) become the descriptions of their columns. In place; returns ``table``."""
    for key in [k for k in table.meta if _TCOMM_RE.match(str(k).upper())]:
        index = int(_TCOMM_RE.match(str(key).upper()).group(1)) - 1
        text = table.meta.pop(key)
        if index < len(table.colnames) and not table[table.colnames[index]].info.description:
            table[table.colnames[index]].info.description = str(text)
    return table


# --- scalar coordinates (e.g. the sky position of a source) travel in FDSATTRS --------------------------
SCALAR_COORDS_KEY = "_scalar_coords"


def scalar_coords_to_json(ds: xr.Dataset) -> str:
    """JSON text of the 0-d coordinates of ``ds`` (value and attrs), ``""`` if there are none. The scalar
    ``source`` name travels as the ``SOURCE`` keyword instead."""
    found = {
        str(name): {
            "value": jsonable(coord.values[()]),
            "attrs": {k: jsonable(v) for k, v in coord.attrs.items()},
        }
        for name, coord in ds.coords.items()
        if coord.ndim == 0 and name != "source"
    }
    return json.dumps(found) if found else ""


def scalar_coords_from_json(text: str, where: str) -> dict[str, xr.Variable]:
    try:
        found = json.loads(text) if text else {}
        return {name: xr.Variable((), entry["value"], entry["attrs"]) for name, entry in found.items()}
    except (TypeError, KeyError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: {SCALAR_COORDS_KEY} in {META_ATTRS} is not valid: {exc}") from None


# --- scalar variables (one number per source, e.g. a TS cube's fit_ts) travel as keywords and in FDSATTRS --
SCALAR_VARS_KEY = "_scalar_vars"


def scalar_vars_to_json(scalars: dict[str, xr.DataArray]) -> str:
    """JSON text of the 0-d data variables (value, dtype, attrs): exact, NaN included."""
    return json.dumps(
        {
            name: {
                "value": jsonable(var.values[()]),
                "dtype": var.dtype.str,
                "attrs": {k: jsonable(v) for k, v in var.attrs.items()},
            }
            for name, var in scalars.items()
        },
        allow_nan=True,
    )


def scalar_vars_from_json(text: str, where: str) -> dict[str, xr.Variable]:
    try:
        found = json.loads(text) if text else {}
        return {
            name: xr.Variable((), np.asarray(entry["value"], dtype=np.dtype(entry["dtype"])), entry["attrs"])
            for name, entry in found.items()
        }
    except (TypeError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: {SCALAR_VARS_KEY} in {META_ATTRS} is not valid: {exc}") from None


def scalar_keywords(scalars: dict[str, xr.DataArray], taken) -> dict[str, Any]:
    """The 0-d data variables of a table's Dataset (one number per source: a TS cube's ``fit_ts``,
    ``fit_norm`` ...) as header keywords named in upper case (a FITS file gives names longer than 8
    characters as ``HIERARCH`` cards), for every reader of the file; fluxds reads them back exactly from
    ``FDSATTRS``. A value a header cannot hold (NaN, infinite, not a number or boolean) and a name already
    in ``taken`` are left to ``FDSATTRS`` alone."""
    found = {}
    for name, var in scalars.items():
        key, value = name.upper(), jsonable(var.values[()])
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in taken or key in STRUCTURAL_META or not (isinstance(value, bool) or number):
            continue
        if number and not np.isfinite(value):
            continue
        found[key] = value
    return found


# --- coordinates along the points (a collection's member label, positions ...) travel as columns ---------
#: FDSATTRS key: the columns that are coordinates along the table's rows (name -> the coordinate's attrs)
ROW_COORDS_KEY = "_row_coords"


def encode_text_column(values, *, ascii_only: bool) -> np.ndarray:
    """Text values as a table column keeps them: each as it is where a reader gets it back unchanged
    (printable, no leading/trailing blanks, not empty, not enclosed in double quotes; ASCII for FITS),
    else as a JSON string literal, which :func:`decode_text_column` turns back into the very same text.

    FITS pads text columns with blanks and strips them on reading, and holds ASCII only; ECSV loses
    leading and trailing blanks and reads an empty string as a missing value.

    Parameters
    ----------
    values : array-like of str
    ascii_only : bool
        For FITS: non-ASCII text is encoded too.

    Returns
    -------
    numpy.ndarray of str

    Examples
    --------
    >>> encode_text_column(["HESS", " x", "Müller", ""], ascii_only=True).tolist()
    ['HESS', '" x"', '"M\\\\u00fcller"', '""']
    """
    out = []
    for text in np.asarray(values).astype(str).ravel().tolist():
        plain = text != "" and text == text.strip() and text.isprintable()
        plain = plain and (text.isascii() or not ascii_only)
        if plain and not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
            out.append(text)
        else:
            out.append(json.dumps(text, ensure_ascii=ascii_only))
    return np.asarray(out, dtype=str).reshape(np.shape(values))


def decode_text_column(values) -> np.ndarray:
    """Inverse of :func:`encode_text_column` (bytes read as UTF-8).

    Examples
    --------
    >>> decode_text_column(['HESS', '" x"', '"M\\\\u00fcller"', '""']).tolist()
    ['HESS', ' x', 'Müller', '']
    """
    return np.asarray([decode_keyword_text(v) for v in text_values(values).tolist()], dtype=str)


def text_values(values) -> np.ndarray:
    """A text column as a numpy array of ``str``: bytes (FITS, HDF5) decoded as UTF-8, masked cells
    (ECSV's empty strings) as ``""``."""
    if np.ma.isMaskedArray(values) or hasattr(values, "mask"):
        values = np.ma.asarray(values)
        values = values.filled("" if values.dtype.kind in "UO" else b"")
    array = np.asarray(values)
    if array.dtype.kind == "S":
        return np.char.decode(array, "utf-8", errors="replace").astype(str)
    if array.dtype.kind == "O":
        return np.asarray(
            [
                v.decode("utf-8", "replace") if isinstance(v, bytes) else ("" if v is None else str(v))
                for v in array
            ],
            dtype=str,
        )
    return array.astype(str)
