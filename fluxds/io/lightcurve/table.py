"""Light-curve tables <-> fluxds Datasets: one row per time bin, energy bins as per-row vectors.

This is gammapy's "lightcurve" table (``time_min``/``time_max`` then every column a vector over energy,
``stat_scan``/``norm_scan`` energy x scan, ``counts``/``npred`` energy x dataset) and the common core of
the GADF and binned-time-series layouts, which hand over per-row scalars (one energy bin) with the
energies taken from elsewhere. Everything is whole-array numpy: nothing loops over time bins.

A Dataset variable without ``time`` (``ref_dnde`` of a reference model, the ``norm_scan`` grid) is
written repeated in every row; on reading, the reference and scan-grid columns that are the same in every
row become time-free again (fluxds files list them in ``FDSATTRS``, so the round trip is exact).
"""

from __future__ import annotations

import functools
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.collection import member_codes
from fluxds.construct import ORIGIN_TEMPLATE, from_sed
from fluxds.convert import to_sed_type
from fluxds.errors import FormatError, ModelError
from fluxds.io.gadf_table import (
    add_row_coordinates,
    mark_derived_edges,
    normalised_columns,
    resolve_sed_type,
    row_coordinates,
    units_option,
)
from fluxds.io.gti import gti_from_json
from fluxds.io.keywords import (
    META_ATTRS,
    apply_descriptions,
    attrs_from_meta,
    column_descriptions,
    dataset_label_meta,
    dataset_labels_from_meta,
    decode_keyword_text,
    derived_energy_meta,
    describe_columns,
    header_json,
    jsonable,
    keyword_meta,
    standard_meta,
)
from fluxds.io.lightcurve.keys import (
    CONSTANT_KEY,
    ENERGY_COLUMNS,
    ENERGY_COORDS,
    ENERGY_NOTES_KEY,
    MJDREFF_KEY,
    PRIVATE_KEYS,
    STANDARD_TIME_ATTRS,
    STRUCTURAL_META,
    TIME_ATTRS_KEY,
    TIME_CONSTANT_CANDIDATES,
    TIME_ONLY_KEY,
    energy_row,
    extra_meta_attrs,
    same_in_every_row,
    shaped_columns,
    time_coords_from_meta,
)
from fluxds.models import Template, model_from_json
from fluxds.timeaxis import TIME, time_keywords
from fluxds.units import format_unit, parse_unit

__all__ = [
    "dataset_from_lightcurve_table",
    "dataset_from_columns",
    "lightcurve_table_from_dataset",
    "member_rows",
    "row_table",
]


def member_rows(
    table: Table, saved: dict[str, Any] | None, dim: str, where: str
) -> tuple[Table, dict[str, xr.Variable], np.ndarray | None]:
    """The coordinates along a table's rows other than its bins: a collection's member label (light curves
    of several sources one after the other, each with its own time bins; ``docs/data_model.md``,
    "Collections"), other labels and positions, as :func:`fluxds.io.gadf_table.row_coordinates` finds them.

    Parameters
    ----------
    table : astropy.table.Table
    saved : dict or None
        The attributes fluxds wrote (``FDSATTRS``); the list of row coordinates is popped from it.
    dim : str
        The dimension of the rows (``time``, ``phase``).
    where : str
        The file and HDU, for messages.

    Returns
    -------
    table : astropy.table.Table
        The other columns.
    coords : dict of str to xarray.Variable
        The coordinates along ``dim``, in column order.
    members : numpy.ndarray or None
        The member code of each row (:func:`fluxds.collection.member_codes` of the first text coordinate:
        the member label), None on a single grid.
    """
    rest, found = row_coordinates(table, saved, dim, where)
    coords = {name: xr.Variable((dim,), values, attrs) for name, (_, values, attrs) in found.items()}
    label = next((name for name, var in coords.items() if var.dtype.kind in "USO"), None)
    return rest, coords, None if label is None else member_codes(coords[label].values)


