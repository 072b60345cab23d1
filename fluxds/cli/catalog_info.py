"""The text of ``fluxds info`` for catalogs and collections: a catalog in a few lines (what it is, how many
sources, the energy bands, the history bins, the spectral models with their counts, which columns became
coordinates), the members of a collection with their point counts, and one source's SED table
(``--source``). Every value from the file escaped.

Fast on large catalogs: counts and summaries are whole-array numpy or one :class:`collections.Counter`
over the model types recorded in the JSON of ``reference_model`` (no model object is built per source).
"""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.cli.printing import escaped
from fluxds.construct import ORIGIN_GIVEN
from fluxds.errors import FluxdsError

__all__ = ["is_catalog", "catalog_text", "members_line", "source_text", "history_line"]

#: coordinates that hold bins, not facts about a source
_BIN_COORDS = {"energy", "energy_min", "energy_max", "time", "time_min", "time_max", "phase", "phase_min",
               "phase_max"}  # fmt: skip
#: the SED types a source table shows (the input's own when it is one of them)
_TABLE_TYPES = ("dnde", "e2dnde", "flux", "eflux")


def is_catalog(ds: xr.Dataset) -> bool:
    """Whether a Dataset was read from a source catalog (its reader records ``catalog`` or
    ``catalog_product``): Fermi-LAT, gamma-cat, HGPS ..."""
    return "catalog" in ds.attrs or "catalog_product" in ds.attrs


def _number(value: float) -> str:
    return "nan" if not np.isfinite(value) else f"{value:.6g}"


def _member_label(ds: xr.Dataset) -> str | None:
    from fluxds.collection import member_label

    return member_label(ds)


def members_line(ds: xr.Dataset, label: str) -> str:
    """``members:  N (label): A (5 points), B (3), ...``: every member of a collection in order of first
    appearance, with its number of points."""
    values = np.asarray(ds[label].values).astype(str)
    names, first, counts = np.unique(values, return_index=True, return_counts=True)
    order = np.argsort(first)
    listed = [f"{escaped(names[i])} ({counts[i]})" for i in order]
    if listed:
        listed[0] = listed[0][:-1] + " points)"
    return f"members:       {len(names)} ({escaped(label)}): {', '.join(listed)}"


def history_line(ds: xr.Dataset, note: str = "") -> str:
    """``history bins:  48 (tt), 2008-08-02 ... - 2012-07-31 ..., widths 29.25 - 30.44 d``: how many time
    bins, where the first starts and the last ends (ISO dates in the Dataset's own time scale, named), and
    their widths in days."""
    start, stop = ds.sed.times()
    start, stop = np.atleast_1d(start), np.atleast_1d(stop)
    widths = np.atleast_1d((stop - start).to_value("d"))
    lo, hi = float(np.nanmin(widths)), float(np.nanmax(widths))
    width = f"width {lo:.4g} d" if np.isclose(lo, hi, rtol=1e-6) else f"widths {lo:.4g} - {hi:.4g} d"
    return (
        f"history bins:  {len(start)} ({escaped(start.scale)}), {start[0].iso} - {stop[-1].iso}, {width}"
        f"{note}"
    )


def _energy_line(ds: xr.Dataset, label: str | None) -> str:
    """The energy bands of a grid (their edges), or the energies of a collection's points."""
    energy = ds[schema.ENERGY]
    unit = escaped(energy.attrs.get("units", ""))
    n = ds.sizes[schema.ENERGY]
    edges = schema.ENERGY_MIN in ds.coords and schema.ENERGY_MAX in ds.coords
    if label is not None:  # a collection: each member's own points
        lo = ds[schema.ENERGY_MIN] if edges else energy
        hi = ds[schema.ENERGY_MAX] if edges else energy
        kind = "bin edges" if edges else "reference energies only"
        return (
            f"energies:      {n} points ({kind}), {_number(float(lo.min()))} - "
            f"{_number(float(hi.max()))} {unit}"
        )
    if not edges:
        values = ", ".join(_number(float(v)) for v in np.atleast_1d(energy.values))
        return f"energies:      {n}, reference energies only: {values} {unit}"
    lo = np.atleast_1d(ds[schema.ENERGY_MIN].values).astype(float)
    hi = np.atleast_1d(ds[schema.ENERGY_MAX].values).astype(float)
    if np.allclose(lo[1:], hi[:-1], rtol=1e-9, atol=0):  # contiguous: one list of edges
        text = ", ".join(_number(v) for v in (*lo, hi[-1]))
        return f"energy bands:  {n}, edges {text} {unit}"
    text = ", ".join(f"{_number(a)}-{_number(b)}" for a, b in zip(lo, hi, strict=True))
    return f"energy bands:  {n}: {text} {unit}"


