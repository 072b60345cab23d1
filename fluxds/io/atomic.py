"""Atomic writes: a reader never sees half a file, an interrupted write leaves the old file intact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fluxds.errors import OverwriteError

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Give a temporary path beside ``path``; on success, flush it to disk and rename it into place.

    Parameters
    ----------
    path : str or path-like
        The target file.
    overwrite : bool
        Whether an existing target may be replaced.

    Yields
    ------
    pathlib.Path
        Where the writer writes. It is removed if the block raises.

    Raises
    ------
    OverwriteError
        If ``path`` exists and ``overwrite`` is False (checked before and again just before the rename).
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
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            # link() fails if the target appeared meanwhile: never clobber a file we were not told to
            try:
                os.link(tmp, target)
            except FileExistsError:
                raise OverwriteError(
                    f"{target}: file appeared while writing; pass overwrite=True to replace it"
                ) from None
            except OSError:
                if target.exists():
                    raise
                os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    with contextlib.suppress(OSError):
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
