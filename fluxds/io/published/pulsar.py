"""The Fermi-LAT pulsar catalogs' per-pulsar files (2PC ``PSRJhhmm+ddmm_2PC_data.fits``): the phase-averaged
SED (``PULSAR_SED``) and the pulse profile (``GAMMA_LC``).

``PULSAR_SED`` (``product="sed"``, the default), with the publisher's column names:

- ``Energy_Min``, ``Energy_Max`` (GeV): the bin; ``Center_Energy`` (GeV): the energy the fluxes are given
  at, kept as ``e_ref`` (it is 0.96 of the bin's geometric centre; gammapy replaces it by the geometric
  centre, see ``docs/gammapy_differences.md``);
- ``PhotonFlux`` (ph cm-2 s-1 GeV-1): dN/dE at ``Center_Energy`` (not an integral flux, whatever its name
  says: its unit is a differential one, and ``EnergyFlux = Center_Energy^2 PhotonFlux``), read as
  ``dnde``; ``Unc_PhotonFlux``: its 1 sigma error, **0 meaning an upper limit** (the column's own comment:
  "Zero for UL"): then ``PhotonFlux`` is the limit, read as ``dnde_ul`` with ``is_ul``; the file does not
  state the limit's confidence level, so ``ul_conf`` is not set;
- ``EnergyFlux``, ``Unc_EnergyFlux`` (erg cm-2 s-1): E^2 dN/dE at ``Center_Energy``, the same numbers (the
  publisher converted GeV to erg with 1.602e-3, 1.1e-4 below CODATA's 1.602177e-3): kept as
  ``e2dnde_published``/``e2dnde_err_published`` beside the Dataset's own ``e2dnde``.

``GAMMA_LC`` (``product="phasecurve"``): weighted photon counts in 100 phase bins (``Phase_Min``,
``Phase_Max``) for six energy bands named by their edges in MeV: ``GT100`` (> 100 MeV), ``GT3000``
(> 3 GeV), ``GT10000`` (> 10 GeV), ``100_300``, ``300_1000``, ``1000_3000``, with ``Unc_*`` errors (the
header comments of these columns are shifted and disagree with the names; the names are read). The
"greater than" bands end at 100 GeV, the upper end of 2PC's analysis. A phase curve Dataset
``(phase, energy)``: the bands overlap, so each band is its own member along ``energy`` (label ``band``);
``norm`` holds the weighted counts (the profile has no flux calibration: ``ref_dnde`` is NaN), also kept
as ``weighted_counts``; the background levels (``*_BKGMAX``) as ``background_max`` along ``energy``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.axes import binned_coords
from fluxds.construct import from_sed
from fluxds.errors import FormatError
from fluxds.io.fits_tables import open_fits, read_table_hdu
from fluxds.io.published.conventions import conventions_text, parse_published_unit

__all__ = ["read", "read_sed", "read_phasecurve", "PRODUCTS", "GT_CEILING"]

PRODUCTS = ("sed", "phasecurve")
#: upper end of the "greater than" bands of ``GAMMA_LC`` (2PC's analysis range: 0.1 to 100 GeV)
GT_CEILING = 100_000.0  # MeV
_BAND = re.compile(r"^(?:gt(\d+)|(\d+)_(\d+))_wtcounts$")


def _source(hdul, path: str) -> str:
    for hdu in hdul:
        name = str(hdu.header.get("FILENAME", "") or "")
        match = re.match(r"(PSR\s*[JB]\d{4}[+-]\d{2,4})", name, flags=re.IGNORECASE)
        if match:
            return "PSR " + match.group(1)[3:].strip()
    match = re.match(r"(PSR\s*[JB]\d{4}[+-]\d{2,4})", Path(path).name, flags=re.IGNORECASE)
    return "PSR " + match.group(1)[3:].strip() if match else Path(path).name.split(".")[0]


def _column(table, name: str, where: str) -> np.ndarray:
    lowered = {n.lower(): n for n in table.colnames}
    if name.lower() not in lowered:
        raise FormatError(f"{where}: column {name!r} is missing; columns: {', '.join(table.colnames)}")
    return np.ma.filled(np.ma.asarray(table[lowered[name.lower()]], dtype=float), np.nan)


def _unit(table, name: str, where: str) -> u.UnitBase:
    lowered = {n.lower(): n for n in table.colnames}
    unit = parse_published_unit(table[lowered[name.lower()]].unit, where=where, column=name)
    if unit is None:
        raise FormatError(f"{where}: column {name!r} has no unit")
    return unit


def read(path: str | os.PathLike, *, product: str = "sed") -> xr.Dataset:
    """Read a Fermi-LAT pulsar catalog file: its SED (``product="sed"``) or its pulse profile
    (``product="phasecurve"``). See the module's documentation."""
    if product not in PRODUCTS:
        raise FormatError(
            f"{path}: product={product!r}; a pulsar file holds {', '.join(map(repr, PRODUCTS))}"
        )
    return read_sed(path) if product == "sed" else read_phasecurve(path)


