"""zarr stores (an optional extra: ``pip install fluxds[zarr]``), in the same reversible CF encoding as
netCDF (:mod:`fluxds.io.cf`), with consolidated metadata."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from fluxds.errors import FormatError
from fluxds.io.atomic import atomic_path
from fluxds.io.cf import decode, encode
from fluxds.io.storage import merge_encoding, zarr_storage
from fluxds.validate import validate

__all__ = ["read_zarr", "write_zarr", "is_zarr_store"]

_MARKERS = (".zmetadata", ".zgroup", "zarr.json")


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
    """Write ``ds`` to a zarr store (a directory), atomically: the store is built in a temporary
    directory beside ``path`` and swapped into place (:func:`fluxds.io.atomic.atomic_path`); an existing
    store is replaced only with ``overwrite=True`` (and only once the new one is complete).

    Data variables of 65536 values or more are compressed with blosc lz4 + shuffle, numpy-backed maps
    chunked 256 x 256 pixels (see :mod:`fluxds.io.storage`); ``encoding`` (per variable, as xarray's
    ``to_zarr``) is merged key by key over these defaults."""
    target = Path(path)
    _require_zarr(str(target))
    encoded = encode(ds)
    chosen = merge_encoding(zarr_storage(encoded), encoding)
    # atomic_path swaps a complete new store in with one rename (an exchange when one exists), so a
    # kill at any moment leaves the old store or the new one under the name, never neither
    with atomic_path(target, overwrite=overwrite) as tmp:
        encoded.to_zarr(tmp, mode="w", consolidated=True, encoding=chosen)


def read_zarr(path: str | os.PathLike, *, chunks=None) -> xr.Dataset:
    """Read a zarr store written by fluxds (or any zarr store holding a valid fluxds Dataset); with
    ``chunks`` the variables stay dask-backed (nothing is read until computed)."""
    where = str(path)
    _require_zarr(where)
    if not is_zarr_store(path):
        raise FormatError(f"{where}: not a zarr store (no {' / '.join(_MARKERS)})")
    try:
        opened = xr.open_zarr(path, consolidated=True, chunks=chunks if chunks is not None else {})
    except Exception as exc:  # zarr and xarray raise many kinds for a damaged store
        raise FormatError(f"{where}: not a readable zarr store: {exc}") from None
    ds = decode(opened if chunks is not None else opened.load())
    return validate(ds, where=where)
