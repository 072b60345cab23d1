"""GADF SED tables <-> fluxds Datasets, independent of the file format holding the table.

A table is an :class:`astropy.table.Table`, one row per energy bin; the FITS, ECSV and HDF5 modules
only move tables in and out of files. What is read:

- column names in any case, older spellings (``REF_DFDE``) mapped by :data:`fluxds.schema.COLUMN_ALIASES`;
- energies ``e_ref`` and/or ``e_min``/``e_max`` in any energy unit;
- ``SED_TYPE`` from the table meta, or guessed from the columns; ``UL_CONF`` kept exactly;
- the GADF/fermipy log-likelihood columns turned into the -2 log L statistics of the likelihood form:
  ``stat = -2 loglike``, ``stat_null = -2 loglike_null``,
  ``stat_scan = -2 (loglike_null + dloglike_scan)`` (the spec defines ``dloglike_scan`` relative to
  the zero-normalisation model); without ``loglike_null`` (fermipy's own SED files, where
  ``dloglike_scan`` is relative to the bin's best fit) ``stat_scan = -2 (loglike + dloglike_scan)``, on
  the baseline of ``stat``; with neither column the scan is kept relative, ``-2 dloglike_scan``;
- ``ul_sidedness = "one-sided"`` for a table fermipy wrote (:func:`ul_sidedness_of_producer`): its
  ``UL_CONF = 0.95`` limits are one-sided (a rise of 2.71, not gammapy's 3.84);
- the attributes fluxds wrote itself, from the JSON text in the meta key ``FDSATTRS``.

What is written: the columns of the requested SED type, ``e_ref``/``e_min``/``e_max``, and beside them
the likelihood form itself (``norm*`` and ``ref_dnde``/``ref_flux``/``ref_eflux``: the spec allows several
representations in one SED, so any SED type reads back to the very same norms; gammapy reads only the
columns of the declared type), statistics, scans and flags; ``SED_TYPE``, ``UL_CONF`` and ``FDSATTRS``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.confidence import ul_conf_from_n_sigma
from fluxds.construct import EDGES_DERIVED, EDGES_ORIGIN_ATTR, EREF_DERIVED, from_sed
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


_STRUCTURAL_META = {"SED_TYPE", "UL_CONF", META_ATTRS, "EXTNAME", "GTI", "SOURCE", "E_EDGES", "E_REF"}
# issue 13 item 11: keywords that tell every reader an energy column was derived, not measured
DERIVED_KEYWORDS = {
    "E_EDGES": "derived from e_ref (log midpoints), not measured",
    "E_REF": "derived: sqrt(e_min e_max), not measured",
}
# issue 13 item 12: the labels of the ``dataset`` axis, one keyword per label (DSET1, DSET2 ...)
DATASET_KEY = "DSET"
_DATASET_KEY_RE = re.compile(r"^DSET([1-9][0-9]{0,3})$")
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
    is then kept as it is. ``dloglike_scan`` is relative to ``loglike_null`` (the GADF spec and its
    sample), or, without that column, to ``loglike`` (fermipy's SED files).
    """
    null = columns.get("loglike_null")
    if null is None:
        # fermipy's own SED layout (sed.py: dloglike_scan = loglike_scan - loglike, the bin's best fit;
        # no loglike_null column): the scan is relative to ``loglike`` (issue 13 item 4), so that
        # ``stat_scan = stat - 2 dloglike_scan`` shares the baseline of ``stat = -2 loglike``
        null = columns.get("loglike")
    if "dloglike_scan" in columns and "stat_scan" not in columns:
        dloglike = np.asarray(columns.pop("dloglike_scan"), dtype=float)
        offset = 0.0 if null is None else np.asarray(null, dtype=float)[:, None]
        columns["stat_scan"] = -2.0 * (offset + dloglike)
    if "loglike" in columns and "stat" not in columns:
        columns["stat"] = -2.0 * np.asarray(columns.pop("loglike"), dtype=float)
    if "loglike_null" in columns and "stat_null" not in columns:
        columns["stat_null"] = -2.0 * np.asarray(columns.pop("loglike_null"), dtype=float)


