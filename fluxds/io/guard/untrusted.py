"""Reading untrusted files safely: no unpickling, bounded decompression.

fluxds never unpickles, evaluates or ``yaml.load``-s data read from a file (YAML goes through
``yaml.safe_load`` or astropy's safe loader). Three kinds of input need a guard before any reader sees them:

- pickles, including NumPy ``.npy`` files (fermipy writes its light curves as ``.npy`` files of pickled
  objects): refused with a :class:`~fluxds.errors.FormatError`, never opened with ``np.load``;
- zarr stores whose metadata name the ``pickle`` codec (zarr 2 decodes object arrays with it): refused
  before zarr opens them;
- gzip-compressed files (``.fits.gz``): the decompressed size is counted, streaming, before any reader
  decompresses them, and a file inflating beyond :func:`decompression_limit` bytes (a "gzip bomb") is
  refused.

FITS headers and HDUs are checked against the file and the read budget in :mod:`fluxds.io.guard.fits_sizes`
(which also holds tile-compressed images to :func:`decompression_limit`), the dataset layouts of HDF5
files in :mod:`fluxds.io.guard.hdf5_layout`.

**The decompression limit is the read budget** (:mod:`fluxds.io.guard.budget`) unless set apart: by
:func:`set_decompression_limit`, or the ``FLUXDS_MAX_DECOMPRESSED_BYTES`` environment variable (bytes or a
size such as ``512MiB``), which is read at each check. One budget bounds both what a read materialises and
what a compressed input may inflate to; the separate limit remains for those who want compressed inputs
bounded more tightly (or, for a ``.gz`` that is streamed and never held whole, more loosely).
"""

from __future__ import annotations

import functools
import gzip
import os
import zlib
from pathlib import Path

from fluxds.errors import FormatError
from fluxds.io.guard.budget import BudgetError, parse_size, read_budget

__all__ = [
    "DECOMPRESSION_VARIABLE",
    "decompression_limit",
    "set_decompression_limit",
    "check_not_pickle",
    "check_gzip_size",
    "gzip_decompressed_size",
    "check_zarr_codecs",
    "GZIP_MAGIC",
    "RAISE_LIMIT_HINT",
]

GZIP_MAGIC = b"\x1f\x8b"
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"  # .npz archives hold .npy members
#: the environment variable that sets the decompression limit apart from the read budget
DECOMPRESSION_VARIABLE = "FLUXDS_MAX_DECOMPRESSED_BYTES"
_limit: list[int | None] = [None]  # set_decompression_limit(); None: the environment, else the budget
_CHUNK = 1 << 20


def decompression_limit() -> int:
    """The largest decompressed size (bytes) fluxds accepts from a compressed input.

    In order: :func:`set_decompression_limit`, the ``FLUXDS_MAX_DECOMPRESSED_BYTES`` environment variable
    (bytes or a size such as ``1MiB``), else the read budget (:func:`fluxds.io.guard.budget.read_budget`).

    Raises
    ------
    FormatError
        If the environment variable is not a size.

    Examples
    --------
    >>> decompression_limit() > 0
    True
    """
    if _limit[0] is not None:
        return _limit[0]
    text = os.environ.get(DECOMPRESSION_VARIABLE)
    if text:
        try:
            return parse_size(text, DECOMPRESSION_VARIABLE)
        except ValueError as exc:
            raise FormatError(f"{exc} (the environment variable {DECOMPRESSION_VARIABLE})") from None
    return read_budget()


def set_decompression_limit(nbytes: int | str | None) -> int | None:
    """Set the largest decompressed size accepted from a compressed input; return the old setting.

    Parameters
    ----------
    nbytes : int, str or None
        The new limit: bytes (> 0) or a size such as ``"512MiB"``; ``None`` goes back to the environment
        variable, else the read budget.

    Returns
    -------
    int or None
        The previous setting (``None``: not set, the environment variable or the budget applied).

    Examples
    --------
    >>> old = set_decompression_limit(10 * 1024**2)
    >>> decompression_limit()
    10485760
    >>> _ = set_decompression_limit(old)
    """
    if isinstance(nbytes, (int, float)) and not isinstance(nbytes, bool) and not nbytes > 0:
        raise ValueError(f"the decompression limit must be > 0 bytes, found {nbytes}")
    new = None if nbytes is None else parse_size(nbytes, "the decompression limit")
    old, _limit[0] = _limit[0], new
    gzip_decompressed_size.cache_clear()
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
def gzip_decompressed_size(path: str, mtime_ns: int, size: int, limit: int) -> int:
    """Decompressed size of a gzip file, streaming; stops (returning > limit) once the limit is passed.

    Cached: ``mtime_ns`` and ``size`` (the file's ``st_mtime_ns`` and ``st_size``) make a changed file
    count again. A damaged stream raises what :mod:`gzip` raises (:func:`check_gzip_size` turns that
    into a :class:`~fluxds.errors.FormatError`).

    Parameters
    ----------
    path : str
        The file, resolved.
    mtime_ns, size : int
        The file's modification time (ns) and size (bytes), from :func:`os.stat`.
    limit : int
        Counting stops once the count passes it.

    Returns
    -------
    int
        Bytes the file decompresses to, or a count beyond ``limit``.
    """
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
    fluxds.errors.BudgetError: ...zeros.fits.gz: decompresses to more than 1048576 bytes ...
    >>> _ = set_decompression_limit(old)
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return
        stat = path.stat()
        limit = decompression_limit()
        total = gzip_decompressed_size(str(path.resolve()), stat.st_mtime_ns, stat.st_size, limit)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: a damaged gzip file: {exc}") from None
    if total > limit:
        raise BudgetError(
            f"{path}: decompresses to more than {limit} bytes (the limit for compressed inputs, from a "
            f"{stat.st_size}-byte file); {RAISE_LIMIT_HINT}"
        )


#: how to raise the decompression limit: the end of the message refusing an input beyond it
RAISE_LIMIT_HINT = (
    "if you trust the file, raise the limit (by default the read budget) with fluxds.read(..., "
    "max_bytes=...), fluxds.io.guard.untrusted.set_decompression_limit(...) or the environment variable "
    f"{DECOMPRESSION_VARIABLE}"
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
        If a metadata file of the store names the pickle codec, or the store holds a link or a special
        file (:func:`fluxds.io.guard.zarr_safe.walk_store`: metadata are read only from regular files
        inside the store, within the read budget).

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
    from fluxds.io.guard.zarr_safe import read_entry, walk_store  # links and special files refused, bounded

    root = Path(path)
    for key in sorted(k for k in walk_store(root) if k.rpartition("/")[2] in _ZARR_METADATA):
        meta = root / key
        text = (read_entry(root, key) or b"").decode("utf-8", errors="replace")
        if '"pickle"' in text.replace(" ", ""):
            raise FormatError(
                f"{meta}: names the 'pickle' codec; fluxds never unpickles data read from a file "
                "(a pickle can run any code)"
            )
