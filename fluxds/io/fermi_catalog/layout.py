"""What a Fermi-LAT catalog file holds, column by column: the energy bands, the spectral model of each
source (grouped by spectral type, as arrays), the flux histories and their time bins.

The layouts (FSSC column descriptions; the sample files in ``../shared/data/catalogs``):

- **2FGL, 3FGL**: one column per band, ``Flux100_300``, ``Unc_Flux100_300``, ``nuFnu100_300`` (3FGL),
  ``Sqrt_TS100_300`` ..., band edges in the column names (MeV); 3FGL's ``Unc_`` columns are
  ``[lower (negative), upper]``, 2FGL's one symmetric number, 0 for a band whose ``Flux`` is a 2 sigma
  upper limit. A band no source has a value for (``Flux30_100``, "not filled") is left out. Spectral
  models from ``SpectrumType``, ``Flux_Density`` at ``Pivot_Energy``, ``Spectral_Index``, ``beta``,
  ``Cutoff``, ``Exp_Index``. Flux histories ``Flux_History``/``Unc_Flux_History`` (3FGL
  ``[lower, upper]``; 2FGL symmetric with ``Unc_Flag_History``), bin edges in the ``Hist_Start`` HDU.
- **3FHL, 4FGL**: vector columns ``Flux_Band``, ``Unc_Flux_Band`` (band x ``[lower, upper]``),
  ``nuFnu`` (3FHL) / ``nuFnu_Band`` (4FGL), ``Sqrt_TS_Band``, bands in the ``EnergyBounds`` HDU. 4FGL's
  models from ``PL_*``, ``LP_*``, ``PLEC_*`` columns (DR3/DR4: ``PLEC_IndexS``, ``PLEC_ExpfactorS``);
  4FGL's histories ``Flux_History`` (1-year), ``Flux2_History`` (2-month, DR1/DR2), with
  ``Sqrt_TS_History``.
- **2FHL**: per-band columns ``Flux50_171GeV``, ``Unc_Flux50_171GeV`` (``[lower, upper]``),
  ``Sqrt_TS50_171GeV``; one power law normalised by ``Flux50`` (50 GeV - 2 TeV) and ``Spectral_Index``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import astropy.units as u
import numpy as np

from fluxds.errors import FormatError, UnitError
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.units import format_unit, parse_unit

__all__ = ["Columns", "Bands", "ModelGroup", "History", "bands", "model_groups", "history", "number"]

# the start of Fermi's mission elapsed time (MET 0), 2001-01-01 00:00:00 UTC as TT MJD
FERMI_MJDREFI = 51910
FERMI_MJDREFF = 7.428703703703703e-4
_BAND_RE = re.compile(r"^flux(\d+)_(\d+)(gev)?$")


def number(value, what: str, where: str) -> float:
    """A header number, also in Fortran's ``1.0D-4`` form (the FSSC files write ``MJDREFF`` that way)."""
    if isinstance(value, str):
        value = value.strip().upper().replace("D", "E")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: keyword {what} is {value!r}; expected a number") from None


