"""A FITS file opened once for a whole read, and its images read in one pass.

:func:`open_fits_file` opens the file (its headers checked against its size first,
:func:`fluxds.io.guard.fits_sizes.check_fits_sizes`) and parses its headers with astropy, keeping the
open file: the format detection opens it this way, and :func:`fluxds.io.detect.take_fits` hands the
same :class:`OpenedFits` to the reader that follows, so that the file is opened and its headers parsed
once per read.

:func:`native_image` reads the data of a plain image HDU into a native-byte-order array in one pass:
the big-endian bytes are read a slab at a time into a small buffer (``os.preadv``: a file truncated
meanwhile is a short read, refused, never a crash) and converted into the result, so that no
big-endian copy of the image is ever held (astropy keeps the big-endian array it read in ``hdu.data``,
and a conversion to native order doubles the memory).
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from fluxds.errors import FormatError
from fluxds.io.guard.fits_sizes import check_fits_sizes

__all__ = ["OpenedFits", "open_fits_file", "native_image", "SLAB_BYTES"]

#: bytes of image data read and converted at a time (a buffer that stays in the CPU cache)
SLAB_BYTES = 1 << 20
_BITPIX_DTYPE = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


class OpenedFits:
    """An open FITS file: the astropy ``HDUList`` (headers parsed lazily, data not read) and the Python
    file it reads from. A context manager; :meth:`close` closes both."""

    def __init__(self, path: str, handle: BinaryIO, hdul) -> None:
        self.path = path
        self.handle = handle
        self.hdul = hdul
        st = os.fstat(handle.fileno())
        #: the file's identity (device, inode, size, modification time): the same file still?
        self.identity = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def is_file(self, path: str | os.PathLike) -> bool:
        """Whether ``path`` names this file still (same device, inode, size and modification time)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) == self.identity

    def close(self) -> None:
        try:
            self.hdul.close()
        finally:
            self.handle.close()

    def __enter__(self) -> OpenedFits:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_fits_file(path: str | os.PathLike) -> OpenedFits:
    """Open a FITS file: its headers checked against its size (:func:`check_fits_sizes`), then opened
    by astropy from an open Python file (``memmap=False``, HDUs loaded when first reached).

    Raises
    ------
    FormatError
        Naming the file: not FITS, or headers declaring more than the file holds.
    """
    from astropy.io import fits

    check_fits_sizes(path)  # no allocation because a header declares huge dimensions
    handle = open(path, "rb")  # noqa: SIM115 - kept open in the OpenedFits
    try:
        hdul = fits.open(handle, memmap=False, lazy_load_hdus=True)
        return OpenedFits(str(path), handle, hdul)
    except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        handle.close()
        raise FormatError(f"{path}: not a readable FITS file: {exc}") from None
    except BaseException:
        handle.close()
        raise


def _plain_layout(hdu) -> tuple[np.dtype, tuple[int, ...], int] | None:
    """``(file dtype, shape, data offset)`` of a plain image HDU of an uncompressed file, else None."""
    from astropy.io import fits

    if not hdu.is_image or isinstance(hdu, fits.CompImageHDU):
        return None
    header = hdu.header
    if "BSCALE" in header or "BZERO" in header:  # astropy scales the values: its reader does it
        return None
    if "BLANK" in header and isinstance(header.get("BITPIX"), int) and header["BITPIX"] > 0:
        return None  # astropy turns blank integer pixels into NaN (a float image): its reader does it
    info = hdu.fileinfo()
    if info is None or getattr(info["file"], "compression", None) is not None:
        return None
    dtype = _BITPIX_DTYPE.get(header.get("BITPIX"))
    naxis = int(header.get("NAXIS", 0))
    if dtype is None or naxis == 0:
        return None
    shape = tuple(int(header[f"NAXIS{k}"]) for k in range(naxis, 0, -1))
    return np.dtype(dtype), shape, int(info["datLoc"])


def _read_exactly(fd: int, view: memoryview, position: int, where: str) -> None:
    """Fill ``view`` from the file at ``position`` (short reads continued); the end of the file first is
    a :class:`FormatError`."""
    got = 0
    while got < len(view):
        more = os.preadv(fd, [view[got:]], position + got)
        if not more:
            raise FormatError(
                f"{where}: the file ends at byte {position + got}, inside the image data: it changed since "
                "its headers were checked"
            )
        got += more


def native_image(hdu, handle: BinaryIO, *, where: str, slab_bytes: int = SLAB_BYTES) -> np.ndarray | None:
    """The data of a plain image HDU as a native-byte-order array, read from ``handle`` in one pass.

    Parameters
    ----------
    hdu : astropy.io.fits image HDU
        An HDU of the file open in ``handle`` (its header gives the pixel type, shape and offset).
    handle : binary file
        The open file (only its descriptor is used: ``os.preadv`` at the data's offset, the file
        position is left alone).
    where : str
        The file and HDU, for messages.
    slab_bytes : int
        Bytes read and converted at a time.

    Returns
    -------
    numpy.ndarray or None
        A new array in native byte order, equal to ``hdu.data``; None when the HDU is not a plain image
        of an uncompressed file (tile-compressed, scaled by ``BSCALE``/``BZERO``, in a gzip file): read
        it through astropy then.

    Raises
    ------
    FormatError
        The file ends before the image does (it changed since its headers were checked).
    """
    layout = _plain_layout(hdu)
    if layout is None:
        return None
    dtype, shape, offset = layout
    out = np.empty(shape, dtype.newbyteorder("="))
    flat = out.reshape(-1)
    if flat.size == 0:
        return out
    buffer = np.empty(min(max(1, slab_bytes // dtype.itemsize), flat.size), dtype)
    view = memoryview(buffer).cast("B")
    fd = handle.fileno()
    for start in range(0, flat.size, buffer.size):
        count = min(buffer.size, flat.size - start)
        nbytes = count * dtype.itemsize
        position = offset + start * dtype.itemsize
        _read_exactly(fd, view[:nbytes], position, where)
        flat[start : start + count] = buffer[:count]
    return out
