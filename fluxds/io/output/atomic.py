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
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fluxds.errors import FluxdsError, OverwriteError, WriteError
from fluxds.io.output.replaceable import check_replaceable, refusal, signature

__all__ = ["atomic_path", "stale_temporaries", "remove_stale_temporaries"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
KEPT = "kept"  # an entry a failed swap-back left in the private directory: never removed by the write
# the libraries fluxds writes with: a RuntimeError raised in them is a write failure (WriteError)
_LIBRARIES = {"netCDF4", "h5py", "h5netcdf", "xarray", "zarr", "numcodecs", "astropy", "matplotlib"}
_FULL = 2**20  # free bytes under which a write failing without an errno is put down to a full disk


def _renameat2(src_fd: int, src: str, dst: Path, flags: int) -> bool:
    """Linux ``renameat2`` of ``src`` (relative to ``src_fd``) to ``dst``; False when the kernel, libc or
    filesystem does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(src_fd, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dst))
    if err == errno.ENOENT:
        raise FileNotFoundError(err, os.strerror(err), str(dst))
    raise OSError(err, os.strerror(err), str(dst))


def _fsync_fd_entry(name: str, dir_fd: int, *, directory: bool = False) -> None:
    fd = os.open(
        name, (_DIR_FLAGS if directory else os.O_RDONLY | os.O_NOFOLLOW) | os.O_CLOEXEC, dir_fd=dir_fd
    )
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some filesystems refuse fsync on a directory; a file must be synced
            raise
    finally:
        os.close(fd)


def _fsync_tree(name: str, dir_fd: int) -> None:
    """fsync every file and directory of a tree (a zarr store), never following a link."""
    for _, _, filenames, sub_fd in os.fwalk(name, dir_fd=dir_fd):
        for file in filenames:
            if stat.S_ISREG(os.stat(file, dir_fd=sub_fd, follow_symlinks=False).st_mode):
                _fsync_fd_entry(file, sub_fd)
        with contextlib.suppress(OSError):
            os.fsync(sub_fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, _DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_entry(name: str, dir_fd: int) -> None:
    """Remove ``name`` (a file, link or tree) relative to ``dir_fd``, never following a link."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=dir_fd, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name, dir_fd=dir_fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _head(name: str, dir_fd: int | None) -> bytes:
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return b""
    try:
        return os.pread(fd, 4096, 0) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    finally:
        os.close(fd)


def _kind_refusal(old: str, old_fd: int | None, new: str, new_fd: int, is_dir: bool) -> str | None:
    """Why the entry ``old`` may not be replaced by the complete new output ``new``, or None."""
    why = refusal(old, old_fd, directory=is_dir)
    if why or is_dir:
        return why
    old_head = _head(old, old_fd)
    if not old_head:
        return None  # an empty file: nothing to lose
    old_kind, new_kind = signature(old_head), signature(_head(new, new_fd))
    if old_kind != new_kind:
        return (
            f"holds {old_kind} data, and this write makes {new_kind or 'another kind of file'}; "
            "fluxds replaces a file only with one of the same format: remove it or choose another name"
        )
    return None


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _place_new(dir_fd: int, inner: str, target: Path, is_dir: bool) -> None:
    """Rename the new output ``inner`` to ``target``, failing if ``target`` exists (never clobbers)."""
    appeared = f"{target}: appeared while writing; pass overwrite=True to replace it"
    try:
        if _renameat2(dir_fd, inner, target, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise OverwriteError(appeared) from None
    if is_dir:
        if _exists(target):
            raise OverwriteError(appeared)
        os.rename(inner, target, src_dir_fd=dir_fd)  # an existing non-empty directory makes this fail
        return
    try:
        os.link(inner, target, src_dir_fd=dir_fd, follow_symlinks=False)  # link() fails if target exists
    except FileExistsError:
        raise OverwriteError(appeared) from None
    except OSError:
        if _exists(target):
            raise
        os.replace(inner, target, src_dir_fd=dir_fd)  # filesystems without hard links


def _swap_back(dir_fd: int, inner: str, target: Path, why: str) -> None:
    """Put the old entry, swapped out to ``inner``, back under ``target`` (the new output returns to
    ``inner``, removed with the private directory); if that fails, keep it as :data:`KEPT` and raise a
    :class:`WriteError` saying where: an old entry is never deleted."""
    try:
        _renameat2(dir_fd, inner, target, _RENAME_EXCHANGE)
    except OSError as exc:
        os.rename(inner, KEPT, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        raise WriteError(
            f"{target}: {why}; it was swapped out and could not be put back ({exc}): it is "
            f"kept as {KEPT} in the temporary directory .{target.name}.*.tmp beside it",
            errno=exc.errno,
        ) from None


def _replace(
    dir_fd: int, inner: str, target: Path, is_dir: bool, on_replaced: Callable[[str, int], None] | None
) -> None:
    """Swap the new output ``inner`` in for ``target`` in one system call, after checking what it replaces.

    With ``renameat2(RENAME_EXCHANGE)`` the old entry lands in the private directory, where it is checked
    (:func:`_kind_refusal`) and swapped back if it is not something fluxds may replace; without it (other
    systems), the target is checked first, then replaced (a directory is moved aside into the private
    directory first). The old entry is removed with the private directory.
    """
    old = "old"
    for _ in range(5):  # the target may vanish or appear meanwhile (other writers)
        if not _exists(target):
            try:
                _place_new(dir_fd, inner, target, is_dir)
                return
            except OverwriteError:
                continue
        try:
            exchanged = _renameat2(dir_fd, inner, target, _RENAME_EXCHANGE)
        except FileNotFoundError:
            continue
        if exchanged:  # ``inner`` now holds the old entry, out of anybody else's reach
            try:
                why = _kind_refusal(inner, dir_fd, str(target), None, is_dir)
            except BaseException as exc:  # the check failed (I/O error, interrupt): the old entry goes back
                _swap_back(dir_fd, inner, target, f"checking it failed ({type(exc).__name__}: {exc})")
                raise
            if why:
                _swap_back(dir_fd, inner, target, why)
                raise OverwriteError(f"{target}: {why}")
            os.rename(inner, old, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            break
        # no atomic exchange on this system
        why = _kind_refusal(str(target), None, inner, dir_fd, is_dir)
        if why:
            raise OverwriteError(f"{target}: {why}")
        if is_dir:
            os.rename(target, old, dst_dir_fd=dir_fd)
            try:
                os.rename(inner, target, src_dir_fd=dir_fd)
            except BaseException:
                os.rename(old, target, src_dir_fd=dir_fd)
                raise
        else:
            with contextlib.suppress(OSError):  # keep the old file for ``on_replaced``
                os.link(target, old, dst_dir_fd=dir_fd, follow_symlinks=False)
            os.replace(inner, target, src_dir_fd=dir_fd)
        break
    else:
        raise OverwriteError(f"{target}: kept changing while being replaced (another writer?)")
    if on_replaced is not None:
        try:
            os.stat(old, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return  # no hard link of the old file could be kept (fallback of other systems)
        on_replaced(old, dir_fd)


_LOCAL_SCHEDULERS = {"sync", "synchronous", "single-threaded", "threads", "threading"}
_dask_lock = threading.Lock()
_dask_users = 0  # writes running with dask's scheduler set to this process's threads
_dask_setting: contextlib.AbstractContextManager | None = None


def _computes_elsewhere(dask) -> bool:
    """Whether dask would compute outside this process: a ``dask.distributed`` client (or a task of a
    worker, whose compute goes to the cluster), the multiprocessing scheduler or a process pool."""
    chosen = dask.config.get("scheduler", None)
    if chosen is None:
        distributed = sys.modules.get("distributed")
        if distributed is None:
            return False  # no client can exist
        with contextlib.suppress(ValueError):
            distributed.get_worker()
            return True
        try:
            distributed.Client.current(allow_global=True)
        except ValueError:
            return False
        return True
    if isinstance(chosen, str):
        return chosen.lower() not in _LOCAL_SCHEDULERS
    import concurrent.futures

    if isinstance(chosen, concurrent.futures.ProcessPoolExecutor):
        return True
    multiprocessing = sys.modules.get("dask.multiprocessing")
    if multiprocessing is not None and chosen is multiprocessing.get:
        return True
    distributed = sys.modules.get("distributed")
    if distributed is not None and (
        isinstance(chosen, distributed.Client)
        or isinstance(getattr(chosen, "__self__", None), distributed.Client)
    ):
        return True
    return False  # the threaded or synchronous scheduler, a thread pool, or a caller's own function here


@contextlib.contextmanager
def _dask_in_this_process() -> Iterator[None]:
    """dask computes in this process's threads inside: the path :func:`atomic_path` yields is valid in
    this process only, and a worker of a cluster handed it would write nowhere (or somewhere else).

    dask's configuration is global: it is set (``scheduler="threads"``) by the first of the writes running
    at once that needs it and restored by the last, under a lock; left as it is when dask already computes
    here (its default without a client, the threaded and synchronous schedulers) or is not imported.
    """
    global _dask_users, _dask_setting
    dask = sys.modules.get("dask")
    if dask is None or not hasattr(dask, "config"):  # no dask array can exist
        yield
        return
    with _dask_lock:
        joined = _dask_users > 0 or _computes_elsewhere(dask)
        if joined:
            if _dask_users == 0:
                _dask_setting = dask.config.set(scheduler="threads")
            _dask_users += 1
    try:
        yield
    finally:
        if joined:
            with _dask_lock:
                _dask_users -= 1
                if _dask_users == 0 and _dask_setting is not None:
                    _dask_setting.__exit__(None, None, None)
                    _dask_setting = None


def _write_error(target: Path, exc: BaseException, tmp: Path, dir_fd: int | None) -> WriteError:
    """A :class:`WriteError` naming ``target`` and the cause of ``exc`` (a library's error)."""
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
        and _largest(dir_fd) >= size_limit - 4096
    ):
        err = errno.EFBIG
    if err is None and free is not None and free < _FULL:
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


def _largest(dir_fd: int) -> int:
    """Size in bytes of the largest file under the directory open at ``dir_fd``."""
    largest = 0
    with contextlib.suppress(OSError):
        for _, _, files, sub_fd in os.fwalk(".", dir_fd=dir_fd):
            for file in files:
                with contextlib.suppress(OSError):
                    largest = max(largest, os.stat(file, dir_fd=sub_fd, follow_symlinks=False).st_size)
    return largest


def _is_library_error(exc: BaseException) -> bool:
    """An error of the system, or a ``RuntimeError`` raised by a writing library (netCDF-C's "NetCDF:
    HDF error", h5py's "Can't decrement id ref count (unable to extend file ...)"); not a refusal, and
    not an error raised by fluxds's own code or by the caller's, which propagates as it is."""
    if isinstance(exc, FluxdsError):
        return False
    if isinstance(exc, OSError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
    return module.partition(".")[0] in _LIBRARIES or bool(re.search(r"NetCDF: |HDF error", str(exc)))


def _is_persisted_data_error(exc: BaseException) -> bool:
    """Whether dask's local scheduler failed on chunks held by a ``dask.distributed`` cluster (a Dataset
    persisted there: its graph names chunks only the cluster holds)."""
    if not isinstance(exc, ValueError) or "distributed" not in sys.modules:
        return False
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", "")) if tb is not None else ""
    return module.startswith("dask.") and str(exc).startswith("Missing dependency")


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
            fd = os.open(made, _DIR_FLAGS)
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
        with _dask_in_this_process():
            yield tmp
        try:
            st = os.stat(inner, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            raise WriteError(f"{target}: the writer created nothing") from None
        is_dir = stat.S_ISDIR(st.st_mode)
        if not (is_dir or stat.S_ISREG(st.st_mode)):
            raise WriteError(f"{target}: the writer made neither a file nor a directory")
        if is_dir:
            _fsync_tree(inner, dir_fd)
        else:
            _fsync_fd_entry(inner, dir_fd)
        if overwrite:
            _replace(dir_fd, inner, target, is_dir, on_replaced)
        else:
            _place_new(dir_fd, inner, target, is_dir)
    except BaseException as exc:
        if _is_library_error(exc):
            raise _write_error(target, exc, tmp, dir_fd) from exc
        if _is_persisted_data_error(exc):
            raise WriteError(
                f"{target}: cannot write: the Dataset holds data persisted on a dask.distributed cluster "
                "(.persist()), which fluxds cannot compute in this process, where every write is "
                "computed (its temporary is reachable from this process only): .compute() the Dataset "
                f"first if it fits in memory, or write it before persisting ({exc})"
            ) from exc
        raise
    finally:
        if dir_fd is not None:
            for name in os.listdir(dir_fd):
                if name != KEPT:
                    _remove_entry(name, dir_fd)
            with contextlib.suppress(OSError):  # only if the name is still our directory
                if os.stat(made, follow_symlinks=False).st_ino == os.fstat(dir_fd).st_ino:
                    os.rmdir(made)
            os.close(dir_fd)
    _fsync_dir(target.parent)


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
            _remove(tmp)
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
