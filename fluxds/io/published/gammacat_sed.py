"""gamma-cat's per-paper SEDs (``tev-<id>-sed.ecsv``, ``-sed-N``, ``tev-<id>.ecsv``), read with gamma-cat's
conventions (``input/schemas/sed-format.md`` and its processing script ``gammacat/sed.py``); every
assumption is recorded in ``attrs["conventions"]``.

- Columns without a unit have gamma-cat's default units (``e_*`` TeV, ``dnde*`` cm-2 s-1 TeV-1);
  ``e2dnde*`` without a unit is refused (gamma-cat has no default for it).
- ``e_lo``/``e_hi`` are distances from ``e_ref`` (``e_min = e_ref - e_lo``); ``dnde_min``/``dnde_max`` are
  the 1 sigma limits (``dnde_errn = dnde - dnde_min``); ``e_ref_err`` is dropped, as gamma-cat does.
- An upper limit is a row whose ``dnde`` is NaN and ``dnde_ul`` is not (or ``is_ul``); ``UL_CONF`` a
  fraction, a percent or "1 sigma" (0.84).
- NaN ``e_min``/``e_max`` mean "not given" (typically on upper-limit rows): the energy axis is then
  ``e_ref`` and the published edges stay beside it as ``e_min_published``/``e_max_published``.
- A ``dnde`` column in units of an energy flux (``TeV cm-2 s-1``) is read as ``e2dnde``.
- The older input layout (``energy``, ``flux`` = dN/dE, ``flux_lo``/``flux_hi``, the upper limit in
  ``flux_hi`` when ``flux`` is NaN, ``ul_confidence_level``) is read too.
"""

from __future__ import annotations

import os
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.errors import FormatError, UnitError
from fluxds.io.gadf_table import dataset_from_table
from fluxds.io.published.conventions import (
    conventions_text,
    first_duplicate,
    fraction_ul_conf,
    is_crab,
    lower_meta,
    parse_published_unit,
    unit_text,
)
from fluxds.io.published.gammacat_table import (
    column_quantity,
    common_attrs,
    default_unit,
    read_table,
    scalar_labels,
    table_conventions,
)
from fluxds.units import format_unit

__all__ = ["read_sed"]


_OLD_NAMES = {
    "energy": "e_ref",
    "energy_min": "e_min",
    "energy_max": "e_max",
    "energy_lo": "e_lo",
    "energy_hi": "e_hi",
    "flux": "dnde",
    "flux_err": "dnde_err",
    "flux_lo": "dnde_errn",
    "flux_hi": "dnde_errp",
    "sigma": "significance",
}