def dataset_from_columns(
    columns: dict[str, Any],
    *,
    energies: dict[str, u.Quantity | None],
    tcoords: dict[str, xr.Variable],
    meta: dict[str, Any],
    where: str,
    scalar_rows: bool,
    sed_type: str | None = None,
    reference_model=None,
    saved: dict[str, Any] | None = None,
    extra_attrs: dict[str, Any] | None = None,
    dim: str = TIME,
) -> xr.Dataset:
    """Build a light-curve Dataset from per-row columns (time columns already taken out); ``dim`` is the
    binned axis of the rows (``time``; ``phase`` for a phase curve), ``tcoords`` its coordinates."""
    saved = dict(saved) if saved is not None else None
    sed = resolve_sed_type(sed_type, meta, columns, where)
    if schema.sed_type(sed).name not in columns:
        raise FormatError(
            f"{where}: SED_TYPE {sed!r} needs a column {schema.sed_type(sed).name!r}; "
            f"columns: {', '.join(columns)}"
        )
    if energies["e_ref"] is None and (energies["e_min"] is None or energies["e_max"] is None):
        raise FormatError(f"{where}: energy columns missing: need 'e_ref', or 'e_min' and 'e_max'")
    time_only = set(saved.get(TIME_ONLY_KEY, [])) if saved else set()
    shaped, alone = shaped_columns(columns, scalar_rows, time_only, where)
    if saved is not None and CONSTANT_KEY in saved:
        constant = [n for n in saved[CONSTANT_KEY] if n in shaped]
    else:
        constant = [
            n
            for n in TIME_CONSTANT_CANDIDATES
            if n in shaped
            and same_in_every_row(
                np.asarray(u.Quantity(shaped[n]).value if isinstance(shaped[n], u.Quantity) else shaped[n])
            )
        ]
    model, template = reference_model, False
    if saved and saved.get("reference_model"):
        try:
            model = model_from_json(saved["reference_model"])
        except ModelError as exc:
            raise FormatError(f"{where}: reference model in {META_ATTRS}: {exc}") from None
    elif model is None and "ref_dnde" in constant and sed == schema.LIKELIHOOD:
        try:
            ref_e = (
                energies["e_ref"]
                if energies["e_ref"] is not None
                else np.sqrt(energies["e_min"] * energies["e_max"])
            )
            model, template = Template(energy=ref_e, values=shaped["ref_dnde"][0]), True
        except ModelError:
            model = None  # e.g. a non-positive ref_dnde: no log-log template through it
    ds = from_sed(
        sed,
        shaped,
        energy_ref=energies["e_ref"],
        energy_min=energies["e_min"],
        energy_max=energies["e_max"],
        reference_model=model,
        dims=(dim, schema.ENERGY),
        coords=tcoords,
        attrs=extra_attrs or {},
        ul_conf=meta.get("UL_CONF"),
        where=where,
    )
    if template:
        ds.attrs["reference_model_origin"] = ORIGIN_TEMPLATE
    ds = ds.assign({n: ds[n].isel({dim: 0}, drop=True) for n in constant if n in ds.data_vars})
    for name, col in alone.items():
        attrs = {"long_name": name}
        if isinstance(col, u.Quantity) and col.unit != u.dimensionless_unscaled:
            attrs["units"] = format_unit(col.unit)
        ds[name] = xr.Variable(
            (dim,), np.asarray(u.Quantity(col).value if isinstance(col, u.Quantity) else col), attrs
        )
    if saved is not None:
        for coord, note in saved.pop(ENERGY_NOTES_KEY, {}).items():
            if coord in ds.coords:
                ds[coord].attrs["note"] = note
        for coord, attrs in saved.pop(TIME_ATTRS_KEY, {}).items():
            if coord in ds.coords:
                ds[coord].attrs.update(attrs)
        ds.attrs = {k: v for k, v in saved.items() if k not in PRIVATE_KEYS}
    mark_derived_edges(ds, meta)  # issue 13 items 11, 12: derived edges marked, dataset labels kept
    labels = dataset_labels_from_meta(meta, ds.sizes.get("dataset"), where)
    if labels is not None:
        ds = ds.assign_coords(dataset=labels)
    if "SOURCE" in meta:
        ds = ds.assign_coords(source=decode_keyword_text(str(meta["SOURCE"])))
    if meta.get("GTI") is not None:
        ds = ds.merge(gti_from_json(meta["GTI"], where))
    return ds


