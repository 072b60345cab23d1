"""Reading untrusted files safely: no unpickling, bounded decompression.

fluxds never unpickles, evaluates or ``yaml.load``-s data read from a file (YAML goes through
``yaml.safe_load`` or astropy's safe loader). Two kinds of input need a guard before any reader sees them:

- pickles, including NumPy ``.npy`` files (fermipy writes its light curves as ``.npy`` files of pickled
  objects): refused with a :class:`~fluxds.errors.FormatError`, never opened with ``np.load``;
- zarr stores whose metadata name the ``pickle`` codec (zarr 2 decodes object arrays with it): refused
  before zarr opens them;
- FITS headers declaring more data than the file holds (``NAXIS2 = 10**12``): refused before astropy
  allocates for them (:func:`check_fits_sizes`);
- gzip-compressed files (``.fits.gz``): the decompressed size is counted, streaming, before any reader
  decompresses them, and a file inflating beyond :func:`decompression_limit` bytes (a "gzip bomb") is
  refused. The limit defaults to 2 GiB, or the ``FLUXDS_MAX_DECOMPRESSED_BYTES`` environment variable;
  :func:`set_decompression_limit` changes it.
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

from fluxds.errors import FormatError

__all__ = [
    "decompression_limit",
    "set_decompression_limit",
    "check_not_pickle",
    "check_gzip_size",
    "check_zarr_codecs",
    "check_fits_sizes",
    "GZIP_MAGIC",
]

GZIP_MAGIC = b"\x1f\x8b"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"  # .npz archives hold .npy members
_DEFAULT_LIMIT = 2 * 1024**3
_limit: list[int] = [int(os.environ.get("FLUXDS_MAX_DECOMPRESSED_BYTES", _DEFAULT_LIMIT))]
_CHUNK = 1 << 20


def decompression_limit() -> int:
    """The largest decompressed size (bytes) fluxds accepts from a compressed input.

    Examples
    --------
    >>> decompression_limit() > 0
    True
    """
    return _limit[0]


def set_decompression_limit(nbytes: int) -> int:
    """Set the largest decompressed size (bytes) accepted from a compressed input; return the old one.

    Parameters
    ----------
    nbytes : int
        The new limit, in bytes (> 0).

    Returns
    -------
    int
        The previous limit, in bytes.

    Examples
    --------
    >>> old = set_decompression_limit(10 * 1024**2)
    >>> decompression_limit()
    10485760
    >>> _ = set_decompression_limit(old)
    """
    nbytes = int(nbytes)
    if nbytes <= 0:
        raise ValueError(f"the decompression limit must be > 0 bytes, found {nbytes}")
    old, _limit[0] = _limit[0], nbytes
    _gzip_size.cache_clear()
    return old


def check_not_pickle(head: bytes, path: str | os.PathLike) -> None:
    """Refuse a file whose first bytes show a pickle, a NumPy ``.npy`` or a ``.npz`` archive.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (at least 8).
    path : str or path-like
        The file, for the message.

    Raises
    ------
    FormatError
        If the file is a pickle or a NumPy file.

    Examples
    --------
    >>> check_not_pickle(b"SIMPLE  =                    T", "a.fits")
    >>> check_not_pickle(b"\\x93NUMPY\\x01\\x00", "lc.npy")
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: lc.npy: a NumPy .npy file ...
    """
    if head.startswith(_NPY_MAGIC) or (head.startswith(_ZIP_MAGIC) and str(path).lower().endswith(".npz")):
        raise FormatError(
            f"{path}: a NumPy .npy file (fermipy light curves are .npy files of pickled objects); fluxds "
            "never unpickles data read from a file, which could run any code. Write the light curve as "
            "FITS with fermipy (or gammapy) and read that, or build the Dataset with fluxds.from_sed"
        )
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        raise FormatError(
            f"{path}: a Python pickle (protocol {head[1]}); fluxds never unpickles data read from a file"
        )


@functools.lru_cache(maxsize=64)
def _gzip_size(path: str, mtime_ns: int, size: int, limit: int) -> int:
    """Decompressed size of a gzip file, streaming; stops (returning > limit) once the limit is passed."""
    total = 0
    with gzip.open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            if not chunk:
                return total
            total += len(chunk)
            if total > limit:
                return total


def check_gzip_size(path: str | os.PathLike) -> None:
    """Refuse a gzip file that decompresses to more than :func:`decompression_limit` bytes, or is damaged.

    The file is decompressed in 1 MiB chunks and counted (nothing is kept), so a gzip bomb costs at most
    the limit in decompression time and no memory. Files that are not gzip-compressed pass unchecked.

    Parameters
    ----------
    path : str or path-like

    Raises
    ------
    FormatError
        If the decompressed size exceeds the limit, or the gzip stream is damaged.

    Examples
    --------
    >>> import gzip, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "zeros.fits.gz"
    >>> _ = path.write_bytes(gzip.compress(bytes(4 * 1024**2)))
    >>> check_gzip_size(path)
    >>> old = set_decompression_limit(1024**2)
    >>> check_gzip_size(path)
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: ...zeros.fits.gz: decompresses to more than 1048576 bytes ...
    >>> _ = set_decompression_limit(old)
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return
        stat = path.stat()
        limit = decompression_limit()
        total = _gzip_size(str(path.resolve()), stat.st_mtime_ns, stat.st_size, limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: a damaged gzip file: {exc}") from None
    if total > limit:
        raise FormatError(
            f"{path}: decompresses to more than {limit} bytes (the limit for compressed inputs, from a "
            f"{stat.st_size}-byte file); raise it with fluxds.io.untrusted.set_decompression_limit() "
            "or FLUXDS_MAX_DECOMPRESSED_BYTES if the file is trusted"
        )


_ZARR_METADATA = (".zmetadata", ".zarray", "zarr.json")


def check_zarr_codecs(path: str | os.PathLike) -> None:
    """Refuse a zarr store whose metadata name the ``pickle`` codec (decoding it would unpickle).

    Parameters
    ----------
    path : str or path-like
        The store (a directory).

    Raises
    ------
    FormatError
        If a metadata file of the store names the pickle codec.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> store = pathlib.Path(tempfile.mkdtemp()) / "s.zarr"
    >>> (store / "norm").mkdir(parents=True)
    >>> _ = (store / "norm" / ".zarray").write_text(json.dumps({"filters": [{"id": "pickle"}]}))
    >>> try:
    ...     check_zarr_codecs(store)
    ... except FormatError as exc:
    ...     print(str(exc).split(": ")[1])
    names the 'pickle' codec; fluxds never unpickles data read from a file (a pickle can run any code)
    """
    root = Path(path)
    for meta in sorted(p for p in root.rglob("*") if p.name in _ZARR_METADATA and p.is_file()):
        try:
            text = meta.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise FormatError(f"{meta}: cannot read the zarr metadata: {exc}") from None
        if '"pickle"' in text.replace(" ", ""):
            raise FormatError(
                f"{meta}: names the 'pickle' codec; fluxds never unpickles data read from a file "
                "(a pickle can run any code)"
            )


_BLOCK = 2880
_BITPIX = {8, 16, 32, 64, -32, -64}


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


def check_fits_sizes(path: str | os.PathLike) -> None:
    """Refuse a FITS file whose headers declare more data than the file holds (before any reader
    allocates for it).

    Walks the HDUs header by header (no data is read): ``BITPIX`` must be a FITS value, ``NAXIS`` and
    ``TFIELDS`` in [0, 999], every ``NAXISn``, ``PCOUNT`` and ``GCOUNT`` >= 0, and each HDU's data size,
    ``|BITPIX|/8 * GCOUNT * (PCOUNT + NAXIS1 * ... * NAXISn)`` bytes, must fit in what is left of the
    file. A gzip-compressed file is walked through the decompressed stream (after
    :func:`check_gzip_size`).

    Parameters
    ----------
    path : str or path-like

    Raises
    ------
    FormatError
        Naming the file, the HDU, the keyword and the value found.

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
    ...     print(str(exc).split(": ", 1)[1])
    HDU 1 declares 8000000000000 bytes of data, but only 2880 bytes follow its header
    """
    path = Path(path)
    compressed = False
    with open(path, "rb") as raw:
        compressed = raw.read(2) == GZIP_MAGIC
    if compressed:
        check_gzip_size(path)
        stat = path.stat()
        total = _gzip_size(str(path.resolve()), stat.st_mtime_ns, stat.st_size, decompression_limit())
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
                _int_key(values, "TFIELDS", where, 0, 999, default=0)
                sizes = [_int_key(values, f"NAXIS{k}", where, 0, 2**62) for k in range(1, naxis + 1)]
                pcount = _int_key(values, "PCOUNT", where, 0, 2**62, default=0)
                gcount = _int_key(values, "GCOUNT", where, 0, 2**62, default=1)
                n = 1
                for size in sizes:
                    n *= size
                nbytes = abs(bitpix) // 8 * gcount * (pcount + n) if naxis else 0
                offset += length
                if nbytes > total - offset:
                    raise FormatError(
                        f"{path}: HDU {index} declares {nbytes} bytes of data, but only "
                        f"{max(total - offset, 0)} bytes follow its header"
                    )
                padded = -(-nbytes // _BLOCK) * _BLOCK
                handle.seek(offset + padded)
                offset += padded
                index += 1
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: cannot read the FITS headers: {exc}") from None


def _compound_problem(dtype, label: str) -> str | None:
    """What is wrong with the member layout of a compound ``dtype`` (overlap, overrun), or None."""
    if dtype.names is None:
        return None
    members = sorted((offset, sub.itemsize, name, sub) for name, (sub, offset, *_) in dtype.fields.items())
    end, previous = 0, None
    for offset, size, name, sub in members:
        if offset < end:
            return (
                f"{label}: member {name!r} at byte {offset} overlaps member {previous!r} "
                f"(which ends at byte {end})"
            )
        end, previous = offset + size, name
        inner = _compound_problem(sub.base, f"{label}.{name}")
        if inner:
            return inner
    if end > dtype.itemsize:
        return f"{label}: member {previous!r} ends at byte {end}, beyond the {dtype.itemsize}-byte record"
    return None


def check_hdf5_layout(h5file, where: str) -> None:
    """Refuse an HDF5 file whose datasets' declared layout cannot be right, before any data is read.

    Damaged type or layout messages make the HDF5 C library write out of bounds while converting data
    (the process aborts: "double free or corruption"), which no Python ``except`` can catch. Checked for
    every dataset of the open ``h5py.File``: compound members neither overlap nor run past the record;
    a contiguous dataset of fixed-size elements stores exactly ``size`` times its type's size in bytes,
    inside the file.

    Parameters
    ----------
    h5file : h5py.File
        Open for reading.
    where : str
        The file name, for messages.

    Raises
    ------
    FormatError
        Naming the file, the dataset (and member) and what is inconsistent.
    """
    import h5py

    file_size = os.path.getsize(h5file.filename)
    problems: list[str] = []

    def visit(name, obj):
        if problems or not isinstance(obj, h5py.Dataset):
            return
        label = f"{where}[{name}]"
        problem = _compound_problem(obj.dtype, label)
        contiguous = obj.id.get_create_plist().get_layout() == h5py.h5d.CONTIGUOUS
        if problem is None and contiguous and not obj.dtype.hasobject:  # variable-length data lives elsewhere
            stored = obj.id.get_storage_size()
            offset = obj.id.get_offset()
            expected = obj.size * obj.id.get_type().get_size()
            if stored and stored != expected:
                problem = f"{label}: stores {stored} bytes, but its shape and type need {expected}"
            elif stored and (offset is None or offset + stored > file_size):
                problem = f"{label}: its {stored} bytes at offset {offset} lie beyond the file's {file_size}"
        if problem:
            problems.append(problem)

    h5file.visititems(visit)
    if problems:
        raise FormatError(f"{problems[0]} (the file is damaged)")
