"""zarr stores (an optional extra: ``pip install fluxds[zarr]``), in the same reversible CF encoding as
netCDF (:mod:`fluxds.io.cf.encoding`), with consolidated metadata."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import xarray as xr

from fluxds import schema
from fluxds.errors import FluxdsError, FormatError
from fluxds.io.cf.encoding import bounds_names, decode, encode, split_model_variables
from fluxds.io.cf.storage import merge_encoding, zarr_storage
from fluxds.io.guard.budget import BudgetError, check_allocation
from fluxds.io.guard.untrusted import check_zarr_codecs, decompression_limit
from fluxds.io.guard.zarr_safe import SafeLocalStore, walk_store
from fluxds.io.output.atomic import atomic_path
from fluxds.validate import validate

__all__ = ["read_zarr", "write_zarr", "is_zarr_store"]

_MARKERS = (".zmetadata", ".zgroup", "zarr.json")
#: the most chunks fluxds reads from one array of a zarr store (declared, or dask chunks asked for)
MAX_CHUNKS = 1_000_000


def is_zarr_store(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a directory holding a zarr store."""
    path = Path(path)
    return path.is_dir() and any((path / marker).exists() for marker in _MARKERS)


def _require_zarr(what: str) -> None:
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise FormatError(f"{what}: zarr is not installed; pip install 'fluxds[zarr]'") from None


def write_zarr(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    encoding: dict[str, dict] | None = None,
) -> None:
    """Write ``ds`` to a zarr store (a directory), atomically: the store is built in a temporary directory
    beside ``path`` and swapped into place (:func:`fluxds.io.output.atomic.atomic_path`); an existing store is
    replaced only with ``overwrite=True`` (and only once the new one is complete); anything but a zarr store
    under the name (a folder of other files, a file, a symbolic link) is never replaced
    (:class:`~fluxds.errors.OverwriteError`).

    Data variables of 65536 values or more are compressed with blosc lz4 + shuffle, numpy-backed maps
    chunked 256 x 256 pixels (see :mod:`fluxds.io.cf.storage`); ``encoding`` (per variable, as xarray's
    ``to_zarr``) is merged key by key over these defaults."""
    target = Path(path)
    _require_zarr(str(target))
    encoded = encode(ds)
    chosen = merge_encoding(zarr_storage(encoded), encoding)
    # atomic_path swaps a complete new store in with one rename (an exchange when one exists), so a
    # kill at any moment leaves the old store or the new one under the name, never neither
    # directory=True: a file under the name is refused before anything is written; an existing directory
    # is replaced only if it is a zarr store (never a folder of other files: fluxds.io.output.replaceable)
    with atomic_path(target, overwrite=overwrite, directory=True) as tmp:
        encoded.to_zarr(tmp, mode="w", consolidated=True, encoding=chosen)


def _needed(name: str) -> bool:
    """Whether a data variable of a store is one a fluxds Dataset holds (the schema's quantities, GTIs,
    TS-cube fit results, the CF bounds of the binned axes); coordinates are decided in :func:`_plan`."""
    from fluxds.io.gti import GTI_VARS
    from fluxds.io.vocabulary import TS_IMAGE

    return (
        name in schema.QUANTITY_NAMES
        or name in GTI_VARS
        or name in (TS_IMAGE, "bin_status", *bounds_names())
        or name.startswith("fit_")
    )


def _product(values) -> int:
    n = 1
    for value in values:
        n *= int(value)
    return n


#: codecs (zarr 3 names; zarr 2 ``codec_id``) whose chunks :class:`SafeLocalStore` bounds, by check kind
_BOUNDED = {
    "blosc": "blosc",
    "numcodecs.blosc": "blosc",
    "zstd": "zstd",
    "numcodecs.zstd": "zstd",
    "gzip": "gzip",
    "numcodecs.gzip": "gzip",
    "zlib": "zlib",
    "numcodecs.zlib": "zlib",
    "bz2": "bz2",
    "numcodecs.bz2": "bz2",
    "lzma": "lzma",
    "numcodecs.lzma": "lzma",
    "lz4": "lz4",
    "numcodecs.lz4": "lz4",
}
_SIZE_KEEPING = ("transpose",)  # zarr 3 array->array codecs that keep the chunk's size
_TO_BYTES = ("bytes", "vlen-utf8", "vlen-bytes")  # zarr 3 array->bytes codecs fluxds reads
_V2_FILTERS = ("vlen-utf8", "vlen-bytes")  # zarr 2 filters of text arrays