def dataset_from_lightcurve_table(
    table: Table, *, where: str, sed_type: str | None = None, units: dict[str, str] | str | None = None
) -> xr.Dataset:
    """Read one gammapy "lightcurve" table (one source) into a fluxds Dataset with a ``time`` dimension.

    Parameters
    ----------
    table : astropy.table.Table
        One row per time bin: ``time_min``, ``time_max`` (numbers in ``TIMEUNIT``, default ``d``, since
        ``MJDREFI + MJDREFF``, default 0, in ``TIMESYS``, default UTC as gammapy), per-row energy
        vectors ``e_ref``/``e_min``/``e_max`` and quantity vectors.
    where : str
        The file and HDU, for messages.
    sed_type : str, optional
        Overrides ``SED_TYPE`` (which gammapy does not write: then the columns tell).
    units : dict or "gadf", optional
        Units for columns without one (see :func:`fluxds.io.gadf_table.dataset_from_table`).

    Returns
    -------
    xarray.Dataset
        Dims ``(time, energy[, scan | dataset])``.
    """
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    lowered = {name.lower(): name for name in table.colnames}
    found = [n for n in ("time_min", "time_max") if n in lowered]
    if len(found) != 2:
        raise FormatError(
            f"{where}: a light-curve table needs both 'time_min' and 'time_max' columns; found "
            f"{found or 'neither'}; columns: {', '.join(table.colnames)}"
        )
    saved = attrs_from_meta(meta, where)
    table, labels, members = member_rows(table, saved, TIME, where)
    columns = normalised_columns(table, where, units_option(units, where))
    times = {"time_min": columns.pop("time_min"), "time_max": columns.pop("time_max")}
    if "time" in columns:
        times["time_value"] = columns.pop("time")
    if saved and saved.get("_time_value_derived"):
        times.pop("time_value", None)
    tcoords = {**time_coords_from_meta(times, meta, where, saved=saved, members=members), **labels}
    present = [n for n in ENERGY_COLUMNS if n in columns]
    scalar_rows = bool(present) and np.ndim(columns[present[0]]) == 1
    energies = energy_row(columns, where)
    ds = dataset_from_columns(
        columns,
        energies=energies,
        tcoords=tcoords,
        meta=meta,
        where=where,
        scalar_rows=scalar_rows,
        sed_type=sed_type,
        saved=saved,
        extra_attrs=extra_meta_attrs(table),
    )
    return apply_descriptions(ds, column_descriptions(table))  # issue 13 item 17


def _column_values(name: str, var: xr.Variable, n_time: int, where: str, dim: str = TIME) -> np.ndarray:
    if var.dims == (dim,):
        return np.asarray(var.values)
    extra = [d for d in var.dims if d not in (dim, schema.ENERGY)]
    bad = [d for d in extra if d not in ("scan", "dataset") and not str(d).endswith("_axis")]
    if schema.ENERGY not in var.dims or bad or len(extra) > 1:
        kind = "light-curve" if dim == TIME else f"{dim}-curve"
        raise FormatError(
            f"{where}: variable {name!r} has dims {var.dims}; a {kind} table holds variables along "
            f"({dim}, energy) with at most one scan/dataset axis. Write netCDF instead, or select first"
        )
    order = [d for d in (dim, schema.ENERGY, *extra) if d in var.dims]
    values = np.asarray(var.transpose(*order).values)
    if dim not in var.dims:
        values = np.broadcast_to(values[None], (n_time, *values.shape))
    return values


@functools.lru_cache(maxsize=256)
def _unit(text: str) -> u.UnitBase:
    """A column unit as astropy's ``Column.unit`` setter parses it (units are immutable: parsed once)."""
    return u.Unit(text, parse_strict="silent")


def _add_column(table: Table, name: str, values: np.ndarray, unit: str | None) -> None:
    """Add a column without copying ``values`` (a view of the Dataset's array, or a broadcast view of a
    time-free one: read-only); the writers only read the table's columns."""
    table.add_column(values, name=name, copy=False)
    if unit is not None:
        table[name].unit = _unit(unit)


