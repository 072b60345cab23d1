"""GADF SED tables <-> fluxds Datasets, independent of the file format holding the table.

A table is an :class:`astropy.table.Table`, one row per energy bin; the FITS, ECSV and HDF5 modules
only move tables in and out of files. What is read:

- column names in any case, older spellings (``REF_DFDE``) mapped by :data:`fluxds.schema.COLUMN_ALIASES`;
- energies ``e_ref`` and/or ``e_min``/``e_max`` in any energy unit;
- ``SED_TYPE`` from the table meta, or guessed from the columns; ``UL_CONF`` kept exactly;
- the GADF/fermipy log-likelihood columns turned into the -2 log L statistics of the likelihood form:
  ``stat = -2 loglike``, ``stat_null = -2 loglike_null``,
  ``stat_scan = -2 (loglike_null + dloglike_scan)`` (the spec defines ``dloglike_scan`` relative to
  the zero-normalisation model; without ``loglike_null`` the scan is kept relative, ``-2 dloglike_scan``);
- the attributes fluxds wrote itself, from the JSON text in the meta key ``FDSATTRS``.

What is written: the columns of the requested SED type, ``e_ref``/``e_min``/``e_max``, and beside them
the likelihood form itself (``norm*`` and ``ref_dnde``/``ref_flux``/``ref_eflux``: the spec allows several
representations in one SED, so any SED type reads back to the very same norms; gammapy reads only the
columns of the declared type), statistics, scans and flags; ``SED_TYPE``, ``UL_CONF`` and ``FDSATTRS``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.confidence import ul_conf_from_n_sigma
from fluxds.construct import EDGES_DERIVED, EREF_DERIVED, from_sed
from fluxds.convert import to_sed_type
from fluxds.errors import FormatError, ModelError, UnitError
from fluxds.models import model_from_json
from fluxds.units import format_unit, parse_unit

__all__ = ["dataset_from_table", "table_from_dataset", "guess_sed_type", "header_json", "META_ATTRS"]

META_ATTRS = "FDSATTRS"


def header_json(value: Any) -> str:
    """JSON text for a FITS header keyword: ASCII, NaN/inf allowed, and no apostrophe (written as the
    JSON escape ``\\u0027``). A FITS string doubles an apostrophe, and astropy (8.0) reads ``''/`` or
    ``'' /`` inside a string as the string's end and a comment, losing the rest of the value."""
    return json.dumps(value, allow_nan=True).replace("'", "\\u0027")


_STRUCTURAL_META = {"SED_TYPE", "UL_CONF", META_ATTRS, "EXTNAME", "GTI", "SOURCE"}
_VECTOR_DIMS = ("scan", "dataset")
# Energy columns a table of each SED type must hold even when they were derived (GADF's required
# columns; gammapy also needs all three for likelihood tables). Derived ones are flagged in FDSATTRS.
_ENERGY_COLUMNS_NEEDED = {
    "norm": ("e_ref", "e_min", "e_max"),
    "dnde": ("e_ref",),
    "e2dnde": ("e_ref",),
    "flux": ("e_min", "e_max"),
    "eflux": ("e_min", "e_max"),
}
_DERIVED_FLAGS = (
    ("_energy_ref_derived", (schema.ENERGY,), EREF_DERIVED),
    ("_energy_edges_derived", (schema.ENERGY_MIN, schema.ENERGY_MAX), EDGES_DERIVED),
)
_OTHER_LAYOUTS = {
    "light-curve": {"time_min", "time_max", "time", "time_bin_start"},
    "flux-profile": {"x_min", "x_max", "x_ref"},
}


def resolve_sed_type(sed_type: str | None, meta: dict[str, Any], columns, where: str) -> str:
    """The SED type of a table: ``sed_type`` if given, else the ``SED_TYPE`` keyword (meta with upper-case
    keys), else guessed from the (normalised) column names; checked against the GADF types."""
    sed = sed_type or meta.get("SED_TYPE") or guess_sed_type(list(columns))
    if sed is None:
        raise FormatError(
            f"{where}: no SED_TYPE keyword and no column that names an SED type "
            f"(norm, dnde, e2dnde, flux, eflux); columns: {', '.join(columns)}"
        )
    sed = str(sed).strip().lower()
    if sed not in schema.FILE_SED_TYPES:
        raise FormatError(f"{where}: SED_TYPE is {sed!r}; expected one of {', '.join(schema.FILE_SED_TYPES)}")
    return sed