class Columns:
    """The columns of the catalog's source table, by name in any case, as numpy arrays."""

    def __init__(self, hdu, where: str, path: str) -> None:
        check_fits_hdu(hdu, path, label=hdu.name)  # the read budget, before astropy reads the data
        self.hdu = hdu
        self.data = hdu.data
        self.where = where
        self.header = hdu.header
        self.lower = {n.lower(): n for n in hdu.columns.names}
        self.n = 0 if self.data is None else len(self.data)

    def has(self, name: str) -> bool:
        return name.lower() in self.lower

    def missing(self, name: str, what: str) -> FormatError:
        return FormatError(
            f"{self.where}: column {name!r} is missing; {what} needs it (a Fermi-LAT catalog as the FSSC "
            f"publishes it has it)"
        )

    def raw(self, name: str, what: str) -> np.ndarray:
        if not self.has(name):
            raise self.missing(name, what)
        return np.asarray(self.data[self.lower[name.lower()]])

    def floats(self, name: str, what: str, shape: tuple[int, ...] | None = None) -> np.ndarray:
        values = self.raw(name, what)
        if values.dtype.kind not in "fiu":
            raise FormatError(
                f"{self.where}: column {name!r} holds {values.dtype}, expected numbers ({what})"
            )
        values = values.astype(np.float64)
        if shape is not None and values.shape != shape:
            raise FormatError(
                f"{self.where}: column {name!r} has shape {values.shape[1:]} per row, expected {shape[1:]} "
                f"({what})"
            )
        return values

    def strings(self, name: str, what: str) -> np.ndarray:
        values = self.raw(name, what)
        if values.dtype.kind == "S":
            values = np.char.decode(values, "ascii", errors="replace")
        return _strip(np.asarray(values, dtype=str))

    def unit(self, name: str, default: str) -> u.UnitBase:
        text = self.hdu.columns[self.lower[name.lower()]].unit if self.has(name) else None
        try:
            return parse_unit(text or default, where=f"{self.where}: column {name!r}")
        except UnitError as exc:
            raise FormatError(str(exc)) from None

    def energy_range(self, name: str) -> tuple[float, float] | None:
        """``TEMIN``/``TEMAX`` of a column (the FSSC's energy range of a flux column), or None."""
        if not self.has(name):
            return None
        index = self.hdu.columns.names.index(self.lower[name.lower()]) + 1
        lo, hi = self.header.get(f"TEMIN{index}"), self.header.get(f"TEMAX{index}")
        if lo is None or hi is None:
            return None
        return number(lo, f"TEMIN{index}", self.where), number(hi, f"TEMAX{index}", self.where)


def _strip(values: np.ndarray) -> np.ndarray:
    strip = getattr(getattr(np, "strings", None), "strip", None)  # numpy >= 2: a ufunc, 10x np.char
    return strip(values) if strip is not None else np.char.strip(values)


# ---- energy bands ------------------------------------------------------------------------------------------
@dataclass
class Bands:
    """The band SEDs of every source, as the file gives them (arrays ``(source, band)``)."""

    e_min: np.ndarray
    e_max: np.ndarray
    unit: u.UnitBase
    flux: np.ndarray
    flux_unit: u.UnitBase
    is_ul: np.ndarray | None = None  # where the lower error is null (3FGL, 3FHL, 4FGL, 2FHL)
    err_lower: np.ndarray | None = None  # magnitude
    err_upper: np.ndarray | None = None
    err_sym: np.ndarray | None = None  # 2FGL: symmetric, 0 where flux is a 2 sigma upper limit
    sqrt_ts: np.ndarray | None = None
    nufnu: np.ndarray | None = None
    nufnu_unit: u.UnitBase | None = None
    columns: dict[str, str] = field(default_factory=dict)


