"""Read a Fermi-LAT catalog (2FGL, 3FGL, 4FGL DR1-DR4, 2FHL, 3FHL) into one Dataset: the band SEDs of every
source, or their flux histories.

Everything is whole-array numpy: the reference fluxes of all sources of one spectral type are computed at
once (:mod:`fluxds.models.batch`), never in a loop over sources; only the per-source model dicts of the
``reference_model`` attribute (``{"by_source": ...}``) are built one by one. The conventions are those of
the FSSC's column descriptions and the catalog papers, see ``docs``/the notes on Fermi catalogs:

- ``norm = Flux / ref_flux`` with the source's own spectral model as reference model; errors
  ``Unc_Flux[lower (negative), upper]`` -> ``norm_errn``/``norm_errp`` (2FGL's symmetric ``norm_err``);
- an upper limit where the lower error is null (NaN; 2FGL: ``Unc_Flux = 0`` in bands,
  ``Unc_Flag_History = 1`` in histories): ``norm_ul = (Flux + 2 * upper error) / ref_flux`` (the 2 sigma
  limit, ``n_sigma_ul = 2``; 2FGL bands give the limit itself in ``Flux``), ``is_ul`` True;
- ``ts = Sqrt_TS**2``, ``sqrt_ts`` kept as published;
- ``e_ref`` the log centre of each band (the catalogs define none; marked as derived);
- the catalog's ``nuFnu`` kept as the variable ``nufnu`` (it is not ``norm * ref_dnde * e_ref**2``).
"""

from __future__ import annotations

import os
from json.encoder import encode_basestring_ascii

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds.construct import ORIGIN_GIVEN, from_sed
from fluxds.errors import FormatError
from fluxds.io.fermi_catalog import CATALOG_HDUS
from fluxds.io.fermi_catalog.layout import (
    Bands,
    Columns,
    History,
    ModelGroup,
    bands,
    history,
    model_groups,
    number,
)
from fluxds.io.fits_tables import open_fits
from fluxds.io.gti import gti_from_columns
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.models import batch
from fluxds.timeaxis import time_coords
from fluxds.units import format_unit

__all__ = ["read", "PRODUCTS"]

PRODUCTS = ("sed", "lightcurve")
FLUX = u.Unit("cm-2 s-1")
EFLUX = u.Unit("erg cm-2 s-1")
#: the upper-limit convention of the FSSC catalogs, in words (attribute ``ul_convention``)
UL_CONVENTION = (
    "2 sigma upper limit where the lower error is null: flux_ul = Flux + 2 x upper error (3FGL, 3FHL, 4FGL, "
    "2FHL; 2FGL histories with Unc_Flag_History = 1); 2FGL bands with Unc_Flux = 0 give the limit in Flux"
)
NUFNU_NOTE = (
    "the catalog's nuFnu column as published: the LAT team's E^2 dN/dE from the band fit, not norm * "
    "ref_dnde * e_ref**2 (the source's broadband model at the band's log centre, as e2dnde): the two agree "
    "within a few per cent in most detected bands (3FGL: median ratio 1.006), far less where the band flux "
    "is near zero"
)
# per-source columns kept as coordinates along ``source`` (when present): file column -> coordinate
SOURCE_COORDS = {
    "RAJ2000": "ra",
    "DEJ2000": "dec",
    "GLON": "glon",
    "GLAT": "glat",
    "SpectrumType": "spectrum_type",
    "Signif_Avg": "signif_avg",
    "Signif_Curve": "signif_curve",
    "Variability_Index": "variability_index",
    "ASSOC1": "assoc1",
    "ASSOC2": "assoc2",
    "ASSOC": "assoc",
    "CLASS1": "class1",
    "CLASS2": "class2",
    "CLASS": "class",
    "ASSOC_TEV": "assoc_tev",
}
_POSITION_NAMES = {
    "ra": "right ascension (J2000)",
    "dec": "declination (J2000)",
    "glon": "Galactic longitude",
    "glat": "Galactic latitude",
}


def _named(hdul, name: str):
    """The HDU called ``name`` (any case), reading headers only as far as it (gzip files read in order)."""
    try:
        return hdul[name]
    except KeyError:
        return None


