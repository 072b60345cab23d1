"""Atomic writes: a reader never sees half a file, an interrupted write leaves the old file intact.

Every fluxds writer writes into a temporary path beside the target (a dot-file
``.<name>.<random>.tmp`` in the same directory, hence on the same filesystem), flushes it to disk and
renames it into place; a file (or a directory, such as a zarr store) is swapped in by one ``rename``
system call, so the target name always holds either the complete old content or the complete new one.

Stale temporaries: a process killed while writing (SIGKILL, power loss) leaves its temporary behind.
A later write does **not** remove it, because a temporary of a dead writer cannot be told from the
temporary of a writer still running in another process or on another host sharing the directory. They
are hidden dot-files, never read by fluxds; :func:`stale_temporaries` lists them and
:func:`remove_stale_temporaries` removes those older than an age you choose.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from fluxds.errors import OverwriteError

__all__ = ["atomic_path", "stale_temporaries", "remove_stale_temporaries"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
_RENAME_EXCHANGE = 2


def _renameat2(src: Path, dst: Path, flags: int) -> bool:
    """Linux ``renameat2``; False when the kernel, libc or filesystem does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(_AT_FDCWD, os.fsencode(src), _AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dst))
    raise OSError(err, os.strerror(err), str(src))


def _fsync_path(path: Path, *, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some filesystems refuse fsync on a directory; a file must be synced
            raise
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """fsync every file and directory of a tree (a zarr store), children first."""
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for name in filenames:
            _fsync_path(Path(dirpath) / name)
        _fsync_path(Path(dirpath), directory=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _place_new(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, failing if ``target`` exists (never clobbers)."""
    try:
        if _renameat2(tmp, target, _RENAME_NOREPLACE):
            return
    except FileExistsError:
        raise OverwriteError(f"{target}: appeared while writing; pass overwrite=True to replace it") from None
    if tmp.is_dir():
        if target.exists():
            raise OverwriteError(f"{target}: appeared while writing; pass overwrite=True to replace it")
        os.rename(tmp, target)  # an existing non-empty directory makes this fail: still no clobbering
        return
    try:
        os.link(tmp, target)  # link() fails if the target exists
    except FileExistsError:
        raise OverwriteError(f"{target}: appeared while writing; pass overwrite=True to replace it") from None
    except OSError:
        if target.exists():
            raise
        os.replace(tmp, target)  # filesystems without hard links


def _replace(tmp: Path, target: Path) -> None:
    """Swap ``tmp`` in for ``target`` in one system call; for a directory, the old tree is removed after."""
    if not tmp.is_dir():
        os.replace(tmp, target)
        return
    if not target.exists():
        _place_new(tmp, target)
        return
    if _renameat2(tmp, target, _RENAME_EXCHANGE):
        _remove(tmp)  # tmp now holds the old store
        return
    # no atomic exchange on this system: move the old store aside, the new one in, then drop the old
    old = target.with_name(f".{target.name}.old-{tmp.name.lstrip('.')}")
    os.rename(target, old)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(old, target)
        raise
    _remove(old)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Give a temporary path beside ``path``; on success, flush it to disk and rename it into place.

    The writer creates a file (or a directory, e.g. a zarr store) at the yielded path. On success it is
    fsynced and renamed to ``path`` in one system call (a directory is swapped with ``renameat2``'s
    ``RENAME_EXCHANGE`` where Linux offers it); the directory entry is then fsynced. If the block
    raises, the temporary is removed and ``path`` is untouched.

    Parameters
    ----------
    path : str or path-like
        The target file or directory.
    overwrite : bool
        Whether an existing target may be replaced.

    Yields
    ------
    pathlib.Path
        Where the writer writes (``.<name>.<random>.tmp`` in the target's directory; it does not exist
        yet).

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False (checked before and again at the rename).

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
    if target.exists() and not overwrite:
        raise OverwriteError(f"{target}: file exists; pass overwrite=True to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # writers create the file themselves (some refuse an existing one)
    try:
        yield tmp
        if tmp.is_dir():
            _fsync_tree(tmp)
        else:
            _fsync_path(tmp)
        if overwrite:
            _replace(tmp, target)
        else:
            _place_new(tmp, target)
    finally:
        _remove(tmp)
    with contextlib.suppress(OSError):
        _fsync_path(target.parent, directory=True)


def stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """The temporaries that writes of ``path`` left behind (``.<name>.*.tmp`` beside it).

    A write removes its own temporary on success and on error; one is left only by a killed process (or
    belongs to a write still running).

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
            age = now - tmp.lstat().st_mtime
        except FileNotFoundError:
            continue
        if age >= older_than:
            _remove(tmp)
            removed.append(tmp)
    return removed


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)
