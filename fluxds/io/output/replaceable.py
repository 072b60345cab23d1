"""What an overwrite may replace: only what fluxds can recognise as its own kind of output.

``overwrite=True`` replaces a regular file whose first bytes are those of a format fluxds writes (FITS,
HDF5/netCDF-4, ECSV, the images of ``fluxds plot``), an empty regular file, or a directory that is a zarr
store (zarr metadata at its top and nothing but zarr entries). Anything else (a symbolic link, a folder
holding a ``thesis.tex``, a FIFO, a text file) is refused: :func:`refusal` says why.

Everything here works on open descriptors or ``lstat``, never following a symbolic link.
"""

from __future__ import annotations

import json
import os
import re
import stat

from fluxds.errors import OverwriteError, WriteError

__all__ = ["signature", "refusal", "zarr_refusal", "check_replaceable"]

# first bytes of the files fluxds writes (and of the images fluxds plot writes through matplotlib)
_SIGNATURES = (
    (b"SIMPLE  =", "FITS"),
    (b"\x89HDF\r\n\x1a\n", "HDF5"),
    (b"CDF\x01", "netCDF-3"),
    (b"CDF\x02", "netCDF-3"),
    (b"CDF\x05", "netCDF-3"),
    (b"# %ECSV", "ECSV"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"%PDF-", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x1f\x8b", "gzip"),
)
_HEAD = 4096
_MAX_JSON = 64 * 2**20  # bytes of zarr.json read to tell a group from an array
_ZARR_TOP = {"zarr.json", ".zgroup", ".zmetadata"}
_ZARR_META = {"zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata"}
_CHUNK_NAME = re.compile(r"^(c|\d+(\.\d+)*)$")
_CHUNK_INDEX = re.compile(r"^\d+$")


def signature(head: bytes) -> str | None:
    """The kind of file whose first bytes are ``head`` (``"FITS"``, ``"HDF5"``, ...), or None.

    Parameters
    ----------
    head : bytes
        The first bytes of the file (4 kB suffice).

    Returns
    -------
    str or None

    Examples
    --------
    >>> signature(b"SIMPLE  =                    T"), signature(b"\\\\documentclass{article}")
    ('FITS', None)
    """
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "WebP"
    text = head.lstrip()
    if text.startswith((b"<?xml", b"<svg")) and b"<svg" in head:
        return "SVG"
    return None


def _read_head(name: str, dir_fd: int | None) -> tuple[os.stat_result, bytes]:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return st, b""
        return st, os.pread(fd, _HEAD, 0)
    finally:
        os.close(fd)


def _metadata(dir_fd: int, name: str) -> dict | None:
    """The zarr metadata file ``name`` (``zarr.json``, ``.zarray``) of the directory open at ``dir_fd``,
    parsed; None if it is not a JSON object fluxds can read (too large, too deeply nested, not JSON)."""
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_JSON:
            return None
        with os.fdopen(os.dup(fd), "rb") as handle:
            text = handle.read(_MAX_JSON)
    finally:
        os.close(fd)
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested too deeply for the parser
        return None
    return meta if isinstance(meta, dict) else None


def _chunk_folder(dir_fd: int, levels: int) -> str | None:
    """Why the chunk folder open at ``dir_fd`` holds anything but chunks (files and folders named by
    chunk indices, folders at most ``levels`` deep)."""
    for name in os.listdir(dir_fd):
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if not _CHUNK_INDEX.match(name) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
            return f"holds {name!r}, which is not a zarr chunk"
        if stat.S_ISDIR(st.st_mode):
            if levels <= 1:
                return f"holds {name!r}, a folder deeper than the array's chunks"
            sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
            try:
                why = _chunk_folder(sub, levels - 1)
            finally:
                os.close(sub)
            if why:
                return f"{name}/ {why}"
    return None


def _array_dims(dir_fd: int, names: list[str]) -> int | str | None:
    """The number of dimensions of the zarr array in the directory open at ``dir_fd``, None if it is a
    group, or why its metadata are not zarr metadata."""
    file = "zarr.json" if "zarr.json" in names else ".zarray" if ".zarray" in names else None
    if file is None:
        return None
    meta = _metadata(dir_fd, file)
    if meta is None:
        return f"holds a {file} that is not zarr metadata fluxds can read"
    if file == "zarr.json" and meta.get("node_type") == "group":
        return None
    shape = meta.get("shape")
    if (
        (file == ".zarray" or meta.get("node_type") == "array")
        and isinstance(shape, list)
        and len(shape) <= 64
    ):
        return len(shape)
    return f"holds a {file} that is not the metadata of a zarr group or array"


def _is_zarr_node(dir_fd: int, depth: int) -> str | None:
    """Why the directory open at ``dir_fd`` is not a zarr group or array holding only zarr entries."""
    names = os.listdir(dir_fd)
    if not _ZARR_META & set(names):
        return "holds no zarr metadata (zarr.json, .zgroup or .zarray)"
    ndim = _array_dims(dir_fd, names)
    if isinstance(ndim, str):
        return ndim
    for name in names:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            return f"holds {name!r}, a symbolic link"
        if name in _ZARR_META:
            if not stat.S_ISREG(st.st_mode):
                return f"holds {name!r}, which is not a regular file"
            continue
        if ndim is not None:  # an array: chunks only ("0.1", "c/0/1", "0/1")
            if not _CHUNK_NAME.match(name) or not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                return f"holds {name!r}, which is not a zarr chunk"
            if stat.S_ISDIR(st.st_mode):
                levels = ndim if name == "c" else ndim - 1
                if levels < 1:
                    return f"holds {name!r}, a folder where the array has no chunk folders"
                sub = os.open(
                    name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
                )
                try:
                    why = _chunk_folder(sub, levels)
                finally:
                    os.close(sub)
                if why:
                    return f"{name}/ {why}"
            continue
        if not stat.S_ISDIR(st.st_mode):
            return f"holds {name!r}, which is not a zarr entry"
        if depth >= 3:
            return f"holds {name!r}, nested deeper than the zarr stores fluxds writes"
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            why = _is_zarr_node(sub, depth + 1)
        finally:
            os.close(sub)
        if why:
            return f"{name}/ {why}"
    return None


def zarr_refusal(dir_fd: int) -> str | None:
    """Why the directory open at ``dir_fd`` is not a zarr store fluxds may replace, or None if it is.

    A zarr store has ``zarr.json``, ``.zgroup`` or ``.zmetadata`` at its top, and nothing but zarr
    metadata, array directories and chunks (no other file, no symbolic link).

    Parameters
    ----------
    dir_fd : int
        A descriptor of the directory, opened with ``O_DIRECTORY | O_NOFOLLOW``.

    Returns
    -------
    str or None
    """
    names = set(os.listdir(dir_fd))
    if not _ZARR_TOP & names:
        shown = ", ".join(sorted(names)[:5]) or "nothing"
        return f"is a directory but not a zarr store (no zarr.json or .zgroup at its top; it holds {shown})"
    why = _is_zarr_node(dir_fd, 1)
    return f"is not a zarr store fluxds wrote: it {why}" if why else None


def refusal(name: str, dir_fd: int | None = None, *, directory: bool | None = None) -> str | None:
    """Why the existing entry ``name`` may not be replaced by an overwrite, or None if it may.

    Parameters
    ----------
    name : str
        The entry (a path, or a name relative to ``dir_fd``); never followed if it is a symbolic link.
    dir_fd : int, optional
        A directory descriptor ``name`` is relative to.
    directory : bool, optional
        Whether the new output is a directory (True), a file (False), or not known yet (None).

    Returns
    -------
    str or None
        The reason, to follow the path in an error message (``"<path>: <reason>"``).
    """
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return (
            "is a symbolic link; fluxds neither writes through a link nor replaces one: remove the link, "
            "or write to the file it points to"
        )
    if stat.S_ISDIR(st.st_mode):
        if directory is False:
            return "is a directory, and this write makes a file"
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            return zarr_refusal(fd)
        finally:
            os.close(fd)
    if not stat.S_ISREG(st.st_mode):
        return "is neither a regular file nor a directory (a FIFO, socket or device)"
    if directory is True:
        return "is a file, and this write makes a directory (a zarr store)"
    _, head = _read_head(name, dir_fd)
    if not head or signature(head):
        return None
    return (
        "is not a file fluxds writes (its first bytes are of no format fluxds writes); "
        "fluxds replaces only its own kind of output: remove it or choose another name"
    )


def check_replaceable(path: str | os.PathLike, *, overwrite: bool, directory: bool | None = None) -> None:
    """Refuse, before anything is written, a write that may not replace what ``path`` holds.

    Parameters
    ----------
    path : str or path-like
        The target of the write.
    overwrite : bool
        Whether an existing target may be replaced at all.
    directory : bool, optional
        As for :func:`refusal`.

    Raises
    ------
    OverwriteError
        ``path`` exists and ``overwrite`` is False, or it is not something fluxds may replace.
    WriteError
        What ``path`` holds cannot be checked (no permission to read it, ...).
    """
    if not os.path.lexists(path):
        return
    if not overwrite:
        raise OverwriteError(f"{path}: file exists; pass overwrite=True to replace it")
    try:
        why = refusal(os.fspath(path), directory=directory)
    except OSError as exc:
        raise WriteError(f"{path}: cannot check what it holds: {exc.strerror}", errno=exc.errno) from None
    if why:
        raise OverwriteError(f"{path}: {why}")
