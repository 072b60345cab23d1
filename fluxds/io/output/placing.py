"""Putting a finished output under its target name in one system call: a new entry without ever
clobbering one that appeared meanwhile (:func:`place_new`), or an exchange with the old entry
(:func:`replace`), which is checked once out of anybody else's reach and swapped back if fluxds may not
replace it (:mod:`fluxds.io.output.replaceable`). Used by :func:`fluxds.io.output.atomic.atomic_path`."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

from fluxds.errors import OverwriteError, WriteError
from fluxds.io.output.dirfd import RENAME_EXCHANGE, RENAME_NOREPLACE, read_head, renameat2
from fluxds.io.output.replaceable import refusal, signature

__all__ = ["kind_refusal", "place_new", "replace"]


def kind_refusal(old: str, old_fd: int | None, new: str, new_fd: int, is_dir: bool) -> str | None:
    """Why the entry ``old`` may not be replaced by the complete new output ``new``, or None."""
    why = refusal(old, old_fd, directory=is_dir)
    if why or is_dir:
        return why
    old_head = read_head(old, old_fd)
    if not old_head:
        return None  # an empty file: nothing to lose
    old_kind, new_kind = signature(old_head), signature(read_head(new, new_fd))
    if old_kind != new_kind:
        return (
            f"holds {old_kind} data, and this write makes {new_kind or 'another kind of file'}; "
            "fluxds replaces a file only with one of the same format: remove it or choose another name"
        )
    return None


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def place_new(dir_fd: int, inner: str, target: Path, is_dir: bool) -> None:
    """Rename the new output ``inner`` to ``target``, failing if ``target`` exists (never clobbers)."""
    appeared = f"{target}: appeared while writing; pass overwrite=True to replace it"
    try:
        if renameat2(dir_fd, inner, target, RENAME_NOREPLACE):
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


def _swap_back(dir_fd: int, inner: str, target: Path, why: str, kept: str) -> None:
    """Put the old entry, swapped out to ``inner``, back under ``target`` (the new output returns to
    ``inner``, removed with the private directory); if that fails, keep it as ``kept`` and raise a
    :class:`WriteError` saying where: an old entry is never deleted."""
    try:
        renameat2(dir_fd, inner, target, RENAME_EXCHANGE)
    except OSError as exc:
        os.rename(inner, kept, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        raise WriteError(
            f"{target}: {why}; it was swapped out and could not be put back ({exc}): it is "
            f"kept as {kept} in the temporary directory .{target.name}.*.tmp beside it",
            errno=exc.errno,
        ) from None


def replace(
    dir_fd: int,
    inner: str,
    target: Path,
    is_dir: bool,
    on_replaced: Callable[[str, int], None] | None,
    *,
    kept: str,
) -> None:
    """Swap the new output ``inner`` in for ``target`` in one system call, after checking what it replaces.

    With ``renameat2(RENAME_EXCHANGE)`` the old entry lands in the private directory, where it is checked
    (:func:`kind_refusal`) and swapped back if it is not something fluxds may replace; without it (other
    systems), the target is checked first, then replaced (a directory is moved aside into the private
    directory first). The old entry is removed with the private directory.

    Parameters
    ----------
    dir_fd : int
        Descriptor of the private directory of the write, which holds ``inner``.
    inner : str
        Name of the complete new output in the private directory.
    target : pathlib.Path
        The name to put it under.
    is_dir : bool
        Whether the new output is a directory (a zarr store).
    on_replaced : callable, optional
        Called as ``on_replaced(name, dir_fd)`` with the replaced old entry, before it is removed.
    kept : str
        The name in the private directory under which an old entry that could not be swapped back is
        kept (the caller never removes it).
    """
    old = "old"
    for _ in range(5):  # the target may vanish or appear meanwhile (other writers)
        if not _exists(target):
            try:
                place_new(dir_fd, inner, target, is_dir)
                return
            except OverwriteError:
                continue
        try:
            exchanged = renameat2(dir_fd, inner, target, RENAME_EXCHANGE)
        except FileNotFoundError:
            continue
        if exchanged:  # ``inner`` now holds the old entry, out of anybody else's reach
            try:
                why = kind_refusal(inner, dir_fd, str(target), None, is_dir)
            except BaseException as exc:  # the check failed (I/O error, interrupt): the old entry goes back
                _swap_back(dir_fd, inner, target, f"checking it failed ({type(exc).__name__}: {exc})", kept)
                raise
            if why:
                _swap_back(dir_fd, inner, target, why, kept)
                raise OverwriteError(f"{target}: {why}")
            os.rename(inner, old, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            break
        # no atomic exchange on this system
        why = kind_refusal(str(target), None, inner, dir_fd, is_dir)
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