def guess_sed_type(names: list[str]) -> str | None:
    """The SED type a set of (normalised) column names holds, or None."""
    names = set(names)
    if "norm" in names and ({"ref_dnde", "ref_flux", "ref_eflux"} & names):
        return schema.LIKELIHOOD
    for stem in ("e2dnde", "dnde", "eflux", "flux"):
        if stem in names:
            return stem
    if "norm" in names:
        return schema.LIKELIHOOD
    return None


def _normalised_columns(table: Table, where: str, units: dict[str, str]) -> dict[str, Any]:
    columns: dict[str, Any] = {}
    for raw in table.colnames:
        name = raw.lower()
        name = schema.COLUMN_ALIASES.get(name, name)
        if name in columns:
            raise FormatError(f"{where}: columns {raw!r} and another both mean {name!r}")
        col = table[raw]
        given = col.unit if col.unit else units.get(name)
        unit = parse_unit(given, where=f"{where}, column {raw!r}") if given else None
        data = np.asarray(col)
        if not data.dtype.isnative:
            data = data.astype(data.dtype.newbyteorder("="))  # FITS is big-endian
        if data.dtype.kind in "SU" and name != "source":
            raise FormatError(f"{where}: column {raw!r} holds text, expected numbers")
        if unit is None and _needs_unit(name):
            raise UnitError(
                f"{where}: column {raw!r} has no unit, and {name!r} has a physical dimension; pass "
                f"units={{{name!r}: ...}} to say which, or units='gadf' for the units the GADF spec "
                "recommends (MeV, MeV-1 cm-2 s-1, cm-2 s-1, MeV cm-2 s-1)"
            )
        columns[name] = data * unit if unit is not None else data
    return columns


def _needs_unit(name: str) -> bool:
    if name in schema.ENERGY_COLUMNS:
        return True
    spec = schema.VARIABLES.get(name)
    if spec is not None:
        return bool(spec.unit)
    split = schema.split_measurement(name)
    return split is not None and split[0] != "norm"


def _units_option(units: dict[str, str] | str | None, where: str) -> dict[str, str]:
    if units is None:
        return {}
    if isinstance(units, str):
        if units.lower() != "gadf":
            raise FormatError(f"{where}: units={units!r}; expected a dict of column -> unit, or 'gadf'")
        return dict(schema.GADF_RECOMMENDED_UNITS)
    return {schema.COLUMN_ALIASES.get(k.lower(), k.lower()): v for k, v in units.items()}


def _loglike_to_stat(columns: dict[str, Any]) -> None:
    """GADF log-likelihood columns -> -2 log L statistics (see :data:`schema.LOGLIKE_COLUMNS`).

    A stored ``stat``/``stat_null``/``stat_scan`` is never replaced: the log-likelihood column beside it
    is then kept as it is.
    """
    null = columns.get("loglike_null")
    if "dloglike_scan" in columns and "stat_scan" not in columns:
        dloglike = np.asarray(columns.pop("dloglike_scan"), dtype=float)
        offset = 0.0 if null is None else np.asarray(null, dtype=float)[:, None]
        columns["stat_scan"] = -2.0 * (offset + dloglike)
    if "loglike" in columns and "stat" not in columns:
        columns["stat"] = -2.0 * np.asarray(columns.pop("loglike"), dtype=float)
    if "loglike_null" in columns and "stat_null" not in columns:
        columns["stat_null"] = -2.0 * np.asarray(columns.pop("loglike_null"), dtype=float)


def _meta(table: Table) -> dict[str, Any]:
    return {str(k).upper(): v for k, v in table.meta.items()}


def _attrs_from_meta(meta: dict[str, Any], where: str) -> dict[str, Any] | None:
    return parse_attrs_json(meta.get(META_ATTRS), where)


