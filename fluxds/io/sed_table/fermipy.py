"""Writing an SED in fermipy's own layout, the file ``GTAnalysis.sed()`` writes (``sed_<name>.fits``).

fermipy (``fermipy/sed.py``, ``SEDGenerator._make_sed_fits``) writes a primary HDU and a table HDU named
``SED``, one row per energy bin, with lower-case GADF-like column names and fermipy's units:

- ``e_min``, ``e_ref``, ``e_max`` in ``MeV``;
- ``ref_dnde_e_min``, ``ref_dnde_e_max``, ``ref_dnde`` in ``ph / (MeV cm2 s)``, ``ref_flux`` in
  ``ph / (cm2 s)``, ``ref_eflux`` in ``MeV / (cm2 s)``, ``ref_npred`` (counts);
- ``dnde``, ``dnde_err``, ``dnde_errp``, ``dnde_errn``, ``dnde_ul`` in ``ph / (MeV cm2 s)``; ``e2dnde``,
  ``e2dnde_err``, ``e2dnde_errp``, ``e2dnde_errn``, ``e2dnde_ul`` in ``MeV / (cm2 s)``;
- ``norm``, ``norm_err``, ``norm_errp``, ``norm_errn``, ``norm_ul``, ``ts``;
- ``loglike`` (log-likelihood of the bin's best fit, higher is better), ``norm_scan`` and
  ``dloglike_scan = loglike_scan - loglike`` (fermipy's ``profile_norm``: relative to the best fit);
- the keyword ``UL_CONF = 0.95``, with ``norm_ul`` fermipy's ``norm_ul95``: a **one-sided** 95 % limit,
  where ``-2 log L`` has risen by 2.71 (``utils.onesided_cl_to_dlnl``); ``SRCNAME`` in every header.

fluxds writes the same, from ``stat = -2 loglike`` and ``stat_scan = -2 (loglike + dloglike_scan)``;
limits that are not one-sided 95 % are recomputed from the profiles (or refused without them), so that
the file means what fermipy's files mean. Not written: fermipy's ``MODEL_FLUX`` (the global fit's
bow-tie) and ``PARAMS`` (its parameters and covariance) HDUs, and the ``CONFIG`` keyword, which come from
fermipy's global spectral fit, not from the SED; ``CREATOR`` names fluxds. Reading is the GADF SED reader
(:func:`fluxds.io.sed_table.files.read_fits`), which knows this layout (one-sided limits, the scan's
baseline).
"""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Column, Table

from fluxds import schema
from fluxds.construct import reference_model_of
from fluxds.errors import FormatError
from fluxds.io.output.atomic import atomic_path

__all__ = ["write", "FERMIPY_UNITS", "FERMIPY_UL_CONF"]

#: fermipy's unit strings, as ``_make_sed_fits`` writes them
FERMIPY_UNITS = {
    "energy": "MeV",
    "dnde": "ph / (MeV cm2 s)",
    "flux": "ph / (cm2 s)",
    "eflux": "MeV / (cm2 s)",
}
# dims whose variables fermipy's layout has no place for (gammapy's per-dataset counts, the GTI): left out
_DROPPED_DIMS = ("dataset", "gti")
#: the confidence of fermipy's ``norm_ul`` column (``norm_ul95``), one-sided
FERMIPY_UL_CONF = 0.95
_SUFFIXES = ("", "_err", "_errp", "_errn", "_ul")


def _values(da: xr.DataArray, unit: str, where: str) -> np.ndarray:
    given = da.attrs.get("units", "")
    try:
        factor = u.Unit(given or "").to(u.Unit(unit))
    except (ValueError, u.UnitConversionError):
        raise FormatError(
            f"{where}: variable {da.name!r} is in {given!r}; expected a unit of {unit}"
        ) from None
    return np.asarray(da.values, dtype=np.float64) * factor


def _one_sided_95(ds: xr.Dataset, where: str) -> xr.Dataset:
    """``ds`` with ``norm_ul`` a one-sided 95 % limit, as fermipy's column holds."""
    side = ds.attrs.get("ul_sidedness", "two-sided")
    if side == "one-sided" and ds.attrs.get("ul_conf") == FERMIPY_UL_CONF:
        return ds
    if "norm_ul" not in ds.data_vars:
        return ds
    if "norm_scan" in ds.data_vars and "stat_scan" in ds.data_vars:
        return ds.sed.recompute_ul(ul_conf=FERMIPY_UL_CONF, ul_sidedness="one-sided")
    raise FormatError(
        f"{where}: fermipy's norm_ul column is a one-sided 95 % limit (UL_CONF 0.95, a rise of 2.71); this "
        f"Dataset's limits are {side} at ul_conf={ds.attrs.get('ul_conf')} and it has no profiles to "
        "recompute them: write a GADF SED instead (ds.sed.write(path)), or drop norm_ul"
    )


