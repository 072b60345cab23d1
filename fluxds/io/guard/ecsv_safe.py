"""Reading ECSV tables from elsewhere within the read budget.

astropy's ECSV reader trusts the YAML header: anchors and aliases that expand a thousandfold ("billion
laughs": a 6.7 kB file took more than 3.2 GB), a ``subtype`` declaring a shape of ``[1000000000]``
(astropy builds an array of that shape for every masked cell), or a ``datatype`` such as
``<U1000000000`` (an array of a billion characters per row). Before astropy parses anything,
:func:`check_ecsv` reads the header lines only, and refuses:

- YAML whose expansion (every alias counted as a copy of what it names) is too large, too deep or
  recursive (:func:`fluxds.io.guard.yaml_safe.check_yaml`). Aliases themselves are allowed, since YAML allows
  them and a hand-written header may use one; only their expansion is bounded. astropy never writes them;
- a declared column that would materialise more than the read budget: ``rows x elements per cell x
  bytes per element``, with the rows counted in the file, the elements from the ``subtype`` shape and
  the bytes from the ``datatype``/``subtype`` (at least 8: astropy builds Python-object arrays of
  multidimensional cells before converting them);
- a file whose text alone exceeds the read budget (astropy reads all of it into memory).

Every refusal is a :class:`~fluxds.errors.BudgetError` (or a :class:`~fluxds.errors.FormatError` for
a shape that is not a list of sizes) naming the file, the column and the size.
"""

from __future__ import annotations

import json
import os
import textwrap

import numpy as np
from astropy.table import Table

from fluxds.errors import FluxdsError, FormatError
from fluxds.io.guard.budget import check_allocation
from fluxds.io.guard.yaml_safe import check_yaml

__all__ = ["check_ecsv", "read_ecsv_table"]

_STRING_ITEMSIZE = 8  # a str column: one object pointer a row (the text itself is the file's)


def _header_and_rows(path: str) -> tuple[list[str], int]:
    """The header's YAML lines (comment character stripped, as astropy does) and the number of data
    rows (non-blank, non-comment lines after the header, less the column-names line)."""
    lines: list[str] = []
    rows, in_header = 0, True
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped:
                continue
            if in_header and stripped.startswith("#"):
                out = stripped[1:]
                if out:
                    lines.append(out)
                continue
            in_header = False
            if not stripped.startswith("#"):
                rows += 1
    return lines, max(rows - 1, 0)


def _itemsize(name: object, column: str, where: str) -> int:
    """Bytes of one element of an ECSV datatype/subtype (``string``/``json``: an object pointer)."""
    text = str(name).strip()
    if text in ("string", "str", "json", "object", ""):
        return _STRING_ITEMSIZE
    try:
        return max(np.dtype(text).itemsize, 1)
    except (TypeError, ValueError, OverflowError, MemoryError):
        raise FormatError(f"{where}: column {column!r}: datatype {text!r} is not a data type") from None


def _shape(subtype: str, column: str, where: str) -> tuple[str, list[int]]:
    """``"float64[2,null]"`` -> ``("float64", [2, 1])``: the element type and the declared cell shape
    (a variable last axis, ``null``, counts 1: its elements are in the file)."""
    if "[" not in subtype:
        return subtype, []
    index = subtype.index("[")
    try:
        shape = json.loads(subtype[index:])
    except (ValueError, RecursionError):
        raise FormatError(f"{where}: column {column!r}: subtype {subtype!r} has no valid shape") from None
    if not isinstance(shape, list):
        raise FormatError(f"{where}: column {column!r}: subtype {subtype!r} has no valid shape")
    sizes = []
    for size in shape:
        if size is None:
            sizes.append(1)
        elif isinstance(size, bool) or not isinstance(size, (int, float)) or size < 0 or size != int(size):
            raise FormatError(
                f"{where}: column {column!r}: subtype {subtype!r} declares the size {size!r}; "
                "expected non-negative integers"
            )
        else:
            sizes.append(int(size))
    return subtype[:index], sizes


def check_ecsv(path: str | os.PathLike) -> None:
    """Refuse an ECSV file whose header would make astropy allocate beyond the read budget.

    Reads the header lines and counts the data rows (nothing is parsed but the header's YAML, and
    that only after its alias expansion is bounded). See the module's documentation for what is
    checked.

    Parameters
    ----------
    path : str or path-like

    Raises
    ------
    fluxds.errors.BudgetError
        Naming the file, the column (or the header, or the text), the size and the budget.
    FormatError
        YAML that is not valid, nests too deep or has a recursive alias; a shape that is not a list of
        sizes; a datatype that is not a data type.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "t.ecsv"
    >>> _ = path.write_text(
    ...     "# %ECSV 1.0\\n# ---\\n# datatype:\\n"
    ...     "# - {name: a, datatype: string, subtype: 'float64[1000000000000]'}\\n"
    ...     "a\\n\\"\\"\\n"
    ... )
    >>> try:
    ...     check_ecsv(path)
    ... except FluxdsError as exc:
    ...     print(type(exc).__name__)
    BudgetError
    """
    from astropy.table import meta

    where = str(path)
    check_allocation(os.path.getsize(where), path=where, variable="the table's text", what="reading the file")
    lines, rows = _header_and_rows(where)
    check_yaml(textwrap.dedent("\n".join(lines)), path=where, what="ECSV header")
    try:
        header = meta.get_header_from_yaml(lines)
    except Exception:  # astropy's own YamlParseError and what its loader raises: astropy reports them
        return
    columns = header.get("datatype") if isinstance(header, dict) else None
    if not isinstance(columns, list):
        return
    for column in columns:
        if not isinstance(column, dict):
            continue
        name = str(column.get("name", "?"))
        subtype = column.get("subtype")
        if subtype:
            element, shape = _shape(str(subtype), name, where)
            per_cell = int(np.prod(shape, dtype=object)) if shape else 1
            itemsize = max(_itemsize(element, name, where), 8) + 8  # object array of the cells, then typed
            what = f"{rows} rows of cells of shape {shape} ({subtype}), "
        else:
            per_cell, itemsize = 1, _itemsize(column.get("datatype", ""), name, where)
            what = f"{rows} rows of {column.get('datatype')!s}, "
        # the masked cells' template is built once even for no row: count one more row
        check_allocation(
            (rows + 1) * per_cell * itemsize, path=where, variable=name, what=what + "reading them"
        )


def read_ecsv_table(path: str | os.PathLike) -> Table:
    """An ECSV file as an astropy Table, checked first (:func:`check_ecsv`); any failure of astropy's
    reader as a :class:`~fluxds.errors.FormatError` naming the file. Its columns are renamed by the
    ``columns=`` mapping of the read in progress (:mod:`fluxds.io.column_map`).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    astropy.table.Table
    """
    from fluxds.io.column_map import rename_table_columns

    where = str(path)
    check_ecsv(where)
    try:
        table = Table.read(where, format="ascii.ecsv")
    except FluxdsError:
        raise
    except Exception as exc:  # OSError, ValueError, and the YAML parser's own errors
        raise FormatError(f"{where}: not a readable ECSV table: {exc}") from None
    return rename_table_columns(table, where)  # columns= of fluxds.read (fluxds.io.column_map)