def parse_attrs_json(text: str | None, where: str) -> dict[str, Any] | None:
    """The JSON object of a ``FDSATTRS`` keyword (the attributes fluxds wrote), or None without one."""
    if text is None:
        return None
    try:
        attrs = json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: keyword {META_ATTRS} is not valid JSON: {exc}") from None
    if not isinstance(attrs, dict):
        raise FormatError(f"{where}: keyword {META_ATTRS} must hold a JSON object")
    return attrs


def dataset_from_table(
    table: Table,
    *,
    where: str,
    sed_type: str | None = None,
    derive_edges: bool = False,
    units: dict[str, str] | str | None = None,
) -> xr.Dataset:
    """Read one GADF SED table (one source) into a fluxds Dataset.

    Parameters
    ----------
    table : astropy.table.Table
        One row per energy bin.
    where : str
        The file and HDU, for messages.
    sed_type : str, optional
        Overrides the table's ``SED_TYPE``.
    derive_edges : bool
        For a table with ``e_ref`` only: derive bin edges (see :func:`fluxds.from_sed`).
    units : dict or "gadf", optional
        Units for columns the file gives none for (column name -> unit), or ``"gadf"`` for the units the
        GADF spec recommends. Columns that carry a unit keep it.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FormatError, UnitError, SchemaError
        Naming ``where``, the column and what was expected.
    """
    meta = _meta(table)
    lowered = {name.lower() for name in table.colnames}
    for layout, marks in _OTHER_LAYOUTS.items():
        if lowered & marks:
            raise FormatError(
                f"{where}: this is a {layout} table (columns {sorted(lowered & marks)}), one row per "
                "time bin or region with energy vectors; this version of fluxds reads GADF SED tables "
                "(one row per energy bin) only"
            )
    columns = _normalised_columns(table, where, _units_option(units, where))
    _loglike_to_stat(columns)
    sed = resolve_sed_type(sed_type, meta, columns, where)
    stem = schema.sed_type(sed).name
    if stem not in columns:
        raise FormatError(
            f"{where}: SED_TYPE {sed!r} needs a column {stem!r}; columns: {', '.join(table.colnames)}"
        )
    if "e_ref" not in columns and not ("e_min" in columns and "e_max" in columns):
        raise FormatError(
            f"{where}: energy columns missing: need 'e_ref', or 'e_min' and 'e_max'; "
            f"columns: {', '.join(table.colnames)}"
        )
    saved = _attrs_from_meta(meta, where)
    energies = {k: columns.pop(k, None) for k in ("e_ref", "e_min", "e_max")}
    gti = meta.get("GTI")
    extra_attrs = {
        str(k): v if isinstance(v, (str, int, float)) else json.dumps(_jsonable(v), default=str)
        for k, v in table.meta.items()
        if str(k).upper() not in _STRUCTURAL_META
    }
    model = None
    if saved and saved.get("reference_model"):
        try:
            model = model_from_json(saved["reference_model"])
        except ModelError as exc:
            raise FormatError(f"{where}: reference model in {META_ATTRS}: {exc}") from None
    ds = from_sed(
        sed,
        columns,
        energy_ref=energies["e_ref"],
        energy_min=energies["e_min"],
        energy_max=energies["e_max"],
        reference_model=model,
        attrs=extra_attrs,
        ul_conf=meta.get("UL_CONF"),
        derive_edges=derive_edges or bool(saved and saved.get("_energy_edges_derived")),
        where=where,
    )
    if saved is not None:
        ds = ds.assign_coords(_scalar_coords_from_json(saved.pop(SCALAR_COORDS_KEY, "{}"), where))
        for flag, coords, note in _DERIVED_FLAGS:
            if saved.pop(flag, False):
                for coord in coords:
                    ds[coord].attrs["note"] = note
        ds.attrs = saved
    if "SOURCE" in meta:
        ds = ds.assign_coords(source=decode_keyword_text(str(meta["SOURCE"])))
    if gti is not None:
        ds = ds.merge(gti_from_json(gti, where))
    return ds


