"""The files of a zarr store made elsewhere, read safely: regular files inside the store only, bounded.

A zarr store is a folder, and whoever made it chooses what its entries are. zarr's own ``LocalStore``
opens every entry by name and follows symbolic links, so a chunk linked to ``/etc/passwd`` is read into
the Dataset (and copied into any converted output), a chunk linked to ``/dev/zero`` is read without end,
and a chunk that is a FIFO blocks the read forever. fluxds therefore reads a store only through this
module:

- :func:`walk_store` walks the store before zarr sees it, by file descriptor (``openat`` with
  ``O_NOFOLLOW``, ``fstatat`` without following links): every entry must be a regular file or a folder;
  a symbolic link (to a file or a folder, metadata included), a FIFO, a socket or a device is refused
  with a :class:`~fluxds.errors.FormatError` naming the entry, as are more than :data:`MAX_ENTRIES`
  entries or folders nested deeper than :data:`MAX_DEPTH`;
- :class:`SafeLocalStore` (a read-only zarr ``LocalStore``) then opens every entry zarr asks for
  component by component from the store's folder with ``O_NOFOLLOW | O_NONBLOCK`` (a link planted after
  the walk is refused, not followed; a FIFO does not block) and reads it only if ``fstat`` of the *open*
  descriptor shows a regular file, at most its size at that moment, within the read budget
  (:func:`fluxds.io.guard.budget.check_allocation`): no window between the check and the read;
- chunks compressed with blosc, zstd (every frame) or lz4 state the size they decompress to;
  :class:`SafeLocalStore` refuses a chunk stating more than the array's chunk shape can hold, before the
  codec allocates it, and inflates a gzip (every member), zlib, bz2 or lzma (every stream) chunk piece by
  piece, stopping one piece past that size, to check it (:meth:`SafeLocalStore.limit`); arrays with any
  other codec chain are refused before they are read (:func:`fluxds.io.cf.zarr_store.read_zarr`).

The store path the user gives may itself be a symbolic link (one the user made, e.g. ``ln -s
/data/big.zarr``); everything *inside* the store must be a plain file or folder. A device node cannot be
planted between the walk and the read by anyone who could not already write devices (it needs
``CAP_MKNOD``), and it would be opened (never read) with ``O_NONBLOCK | O_NOCTTY``.
"""

from __future__ import annotations

import asyncio
import bz2
import errno
import lzma
import os
import stat
import zlib
from collections.abc import AsyncIterator, Iterable
from typing import Any

from fluxds.errors import FormatError
from fluxds.io.guard.budget import check_allocation

try:
    from zarr.core.buffer.core import default_buffer_prototype
    from zarr.storage import LocalStore
except ImportError:  # zarr is an optional extra: walk_store and read_entry work without it
    LocalStore = object

__all__ = ["MAX_ENTRIES", "MAX_DEPTH", "METADATA_NAMES", "walk_store", "read_entry", "SafeLocalStore"]

#: the most entries (files and folders) a zarr store may have
MAX_ENTRIES = 1_000_000
#: the deepest a zarr store's folders may nest (a zarr 3 chunk key has one level per dimension)
MAX_DEPTH = 40
#: the names of zarr metadata files (zarr 2 and zarr 3)
METADATA_NAMES = frozenset({".zmetadata", ".zarray", ".zgroup", ".zattrs", "zarr.json"})

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | _CLOEXEC
_ROOT_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC  # the user's own path may be a link
_LINK_ERRNOS = {errno.ELOOP, getattr(errno, "EMLINK", errno.ELOOP), getattr(errno, "EFTYPE", errno.ELOOP)}
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_READ = 1 << 20


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISLNK, "symbolic link"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return name
    return f"special file (mode {mode:o})"


def _refuse(root: str, key: str, kind: str) -> FormatError:
    return FormatError(
        f"{root}: entry {key!r} is a {kind}; fluxds reads only regular files and folders inside a zarr "
        "store (a link or special file could expose or hang on files outside it)"
    )


