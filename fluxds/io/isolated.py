"""Trying an untrusted file in a separate process first, bounded in time.

A damaged HDF5 or netCDF-4 file can make the HDF5 C library loop forever or abort the whole process
(a byte flip in an object header's messages: ``fuzz/known/`` holds such files). No Python ``try`` and no
signal handler in the reading process can stop that. :func:`probe` reads the file, every value loaded,
in a fresh Python process with a time limit; if that process is killed by a signal or runs out of time,
the file is refused with a :class:`~fluxds.errors.FormatError`, and the caller never touches it. Use it
for files from elsewhere (``fluxds.read(path, isolate=True)``, ``fluxds batch --isolate 60``); it costs
one Python start-up and a second read per file (about 1-2 s).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from fluxds.errors import FormatError

__all__ = ["probe", "DEFAULT_SECONDS"]

#: the time limit of :func:`probe` when ``isolate=True`` (seconds)
DEFAULT_SECONDS = 60.0

_CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
import fluxds
options = json.loads(sys.argv[2])
try:
    fluxds.read(sys.argv[1], **options).load()
except Exception:
    pass  # an exception is the caller's to see, when it reads the file itself
"""


def probe(path: str | os.PathLike, seconds: float = DEFAULT_SECONDS, **options) -> None:
    """Read ``path`` with :func:`fluxds.read` in a fresh Python process; refuse it if that process dies
    by a signal or does not finish in ``seconds``.

    An ordinary read error is not reported here: the child's exceptions are the caller's to see when it
    reads the file itself, which is then safe.

    Parameters
    ----------
    path : str or path-like
    seconds : float
        Time limit for the child's read (s).
    **options
        Passed to :func:`fluxds.read` in the child (``format=``, ``sed_type=``, ``hdu=`` ...); they must be
        JSON values (text, numbers, booleans, lists, dicts).

    Raises
    ------
    FormatError
        Naming the file and what happened: the signal that killed the reader (``SIGABRT``, ``SIGSEGV``
        ...) or the time limit.
    TypeError
        If an option is not a JSON value.
    """
    if not seconds > 0:
        raise ValueError(f"isolate: the time limit must be > 0 s, got {seconds!r}")
    try:
        encoded = json.dumps(options)
    except TypeError as exc:
        raise TypeError(f"isolate: the read options must be JSON values to reach the child: {exc}") from None
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, os.fspath(path), encoded],
            capture_output=True,
            timeout=seconds,
        )
    except subprocess.TimeoutExpired:
        raise FormatError(
            f"{path}: reading it did not finish within {seconds:g} s in a separate process (a damaged "
            "file can make the HDF5/netCDF C library loop forever); not read"
        ) from None
    if done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        raise FormatError(
            f"{path}: reading it killed a separate Python process with {name} (a damaged file crashes "
            f"the HDF5/netCDF C library); not read. {done.stderr.decode(errors='replace')[-300:].strip()}"
        )
    if done.returncode != 0:
        raise FormatError(
            f"{path}: a separate Python process reading it exited with status {done.returncode}: "
            f"{done.stderr.decode(errors='replace')[-500:].strip()}"
        )