def _catalog_hdu(hdul, hdu: str | None, path: str):
    if hdu is not None:
        found = _named(hdul, str(hdu))
        if not isinstance(found, fits.BinTableHDU):
            raise FormatError(f"{path}: no table HDU named {hdu!r}; HDUs: {[h.name for h in hdul]}")
        return found
    for name in CATALOG_HDUS:
        found = _named(hdul, name)
        if isinstance(found, fits.BinTableHDU):
            return found
    for h in (h for h in hdul if isinstance(h, fits.BinTableHDU)):
        names = {n.lower() for n in h.columns.names}
        if "source_name" in names and names & {"flux_band", "flux100_300", "flux50_171gev", "flux_history"}:
            return h
    raise FormatError(
        f"{path}: no Fermi-LAT source table found (an HDU 'LAT_Point_Source_Catalog' or '2FHL Source "
        f"Catalog', or a table with Source_Name and band columns); HDUs: {[h.name for h in hdul]}"
    )


def _source_coords(cols: Columns, names: np.ndarray) -> dict[str, tuple]:
    coords = {"source": ("source", names, {"long_name": "source name (Source_Name)"})}
    for column, coord in SOURCE_COORDS.items():
        if not cols.has(column):
            continue
        values = cols.raw(column, "a source coordinate")
        if values.ndim != 1:
            continue
        attrs = {"long_name": _POSITION_NAMES.get(coord, f"the catalog's {column} column")}
        if values.dtype.kind in "SU":
            values = cols.strings(column, "a source coordinate")
        elif values.dtype.kind in "fiu":
            values = values.astype(np.float64)
            unit = cols.hdu.columns[cols.lower[column.lower()]].unit
            if coord in _POSITION_NAMES:
                attrs["units"] = "deg"
                values = values * cols.unit(column, "deg").to(u.deg)
            elif unit:
                attrs["units"] = format_unit(cols.unit(column, ""))
        else:
            continue
        coords[coord] = ("source", values, attrs)
    return coords


def _attrs(cols: Columns, product: str) -> dict:
    header = cols.header
    attrs = {"instrument": "Fermi-LAT", "catalog_product": product, "ul_convention": UL_CONVENTION}
    name = header.get("CDS-NAME")
    if isinstance(name, str) and name.strip():
        attrs["catalog"] = name.strip()
    elif "2FHL" in cols.hdu.name.upper():
        attrs["catalog"] = "2FHL"
    if isinstance(header.get("VERSION"), str):
        attrs["catalog_version"] = header["VERSION"].strip()
    return attrs


def _references(
    groups: list[ModelGroup], n: int, e_min: np.ndarray, e_max: np.ndarray, unit: u.UnitBase
) -> dict[str, u.Quantity]:
    """``ref_dnde`` (at the log centre), ``ref_flux``, ``ref_eflux`` of every source, ``(source, band)``:
    one vectorised evaluation per spectral type."""
    e_ref = np.sqrt(e_min * e_max)  # the very operation from_sed derives e_ref with
    dnde_unit = FLUX / unit
    out = {k: np.full((n, e_min.size), np.nan) for k in ("ref_dnde", "ref_flux", "ref_eflux")}
    for g in groups:
        f = float(unit.to(g.energy_unit))
        params = {k: v[:, None] for k, v in g.params.items()}
        if g.type == "SuperExpCutoffPowerLaw4FGL":
            params["mev_per_unit"] = float(g.energy_unit.to(u.MeV))
        lo, hi = (e_min * f)[None, :], (e_max * f)[None, :]
        with np.errstate(all="ignore"):
            out["ref_dnde"][g.rows] = batch.dnde(g.type, (e_ref * f)[None, :], params) * float(
                g.dnde_unit.to(dnde_unit)
            )
            out["ref_flux"][g.rows] = batch.integral(g.type, lo, hi, params, 0) * float(
                (g.dnde_unit * g.energy_unit).to(FLUX)
            )
            out["ref_eflux"][g.rows] = batch.integral(g.type, lo, hi, params, 1) * float(
                (g.dnde_unit * g.energy_unit**2).to(EFLUX)
            )
    return {
        "ref_dnde": u.Quantity(out["ref_dnde"], dnde_unit, copy=False),
        "ref_flux": u.Quantity(out["ref_flux"], FLUX, copy=False),
        "ref_eflux": u.Quantity(out["ref_eflux"], EFLUX, copy=False),
    }


def _by_source_json(groups: list[ModelGroup], names: np.ndarray) -> str:
    """``{"by_source": {name: model dict}}`` as JSON text, the sources in catalog order."""
    entries = ["null"] * names.size
    for g in groups:
        for row, text in zip(g.rows.tolist(), g.json_texts(), strict=True):
            entries[row] = text
    keys = map(encode_basestring_ascii, names.tolist())  # what json.dumps writes for a str
    return '{"by_source": {' + ", ".join(f"{k}: {e}" for k, e in zip(keys, entries, strict=True)) + "}}"