def _model_types(ds: xr.Dataset, dim: str | None) -> str:
    """``PowerLaw 2523, LogParabola 395, ExpCutoffPowerLaw3FGL 110 (PLExpCutoff)``: the reference model
    types with their counts (and the catalog's own name of the type, ``spectrum_type``, where it differs),
    from the JSON of ``reference_model`` (one ``Counter``, no model built); or the one model of all."""
    text = ds.attrs.get("reference_model")
    origin = ds.attrs.get("reference_model_origin")
    try:
        obj = json.loads(text) if isinstance(text, str) and text else None
    except ValueError:
        return "unreadable reference_model attribute"
    if obj is None:
        return f"none ({escaped(origin)})" if origin else "none"
    if not (isinstance(obj, dict) and isinstance(obj.get("by_source"), dict)):
        kind = obj.get("type") if isinstance(obj, dict) else None
        return f"{escaped(kind)}, one for all ({escaped(origin or 'recorded in the Dataset')})"
    entries = list(obj["by_source"].values())
    types = [e.get("type", "?") if isinstance(e, dict) else "none" for e in entries]
    catalog_types = [None] * len(types)
    if dim is not None and "spectrum_type" in ds.coords and ds["spectrum_type"].dims == (dim,):
        spectrum = np.asarray(ds["spectrum_type"].values).astype(str)
        if spectrum.size == len(types):
            catalog_types = spectrum.tolist()
    counts = Counter(zip(types, catalog_types, strict=True))
    parts = []
    for (kind, given), count in counts.most_common():
        same = given is None or given == kind or not given
        parts.append(f"{escaped(kind)} {count}" + ("" if same else f" (as {escaped(given)})"))
    where = "" if origin in (None, ORIGIN_GIVEN) else f" ({escaped(origin)})"
    return f"one per source: {', '.join(parts)}{where}"


def _coordinates_line(ds: xr.Dataset, label: str | None) -> str | None:
    """Which per-source columns became coordinates: those along the source dimension (a grid), or along
    the points besides the bins and the member label (a collection)."""
    along = "source" if label is None else ds[label].dims[0]
    names = [
        escaped(name)
        for name, coord in ds.coords.items()
        if coord.dims == (along,) and name not in _BIN_COORDS and name != (label or "source")
    ]
    if not names:
        return None
    return f"coordinates:   along {escaped(along)}: {', '.join(names)}"


