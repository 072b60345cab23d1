"""gamma-cat's per-paper light curves (``tev-<id>-lc.ecsv``, ``-lc-N``), read with gamma-cat's conventions
(``input/schemas/lightcurve-format.md``, both versions); every assumption is recorded in
``attrs["conventions"]``.

``time`` (centre), ``time_min``, ``time_max`` in MJD (unit ``MJD``, ``d`` or none); a file may omit
the columns equal to ``time`` (so ``time`` alone, or ``time_min`` alone, are time instants; bins of
zero length are instants too); ``timesys`` in the meta (UTC when absent: the scale of published
MJDs; recorded). ``flux``, ``flux_err``, ``flux_ul`` (NaN flux: an upper limit), ``is_ul``;
per-row ``e_min`` (a threshold: the flux above it) and optional ``e_max``; ``livetime``,
``significance``, ``index``, ``index_err`` kept along time. ``-1`` in a time or energy column means
"not specified" (the format's first version). Fluxes in ``Crab`` are kept dimensionless
(:data:`~fluxds.io.published.conventions.CRAB_NOTE`); physical units (``1e-11 / (cm2 s)``,
``m-2 s-1`` ...) are converted by astropy. Rows out of time order are sorted (recorded); two rows at
the same time are refused, naming them.

Integral fluxes above a threshold ``e_min`` with no upper edge are an energy bin ``[e_min, 1 PeV]``:
fluxds's bins are closed, and 1 PeV lies above any energy these instruments measured (gammapy's own
"flux above 1 TeV" integrates to 1e3 TeV likewise); ``ds.sed.flux`` returns the published numbers
exactly, the note on ``energy_max`` says so. Each distinct threshold is one energy bin, a row's flux in
its own bin (NaN in the others), the threshold of each row a coordinate ``e_min_row`` along time.
"""

from __future__ import annotations

import os
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table

from fluxds import schema
from fluxds.construct import from_sed
from fluxds.errors import FormatError, UnitError
from fluxds.io.published.conventions import (
    CRAB_NOTE,
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
    read_table,
    scalar_labels,
    table_conventions,
)
from fluxds.timeaxis import TIME, time_coords, time_scale_from_timesys
from fluxds.units import format_unit

__all__ = ["read_lightcurve", "OPEN_BAND_CEILING"]

#: where an integral flux above a threshold ends in fluxds (see the module's documentation)
OPEN_BAND_CEILING = 1000.0 * u.TeV
_CEILING_NOTE = (
    "the published flux is above e_min with no upper edge; the bin is closed at 1 PeV (1000 TeV), above "
    "any energy the instrument measured; flux = the published number exactly"
)
_TIME_COLUMNS = ("time", "time_min", "time_max")


def _time_columns(
    table: Table, names: dict[str, str], where: str, conventions: list[str]
) -> dict[str, np.ndarray]:
    out = {}
    for name in _TIME_COLUMNS:
        if name not in names:
            continue
        raw = names[name]
        text = unit_text(table[raw])
        if text is not None and text.strip().lower() not in ("mjd", "d", "day", "days"):
            unit = parse_published_unit(text, where=where, column=raw)
            raise FormatError(
                f"{where}: column {raw!r} is in {unit}; gamma-cat light curves give times as MJD (unit 'MJD' "
                "or 'd'), and a time in other units has no reference epoch in the file"
            )
        if text is None:
            conventions.append(f"column {raw!r} has no unit: MJD assumed (gamma-cat's light-curve format)")
        values = np.ma.filled(np.ma.asarray(table[raw], dtype=float), np.nan)
        minus_one = values == -1
        if minus_one.any():
            values = np.where(minus_one, np.nan, values)
            conventions.append(f"-1 in {raw!r} means 'not specified' (gamma-cat's first light-curve format)")
        out[name] = values
    return out


