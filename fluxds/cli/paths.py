"""Checks of the command line's paths before anything is read (an input that does not exist, an output
that cannot be written as named), and write failures that say the place cannot be written: usage errors
(:class:`~fluxds.cli.usage_error.UsageError`, exit status 2)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Sequence
from pathlib import Path

from fluxds.cli.printing import escaped
from fluxds.cli.usage_error import UsageError

__all__ = ["existing_input", "writable_output", "writing", "PATH_ERRNOS", "ZARR_MARKERS"]

#: the reasons a write fails that say the place cannot be written as named (usage errors, exit status 2)
PATH_ERRNOS = frozenset(
    {errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENAMETOOLONG}
)
#: entries that make a folder a zarr store (an output that may be a folder)
ZARR_MARKERS = (".zgroup", ".zattrs", ".zarray", ".zmetadata", "zarr.json")


def existing_input(path: str) -> None:
    """Refuse an input path that does not exist (not even as a dangling link)."""
    if not os.path.lexists(path):
        raise UsageError(f"{escaped(path)}: no such file or folder")


def writable_output(path: str, *, folder: bool = False, inputs: Sequence[str] = ()) -> None:
    """Refuse an output path that cannot be written as asked, before anything is read: its parent folder
    missing, not a folder or not writable; an existing folder where a file goes (unless a zarr store);
    an existing file where a folder goes; one of the inputs."""
    target = Path(path)
    shown = escaped(path)
    if folder:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{shown}: exists and is not a folder")
        if target.is_dir():
            if not os.access(target, os.W_OK | os.X_OK):
                raise UsageError(f"{shown}: folder not writable")
            return
    elif target.is_dir() and not any((target / marker).exists() for marker in ZARR_MARKERS):
        raise UsageError(f"{shown}: is a folder (and not a zarr store); give the name of the output file")
    for source in inputs:
        if os.path.lexists(source) and os.path.lexists(path) and os.path.samefile(source, path):
            raise UsageError(f"{shown}: is the input itself; write to another name")
    parent = target.absolute().parent
    if folder:  # created with its parents: the nearest existing ancestor must be a writable folder
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{shown}: {escaped(parent)} is not a folder")
    if not parent.is_dir():
        raise UsageError(f"{shown}: folder {escaped(parent)} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: folder {escaped(parent)} is not writable")


@contextlib.contextmanager
def writing(path: str):
    """An OSError while writing ``path`` that says the place cannot be written (a missing or read-only
    folder, one the system refuses such as /proc) as a usage error naming it; other write failures (a
    full disk) stay failures (exit status 1)."""
    from fluxds.errors import FluxdsError

    try:
        yield
    except OSError as exc:
        if exc.errno not in PATH_ERRNOS:
            raise  # OverwriteError (a FileExistsError without errno), a full disk ...
        if isinstance(exc, FluxdsError):  # names the file and the cause already
            raise UsageError(str(exc)) from None
        raise UsageError(f"cannot write {escaped(path)}: {exc.strerror or exc}") from None