def catalog_text(
    ds: xr.Dataset,
    path: str = "",
    *,
    format_name: str | None = None,
    products: tuple[str, ...] | None = None,
    history: xr.Dataset | None = None,
) -> str:
    """A catalog in a few lines: what it is (catalog, version, instrument, the format fluxds read it as
    and the products it gives), the dims, how many sources, the energy bands (edges and unit), the
    history bins (from ``history``, the light-curve product, or the Dataset itself), the spectral model
    types with their counts, the columns that became coordinates, the SED types; for a collection its
    members with their point counts.

    Parameters
    ----------
    ds : xarray.Dataset
        What :func:`fluxds.read` gave.
    path : str
    format_name : str, optional
        The format it was read as (``fermi-catalog`` ...).
    products : tuple of str, optional
        The products the format gives (:func:`fluxds.cli.products.products_of`).
    history : xarray.Dataset, optional
        The catalog's light-curve product, for the history bins of a band-SED read.
    """
    attrs = ds.attrs
    label = _member_label(ds)
    what = " ".join(escaped(attrs[k]) for k in ("catalog", "catalog_version") if attrs.get(k))
    if attrs.get("instrument"):
        what = f"{what} ({escaped(attrs['instrument'])})" if what else escaped(attrs["instrument"])
    read_as = []
    if format_name:
        read_as.append(f"format {escaped(format_name)}")
    product = attrs.get("catalog_product")
    if product:
        others = [p for p in (products or ()) if p != product]
        also = f" (also: {', '.join(map(escaped, others))})" if others else ""
        read_as.append(f"product {escaped(product)}{also}")
    dim = "source" if "source" in ds.dims else None
    if dim is not None:
        sources = f"{ds.sizes['source']}"
    elif label is not None:
        n = len(np.unique(np.asarray(ds[label].values).astype(str)))
        sources = f"{n} with points ({escaped(label)} along {escaped(ds[label].dims[0])})"
    else:
        sources = "1" if "source" in ds.coords else "?"
    total, without = attrs.get("n_sources"), attrs.get("sources_without_sed")
    if total is not None:
        sources += f"; the catalog lists {escaped(total)}"
        sources += f" ({escaped(without)} without points)" if without is not None else ""
    lines = [
        f"file:          {escaped(path)}" if path else None,
        f"catalog:       {what or 'a catalog'}" + (f", {', '.join(read_as)}" if read_as else ""),
        f"dims:          {', '.join(f'{escaped(k)}={v}' for k, v in ds.sizes.items())}",
        f"sources:       {sources}",
        _energy_line(ds, label) if schema.ENERGY in ds.dims else None,
    ]
    if "time_min" in ds.coords and "time" in ds.dims:
        lines.append(history_line(ds))
    elif history is not None and "time" in history.dims:
        lines.append(history_line(history, " (--product lightcurve)"))
    lines.append(f"models:        {_model_types(ds, dim or (ds[label].dims[0] if label else None))}")
    lines.append(_coordinates_line(ds, label))
    quantities = ds.sed.available_quantities
    types = [t for t in schema.FILE_SED_TYPES if (t if t != "likelihood" else "norm") in quantities]
    lines.append(f"SED types:     {', '.join(types)} (input: {escaped(ds.sed.sed_type_init)})")
    if label is not None:
        lines.append(members_line(ds, label))
    return "\n".join(line for line in lines if line is not None)


# ---- one source ----------------------------------------------------------------------------------------
def _table_type(ds: xr.Dataset, quantities: list[str]) -> str:
    given = ds.sed.sed_type_init
    if given in _TABLE_TYPES and given in quantities:
        return given
    return next((t for t in ("dnde", *_TABLE_TYPES) if t in quantities), "norm")