#: columns only fermipy's SED writer (``SEDGenerator._make_sed_fits``) produces
FERMIPY_SED_COLUMNS = {"ref_dnde_e_min", "ref_dnde_e_max"}


def ul_sidedness_of_producer(meta: dict[str, Any], columns: set[str]) -> str | None:
    """``"one-sided"`` for a table fermipy wrote, else None (the two-sided default of gammapy and GADF).

    fermipy computes its limits with ``onesided_cl_to_dlnl`` (utils.get_parameter_limits,
    castro.getLimit): 95 % is a rise of 2.71 in -2 log L, and it writes ``UL_CONF = 0.95``. A table is
    fermipy's if its ``CREATOR`` keyword starts with "fermipy" or it holds fermipy's
    ``ref_dnde_e_min``/``ref_dnde_e_max`` columns.

    Parameters
    ----------
    meta : dict
        The table's keywords, names upper-case.
    columns : set of str
        The normalised (lower-case) column names.

    Returns
    -------
    str or None
    """
    if str(meta.get("CREATOR", "")).strip().lower().startswith("fermipy") or FERMIPY_SED_COLUMNS <= columns:
        return "one-sided"
    return None


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
    sidedness = ul_sidedness_of_producer(meta, set(columns))
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
        if str(k).upper() not in _STRUCTURAL_META and not is_label_keyword(str(k).upper())
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
        ul_sidedness=sidedness,
        derive_edges=derive_edges or bool(saved and saved.get("_energy_edges_derived")),
        where=where,
    )
    if saved is not None:
        ds = ds.assign_coords(_scalar_coords_from_json(saved.pop(SCALAR_COORDS_KEY, "{}"), where))
        ds = ds.assign(_scalar_vars_from_json(saved.pop(SCALAR_VARS_KEY, "{}"), where))
        for flag, coords, note in _DERIVED_FLAGS:
            if saved.pop(flag, False):
                for coord in coords:
                    ds[coord].attrs["note"] = note
        ds.attrs = saved
    mark_derived_edges(ds, meta)
    ds = apply_descriptions(ds, column_descriptions(table))
    labels = dataset_labels_from_meta(meta, ds.sizes.get("dataset"), where)
    if labels is not None:
        ds = ds.assign_coords(dataset=labels)
    if "SOURCE" in meta:
        ds = ds.assign_coords(source=decode_keyword_text(str(meta["SOURCE"])))
    if gti is not None:
        ds = ds.merge(gti_from_json(gti, where))
    return ds


def mark_derived_edges(ds: xr.Dataset, meta: dict[str, Any]) -> None:
    """Note derived energy edges on the coordinates and in the attribute :data:`EDGES_ORIGIN_ATTR`
    (which the Dataset's repr shows): edges a file marks with ``E_EDGES = 'derived ...'``, or edges
    already noted (a file fluxds wrote before the attribute existed). In place."""
    marked = str(meta.get("E_EDGES", "")).lower().startswith("derived")
    if schema.ENERGY_MIN not in ds.coords:
        return
    if marked:
        for coord in (schema.ENERGY_MIN, schema.ENERGY_MAX):
            ds[coord].attrs.setdefault("note", EDGES_DERIVED)
    if ds[schema.ENERGY_MIN].attrs.get("note") == EDGES_DERIVED:
        ds.attrs.setdefault(EDGES_ORIGIN_ATTR, EDGES_DERIVED)


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
    scalars = {}
    for name, var in out.data_vars.items():
        if str(name).startswith("gti_"):
            continue
        if var.ndim == 0:  # one number per source (a TS cube's fit_ts ...): keywords, not columns
            scalars[str(name)] = var
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
    if scalars:
        attrs[SCALAR_VARS_KEY] = _scalar_vars_to_json(scalars)
    describe_columns(table, ds)
    table.meta.update(standard_meta(ds, out.attrs["sed_type"]))
    table.meta.update(derived_energy_meta(ds, table.colnames))
    table.meta.update(dataset_label_meta(ds, where))
    table.meta.update(keyword_meta(ds, set(table.meta)))
    table.meta.update(scalar_keywords(scalars, set(table.meta)))
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


