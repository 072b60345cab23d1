"""FITS binary tables written and read in one pass: the rows as one big-endian structured array.

astropy's writer (``table_to_hdu`` then ``HDUList.writeto``) copies a table three times before the bytes
reach the file: ``Table.as_array`` (native record array), ``BinTableHDU.from_columns`` (another record
array, and its keywords through the slow ``Header`` machinery) and, while writing, a big-endian copy in
64 kB pieces. Its reader builds ``ColDefs`` from the header, a ``FITS_rec`` and a ``Table``, and the
caller then copies every column to native byte order.

Here a table of plain columns (floating point, 16/32/64-bit signed and 8-bit unsigned integers, booleans,
one-dimensional text; any cell shape) goes in one pass each way:

- :func:`encode_table` makes the header text exactly as astropy writes it for ``table_to_hdu(table)``
  (with ``TCOMMn`` descriptions, :func:`fluxds.io.keywords.table_hdu`), ``EXTNAME``/``EXTVER`` included,
  and :func:`write_table_file` writes that header and the rows converted to big-endian one slab of rows
  at a time into a small reusable buffer: the file is byte-identical to astropy's (tested). Anything else
  (masked or mixin columns, unsigned 16-64-bit or ``int8`` columns, display formats, meta keywords
  astropy would refuse or move) gives None, and the caller writes the table with astropy.
- :func:`read_rows` reads the rows of a table HDU astropy opened (its header parsed, the data not
  loaded) with one read into the big-endian record array: an astropy ``Table`` of views of its columns,
  with the units and meta ``Table.read`` gives (the table readers convert each column to native byte
  order once, :func:`fluxds.io.gadf_table.normalised_columns`). Tables astropy reads in a special way
  (scaled or null-marked columns, display formats, a heap, commentary keywords) give None: the caller
  uses ``Table.read``.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import warnings
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
from astropy.io import fits
from astropy.table import Table

from fluxds.errors import FormatError
from fluxds.io.output.fits_stream import SLAB_BYTES, AppendingFile

__all__ = [
    "EncodedTable",
    "encode_table",
    "write_table_file",
    "write_rows",
    "read_rows",
    "column_names",
    "card_image",
]

_BLOCK = 2880
_CARD = 80
# numpy (kind, itemsize) -> FITS TFORM code of the columns written without scaling keywords
_CODES = {
    ("f", 4): "E",
    ("f", 8): "D",
    ("i", 2): "I",
    ("i", 4): "J",
    ("i", 8): "K",
    ("u", 1): "B",
    ("b", 1): "L",
}
_STRUCTURAL = (
    ("XTENSION", "BINTABLE", "binary table extension"),
    ("BITPIX", 8, "array data type"),
    ("NAXIS", 2, "number of array dimensions"),
    ("NAXIS1", None, "length of dimension 1"),
    ("NAXIS2", None, "length of dimension 2"),
    ("PCOUNT", 0, "number of group parameters"),
    ("GCOUNT", 1, "number of groups"),
    ("TFIELDS", None, "number of table fields"),
)
_PLAIN_TEXT = re.compile(r"^[ -&(-~]*$")  # printable ASCII without the quote
_KEYWORD = re.compile(r"^[A-Z0-9_-]+$")
# keywords of the header structure and of columns: a meta key among them is astropy's to handle
_RESERVED = re.compile(
    r"^(XTENSION|BITPIX|NAXIS\d*|PCOUNT|GCOUNT|TFIELDS|THEAP|EXTNAME|EXTVER|EXTEND|SIMPLE|END|"
    r"COMMENT|HISTORY|CONTINUE|"
    r"(TTYPE|TFORM|TUNIT|TNULL|TSCAL|TZERO|TDISP|TBCOL|TDIM|TCTYP|TCUNI|TCRPX|TCRVL|TCDLT|TRPOS|TCOMM)\d+)$"
)


# --- header cards ---------------------------------------------------------------------------------------


def card_image(keyword: str, value: Any, comment: str | None = None) -> str:
    """The 80-character image(s) of a header card, as ``astropy.io.fits.Card(keyword, value, comment)``
    makes it; the plain cases (a standard keyword, an integer or a short string of printable ASCII
    without quotes) are formatted here, every other one by astropy (floats, long strings as ``CONTINUE``
    cards, ``HIERARCH`` keywords ...).

    Parameters
    ----------
    keyword : str
    value : str, int, float, bool or None
    comment : str, optional

    Returns
    -------
    str
        A multiple of 80 characters.
    """
    if len(keyword) <= 8 and (comment is None or _PLAIN_TEXT.match(comment)):
        text = None
        if isinstance(value, str) and _PLAIN_TEXT.match(value):
            quoted = f"'{value:8}'"
            text = "''" if value == "" else f"{quoted:20}"
        elif isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:>20d}"
        if text is not None:
            image = f"{keyword:8}= {text}{f' / {comment}' if comment else ''}"
            if len(image) <= _CARD:
                return f"{image:{_CARD}}"
    with warnings.catch_warnings():  # keywords longer than 8 characters: HIERARCH, meant
        warnings.filterwarnings("ignore", message=".*a HIERARCH card will be created")
        return fits.Card(keyword, value, comment).image


def _tform(dtype: np.dtype, shape: tuple[int, ...]) -> str | None:
    """TFORM of a column of cells of ``shape`` (astropy's ``_convert_record2fits``), None if unsupported."""
    count = math.prod(shape)
    if dtype.kind in "SU":
        width = dtype.itemsize // (4 if dtype.kind == "U" else 1)
        return f"{width}A" if width and not shape else None
    code = _CODES.get((dtype.kind, dtype.itemsize))
    if code is None or count == 0:  # zero-width cells: astropy refuses them, with its own message
        return None
    return f"{count if count != 1 else ''}{code}"


def _unit_text(column) -> str | None:
    unit = getattr(column, "unit", None)
    return None if unit is None else unit.to_string(format="fits")


def _printable(text: str) -> bool:
    """Text a header card holds as it is (astropy refuses or skips anything else)."""
    return text.isascii() and text.isprintable()


def _meta_cards(meta: dict) -> list[str] | None:
    """The images of the meta keywords in order, as ``table_to_hdu`` adds them; None where astropy would
    warn, skip, merge or move a keyword."""
    cards = []
    for key, value in meta.items():
        if not isinstance(key, str) or not _KEYWORD.match(key) or _RESERVED.match(key):
            return None
        if not isinstance(value, (str, int, float)) or (isinstance(value, str) and not _printable(value)):
            return None
        if isinstance(value, float) and not math.isfinite(value):
            return None
        cards.append(card_image(key, value))
    return cards


@dataclass(frozen=True)
class EncodedTable:
    """A table ready to write: the header text (``END`` and padding included) and the row layout.

    Attributes
    ----------
    header : bytes
        The header, a multiple of 2880 bytes.
    dtype : numpy.dtype
        The big-endian record layout of a row (FITS logical columns as ``int8``, text as bytes).
    columns : tuple
        The table's columns, in order (numpy arrays or astropy columns, any byte order; text as bytes).
    n_rows : int
    """

    header: bytes
    dtype: np.dtype
    columns: tuple
    n_rows: int


def _plain_column(column) -> bool:
    from astropy.table import Column

    if type(column) is Column:
        return True
    return isinstance(column, np.ndarray) and not isinstance(column, np.ma.MaskedArray)


def encode_table(table: Table, *, name: str | None = None, ver: int | None = None) -> EncodedTable | None:
    """The header and row layout astropy would write for ``table`` (``table_hdu(table)``, then
    ``hdu.name = name`` and ``hdu.ver = ver``), or None if the table is not of plain columns.

    Parameters
    ----------
    table : astropy.table.Table
    name : str, optional
        ``EXTNAME``.
    ver : int, optional
        ``EXTVER``.

    Returns
    -------
    EncodedTable or None
    """
    if table.masked or table.has_mixin_columns:
        return None
    meta = _meta_cards(table.meta)
    if meta is None or (name is not None and not _PLAIN_TEXT.match(name)):
        return None
    fields, columns, cards, comments = [], [], [], []
    for i, colname in enumerate(table.colnames, start=1):
        column = table[colname]
        if not _plain_column(column) or column.info.format is not None or not _PLAIN_TEXT.match(colname):
            return None
        shape = tuple(column.shape[1:])
        form = _tform(column.dtype, shape)
        if form is None:
            return None
        if column.dtype.kind in "SU":
            base = np.dtype(f"S{column.dtype.itemsize // (4 if column.dtype.kind == 'U' else 1)}")
        else:
            base = np.dtype("i1") if column.dtype.kind == "b" else column.dtype.newbyteorder(">")
        values = column
        if column.dtype.kind == "U":
            try:  # FITS text is ASCII: astropy refuses anything else (with its own message)
                values = np.char.encode(np.asarray(column), "ascii")
            except UnicodeEncodeError:
                return None
        fields.append((colname, base, shape))
        columns.append(values)
        cards += [card_image(f"TTYPE{i}", colname), card_image(f"TFORM{i}", form)]
        if len(cards[-2]) != 80:  # a name too long for one card: astropy refuses it (no CONTINUE here)
            return None
        try:
            unit = _unit_text(column)
        except ValueError:  # no FITS spelling: astropy warns, or refuses a scaled unit
            return None
        if unit is not None:
            cards.append(card_image(f"TUNIT{i}", unit))
        if shape:
            cards.append(card_image(f"TDIM{i}", f"({','.join(str(d) for d in shape[::-1])})"))
        description = column.info.description
        if description:
            if not _printable(str(description)):
                return None
            comments.append(card_image(f"TCOMM{i}", str(description)))
    dtype = np.dtype(fields)
    values = {"NAXIS1": dtype.itemsize, "NAXIS2": len(table), "TFIELDS": len(columns)}
    head = [card_image(k, values.get(k, v), c) for k, v, c in _STRUCTURAL]
    tail = []
    if name is not None:
        name = name if fits.conf.extension_name_case_sensitive else name.upper()
        tail.append(card_image("EXTNAME", name, "extension name"))
    if ver is not None:
        tail.append(card_image("EXTVER", int(ver), "extension value"))
    text = "".join([*head, *cards, *comments, *meta, *tail, f"{'END':{_CARD}}"])
    text += " " * (-len(text) % _BLOCK)
    return EncodedTable(text.encode("ascii"), dtype, tuple(columns), len(table))


def _field_values(column) -> np.ndarray:
    values = np.asarray(column)
    if values.dtype.kind == "b":
        return np.where(values, np.int8(84), np.int8(70))  # FITS logicals: 'T' / 'F'
    if values.dtype.kind == "S":
        return _fits_text(values)
    return values


def _fits_text(text: np.ndarray) -> np.ndarray:
    """Text as astropy stores it (``_rstrip_inplace``): trailing blanks become NUL bytes, except the
    first character of a text of blanks only."""
    stripped = np.strings.rstrip(text, b" ")
    stripped[(stripped == b"") & (text != b"")] = b" "
    return stripped


def write_rows(handle: BinaryIO, encoded: EncodedTable, *, slab_bytes: int = SLAB_BYTES) -> int:
    """Write the header and rows of ``encoded`` at the current position of ``handle``, padded to the FITS
    block; the rows are interleaved and converted to big-endian one slab of rows at a time. Returns the
    bytes written."""
    handle.write(encoded.header)
    n_rows, itemsize = encoded.n_rows, encoded.dtype.itemsize
    if n_rows and itemsize:
        per_slab = max(1, slab_bytes // itemsize)
        buffer = np.empty(min(per_slab, n_rows), encoded.dtype)
        arrays = [_field_values(c) for c in encoded.columns]
        for start in range(0, n_rows, buffer.size):  # slabs of rows, not rows
            stop = min(start + buffer.size, n_rows)
            out = buffer[: stop - start]
            for name, values in zip(encoded.dtype.names, arrays, strict=True):
                out[name] = values[start:stop]
            handle.write(out.data)
    nbytes = n_rows * itemsize
    pad = -nbytes % _BLOCK
    if pad:
        handle.write(bytes(pad))
    return len(encoded.header) + nbytes + pad


def write_table_file(path: str | os.PathLike, parts: list, *, slab_bytes: int = SLAB_BYTES) -> None:
    """Write a new FITS file: an empty primary HDU, then each of ``parts`` in order.

    Parameters
    ----------
    path : str or path-like
        A file that does not exist yet (the temporary of :func:`fluxds.io.output.atomic.atomic_path`).
    parts : list
        :class:`EncodedTable` (written by :func:`write_rows`) or astropy extension HDUs (written by
        astropy, verified first as ``writeto`` verifies them).
    slab_bytes : int
        Bytes of rows converted at a time.
    """
    others = [p for p in parts if not isinstance(p, EncodedTable)]
    if others:
        fits.HDUList([fits.PrimaryHDU(), *others]).verify(option="exception")
    with open(path, "xb") as handle:
        handle.write(_primary_header())
        appending = AppendingFile(handle)
        for part in parts:
            if isinstance(part, EncodedTable):
                write_rows(handle, part, slab_bytes=slab_bytes)
            else:
                fits.HDUList([part]).writeto(appending, output_verify="ignore")


@functools.lru_cache(maxsize=1)
def _primary_header() -> bytes:
    """The empty primary HDU astropy writes before extensions (``EXTEND = T``), made by astropy once."""
    buffer = io.BytesIO()
    primary = fits.PrimaryHDU()
    primary.header.set("EXTEND", True, after="NAXIS")  # HDUList.update_extend: the file has extensions
    fits.HDUList([primary]).writeto(buffer)
    return buffer.getvalue()


# --- reading ----------------------------------------------------------------------------------------------

_TFORM = re.compile(r"^\s*(\d*)([A-Z])\s*$")
_READ_CODES = {"D": ">f8", "E": ">f4", "K": ">i8", "J": ">i4", "I": ">i2", "B": "u1", "L": "i1"}
# column keywords of a table astropy reads as something else than plain numbers (scaled, masked, Time)
_SPECIAL_COLUMN_KEYS = re.compile(r"^(TNULL|TSCAL|TZERO|TDISP|TCTYP|TCUNI|TCRPX|TCRVL|TCDLT|TRPOS)\d+$")
# astropy.io.fits.connect.is_column_keyword (a prefix match, as astropy's)
_COLUMN_KEYS = re.compile(
    r"(TTYPE|TFORM|TUNIT|TNULL|TSCAL|TZERO|TDISP|TBCOL|TDIM|TCTYP|TCUNI|TCRPX|TCRVL|TCDLT|TRPOS)\d+"
)
_HEADER_KEYS = {"XTENSION", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS", "THEAP"}


def column_names(hdu) -> list[str]:
    """The column names of a table HDU from its ``TTYPEn`` keywords, without building astropy's column
    definitions (``hdu.columns``, slow for a header of many columns); a column without a name is ``""``."""
    n_fields = hdu.header.get("TFIELDS", 0)
    if not isinstance(n_fields, int) or n_fields < 0:
        return list(hdu.columns.names)
    return [str(hdu.header.get(f"TTYPE{i}", "")) for i in range(1, n_fields + 1)]


def _read_field(form: str, dim) -> tuple[np.dtype, tuple[int, ...]] | None:
    match = _TFORM.match(form)
    if not match:
        return None
    count, code = int(match.group(1) or 1), match.group(2)
    if code == "A":
        return (np.dtype(f"S{count}"), ()) if count and dim is None else None
    if code not in _READ_CODES or count < 1:
        return None
    shape: tuple[int, ...] = () if count == 1 and dim is None else (count,)
    if dim is not None:
        try:
            shape = tuple(int(d) for d in str(dim).strip().strip("()").split(","))[::-1]
        except ValueError:
            return None
        if math.prod(shape) != count or not shape or min(shape) < 1:
            return None
    return np.dtype(_READ_CODES[code]), shape


def _keywords(header) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Each keyword's value (astropy parses a card's value on every access: once here), and the meta
    ``Table.read`` makes of them; None where a keyword repeats or is commentary (astropy's lists)."""
    values: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    for card in header.cards:
        key = card.keyword
        if key in values or key in ("COMMENT", "HISTORY", ""):
            return None
        value = card.value
        values[key] = value
        if key not in _HEADER_KEYS and not _COLUMN_KEYS.match(key):
            meta[key] = value
    return values, meta


def _layout(values: dict[str, Any]) -> list[tuple[str, np.dtype, tuple]] | None:
    """The fields (name, big-endian dtype, cell shape) of a plain binary table from its keywords, or
    None for a table astropy reads in a special way."""
    if values.get("XTENSION") != "BINTABLE" or values.get("PCOUNT", 0) != 0 or "THEAP" in values:
        return None
    if any(_SPECIAL_COLUMN_KEYS.match(key) for key in values):
        return None
    n_fields = values.get("TFIELDS")
    if not isinstance(n_fields, int) or isinstance(n_fields, bool) or n_fields < 1:
        return None
    fields, names = [], set()
    for i in range(1, n_fields + 1):
        name, form = values.get(f"TTYPE{i}"), values.get(f"TFORM{i}")
        if not isinstance(name, str) or not isinstance(form, str) or not name or name.lower() in names:
            return None
        names.add(name.lower())
        found = _read_field(form, values.get(f"TDIM{i}"))
        if found is None:
            return None
        fields.append((name, *found))
    return fields


def read_rows(hdu, where: str) -> Table | None:
    """The table of a plain FITS binary-table HDU, read in one pass: one read of the rows (big-endian,
    interleaved); the numeric columns are views of them, in the file's byte order as ``Table.read``
    gives them (:func:`fluxds.io.gadf_table.normalised_columns` converts each to native order once).

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        From an HDU list opened on a file (its ``fileinfo()`` gives where the rows are).
    where : str
        The file and HDU, for messages.

    Returns
    -------
    astropy.table.Table or None
        As ``Table.read(hdu)`` gives it (columns, units, meta; ``TCOMMn`` left in the meta), except that
        NaN values are not masked; None for a table this reader does not handle (scaled or null-marked
        columns, display formats, variable-length arrays, bits, complex numbers, multi-dimensional
        text, non-ASCII text, commentary or repeated keywords): the caller then uses ``Table.read``.

    Raises
    ------
    FormatError
        The file ends before the rows do.
    """
    if not isinstance(hdu, fits.BinTableHDU):
        return None
    info = hdu.fileinfo()
    if info is None or info.get("file") is None:
        return None
    keywords = _keywords(hdu.header)
    fields = None if keywords is None else _layout(keywords[0])
    if fields is None:
        return None
    values, meta = keywords
    dtype = np.dtype([(name, base, shape) for name, base, shape in fields])
    n_rows = values.get("NAXIS2")
    if not isinstance(n_rows, int) or n_rows < 0 or values.get("NAXIS1") != dtype.itemsize:
        return None
    size = n_rows * dtype.itemsize
    try:
        raw = info["file"].readarray(size=size, offset=info["datLoc"], dtype=np.uint8) if size else b""
    except (TypeError, ValueError, OSError, EOFError):  # a compressed file ending early
        raw = b""
    if len(raw) != size:
        raise FormatError(f"{where}: the file ends inside the table: {len(raw)} of {size} bytes of rows")
    rows = np.frombuffer(raw, dtype, count=n_rows)
    return _table(rows, fields, values, meta)


def _text(raw: np.ndarray) -> np.ndarray | None:
    """A text column as astropy reads it from an open HDU: ``str``, trailing blanks removed; None for
    text beyond ASCII (astropy replaces it, with a warning)."""
    if raw.size and np.frombuffer(raw.tobytes(), np.uint8).max() >= 128:
        return None
    return np.char.decode(np.strings.rstrip(raw), "ascii").astype(f"U{raw.dtype.itemsize}")


def _fits_unit(text: str):
    """``TUNITn`` as ``Table.read`` parses it; short texts (one card) from a cache, so that a file's long
    texts are not kept after its read."""
    return _short_fits_unit(text) if len(text) <= 68 else _parse_fits_unit(text)


@functools.lru_cache(maxsize=256)
def _short_fits_unit(text: str):
    """Units are immutable: each short text parsed once."""
    return _parse_fits_unit(text)


def _parse_fits_unit(text: str):
    """``TUNITn`` parsed as ``Table.read`` does (an unknown unit an ``UnrecognizedUnit``)."""
    from astropy import units as u

    return u.Unit(text, format="fits", parse_strict="silent")


def _table(rows: np.ndarray, fields, values: dict[str, Any], meta: dict[str, Any]) -> Table | None:
    columns = []
    for i, (name, base, _) in enumerate(fields, start=1):
        raw = rows[name]
        if base.kind == "S":
            data = _text(raw)
            if data is None:
                return None
        elif base == np.dtype("i1"):
            data = raw == ord("T")  # FITS logicals; astropy reads a null (0) as False too
        else:
            data = raw  # big-endian, as astropy's: the caller converts it to native order, once
        unit = values.get(f"TUNIT{i}")
        columns.append((name, data, _fits_unit(unit) if isinstance(unit, str) and unit.strip() else None))
    table = Table([d for _, d, _ in columns], names=[n for n, _, _ in columns], copy=False, meta=meta)
    for name, _, unit in columns:
        if unit is not None:
            table[name].unit = unit
    return table