def _column(var: xr.DataArray, name: str, where: str) -> tuple[np.ndarray, str | None]:
    extra = [d for d in var.dims if d != schema.ENERGY]
    unknown = [d for d in extra if d not in _VECTOR_DIMS and not str(d).endswith("_axis")]
    if schema.ENERGY not in var.dims or unknown or len(extra) > 1:
        raise FormatError(
            f"{where}: variable {name!r} has dims {var.dims}; a GADF SED table holds variables "
            "along 'energy' (with at most one 'scan'/'dataset' axis). Write this Dataset to "
            "netCDF instead, or select along the other dimensions first"
        )
    values = np.asarray(var.transpose(schema.ENERGY, *extra).values)
    unit = var.attrs.get("units")
    return values, (format_unit(parse_unit(unit)) if unit else None)


def table_from_dataset(ds: xr.Dataset, sed_type: str | None = None, *, where: str = "") -> Table:
    """One GADF SED table from a Dataset without a ``source`` dimension.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset (a scalar ``source`` coordinate is written as the ``SOURCE`` keyword).
    sed_type : str, optional
        SED type of the columns; default ``ds.attrs["sed_type_init"]`` (else ``likelihood``).
    where : str
        The target, for messages.

    Returns
    -------
    astropy.table.Table
    """
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    out = to_sed_type(ds, sed, keep_likelihood=True)
    table = Table()
    attrs = {k: _jsonable(v) for k, v in ds.attrs.items()}
    needed = _ENERGY_COLUMNS_NEEDED[schema.sed_type(sed).name]
    for name, column in schema.ENERGY_COLUMNS.items():
        if column not in ds.coords:
            continue
        coord = ds[column]
        if coord.attrs.get("note") and name not in needed:
            continue  # derived: the reader derives it again, bit for bit
        table[name] = np.asarray(coord.values)
        table[name].unit = format_unit(parse_unit(coord.attrs.get("units")))
    for name, var in out.data_vars.items():
        if str(name).startswith("gti_"):
            continue
        values, unit = _column(var, str(name), where)
        table[str(name)] = values
        if unit:
            table[str(name)].unit = unit
    for flag, coords, note in _DERIVED_FLAGS:
        if coords[0] in ds.coords and ds[coords[0]].attrs.get("note") == note:
            attrs[flag] = True
    scalar_coords = _scalar_coords_to_json(ds)
    if scalar_coords:
        attrs[SCALAR_COORDS_KEY] = scalar_coords
    table.meta.update(standard_meta(ds, out.attrs["sed_type"]))
    table.meta[META_ATTRS] = header_json(attrs)
    return table


def ul_conf_of(ds: xr.Dataset) -> float | None:
    """The upper limits' confidence level: the stored ``ul_conf``, else from ``n_sigma_ul``, else None."""
    ul_conf = ds.attrs.get("ul_conf")
    if ul_conf is None and ds.attrs.get("n_sigma_ul") is not None:
        ul_conf = ul_conf_from_n_sigma(float(ds.attrs["n_sigma_ul"]))
    return None if ul_conf is None else float(ul_conf)


def encode_keyword_text(text: str) -> str:
    """Text a FITS header keeps unchanged as it is (printable ASCII, no leading/trailing blanks, no
    apostrophe, no enclosing double quotes); anything else as a JSON string literal (ASCII, quoted, see
    :func:`header_json`), which :func:`decode_keyword_text` turns back into the very same text."""
    plain = text.isascii() and text.isprintable() and text == text.strip() and text != "" and "'" not in text
    if plain and not (text.startswith('"') and text.endswith('"')):
        return text
    return header_json(text)


