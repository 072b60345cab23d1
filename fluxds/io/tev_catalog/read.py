"""TeV catalogs with per-source SED vector columns, read as ONE collection Dataset labelled ``source``.

A catalog row holds a source's flux points in fixed-length vector columns padded with NaN; fluxds lays the
points of every source one after the other along ``energy`` (:mod:`fluxds.collection`), with the source
name as member label and the source's position (``ra``/``dec``, ``glon``/``glat``) along the points.
Everything is whole-array numpy: no Python loop over sources or points.

gamma-cat (``gammacat.fits.gz``, gamma-cat's ``make_output.py``):
    ``common_name``, ``source_id``, ``ra``, ``dec``, ``glon``, ``glat``; ``sed_reference_id``; vectors
    ``sed_e_ref``, ``sed_e_min``, ``sed_e_max`` (TeV), ``sed_dnde``, ``sed_dnde_err``, ``sed_dnde_errp``,
    ``sed_dnde_errn``, ``sed_dnde_ul`` (cm-2 s-1 TeV-1). ``sed_n_points``/``sed_n_ul`` are not reliable
    counts (some sources count their upper limits in ``sed_n_points``, some do not), so a point is
    where the vectors give an energy: a finite ``sed_e_ref``, or finite ``sed_e_min`` and ``sed_e_max``
    (then ``e_ref = sqrt(e_min e_max)``, noted: CTA 1's points have edges only). An upper limit is a
    point whose ``sed_dnde`` is NaN and ``sed_dnde_ul`` is not. The published ``e_ref`` is kept (gammapy
    rebuilds it from the edges: ``docs/gammapy_differences.md``). Edges given for some points only stay
    beside the axis as ``e_min_published``/``e_max_published``. Sources without flux points are left
    out; ``attrs["sources_without_sed"]`` counts them.
HGPS (``hgps_catalog_v1.fits.gz``, HDU ``HGPS_SOURCES``, as gammapy's ``catalog/hess.py`` reads it):
    ``Source_Name``, ``RAJ2000``, ``DEJ2000``, ``GLON``, ``GLAT``, ``N_Flux_Points``; vectors
    ``Flux_Points_Energy``, ``Flux_Points_Energy_Min``, ``Flux_Points_Energy_Max`` (TeV),
    ``Flux_Points_Flux``, ``Flux_Points_Flux_Err_Lo``, ``Flux_Points_Flux_Err_Hi``,
    ``Flux_Points_Flux_UL`` (cm-2 s-1 TeV-1), ``Flux_Points_Flux_Is_UL``; the points are the first
    ``N_Flux_Points`` with a finite energy. HGPS's conventions as gammapy records them: errors at 1 sigma,
    upper limits at 2 sigma (``n_sigma_ul = 2``), a point is a limit below ``sqrt(TS) = 1``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.construct import from_sed
from fluxds.errors import FormatError, UnitError
from fluxds.io.fits_tables import open_fits
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.io.tev_catalog import HGPS_HDU
from fluxds.units import parse_unit

__all__ = ["read_gammacat", "read_hgps", "catalog_collection", "DNDE_UNIT"]

DNDE_UNIT = u.Unit("cm-2 s-1 TeV-1")


def _columns(hdu, names: list[str], where: str) -> dict[str, tuple[np.ndarray, u.UnitBase | None]]:
    """Columns of a FITS table HDU (any case), as numbers/text with their units; vectors as 2-D arrays."""
    check_fits_hdu(hdu, where)
    lowered = {n.lower(): n for n in hdu.columns.names}
    out = {}
    for name in names:
        raw = lowered.get(name.lower())
        if raw is None:
            continue
        column = hdu.columns[raw]
        data = np.asarray(hdu.data[raw])
        if not data.dtype.isnative:
            data = data.astype(data.dtype.newbyteorder("="))
        unit = None
        if column.unit:
            try:
                unit = parse_unit(column.unit, where=f"{where}, column {raw!r}")
            except UnitError as exc:
                raise FormatError(str(exc)) from None
        out[name.lower()] = (data, unit)
    return out


def _text(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind == "S":
        values = np.char.decode(values, "utf-8", "replace")
    return np.char.strip(values.astype(str))


def _quantity(cols, name: str, default: u.UnitBase, shape) -> np.ndarray:
    """A vector column in ``default`` units as float (NaN when absent)."""
    if name not in cols:
        return np.full(shape, np.nan)
    data, unit = cols[name]
    data = np.asarray(data, dtype=float)
    if unit is not None and unit != default:
        data = (data * unit).to_value(default)
    return data


def catalog_collection(
    *,
    names: np.ndarray,
    energies: Mapping[str, np.ndarray],
    measured: Mapping[str, np.ndarray],
    valid: np.ndarray,
    per_source: Mapping[str, tuple[np.ndarray, Mapping]],
    attrs: dict,
    where: str,
    sed: str = "dnde",
    dnde_unit: u.UnitBase = DNDE_UNIT,
    energy_unit: u.UnitBase = u.TeV,
    **options,
) -> xr.Dataset:
    """Per-source vectors ``(n_source, n_slot)`` as one collection along ``energy`` labelled ``source``.

    Parameters
    ----------
    names : (n_source,) array of str
    energies : mapping
        ``e_ref``, ``e_min``, ``e_max`` vectors in ``energy_unit`` (NaN padding).
    measured : mapping
        ``dnde``, ``dnde_err`` ... vectors in ``dnde_unit``; ``is_ul`` as booleans.
    valid : (n_source, n_slot) bool
        Which slots are points.
    per_source : mapping
        Coordinates along sources (``ra``: (values, attrs) ...), laid along the points.
    attrs : dict
    where : str
    **options
        ``n_sigma_ul``, ``sqrt_ts_threshold_ul`` ... for :func:`fluxds.from_sed`.
    """
    n_source, n_slot = valid.shape
    source_index = np.broadcast_to(np.arange(n_source)[:, None], valid.shape)[valid]
    e_ref = energies["e_ref"][valid]
    e_min, e_max = energies["e_min"][valid], energies["e_max"][valid]
    derived = ~np.isfinite(e_ref) & np.isfinite(e_min) & np.isfinite(e_max)
    if derived.any():
        e_ref = np.where(derived, np.sqrt(e_min * e_max), e_ref)
        attrs.setdefault("conventions", []).append(
            f"{int(derived.sum())} point(s) of {np.unique(source_index[derived]).size} source(s) give bin "
            "edges but no e_ref: e_ref = sqrt(e_min e_max) there"
        )
    # each source's points by increasing energy (stable): a catalog may list them otherwise
    order = np.lexsort((e_ref, source_index))
    e_ref, e_min, e_max, source_index = e_ref[order], e_min[order], e_max[order], source_index[order]
    repeat = (source_index[1:] == source_index[:-1]) & (e_ref[1:] == e_ref[:-1])
    if repeat.any():
        i = int(np.flatnonzero(repeat)[0])
        raise FormatError(
            f"{where}: source {names[source_index[i]]!r} gives two points at the same energy {e_ref[i]!r} "
            f"{energy_unit}; a source's SED holds each energy once"
        )
    data = {}
    for name, vectors in measured.items():
        values = vectors[valid][order]
        data[name] = values if name == "is_ul" else values * dnde_unit
    edges_all = np.isfinite(e_min).all() and np.isfinite(e_max).all()
    coords: dict = {"source": (schema.ENERGY, names[source_index])}
    for name, (values, var_attrs) in per_source.items():
        coords[name] = xr.Variable((schema.ENERGY,), np.asarray(values)[source_index], dict(var_attrs))
    kwargs = {"energy_ref": e_ref * energy_unit}
    if edges_all:
        kwargs.update(energy_min=e_min * energy_unit, energy_max=e_max * energy_unit)
    elif np.isfinite(e_min).any():
        note = (
            "the published bin edges; NaN where the catalog gives none (so not the bins of the energy axis)"
        )
        for name, values in (("e_min_published", e_min), ("e_max_published", e_max)):
            coords[name] = xr.Variable((schema.ENERGY,), values, {"units": str(energy_unit), "note": note})
        attrs.setdefault("conventions", []).append(
            f"bin edges given for {int(np.isfinite(e_min).sum())} of {e_min.size} points: the energy axis is "
            "e_ref, the edges kept as e_min_published/e_max_published"
        )
    attrs["conventions"] = "\n".join(attrs.get("conventions", []))  # a text, kept as it is by every writer
    return from_sed(sed, data, coords=coords, attrs=attrs, where=where, **options, **kwargs)


def _table_hdu(hdul, wanted: set[str], where: str, extname: str | None = None):
    from astropy.io import fits

    for hdu in hdul:
        if not isinstance(hdu, fits.BinTableHDU):
            continue
        if extname is not None and hdu.name.upper() == extname:
            return hdu
        if extname is None and wanted <= {n.lower() for n in hdu.columns.names}:
            return hdu
    raise FormatError(f"{where}: no table with the columns {sorted(wanted)}")


def read_gammacat(path: str | os.PathLike) -> xr.Dataset:
    """Read the gamma-cat catalog FITS as one collection of the sources' SEDs (see the module)."""
    where = str(path)
    vectors = ("sed_e_ref", "sed_e_min", "sed_e_max", "sed_dnde", "sed_dnde_err", "sed_dnde_errp",
               "sed_dnde_errn", "sed_dnde_ul")  # fmt: skip
    scalars = ("common_name", "source_id", "ra", "dec", "glon", "glat", "sed_reference_id")
    with open_fits(where) as hdul:
        hdu = _table_hdu(hdul, {"sed_e_ref", "sed_dnde"}, where)
        where = f"{where}[{hdu.name or 1}]"
        cols = _columns(hdu, [*vectors, *scalars], where)
    shape = cols["sed_e_ref"][0].shape
    if len(shape) != 2:
        raise FormatError(f"{where}: sed_e_ref is not a vector column (shape {shape})")
    tev, dnde_unit = u.TeV, u.Unit("cm-2 s-1 TeV-1")
    energies = {k: _quantity(cols, f"sed_{k}", tev, shape) for k in ("e_ref", "e_min", "e_max")}
    valid = np.isfinite(energies["e_ref"]) | (np.isfinite(energies["e_min"]) & np.isfinite(energies["e_max"]))
    measured = {
        k: _quantity(cols, f"sed_{k}", dnde_unit, shape)
        for k in ("dnde", "dnde_err", "dnde_errp", "dnde_errn", "dnde_ul")
    }
    measured = {k: v for k, v in measured.items() if np.isfinite(v[valid]).any()}
    if "dnde" not in measured:
        measured["dnde"] = np.full(shape, np.nan)
    measured["is_ul"] = (
        np.isfinite(measured["dnde_ul"]) & np.isnan(measured["dnde"])
        if "dnde_ul" in measured
        else np.zeros(shape, bool)
    )
    names = (
        _text(cols["common_name"][0])
        if "common_name" in cols
        else np.char.add("gamma-cat ", np.arange(shape[0]).astype(str))
    )
    has = valid.any(axis=1)
    per_source = {}
    for name in ("source_id", "ra", "dec", "glon", "glat"):
        if name in cols:
            values, unit = cols[name]
            per_source[name] = (values, {"units": str(unit)} if unit is not None else {})
    if "sed_reference_id" in cols:
        per_source["paper"] = (
            _text(cols["sed_reference_id"][0]),
            {"long_name": "reference of the SED (sed_reference_id)"},
        )
    attrs = {
        "publisher": "gamma-cat catalog (gammacat.fits.gz), per-source SED vector columns",
        "catalog": "gamma-cat",
        "n_sources": int(shape[0]),
        "sources_without_sed": int((~has).sum()),
        "conventions": [
            "a point is a slot with a finite sed_e_ref, or finite sed_e_min and sed_e_max (sed_n_points "
            "is not a reliable count)",
            "upper limit: sed_dnde NaN and sed_dnde_ul finite; the catalog gives no UL confidence level",
            "published e_ref kept",
        ],
    }
    return catalog_collection(
        names=names,
        energies=energies,
        measured=measured,
        valid=valid,
        per_source=per_source,
        attrs=attrs,
        where=where,
    )


