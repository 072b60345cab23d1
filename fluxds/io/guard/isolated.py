"""Trying an untrusted file in a separate, confined process first, bounded in time and memory.

A damaged HDF5 or netCDF-4 file can make the HDF5 C library loop forever or abort the whole process
(a byte flip in an object header's messages: ``fuzz/known/`` holds such files). No Python ``try`` and no
signal handler in the reading process can stop that. :func:`probe` reads the file, every value loaded,
in a fresh Python process; if that process is killed, runs out of time or out of memory, the file is
refused with a :class:`~fluxds.errors.FormatError`, and the caller never touches it. Use it for files
from elsewhere (``fluxds.read(path, isolate=True)``, ``fluxds batch --isolate 60``); it costs one Python
start-up and a second read per file (about 1-2 s on an idle machine). Both reads are of one private copy
(:func:`vetted_copy`): replacing the file after the child has read it changes nothing.

The child process (POSIX; the memory cap needs Linux):

- runs ``python -I`` (isolated mode: no ``PYTHON*`` environment variable is honoured, no user
  ``usercustomize``, neither the current folder nor the script's folder on ``sys.path``); the ``PYTHON*``
  variables are also removed from its environment. Its working folder is a fresh private temporary
  folder (mode 0700, removed afterwards), and the file is passed as an absolute path, so nothing in the
  folder where the user stands or beside the file can be imported (a planted ``json.py``,
  ``numpy.py``, ``fluxds.py``, ``sitecustomize.py`` ...).
- imports its dependencies from its interpreter's standard library and site-packages (plus the user
  site-packages, when the calling process uses it), and ``fluxds`` itself explicitly from the folder of
  the ``fluxds`` package running in the caller (an editable install or a checkout on ``PYTHONPATH``
  alike), without putting that folder's parent on ``sys.path``. Dependencies reachable only through
  ``PYTHONPATH`` are therefore not found in the child: install them.
- imports every reader and reads the SED shipped with fluxds, then reports that it is ready. The limits
  start then, not at interpreter start-up (which has its own bound, :data:`STARTUP_SECONDS`), so a busy
  machine does not eat into them:

  * **CPU time**: ``seconds`` of CPU time (all threads) for the read (``ITIMER_PROF``, and
    ``RLIMIT_CPU`` one second later as a backstop; both also stop an orphaned child). CPU time does
    not grow while the process waits for a CPU, so load on the machine does not make a good file fail.
  * **wall clock**: a backstop of :func:`wall_seconds` (``4 * seconds + 30`` s) for a reader blocked
    without using CPU (a special file, a stalled file system).
  * **memory**: ``RLIMIT_AS`` = the address space at readiness (about 330 MiB with numpy, xarray,
    astropy, h5py, netCDF4 and zarr loaded) + 2 x the read budget (the budget's materialised bytes and
    one transient copy) + :data:`MEMORY_SLACK` (512 MiB: library buffers, thread stacks). A child
    killed for memory, or raising ``MemoryError``, is a refusal; raise the budget (``max_bytes=``) for
    a file you trust.
  * no core dumps (``RLIMIT_CORE`` = 0).

The child's side (its program and :func:`~fluxds.io.guard.isolated_child.run_child`) is in
:mod:`fluxds.io.guard.isolated_child`, which imports as little as it can; the parent's watch over the child
(status pipe, stderr, the verdict) in :mod:`fluxds.io.guard.isolated_supervisor`.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterator

from fluxds.errors import FluxdsError
from fluxds.io.guard.isolated_child import CHILD
from fluxds.io.guard.isolated_supervisor import ChildStderr, supervise

__all__ = [
    "probe",
    "vetted_copy",
    "isolation_limit",
    "wall_seconds",
    "DEFAULT_SECONDS",
    "STARTUP_SECONDS",
    "MEMORY_SLACK",
]

#: the CPU-time limit of :func:`probe` when ``isolate=True`` (seconds)
DEFAULT_SECONDS = 60.0
#: the bound on the child's start-up (imports and a warm-up read of the shipped SED), in seconds of wall
#: clock: generous, since start-up runs no code from the file and a busy machine slows it down
STARTUP_SECONDS = 300.0
#: the address space the child may add beyond the read budget (bytes): library buffers, thread stacks
MEMORY_SLACK = 512 * 1024**2


def isolation_limit(isolate: bool | float | None) -> float | None:
    """The CPU-time limit an ``isolate=`` argument asks for, or ``None`` for no isolation.

    Parameters
    ----------
    isolate : bool, float or None
        ``False`` or ``None``: no isolation; ``True``: :data:`DEFAULT_SECONDS`; a number: that many
        seconds (finite, > 0).

    Returns
    -------
    float or None
        Seconds of CPU time, or ``None``.

    Raises
    ------
    ValueError
        For 0, a negative number, NaN or infinity.
    TypeError
        For anything else (a string, a list ...).

    Examples
    --------
    >>> isolation_limit(True), isolation_limit(None), isolation_limit(5)
    (60.0, None, 5.0)
    """
    if isolate is None or isolate is False:
        return None
    if isolate is True:
        return DEFAULT_SECONDS
    if type(isolate).__name__ == "bool_":  # numpy.bool_
        return DEFAULT_SECONDS if bool(isolate) else None
    if not isinstance(isolate, numbers.Real):
        raise TypeError(
            f"isolate must be True, False, None or a number of seconds > 0, not {type(isolate).__name__} "
            f"{isolate!r}"
        )
    seconds = float(isolate)
    if not (math.isfinite(seconds) and seconds > 0):
        raise ValueError(
            f"isolate must be a finite number of seconds > 0 (or True for {DEFAULT_SECONDS:g} s, "
            f"False/None for no isolation), got {isolate!r}"
        )
    return seconds


def wall_seconds(seconds: float) -> float:
    """The wall-clock backstop of a read limited to ``seconds`` of CPU time (s): ``4 * seconds + 30``.

    Examples
    --------
    >>> wall_seconds(5)
    50.0
    """
    return 4.0 * float(seconds) + 30.0


def _child_environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    # the child only reads: no BLAS threads; fewer malloc arenas keep the address space near the data
    environment.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    environment.setdefault("MALLOC_ARENA_MAX", "2")
    return environment


def _user_site() -> list[str]:
    import site

    folder = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    return [folder] if folder and folder in sys.path else []


def probe(
    path: str | os.PathLike,
    seconds: float = DEFAULT_SECONDS,
    *,
    max_bytes: int | str | None = None,
    **options,
) -> None:
    """Read ``path`` with :func:`fluxds.read` in a fresh, confined Python process; refuse it if that
    process dies by a signal, exceeds its CPU time or runs out of memory.

    An ordinary read error is not reported here: the child's exceptions are the caller's to see when it
    reads the file itself, which is then safe. See the module documentation for the child's limits.

    Parameters
    ----------
    path : str or path-like
    seconds : float
        CPU time the child may spend on the read (s), counted from when it is ready to read (after its
        imports); ``True`` for :data:`DEFAULT_SECONDS`. A wall-clock backstop of
        :func:`wall_seconds` applies too.
    max_bytes : int or str, optional
        The read budget of the child's read (bytes, or a size such as ``"1GiB"``; default:
        :func:`fluxds.io.guard.budget.read_budget` here); its memory cap is sized from it.
    **options
        Passed to :func:`fluxds.read` in the child (``format=``, ``sed_type=``, ``hdu=`` ...); they must be
        JSON values (text, numbers, booleans, lists, dicts).

    Raises
    ------
    FormatError
        Naming the file and what happened: the signal that killed the reader (``SIGABRT``, ``SIGSEGV``
        ...), the CPU-time or wall-clock limit, or the memory cap.
    ValueError, TypeError
        If ``seconds`` is not a number > 0 (see :func:`isolation_limit`) or an option is not a JSON value.
    """
    from fluxds.io.guard.budget import parse_size, read_budget

    limit = isolation_limit(seconds)
    if limit is None:
        raise ValueError(f"probe needs a time limit in seconds > 0, got {seconds!r}")
    budget = read_budget() if max_bytes is None else parse_size(max_bytes, "max_bytes")
    try:
        json.dumps(options)
    except TypeError as exc:
        raise TypeError(f"isolate: the read options must be JSON values to reach the child: {exc}") from None
    import fluxds

    status_read, status_write = os.pipe()
    settings = {
        "path": os.path.abspath(os.fsdecode(os.fspath(path))),
        "options": {**options, "max_bytes": budget},
        "seconds": limit,
        "budget": budget,
        "memory_slack": MEMORY_SLACK,
        "status": status_write,
        "package": os.path.dirname(os.path.abspath(fluxds.__file__)),
        "user_site": _user_site(),
    }
    workdir = tempfile.mkdtemp(prefix="fluxds-isolate-")
    try:
        try:
            child = subprocess.Popen(
                [sys.executable, "-I", "-c", CHILD, json.dumps(settings)],
                cwd=workdir,
                env=_child_environment(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                pass_fds=(status_write,),
            )
        finally:
            os.close(status_write)
        stderr = ChildStderr(child.stderr)
        stderr.start()
        try:
            supervise(
                child,
                status_read,
                stderr,
                path,
                limit,
                budget,
                startup_seconds=STARTUP_SECONDS,
                wall=wall_seconds(limit),
                memory_slack=MEMORY_SLACK,
            )
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            stderr.join(timeout=5)
            child.stderr.close()
    finally:
        os.close(status_read)
        shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def vetted_copy(
    path: str | os.PathLike,
    seconds: float = DEFAULT_SECONDS,
    *,
    max_bytes: int | str | None = None,
    **options,
) -> Iterator[str]:
    """A private copy of ``path``, vetted by :func:`probe`, to read in the block instead of ``path``.

    Probing ``path`` and then reading it by name again would read whatever is there by then: whoever
    controls the file can replace it once the child has closed it. The file (or zarr store) is copied
    into a fresh private temporary folder (mode 0700; a top-level symbolic link is followed, links and
    special files inside a store are refused, at most the read budget is copied), :func:`probe` reads
    the copy, and the block reads the same copy, which is removed on leaving it. Errors and warnings
    raised in the block, and the probe's, name ``path``, not the copy.

    Parameters
    ----------
    path : str or path-like
    seconds, max_bytes, **options
        As for :func:`probe`.

    Yields
    ------
    str
        The copy's path (same file name as ``path``).

    Raises
    ------
    FormatError
        As :func:`probe`; also for a special file, or a file or store larger than the read budget
        (:class:`~fluxds.errors.BudgetError`).
    """
    from fluxds.io.guard.budget import parse_size, read_budget
    from fluxds.io.guard.input_file import private_copy

    label = os.fspath(path)
    budget = read_budget() if max_bytes is None else parse_size(max_bytes, "max_bytes")
    with private_copy(path, budget) as copy:
        pending: list = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    probe(copy, seconds, max_bytes=budget, **options)
                    yield copy
                except FluxdsError as exc:
                    exc.args = tuple(a.replace(copy, label) if isinstance(a, str) else a for a in exc.args)
                    exc.problems = [p.replace(copy, label) for p in exc.problems]
                    raise
                finally:
                    pending = list(caught)
        finally:
            for warning in pending:  # outside catch_warnings: the caller's filters apply
                warnings.warn_explicit(
                    str(warning.message).replace(copy, label),
                    warning.category,
                    warning.filename,
                    warning.lineno,
                )
