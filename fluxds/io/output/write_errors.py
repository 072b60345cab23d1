"""Telling why a write failed: an error of the system or of a writing library becomes a
:class:`~fluxds.errors.WriteError` naming the target and the cause (a full disk, the file-size limit, an
I/O error) with its ``errno``, even when the library gives none; data persisted on a dask cluster, which
this process cannot compute, is told apart too."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import sys
from pathlib import Path

from fluxds.errors import FluxdsError, WriteError

__all__ = [
    "LIBRARIES",
    "FULL",
    "write_error",
    "persisted_data_error",
    "largest_file_size",
    "is_library_error",
    "is_persisted_data_error",
]

#: the libraries fluxds writes with: a RuntimeError raised in them is a write failure (WriteError)
LIBRARIES = {"netCDF4", "h5py", "h5netcdf", "xarray", "zarr", "numcodecs", "astropy", "matplotlib"}
#: free bytes under which a write failing without an errno is put down to a full disk
FULL = 2**20


def write_error(target: Path, exc: BaseException, tmp: Path, dir_fd: int | None) -> WriteError:
    """A :class:`WriteError` naming ``target`` and the cause of ``exc`` (a library's error).

    Parameters
    ----------
    target : pathlib.Path
        The file or directory being written.
    exc : BaseException
        The error of the write (see :func:`is_library_error`).
    tmp : pathlib.Path
        The temporary the library wrote to: named in its message as "the temporary file".
    dir_fd : int or None
        The descriptor of the private directory of the write (None: not made yet).
    """
    err = exc.errno if isinstance(exc, OSError) and isinstance(exc.errno, int) else None
    text = str(exc)
    if dir_fd is not None:  # the library names the temporary: say what it is
        text = text.replace(str(tmp), "the temporary file").replace(str(tmp.parent), "the temporary folder")
    if err is None:  # h5py: "... errno = 28, error message = 'No space left on device' ..."
        found = re.search(r"errno = (\d+)", text)
        err = int(found.group(1)) if found and int(found.group(1)) > 0 else None
    free = None
    with contextlib.suppress(OSError):
        vfs = os.statvfs(target.parent)
        free = vfs.f_bavail * vfs.f_frsize
    size_limit = None
    with contextlib.suppress(ImportError, OSError, ValueError):
        import resource

        soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
        size_limit = None if soft == resource.RLIM_INFINITY else soft
    if (
        err is None
        and size_limit is not None
        and dir_fd is not None
        and largest_file_size(dir_fd) >= size_limit - 4096
    ):
        err = errno.EFBIG
    if err is None and free is not None and free < FULL:
        err = errno.ENOSPC
    if err in (errno.ENOSPC, errno.EDQUOT):
        cause = f"the file system is full ({os.strerror(err)}"
        cause += f"; {free} bytes free in {target.parent})" if free is not None else ")"
    elif err == errno.EFBIG:
        cause = f"the file would pass the file-size limit ({os.strerror(err)}"
        cause += f"; ulimit -f: {size_limit} bytes)" if size_limit is not None else ")"
    elif err is not None:
        cause = os.strerror(err)
    else:
        cause = "the library writing it failed"
    name = errno.errorcode.get(err, "") if err is not None else ""
    return WriteError(
        f"{target}: cannot write: {cause}{f' [{name}]' if name else ''} ({type(exc).__name__}: {text}); "
        "the target is as it was before the write",
        errno=err,
    )


def persisted_data_error(target: Path, exc: BaseException) -> WriteError:
    """The :class:`WriteError` of a write of ``target`` that failed on data persisted on a
    ``dask.distributed`` cluster (``exc``: see :func:`is_persisted_data_error`)."""
    return WriteError(
        f"{target}: cannot write: the Dataset holds data persisted on a dask.distributed cluster "
        "(.persist()), which fluxds cannot compute in this process, where every write is "
        "computed (its temporary is reachable from this process only): .compute() the Dataset "
        f"first if it fits in memory, or write it before persisting ({exc})"
    )


def largest_file_size(dir_fd: int) -> int:
    """Size in bytes of the largest file under the directory open at ``dir_fd``."""
    largest = 0
    with contextlib.suppress(OSError):
        for _, _, files, sub_fd in os.fwalk(".", dir_fd=dir_fd):
            for file in files:
                with contextlib.suppress(OSError):
                    largest = max(largest, os.stat(file, dir_fd=sub_fd, follow_symlinks=False).st_size)
    return largest


def _raising_module(exc: BaseException) -> str:
    """The module (dotted name) of the innermost frame of ``exc``'s traceback; ``""`` without one."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""


def is_library_error(exc: BaseException) -> bool:
    """An error of the system, or a ``RuntimeError`` raised by a writing library (netCDF-C's "NetCDF:
    HDF error", h5py's "Can't decrement id ref count (unable to extend file ...)"); not a refusal, and
    not an error raised by fluxds's own code or by the caller's, which propagates as it is."""
    if isinstance(exc, FluxdsError):
        return False
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    module = _raising_module(exc)
    return module.partition(".")[0] in LIBRARIES or bool(re.search(r"NetCDF: |HDF error", str(exc)))


def is_persisted_data_error(exc: BaseException) -> bool:
    """Whether dask's local scheduler failed on chunks held by a ``dask.distributed`` cluster (a Dataset
    persisted there: its graph names chunks only the cluster holds)."""
    if not isinstance(exc, ValueError) or "distributed" not in sys.modules:
        return False
    module = _raising_module(exc)
    return module.startswith("dask.") and str(exc).startswith("Missing dependency")
