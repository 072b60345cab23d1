"""Checking the declared layout of an HDF5 file's datasets before any data is read.

Damaged type or layout messages make the HDF5 C library write out of bounds while converting data (the
process aborts), which no Python ``except`` can catch: :func:`check_hdf5_layout` refuses such a file, and
one holding a dataset whose data live in other files (HDF5 external storage, a virtual dataset), or a
link that is not a hard link (an external link would read another file, a FIFO would block), with a
:class:`~fluxds.errors.FormatError` before any data is read (by h5py, or by netCDF for a netCDF-4 file).
"""

from __future__ import annotations

import os

from fluxds.errors import FormatError

__all__ = ["check_hdf5_layout"]


def _link_problem(h5file, where: str) -> str | None:
    """The first link of ``h5file`` that is not a hard link, described, or None.

    Walks the links with the low-level API (``H5Lvisit``, ``H5Lget_info``), which neither follows nor
    resolves a link: ``Group.get(name, getlink=True)`` tests ``name in group`` first, which opens the
    target of an external link (a FIFO blocks there).
    """
    import h5py

    def text(value) -> str:
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)

    found: list[str] = []

    def visit(name: bytes):
        kind = h5file.id.links.get_info(name).type
        if kind == h5py.h5l.TYPE_HARD:
            return None
        label = f"{where}[{text(name)}]"
        if kind == h5py.h5l.TYPE_EXTERNAL:
            other, inside = h5file.id.links.get_val(name)
            found.append(f"{label}: an external link to {text(inside)!r} in {text(other)!r}")
        elif kind == h5py.h5l.TYPE_SOFT:
            found.append(f"{label}: a soft link to {text(h5file.id.links.get_val(name))!r}")
        else:
            found.append(f"{label}: a user-defined HDF5 link (class {kind})")
        return True

    h5file.id.links.visit(visit)
    if not found:
        return None
    return (
        f"{found[0]}; fluxds reads only objects stored in the file it is given, under ordinary (hard) "
        "links (netCDF and astropy never write other links)"
    )


def _compound_problem(dtype, label: str) -> str | None:
    """What is wrong with the member layout of a compound ``dtype`` (overlap, overrun), or None."""
    if dtype.names is None:
        return None
    members = sorted((offset, sub.itemsize, name, sub) for name, (sub, offset, *_) in dtype.fields.items())
    end, previous = 0, None
    for offset, size, name, sub in members:
        if offset < end:
            return (
                f"{label}: member {name!r} at byte {offset} overlaps member {previous!r} "
                f"(which ends at byte {end})"
            )
        end, previous = offset + size, name
        inner = _compound_problem(sub.base, f"{label}.{name}")
        if inner:
            return inner
    if end > dtype.itemsize:
        return f"{label}: member {previous!r} ends at byte {end}, beyond the {dtype.itemsize}-byte record"
    return None


def check_hdf5_layout(h5file, where: str) -> None:
    """Refuse an HDF5 file whose datasets' declared layout cannot be right, before any data is read.

    Damaged type or layout messages make the HDF5 C library write out of bounds while converting data
    (the process aborts: "double free or corruption"), which no Python ``except`` can catch. Checked for
    every dataset of the open ``h5py.File`` (every variable of a netCDF-4 file, too): compound members
    neither overlap nor run past the record; a contiguous dataset of fixed-size elements stores exactly
    ``size`` times its type's size in bytes, inside the file. A dataset whose data live in other files
    (HDF5 external storage, or a virtual dataset) is refused: reading it would read those files
    (``/etc/passwd`` as a variable's values). So is any link but a hard link, found before any object is
    opened: an external link reads another file (or blocks on a FIFO), a user-defined link runs what its
    class says, and a soft link's path may cross either; netCDF and astropy never write them.

    Parameters
    ----------
    h5file : h5py.File
        Open for reading.
    where : str
        The file name, for messages.

    Raises
    ------
    FormatError
        Naming the file, the dataset (and member) and what is inconsistent.
    """
    import h5py

    link = _link_problem(h5file, where)
    if link:
        raise FormatError(link)
    file_size = os.path.getsize(h5file.filename)
    problems: list[str] = []
    elsewhere: list[str] = []

    def visit(name, obj):
        if problems or elsewhere or not isinstance(obj, h5py.Dataset):
            return
        label = f"{where}[{name}]"
        plist = obj.id.get_create_plist()
        if plist.get_layout() == h5py.h5d.VIRTUAL or plist.get_external_count():
            others = (
                [plist.get_virtual_filename(i) for i in range(plist.get_virtual_count())]
                if plist.get_layout() == h5py.h5d.VIRTUAL
                else [plist.get_external(i)[0] for i in range(plist.get_external_count())]
            )
            elsewhere.append(
                f"{label}: its data live in other files ({', '.join(repr(o) for o in others[:3])}); fluxds "
                "reads only data stored inside the file it is given"
            )
            return
        problem = _compound_problem(obj.dtype, label)
        contiguous = plist.get_layout() == h5py.h5d.CONTIGUOUS
        if problem is None and contiguous and not obj.dtype.hasobject:  # variable-length data lives elsewhere
            stored = obj.id.get_storage_size()
            offset = obj.id.get_offset()
            expected = obj.size * obj.id.get_type().get_size()
            if stored and stored != expected:
                problem = f"{label}: stores {stored} bytes, but its shape and type need {expected}"
            elif stored and (offset is None or offset + stored > file_size):
                problem = f"{label}: its {stored} bytes at offset {offset} lie beyond the file's {file_size}"
        if problem:
            problems.append(problem)

    h5file.visititems(visit)
    if elsewhere:
        raise FormatError(elsewhere[0])
    if problems:
        raise FormatError(f"{problems[0]} (the file is damaged)")