def _scalar_facts(one: xr.Dataset, rows: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """``name value`` of each coordinate that is one value for the source (0-d, or the same at every
    point of a collection member), and the names of the text coordinates that vary along the rows (a
    paper per point: a column of the table)."""
    facts, varying = [], []
    for name, coord in one.coords.items():
        if name in _BIN_COORDS or name == "source" or (coord.ndim and not set(coord.dims) <= set(rows)):
            continue
        values = np.ravel(np.asarray(coord.values))
        if values.size == 0:
            continue
        if values.size > 1 and not (values == values[0]).all():
            if values.dtype.kind in "USO":
                varying.append(str(name))
            continue
        value = values[0]
        if isinstance(value, bytes | np.bytes_):
            value = value.decode(errors="replace")
        if isinstance(value, str | np.str_):
            if not str(value).strip():
                continue
            text = escaped(value)
        elif isinstance(value, float | np.floating | int | np.integer) and not isinstance(value, bool):
            text = _number(float(value))
            unit = coord.attrs.get("units")
            text += f" {escaped(unit)}" if unit else ""
        else:
            continue
        facts.append(f"{escaped(name)} {text}")
    return facts, varying


def _model_line(one: xr.Dataset) -> str:
    origin = one.attrs.get("reference_model_origin")
    try:
        model = one.sed.reference_model
    except FluxdsError as exc:  # a model the file records but fluxds refuses: named, not fatal
        return f"unreadable ({escaped(exc)})"
    if model is None:
        return f"none ({escaped(origin)})" if origin else "none"
    where = "given in the file" if origin == ORIGIN_GIVEN else (origin or "recorded in the Dataset")
    return f"{escaped(model)} ({escaped(where)})"


def source_text(one: xr.Dataset, name: str, path: str = "") -> str:
    """One source's table: its facts (position, associations, class ...), its reference model, and one
    row per bin (energy band, or time bin for a light curve): the bins, the input SED type's value and
    errors, the upper limit and its flag (``UL``), ``sqrt_ts``; a column per text label that varies (a
    compilation's ``paper``).

    Parameters
    ----------
    one : xarray.Dataset
        One source (:func:`fluxds.cli.sources.one_source`).
    name : str
    path : str
    """
    quantities = one.sed.available_quantities
    kind = _table_type(one, quantities)
    columns = [kind, *(f"{kind}{s}" for s in ("_err", "_errn", "_errp", "_ul") if f"{kind}{s}" in quantities)]
    if "sqrt_ts" in quantities:
        columns.append("sqrt_ts")
    data = {c: one.sed.get(c) for c in columns}
    is_ul = one.sed.get("is_ul") if "is_ul" in quantities else None
    dims = tuple(d for d in data[kind].dims if d != "scan")
    rows = tuple(d for d in dims if one.sizes[d] > 1 or d in ("time", "phase") or len(dims) == 1)
    fixed = {d: 0 for d in dims if d not in rows}
    facts, varying = _scalar_facts(one, rows)
    lines = [
        f"file:          {escaped(path)}" if path else None,
        f"source:        {escaped(name)}",
        f"about:         {', '.join(facts)}" if facts else None,
        f"model:         {_model_line(one)}",
    ]
    if schema.ENERGY in fixed and schema.ENERGY_MIN in one.coords:  # a light curve's one band
        e = one.isel({schema.ENERGY: 0})
        lines.append(
            f"energy band:   {_number(float(e[schema.ENERGY_MIN]))} - {_number(float(e[schema.ENERGY_MAX]))} "
            f"{escaped(one[schema.ENERGY].attrs.get('units', ''))}"
        )
    header: list[str] = []
    units: list[str] = []
    cells: list[list[str]] = []
    shape = tuple(one.sizes[d] for d in rows)
    times = one.sed.times() if "time" in rows and "time_min" in one.coords else None
    for index in np.ndindex(*shape):
        at = {**fixed, **dict(zip(rows, index, strict=True))}
        row: list[str] = []
        for d, i in zip(rows, index, strict=True):
            if d == schema.ENERGY:
                for c in (schema.ENERGY_MIN, schema.ENERGY_MAX, schema.ENERGY):
                    if c in one.coords:
                        row.append(_number(float(np.atleast_1d(one[c].values)[i])))
            elif d == "time" and times is not None:
                row += [np.atleast_1d(times[0])[i].iso[:19], np.atleast_1d(times[1])[i].iso[:19]]
            else:
                row.append(escaped(np.atleast_1d(one[d].values)[i]) if d in one.coords else str(i))
        for c in columns:
            row.append(_number(float(data[c].isel({k: v for k, v in at.items() if k in data[c].dims}))))
        if is_ul is not None:
            flag = bool(is_ul.isel({k: v for k, v in at.items() if k in is_ul.dims}))
            row.append("UL" if flag else "-")
        for v in varying:
            row.append(escaped(np.atleast_1d(one[v].values)[at[one[v].dims[0]]]))
        cells.append(row)
    for d in rows:
        if d == schema.ENERGY:
            unit = escaped(one[schema.ENERGY].attrs.get("units", ""))
            for c, title in (
                (schema.ENERGY_MIN, "e_min"),
                (schema.ENERGY_MAX, "e_max"),
                (schema.ENERGY, "e_ref"),
            ):
                if c in one.coords:
                    header.append(title)
                    units.append(unit)
        elif d == "time" and times is not None:
            header += ["time_start", "time_stop"]
            units += [f"({escaped(np.atleast_1d(times[0]).scale)})"] * 2
        else:
            header.append(escaped(d))
            units.append(escaped(one[d].attrs.get("units", "")) if d in one.coords else "")
    for c in columns:
        header.append(c)
        units.append(escaped(data[c].attrs.get("units", "")))
    if is_ul is not None:
        header.append("is_ul")
        units.append("")
    header += [escaped(v) for v in varying]
    units += [""] * len(varying)
    widths = [max(len(r[i]) for r in (header, units, *cells)) for i in range(len(header))]
    table = [header, units, *cells]
    what = {schema.ENERGY: "energy bins", "time": "time bins", "phase": "phase bins"}
    bins = " x ".join(what.get(d, escaped(d)) for d in rows)
    ul = f"; is_ul: UL where {kind}_ul is the upper limit" if is_ul is not None else ""
    lines.append(f"table:         {len(cells)} rows ({bins}), {kind}{ul}")
    for r in table:
        lines.append("  " + "  ".join(cell.rjust(w) for cell, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(line for line in lines if line is not None)
