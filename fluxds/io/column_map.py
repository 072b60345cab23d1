"""``columns=``: the file's column names -> fluxds (GADF) names, for every table reader.

:func:`fluxds.read` takes ``columns={"E": "e_ref", "Flux": "dnde"}`` for any table format and sets it for
the time of the read (:func:`column_scope`); the shared places where tables are read apply it, so every
family gets it without taking the option itself:

- FITS: :func:`fluxds.io.fits_tables.open_fits` renames the columns of every table HDU that has them
  (:func:`rename_hdu_columns`) before anything looks at them: a family choosing its HDUs by their column
  names, and the format detection (:func:`mapped_names`), see the fluxds names;
- ECSV: :func:`fluxds.io.guard.ecsv_safe.read_ecsv_table`; HDF5 and plain text: their readers
  (:func:`rename_table_columns`).

A name is matched exactly, else without regard to case when that finds one column (FITS column names are
case-insensitive). A mapping naming a column the file lacks (a FITS file: that no table HDU has) is a
:class:`~fluxds.errors.FormatError` naming the file and the column.

The mapping is a context variable of this module; its users import from here **at call time** (inside
their functions), so that they all reach the one module ``sys.modules`` holds: pytest's doctest collection
(``--doctest-modules --import-mode=importlib``) executes a module a second time and replaces it there,
after modules that imported it at their own import time had bound the first copy.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar

from fluxds.errors import FormatError

__all__ = ["column_scope", "current_mapping", "mapped_names", "rename_table_columns", "rename_hdu_columns"]

_MAPPING: ContextVar[dict[str, str] | None] = ContextVar("fluxds_column_mapping", default=None)


def checked_mapping(columns: object, where: str = "") -> dict[str, str]:
    """``columns`` as a dict of str -> str, checked: text names, not empty, no two onto one name."""
    prefix = f"{where}: " if where else ""
    if not isinstance(columns, Mapping):
        raise FormatError(f"{prefix}columns= must be a mapping of the file's column names to fluxds names")
    out: dict[str, str] = {}
    for old, new in columns.items():
        if not isinstance(old, str) or not isinstance(new, str) or not old or not new:
            raise FormatError(f"{prefix}columns= maps {old!r} to {new!r}; both must be non-empty text")
        out[old] = new
    targets = [new.lower() for new in out.values()]
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise FormatError(f"{prefix}columns= maps several columns onto {twice}")
    return out


@contextlib.contextmanager
def column_scope(columns: Mapping[str, str] | None, where: str = "") -> Iterator[None]:
    """Apply ``columns`` to every table read inside the ``with`` block (``None``: no mapping)."""
    token = _MAPPING.set(None if columns is None else checked_mapping(columns, where))
    try:
        yield
    finally:
        _MAPPING.reset(token)


def current_mapping() -> dict[str, str] | None:
    """The mapping in force (:func:`column_scope`), or None."""
    return _MAPPING.get()


def _find(name: str, present: list[str]) -> str | None:
    if name in present:
        return name
    found = [p for p in present if p.lower() == name.lower()]
    return found[0] if len(found) == 1 else None


def mapped_names(names: Iterable[str], mapping: Mapping[str, str] | None = None) -> list[str]:
    """Column names as the mapping in force (or ``mapping``) renames them: what detection sees.

    Examples
    --------
    >>> with column_scope({"E": "e_ref"}):
    ...     mapped_names(["e", "Flux"])
    ['e_ref', 'Flux']
    """
    mapping = current_mapping() if mapping is None else mapping
    names = [str(n) for n in names]
    if not mapping:
        return names
    renamed = {}
    for old, new in mapping.items():
        hit = _find(old, names)
        if hit is not None:
            renamed[hit] = new
    return [renamed.get(n, n) for n in names]


def _missing(old: str, present: list[str], where: str) -> FormatError:
    return FormatError(
        f"{where}: columns= names the column {old!r}, which the file does not have; columns: "
        f"{', '.join(present) or 'none'}"
    )


def rename_table_columns(table, where: str, mapping: Mapping[str, str] | None = None):
    """Rename the columns of an astropy Table (in place) by the mapping in force (or ``mapping``).

    Parameters
    ----------
    table : astropy.table.Table
    where : str
        The file (and HDU), for messages.
    mapping : dict, optional
        Default: :func:`current_mapping`.

    Returns
    -------
    astropy.table.Table
        ``table``.

    Raises
    ------
    FormatError
        A mapped column the table does not have, or a new name it already has.
    """
    mapping = current_mapping() if mapping is None else checked_mapping(mapping, where)
    if not mapping:
        return table
    present = list(table.colnames)
    pairs = []
    for old, new in mapping.items():
        hit = _find(old, present)
        if hit is None:
            raise _missing(old, present, where)
        pairs.append((hit, new))
    moving = {hit for hit, _ in pairs}
    for hit, new in pairs:
        if new != hit and new in present and new not in moving:
            raise FormatError(f"{where}: columns= renames {hit!r} to {new!r}, a column the file has already")
    if pairs:  # two steps: a mapping may swap two names
        temporary = [f"_fluxds_renaming_{i}" for i in range(len(pairs))]
        table.rename_columns([h for h, _ in pairs], temporary)
        table.rename_columns(temporary, [n for _, n in pairs])
    return table


def rename_hdu_columns(hdul, where: str) -> None:
    """Rename the columns of every table HDU of an open FITS file by the mapping in force (before any
    data is read; the headers' ``TTYPEn`` change with them).

    Raises
    ------
    FormatError
        A mapped column that no table HDU has, naming the file and the column.
    """
    mapping = current_mapping()
    if not mapping:
        return
    from astropy.io import fits

    tables = [h for h in hdul if isinstance(h, (fits.BinTableHDU, fits.TableHDU))]
    original = sorted({n for h in tables for n in h.columns.names})
    found = set()
    for hdu in tables:
        present = list(hdu.columns.names)
        pairs = [(hit, new) for old, new in mapping.items() if (hit := _find(old, present)) is not None]
        found.update(old for old in mapping if _find(old, present) is not None)
        moving = {hit.lower() for hit, _ in pairs}
        for hit, new in pairs:
            if new.lower() != hit.lower() and new.lower() in {n.lower() for n in present} - moving:
                raise FormatError(
                    f"{where}[{hdu.name}]: columns= renames {hit!r} to {new!r}, a column the table has "
                    "already"
                )
        for i, (hit, _) in enumerate(pairs):  # two steps: a mapping may swap two names
            hdu.columns.change_name(hit, f"_FDSTMP{i}")
        for i, (_, new) in enumerate(pairs):
            hdu.columns.change_name(f"_FDSTMP{i}", new)
    missing = [old for old in mapping if old not in found]
    if missing:
        raise _missing(missing[0], original, where)