def _measurement(flux, unit, is_ul, lower, upper, sym) -> dict[str, object]:
    """The ``flux*`` columns and ``is_ul`` of :func:`fluxds.from_sed` from the catalog's numbers."""
    q = lambda a: u.Quantity(a, unit, copy=False)  # noqa: E731
    if sym is not None:  # 2FGL bands: Unc = 0 marks Flux as the 2 sigma upper limit itself
        is_ul = sym == 0
        with np.errstate(invalid="ignore"):
            err = np.where(np.isfinite(sym) & ~is_ul, sym, np.nan)
        return {
            "flux": q(np.where(is_ul, np.nan, flux)),
            "flux_err": q(err),
            "flux_ul": q(np.where(is_ul, flux, np.nan)),
            "is_ul": is_ul,
        }
    return {
        "flux": q(flux),
        "flux_errn": q(lower),
        "flux_errp": q(upper),
        "flux_ul": q(np.where(is_ul, flux + 2.0 * upper, np.nan)),
        "is_ul": is_ul,
    }


def _threshold(cols: Columns) -> float:
    """sqrt(TS) below which a band is a limit: the catalog's ``TSUPLIM`` (3FGL, 3FHL: 1; 2FGL: 10), else 1."""
    value = cols.header.get("TSUPLIM")
    try:
        ts = number(value, "TSUPLIM", cols.where) if value is not None else 1.0
    except FormatError:
        ts = 1.0
    return float(np.sqrt(ts)) if np.isfinite(ts) and ts >= 0 else 1.0


def _sed(cols: Columns, b: Bands, groups, names, coords, attrs, where: str) -> xr.Dataset:
    n = names.size
    refs = _references(groups, n, b.e_min, b.e_max, b.unit)
    data: dict[str, object] = _measurement(b.flux, b.flux_unit, b.is_ul, b.err_lower, b.err_upper, b.err_sym)
    if b.sqrt_ts is not None:
        data["sqrt_ts"] = b.sqrt_ts
        data["ts"] = b.sqrt_ts**2
    if b.nufnu is not None:
        data["nufnu"] = u.Quantity(b.nufnu, b.nufnu_unit, copy=False)
    data.update(refs)
    ds = from_sed(
        "flux",
        data,
        energy_min=u.Quantity(b.e_min, b.unit),
        energy_max=u.Quantity(b.e_max, b.unit),
        dims=("source", "energy"),
        coords=coords,
        attrs=attrs,
        n_sigma_ul=2.0,
        sqrt_ts_threshold_ul=_threshold(cols),
        where=where,
    )
    if "nufnu" in ds.data_vars:
        ds["nufnu"].attrs.update(long_name=f"the catalog's {b.columns['nufnu']} column", note=NUFNU_NOTE)
    return ds


def _gti(hdul, path: str) -> xr.Dataset | None:
    hdu = _named(hdul, "GTI")
    if not isinstance(hdu, fits.BinTableHDU):
        return None
    where = f"{path}[GTI]"
    names = [c.upper() for c in hdu.columns.names]
    if "START" not in names or "STOP" not in names:
        raise FormatError(f"{where}: a GTI HDU needs START and STOP columns, found {hdu.columns.names}")
    check_fits_hdu(hdu, path, label="GTI")
    header = hdu.header
    return gti_from_columns(
        hdu.data["START"],
        hdu.data["STOP"],
        unit=hdu.columns["START"].unit or header.get("TIMEUNIT", "s"),
        mjdrefi=number(header.get("MJDREFI", 0), "MJDREFI", where),
        mjdreff=number(header.get("MJDREFF", 0.0), "MJDREFF", where),
        timesys=str(header.get("TIMESYS", "TT")).strip().lower(),
        where=where,
    )


