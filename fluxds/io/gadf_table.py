"""GADF SED tables <-> fluxds Datasets, independent of the file format holding the table.

A table is an :class:`astropy.table.Table`, one row per energy bin; the FITS, ECSV and HDF5 modules
only move tables in and out of files. What is read:

- column names in any case, older spellings (``REF_DFDE``, ``E_CTR``) mapped by
  :data:`fluxds.io.vocabulary.COLUMN_ALIASES`;
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

Every problem of a table is reported at once (:class:`fluxds.errors.Problems`): each bad column, the SED
type, the energies and the units, and, when the table cannot be read, the negative uncertainties and
reference fluxes it holds (which :func:`fluxds.read` reports for a table that reads).

What is written: the columns of the requested SED type, ``e_ref``/``e_min``/``e_max``, and beside them
the likelihood form itself (``norm*`` and ``ref_dnde``/``ref_flux``/``ref_eflux``: the spec allows several
representations in one SED, so any SED type reads back to the very same norms; gammapy reads only the
columns of the declared type), statistics, scans and flags; ``SED_TYPE``, ``UL_CONF`` and ``FDSATTRS``.
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.construct import EDGES_DERIVED, EDGES_ORIGIN_ATTR, EREF_DERIVED, column_problems, from_sed
from fluxds.convert import to_sed_type
from fluxds.errors import FluxdsError, FormatError, ModelError, Problems, UnitError
from fluxds.io.gti import gti_from_json
from fluxds.io.keywords import (
    META_ATTRS,
    ROW_COORDS_KEY,
    SCALAR_COORDS_KEY,
    SCALAR_VARS_KEY,
    STRUCTURAL_META,
    apply_descriptions,
    attrs_from_meta,
    column_descriptions,
    dataset_label_meta,
    dataset_labels_from_meta,
    decode_keyword_text,
    decode_text_column,
    derived_energy_meta,
    describe_columns,
    encode_text_column,
    header_json,
    is_label_keyword,
    jsonable,
    keyword_meta,
    scalar_coords_from_json,
    scalar_coords_to_json,
    scalar_keywords,
    scalar_vars_from_json,
    scalar_vars_to_json,
    standard_meta,
    table_meta,
    text_values,
)
from fluxds.io.vocabulary import ERROR_SUFFIXES, REFERENCE_VARIABLES, SED_STEMS, canonical_column
from fluxds.models import model_from_json
from fluxds.units import format_unit, parse_unit

__all__ = [
    "dataset_from_table",
    "table_from_dataset",
    "guess_sed_type",
    "resolve_sed_type",
    "normalised_columns",
    "units_option",
    "loglike_to_stat",
    "negative_column_problems",
    "is_known_column",
    "row_coordinates",
    "add_row_coordinates",
]


_VECTOR_DIMS = ("scan", "dataset")
# Energy columns a table of each SED type must hold even when they were derived (GADF's required
# columns; gammapy also needs all three for likelihood tables). Derived ones are flagged in FDSATTRS.
_ENERGY_COLUMNS_NEEDED = {
    name: ("e_ref", "e_min", "e_max")
    if name == "norm"
    else ("e_min", "e_max")
    if kind.needs_edges
    else ("e_ref",)
    for name, kind in schema.SED_TYPES.items()
}
_DERIVED_FLAGS = (
    ("_energy_ref_derived", (schema.ENERGY,), EREF_DERIVED),
    ("_energy_edges_derived", (schema.ENERGY_MIN, schema.ENERGY_MAX), EDGES_DERIVED),
)
_OTHER_LAYOUTS = {
    "light-curve": {"time_min", "time_max", "time", "time_bin_start"},
    "flux-profile": {"x_min", "x_max", "x_ref"},
    "phase-curve": {"phase_min", "phase_max"},
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
    """The SED type a set of (normalised) column names holds, or None: ``likelihood`` for norms with a
    reference flux, else the first SED stem present (:data:`~fluxds.io.vocabulary.SED_STEMS`), else
    ``likelihood`` for norms alone."""
    names = set(names)
    if "norm" in names and ({"ref_dnde", "ref_flux", "ref_eflux"} & names):
        return schema.LIKELIHOOD
    for stem in SED_STEMS:
        if stem in names:
            return stem
    if "norm" in names:
        return schema.LIKELIHOOD
    return None


def normalised_columns(
    table: Table, where: str, units: dict[str, str], problems: Problems | None = None
) -> dict[str, Any]:
    """The columns of a table by their fluxds names (lower case, aliases mapped), as Quantities where they
    have a unit, checked one by one.

    Parameters
    ----------
    table : astropy.table.Table
    where : str
        The file and HDU, for messages.
    units : dict
        Units for columns that carry none (see :func:`units_option`).
    problems : Problems, optional
        Collects the problem of each bad column (left out of the result) instead of raising; without it
        every bad column is raised at once.

    Returns
    -------
    dict
    """
    collect = Problems(where) if problems is None else problems
    columns: dict[str, Any] = {}
    for raw in table.colnames:
        with collect.check():
            name, value = _normalised_column(table[raw], raw, where, units, columns)
            columns[name] = value
    if problems is None:
        collect.raise_if_any()
    return columns


def _normalised_column(col, raw: str, where: str, units: dict[str, str], columns: dict) -> tuple[str, Any]:
    name = canonical_column(raw)
    if name in columns:
        raise FormatError(f"{where}: columns {raw!r} and another both mean {name!r}")
    given = col.unit if col.unit else units.get(name)
    unit = parse_unit(given, where=f"{where}, column {raw!r}") if given else None
    data = np.asarray(col)
    converted = not data.dtype.isnative
    if converted:
        data = data.astype(data.dtype.newbyteorder("="))  # FITS is big-endian: a new array
    if data.dtype.kind in "SU" and name != "source":
        raise FormatError(f"{where}: column {raw!r} holds text, expected numbers")
    if unit is None and needs_unit(name):
        raise UnitError(
            f"{where}: column {raw!r} has no unit, and {name!r} has a physical dimension; pass "
            f"units={{{name!r}: ...}} to say which, or units='gadf' for the units the GADF spec "
            "recommends (MeV, MeV-1 cm-2 s-1, cm-2 s-1, MeV cm-2 s-1)"
        )
    if unit is None:
        return name, data
    # a converted column is ours already: no second copy (a native one stays apart from the table's)
    return name, u.Quantity(data, unit, copy=not converted)


def needs_unit(name: str) -> bool:
    if name in schema.ENERGY_COLUMNS:
        return True
    spec = schema.VARIABLES.get(name)
    if spec is not None:
        return bool(spec.unit)
    split = schema.split_measurement(name)
    return split is not None and split[0] != "norm"


def units_option(units: dict[str, str] | str | None, where: str) -> dict[str, str]:
    if units is None:
        return {}
    if isinstance(units, str):
        if units.lower() != "gadf":
            raise FormatError(f"{where}: units={units!r}; expected a dict of column -> unit, or 'gadf'")
        return dict(schema.GADF_RECOMMENDED_UNITS)
    return {canonical_column(k): v for k, v in units.items()}


def loglike_to_stat(columns: dict[str, Any]) -> None:
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


def negative_column_problems(columns: dict[str, Any], where: str, *, rows: str = "row") -> list[FormatError]:
    """The columns holding negative uncertainties (``*_err*``) or reference values (``ref_*``), one
    problem each: what :func:`fluxds.validate.physics_problems` reports of a Dataset, found in the raw
    columns, for a table that cannot be read for other reasons (so that every problem shows at once).

    Parameters
    ----------
    columns : dict
        Normalised columns (:func:`normalised_columns`).
    where : str
        The file and HDU, for messages.
    rows : str
        What a row of the table is (``row``, ``energy bin``, ``region``), for messages.

    Returns
    -------
    list of FormatError
    """
    found = []
    for name, value in columns.items():
        if not (name.endswith(ERROR_SUFFIXES) or name in REFERENCE_VARIABLES):
            continue
        values = np.asarray(getattr(value, "value", value))
        if values.dtype.kind != "f" or not values.size:
            continue
        negative = values < 0
        if negative.any():
            first = int(np.flatnonzero(negative)[0])
            row = int(np.unravel_index(first, values.shape)[0])
            what = (
                "an uncertainty is a magnitude, never negative"
                if name.endswith(ERROR_SUFFIXES)
                else "the reference model is a photon spectrum, never negative"
            )
            found.append(
                FormatError(
                    f"{where}: column {name!r} has {int(negative.sum())} negative value(s), first "
                    f"{float(values.flat[first])!r} in {rows} {row}; {what}"
                )
            )
    return found


def is_known_column(name: str) -> bool:
    """Whether a (normalised) column name is one the GADF spec or fluxds defines: energies, SED
    measurements (``dnde_errp`` ...), variables of the data model, references, log-likelihoods."""
    return (
        name in schema.ENERGY_COLUMNS
        or name in schema.VARIABLES
        or name in REFERENCE_VARIABLES
        or name in schema.LOGLIKE_COLUMNS
        or schema.split_measurement(name) is not None
    )


def _is_text(col) -> bool:
    kind = np.asarray(col).dtype.kind
    if kind in "SU":
        return True
    if kind == "O":
        values = np.asarray(col).ravel()[:64]
        return bool(values.size) and all(isinstance(v, (str, bytes)) for v in values)
    return False


def row_coordinates(
    table: Table, saved: dict[str, Any] | None, dim: str, where: str
) -> tuple[Table, dict[str, tuple]]:
    """The columns of a table that are coordinates along its rows, and the table without them.

    The rule (a GADF table's rows are points along ``dim``): a column fluxds wrote as a coordinate
    (listed in ``FDSATTRS``, :data:`~fluxds.io.keywords.ROW_COORDS_KEY`: a collection's member label,
    positions ...) is that coordinate again, name, values and attributes exact; **any other 1-D text
    column whose name is not a GADF or fluxds column** is a text coordinate named by its lower-case
    name: a member label (``paper``, ``source``, ``instrument``; see :mod:`fluxds.collection`). Text in
    a column the spec defines as numbers stays an error of that column.

    Parameters
    ----------
    table : astropy.table.Table
    saved : dict or None
        The attributes fluxds wrote (``FDSATTRS``), from which :data:`ROW_COORDS_KEY` is popped.
    dim : str
        The dimension of the rows (``energy``).
    where : str
        The file and HDU, for messages.

    Returns
    -------
    table : astropy.table.Table
        The other columns (the same meta).
    coords : dict
        ``{name: (dim, values, attrs)}``, in column order.
    """
    specs = (saved or {}).pop(ROW_COORDS_KEY, None) or {}
    if not isinstance(specs, dict):
        raise FormatError(f"{where}: {ROW_COORDS_KEY} in {META_ATTRS} must be a JSON object")
    coords: dict[str, tuple] = {}
    removed: list[str] = []
    for raw in table.colnames:
        col = table[raw]
        if raw in specs:
            attrs = specs[raw] if isinstance(specs[raw], dict) else {}
            if _is_text(col):
                values = decode_text_column(col)
            else:
                values = np.asarray(col)
                if not values.dtype.isnative:
                    values = values.astype(values.dtype.newbyteorder("="))
            coords[raw] = (dim, values, dict(attrs))
            removed.append(raw)
            continue
        name = canonical_column(raw)
        if len(col.shape) == 1 and _is_text(col) and not is_known_column(name):
            if name in coords:
                raise FormatError(f"{where}: columns {raw!r} and another both mean {name!r}")
            coords[name] = (dim, text_values(col), {})
            removed.append(raw)
    if not removed:
        return table, coords
    rest = Table(table, copy=False)
    rest.remove_columns(removed)
    return rest, coords


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
    meta = table_meta(table)
    lowered = {name.lower() for name in table.colnames}
    for layout, marks in _OTHER_LAYOUTS.items():
        if lowered & marks:
            raise FormatError(
                f"{where}: this is a {layout} table (columns {sorted(lowered & marks)}), one row per "
                "time bin or region with energy vectors; this version of fluxds reads GADF SED tables "
                "(one row per energy bin) only"
            )
    saved = attrs_from_meta(meta, where)
    # a collection's member label (any text column not of the spec), positions along the points ...
    table, row_coords = row_coordinates(table, saved, schema.ENERGY, where)
    problems = Problems(where)  # every problem of the table, reported at once
    columns = normalised_columns(table, where, units_option(units, where), problems)
    unread = {canonical_column(raw) for raw in table.colnames} - set(columns)  # bad columns, reported
    sidedness = ul_sidedness_of_producer(meta, set(columns))
    loglike_to_stat(columns)
    sed = None
    with problems.check():  # an unreadable column still names the SED type
        sed = resolve_sed_type(sed_type, meta, [*columns, *sorted(unread)], where)
    stem = schema.sed_type(sed).name if sed is not None else None
    if stem is not None and stem not in columns and stem not in unread:
        problems.add(
            FormatError(
                f"{where}: SED_TYPE {sed!r} needs a column {stem!r}; columns: {', '.join(table.colnames)}"
            )
        )
    has_energy = "e_ref" in columns or ("e_min" in columns and "e_max" in columns)
    if not has_energy and not unread & {"e_ref", "e_min", "e_max"}:
        problems.add(
            FormatError(
                f"{where}: energy columns missing: need 'e_ref', or 'e_min' and 'e_max'; "
                f"columns: {', '.join(table.colnames)}"
            )
        )
    if problems:  # the table cannot be read: what else is wrong with the columns that were read
        if sed is not None:
            problems.extend(column_problems(sed, columns, where=where))
        problems.extend(negative_column_problems(columns, where))
        problems.raise_if_any()
    energies = {k: columns.pop(k, None) for k in ("e_ref", "e_min", "e_max")}
    gti = meta.get("GTI")
    extra_attrs = {
        str(k): v if isinstance(v, (str, int, float)) else json.dumps(jsonable(v), default=str)
        for k, v in table.meta.items()
        if str(k).upper() not in STRUCTURAL_META and not is_label_keyword(str(k).upper())
    }
    model = None
    if saved and saved.get("reference_model") and '"by_source"' not in str(saved["reference_model"]):
        # (a collection's models by member are kept as the attribute; its norms are columns)
        try:
            model = model_from_json(saved["reference_model"])
        except ModelError as exc:
            raise FormatError(f"{where}: reference model in {META_ATTRS}: {exc}") from None
    try:
        ds = from_sed(
            sed,
            columns,
            energy_ref=energies["e_ref"],
            energy_min=energies["e_min"],
            energy_max=energies["e_max"],
            reference_model=model,
            coords=row_coords or None,
            attrs=extra_attrs,
            ul_conf=meta.get("UL_CONF"),
            ul_sidedness=sidedness,
            derive_edges=derive_edges or bool(saved and saved.get("_energy_edges_derived")),
            where=where,
        )
    except FluxdsError as exc:  # with the negative values of the columns, if there are any
        problems.add(exc)
        problems.extend(negative_column_problems(columns, where))
        problems.raise_if_any()
    if saved is not None:
        ds = ds.assign_coords(scalar_coords_from_json(saved.pop(SCALAR_COORDS_KEY, "{}"), where))
        ds = ds.assign(scalar_vars_from_json(saved.pop(SCALAR_VARS_KEY, "{}"), where))
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
    if "SOURCE" in meta and "source" not in ds.coords:  # a source column (a collection's label) wins
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


def add_row_coordinates(
    table: Table, ds: xr.Dataset, dim: str, attrs: dict[str, Any], *, ascii_text: bool, where: str
) -> None:
    """Write the coordinates along a table's rows (``dim``) other than its bins — a collection's member
    label (``paper``, ``source``), positions along the points ... — as columns of their exact names (text
    through :func:`fluxds.io.keywords.encode_text_column`), and list them with their attributes in
    ``attrs`` (the ``FDSATTRS`` of the table, :data:`~fluxds.io.keywords.ROW_COORDS_KEY`), which
    :func:`row_coordinates` reads back. In place.

    Parameters
    ----------
    table : astropy.table.Table
    ds : xarray.Dataset
    dim : str
        The dimension of the rows (``energy``; a light curve's ``time``).
    attrs : dict
        The attributes written as ``FDSATTRS``.
    ascii_text : bool
        FITS: text columns hold ASCII only.
    where : str
        The target, for messages.

    Raises
    ------
    FormatError
        A coordinate of values a column cannot hold (dates ...).
    """
    axis = schema.binned_axis(dim)
    bins = {dim} if axis is None else {*axis.coords, axis.centre_value}
    found = {}
    for name in ds.coords:
        coord = ds.variables[name]
        if coord.dims != (dim,) or name in bins:
            continue
        values = np.asarray(coord.values)
        if values.dtype.kind in "USO":
            values = encode_text_column(values, ascii_only=ascii_text)
        elif values.dtype.kind not in "biuf":
            raise FormatError(
                f"{where}: coordinate {name!r} along {dim} holds {values.dtype} values; a table column "
                "holds numbers or text (write netCDF instead)"
            )
        table[str(name)] = values
        if values.dtype.kind in "iuf" and coord.attrs.get("units"):
            try:  # for every reader of the file; fluxds takes the attributes from FDSATTRS
                table[str(name)].unit = format_unit(parse_unit(coord.attrs["units"]))
            except UnitError:
                pass
        found[str(name)] = {k: jsonable(v) for k, v in coord.attrs.items()}
    if found:
        attrs[ROW_COORDS_KEY] = found


def table_from_dataset(
    ds: xr.Dataset, sed_type: str | None = None, *, where: str = "", ascii_text: bool = True
) -> Table:
    """One GADF SED table from a Dataset without a ``source`` dimension.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset (a scalar ``source`` coordinate is written as the ``SOURCE`` keyword). The
        coordinates along ``energy`` other than the bins (a collection's member label ``paper`` or
        ``source``, positions ...) are columns of their exact names, one value per row, listed in
        ``FDSATTRS`` so that they read back as coordinates (see :func:`row_coordinates`).
    sed_type : str, optional
        SED type of the columns; default ``ds.attrs["sed_type_init"]`` (else ``likelihood``).
    where : str
        The target, for messages.
    ascii_text : bool
        Text columns hold ASCII only (FITS): other text is written as JSON string literals
        (:func:`fluxds.io.keywords.encode_text_column`), read back exactly.

    Returns
    -------
    astropy.table.Table
    """
    sed = sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD
    out = to_sed_type(ds, sed, keep_likelihood=True)
    table = Table()
    attrs = {k: jsonable(v) for k, v in ds.attrs.items()}
    needed = _ENERGY_COLUMNS_NEEDED[schema.sed_type(sed).name]
    for name, column in schema.ENERGY_COLUMNS.items():
        if column not in ds.coords:
            continue
        coord = ds[column]
        if coord.attrs.get("note") and name not in needed:
            continue  # derived: the reader derives it again, bit for bit
        table[name] = np.asarray(coord.values)
        table[name].unit = format_unit(parse_unit(coord.attrs.get("units")))
    add_row_coordinates(table, ds, schema.ENERGY, attrs, ascii_text=ascii_text, where=where)
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
    scalar_coords = scalar_coords_to_json(ds)
    if scalar_coords:
        attrs[SCALAR_COORDS_KEY] = scalar_coords
    if scalars:
        attrs[SCALAR_VARS_KEY] = scalar_vars_to_json(scalars)
    describe_columns(table, ds)
    table.meta.update(standard_meta(ds, out.attrs["sed_type"]))
    table.meta.update(derived_energy_meta(ds, table.colnames))
    table.meta.update(dataset_label_meta(ds, where))
    table.meta.update(keyword_meta(ds, set(table.meta)))
    table.meta.update(scalar_keywords(scalars, set(table.meta)))
    table.meta[META_ATTRS] = header_json(attrs)
    return table
