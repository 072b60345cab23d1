"""Compression and chunking of the variables fluxds writes to netCDF and zarr, chosen by measurement
(``benchmarks/compression.py``; the table is in ``docs/performance.md``).

The rule:

- data variables of at least :data:`MIN_COMPRESSED` values are compressed: netCDF **zlib level 1 with the
  shuffle filter** (levels 4 and 9 saved < 2 % more of a 1000 x 1000 x 10 flux map at 1.5-8x the write
  time; shuffle made files smaller *and* writes faster); zarr **blosc lz4 with byte shuffle** (as small
  as zarr's default zstd, 2-4x faster to write). Smaller variables, coordinates and text are stored
  plain: compressing a few kB saves nothing and costs a chunk index;
- map variables (dims ``iy``/``ix``, ``lat``/``lon`` or HEALPix ``pixel``) are chunked by
  :data:`SPATIAL_CHUNK` x :data:`SPATIAL_CHUNK` pixels (HEALPix: its square) with every other dimension
  (energy, scan ...) whole: a 100 x 100 cutout reads one to four chunks, a full read streams;
- a dask-backed variable keeps its dask chunks as the file's chunks (each task then writes whole chunks,
  and zarr requires it), so an out-of-core write never re-compresses a chunk.

Any of it can be overridden per variable with the ``encoding=`` argument of the writers.
"""

from __future__ import annotations

import xarray as xr

__all__ = ["MIN_COMPRESSED", "SPATIAL_CHUNK", "netcdf_storage", "zarr_storage", "merge_encoding"]

MIN_COMPRESSED = 65536  # values (512 kB of float64)
SPATIAL_CHUNK = 256
_SPATIAL = ("iy", "ix", "lat", "lon", "sky_lat", "sky_lon")
_PIXEL = "pixel"


def _chunks(var: xr.Variable) -> tuple[int, ...] | None:
    """File chunks of a variable: its dask chunks, or the map rule, or None (library default)."""
    if var.chunks is not None:
        return tuple(max(c) for c in var.chunks)
    if not any(d in _SPATIAL or d == _PIXEL for d in var.dims):
        return None
    out = []
    for dim, size in zip(var.dims, var.shape, strict=True):
        if dim in _SPATIAL:
            out.append(min(size, SPATIAL_CHUNK))
        elif dim == _PIXEL:
            out.append(min(size, SPATIAL_CHUNK**2))
        else:
            out.append(max(size, 1))
    return tuple(out)


def _compressed(ds: xr.Dataset, name) -> bool:
    var = ds.variables[name]
    return name not in ds.coords and var.dtype.kind in "fiub" and var.size >= MIN_COMPRESSED and var.ndim > 0


def netcdf_storage(ds: xr.Dataset) -> dict[str, dict]:
    """netCDF-4 encoding entries (``zlib``, ``complevel``, ``shuffle``, ``chunksizes``) by variable.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"flux": (("energy", "iy", "ix"), np.zeros((10, 1000, 1000), "f4"))})
    >>> netcdf_storage(ds)["flux"]
    {'zlib': True, 'complevel': 1, 'shuffle': True, 'chunksizes': (10, 256, 256)}
    """
    out = {}
    for name in ds.variables:
        if not _compressed(ds, name):
            continue
        entry = {"zlib": True, "complevel": 1, "shuffle": True}
        chunks = _chunks(ds.variables[name])
        if chunks is not None:
            entry["chunksizes"] = chunks
        out[str(name)] = entry
    return out


def _blosc_lz4():
    try:
        from zarr.codecs import BloscCodec
    except ImportError:  # zarr 2
        from numcodecs import Blosc

        return "compressor", Blosc(cname="lz4", clevel=5, shuffle=Blosc.SHUFFLE)
    return "compressors", (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),)


def zarr_storage(ds: xr.Dataset) -> dict[str, dict]:
    """zarr encoding entries (blosc lz4 + shuffle; map chunks for numpy-backed maps) by variable.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"flux": (("energy", "iy", "ix"), np.zeros((10, 1000, 1000), "f4"))})
    >>> zarr_storage(ds)["flux"]["chunks"]
    (10, 256, 256)
    """
    out = {}
    for name in ds.variables:
        if not _compressed(ds, name):
            continue
        key, codec = _blosc_lz4()
        entry: dict = {key: codec}
        var = ds.variables[name]
        chunks = _chunks(var)
        if chunks is not None and var.chunks is None:  # dask-backed: xarray takes the dask chunks
            entry["chunks"] = chunks
        out[str(name)] = entry
    return out


def merge_encoding(*encodings: dict | None) -> dict[str, dict]:
    """Per-variable encodings merged left to right (later entries win, key by key).

    Examples
    --------
    >>> merge_encoding({"a": {"zlib": True, "complevel": 1}}, {"a": {"complevel": 9}, "b": {"zlib": False}})
    {'a': {'zlib': True, 'complevel': 9}, 'b': {'zlib': False}}
    """
    out: dict[str, dict] = {}
    for enc in encodings:
        for name, entry in (enc or {}).items():
            out[str(name)] = {**out.get(str(name), {}), **dict(entry)}
    return out
