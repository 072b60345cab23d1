"""What gamma-cat's per-paper ECSV tables share, SEDs and light curves alike: reading the table (with the
quirks of the files: a missing or reordered column-names line refused, tabs between values read as spaces),
gamma-cat's default units, the attributes and labels every Dataset gets. See :mod:`.gammacat_sed` and
:mod:`.gammacat_lc` for the conventions of each kind."""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
from astropy.table import Table

from fluxds.errors import FormatError
from fluxds.io.guard.ecsv_safe import read_ecsv_table
from fluxds.io.published.conventions import attrs_from_meta, lower_meta, parse_published_unit

__all__ = [
    "read_table",
    "has_tabs",
    "table_conventions",
    "column_quantity",
    "default_unit",
    "common_attrs",
    "scalar_labels",
    "DEFAULT_UNITS",
]

#: gamma-cat's units for columns that give none (its script ``gammacat/sed.py``, ``_add_missing_defaults``)
DEFAULT_UNITS = {"e_": u.TeV, "dnde": u.Unit("cm-2 s-1 TeV-1")}


def read_table(path: str) -> Table:
    """The ECSV table; a file whose column-names line is missing refused with what is wrong."""
    declared: list[str] = []
    first_line = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#"):
                text = stripped.lstrip("# ").strip()
                if text.startswith("- {name:") or text.startswith("- name:"):
                    declared.append(text.split("name:", 1)[1].split(",", 1)[0].strip(" }'\""))
                continue
            first_line = stripped
            break
    if declared and first_line is not None:
        tokens = first_line.replace(",", " ").split()
        if tokens != declared and sorted(tokens) == sorted(declared):
            raise FormatError(
                f"{path}: the column-names line lists {tokens}, the header declares {declared}: the same "
                "columns in another order, so which column each value belongs to cannot be told"
            )
        if tokens != declared and not set(tokens) & set(declared):
            raise FormatError(
                f"{path}: the ECSV header declares the columns {declared}, but the line after it, "
                f"{first_line[:60]!r}, is not the column-names line ECSV requires (it is missing: the first "
                "data row would be taken for names); add the line "
                f"{' '.join(declared)!r} after the header"
            )
    try:
        return read_ecsv_table(path)
    except FormatError:
        if not has_tabs(path):
            raise
    # tabs between the values (several gamma-cat files): ECSV separates by spaces; read them as spaces.
    # The file passed the header and size checks of read_ecsv_table above before astropy failed.
    from astropy.table import Table as _Table

    from fluxds.io.column_map import rename_table_columns

    with open(path, encoding="utf-8", errors="replace") as handle:
        text = "".join(line if line.lstrip().startswith("#") else line.replace("\t", " ") for line in handle)
    try:
        table = _Table.read(text, format="ascii.ecsv")
    except Exception as exc:  # astropy's reader errors, as read_ecsv_table reports them
        raise FormatError(f"{path}: not a readable ECSV table: {exc}") from None
    table.meta["_tabs_read_as_spaces"] = True
    return rename_table_columns(table, path)


def has_tabs(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return any("\t" in line for line in handle if not line.lstrip().startswith("#"))


def table_conventions(meta: dict) -> list[str]:
    if meta.pop("_tabs_read_as_spaces", False):
        return ["tabs between the values read as spaces (ECSV separates values by spaces)"]
    return []


def column_quantity(
    table: Table, name: str, where: str, default: u.UnitBase | None
) -> u.Quantity | np.ndarray:
    col = table[name]
    data = np.asarray(col)
    if hasattr(col, "mask") and np.ma.is_masked(col):
        data = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
    unit = parse_published_unit(col.unit, where=where, column=name) if col.unit is not None else default
    if data.dtype.kind in "iu":
        data = data.astype(float)
    return data * unit if unit is not None else data


def default_unit(name: str) -> u.UnitBase | None:
    for prefix, unit in DEFAULT_UNITS.items():
        if name.startswith(prefix):
            return unit
    if name == "excess":
        return u.dimensionless_unscaled
    return None


def common_attrs(meta: dict[str, Any], conventions: list[str]) -> dict[str, Any]:
    attrs = attrs_from_meta(meta, skip={"ul_conf", "sed_type", "ul_confidence_level", "timesys"})
    attrs["publisher"] = "gamma-cat (per-paper table)"
    return attrs


def scalar_labels(meta: dict[str, Any]) -> dict[str, Any]:
    low = lower_meta(meta)
    coords: dict[str, Any] = {}
    if low.get("source_name"):
        coords["source"] = str(low["source_name"])
    elif low.get("source_id") is not None:
        try:
            coords["source"] = f"tev-{int(low['source_id']):06d}"
        except (TypeError, ValueError):
            coords["source"] = str(low["source_id"])
    if low.get("reference_id"):
        coords["paper"] = str(low["reference_id"])
    return coords