def read_sed(path: str | os.PathLike) -> xr.Dataset:
    """The ``PULSAR_SED`` table as an SED Dataset (dims ``energy``), published ``e_ref`` kept."""
    where = str(path)
    with open_fits(where) as hdul:
        if "PULSAR_SED" not in [h.name.upper() for h in hdul]:
            raise FormatError(f"{where}: no PULSAR_SED table")
        table = read_table_hdu(hdul["PULSAR_SED"], f"{where}[PULSAR_SED]")
        source = _source(hdul, where)
    where_hdu = f"{where}[PULSAR_SED]"
    e_min = _column(table, "Energy_Min", where_hdu) * _unit(table, "Energy_Min", where_hdu)
    e_max = _column(table, "Energy_Max", where_hdu) * _unit(table, "Energy_Max", where_hdu)
    e_ref = _column(table, "Center_Energy", where_hdu) * _unit(table, "Center_Energy", where_hdu)
    flux_unit = _unit(table, "PhotonFlux", where_hdu)
    value = _column(table, "PhotonFlux", where_hdu)
    error = _column(table, "Unc_PhotonFlux", where_hdu)
    is_ul = error == 0
    data = {
        "dnde": np.where(is_ul, np.nan, value) * flux_unit,
        "dnde_err": np.where(is_ul, np.nan, error) * flux_unit,
        "dnde_ul": np.where(is_ul, value, np.nan) * flux_unit,
        "is_ul": is_ul,
    }
    names = {n.lower() for n in table.colnames}
    if "energyflux" in names:
        eunit = _unit(table, "EnergyFlux", where_hdu)
        data["e2dnde_published"] = _column(table, "EnergyFlux", where_hdu) * eunit
        if "unc_energyflux" in names:
            data["e2dnde_err_published"] = _column(table, "Unc_EnergyFlux", where_hdu) * eunit
    attrs = {
        "publisher": "Fermi-LAT pulsar catalog (2PC) per-pulsar file, PULSAR_SED",
        "conventions": conventions_text(
            [
                "Center_Energy kept as e_ref (0.96 of the bin's geometric centre)",
                "PhotonFlux is dN/dE at Center_Energy (its unit is differential), read as dnde",
                "Unc_PhotonFlux = 0 means an upper limit: PhotonFlux is then dnde_ul (confidence level not "
                "stated)",
                "EnergyFlux/Unc_EnergyFlux kept as e2dnde_published/e2dnde_err_published (the publisher's "
                "GeV to erg factor 1.602e-3 makes them 1.1e-4 below Center_Energy^2 PhotonFlux)",
            ]
        ),
    }
    ds = from_sed(
        "dnde", data, energy_ref=e_ref, energy_min=e_min, energy_max=e_max, attrs=attrs, where=where_hdu
    )
    for name in ("e2dnde_published", "e2dnde_err_published"):
        if name in ds:
            ds[name].attrs["long_name"] = "the file's EnergyFlux (E^2 dN/dE at Center_Energy)" + (
                ", error" if "err" in name else ""
            )
    return ds.assign_coords(source=source)


