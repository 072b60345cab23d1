"""Checking FITS files from elsewhere against their own sizes and the read budget, before astropy
allocates for them.

- FITS headers declaring more data than the file holds (``NAXIS2 = 10**12``), or binary-table columns
  that do not add up to the row width (a ``TFORMn`` of 10^8 elements in a 300-byte row): refused before
  astropy allocates for them (:func:`check_fits_sizes`); a gzip-compressed file (``.fits.gz``) is walked
  through its decompressed stream, after :func:`fluxds.io.guard.untrusted.check_gzip_size`;
- tile-compressed FITS images: the decompressed image (``ZNAXISn`` x ``ZBITPIX``) is checked against the
  decompression limit (:func:`fluxds.io.guard.untrusted.decompression_limit`) and the read budget before
  astropy decompresses it (:func:`check_fits_hdu`); every HDU a reader reads is added to the read's running
  total (:func:`fluxds.io.guard.budget.charge`), so the budget bounds the whole read, not each HDU.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

from fluxds.errors import FormatError
from fluxds.io.guard.budget import (
    ENVIRONMENT_VARIABLE,
    BudgetError,
    charge,
    read_budget,
)
from fluxds.io.guard.untrusted import (
    GZIP_MAGIC,
    RAISE_LIMIT_HINT,
    check_gzip_size,
    decompression_limit,
    gzip_decompressed_size,
)

__all__ = ["check_fits_sizes", "check_fits_hdu", "fits_data_bytes"]

_RAISE_BUDGET = (
    "if you trust the file, raise the budget with fluxds.read(..., max_bytes=...), "
    f"fluxds.io.guard.budget.set_read_budget(...) or the environment variable {ENVIRONMENT_VARIABLE}"
)

_BLOCK = 2880
_BITPIX = {8, 16, 32, 64, -32, -64}
_BINTABLE = ("BINTABLE", "A3DTABLE")  # astropy reads both as binary tables


def _header_values(handle, where: str) -> tuple[dict[str, str], int] | None:
    """The value cards of the next FITS header (up to END) and its length in bytes; None at the end."""
    values: dict[str, str] = {}
    length = 0
    while True:
        block = handle.read(_BLOCK)
        if not block:
            if length == 0:
                return None
            raise FormatError(f"{where}: a FITS header without END (the file is truncated)")
        length += len(block)
        for start in range(0, len(block), 80):
            card = block[start : start + 80]
            key = card[:8].decode("ascii", "replace").strip()
            if key == "END":
                return values, length
            if card[8:10] == b"= ":
                values.setdefault(key, card[10:].split(b"/")[0].decode("ascii", "replace").strip())
        if length > 100 * _BLOCK * 36:  # 100,000 header cards: not a header
            raise FormatError(f"{where}: a FITS header longer than 100000 cards")


def _int_key(values: dict[str, str], key: str, where: str, low: int, high: int, default=None) -> int:
    text = values.get(key)
    if text is None:
        if default is None:
            raise FormatError(f"{where}: keyword {key} is missing")
        return default
    try:
        value = int(text)
    except ValueError:
        raise FormatError(f"{where}: keyword {key} is {text!r}, expected an integer") from None
    if not low <= value <= high:
        raise FormatError(f"{where}: keyword {key} is {value}, expected an integer in [{low}, {high}]")
    return value


def _check_heap_and_tiles(values: dict[str, str], where: str, *, table_bytes: int, pcount: int) -> None:
    """A binary table's heap (``THEAP``) lies within its data; a tile-compressed image's ``ZNAXIS``,
    ``ZNAXISn`` and ``ZBITPIX`` are FITS values (their size is checked against the budget and the
    decompression limit when the image is read, :func:`check_fits_hdu`)."""
    if "THEAP" in values:
        _int_key(values, "THEAP", where, table_bytes, table_bytes + pcount)
    if values.get("ZIMAGE", "").strip().upper() == "T":
        zbitpix = _int_key(values, "ZBITPIX", where, -64, 64)
        if zbitpix not in _BITPIX:
            raise FormatError(f"{where}: keyword ZBITPIX is {zbitpix}, expected one of {sorted(_BITPIX)}")
        znaxis = _int_key(values, "ZNAXIS", where, 0, 999)
        for k in range(1, znaxis + 1):
            _int_key(values, f"ZNAXIS{k}", where, 0, 2**62)


#: bytes a row of a binary table gives one element of each TFORMn type (X: bits, rounded up per column;
#: P and Q: the 8- or 16-byte array descriptor, whatever the repeat count)
_TFORM_WIDTH = {"L": 1, "B": 1, "A": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8, "C": 8, "M": 16}
_DESCRIPTOR = {"P": 8, "Q": 16}
_TFORM = re.compile(r"([0-9]*)([LXBIJKAEDCMPQ])([!-~]*)", re.IGNORECASE)  # astropy's TFORMAT_RE
_TDIM = re.compile(r"\(\s*(\d+\s*(?:,\s*\d+\s*)*)\)")  # astropy's TDIM_RE: other values are ignored


def _unquoted(text: str | None) -> str | None:
    """A FITS string value as written in a card (``'1PD(5)  '``), without its quotes."""
    if text is None:
        return None
    text = text.strip()
    if text.startswith("'"):
        text = text[1:].rsplit("'", 1)[0].replace("''", "'")
    return text.strip()


def _table_columns(value, where: str, *, naxis1: int, tfields: int) -> list[tuple[str, str, int]]:
    """The columns of a binary table from its header, checked against the row width.

    ``value(key)`` gives a keyword's value as text (None when absent). Per the FITS standard (sec. 7.3)
    ``NAXIS1`` is the sum over columns of repeat x element width (``X``: the bits rounded up to bytes;
    ``P``/``Q``: an 8/16-byte descriptor), and a ``TDIMn`` (as astropy parses it) holds at most the
    repeat count of elements (fewer: the rest is fill, allowed). Returns ``(name, type, repeat)``.
    """
    columns, width = [], 0
    for k in range(1, tfields + 1):
        tform = _unquoted(value(f"TFORM{k}"))
        name = _unquoted(value(f"TTYPE{k}")) or f"column {k}"
        label = f"{where}: column {k} ({name!r})"
        if tform is None:
            raise FormatError(f"{label}: keyword TFORM{k} is missing (TFIELDS = {tfields})")
        match = _TFORM.match(tform)
        if not match:
            raise FormatError(f"{label}: TFORM{k} = {tform!r} is not a binary-table format")
        repeat = int(match.group(1)) if match.group(1) else 1
        code = match.group(2).upper()
        if code in _DESCRIPTOR:
            width += _DESCRIPTOR[code]
        elif code == "X":
            width += -(-repeat // 8)
        else:
            width += repeat * _TFORM_WIDTH[code]
            tdim = _TDIM.fullmatch((_unquoted(value(f"TDIM{k}")) or "").strip())
            if tdim:
                elements = 1
                for n in tdim.group(1).split(","):
                    elements *= int(n)
                if elements > repeat:
                    raise FormatError(
                        f"{label}: TDIM{k} = {tdim.group(0)!r} declares {elements} elements, more than the "
                        f"{repeat} of TFORM{k} = {tform!r} (the file is damaged)"
                    )
        columns.append((name, code, repeat))
        if width > naxis1:
            raise FormatError(
                f"{label}: TFORM{k} = {tform!r} makes the columns so far {width} bytes a row, more than "
                f"NAXIS1 = {naxis1} (the row width; the file is damaged)"
            )
    if width != naxis1:
        raise FormatError(
            f"{where}: the {tfields} columns (TFORMn) add up to {width} bytes a row, but NAXIS1 = {naxis1} "
            "(the file is damaged)"
        )
    return columns


def check_fits_sizes(path: str | os.PathLike) -> None:
    """Refuse a FITS file whose headers declare more data than the file holds (before any reader
    allocates for it).

    Walks the HDUs header by header (no data is read): ``BITPIX`` must be a FITS value, ``NAXIS`` and
    ``TFIELDS`` in [0, 999], every ``NAXISn``, ``PCOUNT`` and ``GCOUNT`` >= 0, and each HDU's data size,
    ``|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1 * ... * NAXISn)`` bytes, must fit in what is left of the
    file; a binary table's heap (``THEAP``) must lie in its data, its columns must add up to its row width
    (``NAXIS1`` = the sum of repeat x element width of the ``TFORMn``, an ``X`` column its bits rounded up
    to bytes, a ``P``/``Q`` column an 8/16-byte descriptor; a ``TDIMn`` of at most the repeat count of
    elements: FITS standard 4.0, sec. 7.3), and a tile-compressed image's ``ZBITPIX``, ``ZNAXIS`` and
    ``ZNAXISn`` must be FITS values. A gzip-compressed file is walked through the
    decompressed stream (after :func:`fluxds.io.guard.untrusted.check_gzip_size`).

    The data an HDU declares are checked against the read budget only when a reader reads that HDU
    (:func:`check_fits_hdu`), so that an HDU no reader needs costs nothing; but a declaration beyond both
    the file and the budget (``NAXIS2 = 10**12``) is a :class:`~fluxds.errors.BudgetError` here.

    Parameters
    ----------
    path : str or path-like

    Raises
    ------
    FormatError
        Naming the file, the HDU, the keyword and the value found.
    fluxds.errors.BudgetError
        An HDU declaring more data than the file holds and than the read budget.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from astropy.io import fits
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "big.fits"
    >>> table = fits.BinTableHDU.from_columns([fits.Column("A", "D", array=[1.0])])
    >>> fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    >>> check_fits_sizes(path)
    >>> data = bytearray(path.read_bytes())
    >>> i = data.index(b"NAXIS2  =")
    >>> data[i : i + 30] = b"NAXIS2  =        1000000000000"
    >>> _ = path.write_bytes(bytes(data))
    >>> try:
    ...     check_fits_sizes(path)
    ... except FormatError as exc:
    ...     print(type(exc).__name__, str(exc).split(": ", 1)[1][:60])
    BudgetError HDU 1 declares 8000000000000 bytes of data, more than the re
    """
    path = Path(path)
    compressed = False
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    if compressed:
        check_gzip_size(path)
        stat = path.stat()
        total = gzip_decompressed_size(
            str(path.resolve()), stat.st_mtime_ns, stat.st_size, decompression_limit()
        )
        opener = gzip.open
    else:
        total = path.stat().st_size
        opener = open
    try:
        with opener(path, "rb") as handle:
            offset, index = 0, 0
            while True:
                found = _header_values(handle, f"{path}[HDU {index}]")
                if found is None:
                    return
                values, length = found
                where = f"{path}[HDU {index}]"
                bitpix = _int_key(values, "BITPIX", where, -64, 64)
                if bitpix not in _BITPIX:
                    raise FormatError(
                        f"{where}: keyword BITPIX is {bitpix}, expected one of {sorted(_BITPIX)}"
                    )
                naxis = _int_key(values, "NAXIS", where, 0, 999)
                tfields = _int_key(values, "TFIELDS", where, 0, _MAX_FIELDS, default=0)
                sizes = [_int_key(values, f"NAXIS{k}", where, 0, 2**62) for k in range(1, naxis + 1)]
                xtension = _unquoted(values.get("XTENSION", "")).upper() if index else ""
                if xtension in (*_BINTABLE, "TABLE") and naxis != 2:
                    # astropy sizes a table by NAXIS1 x NAXIS2 whatever NAXIS says: NAXIS = 1 with
                    # NAXIS2 = 10**8 passed this walk as a 41-byte HDU (fuzz seed 5, input 36107)
                    raise FormatError(
                        f"{where}: a {xtension} extension has NAXIS = 2 (FITS standard, sec. 7.2 and 7.3), "
                        f"found NAXIS = {naxis}"
                    )
                if xtension in _BINTABLE:
                    _table_columns(values.get, where, naxis1=sizes[0], tfields=tfields)
                pcount = _int_key(values, "PCOUNT", where, 0, 2**62, default=0)
                gcount = _int_key(values, "GCOUNT", where, 0, 2**62, default=1)
                n = 1
                for size in sizes:
                    n *= size
                nbytes = abs(bitpix) // 8 * gcount * (pcount + n) if naxis else 0
                _check_heap_and_tiles(values, where, table_bytes=abs(bitpix) // 8 * n, pcount=pcount)
                offset += length
                if nbytes > total - offset:
                    follow = max(total - offset, 0)
                    budget = read_budget()
                    if nbytes > budget:  # a BudgetError, whatever the file holds: 1e12 is beyond any budget
                        raise BudgetError(
                            f"{path}: HDU {index} declares {nbytes} bytes of data, more than the read budget "
                            f"of {budget} bytes (and only {follow} bytes follow its header); {_RAISE_BUDGET}"
                        )
                    raise FormatError(
                        f"{path}: HDU {index} declares {nbytes} bytes of data, but only {follow} bytes "
                        "follow its header"
                    )
                padded = -(-nbytes // _BLOCK) * _BLOCK
                handle.seek(offset + padded)
                offset += padded
                index += 1
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: cannot read the FITS headers: {exc}") from None


def _product(values) -> int:
    n = 1
    for value in values:
        n *= int(value)
    return n


def _scaled(header) -> bool:
    """Whether astropy turns the image into floats when reading it (BSCALE/BZERO other than 1/0 and
    other than an unsigned-integer offset)."""
    bscale, bzero = header.get("BSCALE", 1), header.get("BZERO", 0)
    bitpix = header.get("BITPIX", 8)
    unsigned = bscale == 1 and bitpix > 8 and bzero == 2 ** (bitpix - 1)
    return not unsigned and (bscale != 1 or bzero != 0)


_UNSIGNED_ZERO = {"B": -(2**7), "I": 2**15, "J": 2**31, "K": 2**63}


def _scaled_column(header, k: int, code: str) -> bool:
    """Whether astropy turns column ``k`` into floats when reading it (TSCALn/TZEROn other than 1/0 and
    other than the unsigned-integer or signed-byte offset)."""
    tscal, tzero = header.get(f"TSCAL{k}", 1), header.get(f"TZERO{k}", 0)
    if tscal == 1 and tzero == _UNSIGNED_ZERO.get(code):
        return False
    return tscal != 1 or tzero != 0


def fits_data_bytes(hdu, *, where: str | None = None) -> tuple[int, int, str]:
    """What reading the data of an HDU materialises, from its header alone (nothing is read).

    Parameters
    ----------
    hdu : astropy.io.fits HDU
        An image, tile-compressed image or table HDU of an open HDUList.
    where : str, optional
        The file and HDU, for messages (default: the file astropy opened and the HDU's name).

    Returns
    -------
    nbytes : int
        Bytes the data takes in memory once read: the array (for a tile-compressed image the
        decompressed image, ``ZNAXISn`` x ``ZBITPIX``, plus its compressed tiles), a floating-point copy
        for a scaled (``BSCALE``/``BZERO``) image, the rows and the heap (``PCOUNT``) of a table, and for
        a binary table what astropy converts its rows to besides (one byte per logical or bit element,
        eight per element of a scaled column: ``TSCALn``/``TZEROn``).
    decompressed : int
        Bytes a tile-compressed image decompresses to (0 for anything else).
    what : str
        How ``nbytes`` was found, for messages.

    Raises
    ------
    FormatError
        A binary table whose columns (``TFORMn`` x repeat) do not add up to its row width ``NAXIS1``, or
        whose ``TDIMn`` declares more elements than its ``TFORMn`` holds (naming the column).
    """
    from astropy.io import fits

    header = hdu.header
    if isinstance(hdu, fits.CompImageHDU):  # the header is the image's: NAXISn = ZNAXISn, BITPIX = ZBITPIX
        shape = [int(header.get(f"NAXIS{k}", 0)) for k in range(1, int(header.get("NAXIS", 0)) + 1)]
        itemsize = abs(int(header.get("BITPIX", 8))) // 8
        n = _product(shape) if shape else 0
        image = n * itemsize + (n * 8 if _scaled(header) else 0)
        stored = hdu.fileinfo()["datSpan"] if hdu.fileinfo() else 0
        dims = " x ".join(str(v) for v in reversed(shape)) or "no"
        return image + stored, image, f"a tile-compressed image of {dims} pixels of {itemsize} bytes"
    naxis = int(header.get("NAXIS", 0))
    shape = [int(header.get(f"NAXIS{k}", 0)) for k in range(1, naxis + 1)]
    itemsize = abs(int(header.get("BITPIX", 8))) // 8
    n = _product(shape) if naxis else 0
    pcount, gcount = int(header.get("PCOUNT", 0)), int(header.get("GCOUNT", 1))
    if isinstance(hdu, (fits.BinTableHDU, fits.TableHDU)):
        rows = shape[1] if naxis >= 2 else 0
        width = shape[0] if naxis >= 1 else 0
        heap = f" and a heap of {pcount} bytes" if pcount else ""
        extra = 0  # what astropy makes of the rows beside them: booleans, scaled values as float64
        if isinstance(hdu, fits.BinTableHDU) and naxis == 2:
            if where is None:
                info = hdu.fileinfo()
                where = f"{getattr(info['file'], 'name', None) if info else 'a FITS file'}[{hdu.name}]"
            columns = _table_columns(
                lambda key: str(header[key]) if key in header else None,
                where,
                naxis1=width,
                tfields=int(header.get("TFIELDS", 0)),
            )
            for k, (_name, code, repeat) in enumerate(columns, 1):
                if code in "XL":
                    extra += repeat
                elif code not in _DESCRIPTOR and _scaled_column(header, k, code):
                    extra += 8 * repeat
        converted = f", {extra} bytes a row once converted" if extra else ""
        return (width + extra) * rows + pcount, 0, f"a table of {rows} rows of {width} bytes{heap}{converted}"
    data = itemsize * gcount * (pcount + n)
    scaled = n * 8 if hdu.is_image and _scaled(header) else 0
    dims = " x ".join(str(v) for v in reversed(shape)) or "no"
    return data + scaled, 0, f"an image of {dims} pixels of {itemsize} bytes" + (", scaled" if scaled else "")


def check_fits_hdu(hdu, path: str | os.PathLike, *, label: str | None = None, lazy: bool = False) -> None:
    """Refuse, before its data is read, an HDU whose data would take the read past its budget.

    Call it right before touching ``hdu.data`` (or ``Table.read(hdu)``): astropy reads an HDU's data
    only then, so HDUs no reader touches (an extra ``JUNK`` image) cost nothing and are not counted.
    What is checked (:func:`fits_data_bytes`): the array or table with its variable-length-array heap,
    **added to what the read has materialised so far** (:func:`fluxds.io.guard.budget.charge`: the budget is
    for the whole read, so fifteen images of 64 MiB each are refused, under a 256 MiB budget, before
    the fifth is decompressed; an HDU checked twice, a bands table shared by several images, counts
    once) against :func:`fluxds.io.guard.budget.read_budget`; a binary table's columns against its row width
    (a ``TFORMn`` of 10^8 elements in a row of 64 bytes is a ``FormatError`` naming the column, before
    astropy allocates for it); a tile-compressed image's decompressed size also against
    :func:`fluxds.io.guard.untrusted.decompression_limit` (astropy decompresses the whole image at once, even
    when memory-mapping); the variable-length arrays a table's descriptors ask for, against the heap they
    must lie in and the budget (this reads the table's rows, already checked).

    Parameters
    ----------
    hdu : astropy.io.fits HDU
    path : str or path-like
        The file, for messages.
    label : str, optional
        The HDU, for messages (default its ``EXTNAME``).
    lazy : bool
        The caller memory-maps the data and wraps it without reading it (dask): only what astropy
        materialises anyway (a decompressed or scaled image) is counted.

    Raises
    ------
    fluxds.errors.BudgetError
        Naming the file, the HDU, the size declared, the read's total so far, the budget (or limit) and
        how to raise it.
    FormatError
        A variable-length-array descriptor pointing outside the heap; columns that do not add up to the
        row width (naming the column).
    """
    from astropy.io import fits

    label = label or hdu.name or "PRIMARY"
    nbytes, decompressed, what = fits_data_bytes(hdu, where=f"{path}: HDU {label!r}")
    if decompressed:
        limit = decompression_limit()
        if decompressed > limit:
            raise BudgetError(
                f"{path}: HDU {label!r}: {what} decompresses to {decompressed} bytes, more than the "
                f"limit for compressed inputs of {limit} bytes; {RAISE_LIMIT_HINT}"
            )
    elif lazy and not (hdu.is_image and _scaled(hdu.header)):
        return
    key = _hdu_key(hdu)
    charge(nbytes, path=path, variable=f"HDU {label}", what=f"reading {what}", key=key)
    if isinstance(hdu, fits.BinTableHDU) and not isinstance(hdu, fits.CompImageHDU):
        _check_vla(hdu, path, label, key=key)


def _hdu_key(hdu) -> tuple:
    """Identifies an HDU within a read (its file and header offset), so that reading it twice, or
    checking a bands table once for each image that names it, charges the read budget once."""
    info = hdu.fileinfo()
    name = getattr(info["file"], "name", None) if info else None
    if name is None:
        return ("hdu", id(hdu))
    return ("fits", os.path.realpath(name), info["hdrLoc"])


_MAX_FIELDS = 999  # the FITS standard's bound on TFIELDS, checked with the header
_VLA_FORMAT = re.compile(r"^\s*[01]?\s*([PQ])([LXBIJKAEDCM])", re.IGNORECASE)
_VLA_ITEMSIZE = {"L": 1, "X": 1, "B": 1, "A": 1, "I": 2, "J": 4, "K": 8, "E": 4, "D": 8, "C": 8, "M": 16}


def _check_vla(hdu, path, label: str, key: tuple | None = None) -> None:
    """The variable-length arrays of a binary table: inside the heap, and within the budget in all."""
    import numpy as np

    header = hdu.header
    n_fields = header.get("TFIELDS", 0)
    if isinstance(n_fields, int) and 0 <= n_fields <= _MAX_FIELDS:  # TFORMn from the header: cheap
        forms = [str(header.get(f"TFORM{i}", "")) for i in range(1, n_fields + 1)]
        if not any(_VLA_FORMAT.match(form) for form in forms):
            return
    columns = [(c.name, _VLA_FORMAT.match(str(c.format))) for c in hdu.columns]
    columns = [(name, match) for name, match in columns if match]
    if not columns:
        return
    rows, width = int(header.get("NAXIS2", 0)), int(header.get("NAXIS1", 0))
    heap_start = int(header.get("THEAP", rows * width))
    heap_end = rows * width + int(header.get("PCOUNT", 0))
    raw = hdu.data.view(np.ndarray)  # the rows as stored: the descriptors, not the arrays they point to
    total = 0
    for name, match in columns:
        element = _VLA_ITEMSIZE[match.group(2).upper()]
        descriptors = np.asarray(raw[name]).reshape(-1, 2).astype(np.int64)
        count, start = descriptors[:, 0], descriptors[:, 1]
        bad = (count < 0) | (start < 0) | (heap_start + start + count * element > heap_end)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise FormatError(
                f"{path}: HDU {label!r}: column {name!r}, row {i}: a variable-length array of "
                f"{int(count[i])} elements at heap offset {int(start[i])} lies outside the heap of "
                f"{heap_end - heap_start} bytes (the file is damaged)"
            )
        total += int(count.sum()) * element
    charge(
        total,
        path=path,
        variable=f"HDU {label}",
        what=f"the variable-length arrays of {len(columns)} column(s)",
        key=None if key is None else (*key, "variable-length arrays"),
    )