def _codec_name(codec) -> str:
    try:
        return str(codec.to_dict()["name"])
    except Exception:  # a codec without a zarr 3 description: its class
        return getattr(codec, "codec_id", None) or type(codec).__name__


def _compressor(metadata, where: str, name: str) -> str:
    """How :class:`SafeLocalStore` bounds a chunk of the array: the kind of its one compressor (``"blosc"``,
    ``"zstd"``, ``"gzip"``, ``"zlib"``, ``"bz2"``, ``"lzma"``, ``"lz4"``), or ``""`` when the chunk is
    stored uncompressed (its file size is its size).

    Raises
    ------
    FormatError
        For a codec chain that could inflate a chunk unchecked: more than one compressor, a codec or
        filter fluxds does not bound, sharding (read by byte ranges).
    """
    if hasattr(metadata, "codecs"):  # zarr 3: array->array codecs, one array->bytes, bytes->bytes codecs
        chain = [_codec_name(codec) for codec in metadata.codecs]
        to_bytes = [i for i, n in enumerate(chain) if n in _TO_BYTES]
        ok = len(to_bytes) == 1 and all(n in _SIZE_KEEPING for n in chain[: to_bytes[0]])
        after = chain[to_bytes[0] + 1 :] if to_bytes else chain
    else:  # zarr 2: filters (text arrays only), then one compressor
        filters = [_codec_name(f) for f in getattr(metadata, "filters", None) or ()]
        compressor = getattr(metadata, "compressor", None)
        after = [_codec_name(compressor)] if compressor is not None else []
        chain = [*filters, *after]
        ok = len(filters) <= 1 and all(f in _V2_FILTERS for f in filters)
    if ok and len(after) <= 1 and all(n in _BOUNDED for n in after):
        return _BOUNDED[after[0]] if after else ""
    raise FormatError(
        f"{where}: variable {name!r} is stored with the codecs {chain}, which fluxds does not read (it could "
        "inflate a chunk beyond the read budget unchecked); fluxds reads zarr arrays with at most one "
        f"compressor among {sorted(set(_BOUNDED.values()))}, no sharding and no filters (zarr 2: "
        "vlen-utf8/vlen-bytes only, for text)"
    )


