"""Atomic writes: a reader never sees half a file, an interrupted write leaves the old file intact.

Every fluxds writer writes into a fresh private directory beside the target (``.<name>.<random>.tmp``,
made with ``mkdtemp``: mode 0700, created in one system call under a name nobody held), hence on the same
filesystem; the writer creates ``<name>.tmp`` inside it, which is flushed to disk and renamed into place.
A file (or a directory, such as a zarr store) is swapped in by one ``rename`` system call, so the target
name always holds either the complete old content or the complete new one.

Nobody else can plant anything inside the private directory, and on Linux the writer is given the
temporary through the directory's open descriptor (``/proc/self/fd/N/<name>.tmp``), so that even
renaming the private directory away and putting a symbolic link in its place redirects nothing. No
symbolic link is ever followed: an overwrite refuses a target that is a link (the rename would replace
the link itself, never write to what it points to), and replaces only what fluxds recognises as its own
kind of output (:mod:`fluxds.io.output.replaceable`): a file of a format fluxds writes, of the same format as
the new one, or a zarr store; never a folder of other files.

That path is valid in this process only, so every write is computed here: while a ``dask.distributed``
client (or another scheduler computing in other processes) is active, :func:`atomic_path` sets dask's
scheduler to this process's threads for the duration of the write (dask's configuration is global: other
threads of the process compute locally meanwhile too), then restores it. A dask-backed Dataset is then read
and encoded by this process, not by the cluster's workers (each task of :func:`fluxds.batch` on a cluster
writes in its own worker process, as before). Chunks persisted on a cluster (``.persist()``) cannot be
computed here: such a write is a :class:`~fluxds.errors.WriteError` (``.compute()`` the Dataset first).

A failure of the write itself (disk full, file-size limit, I/O error) is a
:class:`~fluxds.errors.WriteError` naming the target and the cause, with the system's ``errno``.

Stale temporaries: a process killed while writing (SIGKILL, power loss) leaves its temporary behind.
A later write does **not** remove it, because a temporary of a dead writer cannot be told from the
temporary of a writer still running in another process or on another host sharing the directory. They
are hidden dot-entries, never read by fluxds; :func:`stale_temporaries` lists them and
:func:`remove_stale_temporaries` removes those older than an age you choose.

The parts: :mod:`.dirfd` (operations relative to a directory descriptor: ``renameat2``, fsync, removal),
:mod:`.placing` (the new output put under the target name, or exchanged with the old entry and checked),
:mod:`.write_errors` (why a write failed) and :mod:`.dask_writes` (dask computing in this process).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fluxds.errors import WriteError
from fluxds.io.output.dask_writes import dask_in_this_process
from fluxds.io.output.dirfd import DIR_FLAGS, fsync_dir, fsync_entry, fsync_tree, remove_entry, remove_path
from fluxds.io.output.placing import place_new, replace
from fluxds.io.output.replaceable import check_replaceable
from fluxds.io.output.write_errors import (
    is_library_error,
    is_persisted_data_error,
    persisted_data_error,
    write_error,
)

__all__ = ["atomic_path", "durability", "stale_temporaries", "remove_stale_temporaries"]

# whether atomic writes flush to disk (fsync); fluxds.write(..., fsync=False) turns it off for one write
_DURABLE = contextvars.ContextVar("fluxds_durable_writes", default=True)


@contextlib.contextmanager
def durability(fsync: bool) -> Iterator[None]:
    """Within the block, atomic writes flush their output to disk (``fsync=True``, the default outside
    any block) or not (``False``: still atomic for readers, not durable across a power loss); see
    :func:`atomic_path`. Scoped to the calling thread or task (a context variable).

    Parameters
    ----------
    fsync : bool
    """
    if not isinstance(fsync, bool):
        raise TypeError(f"fsync must be True or False, got {fsync!r}")
    token = _DURABLE.set(fsync)
    try:
        yield
    finally:
        _DURABLE.reset(token)


KEPT = "kept"  # an entry a failed swap-back left in the private directory: never removed by the write


def _private_dir(target: Path) -> tuple[str, int]:
    """A fresh directory beside ``target`` only this process can write in, and its descriptor.

    ``mkdtemp`` makes it (mode 0700) under a name nobody held; it is then opened without following a
    link and checked to be ours, so that a directory renamed away and replaced by a link (or by someone
    else's directory) in between is never used: another one is made.
    """
    found = "replaced by a link"
    for _ in range(20):
        made = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            fd = os.open(made, DIR_FLAGS)
        except OSError:  # replaced by a link or a file meanwhile
            continue
        st = os.fstat(fd)
        if st.st_uid == os.geteuid() and not stat.S_IMODE(st.st_mode) & 0o077:
            return made, fd
        os.close(fd)
        found = f"owned by uid {st.st_uid} with mode {stat.S_IMODE(st.st_mode):o}"
        with contextlib.suppress(OSError):
            os.rmdir(made)  # ours, if the filesystem maps owners; someone else's is not removed (not empty)
    raise WriteError(
        f"{target}: could not make a private temporary directory beside it: each one made was found "
        f"{found} instead of owned by this process (uid {os.geteuid()}) with mode 700: someone replaces "
        "them in this folder, or its filesystem maps owners and modes (NFS root_squash, FAT, CIFS)",
        errno=errno.EEXIST,
    )


@contextlib.contextmanager
def atomic_path(
    path: str | os.PathLike,
    *,
    overwrite: bool = False,
    directory: bool | None = None,
    on_replaced: Callable[[str, int], None] | None = None,
    fsync: bool | None = None,
) -> Iterator[Path]:
    """Give a temporary path beside ``path``; on success, flush it to disk and rename it into place.

    The writer creates a file (or a directory, e.g. a zarr store) at the yielded path, inside a fresh
    private directory (mode 0700) beside ``path``. On success it is fsynced and renamed to ``path`` in one
    system call (an existing target is swapped with ``renameat2``'s ``RENAME_EXCHANGE`` where Linux offers
    it); the directory entry is then fsynced. If the block raises, the temporary is removed and ``path``
    is untouched.

    Parameters
    ----------
    path : str or path-like
        The target file or directory.
    overwrite : bool
        Whether an existing target may be replaced. Even then only what fluxds recognises as its own
        kind of output is replaced (:mod:`fluxds.io.output.replaceable`: a file of the same format, or a zarr
        store), never a symbolic link, a folder of other files or a file of another kind.
    directory : bool, optional
        Whether the writer makes a directory (True) or a file (False), so that a target of the other kind
        is refused before anything is written; None: checked once the output exists.
    on_replaced : callable, optional
        Called as ``on_replaced(name, dir_fd)`` with the replaced old entry (``name`` relative to the
        directory descriptor ``dir_fd``) just after the new one took its place, before it is removed.
    fsync : bool, optional
        Flush the new output and the directory entry to disk (default: as :func:`durability` says, True
        outside any block). ``False`` skips both ``fsync`` calls: the replacement stays atomic for
        readers (one ``rename``), but after a power loss or a system crash the file may be empty or hold
        old blocks; for scratch files, where the write's time matters more (for a map of hundreds of MB,
        the ``fsync`` is often most of the write).

    Yields
    ------
    pathlib.Path
        Where the writer writes (``<name>.tmp`` in the private directory ``.<name>.<random>.tmp``; on Linux
        reached through the directory's descriptor, valid in this process: dask computes in this process
        inside the block, whatever scheduler is active). It does not exist yet.

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False (checked before and again at the rename), or it is
        not something fluxds may replace.
    WriteError
        If writing fails in the system or a library (disk full, file-size limit, I/O error): names the
        target and the cause, with its ``errno``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
    ('hello', ['a.txt'])
    """
    fsync = _DURABLE.get() if fsync is None else fsync
    target = Path(path)
    if target.name in ("", ".", ".."):
        raise WriteError(f"{target}: not a file name to write to")
    check_replaceable(target, overwrite=overwrite, directory=directory)
    tmp = target
    dir_fd = None
    made = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        made, dir_fd = _private_dir(target)
        inner = f"{target.name}.tmp"
        through_fd = Path(f"/proc/self/fd/{dir_fd}")
        try:
            same = os.stat(through_fd).st_ino == os.fstat(dir_fd).st_ino
        except OSError:
            same = False
        tmp = (through_fd if same else Path(made)) / inner
        with dask_in_this_process():
            yield tmp
        try:
            st = os.stat(inner, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise WriteError(f"{target}: the writer created nothing") from None
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (is_dir or stat.S_ISREG(st.st_mode)):
            raise WriteError(f"{target}: the writer made neither a file nor a directory")
        if fsync and is_dir:
            fsync_tree(inner, dir_fd)
        elif fsync:
            fsync_entry(inner, dir_fd)
        if overwrite:
            replace(dir_fd, inner, target, is_dir, on_replaced, kept=KEPT)
        else:
            place_new(dir_fd, inner, target, is_dir)
    except BaseException as exc:
        if is_library_error(exc):
            raise write_error(target, exc, tmp, dir_fd) from exc
        if is_persisted_data_error(exc):
            raise persisted_data_error(target, exc) from exc
        raise
    finally:
        if dir_fd is not None:
            for name in os.listdir(dir_fd):
                if name != KEPT:
                    remove_entry(name, dir_fd)
            with contextlib.suppress(OSError):  # only if the name is still our directory
                if os.stat(made, follow_symlinks=False).st_ino == os.fstat(dir_fd).st_ino:
                    os.rmdir(made)
            os.close(dir_fd)
    if fsync:
        fsync_dir(target.parent)


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """The temporaries that writes of ``path`` left behind (``.<name>.*.tmp`` beside it).

    A write removes its own temporary (a private directory; older fluxds versions left files of that
    name) on success and on error; one is left only by a killed process (or belongs to a write still
    running).

    Parameters
    ----------
    path : str or path-like
        The target file or directory of the writes.

    Returns
    -------
    list of pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".sed.fits.abc123.tmp").write_bytes(b"half a file")
    >>> [p.name for p in stale_temporaries(folder / "sed.fits")]
    ['.sed.fits.abc123.tmp']
    """
    target = Path(path)
    if not target.parent.is_dir():
        return []
    return sorted(target.parent.glob(f".{_glob_escape(target.name)}.*.tmp"))


def remove_stale_temporaries(path: str | os.PathLike, *, older_than: float = 3600.0) -> list[Path]:
    """Remove the temporaries of ``path`` whose last change is older than ``older_than`` seconds.

    Parameters
    ----------
    path : str or path-like
        The target file or directory of the writes.
    older_than : float
        Age in seconds; choose it longer than any write of this file can last, so that the temporary of
        a write still running elsewhere is spared.

    Returns
    -------
    list of pathlib.Path
        The temporaries removed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / ".sed.fits.abc123.tmp").write_bytes(b"half a file")
    >>> [p.name for p in remove_stale_temporaries(folder / "sed.fits", older_than=0)]
    ['.sed.fits.abc123.tmp']
    >>> stale_temporaries(folder / "sed.fits")
    []
    """
    now = time.time()
    removed = []
    for tmp in stale_temporaries(path):
        try:
            age = now - _last_change(tmp)
        except FileNotFoundError:
            continue
        if age >= older_than and not os.path.lexists(tmp / KEPT):  # never what a failed swap kept
            remove_path(tmp)
            removed.append(tmp)
    return removed


def _last_change(path: Path) -> float:
    """The latest modification time (s since the epoch) of ``path`` and, for a directory (the private
    directory of a write), of everything under it: a write still running keeps its temporary young."""
    latest = path.lstat().st_mtime
    if path.is_dir() and not path.is_symlink():
        for dirpath, dirnames, filenames in os.walk(path):
            for name in dirnames + filenames:
                with contextlib.suppress(OSError):
                    latest = max(latest, os.lstat(os.path.join(dirpath, name)).st_mtime)
    return latest


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