def walk_store(
    path: str | os.PathLike, *, max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH
) -> dict[str, int]:
    """Every file of a zarr store and its size, refusing anything but regular files and folders.

    The walk goes by file descriptor from the store's folder and never follows a link inside it.

    Parameters
    ----------
    path : str or path-like
        The store (a folder; the path itself may be a link the user made).
    max_entries : int
        The most entries (files and folders) accepted.
    max_depth : int
        The deepest nesting of folders accepted.

    Returns
    -------
    dict
        Store key (``"norm/c/0/0"``, ``/``-separated) -> size in bytes, for every regular file.

    Raises
    ------
    FormatError
        Naming the store and the entry: a symbolic link, FIFO, socket or device inside the store, more
        than ``max_entries`` entries, or folders deeper than ``max_depth``.

    Examples
    --------
    >>> import os, tempfile
    >>> store = tempfile.mkdtemp(suffix=".zarr")
    >>> _ = open(os.path.join(store, "zarr.json"), "w").write("{}")
    >>> walk_store(store)
    {'zarr.json': 2}
    >>> os.symlink("/etc/hostname", os.path.join(store, "chunk"))
    >>> walk_store(store)
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: ...: entry 'chunk' is a symbolic link; fluxds reads only regular files ...
    """
    root = os.fspath(path)
    try:
        top = os.open(root, _ROOT_FLAGS)
    except OSError as exc:
        raise FormatError(f"{root}: cannot open the zarr store ({exc.strerror})") from None
    files: dict[str, int] = {}
    count = [0]

    def visit(fd: int, prefix: str, depth: int) -> None:
        with os.scandir(fd) as entries:
            for entry in entries:
                count[0] += 1
                if count[0] > max_entries:
                    raise FormatError(
                        f"{root}: more than {max_entries} entries; not a zarr store fluxds reads (the limit "
                        "is fluxds.io.guard.zarr_safe.MAX_ENTRIES)"
                    )
                key = prefix + entry.name
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode):
                    files[key] = info.st_size
                elif stat.S_ISDIR(info.st_mode):
                    if depth >= max_depth:
                        raise FormatError(f"{root}: folder {key!r} is nested deeper than {max_depth} levels")
                    try:
                        child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    except OSError as exc:
                        if exc.errno in _LINK_ERRNOS or exc.errno == errno.ENOTDIR:
                            raise _refuse(root, key, "symbolic link") from None
                        raise FormatError(f"{root}: cannot open the entry {key!r} ({exc.strerror})") from None
                    try:
                        visit(child, key + "/", depth + 1)
                    finally:
                        os.close(child)
                else:
                    raise _refuse(root, key, _kind(info.st_mode))

    try:
        visit(top, "", 0)
    except OSError as exc:
        raise FormatError(f"{root}: cannot list the zarr store ({exc.strerror})") from None
    finally:
        os.close(top)
    return files


def _parts(root: str, key: str) -> list[str]:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise FormatError(f"{root}: zarr key {key!r} is not a plain path inside the store")
    return parts