def write(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write one source's SED in fermipy's layout (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds SED with ``energy`` (and ``scan``) dims only, energy bin edges, and ``ref_dnde``,
        ``ref_flux``, ``ref_eflux``. Variables along ``dataset`` or ``gti`` (gammapy's per-dataset
        counts, the good time intervals) are left out: the layout has no place for them.
    path : str or path-like
        The FITS file to write.
    sed_type : {None, "likelihood"}
        fermipy's layout holds norms with dnde and e2dnde beside them; no other choice.
    overwrite : bool
        Replace an existing file. Atomic either way.

    Raises
    ------
    FormatError
        If the Dataset cannot be written in this layout (other dims, no edges or reference fluxes,
        limits that are not one-sided 95 % without profiles to recompute them).
    """
    where = str(path)
    if sed_type not in (None, schema.LIKELIHOOD):
        raise FormatError(
            f"{where}: fermipy's SED layout holds norms, dnde and e2dnde; sed_type={sed_type!r}"
        )
    ds = ds.drop_dims([d for d in _DROPPED_DIMS if d in ds.dims])
    extra = [d for d in ds.dims if d not in (schema.ENERGY, "scan")]
    if extra:
        raise FormatError(
            f"{where}: fermipy's SED file holds one source, one row per energy bin; dims {extra} cannot go "
            "into it: select one entry along them first (ds.isel), or write netCDF"
        )
    missing = [n for n in ("ref_dnde", "ref_flux", "ref_eflux") if n not in ds.data_vars]
    missing += [c for c in (schema.ENERGY_MIN, schema.ENERGY_MAX) if c not in ds.coords]
    if missing:
        raise FormatError(f"{where}: fermipy's SED layout needs {missing}, which the Dataset lacks")
    ds = _one_sided_95(ds, where)
    n = ds.sizes[schema.ENERGY]
    nan = np.full(n, np.nan)
    energies = {
        "e_min": _values(ds[schema.ENERGY_MIN], "MeV", where),
        "e_ref": _values(ds[schema.ENERGY], "MeV", where),
        "e_max": _values(ds[schema.ENERGY_MAX], "MeV", where),
    }
    cols = [Column(name=k, dtype="f8", data=v, unit="MeV") for k, v in energies.items()]
    model = reference_model_of(ds)
    for edge in ("e_min", "e_max"):
        if model is not None and not isinstance(model, dict):
            dnde = model.dnde(energies[edge] * u.MeV).to_value(u.Unit("cm-2 s-1 MeV-1"))
        else:
            dnde = nan
        cols.append(Column(name=f"ref_dnde_{edge}", dtype="f8", data=dnde, unit=FERMIPY_UNITS["dnde"]))
    for name, kind in (("ref_dnde", "dnde"), ("ref_flux", "flux"), ("ref_eflux", "eflux")):
        unit = FERMIPY_UNITS[kind].replace("ph ", "1 ").replace("ph", "")
        cols.append(
            Column(name=name, dtype="f8", data=_values(ds[name], unit, where), unit=FERMIPY_UNITS[kind])
        )
    npred = ds["ref_npred"].values if "ref_npred" in ds.data_vars else nan
    cols.append(Column(name="ref_npred", dtype="f8", data=np.asarray(npred, dtype=np.float64)))
    available = set(ds.sed.available_quantities)
    for stem, unit in (("dnde", "1 / (MeV cm2 s)"), ("e2dnde", "MeV / (cm2 s)")):
        file_unit = FERMIPY_UNITS["dnde"] if stem == "dnde" else FERMIPY_UNITS["eflux"]
        for suffix in _SUFFIXES:
            name = stem + suffix
            data = ds.sed.get(name, unit=unit).values if name in available else nan
            cols.append(
                Column(name=name, dtype="f8", data=np.asarray(data, dtype=np.float64), unit=file_unit)
            )
    for name in ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts"):
        data = ds[name].values if name in ds.data_vars else nan
        cols.append(Column(name=name, dtype="f8", data=np.asarray(data, dtype=np.float64)))
    if "stat" in ds.data_vars:
        loglike = -0.5 * np.asarray(ds["stat"].values, dtype=np.float64)
    elif "stat_scan" in ds.data_vars:
        loglike = np.nanmax(
            -0.5 * np.asarray(ds["stat_scan"].transpose(schema.ENERGY, "scan").values), axis=-1
        )
    else:
        loglike = nan
    cols.append(Column(name="loglike", dtype="f8", data=loglike))
    if "norm_scan" in ds.data_vars and "stat_scan" in ds.data_vars:
        scan, stat_scan = xr.broadcast(ds["norm_scan"], ds["stat_scan"])
        scan = np.asarray(scan.transpose(schema.ENERGY, "scan").values, dtype=np.float64)
        dloglike = -0.5 * np.asarray(stat_scan.transpose(schema.ENERGY, "scan").values) - loglike[:, None]
        cols.append(Column(name="norm_scan", dtype="f8", data=scan))
        cols.append(Column(name="dloglike_scan", dtype="f8", data=dloglike))
    table = Table(cols)
    table.meta["UL_CONF"] = FERMIPY_UL_CONF
    hdu = fits.table_to_hdu(table)
    hdu.name = "SED"
    hdus = fits.HDUList([fits.PrimaryHDU(), hdu])
    source = str(ds["source"].values) if "source" in ds.coords and ds["source"].ndim == 0 else None
    source = source or ds.attrs.get("SRCNAME")
    from fluxds import __version__

    for h in hdus:
        if source:
            h.header["SRCNAME"] = str(source)
        h.header["CREATOR"] = f"fluxds {__version__}"
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdus.writeto(tmp)
