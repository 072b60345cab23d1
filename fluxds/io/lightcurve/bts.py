"""gammapy's "binned-time-series" light curves: astropy ``BinnedTimeSeries`` tables.

One row per time bin: ``time_bin_start`` (an astropy ``Time`` column in ECSV; in FITS a number in
``TIMEUNIT`` since ``MJDREFI + MJDREFF`` in ``TIMESYS``) and ``time_bin_size`` (``TimeDelta``, or a
number with a time unit), then per-row scalars of one energy bin (``stat_scan``, ``counts`` ... as
vectors). gammapy writes neither energies nor reference fluxes (nor ``norm_scan``) in this layout, so
reading needs them from the caller (``energy_min=``, ``energy_max=``, ``reference_model=``). Without them:

- a file of SED type ``flux`` (``dnde`` ...) is read with gammapy's default light-curve band, 1-10 TeV, and
  gammapy's default reference model (a power law of index 2): the stored fluxes are kept exactly, only
  the other SED types depend on the assumption, and it is said on the ``energy`` coordinates and in
  ``reference_model_origin``;
- a file of SED type ``likelihood`` is refused: its norms are relative to a model the file does not store,
  so every flux would be the assumption's (the band and model enter as a factor; 4.6 for gammapy's own
  example). ``gammapy_defaults=True`` is the explicit opt-in to gammapy's defaults (as ``derive_edges=True``
  is for an SED with ``e_ref`` only), recorded the same way.

fluxds writes the same layout with ``e_ref``/``e_min``/``e_max`` and ``ref_*`` columns beside, and its
``FDSATTRS``, to ECSV and to FITS (gammapy 2.1 can do neither read nor FITS write).
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table
from astropy.time import Time, TimeDelta

from fluxds import schema
from fluxds.construct import ORIGIN_DEFAULT
from fluxds.errors import FormatError
from fluxds.io.gadf_table import normalised_columns, units_option
from fluxds.io.keywords import attrs_from_meta
from fluxds.io.lightcurve.keys import energy_row, extra_meta_attrs, read_time_keywords
from fluxds.io.lightcurve.table import dataset_from_columns, lightcurve_table_from_dataset
from fluxds.models import default_reference_model
from fluxds.timeaxis import TimeValueError, astropy_time, check_times, time_coords

__all__ = ["dataset_from_bts_table", "bts_table_from_dataset", "DEFAULT_BAND"]

START, SIZE = "time_bin_start", "time_bin_size"
DEFAULT_BAND = (1.0 * u.TeV, 10.0 * u.TeV)
PLACEHOLDER_NOTE = (
    "placeholder: the binned-time-series file holds no energies; gammapy's default light-curve band "
    "1-10 TeV assumed (pass energy_min=/energy_max= when reading)"
)
GIVEN_NOTE = "given when reading: the binned-time-series file holds no energies"
_FLUX_COLUMNS = ("dnde", "e2dnde", "flux", "eflux")


def _is_likelihood(columns: dict, meta: dict, sed_type: str | None) -> bool:
    """Whether the table holds norms (SED type likelihood): as declared (``sed_type=``, ``SED_TYPE``), else
    from the columns (a ``norm`` and no flux column)."""
    declared = sed_type or meta.get("SED_TYPE")
    if declared:
        return schema.sed_type(str(declared).strip()).name == schema.sed_type(schema.LIKELIHOOD).name
    return "norm" in columns and not any(name in columns for name in _FLUX_COLUMNS)


def _refuse_likelihood_assumptions(missing: list[str], where: str) -> None:
    raise FormatError(
        f"{where}: a binned time series of SED type likelihood: its norms are relative to a reference model "
        f"in an energy band, and the file holds no {' and no '.join(missing)} (gammapy writes neither in "
        "this layout), so every flux would be an assumption's. Pass what the light curve was estimated with, "
        "energy_min=, energy_max= (astropy Quantity) and reference_model= (a fluxds.models model), or "
        "gammapy_defaults=True to assume gammapy's LightCurveEstimator defaults (1-10 TeV, power law of "
        "index 2), recorded in the Dataset"
    )


def _times(table: Table, meta: dict, where: str, saved) -> dict[str, xr.Variable]:
    start, size = table[START], table[SIZE]
    if isinstance(start, Time):
        ref = {"unit": "d", "mjdrefi": 0, "mjdreff": 0.0, "scale": start.scale, "extra_attrs": {}}
        lo = np.asarray(start.mjd, dtype=np.float64)
    else:
        unit = getattr(start, "unit", None)
        ref = read_time_keywords(meta, where, column_unit=unit.to_string() if unit else None, saved=saved)
        note = ref.pop("note")
        if note:
            ref["extra_attrs"] = {**ref["extra_attrs"], "note": note}
        lo = np.asarray(start, dtype=np.float64)
    if isinstance(size, TimeDelta):
        width = size.to_value(ref["unit"])
    elif getattr(size, "unit", None) is not None:
        width = u.Quantity(size).to_value(ref["unit"])
    else:
        width = np.asarray(size, dtype=np.float64)  # in the unit of the start times
    width = np.asarray(width, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        hi = lo + width  # an overflow is infinite, refused below
    # finite and within MJD_RANGE (fluxds.timeaxis), naming the file's columns, before the sum can overflow
    if lo.ndim == 1 and width.shape == lo.shape:
        times = {k: ref[k] for k in ("unit", "mjdrefi", "mjdreff")}
        check_times(lo, what=f"column {START!r}", where=where, **times)
        bad = np.flatnonzero(~np.isfinite(width))
        if bad.size:
            i = int(bad[0])
            raise TimeValueError(f"{where}: column {SIZE!r} must be finite; found {width[i]} in row {i}")
        check_times(hi, what=f"the end of the bin, {START} + {SIZE},", where=where, **times)
    return time_coords(time_min=lo, time_max=hi, where=where, **ref)


def dataset_from_bts_table(
    table: Table,
    *,
    where: str,
    sed_type: str | None = None,
    units=None,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model=None,
    gammapy_defaults: bool = False,
) -> xr.Dataset:
    """Read a binned-time-series table into a fluxds Dataset with dims ``(time, energy)`` (one energy bin).

    Parameters
    ----------
    table : astropy.table.Table
        With ``time_bin_start`` and ``time_bin_size``.
    where : str
        The file (and HDU), for messages.
    sed_type : str, optional
        Overrides ``SED_TYPE`` / the guess from the columns.
    units : dict or "gadf", optional
        Units for columns without one.
    energy_ref, energy_min, energy_max : astropy Quantity, optional
        The energy bin (scalars or 1-element); default: the file's ``e_*`` columns, else 1-10 TeV.
    reference_model : fluxds.models.SpectralModel, optional
        For files without ``ref_*`` columns; default gammapy's (power law, index 2).
    gammapy_defaults : bool
        For a likelihood table without energies or reference fluxes: assume gammapy's defaults (1-10 TeV,
        power law of index 2) where neither the file nor the caller gives them. Without it such a table
        is refused (module docstring); tables of other SED types take the defaults anyway.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    FormatError
        A likelihood table without energies or reference model, none given, and ``gammapy_defaults=False``.
    """
    names = {n.lower(): n for n in table.colnames}
    missing = [c for c in (START, SIZE) if c not in names]
    if missing:
        raise FormatError(
            f"{where}: a binned time series needs columns {START!r} and {SIZE!r}; missing {missing}"
        )
    if names[START] != START or names[SIZE] != SIZE:
        table = table.copy(copy_data=False)
        table.rename_columns([names[START], names[SIZE]], [START, SIZE])
    meta = {str(k).upper(): v for k, v in table.meta.items()}
    saved = attrs_from_meta(meta, where)
    tcoords = _times(table, meta, where, saved)
    rest = table.copy(copy_data=False)
    rest.remove_columns([START, SIZE])
    columns = normalised_columns(rest, where, units_option(units, where))
    given = {"e_ref": energy_ref, "e_min": energy_min, "e_max": energy_max}
    from_file = energy_row(columns, where)
    has_refs = bool({"ref_dnde", "ref_flux", "ref_eflux"} & set(columns))
    has_model = reference_model is not None or has_refs or bool(saved and saved.get("reference_model"))
    has_band = any(v is not None for v in (*given.values(), *from_file.values()))
    if not gammapy_defaults and not (has_band and has_model) and _is_likelihood(columns, meta, sed_type):
        missing = ["energies"] if not has_band else []
        _refuse_likelihood_assumptions(missing + ([] if has_model else ["reference model"]), where)
    note = None
    if any(v is not None for v in given.values()):
        energies = {k: None if v is None else np.atleast_1d(u.Quantity(v)) for k, v in given.items()}
        note = GIVEN_NOTE if all(v is None for v in from_file.values()) else None
    elif any(v is not None for v in from_file.values()):
        energies = from_file
    else:
        energies = {
            "e_ref": None,
            "e_min": np.atleast_1d(DEFAULT_BAND[0]),
            "e_max": np.atleast_1d(DEFAULT_BAND[1]),
        }
        note = PLACEHOLDER_NOTE
    model, origin = reference_model, None
    if not has_model:
        model, origin = default_reference_model(), ORIGIN_DEFAULT
    ds = dataset_from_columns(
        columns,
        energies=energies,
        tcoords=tcoords,
        meta=meta,
        where=where,
        scalar_rows=True,
        sed_type=sed_type,
        reference_model=model,
        saved=saved,
        extra_attrs=extra_meta_attrs(table),
    )
    if origin is not None:
        ds.attrs["reference_model_origin"] = origin
    if note is not None:
        for coord in (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX):
            if coord in ds.coords:
                ds[coord].attrs["note"] = note
    return ds


def bts_table_from_dataset(
    ds: xr.Dataset, sed_type: str | None = None, *, where: str = "", fits: bool = False
) -> Table:
    """A binned-time-series table of a one-energy-bin light curve (no ``source`` dimension).

    For ECSV (``fits=False``) ``time_bin_start`` is an astropy ``Time`` column (MJD, the Dataset's scale)
    and ``time_bin_size`` a ``TimeDelta`` in days, as astropy and gammapy write them; for FITS both are
    plain numbers in the Dataset's own time unit, with the FITS time keywords, so the stored numbers are
    written unchanged.
    """
    if ds.sizes.get(schema.ENERGY, 0) != 1:
        raise FormatError(
            f"{where}: a binned time series holds one energy bin, this light curve has "
            f"{ds.sizes.get(schema.ENERGY, 0)}; write format='lightcurve' instead, or select one bin"
        )
    table = lightcurve_table_from_dataset(ds, sed_type, where=where)
    for name in table.colnames:
        if table[name].ndim >= 2 and table[name].shape[1] == 1:
            table.replace_column(name, table[name][:, 0])
    lo, hi = np.asarray(table["time_min"], dtype=np.float64), np.asarray(table["time_max"], dtype=np.float64)
    if fits:
        unit = table["time_min"].unit
        start, size = lo, hi - lo
        table.meta["TIMESYS"] = str(table.meta["TIMESYS"]).upper()
    else:
        scale = ds["time_min"].attrs["time_scale"]
        mjd_numbers = (
            table.meta["TIMEUNIT"] == "d" and table.meta["MJDREFI"] == 0 and table.meta["MJDREFF"] == 0
        )
        if mjd_numbers:
            start, size = Time(lo, format="mjd", scale=scale), hi - lo
        else:  # other units or references: convert through astropy (MJD numbers, not the stored ones)
            t_lo, t_hi = astropy_time(ds, "time_min"), astropy_time(ds, "time_max")
            start, size = t_lo, (t_hi - t_lo).jd
        start.format = "mjd"
        size = TimeDelta(size, format="jd", scale=scale if scale in TimeDelta.SCALES else None)
        for key in ("MJDREFI", "MJDREFF", "TIMESYS", "TIMEUNIT", "TIMEREF"):
            table.meta.pop(key, None)
    table.remove_columns(["time_min", "time_max"] + (["time"] if "time" in table.colnames else []))
    table.add_column(start, name=START, index=0)
    table.add_column(size, name=SIZE, index=1)
    if fits:
        table[START].unit = unit
        table[SIZE].unit = unit
    return table
