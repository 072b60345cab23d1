"""The fluxds exception family.

Every error fluxds raises on purpose is a :class:`FluxdsError`, so a caller can catch the whole family,
or one member. Messages name the file, the HDU/variable/column, the value found and what was expected.
:class:`PhysicsWarning` is the one warning of the family: suspicious numbers read from a file.
"""

from __future__ import annotations

import builtins
import contextlib
import functools
from collections.abc import Iterator

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
    "Problems",
    "collected_error",
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


# --- every problem of a file in one error (issue 15 item 2) ----------------------------------------------
class _Collected:
    """Mixin of the classes :func:`collected_error` makes: an error that stands for several problems.

    Attributes
    ----------
    errors : list of FluxdsError
        The problems as the exceptions the checks raised (also the ``ExceptionGroup`` in ``__cause__``).
    problems : list of str
        Their messages, the file name left out (it heads the message once).
    """

    kinds: tuple[type[FluxdsError], ...] = ()
    errors: list[FluxdsError]

    def __str__(self) -> str:  # KeyError (MissingQuantityError) or OSError would format the message
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):  # picklable (a worker process, dask): rebuilt from the names of its kinds
        return _rebuild_collected, (tuple(k.__name__ for k in self.kinds), self.args, dict(self.__dict__))


def _rebuild_collected(names: tuple[str, ...], args: tuple, state: dict) -> FluxdsError:
    cls = _collected_class(tuple(globals()[n] for n in names))
    exc = cls(*args)
    exc.__dict__.update(state)
    return exc


def _collected_class(kinds: tuple[type[FluxdsError], ...]) -> type[FluxdsError]:
    """A subclass of every class in ``kinds`` (and of :class:`FormatError`), so that each ``except`` that
    caught one of the problems alone still catches them together; named ``FormatError`` where it shows."""
    bases = tuple(k for k in kinds if not any(o is not k and issubclass(o, k) for o in kinds))
    if not any(issubclass(k, FormatError) for k in bases):
        bases = (FormatError, *bases)
    return _class_of(bases)


@functools.cache
def _class_of(bases: tuple[type[FluxdsError], ...]) -> type[FluxdsError]:
    try:
        return type("FormatError", (_Collected, *bases), {"__module__": __name__, "kinds": bases})
    except TypeError:  # bases that cannot be combined (an OSError with a ValueError): a FormatError
        return _class_of((FormatError,))


_EXCEPTION_GROUP = getattr(builtins, "ExceptionGroup", None)


def _problem_text(error: BaseException, where: str) -> str:
    text = str(error)
    for prefix in (f"{where}: ", where):
        if where and text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :].lstrip()
    return text


def collected_error(where: str, errors: list[FluxdsError]) -> FluxdsError:
    """One error for every problem of a file: the only one as it is; several as one error listing them,
    numbered (the file ``where`` named once, in the first line), whose :attr:`~FluxdsError.problems` are
    their messages, whose class derives from each of their classes (``except UnitError`` still catches a
    missing unit reported with a bad energy; always a :class:`FormatError`), and whose ``__cause__`` is an
    ``ExceptionGroup`` of them (Python 3.11 and later; see :class:`Problems`).

    Parameters
    ----------
    where : str
        The file (and HDU), as the problems' messages begin with it.
    errors : list of FluxdsError
        At least one.

    Returns
    -------
    FluxdsError
        To raise (the cause set already).
    """
    flat: list[FluxdsError] = []
    for error in errors:
        flat.extend(getattr(error, "errors", None) or [error])
    if len(flat) == 1:
        return flat[0]
    texts = [_problem_text(e, where) for e in flat]
    kinds = tuple(dict.fromkeys(type(e) for e in flat))
    kinds = tuple(k for kind in kinds for k in (getattr(kind, "kinds", None) or (kind,)))
    lines = [f"{where}: {len(flat)} problems" if where else f"{len(flat)} problems"]
    for i, text in enumerate(texts, start=1):
        first, *rest = text.splitlines() or [""]
        lines.append(f"  {i}. {first}")
        lines.extend(f"     {line}" for line in rest)
    cls = _collected_class(tuple(dict.fromkeys(kinds)))
    exc = cls("\n".join(lines))
    exc.problems = texts
    exc.errors = flat
    if _EXCEPTION_GROUP is not None:  # Python 3.11+: each problem's own traceback, as pint-xarray shows them
        exc.__cause__ = _EXCEPTION_GROUP(f"{where}: {len(flat)} problems" if where else "problems", flat)
        exc.__suppress_context__ = True
    return exc


class Problems:
    """Collects the problems of one file, so that a reader reports all of them at once, not the first.

    Each check runs in ``with problems.check():`` (a :class:`FluxdsError` it raises is kept and the
    reader goes on with what is left; a :class:`BudgetError` stops the read at once), or its error is
    added with :meth:`add`; :meth:`raise_if_any` then raises :func:`collected_error` of them: a single
    problem exactly as it was raised.

    Examples
    --------
    >>> problems = Problems("sed.fits[FLUXPOINTS]")
    >>> with problems.check():
    ...     raise UnitError("sed.fits[FLUXPOINTS]: column 'dnde' has no unit")
    >>> problems.add(SchemaError("sed.fits[FLUXPOINTS]: 'e_min' must be finite and > 0; found nan in bin 2"))
    >>> try:
    ...     problems.raise_if_any()
    ... except FormatError as exc:
    ...     print(exc)
    ...     print(isinstance(exc, UnitError), isinstance(exc, SchemaError), len(exc.problems))
    sed.fits[FLUXPOINTS]: 2 problems
      1. column 'dnde' has no unit
      2. 'e_min' must be finite and > 0; found nan in bin 2
    True True 2
    """

    def __init__(self, where: str = ""):
        self.where = where
        self.errors: list[FluxdsError] = []

    def __len__(self) -> int:
        return len(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, error: FluxdsError) -> None:
        """Keep ``error`` (the parts of an error that already collects several)."""
        self.errors.extend(getattr(error, "errors", None) or [error])

    def extend(self, errors) -> None:
        """Keep each of ``errors``."""
        for error in errors:
            self.add(error)

    @contextlib.contextmanager
    def check(self) -> Iterator[None]:
        """Run a check; a :class:`FluxdsError` it raises is kept instead of stopping the reader. A
        :class:`BudgetError` is raised at once: it refuses the whole read, before anything more is read."""
        try:
            yield
        except BudgetError:
            raise
        except FluxdsError as exc:
            self.add(exc)

    def raise_if_any(self) -> None:
        """Raise every problem kept so far (:func:`collected_error`); nothing when there is none."""
        if self.errors:
            raise collected_error(self.where, self.errors)
