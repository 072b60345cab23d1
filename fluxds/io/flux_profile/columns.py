"""gammapy's flux-profile table, column by column: the names (shared by the reader
:mod:`fluxds.io.flux_profile.read` and the writer :mod:`fluxds.io.flux_profile.write`) and the checks
that turn the per-row columns into Dataset pieces."""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.errors import FormatError, Problems
from fluxds.units import format_unit, parse_unit

__all__ = [
    "REGION_DIM",
    "X_COLUMNS",
    "SHAPE_COORD",
    "HDU_NAME",
    "energy_columns",
    "loglike_to_stat",
    "per_row",
    "region_coords",
    "shared_columns",
    "text_columns",
]

REGION_DIM = "region"
X_COLUMNS = {
    "x_min": "lower edge of the projected-distance bin",
    "x_max": "upper edge of the projected-distance bin",
    "x_ref": "projected distance of the region (bin centre)",
}
SHAPE_COORD = "region_shape"
HDU_NAME = "FLUXPOINTS"
TEXT_COLUMNS = (REGION_DIM, SHAPE_COORD)
SHARED_KEY = "_shared_over_region"
NOTES_KEY = "_energy_notes"
ENERGY_COLUMNS = schema.ENERGY_COLUMNS
# stored once per energy when the same in every row of a file fluxds did not write
SHARED_COLUMNS = schema.ENERGY_ONLY_VARIABLES


def per_row(values: np.ndarray) -> np.ndarray:
    """A column as (region, energy, ...): a 1-D column is one energy bin per row."""
    return values[:, None] if values.ndim == 1 else values


def _same_in_every_row(values: np.ndarray) -> np.ndarray:
    """Indices of rows that differ from row 0 (NaN equals NaN)."""
    first = values[:1]
    same = (
        (values == first) | (np.isnan(values) & np.isnan(first))
        if values.dtype.kind == "f"
        else (values == first)
    )
    return np.flatnonzero(~same.reshape(len(values), -1).all(axis=1))


def energy_columns(
    columns: dict[str, Any], where: str, problems: Problems | None = None, unread=()
) -> dict[str, Any]:
    """Pop ``e_ref``/``e_min``/``e_max`` (the same in every row) from ``columns``: the first row of each.
    Every problem is raised at once, or kept in ``problems``; ``unread`` names columns already reported
    bad (not reported missing too)."""
    collect = Problems(where) if problems is None else problems
    energies = {}
    for name in ENERGY_COLUMNS:
        energies[name] = None
        if name not in columns:
            continue
        q = columns.pop(name)
        q = q.reshape((len(q), -1))
        bad = _same_in_every_row(q.value)
        if bad.size:
            collect.add(
                FormatError(
                    f"{where}: column {name!r} differs between rows (row {int(bad[0])} vs row 0): a profile "
                    "holds one set of energy bins for every region"
                )
            )
            continue
        energies[name] = q[0]
    missing = energies["e_ref"] is None and (energies["e_min"] is None or energies["e_max"] is None)
    if missing and not collect and not set(unread) & set(ENERGY_COLUMNS):
        collect.add(FormatError(f"{where}: energy columns missing: need 'e_ref', or 'e_min' and 'e_max'"))
    if problems is None:
        collect.raise_if_any()
    return energies


def loglike_to_stat(columns: dict[str, Any]) -> None:
    """The GADF log-likelihood columns as -2 log L (see :mod:`fluxds.io.gadf_table`), per row."""
    null = columns.get("loglike_null")
    if "dloglike_scan" in columns and "stat_scan" not in columns:
        offset = 0.0 if null is None else np.asarray(null, dtype=float)[..., None]
        columns["stat_scan"] = -2.0 * (offset + np.asarray(columns.pop("dloglike_scan"), dtype=float))
    for old, new in (("loglike", "stat"), ("loglike_null", "stat_null")):
        if old in columns and new not in columns:
            columns[new] = -2.0 * np.asarray(columns.pop(old), dtype=float)


def region_coords(
    table: Table, text: dict[str, np.ndarray], where: str, problems: Problems | None = None
) -> dict[str, xr.Variable]:
    """The ``region`` coordinates: names, ``x_min``/``x_ref``/``x_max`` (angles) and the shapes. Every
    problem is raised at once, or kept in ``problems``."""
    collect = Problems(where) if problems is None else problems
    n = len(table)
    names = text.get(REGION_DIM)
    if names is None:
        names = np.array([f"region{i}" for i in range(n)])
    if len(set(names.tolist())) != n:
        collect.add(FormatError(f"{where}: column 'region' holds duplicate names: {names.tolist()}"))
    coords = {REGION_DIM: xr.Variable(REGION_DIM, names.astype(str), {"long_name": "region name"})}
    x_found = set()
    for name, long_name in X_COLUMNS.items():
        col = next((table[c] for c in table.colnames if c.lower() == name), None)
        if col is None:
            continue
        x_found.add(name)
        with collect.check():
            unit = parse_unit(col.unit, where=f"{where}, column {name!r}") if col.unit else None
            if unit is None or unit.physical_type != "angle":
                raise FormatError(f"{where}: column {name!r} has unit {col.unit!r}; expected an angle (deg)")
            values = np.asarray(col, dtype=np.float64)
            attrs = {"units": format_unit(unit), "long_name": long_name}
            coords[name] = xr.Variable(REGION_DIM, values, attrs)
    if "x_ref" not in x_found:
        collect.add(FormatError(f"{where}: a profile table needs an 'x_ref' column (projected distance)"))
    if problems is None:
        collect.raise_if_any()
    if SHAPE_COORD in text:
        coords[SHAPE_COORD] = xr.Variable(REGION_DIM, text[SHAPE_COORD].astype(str), {"long_name": "region"})
    return coords


def text_columns(table: Table) -> tuple[Table, dict[str, np.ndarray]]:
    text = {}
    keep = []
    for c in table.colnames:
        low = c.lower()
        if low in TEXT_COLUMNS:
            values = np.asarray(table[c])
            text[low] = np.char.decode(values) if values.dtype.kind == "S" else values
        elif low not in X_COLUMNS:
            keep.append(c)
    return table[keep], text


def shared_columns(columns: dict[str, Any], saved: dict | None, where: str) -> list[str]:
    """Variables stored once per energy (not per region): as fluxds listed them, else the ref_* and
    norm_scan columns that are the same in every row."""
    if saved is not None and SHARED_KEY in saved:
        names = [n for n in saved[SHARED_KEY] if n in columns]
        for name in names:
            bad = _same_in_every_row(np.asarray(getattr(columns[name], "value", columns[name])))
            if bad.size:
                raise FormatError(
                    f"{where}: column {name!r} is marked as shared but row {int(bad[0])} differs"
                )
        return names
    return [
        n
        for n in SHARED_COLUMNS
        if n in columns and not _same_in_every_row(np.asarray(getattr(columns[n], "value", columns[n]))).size
    ]