def derived_energy_meta(ds: xr.Dataset, written: list[str] | tuple[str, ...]) -> dict[str, str]:
    """Header keywords (value, comment) marking the energy columns among ``written`` that were derived
    (``E_EDGES`` for edges derived from ``e_ref``, ``E_REF`` for a log-centre ``e_ref``), so that any
    reader of the file knows they were not measured (issue 13 item 11)."""
    meta = {}
    edges = schema.ENERGY_MIN in ds.coords and ds[schema.ENERGY_MIN].attrs.get("note") == EDGES_DERIVED
    if edges and "e_min" in written:
        meta["E_EDGES"] = DERIVED_KEYWORDS["E_EDGES"]
    if (
        schema.ENERGY in ds.coords
        and ds[schema.ENERGY].attrs.get("note") == EREF_DERIVED
        and "e_ref" in written
    ):
        meta["E_REF"] = DERIVED_KEYWORDS["E_REF"]
    return meta


def dataset_label_meta(ds: xr.Dataset, where: str) -> dict[str, str]:
    """The labels of a 1-D ``dataset`` coordinate as keywords ``DSET1``, ``DSET2`` ... (text; see
    :func:`encode_keyword_text`), or nothing without such a coordinate. gammapy writes the per-dataset
    columns (``counts``, ``npred``) without their labels; these keywords keep them (issue 13 item 12)."""
    if "dataset" not in ds.coords or ds["dataset"].dims != ("dataset",):
        return {}
    labels = [str(v) for v in ds["dataset"].values.tolist()]
    if len(labels) > 9999:
        raise FormatError(
            f"{where}: {len(labels)} dataset labels; a table keeps at most 9999 (keywords DSET1 .. DSET9999)"
        )
    return {f"{DATASET_KEY}{i}": encode_keyword_text(label) for i, label in enumerate(labels, start=1)}


def dataset_labels_from_meta(meta: dict[str, Any], size: int | None, where: str) -> np.ndarray | None:
    """Inverse of :func:`dataset_label_meta` (``meta`` with upper-case keys): the labels, or None when the
    table has no ``DSETn`` keyword. ``size`` is the length of the ``dataset`` axis the columns hold."""
    found = {int(m.group(1)): str(v) for k, v in meta.items() if (m := _DATASET_KEY_RE.match(k))}
    if not found:
        return None
    if sorted(found) != list(range(1, len(found) + 1)) or (size is not None and len(found) != size):
        raise FormatError(
            f"{where}: dataset label keywords {DATASET_KEY}1 .. must be numbered 1 to the length of the "
            f"'dataset' axis ({size}); found numbers {sorted(found)}"
        )
    return np.array([decode_keyword_text(found[i]) for i in range(1, len(found) + 1)])


def is_label_keyword(key: str) -> bool:
    """Whether a (upper-case) keyword is one of the ``DSETn`` dataset labels."""
    return _DATASET_KEY_RE.match(key) is not None


def column_descriptions(table: Table) -> dict[str, str]:
    """The description of every column that has one, by normalised (GADF) column name."""
    found = {}
    for raw in table.colnames:
        text = table[raw].info.description
        if text:
            name = raw.lower()
            found[schema.COLUMN_ALIASES.get(name, name)] = str(text)
    return found


def apply_descriptions(ds: xr.Dataset, descriptions: dict[str, str]) -> xr.Dataset:
    """Keep the column descriptions of a table (issue 13 item 17) in the Dataset: a column that is a
    variable or coordinate by name gives its ``description`` attribute; a measured column of another SED
    type (``dnde_errp``), held as ``norm_errp``, gives ``norm_errp``'s attribute ``description_dnde_errp``.
    A description that only repeats the note of a derived energy coordinate is that note, not kept twice."""
    for column, text in descriptions.items():
        target = schema.ENERGY_COLUMNS.get(column, column)
        if target in ds.variables:
            if text != ds[target].attrs.get("note"):
                ds[target].attrs["description"] = text
            continue
        split = schema.split_measurement(column)
        if split is not None and f"norm{split[1]}" in ds.data_vars:
            ds[f"norm{split[1]}"].attrs[f"description_{column}"] = text
    return ds