def _sed_columns(table: Table, where: str, conventions: list[str]) -> dict[str, Any]:
    names = {n.lower(): n for n in table.colnames}
    old = "e_ref" not in names and "energy" in names and "dnde" not in names
    columns: dict[str, Any] = {}
    unitless: dict[str, list[str]] = {}
    renamed: list[str] = []
    for low, raw in names.items():
        name = _OLD_NAMES.get(low, low) if old else low
        if is_crab(unit_text(table[raw])):
            raise FormatError(f"{where}: column {raw!r} is in Crab units; an SED needs physical units")
        default = default_unit(name)
        if name.startswith("dnde") and table[raw].unit is not None and not is_crab(unit_text(table[raw])):
            unit = parse_published_unit(table[raw].unit, where=where, column=raw)
            if unit.is_equivalent(u.erg / u.cm**2 / u.s):
                renamed.append(raw)
                name = "e2" + name
        if name.startswith("e2dnde") and table[raw].unit is None:
            raise UnitError(
                f"{where}: column {raw!r} has no unit; gamma-cat gives no default unit for e2dnde "
                "(only e_* in TeV and dnde* in cm-2 s-1 TeV-1)"
            )
        if table[raw].unit is None and default is not None and default != u.dimensionless_unscaled:
            unitless.setdefault(format_unit(default), []).append(raw)
        data = column_quantity(table, raw, where, default)
        if isinstance(data, np.ndarray) and data.dtype.kind in "SUO" and name not in ("source",):
            continue  # text columns (notes) stay out of the numbers
        columns[name] = data
    if renamed:
        conventions.append(
            f"{', '.join(renamed)} named dnde but in units of an energy flux (E^2 dN/dE): read as e2dnde"
        )
    for unit, raws in unitless.items():
        conventions.append(f"no unit on {', '.join(raws)}: gamma-cat's default {unit} assumed")
    if old:
        conventions.append(
            "gamma-cat's first SED layout (energy, flux = dN/dE, flux_lo/flux_hi) read as e_ref, dnde, "
            "dnde_errn/dnde_errp"
        )
        if "dnde_errp" in columns and "dnde" in columns:  # the upper limit sits in flux_hi when flux is NaN
            ul_rows = np.isnan(np.asarray(u.Quantity(columns["dnde"]).value))
            if ul_rows.any():
                errp = u.Quantity(columns["dnde_errp"])
                columns["dnde_ul"] = np.where(ul_rows, errp.value, np.nan) * errp.unit
                columns["dnde_errp"] = np.where(ul_rows, np.nan, errp.value) * errp.unit
    e_ref = columns.get("e_ref")
    for side, sign, edge in (("e_lo", -1.0, "e_min"), ("e_hi", 1.0, "e_max")):
        if side in columns and e_ref is not None and edge not in columns:
            columns[edge] = e_ref + sign * u.Quantity(columns.pop(side))
            conventions.append(
                f"{side} is a distance from e_ref: {edge} = e_ref {'-' if sign < 0 else '+'} {side}"
            )
        columns.pop(side, None)
    columns.pop("e_ref_err", None)  # gamma-cat drops it too (no place in an SED)
    for stem in ("dnde", "e2dnde"):
        for limit, err, op in (("_min", "_errn", "-"), ("_max", "_errp", "+")):
            if f"{stem}{limit}" in columns and stem in columns:
                value = u.Quantity(columns[stem])
                bound = u.Quantity(columns.pop(f"{stem}{limit}")).to(value.unit)
                columns[f"{stem}{err}"] = (value - bound) if op == "-" else (bound - value)
                conventions.append(f"{stem}{limit} is the 1 sigma limit: {stem}{err} = {stem} {op} ...")
    return columns


def _flag_upper_limits(columns: dict[str, Any], stem: str) -> None:
    if "is_ul" in columns:
        columns["is_ul"] = np.asarray(columns["is_ul"]).astype(bool)
        return
    if f"{stem}_ul" in columns:
        value = np.asarray(u.Quantity(columns[stem]).value) if stem in columns else None
        ul = np.isfinite(np.asarray(u.Quantity(columns[f"{stem}_ul"]).value))
        columns["is_ul"] = ul & (np.isnan(value) if value is not None else True)


def _published_edges(columns: dict[str, Any], conventions: list[str]) -> dict[str, xr.Variable]:
    """Edges given on some rows only: out of the energy axis, kept as coordinates beside it."""
    if "e_min" not in columns or "e_max" not in columns:
        return {}
    lo, hi = u.Quantity(columns["e_min"]), u.Quantity(columns["e_max"])
    given = np.isfinite(lo.value) & np.isfinite(hi.value)
    if given.all():
        return {}
    columns.pop("e_min"), columns.pop("e_max")
    if not given.any():
        conventions.append("e_min/e_max are NaN in every row (not given): the SED has e_ref only")
        return {}
    note = (
        "the published bin edges; NaN where the file gives none (so they are not the bins of the energy axis)"
    )
    conventions.append(
        f"e_min/e_max are NaN (not given) in {int((~given).sum())} of {given.size} rows: the energy axis "
        "is e_ref; the published edges are kept as e_min_published/e_max_published"
    )
    return {
        f"{name}_published": xr.Variable(
            (schema.ENERGY,), np.asarray(q.value, dtype=float), {"units": str(q.unit), "note": note}
        )
        for name, q in (("e_min", lo), ("e_max", hi))
    }