def _open_entry(root: str, key: str) -> int | None:
    """A descriptor of the regular file ``key`` of the store (no link followed), None if absent."""
    parts = _parts(root, key)
    try:
        fd = os.open(root, _ROOT_FLAGS)
    except OSError as exc:
        raise FormatError(f"{root}: cannot open the zarr store ({exc.strerror})") from None
    try:
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            try:
                nfd = os.open(part, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                try:  # what is there, without following it
                    mode = os.lstat(part, dir_fd=fd).st_mode
                except OSError:
                    mode = None
                if mode is not None and not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
                    raise _refuse(root, "/".join(parts[: i + 1]), _kind(mode)) from None
                if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                    return None
                raise FormatError(f"{root}: cannot open the entry {key!r} ({exc.strerror})") from None
            os.close(fd)
            fd = nfd
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            return None
        if not stat.S_ISREG(mode):
            raise _refuse(root, key, _kind(mode))
        found, fd = fd, -1
        return found
    finally:
        if fd >= 0:
            os.close(fd)


def read_entry(path: str | os.PathLike, key: str, byte_range: Any = None) -> bytes | None:
    """The bytes of the file ``key`` of a store: a regular file inside it, within the read budget.

    Parameters
    ----------
    path : str or path-like
        The store.
    key : str
        The entry, ``/``-separated (``"norm/c/0/0"``, ``".zmetadata"``).
    byte_range : zarr ByteRequest, optional
        Part of the file only.

    Returns
    -------
    bytes or None
        None if there is no such file (or it is a folder).

    Raises
    ------
    FormatError
        Naming the store and the entry: a symbolic link on the way, a special file, or a file larger
        than the read budget (:class:`~fluxds.errors.BudgetError`).
    """
    root = os.fspath(path)
    fd = _open_entry(root, key)
    if fd is None:
        return None
    try:
        size = os.fstat(fd).st_size
        start, stop = 0, size
        if hasattr(byte_range, "end"):  # zarr's RangeByteRequest, OffsetByteRequest, SuffixByteRequest
            start, stop = byte_range.start, min(byte_range.end, size)
        elif hasattr(byte_range, "offset"):
            start = byte_range.offset
        elif hasattr(byte_range, "suffix"):
            start = max(0, size - byte_range.suffix)
        elif byte_range is not None:
            raise TypeError(f"unexpected byte range {byte_range!r}")
        want = max(stop - start, 0)
        check_allocation(want, path=root, variable=key, what=f"the stored file of {size} bytes")
        pieces, got = [], 0
        while got < want:  # never more than the size seen by fstat, even if the file grows
            piece = os.pread(fd, min(_READ, want - got), start + got)
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
        return b"".join(pieces)
    except OSError as exc:
        raise FormatError(f"{root}: cannot read the entry {key!r} ({exc.strerror})") from None
    finally:
        os.close(fd)


def _zstd_content_size(data: bytes) -> int | None:
    """The decompressed size a zstd frame header states (None when it states none)."""
    if len(data) < 6:
        return None
    descriptor = data[4]
    fcs_flag, single = descriptor >> 6, (descriptor >> 5) & 1
    offset = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
    width = (1 if single else 0, 2, 4, 8)[fcs_flag]
    if width == 0 or len(data) < offset + width:
        return None
    value = int.from_bytes(data[offset : offset + width], "little")
    return value + 256 if width == 2 else value


def _zstd_claimed(data: bytes, where: str) -> int | None:
    """The sum of the sizes the zstd frames of ``data`` state (numcodecs decodes every frame of a chunk);
    None when the frames cannot be walked (the codec reports the damage)."""
    total, pos = 0, 0
    while pos + 8 <= len(data):
        magic = int.from_bytes(data[pos : pos + 4], "little")
        if magic & 0xFFFFFFF0 == 0x184D2A50:  # a skippable frame
            pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "little")
            continue
        if data[pos : pos + 4] != _ZSTD_MAGIC:
            return None if pos == 0 else total
        size = _zstd_content_size(data[pos:])
        if size is None:
            raise FormatError(f"{where}: a zstd frame that does not state its decompressed size")
        total += size
        descriptor = data[pos + 4]
        single, fcs_flag = (descriptor >> 5) & 1, descriptor >> 6
        header_size = 5 + (0 if single else 1) + (0, 1, 2, 4)[descriptor & 3]
        pos += header_size + (1 if single else 0, 2, 4, 8)[fcs_flag]
        while pos + 3 <= len(data):  # the blocks: 3-byte header (last, type, size)
            header = int.from_bytes(data[pos : pos + 3], "little")
            kind, size = (header >> 1) & 3, header >> 3
            pos += 3 + (1 if kind == 1 else size)
            if header & 1:
                break
        pos += 4 if descriptor & 4 else 0  # the content checksum
    return total


def _inflated(codec: str, data: bytes, limit: int, where: str) -> int:
    """How many bytes a gzip, zlib, bz2 or lzma chunk inflates to, counted piece by piece (never holding
    more than a piece) and stopping past ``limit``, as numcodecs decodes it: every gzip member, bz2 or
    lzma stream, one zlib stream."""
    total, rest, streams = 0, data, 0
    while rest and total <= limit:
        inflater = _STREAMS[codec]()
        idle = 0
        try:
            piece = inflater.decompress(rest, _READ)
            while total + len(piece) <= limit and not inflater.eof and idle < 64:
                total += len(piece)
                idle = 0 if piece else idle + 1
                if codec in ("gzip", "zlib"):
                    if not piece and not inflater.unconsumed_tail:
                        break
                    piece = inflater.decompress(inflater.unconsumed_tail, _READ)
                elif inflater.needs_input:
                    piece = b""
                    break
                else:
                    piece = inflater.decompress(b"", _READ)
            total += len(piece)
        except (zlib.error, OSError, EOFError, lzma.LZMAError) as exc:
            if streams and codec in ("bz2", "lzma"):
                break  # as bz2.decompress and lzma.decompress, data after the last stream is ignored
            raise FormatError(f"{where}: a damaged {codec} chunk ({exc})") from None
        streams += 1
        if codec == "zlib" or not inflater.eof:
            break
        rest = inflater.unused_data.lstrip(b"\0") if codec == "gzip" else inflater.unused_data
    return total


_STREAMS = {
    "gzip": lambda: zlib.decompressobj(31),
    "zlib": lambda: zlib.decompressobj(15),
    "bz2": bz2.BZ2Decompressor,
    "lzma": lzma.LZMADecompressor,
}