def read_hgps(path: str | os.PathLike) -> xr.Dataset:
    """Read the HGPS catalog's flux points as one collection labelled ``source`` (see the module)."""
    where = str(path)
    prefix = "flux_points_"
    vectors = (
        "energy",
        "energy_min",
        "energy_max",
        "flux",
        "flux_err_lo",
        "flux_err_hi",
        "flux_ul",
        "flux_is_ul",
    )
    scalars = ("source_name", "raj2000", "dej2000", "glon", "glat", "n_flux_points")
    with open_fits(where) as hdul:
        names_upper = [h.name.upper() for h in hdul]
        hdu = (
            _table_hdu(hdul, set(), where, extname=HGPS_HDU)
            if HGPS_HDU in names_upper
            else _table_hdu(hdul, {"source_name", "flux_points_energy"}, where)
        )
        where = f"{where}[{hdu.name}]"
        cols = _columns(hdu, [*(prefix + v for v in vectors), *scalars], where)
    if prefix + "energy" not in cols or prefix + "flux" not in cols:
        raise FormatError(f"{where}: the HGPS source table needs Flux_Points_Energy and Flux_Points_Flux")
    shape = cols[prefix + "energy"][0].shape
    tev, dnde_unit = u.TeV, u.Unit("cm-2 s-1 TeV-1")
    energies = {
        "e_ref": _quantity(cols, prefix + "energy", tev, shape),
        "e_min": _quantity(cols, prefix + "energy_min", tev, shape),
        "e_max": _quantity(cols, prefix + "energy_max", tev, shape),
    }
    valid = np.isfinite(energies["e_ref"])
    if "n_flux_points" in cols:
        valid &= np.arange(shape[1])[None, :] < np.asarray(cols["n_flux_points"][0])[:, None]
    measured = {
        "dnde": _quantity(cols, prefix + "flux", dnde_unit, shape),
        "dnde_errn": _quantity(cols, prefix + "flux_err_lo", dnde_unit, shape),
        "dnde_errp": _quantity(cols, prefix + "flux_err_hi", dnde_unit, shape),
        "dnde_ul": _quantity(cols, prefix + "flux_ul", dnde_unit, shape),
    }
    if prefix + "flux_is_ul" in cols:
        measured["is_ul"] = np.asarray(cols[prefix + "flux_is_ul"][0]).astype(bool)
    names = _text(cols["source_name"][0])
    per_source = {}
    for name, out in (("raj2000", "ra"), ("dej2000", "dec"), ("glon", "glon"), ("glat", "glat")):
        if name in cols:
            values, unit = cols[name]
            per_source[out] = (values, {"units": str(unit)} if unit is not None else {})
    has = valid.any(axis=1)
    attrs = {
        "publisher": "H.E.S.S. Galactic plane survey catalog (HGPS_SOURCES), Flux_Points_* vector columns",
        "catalog": "HGPS",
        "n_sources": int(shape[0]),
        "sources_without_sed": int((~has).sum()),
        "conventions": [
            "the points: the first N_Flux_Points slots with a finite Flux_Points_Energy",
            "errors at 1 sigma, upper limits at 2 sigma, limits where sqrt(TS) < 1 (HGPS, as gammapy's "
            "catalog/hess.py records it)",
        ],
    }
    return catalog_collection(
        names=names,
        energies=energies,
        measured=measured,
        valid=valid,
        per_source=per_source,
        attrs=attrs,
        where=where,
        n_sigma=1.0,
        n_sigma_ul=2.0,
        sqrt_ts_threshold_ul=1.0,
    )
