"""SEDs compiled from several papers or instruments in one table: one row per point, a label column saying
whose point it is (``paper``, ``instrument`` or ``experiment``), energies that repeat across papers.

The layout of gammapy-data's ``crab_mwl.fits`` (437 points of the Crab nebula and pulsar from radio to TeV,
31 papers): ``energy`` (MeV), ``energy_flux`` (the SED, E^2 dN/dE, erg cm-2 s-1), ``energy_flux_err_lo``,
``energy_flux_err_hi`` (asymmetric 1 sigma errors), ``energy_flux_err`` (symmetric), ``component``
(``nebula`` or ``pulsar``) and ``paper``. Read as ONE collection Dataset (:mod:`fluxds.collection`): the
points along ``energy``, the member label ``paper`` (``ds.sed.members`` lists the papers), ``component``
a further coordinate, SED type e2dnde. ``energy_flux``/``nufnu``/``e2dnde`` are e2dnde, ``dnde`` is dnde;
``*_err_lo``/``*_err_hi`` are ``*_errn``/``*_errp``; masked cells are NaN.

Each paper's points are put in increasing energy (a paper listing them from high to low energies keeps
every point); the papers keep the order of their first row. A collection's member holds each energy once
(fluxds.collection), so a paper giving two points at the same energy (``mezger``, at 1.24e-9 MeV) has
the second one under the label ``"<paper> (2)"``; ``attrs["repeated_energies"]`` says which.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.construct import from_sed
from fluxds.errors import FormatError
from fluxds.io.fits_tables import open_fits, read_table_hdu
from fluxds.io.guard.ecsv_safe import read_ecsv_table
from fluxds.io.published.conventions import attrs_from_meta, conventions_text, parse_published_unit

__all__ = ["read", "LABELS", "MEASURED"]

#: label columns, the first present is the member label
LABELS = ("paper", "instrument", "experiment")
#: measurement columns -> SED type
MEASURED = {"energy_flux": "e2dnde", "nufnu": "e2dnde", "e2dnde": "e2dnde", "dnde": "dnde"}
_SUFFIXES = {
    "": "",
    "_err": "_err",
    "_err_lo": "_errn",
    "_err_hi": "_errp",
    "_errn": "_errn",
    "_errp": "_errp",
    "_ul": "_ul",
}


def _table(path: str):
    if path.lower().endswith(".ecsv"):
        return read_ecsv_table(path)
    with open_fits(path) as hdul:
        for hdu in hdul[1:]:
            names = {n.lower() for n in getattr(getattr(hdu, "columns", None), "names", [])}
            if "energy" in names and names & set(LABELS):
                return read_table_hdu(hdu, f"{path}[{hdu.name or 1}]")
    raise FormatError(f"{path}: no table with 'energy' and a label column ({', '.join(LABELS)})")


def _numbers(col) -> np.ndarray:
    return np.ma.filled(np.ma.asarray(col, dtype=float), np.nan)


def _text(col) -> np.ndarray:
    values = np.asarray(col)
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8", "replace")
    return np.char.strip(values.astype(str))


def read(path: str | os.PathLike, *, label: str | None = None) -> xr.Dataset:
    """Read an SED compilation (FITS or ECSV) as one collection Dataset.

    Parameters
    ----------
    path : str or path-like
    label : str, optional
        The column naming each point's member; default the first of ``paper``, ``instrument``,
        ``experiment``.

    Returns
    -------
    xarray.Dataset
        Dims ``(energy,)``, the points of every member in turn; coordinates ``paper`` (member label),
        ``component`` and any other text column.
    """
    where = str(path)
    table = _table(where)
    names = {n.lower(): n for n in table.colnames}
    label = (label or next((n for n in LABELS if n in names), "")).lower()
    if label not in names:
        raise FormatError(
            f"{where}: no label column ({', '.join(LABELS)}); columns: {', '.join(table.colnames)}"
        )
    stem = next((n for n in MEASURED if n in names), None)
    if stem is None or "energy" not in names:
        raise FormatError(
            f"{where}: an SED compilation needs 'energy' and one of {', '.join(MEASURED)}; columns: "
            f"{', '.join(table.colnames)}"
        )
    sed = MEASURED[stem]
    energy_unit = parse_published_unit(table[names["energy"]].unit, where=where, column="energy")
    if energy_unit is None:
        raise FormatError(f"{where}: column 'energy' has no unit")
    energy = _numbers(table[names["energy"]])
    members = _text(table[names[label]])
    # each member's points together (in order of first appearance), by increasing energy: vectorised
    first_rows = np.unique(members, return_index=True)
    rank = np.empty(first_rows[0].size, dtype=np.int64)
    rank[np.argsort(first_rows[1])] = np.arange(first_rows[0].size)
    member_rank = rank[np.searchsorted(first_rows[0], members)]
    order = np.lexsort((energy, member_rank))
    energy, members, member_rank = energy[order], members[order], member_rank[order]
    repeat = np.concatenate([[False], (member_rank[1:] == member_rank[:-1]) & (energy[1:] == energy[:-1])])
    notes = {}
    if repeat.any():
        run = np.cumsum(~repeat) - 1  # a run of equal (member, energy) points
        start = np.flatnonzero(~repeat)
        occurrence = np.arange(energy.size) - start[run] + 1
        renamed = np.char.add(
            np.char.add(members[repeat], " ("), np.char.add(occurrence[repeat].astype(str), ")")
        )
        notes = {
            str(new): f"{old} gives another point at energy {float(e)!r} {energy_unit}"
            for new, old, e in zip(renamed, members[repeat], energy[repeat], strict=True)
        }
        members = members.astype(object)
        members[repeat] = renamed
        members = members.astype(str)
    data = {}
    measured_unit = None
    for suffix, fluxds_suffix in _SUFFIXES.items():
        raw = names.get(f"{stem}{suffix}")
        if raw is None:
            continue
        unit = parse_published_unit(table[raw].unit, where=where, column=raw)
        unit = unit if unit is not None else measured_unit
        if unit is None:
            raise FormatError(f"{where}: column {raw!r} has no unit")
        measured_unit = measured_unit or unit
        data[f"{sed}{fluxds_suffix}"] = _numbers(table[raw])[order] * unit
    coords = {label: (schema.ENERGY, members)}
    for low, raw in names.items():
        if low in (label,) or low.startswith(stem) or low == "energy":
            continue
        values = np.asarray(table[raw])
        if values.dtype.kind in "SU":
            coords[low] = (schema.ENERGY, _text(table[raw])[order])
        elif values.dtype.kind in "fiu":
            data[low] = _numbers(table[raw])[order]
    attrs = attrs_from_meta(dict(table.meta))
    attrs["publisher"] = f"SED compilation ({Path(where).name}): points labelled by {label!r}"
    attrs["conventions"] = [
        f"{stem} is E^2 dN/dE (SED type {sed})" if sed == "e2dnde" else f"{stem} is dN/dE",
        "*_err_lo / *_err_hi read as *_errn / *_errp; masked cells as NaN",
        f"each {label}'s points in increasing energy; the {label}s in the order of their first row",
    ]
    if notes:
        attrs["repeated_energies"] = "; ".join(f"{k!r}: {v}" for k, v in notes.items())
        attrs["conventions"].append(
            f"{len(notes)} point(s) repeat an energy of their {label}: labelled '<{label}> (2)' (a member "
            "holds each energy once)"
        )
    attrs["conventions"] = conventions_text(attrs["conventions"])
    ds = from_sed(sed, data, energy_ref=energy * energy_unit, coords=coords, attrs=attrs, where=where)
    return ds
