"""The fluxds exception family.

Every error fluxds raises on purpose is a :class:`FluxdsError`, so a caller can catch the whole family,
or one member. Messages name the file, the HDU/variable/column, the value found and what was expected.
:class:`PhysicsWarning` is the one warning of the family: suspicious numbers read from a file.
"""

from __future__ import annotations

__all__ = [
    "FluxdsError",
    "SchemaError",
    "UnitError",
    "MissingQuantityError",
    "MissingEnergyEdgesError",
    "FormatError",
    "UnknownFormatError",
    "OverwriteError",
    "ModelError",
    "WriteError",
    "BudgetError",
    "TimeValueError",
    "BatchError",
    "SchedulerError",
    "PhysicsWarning",
    "EnergyMismatchError",
    "FitError",
]


class FluxdsError(Exception):
    """Base class of every error fluxds raises on purpose."""

    def __init__(self, message: str, *, problems: list[str] | None = None):
        self.problems = list(problems) if problems else []
        if self.problems:
            message = message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class SchemaError(FluxdsError, ValueError):
    """A Dataset breaks the data-model contract (dims, variables, attributes, shapes)."""


class UnitError(FluxdsError, ValueError):
    """A unit is unreadable or has the wrong physical dimension for the quantity it belongs to."""


class MissingQuantityError(FluxdsError, KeyError):
    """A quantity was asked for that the Dataset cannot give (its inputs are not stored)."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


class MissingEnergyEdgesError(MissingQuantityError):
    """``flux``/``eflux`` asked of an SED that has only reference energies (no bin edges)."""


class ModelError(FluxdsError, ValueError):
    """A spectral model is unknown, or its parameters are missing or have the wrong units."""


class FormatError(FluxdsError, ValueError):
    """A file cannot be read or written in the format asked for (bad column, keyword, HDU, value)."""


class UnknownFormatError(FormatError):
    """The format of a file cannot be detected, or a format name is unknown."""


class OverwriteError(FluxdsError, FileExistsError):
    """The target of a write exists and ``overwrite=True`` was not given."""


class WriteError(FluxdsError, OSError):
    """A write failed (disk full, file-size limit, I/O error): the message names the file and the cause.

    ``errno`` is the system's error number when known (``errno.ENOSPC``, ``errno.EFBIG``, ...), None when
    the library reported no cause fluxds could tell. The old file, if any, is untouched.
    """

    def __init__(self, message: str, *, errno: int | None = None, problems: list[str] | None = None):
        FluxdsError.__init__(self, message, problems=problems)
        if errno is not None:
            import os

            self.errno = errno
            self.strerror = os.strerror(errno)

    def __str__(self) -> str:  # OSError would otherwise format errno and strerror instead of the message
        return str(self.args[0]) if self.args else ""


class TimeValueError(FormatError, SchemaError):
    """A time that is not finite or lies outside :data:`fluxds.timeaxis.MJD_RANGE`: a reference MJD
    (``MJDREFI``, ``MJDREFF``, ``MJDREF``), a bin edge, an instant or a GTI bound. Both a ``FormatError``
    (when read from a file, the message names the file, HDU, keyword or column, row and value) and a
    ``SchemaError``."""


class BudgetError(FormatError):
    """A file declares more data than the read budget allows (see :mod:`fluxds.io.guard.budget`)."""


class BatchError(FluxdsError, ValueError):
    """A batch cannot run as asked (output names collide, the output folder is a file, a bad number of
    workers or time limit); nothing was converted."""


class SchedulerError(BatchError):
    """The ``dask.distributed`` scheduler given cannot be reached (or its address is malformed)."""


class PhysicsWarning(UserWarning):
    """Numbers that are suspicious but not impossible (see :func:`fluxds.validate.physics_problems`); an
    error with ``fluxds.read(path, strict=True)``."""


class EnergyMismatchError(SchemaError):
    """The energy bins of two SEDs do not match within the tolerance asked (see
    :func:`fluxds.energy.match_energies`); the message names the first bin that does not."""


class FitError(FluxdsError, ValueError):
    """A castro fit cannot run: no SED of the Dataset has as many valid energy bins (finite profiles) as
    free parameters (see :func:`fluxds.profiles.castro_fit.fit_castro`; per-SED failures are reported in
    the result's ``reason`` instead)."""
