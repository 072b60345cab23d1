"""File operations relative to an open directory descriptor, never following a symbolic link: Linux's
``renameat2`` (exchange, no-replace), fsync of an entry, a tree or a directory, removal, the first bytes of
a file. The building blocks of :mod:`fluxds.io.output.atomic`."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import stat
from pathlib import Path

__all__ = [
    "AT_FDCWD",
    "RENAME_NOREPLACE",
    "RENAME_EXCHANGE",
    "DIR_FLAGS",
    "renameat2",
    "fsync_entry",
    "fsync_tree",
    "fsync_dir",
    "remove_entry",
    "remove_path",
    "read_head",
]

#: ``renameat2``'s "relative to the working directory" descriptor (for an absolute destination)
AT_FDCWD = -100
#: ``renameat2`` flag: fail if the destination exists
RENAME_NOREPLACE = 1
#: ``renameat2`` flag: swap source and destination atomically (both must exist)
RENAME_EXCHANGE = 2
#: flags to open a directory for descriptor-relative work, refusing a symbolic link
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def renameat2(src_fd: int, src: str, dst: Path, flags: int) -> bool:
    """Linux ``renameat2`` of ``src`` (relative to ``src_fd``) to ``dst``; False when the kernel, libc or
    filesystem does not offer it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.renameat2
    except (OSError, AttributeError):
        return False
    func.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if func(src_fd, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), str(dst))
    if err == errno.ENOENT:
        raise FileNotFoundError(err, os.strerror(err), str(dst))
    raise OSError(err, os.strerror(err), str(dst))


def fsync_entry(name: str, dir_fd: int, *, directory: bool = False) -> None:
    """fsync the file (``directory``: the directory) ``name`` relative to ``dir_fd``, without following a
    link; a directory the filesystem refuses to fsync is let be."""
    fd = os.open(
        name, (DIR_FLAGS if directory else os.O_RDONLY | os.O_NOFOLLOW) | os.O_CLOEXEC, dir_fd=dir_fd
    )
    try:
        os.fsync(fd)
    except OSError:
        if not directory:  # some filesystems refuse fsync on a directory; a file must be synced
            raise
    finally:
        os.close(fd)


def fsync_tree(name: str, dir_fd: int) -> None:
    """fsync every file and directory of a tree (a zarr store), never following a link."""
    for _, _, filenames, sub_fd in os.fwalk(name, dir_fd=dir_fd):
        for file in filenames:
            if stat.S_ISREG(os.stat(file, dir_fd=sub_fd, follow_symlinks=False).st_mode):
                fsync_entry(file, sub_fd)
        with contextlib.suppress(OSError):
            os.fsync(sub_fd)


def fsync_dir(path: Path) -> None:
    """fsync the directory ``path`` (its entries), if the system lets it be opened and synced."""
    with contextlib.suppress(OSError):
        fd = os.open(path, DIR_FLAGS)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_entry(name: str, dir_fd: int) -> None:
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


def remove_path(path: Path) -> None:
    """Remove ``path``: a directory tree (not a link to one), or a file or link; gone already is fine."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def read_head(name: str, dir_fd: int | None) -> bytes:
    """The first 4096 bytes of the regular file ``name`` (relative to ``dir_fd``; None: the working
    directory), without following a link or blocking on a special file; ``b""`` for anything else."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return b""
    try:
        return os.pread(fd, 4096, 0) if stat.S_ISREG(os.fstat(fd).st_mode) else b""
    finally:
        os.close(fd)