def _lightcurve(cols: Columns, h: History, groups, names, coords, attrs, gti, where: str) -> xr.Dataset:
    n, t = h.flux.shape
    e_min, e_max = np.array([h.e_min]), np.array([h.e_max])
    refs = _references(groups, n, e_min, e_max, h.energy_unit)
    data = _measurement(
        h.flux[..., None],
        h.flux_unit,
        h.is_ul[..., None],
        h.err_lower[..., None],
        h.err_upper[..., None],
        None,
    )
    if h.sqrt_ts is not None:
        data["sqrt_ts"] = h.sqrt_ts[..., None]
        data["ts"] = h.sqrt_ts[..., None] ** 2
    for key, ref in refs.items():  # time-free: broadcast for from_sed, reduced to (source, energy) below
        data[key] = u.Quantity(np.broadcast_to(ref.value[:, None, :], (n, t, 1)), ref.unit, copy=False)
    tcoords = time_coords(
        time_min=h.edges[:-1], time_max=h.edges[1:], unit=h.time_unit, mjdrefi=h.mjdrefi, mjdreff=h.mjdreff,
        scale=h.scale, where=f"{where}: {h.columns['flux']} bins",
    )  # fmt: skip
    if h.time_note:
        for name in ("time_min", "time_max"):
            tcoords[name].attrs["note"] = h.time_note
    ds = from_sed(
        "flux",
        data,
        energy_min=u.Quantity(e_min, h.energy_unit),
        energy_max=u.Quantity(e_max, h.energy_unit),
        dims=("source", "time", "energy"),
        coords={**coords, **tcoords},
        attrs=attrs,
        n_sigma_ul=2.0,
        sqrt_ts_threshold_ul=_threshold(cols),
        where=where,
    )
    ds = ds.assign({k: ds[k].isel(time=0, drop=True) for k in refs})
    if h.energy_note:
        for name in ("energy_min", "energy_max"):
            ds[name].attrs["note"] = h.energy_note
    if gti is not None:
        ds = ds.merge(gti)
    return ds


def read(
    path: str | os.PathLike,
    *,
    product: str = "sed",
    interval: str | None = None,
    hdu: str | None = None,
) -> xr.Dataset:
    """Read a Fermi-LAT catalog as the FSSC publishes it (2FGL, 3FGL, 4FGL DR1-DR4, 2FHL, 3FHL).

    Parameters
    ----------
    path : str or path-like
    product : {"sed", "lightcurve"}
        ``"sed"``: the band SEDs of every source, dims ``(source, energy)``. ``"lightcurve"``: the flux
        histories, dims ``(source, time, energy)`` with one energy bin (the histories' range, e.g. 100 MeV -
        100 GeV) and the catalog's own time bins (``Hist_Start``), as fluxds's other light curves.
    interval : {None, "1-year", "1-month", "2-month"}
        The histories to read: the catalog's own (``Flux_History``: 1-year in 4FGL, 1-month in 2FGL and
        3FGL), or ``"2-month"`` (4FGL DR1/DR2 ``Flux2_History``, ``Hist2_Start``).
    hdu : str, optional
        The source table's EXTNAME (default ``LAT_Point_Source_Catalog`` / ``2FHL Source Catalog``).

    Returns
    -------
    xarray.Dataset
        The likelihood form relative to each source's spectral model (``reference_model`` holds
        ``{"by_source": {name: model}}``): ``norm``, ``norm_errn``/``norm_errp`` (2FGL bands:
        ``norm_err``), ``norm_ul`` and ``is_ul`` by the catalog's upper-limit convention, ``ts`` and
        ``sqrt_ts``, ``ref_dnde``/``ref_flux``/``ref_eflux``, the catalog's ``nuFnu`` as ``nufnu``;
        coordinates ``source`` (``Source_Name``), ``ra``, ``dec``, ``glon``, ``glat`` (deg) and further
        per-source columns (``spectrum_type``, ``assoc1``, ``class1``, ``signif_avg`` ...).

    Raises
    ------
    FormatError
        A column or HDU the layout needs is missing or malformed (the message names the file, the HDU
        and the column), an unknown ``SpectrumType``, a bad ``product``/``interval``.
    """
    path = os.fspath(path)
    if product not in PRODUCTS:
        raise FormatError(f"{path}: product={product!r}; a Fermi-LAT catalog gives 'sed' or 'lightcurve'")
    hdul = open_fits(path, memmap=False)
    with hdul:
        table = _catalog_hdu(hdul, hdu, path)
        where = f"{path}[{table.name}]"
        cols = Columns(table, where, path)
        names = cols.strings("Source_Name", "the source names")
        b = bands(cols, hdul, where) if product == "sed" or not cols.has("SpectrumType") else None
        groups = model_groups(cols, b, where)
        coords = _source_coords(cols, names)
        attrs = _attrs(cols, product)
        if product == "sed":
            ds = _sed(cols, b, groups, names, coords, attrs, where)
        else:
            h = history(cols, hdul, where, path, interval)
            ds = _lightcurve(cols, h, groups, names, coords, attrs, _gti(hdul, path), where)
    ds.attrs["reference_model"] = _by_source_json(groups, names)
    ds.attrs["reference_model_origin"] = ORIGIN_GIVEN
    return ds