def _instants_or_bins(
    times: dict[str, np.ndarray], where: str, conventions: list[str]
) -> dict[str, np.ndarray]:
    """``time_min``/``time_max``/``time_value`` numbers (MJD) from what the file gives."""
    centre, lo, hi = times.get("time"), times.get("time_min"), times.get("time_max")
    if lo is not None and hi is not None:
        good = np.isfinite(lo) & np.isfinite(hi) & (lo < hi)
        if good.all():
            out = {"time_min": lo, "time_max": hi}
            if centre is not None and np.isfinite(centre).all():
                out["time_value"] = centre
            return out
        if centre is not None and np.isfinite(centre).all():
            conventions.append(
                f"{int((~good).sum())} row(s) have no time bin (missing or zero-length): every row read "
                "as the instant 'time'; the published time_min/time_max kept as "
                "time_min_published/time_max_published"
            )
            return {"time_value": centre, "time_min_published": lo, "time_max_published": hi}
        zero = np.isfinite(lo) & np.isfinite(hi) & (lo == hi)
        if (good | zero).all():
            conventions.append(
                f"{int(zero.sum())} row(s) have time_min = time_max (an instant, as gamma-cat allows): every "
                "row read as the instant (time_min + time_max) / 2; the published edges kept as "
                "time_min_published/time_max_published"
            )
            return {"time_value": lo + 0.5 * (hi - lo), "time_min_published": lo, "time_max_published": hi}
        i = int(np.flatnonzero(~(good | zero))[0])
        raise FormatError(
            f"{where}: row {i} has time_min = {float(lo[i])!r} and time_max = {float(hi[i])!r}: not a "
            "time bin, and the file "
            "has no 'time' column to place the row"
        )
    if centre is not None:
        if lo is not None or hi is not None:
            only = "time_min" if lo is not None else "time_max"
            conventions.append(f"only {only} beside time: the rows are instants at 'time'")
            return {"time_value": centre, f"{only}_published": lo if lo is not None else hi}
        return {"time_value": centre}
    only = "time_min" if lo is not None else "time_max" if hi is not None else None
    if only is None:
        raise FormatError(
            f"{where}: a gamma-cat light curve needs a time column (time, time_min or time_max)"
        )
    conventions.append(
        f"the file gives {only} only: each row read as the instant {only} (gamma-cat's format omits the "
        "columns that equal 'time')"
    )
    return {"time_value": times[only]}


def _flux_stem(table: Table, names: dict[str, str]) -> str:
    for stem in ("flux", "dnde", "eflux", "e2dnde"):
        if any(n == stem or (n.startswith(stem + "_") and schema.split_measurement(n)) for n in names):
            return stem
    return "flux"


def _lc_type(stem: str, unit: u.UnitBase, meta_type: str | None, where: str) -> str:
    kinds = {name: schema.SED_TYPES[name].physical_unit for name in ("dnde", "flux", "eflux")}
    for name, physical in kinds.items():
        if unit.is_equivalent(physical):
            if name == "eflux" and stem == "e2dnde":
                return "e2dnde"
            if meta_type and meta_type != name and not (meta_type == "e2dnde" and name == "eflux"):
                raise FormatError(
                    f"{where}: SED_TYPE is {meta_type!r} but the fluxes are in {unit}, a unit of {name!r}"
                )
            return meta_type or name
    raise UnitError(
        f"{where}: the light curve's fluxes are in {unit}; expected an integral flux (cm-2 s-1), a "
        "differential flux (cm-2 s-1 TeV-1), an energy flux (erg cm-2 s-1) or Crab units"
    )


def _lc_values(table, names, stem, where, conventions) -> tuple[dict[str, np.ndarray], u.UnitBase | None]:
    """The measurement columns (``stem``, ``stem_err`` ...) as numbers in one unit; ``None`` for Crab."""
    measured = {
        n: raw
        for n, raw in names.items()
        if n == stem
        or (n.startswith(stem) and schema.split_measurement(n) and schema.split_measurement(n)[0] == stem)
    }
    texts = {n: unit_text(table[raw]) for n, raw in measured.items()}
    crab = {n for n, t in texts.items() if is_crab(t)}
    given = [t for n, t in texts.items() if t is not None and n not in crab]
    if crab and given:
        raise FormatError(f"{where}: the flux columns mix Crab units and {given[0]!r}")
    unit = None
    if not crab:
        if not given:
            conventions.append(
                "the flux columns have no unit: Crab units assumed (gamma-cat's light-curve format: "
                "'integral "
                "flux in Crab')"
            )
        else:
            unit = parse_published_unit(given[0], where=where, column=stem)
    values = {}
    for n, raw in measured.items():
        data = np.ma.filled(np.ma.asarray(table[raw], dtype=float), np.nan)
        if unit is not None and texts[n] is not None and n not in crab:
            data = (data * parse_published_unit(texts[n], where=where, column=raw)).to_value(unit)
        elif unit is not None and texts[n] is None:
            conventions.append(
                f"column {raw!r} has no unit: the unit of the other flux columns ({unit}) assumed"
            )
        values[n] = data
    return values, unit


