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
_LOCKED_FORMATS = ("netcdf", "hdf5")
_LOCKED_SUFFIXES = (".nc", ".nc4", ".h5", ".hdf5")


def lock_for(path: str | os.PathLike) -> contextlib.AbstractContextManager:
    """:data:`NETCDF_LOCK` for a file read or written through netCDF-C/HDF5 (by its content or, for a file
    not there yet, its name), else a no-op context."""
    from fluxds.errors import FluxdsError
    from fluxds.io import detect_format

    if not os.path.exists(path):
        locked = str(path).lower().endswith(_LOCKED_SUFFIXES)
    else:
        try:
            locked = detect_format(path) in _LOCKED_FORMATS
        except FluxdsError:
            locked = False
    return NETCDF_LOCK if locked else contextlib.nullcontext()