def describe_columns(table: Table, ds: xr.Dataset) -> None:
    """Inverse of :func:`apply_descriptions`: set the description of the columns of ``table`` (written
    from ``ds``); a derived energy column is described by its note."""
    for name in table.colnames:
        target = schema.ENERGY_COLUMNS.get(name, name)
        text = None
        if target in ds.variables:
            text = ds[target].attrs.get("description") or ds[target].attrs.get("note")
        split = schema.split_measurement(name)
        if text is None and split is not None and f"norm{split[1]}" in ds.data_vars:
            text = ds[f"norm{split[1]}"].attrs.get(f"description_{name}")
        if text:
            table[name].info.description = str(text)


_TCOMM_RE = re.compile(r"^TCOMM([1-9][0-9]{0,2})$")
_KEYWORD_ATTR_RE = re.compile(r"^[A-Z][A-Z0-9_-]{0,7}$")
_COLUMN_KEYWORD_RE = re.compile(r"^T[A-Z]{3,5}[0-9]+$|^NAXIS[0-9]*$")


def keyword_meta(ds: xr.Dataset, taken) -> dict[str, Any]:
    """The Dataset attributes that were header keywords of the file read (upper-case names of at most 8
    characters, one plain value: ``TELESCOP``, ``INSTRUME``, ``OBJECT`` ...), to write back as keywords
    (issue 13 item 17), not only inside ``FDSATTRS``. Names in ``taken`` (the keywords the writer sets
    itself) and column/structure keywords are left out."""
    found = {}
    for key, value in ds.attrs.items():
        key, value = str(key), _jsonable(value)
        if (
            _KEYWORD_ATTR_RE.match(key)
            and key not in taken
            and key not in _STRUCTURAL_META
            and not _COLUMN_KEYWORD_RE.match(key)
            and not is_label_keyword(key)
            and isinstance(value, (str, int, float, bool))
            and (not isinstance(value, str) or (value.isascii() and value.isprintable()))
        ):
            found[key] = value
    return found


def table_hdu(table: Table):
    """``astropy.io.fits.table_to_hdu`` of ``table``, with each column's description as a ``TCOMMn``
    keyword (the column-comment convention TOPCAT/STILTS read and write); astropy's own FITS table
    writer drops descriptions."""
    import warnings

    from astropy.io import fits
    from astropy.io.fits.verify import VerifyWarning

    with warnings.catch_warnings():  # keywords longer than 8 characters (FIT_NORM_ERR ...): HIERARCH, meant
        warnings.filterwarnings("ignore", message=".*a HIERARCH card will be created", category=VerifyWarning)
        hdu = fits.table_to_hdu(table)
    for i, name in enumerate(table.colnames, start=1):
        text = table[name].info.description
        if text:
            hdu.header.set(f"TCOMM{i}", str(text), after=f"TTYPE{i}")
    return hdu


def descriptions_from_tcomm(table: Table) -> Table:
    """Inverse of :func:`table_hdu` on a table astropy read from FITS: the ``TCOMMn`` keywords (which
    astropy leaves in the meta) become the descriptions of their columns. In place; returns ``table``."""
    for key in [k for k in table.meta if _TCOMM_RE.match(str(k).upper())]:
        index = int(_TCOMM_RE.match(str(key).upper()).group(1)) - 1
        text = table.meta.pop(key)
        if index < len(table.colnames) and not table[table.colnames[index]].info.description:
            table[table.colnames[index]].info.description = str(text)
    return table


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


_GTI_KEYWORD_RE = re.compile(r"^[A-Z0-9_-]{1,8}$")