def read_lightcurve(path: str | os.PathLike, **options) -> xr.Dataset:
    """Read a gamma-cat per-paper light curve (ECSV) with gamma-cat's conventions (see the module).

    Parameters
    ----------
    path : str or path-like
    **options
        ``sed_type=`` overrides the SED type the flux unit tells.

    Returns
    -------
    xarray.Dataset
        Dims ``(time, energy)``: one energy bin per distinct energy band of the rows (or one bin at a
        placeholder energy when the file gives none, noted), instants (``time_value``) or bins
        (``time_min``/``time_max``) in MJD.
    """
    where = str(path)
    table = read_table(where)
    meta = dict(table.meta)
    names = {n.lower(): n for n in table.colnames}
    conventions: list[str] = table_conventions(meta)
    low = lower_meta(meta)
    if low.get("timesys"):
        scale = time_scale_from_timesys(low["timesys"], where)
    else:
        scale = "utc"
        conventions.append("no timesys in the meta: MJDs read as UTC (the scale of published MJDs)")
    times = _instants_or_bins(_time_columns(table, names, where, conventions), where, conventions)
    stem = _flux_stem(table, names)
    values, unit = _lc_values(table, names, stem, where, conventions)
    if not values:
        raise FormatError(
            f"{where}: no flux column (flux, flux_ul ...); columns: {', '.join(table.colnames)}"
        )
    n = len(table)
    extra: dict[str, Any] = {}
    for low_name, raw in names.items():
        if (
            low_name in _TIME_COLUMNS
            or low_name in values
            or low_name in ("e_min", "e_max", "e_ref", "is_ul")
        ):
            continue
        col = table[raw]
        if np.asarray(col).dtype.kind not in "fiub":
            continue
        text = unit_text(col)
        q = np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)
        extra[low_name] = q * parse_published_unit(text, where=where, column=raw) if text else q
    energies = {}
    for name in ("e_ref", "e_min", "e_max"):
        if name in names:
            q = column_quantity(table, names[name], where, u.TeV)
            q = u.Quantity(q, u.TeV) if not isinstance(q, u.Quantity) else q
            v = np.where(q.value == -1, np.nan, q.value) * q.unit
            energies[name] = v.to(u.TeV)
    ul_conf, note = fraction_ul_conf(low.get("ul_conf"), where)
    if note:
        conventions.append(note)
    is_ul = None
    if "is_ul" in names:
        is_ul = np.asarray(table[names["is_ul"]]).astype(bool)
    # the rows in time order
    primary = times.get("time_min", times.get("time_value"))
    order = np.argsort(primary, kind="stable")
    twice = first_duplicate(primary)
    if twice is not None:
        i, j = twice
        telescope = low.get("telescope")
        raise FormatError(
            f"{where}: rows {i} and {j} are both at MJD {float(primary[i])!r}; a light curve holds one "
            "measurement "
            "per time, and the file has no column telling the two apart"
            + (f" (telescope: {telescope})" if telescope else "")
        )
    if not np.all(order == np.arange(n)):
        conventions.append("rows sorted by time (the file lists them out of order)")
        times = {k: v[order] for k, v in times.items()}
        values = {k: v[order] for k, v in values.items()}
        extra = {k: v[order] for k, v in extra.items()}
        energies = {k: v[order] for k, v in energies.items()}
        is_ul = is_ul[order] if is_ul is not None else None
    published = {k: times.pop(k) for k in list(times) if k.endswith("_published")}
    tcoords = time_coords(
        time_min=times.get("time_min"),
        time_max=times.get("time_max"),
        time_value=times.get("time_value"),
        unit="d",
        scale=scale,
        where=where,
    )
    for k, v in published.items():
        tcoords[k] = xr.Variable((TIME,), v, {"units": "d", "time_scale": scale, "note": "MJD as published"})
    if stem not in values:
        values[stem] = np.full(n, np.nan)
    if is_ul is None and f"{stem}_ul" in values:
        is_ul = np.isfinite(values[f"{stem}_ul"]) & np.isnan(values[stem])
    attrs = common_attrs(meta, conventions)
    if unit is None:
        ds = _crab_lightcurve(values, stem, energies, tcoords, attrs, conventions, where)
    else:
        meta_type = str(options.pop("sed_type", None) or low.get("sed_type") or "").strip().lower() or None
        sed = _lc_type(stem, unit, meta_type, where)
        ds = _physical_lightcurve(
            values, stem, sed, unit, energies, tcoords, attrs, conventions, where, ul_conf
        )
    if is_ul is not None:
        ds["is_ul"] = xr.Variable((TIME,), is_ul, {"long_name": "flux point is an upper limit"})
    for name, q in extra.items():
        attrs_var = {"long_name": name}
        if isinstance(q, u.Quantity):
            attrs_var["units"] = str(q.unit)
            q = q.value
        ds[name] = xr.Variable((TIME,), np.asarray(q), attrs_var)
    if ul_conf is not None and "ul_conf" not in ds.attrs:
        ds.attrs["ul_conf"] = ul_conf
    ds = ds.assign_coords(scalar_labels(meta))
    ds.attrs["conventions"] = conventions_text(conventions or ["none needed"])
    return ds