class SafeLocalStore(LocalStore):
    """A read-only zarr ``LocalStore`` that reads only regular files inside the store (see the module).

    Parameters
    ----------
    root : str or path-like
        The store.

    Examples
    --------
    >>> import zarr, tempfile
    >>> path = tempfile.mkdtemp(suffix=".zarr")
    >>> zarr.create_array(path, shape=(3,), dtype="f8")[:] = [1.0, 2.0, 3.0]
    >>> zarr.open_array(SafeLocalStore(path), mode="r")[:]
    array([1., 2., 3.])
    """

    supports_writes: bool = False
    supports_deletes: bool = False

    def __init__(self, root, *, read_only: bool = True) -> None:
        super().__init__(os.fspath(root), read_only=True)
        self._limits: dict[str, tuple[int, str]] = {}

    def with_read_only(self, read_only: bool = False) -> SafeLocalStore:  # never writable
        store = type(self)(self.root)
        store._limits = self._limits
        return store

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SafeLocalStore) and self.root == other.root

    __hash__ = LocalStore.__hash__

    def limit(self, array: str, chunk_bytes: int, compressor: str) -> None:
        """Refuse chunks of ``array`` stating (blosc, zstd, lz4) or inflating to (gzip, zlib, bz2, lzma)
        more than ``chunk_bytes``; ``compressor`` is the codec's name (others are not checked)."""
        self._limits[array] = (int(chunk_bytes), compressor)

    def _check_chunk(self, key: str, data: bytes) -> None:
        array, _, rest = key.partition("/")
        if array not in self._limits or not rest or rest.rpartition("/")[2] in METADATA_NAMES:
            return
        limit, codec = self._limits[array]
        where = f"{self.root}: chunk {key!r} of variable {array!r}"
        claimed = None
        if codec == "blosc" and len(data) >= 16:
            claimed = int.from_bytes(data[4:8], "little")
        elif codec == "zstd":
            claimed = _zstd_claimed(data, where)
        elif codec == "lz4" and len(data) >= 4:  # numcodecs' LZ4 states the size it allocates
            claimed = int.from_bytes(data[:4], "little")
        elif codec in _STREAMS:
            claimed = _inflated(codec, data, limit, where)
        if claimed is not None and claimed > limit:
            shown = f"more than {limit}" if codec in _STREAMS else str(claimed)
            raise FormatError(
                f"{where}: the {len(data)}-byte chunk decompresses to {shown} bytes, more than the "
                f"{limit} bytes its chunk shape holds"
            )

    def _get(self, key: str, prototype: Any, byte_range: Any):
        data = read_entry(self.root, key, byte_range)
        if data is None:
            return None
        if byte_range is None and self._limits:
            self._check_chunk(key, data)
        return (prototype or default_buffer_prototype()).buffer.from_bytes(data)

    def get_sync(self, key: str, *, prototype=None, byte_range=None) -> Any:
        return self._get(key, prototype, byte_range)

    async def get(self, key: str, prototype: Any = None, byte_range: Any = None) -> Any:
        return await asyncio.to_thread(self._get, key, prototype, byte_range)

    async def get_partial_values(self, prototype: Any, key_ranges: Iterable[tuple[str, Any]]) -> list[Any]:
        return [await self.get(key, prototype, byte_range) for key, byte_range in key_ranges]

    def _exists(self, key: str) -> bool:
        fd = _open_entry(str(self.root), key)
        if fd is None:
            return False
        os.close(fd)
        return True

    async def exists(self, key: str) -> bool:
        return await asyncio.to_thread(self._exists, key)

    async def getsize(self, key: str) -> int:
        fd = _open_entry(str(self.root), key)
        if fd is None:
            raise FileNotFoundError(key)
        try:
            return os.fstat(fd).st_size
        finally:
            os.close(fd)

    async def list(self) -> AsyncIterator[str]:
        for key in walk_store(self.root):
            yield key

    async def list_prefix(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        for key in walk_store(self.root):
            if not prefix or key.startswith(prefix + "/"):
                yield key

    async def list_dir(self, prefix: str) -> AsyncIterator[str]:
        prefix = prefix.rstrip("/")
        seen = set()
        for key in walk_store(self.root):
            if prefix and not key.startswith(prefix + "/"):
                continue
            child = key[len(prefix) + 1 :].split("/")[0] if prefix else key.split("/")[0]
            if child not in seen:
                seen.add(child)
                yield child
