"""Phase curves: tables with one row per bin of a binned axis other than time (``phase``), in FITS and ECSV.

A phase-curve table is a gammapy "lightcurve" table whose time columns are replaced by the columns of the
axis (:data:`fluxds.schema.BINNED_AXES`): ``phase_min``, ``phase_max`` (and ``phase``, the bin centre,
optional), then ``e_ref``/``e_min``/``e_max`` and every quantity as per-row vectors over energy
(``stat_scan``/``norm_scan`` energy x scan), the header keywords ``SED_TYPE``, ``UL_CONF`` and
``FDSATTRS``; FITS holds one HDU ``FLUXPOINTS`` (or one per source, named after it) and a ``GTI`` HDU
when the Dataset has good time intervals. Phase is dimensionless; any finite range is accepted (bins
beyond [0, 1] too), with ``phase_min <= phase_max`` in every bin.

A table without the centre column gets the centre ``phase_min + (phase_max - phase_min) / 2``, noted on
the coordinate (``note``); such a derived centre is not written back, so the round trip is exact both
ways. The axis is chosen by the columns (:func:`row_axis_of`), so the next binned axis needs no code here.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.axes import binned_coords, derived_centre_note
from fluxds.errors import FormatError
from fluxds.io.gadf_table import normalised_columns, units_option
from fluxds.io.keywords import (
    META_ATTRS,
    apply_descriptions,
    attrs_from_meta,
    column_descriptions,
    dataset_label_meta,
    derived_energy_meta,
    describe_columns,
    header_json,
    jsonable,
    keyword_meta,
    standard_meta,
)
from fluxds.io.lightcurve.keys import (
    ENERGY_COLUMNS,
    STRUCTURAL_META,
    TIME_ATTRS_KEY,
    energy_row,
    extra_meta_attrs,
)
from fluxds.io.lightcurve.table import dataset_from_columns, member_rows, row_table
from fluxds.units import format_unit, parse_unit

__all__ = [
    "ROW_AXES",
    "row_axis_of",
    "is_row_table",
    "dataset_from_row_table",
    "row_table_from_dataset",
    "check_row_axis",
]

#: the binned axes a table of this layout can have as rows: every one but energy (the per-row vectors),
#: time (light curves, with their own keywords) and region (flux profiles, a family of their own)
ROW_AXES = tuple(a for a in schema.BINNED_AXES.values() if a.dim not in (schema.ENERGY, "time", "region"))


def row_axis_of(names) -> schema.BinnedAxis | None:
    """The row axis of a table with these column names (any case), or None."""
    lowered = {str(n).lower() for n in names}
    return next((a for a in ROW_AXES if lowered & set(a.file_columns)), None)


def is_row_table(names) -> bool:
    """Whether a table with these column names is a phase curve (or a table of another row axis)."""
    return row_axis_of(names) is not None


def _unit_of(columns: dict[str, Any], where: str) -> str:
    """The one unit of the axis columns (``""`` for none or dimensionless)."""
    units = {format_unit(c.unit) if isinstance(c, u.Quantity) else "" for c in columns.values()}
    if len(units) > 1:
        raise FormatError(f"{where}: the columns {sorted(columns)} differ in units: {sorted(units)}")
    return units.pop() if units else ""


def dataset_from_row_table(
    table: Table, *, where: str, sed_type: str | None = None, units: dict[str, str] | str | None = None
) -> xr.Dataset:
    """Read one phase-curve table (one source) into a Dataset with a ``phase`` dimension.

    Parameters
    ----------
    table : astropy.table.Table
        One row per bin: ``phase_min``, ``phase_max`` (and/or ``phase``), per-row energy vectors
        ``e_ref``/``e_min``/``e_max`` and quantity vectors.
    where : str
        The file and HDU, for messages.
    sed_type : str, optional
        Overrides ``SED_TYPE`` (else the keyword, else the columns tell).
    units : dict or "gadf", optional
        Units for columns without one.

    Returns
    -------
    xarray.Dataset
        Dims ``(phase, energy[, scan | dataset])``.
    """
    axis = row_axis_of(table.colnames)
    if axis is None:
        raise FormatError(f"{where}: no phase columns; columns: {', '.join(table.colnames)}")
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    saved = attrs_from_meta(meta, where)
    table, labels, _ = member_rows(table, saved, axis.dim, where)  # a collection's labels
    columns = normalised_columns(table, where, units_option(units, where))
    taken = {c: columns.pop(c) for c in axis.file_columns if c in columns}
    unit = _unit_of(taken, where)
    values = dict(zip(("centre", "lo", "hi"), (taken.get(c) for c in axis.file_columns), strict=True))
    coords = {**binned_coords(axis.dim, **values, unit=unit, where=where, what="column"), **labels}
    present = [n for n in ENERGY_COLUMNS if n in columns]
    if not present:
        raise FormatError(
            f"{where}: a {axis.dim}-curve table needs per-row energy columns (e_ref, or e_min and e_max)"
        )
    scalar_rows = np.ndim(columns[present[0]]) == 1
    energies = energy_row(columns, where)
    ds = dataset_from_columns(
        columns,
        energies=energies,
        tcoords=coords,
        meta=meta,
        where=where,
        scalar_rows=scalar_rows,
        sed_type=sed_type,
        saved=saved,
        extra_attrs=extra_meta_attrs(table),
        dim=axis.dim,
    )
    return apply_descriptions(ds, column_descriptions(table))


def check_row_axis(ds: xr.Dataset, where: str) -> tuple[schema.BinnedAxis, dict[str, xr.DataArray]]:
    """The row axis of a Dataset to write as a phase-curve table, and its coordinates to write (not a
    centre a reader derived); refused with a :class:`FormatError` naming what is missing (the ``phase``
    numbers, or another binned dimension besides it) and saying to write netCDF or zarr instead."""
    axis = next((a for a in ROW_AXES if a.dim in ds.dims), None)
    if axis is None:
        raise FormatError(f"{where}: the Dataset has no phase dimension; write it as an SED table instead")
    others = [d for d in ds.dims if schema.binned_axis(d) is not None and d not in (axis.dim, schema.ENERGY)]
    if others:
        raise FormatError(
            f"{where}: a {axis.dim}-curve table has one row per {axis.dim} bin; this Dataset also has the "
            f"binned dimension(s) {others}. Write netCDF or zarr (which keep every dimension), or select"
        )
    numeric = {
        name: ds[name]
        for name in axis.coords
        if name in ds.coords and ds[name].dims == (axis.dim,) and ds[name].dtype.kind in "fiu"
    }
    if axis.centre in numeric and numeric[axis.centre].attrs.get("note") == derived_centre_note(axis):
        if all(e in numeric for e in axis.edges):
            del numeric[axis.centre]  # a reader derives it again, with the same note
    if not numeric or (axis.centre not in numeric and not all(e in numeric for e in axis.edges)):
        raise FormatError(
            f"{where}: a {axis.dim}-curve table needs the {axis.dim} bins as numbers: coordinates "
            f"{axis.min_name!r} and {axis.max_name!r} (and/or {axis.centre!r}) along {axis.dim!r}; write "
            "netCDF or zarr to keep a dimension without them"
        )
    return axis, numeric


def row_table_from_dataset(ds: xr.Dataset, sed_type: str | None = None, *, where: str = "") -> Table:
    """One phase-curve table from a Dataset with a ``phase`` dimension and without ``source``.

    Columns ``phase_min``, ``phase_max`` (the stored numbers), ``phase`` (unless derived by a reader,
    see the module docstring), then the energies and every variable as per-row vectors over energy.
    """
    axis, numeric = check_row_axis(ds, where)
    units = {format_unit(parse_unit(v.attrs.get("units") or "")) for v in numeric.values()}
    if len(units) > 1:
        raise FormatError(
            f"{where}: the {axis.dim} coordinates {list(numeric)} differ in units: {sorted(units)}"
        )
    unit = units.pop() or None
    column_of = dict(zip(axis.coords, axis.file_columns, strict=True))
    order = [axis.min_name, axis.max_name, axis.centre]
    leading = [
        (column_of[n], np.asarray(numeric[n].values, dtype=np.float64), unit) for n in order if n in numeric
    ]
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    table, attrs, out = row_table(ds, axis.dim, sed, leading, where)
    default = axis.long_name_of
    extra = {
        name: {
            k: jsonable(v)
            for k, v in var.attrs.items()
            if k != "units" and not (k == "long_name" and v == default[name])
        }
        for name, var in numeric.items()
    }
    attrs[TIME_ATTRS_KEY] = {c: a for c, a in extra.items() if a}  # "coordinate attributes" of the rows
    describe_columns(table, ds)
    table.meta.update(standard_meta(ds, out.attrs["sed_type"]))
    table.meta.update(derived_energy_meta(ds, table.colnames))
    table.meta.update(dataset_label_meta(ds, where))
    table.meta.update(keyword_meta(ds, set(table.meta) | STRUCTURAL_META))
    table.meta[META_ATTRS] = header_json(attrs)
    return table
