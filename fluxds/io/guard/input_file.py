"""The path given to a reader: a regular file (or a zarr store's folder), never a special file; and a
private copy of it for :mod:`fluxds.io.guard.isolated`.

A folder from elsewhere (an unpacked tarball keeps symbolic links and FIFOs) may hold ``crab.ecsv ->
/dev/zero`` or a FIFO named ``crab.fits``: a reader opening it by name would read forever (an endless
line, unbounded memory) or block. :func:`check_input` refuses anything but a regular file or a folder
before any reader opens the path. It looks with ``stat`` and never opens the path: opening a device can
act (a tape rewinds, a watchdog arms). The user's own symbolic link at the top level is followed; what
it leads to is checked.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator

from fluxds.errors import BudgetError, FormatError

__all__ = ["check_input", "private_copy"]

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | os.O_CLOEXEC
_CHUNK = 1 << 20


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def check_input(path: str | os.PathLike, *, folder: bool = True) -> os.stat_result:
    """Refuse an input that is not a regular file (or, with ``folder``, a folder: a zarr store).

    Parameters
    ----------
    path : str or path-like
        As the user gave it; a symbolic link is followed (the user's own, at the top level).
    folder : bool
        Whether a folder is acceptable.

    Returns
    -------
    os.stat_result
        Of what the path leads to.

    Raises
    ------
    FormatError
        Naming the path: no such file, or a FIFO, device, socket (what ``/dev/zero`` is) or, without
        ``folder``, a folder.

    Examples
    --------
    >>> check_input("/dev/zero")
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: /dev/zero: a character device, not a regular file; not read ...
    """
    try:
        found = os.stat(path)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:  # a broken link's loop, a name with NUL, permissions
        raise FormatError(f"{path}: cannot open: {exc}") from None
    if stat.S_ISREG(found.st_mode) or (folder and stat.S_ISDIR(found.st_mode)):
        return found
    what = "a folder" if stat.S_ISDIR(found.st_mode) else _kind(found.st_mode)
    link = f" (a symbolic link to {os.path.realpath(path)!r})" if os.path.islink(path) else ""
    raise FormatError(
        f"{path}{link}: {what}, not a regular file; not read (fluxds reads regular files"
        f"{' and zarr store folders' if folder else ''} only: a special file can block or never end)"
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _copy_file(source: str, target: str, budget: int, label: str) -> None:
    """Copy the regular file ``source`` (a top-level link followed) into the new file ``target``: at most
    the size ``fstat`` reported, refused beyond ``budget``."""
    fd = os.open(source, _OPEN_FLAGS)
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):  # replaced since check_input
            raise FormatError(f"{label}: {_kind(found.st_mode)}, not a regular file; not read")
        if found.st_size > budget:
            raise BudgetError(
                f"{label}: {found.st_size} bytes, more than the read budget of {budget} bytes; isolate= "
                "reads a private copy of the file and refuses a larger one (raise the budget with "
                "max_bytes= if you trust the file)"
            )
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            done = 0
            while done < found.st_size:  # never more than fstat said, even if the file grows
                piece = os.pread(fd, min(_CHUNK, found.st_size - done), done)
                if not piece:
                    break
                _write_all(out, piece)
                done += len(piece)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _copy_store(source: str, target: str, budget: int, label: str) -> None:
    """Copy a zarr store entry by entry: no link nor special file inside
    (:mod:`fluxds.io.guard.zarr_safe`), at
    most ``budget`` bytes in all."""
    from fluxds.io.guard.zarr_safe import read_entry, walk_store

    sizes = walk_store(source)
    total = sum(sizes.values())
    if total > budget:
        raise BudgetError(
            f"{label}: the store holds {total} bytes, more than the read budget of {budget} bytes; "
            "isolate= reads a private copy of the store and refuses a larger one (raise the budget with "
            "max_bytes= if you trust the store)"
        )
    os.mkdir(target, 0o700)
    for key in sizes:
        data = read_entry(source, key)
        if data is None:  # gone since the walk
            raise FormatError(f"{label}: the entry {key!r} disappeared while the store was copied")
        *folders, name = key.split("/")
        here = target
        for part in folders:
            here = os.path.join(here, part)
            if not os.path.isdir(here):
                os.mkdir(here, 0o700)
        out = os.open(os.path.join(here, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            _write_all(out, data)
        finally:
            os.close(out)


@contextlib.contextmanager
def private_copy(path: str | os.PathLike, budget: int) -> Iterator[str]:
    """A copy of ``path`` in a fresh private temporary folder (mode 0700), under the same name, removed
    on leaving the block: what is read there cannot be changed by whoever controls ``path``.

    Parameters
    ----------
    path : str or path-like
        A regular file (a top-level symbolic link is followed), or a zarr store's folder (copied entry by
        entry, refusing links and special files inside it).
    budget : int
        The most bytes copied (the read budget): a larger file or store is refused.

    Yields
    ------
    str
        The copy's absolute path.

    Raises
    ------
    FormatError
        Naming ``path``: not a regular file or folder, a link or special file inside a store;
        :class:`~fluxds.errors.BudgetError` when larger than ``budget``.
    """
    label = os.fspath(path)
    found = check_input(path)
    name = os.path.basename(os.path.normpath(os.path.abspath(label))) or "input"
    folder = tempfile.mkdtemp(prefix="fluxds-copy-")  # mode 0700
    try:
        copy = os.path.join(folder, name)
        try:
            if stat.S_ISDIR(found.st_mode):
                _copy_store(label, copy, budget, label)
            else:
                _copy_file(label, copy, budget, label)
        except OSError as exc:
            raise FormatError(f"{label}: cannot make a private copy to read: {exc}") from None
        yield copy
    finally:
        shutil.rmtree(folder, ignore_errors=True)
