"""Process-wide locks for libraries that are not thread-safe.

The netCDF-C library (behind the ``netcdf4`` engine) and HDF5 must not be entered from two threads at once;
fluxds's threaded batch work (``fluxds.batch``, ``fluxds.concat_files``) holds :data:`NETCDF_LOCK` around
every netCDF/HDF5 read and write it makes. Reading FITS inputs, the expensive part, runs in parallel.
"""

from __future__ import annotations

import contextlib
import os
import threading

__all__ = ["NETCDF_LOCK", "lock_for"]

NETCDF_LOCK = threading.RLock()
_LOCKED_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5")
# HDF5 (netCDF-4, h5netcdf, GADF HDF5 tables) and netCDF classic/64-bit/CDF5 signatures
_LOCKED_MAGIC = (b"\x89HDF\r\n\x1a\n", b"CDF\x01", b"CDF\x02", b"CDF\x05")


def lock_for(path: str | os.PathLike) -> contextlib.AbstractContextManager:
    """:data:`NETCDF_LOCK` for a file read or written through netCDF-C/HDF5 (by its first bytes or, for a
    file not there yet, its name), else a no-op context. Reads at most 8 bytes: the format checks of
    :func:`fluxds.io.detect_format` run once, in the read itself."""
    if os.path.isfile(path):
        try:
            with open(path, "rb") as handle:
                locked = handle.read(8).startswith(_LOCKED_MAGIC)
        except OSError:
            locked = False
    else:
        locked = str(path).lower().endswith(_LOCKED_SUFFIXES)
    return NETCDF_LOCK if locked else contextlib.nullcontext()