def _bands(
    energies: dict[str, u.Quantity], n: int, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Each row's energy band (``e_min``, ``e_max`` in TeV, ``open`` when the file gives no upper edge):
    the distinct bands (lo, hi), the band of each row, and whether the bands are open (ceilinged)."""
    lo = np.asarray(energies["e_min"].to_value(u.TeV), dtype=float)
    if not np.isfinite(lo).all():
        i = int(np.flatnonzero(~np.isfinite(lo))[0])
        raise FormatError(
            f"{where}: row {i} has no e_min (the energy threshold of the flux); every row needs one"
        )
    opened = "e_max" not in energies
    hi = (
        np.full(n, OPEN_BAND_CEILING.to_value(u.TeV))
        if opened
        else np.asarray(energies["e_max"].to_value(u.TeV), dtype=float)
    )
    if not opened and not np.isfinite(hi).all():
        opened_rows = ~np.isfinite(hi)
        hi = np.where(opened_rows, OPEN_BAND_CEILING.to_value(u.TeV), hi)
        opened = True
    pairs, row_band = np.unique(np.stack([lo, hi], axis=1), axis=0, return_inverse=True)
    return pairs[:, 0], pairs[:, 1], row_band.reshape(-1), opened


def _grid(values: dict[str, np.ndarray], row_band: np.ndarray, n_band: int) -> dict[str, np.ndarray]:
    out = {}
    rows = np.arange(row_band.size)
    for name, v in values.items():
        grid = np.full((row_band.size, n_band), np.nan)
        grid[rows, row_band] = v
        out[name] = grid
    return out


def _physical_lightcurve(
    values, stem, sed, unit, energies, tcoords, attrs, conventions, where, ul_conf
) -> xr.Dataset:
    n = next(iter(values.values())).size
    data_stem = "dnde" if sed == "dnde" else stem if sed not in ("flux", "eflux", "e2dnde") else sed
    renamed = {k.replace(stem, data_stem, 1): v for k, v in values.items()}
    if "e_min" not in energies and "e_ref" not in energies:
        return _unknown_energy_lightcurve(renamed, data_stem, unit, tcoords, attrs, conventions, where)
    coords = dict(tcoords)
    if sed in ("flux", "eflux"):
        if "e_min" not in energies:
            raise FormatError(f"{where}: an integral flux needs its energy band: e_min (and e_max) per row")
        lo, hi, row_band, opened = _bands(energies, n, where)
        grid = _grid(renamed, row_band, lo.size)
        e_ref = lo.copy() if opened else np.sqrt(lo * hi)
        coords["e_min_row"] = xr.Variable(
            (TIME,), lo[row_band], {"units": "TeV", "long_name": "energy threshold of the row"}
        )
        if lo.size > 1 and not (np.all(np.diff(lo) > 0) and np.all(np.diff(hi) > 0)):
            # bands that share an edge (two thresholds, both open): each band its own member (one point),
            # so that the edges need not increase across them (fluxds.collection)
            labels = [
                f">{a:g} TeV" if opened and b == OPEN_BAND_CEILING.to_value(u.TeV) else f"{a:g}-{b:g} TeV"
                for a, b in zip(lo, hi, strict=True)
            ]
            coords["band"] = (schema.ENERGY, np.asarray(labels))
            conventions.append(f"{lo.size} energy bands sharing an edge: labelled by 'band' along energy")
        kwargs = {"energy_ref": e_ref * u.TeV, "energy_min": lo * u.TeV, "energy_max": hi * u.TeV}
    else:
        e_ref_rows = energies.get("e_ref", energies.get("e_min"))
        e_ref_rows = np.asarray(e_ref_rows.to_value(u.TeV))
        refs, row_band = np.unique(e_ref_rows, return_inverse=True)
        grid = _grid(renamed, row_band.reshape(-1), refs.size)
        kwargs = {"energy_ref": refs * u.TeV}
        coords["e_ref_row"] = xr.Variable((TIME,), e_ref_rows, {"units": "TeV"})
        opened = False
    data = {k: v * unit for k, v in grid.items()}
    ds = from_sed(
        sed,
        data,
        dims=(TIME, schema.ENERGY),
        coords=coords,
        attrs=attrs,
        ul_conf=ul_conf,
        where=where,
        **kwargs,
    )
    if opened and schema.ENERGY_MAX in ds.coords:
        ds[schema.ENERGY_MAX].attrs["note"] = _CEILING_NOTE
        ds[schema.ENERGY].attrs["note"] = "the energy threshold e_min of the band (the flux is above it)"
        conventions.append(_CEILING_NOTE)
    return ds


_PLACEHOLDER_NOTE = (
    "placeholder: the file gives no energy (the paper's energy threshold is not in it); ref_dnde is "
    "unknown (NaN), so no quantity other than the published numbers is defined"
)


def _unknown_energy_lightcurve(values, stem, unit, tcoords, attrs, conventions, where) -> xr.Dataset:
    """Fluxes in a physical unit without any energy in the file: the published numbers as a reference
    flux of one unit times norms; ``ref_dnde`` unknown."""
    n = next(iter(values.values())).size
    data = {f"norm{k[len(stem) :]}": v[:, None] for k, v in values.items()}
    reference = {"flux": "ref_flux", "eflux": "ref_eflux", "e2dnde": "ref_eflux", "dnde": "ref_dnde"}[stem]
    data[reference] = np.ones((n, 1)) * unit
    if reference != "ref_dnde":
        data["ref_dnde"] = np.full((n, 1), np.nan) * u.Unit("cm-2 s-1 TeV-1")
    conventions.append(
        "the file gives no energy band: one energy bin at a placeholder energy; "
        f"norm = {stem} / (1 {format_unit(unit)}), {reference} = 1 {format_unit(unit)}, so "
        f"ds.sed.{stem if stem != 'e2dnde' else 'eflux'} gives the published numbers"
    )
    ds = from_sed(
        "likelihood",
        data,
        energy_ref=[1.0] * u.TeV,
        dims=(TIME, schema.ENERGY),
        coords=tcoords,
        attrs=attrs,
        where=where,
    )
    ds[schema.ENERGY].attrs["note"] = _PLACEHOLDER_NOTE
    ds.attrs["energy_unknown"] = "yes: " + _PLACEHOLDER_NOTE
    return ds


def _crab_lightcurve(values, stem, energies, tcoords, attrs, conventions, where) -> xr.Dataset:
    """Fluxes in Crab units: the numbers are norms relative to the Crab (of the paper), kept dimensionless."""
    data = {f"norm{k[len(stem) :]}": v[:, None] for k, v in values.items()}
    n = next(iter(values.values())).size
    data["ref_dnde"] = np.full((n, 1), np.nan) * u.Unit("cm-2 s-1 TeV-1")
    if "e_min" in energies:
        lo = np.unique(energies["e_min"].to_value(u.TeV))
        energy = [float(lo[0])] * u.TeV if lo.size == 1 and np.isfinite(lo[0]) else [1.0] * u.TeV
    else:
        energy = [1.0] * u.TeV
    conventions.append(CRAB_NOTE)
    ds = from_sed(
        "likelihood",
        data,
        energy_ref=energy,
        dims=(TIME, schema.ENERGY),
        coords=tcoords,
        attrs=attrs,
        where=where,
    )
    ds[schema.ENERGY].attrs["note"] = (
        "the energy threshold of the fluxes (from e_min)"
        if energy[0] != 1.0 * u.TeV or "e_min" in energies
        else _PLACEHOLDER_NOTE
    )
    ds["norm"].attrs["long_name"] = "flux in Crab units (fraction of the Crab nebula's flux)"
    ds.attrs["flux_unit"] = "Crab"
    ds.attrs["crab_units"] = CRAB_NOTE
    ds.attrs["reference_model_origin"] = (
        "the Crab nebula's spectrum as the paper measured it, above the paper's threshold: neither is in the "
        "file, so ref_dnde is NaN (unknown) and only norm (the flux in Crab units) is defined"
    )
    return ds