def row_table(
    ds: xr.Dataset, dim: str, sed: str, leading: list[tuple[str, np.ndarray, str | None]], where: str
) -> tuple[Table, dict[str, Any], xr.Dataset]:
    """The columns of a table with one row per entry of ``dim`` (a binned axis: ``time``, ``phase``):
    the ``leading`` columns ``(name, values, unit)`` first, then the other coordinates along ``dim`` (a
    collection's member label: :func:`member_rows` reads them back), ``e_ref``/``e_min``/``e_max`` and every
    variable as per-row vectors over energy (the SED type ``sed``'s columns beside the likelihood form).

    Returns the table, the ``FDSATTRS`` content so far (the Dataset's attributes and the private keys of
    the row layout) and the Dataset in the SED type written (for its attributes). The columns are views
    of the Dataset's arrays where they can be (no copy): copy a column before changing it in place."""
    out = to_sed_type(ds, sed, keep_likelihood=True)
    n_rows = ds.sizes[dim]
    table = Table()
    for column, values, unit in leading:
        _add_column(table, column, values, unit)
    attrs = {k: jsonable(v) for k, v in ds.attrs.items()}
    add_row_coordinates(table, ds, dim, attrs, ascii_text=True, where=where)  # a collection's labels
    notes = {}
    for name, column in zip(ENERGY_COLUMNS, ENERGY_COORDS, strict=True):
        if column in ds.coords:
            coord = ds.variables[column]
            values = np.asarray(coord.values, dtype=np.float64)
            unit = format_unit(parse_unit(coord.attrs.get("units")))
            _add_column(table, name, np.broadcast_to(values[None], (n_rows, values.size)), unit)
            if coord.attrs.get("note"):
                notes[column] = coord.attrs["note"]
    constant, row_only = [], []
    for name in out.data_vars:
        if str(name).startswith("gti_"):
            continue
        var = out.variables[name]  # the Variable: no DataArray built for each
        unit = format_unit(parse_unit(var.attrs["units"])) if var.attrs.get("units") else None
        _add_column(table, str(name), _column_values(str(name), var, n_rows, where, dim), unit)
        if dim not in var.dims:
            constant.append(str(name))
        elif var.dims == (dim,):
            row_only.append(str(name))
    attrs[CONSTANT_KEY], attrs[TIME_ONLY_KEY], attrs[ENERGY_NOTES_KEY] = constant, row_only, notes
    return table, attrs, out


def lightcurve_table_from_dataset(
    ds: xr.Dataset, sed_type: str | None = None, *, where: str = "", bins_required: bool = True
) -> Table:
    """One gammapy "lightcurve" table from a light-curve Dataset without a ``source`` dimension.

    Columns ``time_min``, ``time_max`` (the stored numbers, unit ``TIMEUNIT``), ``e_ref``/``e_min``/
    ``e_max`` and every variable as per-row vectors over energy (the SED type's columns beside the
    likelihood form). Meta: ``MJDREFI``, ``MJDREFF``, ``TIMESYS``, ``TIMEUNIT`` (``TIMEREF``),
    ``SED_TYPE``, ``UL_CONF``, ``FDSATTRS`` (and ``GTI`` as JSON text, which the FITS writer turns into a
    ``GTI`` HDU).
    """
    if TIME not in ds.dims:
        raise FormatError(f"{where}: the Dataset has no 'time' dimension; write it as an SED table instead")
    names = [c for c in ("time_min", "time_max", "time_value") if c in ds.coords]
    if bins_required or "time_value" not in names:
        names = names if "time_min" in names else ["time_min"]  # raises below, naming what is missing
    keywords = time_keywords(ds, names[0], where, upper=False)
    if any(time_keywords(ds, c, where, upper=False) != keywords for c in names[1:]):
        raise FormatError(f"{where}: the time coordinates {names} differ in units, reference or scale")
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    unit = keywords["TIMEUNIT"]
    leading = [
        ("time" if name == "time_value" else name, np.asarray(ds[name].values, dtype=np.float64), unit)
        for name in names
    ]
    table, attrs, out = row_table(ds, TIME, sed, leading, where)
    extra = {
        c: {k: jsonable(v) for k, v in ds[c].attrs.items() if k not in STANDARD_TIME_ATTRS} for c in names
    }
    attrs[TIME_ATTRS_KEY] = {c: a for c, a in extra.items() if a}
    attrs[MJDREFF_KEY] = keywords["MJDREFF"]
    describe_columns(table, ds)  # issue 13 items 11, 12, 17: descriptions, derived marks, dataset labels
    table.meta.update(keywords)
    table.meta.update(standard_meta(ds, out.attrs["sed_type"]))
    table.meta.update(derived_energy_meta(ds, table.colnames))
    table.meta.update(dataset_label_meta(ds, where))
    table.meta.update(keyword_meta(ds, set(table.meta) | STRUCTURAL_META))
    table.meta[META_ATTRS] = header_json(attrs)
    return table