def decode_keyword_text(text: str) -> str:
    """Inverse of :func:`encode_keyword_text`."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        try:
            value = json.loads(text)
        except ValueError:
            return text
        if isinstance(value, str):
            return value
    return text


def standard_meta(ds: xr.Dataset, sed_type: str) -> dict[str, Any]:
    """The keywords every table fluxds writes carries: ``SED_TYPE``, ``UL_CONF`` (exact), ``SOURCE`` for a
    scalar source name, ``GTI`` as JSON (a FITS writer moves it to a GTI HDU)."""
    meta: dict[str, Any] = {"SED_TYPE": sed_type}
    ul_conf = ul_conf_of(ds)
    if ul_conf is not None:
        meta["UL_CONF"] = ul_conf
    if "source" in ds.coords and ds["source"].ndim == 0:
        meta["SOURCE"] = encode_keyword_text(str(ds["source"].values))
    gti = gti_to_json(ds)
    if gti is not None:
        meta["GTI"] = gti
    return meta


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


# --- good time intervals --------------------------------------------------------------------------
GTI_VARS = ("gti_start", "gti_stop")


def gti_from_columns(
    start, stop, *, unit: str, mjdrefi: float, mjdreff: float, timesys: str, where: str
) -> xr.Dataset:
    """A Dataset holding ``gti_start``/``gti_stop`` on the ``gti`` dimension, times as stored
    (``unit`` since the reference MJD ``mjdrefi + mjdreff`` in ``timesys``), so they write back
    bit-exactly."""
    start = np.asarray(start, dtype=np.float64)
    stop = np.asarray(stop, dtype=np.float64)
    if start.shape != stop.shape or start.ndim != 1:
        raise FormatError(f"{where}: GTI START and STOP must be 1-D columns of equal length")
    for keyword, value in (("MJDREFI", mjdrefi), ("MJDREFF", mjdreff)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise FormatError(f"{where}: GTI keyword {keyword} is {value!r}; expected a number (days)")
    from fluxds.timeaxis import check_gti  # issue 12 item 9: finite bounds within MJD_RANGE, START <= STOP

    check_gti(start, stop, unit=unit, mjdrefi=mjdrefi, mjdreff=mjdreff, where=where)
    attrs = {
        "units": format_unit(parse_unit(unit)),
        "mjdrefi": float(mjdrefi),
        "mjdreff": float(mjdreff),
        "time_scale": str(timesys).lower(),
    }
    return xr.Dataset(
        {
            "gti_start": ("gti", start, {**attrs, "long_name": "start of good time interval"}),
            "gti_stop": ("gti", stop, {**attrs, "long_name": "stop of good time interval"}),
        }
    )


def gti_to_json(ds: xr.Dataset) -> str | None:
    """The GTI of a Dataset as JSON text (for table formats without a GTI extension)."""
    if "gti_start" not in ds.data_vars:
        return None
    attrs = ds["gti_start"].attrs
    return json.dumps(
        {
            "start": ds["gti_start"].values.tolist(),
            "stop": ds["gti_stop"].values.tolist(),
            "unit": attrs.get("units", "s"),
            "mjdrefi": attrs.get("mjdrefi", 0.0),
            "mjdreff": attrs.get("mjdreff", 0.0),
            "timesys": attrs.get("time_scale", "tt"),
        }
    )


def gti_from_json(text: str, where: str) -> xr.Dataset:
    """Inverse of :func:`gti_to_json`."""
    try:
        obj = json.loads(text)
        return gti_from_columns(
            obj["start"],
            obj["stop"],
            unit=obj["unit"],
            mjdrefi=obj["mjdrefi"],
            mjdreff=obj["mjdreff"],
            timesys=obj["timesys"],
            where=where,
        )
    except (TypeError, KeyError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: the GTI entry of the table meta is not valid: {exc}") from None


# --- scalar coordinates (e.g. the sky position of a source) travel in FDSATTRS --------------------------
SCALAR_COORDS_KEY = "_scalar_coords"


def _scalar_coords_to_json(ds: xr.Dataset) -> str:
    """JSON text of the 0-d coordinates of ``ds`` (value and attrs), ``""`` if there are none. The scalar
    ``source`` name travels as the ``SOURCE`` keyword instead."""
    found = {
        str(name): {
            "value": _jsonable(coord.values[()]),
            "attrs": {k: _jsonable(v) for k, v in coord.attrs.items()},
        }
        for name, coord in ds.coords.items()
        if coord.ndim == 0 and name != "source"
    }
    return json.dumps(found) if found else ""


def _scalar_coords_from_json(text: str, where: str) -> dict[str, xr.Variable]:
    try:
        found = json.loads(text) if text else {}
        return {name: xr.Variable((), entry["value"], entry["attrs"]) for name, entry in found.items()}
    except (TypeError, KeyError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: {SCALAR_COORDS_KEY} in {META_ATTRS} is not valid: {exc}") from None
