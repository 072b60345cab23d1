"""Writing a FITS file with its images streamed to disk in big-endian slabs.

``astropy.io.fits.HDUList.writeto`` writes a native (little-endian) image by swapping the whole array
in place, writing it and swapping it back: two passes over the data besides the write, and the caller's
array is big-endian in between (a read-only array is copied whole instead). :func:`write_fits` writes
the same bytes in one pass: for each image HDU, its header (astropy's text) and then its data converted
to big-endian one slab at a time into a small reusable buffer, padded to the 2880-byte block. Every
other HDU (the primary header, tables, scaled or compressed images) is written by astropy itself, in
order, to the same file. The result is byte-identical to ``HDUList.writeto`` (tested).
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np
from astropy.io import fits

__all__ = ["write_fits", "streamable", "write_big_endian", "AppendingFile", "SLAB_BYTES", "BLOCK"]

#: bytes converted to big-endian at a time (a buffer that stays in the CPU cache)
SLAB_BYTES = 1 << 20
#: the FITS block: headers and data are padded to a multiple of it
BLOCK = 2880
#: the image dtypes written without scaling keywords (unsigned 16/32/64-bit integers need BZERO)
_PLAIN_KINDS = {("f", 4), ("f", 8), ("i", 2), ("i", 4), ("i", 8), ("u", 1)}


def streamable(hdu) -> bool:
    """Whether :func:`write_fits` streams the data of ``hdu`` itself: a plain (uncompressed, unscaled)
    image HDU holding a numpy array of a FITS pixel type (``float32``/``float64``,
    ``int16``/``int32``/``int64``, ``uint8``)."""
    if not isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) or isinstance(hdu, fits.CompImageHDU):
        return False
    data = hdu.data
    if not isinstance(data, np.ndarray) or type(data) is not np.ndarray or data.ndim == 0:
        return False
    header = hdu.header
    if "BSCALE" in header or "BZERO" in header:
        return False
    return (data.dtype.kind, data.dtype.itemsize) in _PLAIN_KINDS


def write_big_endian(handle: BinaryIO, data: np.ndarray, *, slab_bytes: int = SLAB_BYTES) -> int:
    """Write ``data`` (any memory layout) to ``handle`` in C order, big-endian, padded with zero bytes to
    the FITS block; one buffer of ``slab_bytes`` is converted at a time. Returns the bytes written
    (padding included)."""
    big = data.dtype.newbyteorder(">")
    if data.size:
        per_slab = max(1, slab_bytes // big.itemsize)
        if data.flags.c_contiguous:
            flat = data.reshape(-1)
            buffer = np.empty(min(per_slab, flat.size), big)
            for start in range(0, flat.size, buffer.size):
                part = flat[start : start + buffer.size]
                out = buffer[: part.size]
                np.copyto(out, part)
                handle.write(out.data)
        else:  # a transposed view: numpy's buffered iterator walks it in C order, casting a buffer at a time
            flags = ["external_loop", "buffered", "zerosize_ok"]
            for chunk in np.nditer(data, flags, op_dtypes=[big], order="C", buffersize=per_slab):
                handle.write(np.ascontiguousarray(chunk).data)
    nbytes = data.size * big.itemsize
    pad = -nbytes % BLOCK
    if pad:
        handle.write(bytes(pad))
    return nbytes + pad


class AppendingFile:
    """A write-only view of an open binary file for astropy's writers: without ``seek``, astropy writes
    from the current position (given a real file object, it would seek to its start and refuse a
    non-empty file), so that HDUs astropy writes can follow what fluxds wrote itself.

    Parameters
    ----------
    handle : binary file object
        Open for writing, positioned where the next HDU goes.
    """

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    def write(self, data) -> int:
        """Write ``data`` at the current position; the number of bytes written."""
        return self._handle.write(data)

    def tell(self) -> int:
        """The current position (bytes)."""
        return self._handle.tell()

    def flush(self) -> None:
        """Flush the underlying file."""
        self._handle.flush()


def _write_by_astropy(hdu, handle: BinaryIO) -> None:
    """One HDU written by astropy at the current position of ``handle`` (verified with the whole list
    beforehand: a lone extension is not a valid file on its own, hence ``output_verify="ignore"``)."""
    fits.HDUList([hdu]).writeto(AppendingFile(handle), output_verify="ignore")


def write_fits(hdus: fits.HDUList, path: str | os.PathLike, *, slab_bytes: int = SLAB_BYTES) -> None:
    """Write ``hdus`` to a new file ``path``, as ``hdus.writeto(path)`` would, streaming the images.

    Parameters
    ----------
    hdus : astropy.io.fits.HDUList
        Verified as ``writeto`` verifies it (``output_verify="exception"``) and given ``EXTEND`` where
        it has extensions, before anything is written.
    path : str or path-like
        A file that does not exist yet (the temporary of :func:`fluxds.io.output.atomic.atomic_path`).
    slab_bytes : int
        Bytes of image data converted to big-endian at a time.

    Notes
    -----
    The images' arrays are only read: unlike ``writeto``, no array is swapped in place, so a read-only
    array (a memory map) costs no full copy either.
    """
    hdus.verify(option="exception")
    hdus.update_extend()
    with open(path, "xb") as handle:
        for hdu in hdus:
            if not streamable(hdu):
                _write_by_astropy(hdu, handle)
                continue
            hdu.update_header()  # BITPIX, NAXISn from the array, as writeto does
            handle.write(hdu.header.tostring(sep="", endcard=True, padding=True).encode("ascii"))
            write_big_endian(handle, hdu.data, slab_bytes=slab_bytes)
