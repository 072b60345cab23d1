"""Telling a damaged file from a fluxds bug: what the libraries under the readers raise for a damaged
file is turned into a :class:`~fluxds.errors.FormatError` naming the file (the original kept as
``__cause__``); anything else goes through as it is."""

from __future__ import annotations

import struct
import zlib

__all__ = ["is_damage"]

# what the libraries under the readers (astropy, h5py, netCDF4, zarr, numpy) raise for a damaged file
DAMAGE_TYPES = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    EOFError,
    OverflowError,
    RuntimeError,
    ZeroDivisionError,
    AssertionError,  # astropy asserts on some malformed column definitions
    struct.error,
    zlib.error,
)
LIBRARIES = ("astropy.", "h5py", "netCDF4", "zarr", "numcodecs", "h5netcdf", "yaml")


def is_damage(exc: Exception) -> bool:
    """Whether an exception from a reader is a verdict on a damaged file rather than a fluxds bug to let
    through: one of :data:`DAMAGE_TYPES`, an exception class of a library (astropy's ``VerifyError`` ...),
    or any exception raised inside a library's code (astropy's own ``UnboundLocalError`` on some broken
    TFORMs).

    Parameters
    ----------
    exc : Exception

    Returns
    -------
    bool
    """
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    in_library = tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith(LIBRARIES)
    if in_library or type(exc).__module__.startswith(LIBRARIES):
        return True
    if isinstance(exc, TypeError) and "argument" in str(exc):
        return False  # a call with wrong arguments (e.g. an unknown read option): a caller's error
    return isinstance(exc, DAMAGE_TYPES)
