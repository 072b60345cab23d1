"""Checking the header of a classic netCDF file (CDF-1, CDF-2, CDF-5) before netCDF-C parses it.

netCDF-C allocates what a classic header declares before it finds out that the file does not hold it: a
byte flip in an attribute's length made ``nc_open`` of a 7 kB file allocate 560 MiB before it failed with
"Invalid argument" (found by the fuzz run of issue 12). :func:`check_classic_header` walks the header
(the format is a few fixed-width fields, described in the netCDF User Guide's "File Format
Specification") on a memory map of the file, and refuses, with a :class:`~fluxds.errors.FormatError`
naming the file and the field, any count, name, attribute or dimension reference that the file cannot
hold. Only the header is touched; the data are netCDF-C's to read, after fluxds's budget check.
"""

from __future__ import annotations

import mmap
import os
import struct

from fluxds.errors import FormatError

__all__ = ["CLASSIC_MAGIC", "check_classic_header"]

#: the first three bytes of a classic netCDF file (the fourth is the version: 1, 2 or 5)
CLASSIC_MAGIC = b"CDF"

_ABSENT, _DIMENSION, _VARIABLE, _ATTRIBUTE = 0, 0x0A, 0x0B, 0x0C
# nc_type -> bytes per value (CDF-5 adds the unsigned and 64-bit types)
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


class _Header:
    """A cursor over the header bytes, reading big-endian fields and refusing what the file cannot hold."""

    def __init__(self, data, where: str, version: int):
        self.data, self.where, self.pos = data, where, 4
        self.count_format = ">Q" if version == 5 else ">I"  # element counts, dimension lengths, vsize
        self.offset_format = ">I" if version == 1 else ">Q"  # a variable's begin

    def fail(self, what: str) -> FormatError:
        return FormatError(
            f"{self.where}: classic netCDF header: {what} at byte {self.pos} (the file has "
            f"{len(self.data)} bytes; it is damaged or not what it declares)"
        )

    def unpack(self, fmt: str, what: str) -> int:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise self.fail(f"{what} runs past the end of the file")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return int(value)

    def count(self, what: str, item_bytes: int) -> int:
        """A count of items of at least ``item_bytes`` bytes each that must still fit in the file."""
        n = self.unpack(self.count_format, what)
        if n * item_bytes > len(self.data) - self.pos:
            raise self.fail(f"{what} = {n} needs at least {n * item_bytes} bytes, more than the file holds")
        return n

    def skip(self, nbytes: int, what: str) -> None:
        padded = nbytes + (-nbytes % 4)
        if self.pos + padded > len(self.data):
            raise self.fail(f"{what} of {nbytes} bytes runs past the end of the file")
        self.pos += padded

    def name(self, what: str) -> None:
        self.skip(self.count(f"length of {what}'s name", 1), f"{what}'s name")

    def tag(self, expected: int, what: str) -> int:
        """The number of elements of a list (``ABSENT`` gives 0)."""
        tag = self.unpack(">I", f"tag of the {what} list")
        if tag == _ABSENT:
            if self.unpack(self.count_format, f"count of the absent {what} list") != 0:
                raise self.fail(f"an absent {what} list with a count other than 0")
            return 0
        if tag != expected:
            raise self.fail(f"{what} list tag {tag:#x}, expected {expected:#x}")
        minimum = 12 if what == "dimension" else 16  # a name and a length; a name, type and count
        return self.count(f"number of {what}s", minimum)

    def attributes(self, owner: str) -> None:
        for i in range(self.tag(_ATTRIBUTE, "attribute")):
            self.name(f"{owner} attribute {i}")
            nc_type = self.unpack(">I", f"type of {owner} attribute {i}")
            if nc_type not in _TYPE_SIZES:
                raise self.fail(f"{owner} attribute {i} has the unknown type {nc_type}")
            size = _TYPE_SIZES[nc_type]
            n = self.count(f"number of values of {owner} attribute {i}", size)
            self.skip(n * size, f"{owner} attribute {i}'s values")


def check_classic_header(path: str | os.PathLike) -> None:
    """Refuse a classic netCDF file whose header declares more than the file holds.

    Files that do not start with ``CDF`` (netCDF-4/HDF5 files, anything else) are left alone.

    Parameters
    ----------
    path : str or path-like

    Raises
    ------
    FormatError
        Naming the file, the header field and its byte offset: a count, name or attribute value running
        past the end of the file, an unknown version, type or list tag, a variable on a dimension that
        does not exist.
    """
    where = str(path)
    with open(path, "rb") as handle:
        if handle.read(3) != CLASSIC_MAGIC:
            return
        size = os.fstat(handle.fileno()).st_size
        if size < 32:
            raise FormatError(f"{where}: classic netCDF header: {size} bytes, too short for a header")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            version = data[3]
            if version not in (1, 2, 5):
                raise FormatError(f"{where}: classic netCDF header: unknown version byte {version}")
            header = _Header(data, where, version)
            header.unpack(header.count_format, "number of records")  # any value, or STREAMING
            n_dims = header.tag(_DIMENSION, "dimension")
            for i in range(n_dims):
                header.name(f"dimension {i}")
                header.unpack(header.count_format, f"length of dimension {i}")
            header.attributes("global")
            for i in range(header.tag(_VARIABLE, "variable")):
                header.name(f"variable {i}")
                rank = header.count(f"number of dimensions of variable {i}", 4)
                for _ in range(rank):
                    dim = header.unpack(header.count_format, f"a dimension id of variable {i}")
                    if dim >= n_dims:
                        raise header.fail(f"variable {i} names dimension {dim}; the file has {n_dims}")
                header.attributes(f"variable {i}")
                if header.unpack(">I", f"type of variable {i}") not in _TYPE_SIZES:
                    raise header.fail(f"variable {i} has an unknown type")
                header.unpack(header.count_format, f"size of variable {i}")
                header.unpack(header.offset_format, f"offset of variable {i}")