def _plan(store: SafeLocalStore, where: str, *, lazy: bool) -> list[str]:
    """Check the declared sizes of the variables a read needs against the read budget, register their
    chunk sizes with ``store`` and return the arrays not to read (those with a dimension of their own,
    :func:`fluxds.io.cf.encoding.split_model_variables`)."""
    import zarr

    try:
        group = zarr.open_group(store=store, mode="r")
        arrays = dict(group.arrays())
    except FluxdsError:
        raise
    except Exception as exc:  # zarr raises many kinds for damaged metadata
        raise FormatError(f"{where}: not a readable zarr store: {exc}") from None
    dims_of: dict[str, tuple[str, ...]] = {}
    for name, array in arrays.items():
        meta = array.metadata
        dims = getattr(meta, "dimension_names", None) or array.attrs.get("_ARRAY_DIMENSIONS") or ()
        dims_of[name] = tuple(str(d) for d in dims)
    all_dims = {d for dims in dims_of.values() for d in dims}
    belong, _other = split_model_variables(dims_of)
    needed = [n for n in arrays if n in belong or _needed(n)]
    total = 0
    for name in needed:
        array = arrays[name]
        dtype = array.dtype
        itemsize = max(dtype.itemsize, 64) if dtype.kind in "OTU" and dtype.itemsize < 64 else dtype.itemsize
        shape, chunk_shape = tuple(array.shape), tuple(array.shards or array.chunks)
        described = f"declared shape {shape} of {dtype}"
        nbytes = _product(shape) * itemsize
        chunk_bytes = _product(chunk_shape) * itemsize
        n_chunks = _product(-(-s // max(c, 1)) for s, c in zip(shape, chunk_shape, strict=True))
        if n_chunks > MAX_CHUNKS:
            raise BudgetError(
                f"{where}: variable {name!r}: {described} in chunks of {chunk_shape} is {n_chunks} chunks, "
                f"more than the {MAX_CHUNKS} fluxds reads from one array"
            )
        # xarray loads dimension coordinates at open; fluxds.io.cf.encoding.decode loads the CF bounds
        index = (name in all_dims and dims_of[name] == (name,)) or name in bounds_names()
        if lazy and not index:
            what = f"one chunk {chunk_shape} of {dtype}"
            check_allocation(chunk_bytes, path=where, variable=name, what=what)
        else:
            check_allocation(nbytes, path=where, variable=name, what=described)
            total += nbytes
        codec = _compressor(array.metadata, where, name)
        if codec and dtype.kind in "OT":  # text of any length: its chunks inflate to at most the limit
            store.limit(name, decompression_limit(), codec)
        elif codec:
            store.limit(name, _product(array.chunks) * dtype.itemsize, codec)
    names = ", ".join(needed[:5]) + (f" and {len(needed) - 5} more" if len(needed) > 5 else "")
    check_allocation(total, path=where, variable=names, what="the variables read together")
    return [n for n in arrays if n not in needed]


def _check_dask_chunks(ds: xr.Dataset, where: str) -> None:
    """Refuse dask chunks (as ``chunks=`` asked for) that one computation would allocate beyond the
    budget, or so many that the task graph itself is the problem."""
    for name, var in ds.variables.items():
        chunks = getattr(var.data, "chunks", None)
        if chunks is None or not hasattr(var.data, "dask"):
            continue
        largest = _product(max(c) if c else 0 for c in chunks) * var.dtype.itemsize
        check_allocation(largest, path=where, variable=str(name), what=f"one dask chunk of {var.dtype}")
        if _product(len(c) for c in chunks) > MAX_CHUNKS:
            raise BudgetError(f"{where}: variable {name!r}: more than {MAX_CHUNKS} dask chunks")


def read_zarr(path: str | os.PathLike, *, chunks=None) -> xr.Dataset:
    """Read a zarr store written by fluxds (or any zarr store holding a valid fluxds Dataset); with
    ``chunks`` the variables stay dask-backed (nothing is read until computed).

    The store comes from elsewhere, so (see :mod:`fluxds.io.guard.zarr_safe`): every entry must be a regular
    file or folder inside it (links, FIFOs, sockets and devices are refused before zarr opens it, and
    each file is opened without following links and checked as it is read); the declared size of every
    variable read is checked against the read budget (:mod:`fluxds.io.guard.budget`) before anything is
    allocated (with ``chunks``: the size of one chunk, and the dimension coordinates in full, which
    xarray loads at open, and the energy bounds); chunks stating or inflating to more than their chunk
    shape holds are refused, and arrays whose codecs fluxds cannot bound so (more than one compressor, a
    compressor but blosc, zstd, gzip, zlib, bz2, lzma and lz4, sharding, filters) are not read;
    arrays with a dimension of their own (an extra ``junk(junk)``,
    :func:`fluxds.io.cf.encoding.split_model_variables`)
    are not read at all (a :class:`UserWarning` names them); a user's extra variable on the Dataset's
    dimensions is read like any other.

    Raises
    ------
    FormatError
        Naming the store and the entry or variable; :class:`~fluxds.errors.BudgetError` for a size
        beyond the budget.
    """
    where = str(path)
    _require_zarr(where)
    if not is_zarr_store(path):
        raise FormatError(f"{where}: not a zarr store (no {' / '.join(_MARKERS)})")
    walk_store(path)  # no link or special file anywhere in it, before zarr sees the store
    check_zarr_codecs(path)
    store = SafeLocalStore(path)
    unread = _plan(store, where, lazy=chunks is not None)
    if unread:
        warnings.warn(
            f"{where}: not reading {', '.join(repr(n) for n in unread)}: variables with a dimension of "
            "their own, not part of a fluxds Dataset",
            UserWarning,
            stacklevel=3,
        )
    try:
        opened = xr.open_zarr(
            store, consolidated=True, chunks=chunks if chunks is not None else {}, drop_variables=unread
        )
        if chunks is not None:
            _check_dask_chunks(opened, where)
        ds = decode(opened if chunks is not None else opened.load(), where=where)
    except FluxdsError:
        raise
    except Exception as exc:  # zarr and xarray raise many kinds for a damaged store
        raise FormatError(f"{where}: not a readable zarr store: {exc}") from None
    return validate(ds, where=where)