def _sorted_rows(columns: dict[str, Any], key: str, where: str, conventions: list[str], what: str) -> None:
    values = np.asarray(u.Quantity(columns[key]).value, dtype=float)
    twice = first_duplicate(values)
    if twice is not None:
        i, j = twice
        raise FormatError(
            f"{where}: rows {i} and {j} have the same {key} = {float(values[i])!r}; {what} holds one "
            "measurement per point, and the file does not say how the two rows differ"
        )
    if np.all(np.diff(values) > 0):
        return
    order = np.argsort(values, kind="stable")
    for name, value in list(columns.items()):
        if np.ndim(value) >= 1 and np.shape(value)[0] == values.size:
            columns[name] = value[order]
    conventions.append(f"rows sorted by {key} (the file lists them out of order)")


def read_sed(path: str | os.PathLike, **options) -> xr.Dataset:
    """Read a gamma-cat per-paper SED (ECSV) with gamma-cat's conventions (see the module).

    Parameters
    ----------
    path : str or path-like
    **options
        ``sed_type=``, ``derive_edges=``, ``units=`` as for a GADF SED table.

    Returns
    -------
    xarray.Dataset
        Dims ``(energy,)``; scalar coordinates ``source`` (gamma-cat's ``source_name`` or
        ``tev-<source_id>``) and ``paper`` (``reference_id``); ``attrs["conventions"]``.
    """
    where = str(path)
    table = read_table(where)
    meta = dict(table.meta)
    conventions: list[str] = table_conventions(meta)
    low = lower_meta(meta)
    columns = _sed_columns(table, where, conventions)
    stem = "e2dnde" if "e2dnde" in columns and "dnde" not in columns else "dnde"
    _flag_upper_limits(columns, stem)
    if "e_ref" in columns and "e_min" in columns and "e_max" in columns:
        e_ref = u.Quantity(columns["e_ref"])
        lo, hi = u.Quantity(columns["e_min"]), u.Quantity(columns["e_max"])
        missing = ~np.isfinite(e_ref.value) & np.isfinite(lo.value) & np.isfinite(hi.value)
        if missing.any():
            columns["e_ref"] = (
                np.where(missing, np.sqrt(lo * hi.to(lo.unit)).to_value(e_ref.unit), e_ref.value) * e_ref.unit
            )
            conventions.append(f"e_ref not given in {int(missing.sum())} row(s): sqrt(e_min e_max) there")
    key = "e_ref" if "e_ref" in columns else "e_min"
    if key in columns:
        _sorted_rows(columns, key, where, conventions, "an SED")
    extra_coords = _published_edges(columns, conventions)
    ul_conf, note = fraction_ul_conf(low.get("ul_conf", low.get("ul_confidence_level")), where)
    if note:
        conventions.append(note)
    new_meta = common_attrs(meta, conventions)
    new_meta["SED_TYPE"] = options.pop("sed_type", None) or low.get("sed_type") or stem
    if ul_conf is not None:
        new_meta["UL_CONF"] = ul_conf
    out = Table(columns, meta=new_meta)
    described = {n.lower(): table[n].info.description for n in table.colnames if table[n].info.description}
    for name in out.colnames:  # the file's column descriptions, kept (written back by fluxds's writers)
        if name in described:
            out[name].info.description = described[name]
    ds = dataset_from_table(out, where=where, **options)
    if extra_coords:
        ds = ds.assign_coords(extra_coords)
    ds = ds.assign_coords(scalar_labels(meta))
    ds.attrs["conventions"] = conventions_text(
        conventions or ["none needed: the table is a GADF SED as it is"]
    )
    return ds