def _band_edges(name: str) -> tuple[float, float] | None:
    match = _BAND.match(name.lower())
    if not match:
        return None
    if match.group(1):
        return float(match.group(1)), GT_CEILING
    return float(match.group(2)), float(match.group(3))


def read_phasecurve(path: str | os.PathLike) -> xr.Dataset:
    """The ``GAMMA_LC`` pulse profile as a phase curve Dataset (dims ``(phase, energy)``)."""
    where = str(path)
    with open_fits(where) as hdul:
        if "GAMMA_LC" not in [h.name.upper() for h in hdul]:
            raise FormatError(f"{where}: no GAMMA_LC table (the pulse profile)")
        header = hdul["GAMMA_LC"].header
        table = read_table_hdu(hdul["GAMMA_LC"], f"{where}[GAMMA_LC]")
        source = _source(hdul, where)
    where_hdu = f"{where}[GAMMA_LC]"
    bands = [(name, _band_edges(name)) for name in table.colnames if _band_edges(name) is not None]
    if not bands:
        raise FormatError(f"{where_hdu}: no weighted-counts column (GT100_WtCounts, 100_300_WtCounts ...)")
    lowered = {n.lower(): n for n in table.colnames}
    counts = np.stack([_column(table, name, where_hdu) for name, _ in bands], axis=1)
    errors = np.stack(
        [
            _column(table, lowered[f"unc_{name.lower()}"], where_hdu)
            if f"unc_{name.lower()}" in lowered
            else np.full(len(table), np.nan)
            for name, _ in bands
        ],
        axis=1,
    )
    lo = np.array([edges[0] for _, edges in bands])
    hi = np.array([edges[1] for _, edges in bands])
    labels = np.array([name[: -len("_WtCounts")] for name, _ in bands])
    background = np.array(
        [float(header.get(f"{label}_BKGMAX", np.nan)) for label in labels]
    )  # a keyword per band at most: a loop over the six bands, not over data
    phase = binned_coords(
        "phase",
        lo=_column(table, "Phase_Min", where_hdu),
        hi=_column(table, "Phase_Max", where_hdu),
        where=where_hdu,
    )
    coords = {**phase, "band": (schema.ENERGY, labels)}
    data = {
        "norm": counts,
        "norm_err": errors,
        "ref_dnde": np.full(counts.shape, np.nan) * u.Unit("cm-2 s-1 TeV-1"),
        "weighted_counts": counts,
        "weighted_counts_err": errors,
    }
    attrs = {
        "publisher": "Fermi-LAT pulsar catalog (2PC) per-pulsar file, GAMMA_LC",
        "conventions": conventions_text(
            [
                "weighted counts per phase bin: norm = weighted counts (no flux calibration, ref_dnde NaN)",
                "bands from the column names, in MeV (the header comments disagree with them); GT bands end "
                "at 100 GeV (2PC's analysis range)",
                "overlapping bands: each band its own member along energy (label 'band')",
            ]
        ),
    }
    ds = from_sed(
        "likelihood",
        data,
        energy_ref=np.sqrt(lo * hi) * u.MeV,
        energy_min=lo * u.MeV,
        energy_max=hi * u.MeV,
        dims=("phase", schema.ENERGY),
        coords=coords,
        attrs=attrs,
        where=where_hdu,
    )
    ds["background_max"] = xr.Variable(
        (schema.ENERGY,), background, {"long_name": "upper background level (*_BKGMAX)"}
    )
    ds["norm"].attrs["long_name"] = "weighted counts in the phase bin (no flux calibration)"
    return ds.assign_coords(source=source)
