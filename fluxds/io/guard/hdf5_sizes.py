"""What reading an HDF5 dataset materialises, from its metadata alone (nothing is read or decompressed).

Used by the HDF5 table reader and the netCDF-4 reader (a netCDF-4 file is an HDF5 file) to check a read
against the read budget (:mod:`fluxds.io.guard.budget`) before the HDF5 C library allocates anything:

- the array itself: its declared shape times its item size (Python integers: no overflow, whatever the
  file declares), :func:`dataset_nbytes`;
- the transient of a chunked dataset (:func:`chunk_bytes`): HDF5 decompresses one chunk at a time into a
  buffer of the chunk's declared size, but its deflate filter (and h5py's LZF filter) *grows* that buffer
  while a chunk's stream keeps inflating: a chunk declaring 8 KiB whose 400 kB zlib stream inflates to
  400 MiB made HDF5 allocate 400 MiB and then return the array as if nothing had happened. A stream
  inflates at most :data:`INFLATION_RATIO` times its stored size (zlib's limit), so the transient is
  bounded by that ratio times the largest stored chunk. Filters that keep the size (shuffle, Fletcher-32,
  szip, n-bit, scale-offset) count as the declared chunk; a plugin filter (zstd, blosc, bzip2 ...) is
  counted like zlib, which is its documented limit here: such a filter could expand further.
"""

from __future__ import annotations

import h5py

__all__ = ["INFLATION_RATIO", "dataset_nbytes", "chunk_bytes"]

#: the largest expansion of a zlib (deflate) stream: 1032 output bytes per input byte
INFLATION_RATIO = 1032
_SIZE_KEEPING = {
    h5py.h5z.FILTER_SHUFFLE,
    h5py.h5z.FILTER_FLETCHER32,
    h5py.h5z.FILTER_SZIP,
    h5py.h5z.FILTER_NBIT,
    h5py.h5z.FILTER_SCALEOFFSET,
}


def _product(values) -> int:
    n = 1
    for value in values:
        n *= int(value)
    return n


def dataset_nbytes(dataset: h5py.Dataset) -> int:
    """Bytes the whole dataset takes in memory once read: declared shape x item size.

    Parameters
    ----------
    dataset : h5py.Dataset

    Returns
    -------
    int
        Bytes (a Python integer, exact for any declared shape).

    Examples
    --------
    >>> import tempfile
    >>> with h5py.File(tempfile.mkdtemp() + "/a.h5", "w") as f:
    ...     dataset_nbytes(f.create_dataset("x", shape=(10**12,), dtype="f8", chunks=(1000,)))
    8000000000000
    """
    return _product(dataset.shape) * dataset.dtype.itemsize


def chunk_bytes(dataset: h5py.Dataset, limit: int) -> int:
    """The most bytes HDF5 may allocate to decompress one chunk of ``dataset`` (0 if not chunked).

    The declared chunk (chunk shape x item size); for a filter that can inflate (deflate, LZF, plugins),
    at least :data:`INFLATION_RATIO` times the largest stored chunk, and for LZF its declared buffer
    size. The largest stored chunk is bounded by the dataset's stored size first; the chunks are
    listed one by one only when that bound exceeds ``limit``.

    Parameters
    ----------
    dataset : h5py.Dataset
    limit : int
        Bytes beyond which the bound must be exact rather than quick (the read budget).

    Returns
    -------
    int
        Bytes.
    """
    if dataset.chunks is None:
        return 0
    declared = _product(dataset.chunks) * dataset.dtype.itemsize
    plist = dataset.id.get_create_plist()
    inflating, lzf_buffer = False, 0
    for index in range(plist.get_nfilters()):
        code, _flags, values, _name = plist.get_filter(index)
        if code == h5py.h5z.FILTER_LZF and len(values) >= 3:
            lzf_buffer = int(values[2])  # h5py's LZF filter allocates this much up front
        inflating = inflating or code not in _SIZE_KEEPING
    if not inflating:
        return declared
    stored = int(dataset.id.get_storage_size())
    if INFLATION_RATIO * stored > limit:
        stored = _largest_stored_chunk(dataset)
    return max(declared, lzf_buffer, INFLATION_RATIO * stored)


def _largest_stored_chunk(dataset: h5py.Dataset) -> int:
    """The stored size of the largest chunk (bytes), from the chunk index (no chunk is read)."""
    sizes = [0]
    try:
        dataset.id.chunk_iter(lambda info: sizes.append(info.size))
    except (AttributeError, NotImplementedError):  # HDF5 without H5Dchunk_iter
        dsid = dataset.id
        sizes.extend(dsid.get_chunk_info(i).size for i in range(dsid.get_num_chunks()))
    return max(sizes)
