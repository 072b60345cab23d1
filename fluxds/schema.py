"""The data-model vocabulary: dimensions, variables, SED types and their units, in one table.

Every other part of fluxds (the accessor, the readers, the writers, the docs) reads the names it needs from
here; no second list of column names exists anywhere. The contract itself is described in
``docs/data_model.md``.

A *quantity* is anything ``ds.sed`` can give: a stored variable of the likelihood form (``norm``,
``ref_flux``, ``ts`` ...) or one derived from them (``dnde_ul = norm_ul * ref_dnde``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import astropy.units as u


__all__ = [
    "DIMS",
    "ENERGY",
    "ENERGY_MIN",
    "ENERGY_MAX",
    "SED_TYPES",
    "SedType",
    "MEASUREMENT_SUFFIXES",
    "Variable",
    "VARIABLES",
    "QUANTITY_NAMES",
    "COLUMN_ALIASES",
    "ATTRS",
    "sed_type",
    "measurement_name",
    "split_measurement",
    "canonical_dims",
    "GADF_RECOMMENDED_UNITS",
    "BinnedAxis",
    "BINNED_AXES",
    "binned_axis",
]

# Dimensions in their canonical order (DESIGN.md section 1). Others pass through untouched.
DIMS: tuple[str, ...] = (
    "source",
    "region",
    "time",
    "phase",
    "energy",
    "lat",
    "lon",
    "pixel",
    "scan",
    "dataset",
    "gti",
)

# Energy coordinates: reference energy on the dim itself, bin edges beside it.
ENERGY = "energy"
ENERGY_MIN = "energy_min"
ENERGY_MAX = "energy_max"
ENERGY_COLUMNS = {"e_ref": ENERGY, "e_min": ENERGY_MIN, "e_max": ENERGY_MAX}
ENERGY_LONG_NAMES = {
    ENERGY: "reference energy of the bin",
    ENERGY_MIN: "lower edge of the energy bin",
    ENERGY_MAX: "upper edge of the energy bin",
}


@dataclass(frozen=True)
class BinnedAxis:
    """A dimension whose entries are bins: a centre and two edges, described once for every part of fluxds.

    The CF encoding (bounds variables), ``resample``/``combine``/``variability`` (merged edges) and the
    table formats (columns) read this description; adding such an axis is one entry of
    :data:`BINNED_AXES` (``docs/data_model.md``, "Binned axes").

    Attributes
    ----------
    dim : str
        The dimension (``energy``, ``time``, ``phase``, ``region``).
    centre : str
        The coordinate holding the bin centre: the dimension coordinate itself, or (``region``, whose
        dimension coordinate holds names) a coordinate along it (``x_ref``).
    min_name, max_name : str
        The coordinates of the lower and upper bin edges.
    file_columns : tuple of str
        The table columns (GADF and gammapy) of the centre, the lower and the upper edge
        (``e_ref, e_min, e_max``; ``time, time_min, time_max``; ...).
    unit_kind : str
        ``"energy"``, ``"time"``, ``"dimensionless"`` or ``"angle"``: the physical type of the numbers.
    scale : str
        ``"log"`` (the centre of merged bins is the geometric mean of the edges) or ``"linear"`` (the
        arithmetic midpoint ``lo + (hi - lo) / 2``).
    bounds : str
        The name of the CF bounds variable (shape ``(dim, 2)``) in netCDF and zarr.
    long_names : tuple of str
        Words for the centre, the lower and the upper edge (plots, netCDF ``long_name``).
    cf_bounds : str
        ``"edges"``: the edges *are* the bounds (the CF encoding moves them into the bounds variable, in
        the centre's unit, and back). ``"derived"`` (``time``, whose centre is a calendar date): the
        bounds are computed from the edges in the centre's CF unit and written beside the edges, which
        are kept unchanged (exact); readers drop them.
    centre_value : str or None
        Where the centre column of a table is read to when the centre coordinate is not a plain number
        (``time``: the ``time`` column is the instant ``time_value``; the ``time`` labels are dates).
    """

    dim: str
    centre: str
    min_name: str
    max_name: str
    file_columns: tuple[str, str, str]
    unit_kind: str
    scale: str
    bounds: str
    long_names: tuple[str, str, str]
    cf_bounds: str = "edges"
    centre_value: str | None = None

    @property
    def edges(self) -> tuple[str, str]:
        """``(min_name, max_name)``."""
        return (self.min_name, self.max_name)

    @property
    def coords(self) -> tuple[str, str, str]:
        """``(centre, min_name, max_name)``."""
        return (self.centre, self.min_name, self.max_name)

    @property
    def columns(self) -> dict[str, str]:
        """Table column -> Dataset coordinate (the centre column to :attr:`centre_value` when set)."""
        centre = self.centre_value or self.centre
        return dict(zip(self.file_columns, (centre, self.min_name, self.max_name), strict=True))

    @property
    def long_name_of(self) -> dict[str, str]:
        """Coordinate name -> long name."""
        return dict(zip(self.coords, self.long_names, strict=True))

    def midpoint(self, lo, hi):
        """The centre of bins ``[lo, hi]`` on this axis' scale (arrays or numbers): ``sqrt(lo * hi)`` on a
        log scale, ``lo + 0.5 * (hi - lo)`` on a linear one (as :func:`fluxds.timeaxis.time_coords`)."""
        import numpy as np

        if self.scale == "log":
            return np.sqrt(lo * hi)
        return lo + 0.5 * (hi - lo)


BINNED_AXES: dict[str, BinnedAxis] = {
    a.dim: a
    for a in (
        BinnedAxis(
            ENERGY,
            ENERGY,
            ENERGY_MIN,
            ENERGY_MAX,
            ("e_ref", "e_min", "e_max"),
            "energy",
            "log",
            "energy_bounds",
            (ENERGY_LONG_NAMES[ENERGY], ENERGY_LONG_NAMES[ENERGY_MIN], ENERGY_LONG_NAMES[ENERGY_MAX]),
        ),
        BinnedAxis(
            "time",
            "time",
            "time_min",
            "time_max",
            ("time", "time_min", "time_max"),
            "time",
            "linear",
            "time_bounds",
            ("centre of the time bin", "start of the time bin", "end of the time bin"),
            cf_bounds="derived",
            centre_value="time_value",
        ),
        BinnedAxis(
            "phase",
            "phase",
            "phase_min",
            "phase_max",
            ("phase", "phase_min", "phase_max"),
            "dimensionless",
            "linear",
            "phase_bounds",
            ("centre of the phase bin", "lower edge of the phase bin", "upper edge of the phase bin"),
        ),
        BinnedAxis(
            "region",
            "x_ref",
            "x_min",
            "x_max",
            ("x_ref", "x_min", "x_max"),
            "angle",
            "linear",
            "x_bounds",
            (
                "projected distance of the region (bin centre)",
                "lower edge of the projected-distance bin",
                "upper edge of the projected-distance bin",
            ),
        ),
    )
}


def binned_axis(dim) -> BinnedAxis | None:
    """The :class:`BinnedAxis` of dimension ``dim``, or None when ``dim`` is not a binned axis."""
    return BINNED_AXES.get(str(dim))


# Suffixes of a measured quantity, with what each means.
MEASUREMENT_SUFFIXES: dict[str, str] = {
    "": "best-fit value",
    "_err": "symmetric error",
    "_errp": "positive error",
    "_errn": "negative error",
    "_ul": "upper limit",
    "_sensitivity": "sensitivity",
    "_errsys": "systematic error",
    # asymmetric systematic errors (published SEDs): converted with the SED type like the other errors
    "_errsysp": "positive systematic error",
    "_errsysn": "negative systematic error",
}


@functools.cache
def _unit(text: str) -> u.UnitBase:
    import astropy.units as u

    return u.Unit(text) if text else u.dimensionless_unscaled


@dataclass(frozen=True)
class SedType:
    """One SED type of the GADF spec.

    Attributes
    ----------
    name : str
        The SED type and the stem of its column names (``dnde``, ``e2dnde``, ``flux``, ``eflux``, ``norm``).
    unit : str
        The unit fluxds gives this type in by default (gammapy's defaults).
    reference : str
        The stored reference variable that turns a norm into this type (``ref_dnde`` ...).
    energy_power : int
        The power of the reference energy that multiplies the reference variable (2 for ``e2dnde``).
    needs_edges : bool
        Whether the type is an integral over the bin (then the reference needs bin edges).
    long_name : str
        Words for plots and netCDF ``long_name``.
    """

    name: str
    unit: str
    reference: str | None
    energy_power: int
    needs_edges: bool
    long_name: str

    @property
    def physical_unit(self) -> u.UnitBase:
        """The astropy unit of :attr:`unit` (fixes the physical dimension of the type)."""
        return _unit(self.unit)


SED_TYPES: dict[str, SedType] = {
    "norm": SedType("norm", "", None, 0, False, "norm relative to the reference model"),
    "dnde": SedType("dnde", "cm-2 s-1 TeV-1", "ref_dnde", 0, False, "differential flux"),
    "e2dnde": SedType("e2dnde", "erg cm-2 s-1", "ref_dnde", 2, False, "E^2 times differential flux"),
    "flux": SedType("flux", "cm-2 s-1", "ref_flux", 0, True, "integral flux"),
    "eflux": SedType("eflux", "erg cm-2 s-1", "ref_eflux", 0, True, "energy flux"),
}
# "likelihood" is the GADF name of the norm-based form; the table writer maps it to "norm" columns.
LIKELIHOOD = "likelihood"
FILE_SED_TYPES = (LIKELIHOOD, "dnde", "e2dnde", "flux", "eflux")


@dataclass(frozen=True)
class Variable:
    """A stored variable of the likelihood form.

    Attributes
    ----------
    name : str
        Variable name in the Dataset and column name in GADF tables (the same word).
    unit : str or None
        Default unit; ``None`` for booleans and counts of things, ``""`` for dimensionless numbers.
    long_name : str
        Words for plots and the netCDF ``long_name``.
    extra_dim : str or None
        The dimension the variable has beyond those of ``norm`` (``scan`` for profiles, ``dataset``
        for per-dataset counts).
    dtype : str
        ``"float"``, ``"bool"`` or ``"int"``.
    """

    name: str
    unit: str | None
    long_name: str
    extra_dim: str | None = None
    dtype: str = "float"

    @property
    def physical_unit(self) -> u.UnitBase | None:
        """The astropy unit of :attr:`unit`, ``None`` where the variable has no unit."""
        return None if self.unit is None else _unit(self.unit)


def _norm_variables() -> list[Variable]:
    return [
        Variable(f"norm{suffix}", "", f"norm {meaning}") for suffix, meaning in MEASUREMENT_SUFFIXES.items()
    ]


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in [
        *_norm_variables(),
        Variable("ref_dnde", "cm-2 s-1 TeV-1", "reference model differential flux at e_ref"),
        Variable("ref_dnde_e_min", "cm-2 s-1 TeV-1", "reference model differential flux at e_min"),
        Variable("ref_dnde_e_max", "cm-2 s-1 TeV-1", "reference model differential flux at e_max"),
        Variable("ref_flux", "cm-2 s-1", "reference model integral flux in the bin"),
        Variable("ref_eflux", "erg cm-2 s-1", "reference model energy flux in the bin"),
        Variable("ref_npred", "", "reference model predicted counts"),
        Variable("ts", "", "test statistic"),
        Variable("sqrt_ts", "", "signed square root of the test statistic"),
        Variable("stat", "", "fit statistic (-2 log L) at the best fit"),
        Variable("stat_null", "", "fit statistic (-2 log L) at zero norm"),
        Variable("stat_scan", "", "fit statistic (-2 log L) along the norm scan", "scan"),
        Variable("norm_scan", "", "norm values of the likelihood scan", "scan"),
        Variable("is_ul", None, "flux point is an upper limit", dtype="bool"),
        Variable("success", None, "fit converged", dtype="bool"),
        Variable("niter", None, "number of fit iterations", dtype="int"),
        Variable("n_dof", "", "number of degrees of freedom"),
        # --- likelihood profiles: status of values derived from stat_scan (fluxds.profiles) ---
        Variable("norm_ul_status", None, "status of norm_ul from the likelihood profile", dtype="int"),
        Variable("norm_errp_status", None, "status of norm_errp from the likelihood profile", dtype="int"),
        Variable("norm_errn_status", None, "status of norm_errn from the likelihood profile", dtype="int"),
        # --- end likelihood profiles ---
        Variable("counts", "", "observed counts", "dataset"),
        Variable("npred", "", "predicted counts at the best fit", "dataset"),
        Variable("npred_excess", "", "predicted excess counts at the best fit", "dataset"),
        Variable("npred_background", "", "predicted background counts", "dataset"),
    ]
}

# Log-likelihood columns of the GADF spec / fermipy (log L, higher is better), read into the -2 log L
# statistics: stat = -2 loglike, stat_null = -2 loglike_null. The spec's two pages differ on what
# dloglike_scan is relative to: in SED tables to the zero-normalisation model, so
# stat_scan = -2 (loglike_null + dloglike_scan); in TS cubes (SCANDATA) to the best fit, so
# stat_scan = -2 (LOGLIKE + DLOGLIKE_SCAN) (fluxds.io.tscube.read).
LOGLIKE_COLUMNS = ("loglike", "loglike_null", "dloglike_scan")

# Variables that depend on energy only when they come from one reference model or one scan grid: tables
# that repeat them per row (light curves, profiles) store them once per energy when every row agrees.
ENERGY_ONLY_VARIABLES = (
    "ref_dnde",
    "ref_flux",
    "ref_eflux",
    "ref_dnde_e_min",
    "ref_dnde_e_max",
    "ref_npred",
    "norm_scan",
)

# Older or other spellings found in real files -> the fluxds name.
COLUMN_ALIASES: dict[str, str] = {
    "ref_dfde": "ref_dnde",
    "ref_dfde_e_min": "ref_dnde_e_min",
    "ref_dfde_e_max": "ref_dnde_e_max",
    "dfde": "dnde",
    "dfde_err": "dnde_err",
    "dfde_errp": "dnde_errp",
    "dfde_errn": "dnde_errn",
    "dfde_ul": "dnde_ul",
    "e_ctr": "e_ref",
}

# Dataset attributes of the contract, with their meaning.
ATTRS: dict[str, str] = {
    "sed_type_init": "SED type of the input the Dataset was made from",
    "n_sigma": "number of sigma of the errors",
    "n_sigma_ul": "number of sigma of the upper limits (derived from ul_conf when that is stored)",
    "ul_conf": "confidence level of the upper limits (exact, as the file gave it)",
    "sqrt_ts_threshold_ul": "sqrt(TS) below which a point is an upper limit",
    "reference_model": "reference spectral model, JSON text",
    "reference_model_origin": "where the reference model came from",
}
DEFAULT_N_SIGMA = 1.0
DEFAULT_SQRT_TS_THRESHOLD_UL = 2.0

# Everything ds.sed can give, by name: norm/SED-type measurements, references, npred_excess family,
# and the stored statistics.
_MEASURED = [f"{t}{s}" for t in SED_TYPES for s in MEASUREMENT_SUFFIXES]
_REFERENCES = [f"{t}_ref" for t in SED_TYPES if t != "norm"]
_NPRED_EXCESS = ["npred_excess_ref"] + [f"npred_excess{s}" for s in ("_err", "_errp", "_errn", "_ul")]
QUANTITY_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(_MEASURED + _REFERENCES + _NPRED_EXCESS + list(VARIABLES))
)


def sed_type(name: str) -> SedType:
    """The :class:`SedType` called ``name`` (``likelihood`` is the ``norm`` type)."""
    key = "norm" if name == LIKELIHOOD else name
    try:
        return SED_TYPES[key]
    except KeyError:
        from fluxds.errors import SchemaError

        raise SchemaError(f"unknown SED type {name!r}; expected one of {', '.join(FILE_SED_TYPES)}") from None


def measurement_name(sed: str, suffix: str) -> str:
    """The variable name of a measurement, e.g. ``measurement_name("flux", "_ul") == "flux_ul"``."""
    stem = "norm" if sed == LIKELIHOOD else sed
    return f"{stem}{suffix}"


def split_measurement(name: str) -> tuple[str, str] | None:
    """Split ``"e2dnde_errp"`` into ``("e2dnde", "_errp")``; ``None`` if not a measurement name."""
    for stem in sorted(SED_TYPES, key=len, reverse=True):
        if name.startswith(stem):
            suffix = name[len(stem) :]
            if suffix in MEASUREMENT_SUFFIXES:
                return stem, suffix
    return None


def canonical_dims(dims) -> list[str]:
    """``dims`` in the contract's order (:data:`DIMS` first, in that order; others after, as given)."""
    known = [d for d in DIMS if d in dims]
    return known + [d for d in dims if d not in DIMS]


def _recommended_units() -> dict[str, str]:
    """The units the GADF SED page recommends for each column (MeV-based), for files that give none."""
    per_stem = {
        "dnde": "MeV-1 cm-2 s-1",
        "e2dnde": "MeV cm-2 s-1",
        "flux": "cm-2 s-1",
        "eflux": "MeV cm-2 s-1",
    }
    units = {name: "MeV" for name in ENERGY_COLUMNS}
    for stem, unit in per_stem.items():
        units.update({f"{stem}{suffix}": unit for suffix in MEASUREMENT_SUFFIXES})
    units.update(
        {
            "ref_dnde": "MeV-1 cm-2 s-1",
            "ref_dnde_e_min": "MeV-1 cm-2 s-1",
            "ref_dnde_e_max": "MeV-1 cm-2 s-1",
            "ref_flux": "cm-2 s-1",
            "ref_eflux": "MeV cm-2 s-1",
        }
    )
    return units


# Applied only on request (``units="gadf"`` when reading), to columns that carry no unit.
GADF_RECOMMENDED_UNITS: dict[str, str] = _recommended_units()