def _lower_upper(values: np.ndarray, name: str, where: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(is_ul, lower, upper)`` of ``[lower, upper]`` pairs: a null (NaN) lower error marks an upper limit;
    the lower error is stored negative (its magnitude is kept); an infinite error means "not computed" (3FGL's
    Crab components hold -inf) and becomes NaN without marking a limit."""
    if values.ndim < 2 or values.shape[-1] != 2:
        raise FormatError(f"{where}: column {name!r} has shape {values.shape[1:]}, expected [lower, upper]")
    lower, upper = values[..., 0], values[..., 1]
    is_ul = np.isnan(lower)
    with np.errstate(invalid="ignore"):
        lower = np.where(np.isfinite(lower), np.abs(lower), np.nan)
        upper = np.where(np.isfinite(upper), upper, np.nan)
    return is_ul, lower, upper


def _vector_bands(cols: Columns, hdul, where: str) -> Bands:
    what = "the band SEDs (Flux_Band)"
    flux = cols.floats("Flux_Band", what)
    if flux.ndim != 2:
        raise FormatError(f"{where}: column 'Flux_Band' must hold one vector per source, found {flux.shape}")
    n, m = flux.shape
    unc = cols.floats("Unc_Flux_Band", what)
    if unc.shape == (n, 2 * m):  # no TDIM: the pairs one after the other
        unc = unc.reshape(n, m, 2)
    if unc.shape != (n, m, 2):
        raise FormatError(
            f"{where}: column 'Unc_Flux_Band' has shape {unc.shape[1:]} per row, expected {(m, 2)} "
            "(band x [lower, upper])"
        )
    is_ul, lower, upper = _lower_upper(unc, "Unc_Flux_Band", where)
    try:
        bounds_hdu = hdul["EnergyBounds"]
    except KeyError:
        raise FormatError(
            f"{where}: a catalog with vector band columns (Flux_Band) needs the 'EnergyBounds' HDU for its "
            "band edges; it is missing"
        ) from None
    path = where.rsplit("[", 1)[0]
    bounds = Columns(bounds_hdu, f"{path}[EnergyBounds]", path)
    lo = bounds.floats("LowerEnergy", "the band edges")
    hi = bounds.floats("UpperEnergy", "the band edges")
    unit = bounds.unit("LowerEnergy", "MeV")
    if lo.shape != (m,):
        edges = np.unique(np.concatenate([lo, hi]))  # gammapy's reading: the distinct edges
        if edges.size != m + 1:
            raise FormatError(
                f"{where}: the EnergyBounds HDU has {lo.size} rows and Flux_Band {m} bands; cannot match them"
            )
        lo, hi = edges[:-1], edges[1:]
    else:
        hi = hi * bounds.unit("UpperEnergy", "MeV").to(unit)
    nufnu_name = next((c for c in ("nuFnu_Band", "nuFnu") if cols.has(c)), None)
    bands = Bands(
        lo, hi, unit, flux, cols.unit("Flux_Band", "cm-2 s-1"), is_ul=is_ul, err_lower=lower, err_upper=upper,
        columns={"flux": "Flux_Band", "unc": "Unc_Flux_Band"},
    )  # fmt: skip
    if cols.has("Sqrt_TS_Band"):
        bands.sqrt_ts = cols.floats("Sqrt_TS_Band", "the band TS", (n, m))
    if nufnu_name:
        bands.nufnu = cols.floats(nufnu_name, "the band nuFnu", (n, m))
        bands.nufnu_unit = cols.unit(nufnu_name, "erg cm-2 s-1")
        bands.columns["nufnu"] = nufnu_name
    return bands


def _column_bands(cols: Columns, where: str) -> Bands:
    found = []
    for lower, name in cols.lower.items():
        match = _BAND_RE.match(lower)
        if match and cols.has("unc_" + lower):
            found.append((float(match.group(1)), float(match.group(2)), bool(match.group(3)), name))
    if not found:
        raise FormatError(
            f"{where}: no band columns found: a Fermi-LAT catalog has 'Flux_Band' and 'Unc_Flux_Band' (3FHL, "
            "4FGL) or one pair 'Flux<emin>_<emax>', 'Unc_Flux<emin>_<emax>' per band (2FGL, 3FGL, 2FHL)"
        )
    found.sort()
    if len({f[2] for f in found}) > 1:
        raise FormatError(f"{where}: band columns mix MeV and GeV names: {[f[3] for f in found]}")
    unit = u.GeV if found[0][2] else u.MeV
    flux = np.stack([cols.floats(f[3], "the band SEDs") for f in found], axis=1)
    keep = ~np.all(np.isnan(flux), axis=0)  # a band no source has a value for ("not filled")
    found = [f for f, k in zip(found, keep, strict=True) if k]
    if not found:
        raise FormatError(f"{where}: every band column is empty (NaN for every source)")
    flux = flux[:, keep]
    n, m = flux.shape
    lo = np.array([f[0] for f in found])
    hi = np.array([f[1] for f in found])
    if np.any(hi[:-1] > lo[1:]):
        raise FormatError(f"{where}: the band columns {[f[3] for f in found]} overlap")
    suffixes = [f[3][len("Flux") :] for f in found]
    unc = [cols.floats("Unc_Flux" + s, "the band SEDs") for s in suffixes]
    bands = Bands(lo, hi, unit, flux, cols.unit(found[0][3], "cm-2 s-1"), columns={"flux": found[0][3]})
    if all(x.shape == (n,) for x in unc):
        bands.err_sym = np.stack(unc, axis=1)
    elif all(x.shape == (n, 2) for x in unc):
        pairs = np.stack(unc, axis=1)
        bands.is_ul, bands.err_lower, bands.err_upper = _lower_upper(pairs, "Unc_Flux" + suffixes[0], where)
    else:
        raise FormatError(
            f"{where}: the columns Unc_Flux{suffixes[0]} ... hold {[x.shape[1:] for x in unc]} per row; "
            "expected one number (2FGL) or [lower, upper] (3FGL, 2FHL) in every band"
        )
    if all(cols.has("Sqrt_TS" + s) for s in suffixes):
        bands.sqrt_ts = np.stack([cols.floats("Sqrt_TS" + s, "the band TS", (n,)) for s in suffixes], axis=1)
    if all(cols.has("nuFnu" + s) for s in suffixes):
        bands.nufnu = np.stack([cols.floats("nuFnu" + s, "the band nuFnu", (n,)) for s in suffixes], axis=1)
        bands.nufnu_unit = cols.unit("nuFnu" + suffixes[0], "erg cm-2 s-1")
        bands.columns["nufnu"] = "nuFnu" + suffixes[0]
    return bands


def bands(cols: Columns, hdul, where: str) -> Bands:
    """The energy bands and band fluxes of the catalog (vector or per-band columns)."""
    if cols.has("Flux_Band"):
        return _vector_bands(cols, hdul, where)
    return _column_bands(cols, where)


# ---- spectral models ---------------------------------------------------------------------------------------
@dataclass
class ModelGroup:
    """All sources of one spectral type: their rows and parameter arrays (energy-like ones in
    ``energy_unit``, the amplitude in ``amplitude_unit``)."""

    type: str
    rows: np.ndarray
    params: dict[str, np.ndarray]
    units: dict[str, u.UnitBase]
    energy_unit: u.UnitBase
    dnde_unit: u.UnitBase

    def json_texts(self) -> list[str]:
        """One fluxds model dict per source as JSON text (what :func:`json.dumps` gives for
        ``{"type", "parameters": {name: {"value", "unit"}}}``; floats by ``repr``, exact), built from one
        template per type: about ten times faster than ``json.dumps`` of the dicts."""
        names = list(self.params)
        template = ""
        for i, name in enumerate(names):
            prefix = ('{"type": ' + json.dumps(self.type) + ', "parameters": {') if i == 0 else ", "
            prefix += json.dumps(name) + ': {"value": '
            suffix = ', "unit": ' + json.dumps(format_unit(self.units[name])) + "}"
            template += prefix.replace("%", "%%") + "%s" + suffix.replace("%", "%%")
        template += "}}"
        text = [list(map(_json_number, self.params[n].tolist())) for n in names]
        return [template % row for row in zip(*text, strict=True)]


def _json_number(value: float) -> str:
    """A float as :func:`json.dumps` writes it (``repr``; ``NaN``, ``Infinity``)."""
    if value - value == 0.0:  # finite
        return float.__repr__(value)
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _group(cols, type_name, rows, spec, energy_unit, what) -> ModelGroup:
    """``spec``: fluxds parameter -> (column, kind) with kind 'energy', 'dnde' or '' (dimensionless)."""
    params, units = {}, {}
    dnde_unit = None
    for name, (column, kind) in spec.items():
        values = cols.floats(column, what)[rows]
        if kind == "energy":
            values = values * cols.unit(column, format_unit(energy_unit)).to(energy_unit)
            units[name] = energy_unit
        elif kind == "dnde":
            dnde_unit = cols.unit(column, f"cm-2 s-1 {format_unit(energy_unit)}-1")
            units[name] = dnde_unit
        else:
            units[name] = u.dimensionless_unscaled
        params[name] = np.where(np.isfinite(values), values, np.nan)  # 2FGL writes null as -inf
    return ModelGroup(type_name, rows, params, units, energy_unit, dnde_unit)


def _integral_fallback(cols: Columns, group: ModelGroup, index_column: str, what: str) -> list[ModelGroup]:
    """Power-law sources without ``Flux_Density``/``Pivot_Energy`` (2FGL's Vela X and one more: null, -inf)
    keep their model through the integral flux the catalog gives: ``Flux1000`` (1 - 100 GeV) and the index,
    a :class:`~fluxds.models.PowerLaw2`. Others stay as they are (their reference fluxes NaN)."""
    p = group.params
    bad = ~(np.isfinite(p["amplitude"]) & np.isfinite(p["reference"]))
    if not bad.any() or not cols.has("Flux1000"):
        return [group]
    rows = group.rows[bad]
    span = cols.energy_range("Flux1000") or (1000.0, 100000.0)  # MeV, the FSSC's for Flux1000
    flux_unit = cols.unit("Flux1000", "cm-2 s-1")
    amplitude = cols.floats("Flux1000", what)[rows]
    index = cols.floats(index_column, what)[rows]
    n = rows.size
    fallback = ModelGroup(
        "PowerLaw2",
        rows,
        {
            "amplitude": np.where(np.isfinite(amplitude), amplitude, np.nan),
            "index": np.where(np.isfinite(index), index, np.nan),
            "emin": np.full(n, span[0]),
            "emax": np.full(n, span[1]),
        },
        {"amplitude": flux_unit, "index": u.dimensionless_unscaled, "emin": u.MeV, "emax": u.MeV},
        u.MeV,
        flux_unit / u.MeV,
    )
    kept = ModelGroup(
        group.type, group.rows[~bad], {k: v[~bad] for k, v in p.items()}, group.units, group.energy_unit,
        group.dnde_unit,
    )  # fmt: skip
    return [g for g in (kept, fallback) if g.rows.size]


def _spectrum_types(cols: Columns) -> np.ndarray:
    return cols.strings("SpectrumType", "the spectral model of each source")


def model_groups(cols: Columns, bands_: Bands | None, where: str) -> list[ModelGroup]:
    """The spectral model of every source, grouped by type (rows in catalog order within a group)."""
    what = "the spectral model of each source"
    if not cols.has("SpectrumType"):
        if bands_ is None:
            raise cols.missing("SpectrumType", what)
        return [_powerlaw2_group(cols, bands_, where)]
    kinds = _spectrum_types(cols)
    pivot = "Pivot_Energy"
    energy_unit = cols.unit(pivot, "GeV" if bands_ is not None and bands_.unit == u.GeV else "MeV")
    fourfgl = cols.has("PL_Index") or cols.has("LP_Index") or cols.has("PLEC_Flux_Density")
    groups = []
    for kind in np.unique(kinds):
        rows = np.flatnonzero(kinds == kind)
        key = kind.lower()
        if key == "powerlaw":
            if fourfgl:
                spec = {"index": ("PL_Index", ""), "amplitude": ("PL_Flux_Density", "dnde")}
            else:
                index = "PowerLaw_Index" if cols.has("PowerLaw_Index") else "Spectral_Index"
                spec = {"index": (index, ""), "amplitude": ("Flux_Density", "dnde")}
            spec["reference"] = (pivot, "energy")
            group = _group(cols, "PowerLaw", rows, spec, energy_unit, what)
            groups.extend(_integral_fallback(cols, group, spec["index"][0], what))
        elif key == "logparabola":
            if fourfgl:
                spec = {
                    "amplitude": ("LP_Flux_Density", "dnde"),
                    "alpha": ("LP_Index", ""),
                    "beta": ("LP_beta", ""),
                }
            else:
                spec = {
                    "amplitude": ("Flux_Density", "dnde"),
                    "alpha": ("Spectral_Index", ""),
                    "beta": ("beta", ""),
                }
            spec["reference"] = (pivot, "energy")
            groups.append(_group(cols, "LogParabola", rows, spec, energy_unit, what))
        elif key.startswith("plsuperexpcutoff") and fourfgl:
            dr3 = key == "plsuperexpcutoff4" or (key != "plsuperexpcutoff2" and cols.has("PLEC_ExpfactorS"))
            suffix = "S" if dr3 else ""
            spec = {
                "amplitude": ("PLEC_Flux_Density", "dnde"),
                "reference": (pivot, "energy"),
                "expfactor": (f"PLEC_Expfactor{suffix}", ""),
                "index_1": (f"PLEC_Index{suffix}", ""),
                "index_2": ("PLEC_Exp_Index", ""),
            }
            type_name = "SuperExpCutoffPowerLaw4FGLDR3" if dr3 else "SuperExpCutoffPowerLaw4FGL"
            groups.append(_group(cols, type_name, rows, spec, energy_unit, what))
        elif key == "plexpcutoff" and not fourfgl:
            spec = {
                "index": ("Spectral_Index", ""),
                "amplitude": ("Flux_Density", "dnde"),
                "reference": (pivot, "energy"),
                "ecut": ("Cutoff", "energy"),
            }
            groups.append(_group(cols, "ExpCutoffPowerLaw3FGL", rows, spec, energy_unit, what))
        elif key == "plsuperexpcutoff":
            spec = {
                "amplitude": ("Flux_Density", "dnde"),
                "reference": (pivot, "energy"),
                "ecut": ("Cutoff", "energy"),
                "index_1": ("Spectral_Index", ""),
                "index_2": ("Exp_Index", ""),
            }
            groups.append(_group(cols, "SuperExpCutoffPowerLaw3FGL", rows, spec, energy_unit, what))
        else:
            raise FormatError(
                f"{where}: column 'SpectrumType' holds {kind!r} for {rows.size} source(s) (first "
                f"{cols.strings('Source_Name', 'the source names')[rows[0]]!r}); fluxds reads PowerLaw, "
                "LogParabola, PLExpCutoff, PLSuperExpCutoff (2FGL/3FGL) and PLSuperExpCutoff/2/4 (4FGL)"
            )
    return groups


def _powerlaw2_group(cols: Columns, bands_: Bands, where: str) -> ModelGroup:
    """2FHL: ``Flux50`` (the integral flux over the catalog range, 50 GeV - 2 TeV) and ``Spectral_Index``."""
    what = "the spectral model of each source (2FHL: Flux50 and Spectral_Index)"
    name = next((n for n in cols.lower.values() if re.fullmatch(r"Flux\d+", n, re.IGNORECASE)), "Flux50")
    amplitude = cols.floats(name, what)
    amplitude = np.where(np.isfinite(amplitude), amplitude, np.nan)
    index = cols.floats("Spectral_Index", what)
    index = np.where(np.isfinite(index), index, np.nan)
    span = cols.energy_range(name)
    lo, hi = span if span is not None else (bands_.e_min[0], bands_.e_max[-1])
    n = cols.n
    unit = bands_.unit
    flux_unit = cols.unit(name, "cm-2 s-1")
    return ModelGroup(
        "PowerLaw2",
        np.arange(n),
        {"amplitude": amplitude, "index": index, "emin": np.full(n, lo), "emax": np.full(n, hi)},
        {"amplitude": flux_unit, "index": u.dimensionless_unscaled, "emin": unit, "emax": unit},
        unit,
        flux_unit / unit,
    )


# ---- flux histories ---------------------------------------------------------------------------------------
@dataclass
class History:
    """The flux histories of every source (arrays ``(source, time)``) and the time bin edges."""

    edges: np.ndarray
    time_unit: str
    mjdrefi: int
    mjdreff: float
    scale: str
    flux: np.ndarray
    flux_unit: u.UnitBase
    err_lower: np.ndarray
    err_upper: np.ndarray
    is_ul: np.ndarray
    sqrt_ts: np.ndarray | None
    e_min: float
    e_max: float
    energy_unit: u.UnitBase
    time_note: str | None = None
    energy_note: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


# interval -> (column tag, the bin width it names in days, or None for the catalog's own)
_INTERVALS = {None: ("", None), "1-year": ("", 365.25), "1-month": ("", 30.44), "2-month": ("2", 60.88)}


def history(cols: Columns, hdul, where: str, path: str, interval: str | None) -> History:
    """The flux histories: ``Flux_History`` (or ``Flux2_History`` for ``interval="2-month"``), their
    errors and upper limits, and the bin edges of ``Hist_Start`` (``Hist2_Start``)."""
    if interval not in _INTERVALS:
        raise FormatError(
            f"{where}: interval={interval!r}; expected '1-year' (4FGL), '1-month' (2FGL, 3FGL) or "
            "'2-month' (4FGL DR1/DR2), or None for the catalog's own"
        )
    tag, days = _INTERVALS[interval]
    flux_name, unc_name = f"Flux{tag}_History", f"Unc_Flux{tag}_History"
    what = "the flux histories (product='lightcurve')"
    flux = cols.floats(flux_name, what)
    if flux.ndim != 2:
        raise FormatError(
            f"{where}: column {flux_name!r} must hold one vector per source, found {flux.shape}"
        )
    n, t = flux.shape
    unc = cols.floats(unc_name, what)
    if unc.shape == (n, t):  # 2FGL: symmetric, Unc_Flag_History says which are limits
        flags = cols.raw("Unc_Flag_History", f"{what} of a catalog with symmetric history errors (2FGL)")
        if flags.shape != (n, t):
            raise FormatError(
                f"{where}: column 'Unc_Flag_History' has shape {flags.shape[1:]}, expected {(t,)}"
            )
        is_ul = flags.astype(bool)
        with np.errstate(invalid="ignore"):
            upper = np.where(np.isfinite(unc), unc, np.nan)
        lower = np.where(is_ul, np.nan, upper)
    else:
        if unc.shape == (n, 2 * t):
            unc = unc.reshape(n, t, 2)
        if unc.shape != (n, t, 2):
            raise FormatError(
                f"{where}: column {unc_name!r} has shape {unc.shape[1:]} per row, expected {(t, 2)} "
                "(time bin x [lower, upper]) or {(t,)} with Unc_Flag_History"
            )
        is_ul, lower, upper = _lower_upper(unc, unc_name, where)
    sqrt_ts = None
    ts_name = f"Sqrt_TS{tag}_History"
    if cols.has(ts_name):
        sqrt_ts = cols.floats(ts_name, what, (n, t))
    edges, reference = _hist_edges(hdul, f"Hist{tag}_Start", t, where, path, cols.header)
    width = float(np.median(np.diff(edges))) * u.Unit(reference["unit"]).to(u.day)
    if days is not None and not 0.8 * days < width < 1.25 * days:
        raise FormatError(
            f"{where}: interval={interval!r}, but the bins of {flux_name} are {width:.1f} days wide; this "
            "catalog's own histories are read with interval=None"
        )
    span = cols.energy_range(flux_name)
    note = None
    if span is None:  # the FSSC descriptions: histories are integral fluxes over 100 MeV - 100 GeV
        span = (100.0, 100000.0)
        note = "energy range not in the file (TEMIN/TEMAX): 100 MeV - 100 GeV, the FSSC's for Flux_History"
    return History(
        edges, reference["unit"], reference["mjdrefi"], reference["mjdreff"], reference["scale"],
        flux, cols.unit(flux_name, "cm-2 s-1"), lower, upper, is_ul, sqrt_ts, span[0], span[1], u.MeV,
        time_note=reference["note"], energy_note=note, columns={"flux": flux_name, "unc": unc_name},
    )  # fmt: skip


def _hist_edges(hdul, name: str, t: int, where: str, path: str, catalog_header) -> tuple[np.ndarray, dict]:
    # HDUs looked up by name and their data read in file order: a gzip file rewinds to its start for every
    # step back, so listing all HDUs first would decompress it twice
    try:
        hdu = hdul[name]
    except KeyError:
        raise FormatError(
            f"{where}: the {name!r} HDU (the time bin edges of the flux histories) is missing; HDUs: "
            f"{[h.name for h in hdul]}"
        ) from None
    hwhere = f"{path}[{name}]"
    cols = Columns(hdu, hwhere, path)
    column = name if cols.has(name) else hdu.columns.names[0]
    edges = cols.floats(column, "the time bin edges").ravel()
    if edges.size != t + 1:
        raise FormatError(
            f"{hwhere}: {edges.size} values for {t} time bins; expected {t + 1} bin edges (the start of "
            "every bin and the end of the last)"
        )
    unit = hdu.columns[column].unit or hdu.header.get("TIMEUNIT") or "s"
    # the time reference: this HDU, else the GTI HDU (as gammapy does for 4FGL), else the catalog table
    sources = [hdu.header]
    try:
        sources.append(hdul["GTI"].header)
    except KeyError:
        pass
    sources.append(catalog_header)
    header = next((h for h in sources if "MJDREFI" in h or "MJDREF" in h), None)
    note = None
    if header is None:
        refi, reff = FERMI_MJDREFI, FERMI_MJDREFF
        note = (
            "no MJDREFI/MJDREFF in the file: Fermi's mission elapsed time assumed (MJD 51910 + 64.184 s, TT)"
        )
        scale = "tt"
    else:
        if "MJDREFI" in header:
            refi = number(header["MJDREFI"], "MJDREFI", hwhere)
            reff = number(header.get("MJDREFF", 0.0), "MJDREFF", hwhere)
        else:
            ref = number(header["MJDREF"], "MJDREF", hwhere)
            refi, reff = float(np.floor(ref)), ref - float(np.floor(ref))
        scale = str(header.get("TIMESYS", "TT")).strip().lower()
    if refi != int(refi):
        raise FormatError(f"{hwhere}: keyword MJDREFI is {refi!r}; expected a whole number of days")
    return edges, {"unit": unit, "mjdrefi": int(refi), "mjdreff": float(reff), "scale": scale, "note": note}
