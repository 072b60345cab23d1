"""The GADF v0.3 light-curve layout (gamma-astro-data-formats, ``results/light_curve``, a draft).

One table per energy band, one row per time: ``TIME`` (required), optional ``TIME_MIN``/``TIME_MAX``,
``FLUX`` (a differential, integral or energy flux: the unit tells which), ``FLUX_ERR``, ``FLUX_UL`` (at
``UL_CONF``; ``FLUX`` is NaN for an upper limit); the band in the header keywords ``E_MIN``/``E_MAX``
(integral fluxes) or ``E_REF`` (differential), in TeV; ``OBJECT``, ``TELESCOP``. Times follow the GADF
time page: numbers in ``TIMEUNIT`` (default ``s``) since ``MJDREFI + MJDREFF`` in ``TIMESYS``, keywords
without defaults; a file without any of them is read as the light-curve page says, MJD in TT (only when
its time unit is days).

fluxds writes one HDU ``LIGHTCURVE`` per energy bin (``EXTVER`` 1, 2 ...), with every spec column and,
beside them, the likelihood form (``NORM``, ``REF_DNDE`` ...) and ``FDSATTRS``, so it reads back exactly.
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.errors import FormatError, UnitError
from fluxds.io.gadf_table import normalised_columns, units_option
from fluxds.io.keywords import META_ATTRS, ROW_COORDS_KEY, attrs_from_meta, header_json
from fluxds.io.lightcurve.keys import extra_meta_attrs, time_coords_from_meta
from fluxds.io.lightcurve.table import dataset_from_columns, lightcurve_table_from_dataset, member_rows
from fluxds.timeaxis import TIME
from fluxds.units import parse_unit

__all__ = ["dataset_from_gadf_tables", "gadf_tables_from_dataset", "is_gadf_table"]

HDU_NAME = "LIGHTCURVE"
_ENERGY_KEYWORDS = {"e_ref": "E_REF", "e_min": "E_MIN", "e_max": "E_MAX"}
_MJD_TT_NOTE = "no MJDREF/TIMESYS keywords: times read as MJD in TT (GADF light-curve page)"


def is_gadf_table(names) -> bool:
    """A light-curve table without per-row energy columns (the energy band is in the header)."""
    lowered = {str(n).lower() for n in names}
    return bool(lowered & {"time", "time_min", "time_max"}) and not lowered & {"e_ref", "e_min", "e_max"}


def _flux_type(columns: dict[str, Any], meta: dict[str, Any], has_edges: bool, where: str) -> str:
    """The SED type the ``FLUX`` columns hold: ``SED_TYPE`` if written, else from the unit."""
    if meta.get("SED_TYPE"):
        return str(meta["SED_TYPE"]).strip().lower()
    unit = u.Quantity(columns["flux"]).unit
    for name in ("dnde", "flux"):
        if unit.is_equivalent(schema.SED_TYPES[name].physical_unit):
            return name
    if unit.is_equivalent(schema.SED_TYPES["eflux"].physical_unit):
        return "eflux" if has_edges else "e2dnde"
    raise UnitError(
        f"{where}: column 'FLUX' has unit {unit}; expected a differential (cm-2 s-1 TeV-1), integral "
        "(cm-2 s-1) or energy flux (erg cm-2 s-1)"
    )


def _energies(meta, saved, given, where: str) -> dict[str, u.Quantity | None]:
    if any(v is not None for v in given.values()):
        return {k: None if v is None else np.atleast_1d(u.Quantity(v)) for k, v in given.items()}
    exact = (saved or {}).get("_energy")
    if exact:
        return {
            k: None if k not in exact else u.Quantity(exact[k]["values"], parse_unit(exact[k]["unit"]))
            for k in _ENERGY_KEYWORDS
        }
    out = {
        k: None if kw not in meta else u.Quantity([float(meta[kw])], u.TeV)
        for k, kw in _ENERGY_KEYWORDS.items()
    }
    if out["e_ref"] is None and (out["e_min"] is None or out["e_max"] is None):
        raise FormatError(
            f"{where}: a GADF light curve gives its energy band in the header keywords E_MIN and E_MAX "
            "(or E_REF), in TeV; none found. Pass energy_min=/energy_max= (or energy_ref=) to read it"
        )
    return out


def _time_options(columns: dict[str, Any], meta: dict[str, Any], where: str) -> tuple[dict, dict]:
    column_unit = next((c.unit for c in columns.values() if isinstance(c, u.Quantity)), None)
    unit = parse_unit(column_unit or meta.get("TIMEUNIT") or "s", where=f"{where}: time unit")
    has_reference = any(k in meta for k in ("MJDREFI", "MJDREFF", "MJDREF"))
    if not has_reference and "TIMESYS" not in meta:
        if unit != u.day:
            raise FormatError(
                f"{where}: keywords MJDREFI, MJDREFF and TIMESYS are missing, and the times are in {unit}; "
                "the GADF time page gives them no default (times in days would be read as MJD in TT)"
            )
        return {**meta, "MJDREFI": 0, "MJDREFF": 0.0, "TIMESYS": "TT"}, {"note": _MJD_TT_NOTE}
    return meta, {}


def _dataset_from_gadf_table(table: Table, where: str, sed_type, units, given, model) -> xr.Dataset:
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    saved = attrs_from_meta(meta, where)
    table, labels, members = member_rows(table, saved, TIME, where)
    columns = normalised_columns(table, where, units_option(units, where))
    times = {
        k: columns.pop(c)
        for k, c in (("time_value", "time"), ("time_min", "time_min"), ("time_max", "time_max"))
        if c in columns
    }
    if ("time_min" in times) != ("time_max" in times):
        raise FormatError(f"{where}: columns TIME_MIN and TIME_MAX go together; found only one of them")
    if not times:
        raise FormatError(
            f"{where}: a GADF light curve needs a TIME column; columns: {', '.join(table.colnames)}"
        )
    if saved and saved.get("_time_value_derived"):
        times.pop("time_value", None)
    time_meta, extra = _time_options(times, meta, where)
    tcoords = time_coords_from_meta(
        times, time_meta, where, default_unit="s", default_scale=None, require_reference=True, saved=saved,
        members=members,
    )  # fmt: skip
    tcoords.update(labels)
    for coord in tcoords.values():
        if extra and coord.dims == ("time",) and "units" in coord.attrs:
            coord.attrs.update(extra)
    energies = _energies(meta, saved, given, where)
    has_edges = energies["e_min"] is not None
    stem = None
    if "flux" in columns:
        stem = _flux_type(columns, meta, has_edges, where)
        stem = schema.sed_type(stem).name
        if stem != "flux":
            for suffix in schema.MEASUREMENT_SUFFIXES:
                if f"flux{suffix}" in columns:
                    columns[f"{stem}{suffix}"] = columns.pop(f"flux{suffix}")
    if stem and "is_ul" not in columns and f"{stem}_ul" in columns and stem in columns:
        value = u.Quantity(columns[stem]).value
        columns["is_ul"] = np.isnan(value) & np.isfinite(u.Quantity(columns[f"{stem}_ul"]).value)
    sed = sed_type or stem
    if "norm" in columns and {"ref_dnde", "ref_flux", "ref_eflux"} & set(columns) and sed_type is None:
        for suffix in schema.MEASUREMENT_SUFFIXES:  # fluxds wrote the likelihood form beside FLUX
            columns.pop(f"{stem}{suffix}", None)
        sed = schema.LIKELIHOOD
    attrs = {k: v for k, v in extra_meta_attrs(table).items() if k.upper() not in _ENERGY_KEYWORDS.values()}
    return dataset_from_columns(
        columns,
        energies=energies,
        tcoords=tcoords,
        meta=meta,
        where=where,
        scalar_rows=True,
        sed_type=sed,
        reference_model=model,
        saved=saved,
        extra_attrs=attrs,
    )


def dataset_from_gadf_tables(
    tables: list[tuple[str, Table]],
    *,
    sed_type: str | None = None,
    units=None,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model=None,
) -> xr.Dataset:
    """Read GADF light-curve tables (one per energy band, the same times) into one Dataset.

    Parameters
    ----------
    tables : list of (where, astropy.table.Table)
        The tables with the file/HDU each came from.
    sed_type : str, optional
        Read the columns as this SED type (default: ``SED_TYPE``, else the unit of ``FLUX``).
    units : dict or "gadf", optional
        Units for columns without one.
    energy_ref, energy_min, energy_max : astropy Quantity, optional
        The energy band, for files without ``E_MIN``/``E_MAX``/``E_REF`` (one table only).
    reference_model : fluxds.models.SpectralModel, optional
        The reference model of the norms (default gammapy's, a power law of index 2).

    Returns
    -------
    xarray.Dataset
        Dims ``(time, energy)``, the bands along ``energy`` in the order of the tables.
    """
    given = {"e_ref": energy_ref, "e_min": energy_min, "e_max": energy_max}
    if len(tables) > 1 and any(v is not None for v in given.values()):
        raise FormatError(
            f"{tables[0][0]}: energy_ref/energy_min/energy_max apply to a single light-curve table"
        )
    parts = [
        _dataset_from_gadf_table(t, where, sed_type, units, given, reference_model) for where, t in tables
    ]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    for (where, _), part in zip(tables[1:], parts[1:], strict=True):
        for name in ("time", "time_min", "time_max", "time_value"):
            if (name in part.coords) != (name in first.coords) or (
                name in part.coords and not np.array_equal(part[name].values, first[name].values)
            ):
                raise FormatError(
                    f"{where}: the energy bands of a GADF light curve must share their times; "
                    f"{name!r} differs from {tables[0][0]}"
                )
    try:
        return xr.concat(
            parts,
            dim=schema.ENERGY,
            data_vars="minimal",
            coords="minimal",
            compat="equals",
            join="exact",
            combine_attrs="drop_conflicts",
        )
    except ValueError as exc:
        raise FormatError(f"{tables[0][0]}: the light-curve tables do not combine: {exc}") from None


def _upper(table: Table, keep: set[str]) -> Table:
    """The GADF columns in capitals; ``keep``: names as they are (a collection's labels, read back by
    their exact names)."""
    for name in list(table.colnames):
        if name not in keep:
            table.rename_column(name, name.upper())
    return table


def gadf_tables_from_dataset(ds: xr.Dataset, sed_type: str | None = None, *, where: str = "") -> list[Table]:
    """GADF light-curve tables, one per energy bin, from a light-curve Dataset without ``source``.

    The ``FLUX`` columns hold ``sed_type`` (default the Dataset's ``sed_type_init``; a likelihood light curve
    gets ``flux`` when it has energy edges, else ``dnde``); ``FLUX`` is NaN where ``is_ul``.
    """
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    if schema.sed_type(sed).name == "norm":
        sed = "flux" if schema.ENERGY_MIN in ds.coords else "dnde"
    stem = schema.sed_type(sed).name
    tables = []
    for i in range(ds.sizes[schema.ENERGY]):  # a handful of energy bands, one table each
        band = ds.isel({schema.ENERGY: [i]})
        table = lightcurve_table_from_dataset(band, sed, where=where, bins_required=False)
        saved = json.loads(table.meta[META_ATTRS])
        saved["_energy"] = {}
        for name, kw in _ENERGY_KEYWORDS.items():
            if name in table.colnames:
                unit = table[name].unit
                values = [float(v) for v in band[_coord(name)].values]
                saved["_energy"][name] = {"unit": unit.to_string(), "values": values}
                table.meta[kw] = float(u.Quantity(values[0], unit).to_value(u.TeV))
                table.remove_column(name)
        for name in table.colnames:
            if table[name].ndim >= 2 and table[name].shape[1] == 1:
                table.replace_column(name, table[name][:, 0])
        if "time" not in table.colnames and "time_min" in table.colnames:
            lo, hi = np.asarray(table["time_min"]), np.asarray(table["time_max"])
            table.add_column(lo + 0.5 * (hi - lo), name="time", index=0)
            table["time"].unit = table["time_min"].unit
            saved["_time_value_derived"] = True
        for suffix in schema.MEASUREMENT_SUFFIXES:
            if f"{stem}{suffix}" in table.colnames:
                table.rename_column(f"{stem}{suffix}", f"flux{suffix}")
        if "is_ul" in table.colnames and "flux" in table.colnames:
            table.replace_column("flux", table["flux"].copy())  # a view of the Dataset's array: copied
            table["flux"][np.asarray(table["is_ul"], dtype=bool)] = np.nan
        for key in ("OBJECT", "TELESCOP"):
            value = ds.attrs.get(key, ds.attrs.get(key.lower()))
            if isinstance(value, str):
                table.meta[key] = value
        table.meta[META_ATTRS] = header_json(saved)
        table.meta["TIMESYS"] = str(table.meta["TIMESYS"]).upper()  # the FITS standard's spelling
        tables.append(_upper(table, set(saved.get(ROW_COORDS_KEY, {}))))
    return tables


def _coord(column: str) -> str:
    return {"e_ref": schema.ENERGY, "e_min": schema.ENERGY_MIN, "e_max": schema.ENERGY_MAX}[column]