def gti_keywords(ds: xr.Dataset) -> dict[str, Any]:
    """The header keywords of the GTI HDU kept from reading (``CREATOR``, ``CREATED`` ...): the
    upper-case attributes of ``gti_start`` (issue 13 item 17)."""
    if "gti_start" not in ds.data_vars:
        return {}
    return {k: _jsonable(v) for k, v in ds["gti_start"].attrs.items() if _GTI_KEYWORD_RE.match(str(k))}


def with_gti_keywords(gti: xr.Dataset, keywords: dict[str, Any]) -> xr.Dataset:
    """``gti`` with the keywords of its HDU as upper-case attributes of ``gti_start`` and ``gti_stop``."""
    for name in GTI_VARS:
        gti[name].attrs.update(keywords)
    return gti


def gti_to_json(ds: xr.Dataset) -> str | None:
    """The GTI of a Dataset as JSON text (for table formats without a GTI extension)."""
    if "gti_start" not in ds.data_vars:
        return None
    attrs = ds["gti_start"].attrs
    obj = {
        "start": ds["gti_start"].values.tolist(),
        "stop": ds["gti_stop"].values.tolist(),
        "unit": attrs.get("units", "s"),
        "mjdrefi": attrs.get("mjdrefi", 0.0),
        "mjdreff": attrs.get("mjdreff", 0.0),
        "timesys": attrs.get("time_scale", "tt"),
    }
    keywords = gti_keywords(ds)
    if keywords:
        obj["keywords"] = keywords
    return json.dumps(obj)


def gti_from_json(text: str, where: str) -> xr.Dataset:
    """Inverse of :func:`gti_to_json`."""
    try:
        obj = json.loads(text)
        gti = gti_from_columns(
            obj["start"],
            obj["stop"],
            unit=obj["unit"],
            mjdrefi=obj["mjdrefi"],
            mjdreff=obj["mjdreff"],
            timesys=obj["timesys"],
            where=where,
        )
        keywords = obj.get("keywords", {})
        if not isinstance(keywords, dict):
            raise TypeError("'keywords' must be an object")
        return with_gti_keywords(
            gti, {str(k): v for k, v in keywords.items() if _GTI_KEYWORD_RE.match(str(k))}
        )
    except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as exc:
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


# --- scalar variables (one number per source, e.g. a TS cube's fit_ts) travel as keywords and in FDSATTRS --
SCALAR_VARS_KEY = "_scalar_vars"


def _scalar_vars_to_json(scalars: dict[str, xr.DataArray]) -> str:
    """JSON text of the 0-d data variables (value, dtype, attrs): exact, NaN included."""
    return json.dumps(
        {
            name: {
                "value": _jsonable(var.values[()]),
                "dtype": var.dtype.str,
                "attrs": {k: _jsonable(v) for k, v in var.attrs.items()},
            }
            for name, var in scalars.items()
        },
        allow_nan=True,
    )


def _scalar_vars_from_json(text: str, where: str) -> dict[str, xr.Variable]:
    try:
        found = json.loads(text) if text else {}
        return {
            name: xr.Variable((), np.asarray(entry["value"], dtype=np.dtype(entry["dtype"])), entry["attrs"])
            for name, entry in found.items()
        }
    except (TypeError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise FormatError(f"{where}: {SCALAR_VARS_KEY} in {META_ATTRS} is not valid: {exc}") from None


def scalar_keywords(scalars: dict[str, xr.DataArray], taken) -> dict[str, Any]:
    """The 0-d data variables of a table's Dataset (one number per source: a TS cube's ``fit_ts``,
    ``fit_norm`` ...) as header keywords named in upper case (a FITS file gives names longer than 8
    characters as ``HIERARCH`` cards), for every reader of the file; fluxds reads them back exactly from
    ``FDSATTRS``. A value a header cannot hold (NaN, infinite, not a number or boolean) and a name already
    in ``taken`` are left to ``FDSATTRS`` alone."""
    found = {}
    for name, var in scalars.items():
        key, value = name.upper(), _jsonable(var.values[()])
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if key in taken or key in _STRUCTURAL_META or not (isinstance(value, bool) or number):
            continue
        if number and not np.isfinite(value):
            continue
        found[key] = value
    return found
