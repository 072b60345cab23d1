"""fermipy / gttscube likelihood SED cubes (TS cubes) <-> fluxds WCS maps with dims
``(energy, lat, lon, scan)``.

The layout (GADF "Binned likelihood profiles", *TSCube output format*):

- ``PRIMARY``: the TS image of the whole energy range, with the celestial WCS of the pixel grid;
- ``SCANDATA``: a *likelihood SED cube*, one row per pixel: ``NORM``, ``NORM_ERR``, ``NORM_ERRP``,
  ``NORM_ERRN``, ``NORM_UL``, ``TS``, ``LOGLIKE``, ``BIN_STATUS`` (vectors over energy), ``NORM_SCAN`` and
  ``DLOGLIKE_SCAN`` (energy x scan), ``UL_CONF`` (or ``UL_CONFIDENCE``; the spec's default is 0.95);
- ``FITDATA``: the fit of the reference model over the whole energy range, one row per pixel
  (``FIT_TS``, ``FIT_STATUS``, ``FIT_NORM``, ``FIT_NORM_ERR`` ...);
- ``BASELINE``: parameters of the baseline fit (often empty);
- ``EBOUNDS``: one row per energy bin: ``E_MIN``, ``E_MAX``, ``E_REF`` (or ``E_CTR``) in keV, ``REF_DNDE``
  (or the older ``REF_DFDE``), ``REF_FLUX``, ``REF_EFLUX``, ``REF_NPRED``, ``REF_DNDE_E_MIN``/``_MAX``.

Rows map to pixels "in column-wise order" (FITS order: the first image axis varies fastest): row
``i = iy * nx + ix`` is the pixel ``[iy, ix]`` of the primary image (numpy order), i.e. the C-order
ravel of the ``(lat, lon)`` grid.

Log-likelihoods become the -2 log L statistics of the likelihood form: ``stat = -2 LOGLIKE`` and
``stat_scan = -2 (LOGLIKE + DLOGLIKE_SCAN)``: the spec (and the data: the maximum of every profile is 0,
its value at zero norm is ``-TS/2``) defines ``DLOGLIKE_SCAN`` relative to the *maximum* of the likelihood
in the bin, i.e. to ``LOGLIKE``. Writing inverts both (``LOGLIKE = -stat/2``,
``DLOGLIKE_SCAN = -stat_scan/2 - LOGLIKE``).
"""

from __future__ import annotations

import json
import os
import warnings

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning

from fluxds import schema
from fluxds.construct import ORIGIN_TEMPLATE, from_sed
from fluxds.errors import FormatError, ModelError, Problems
from fluxds.io.bands import EBOUNDS_UNIT, energy_bounds, per_energy_columns
from fluxds.io.fits_tables import open_fits
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.io.map_keywords import metadata_keywords, restore_attrs, saved_attrs
from fluxds.io.tscube.write import write
from fluxds.io.vocabulary import TS_IMAGE, canonical_column
from fluxds.models import Template, model_from_json
from fluxds.wcs import LAT, LON, celestial_header, wcs_coords

__all__ = ["read", "write"]

BASELINE_ATTR = "baseline"


def _table(hdul, name: str, path: str, required: bool = True) -> tuple[Table | None, str]:
    where = f"{path}[{name}]"
    if name not in hdul:
        if required:
            raise FormatError(f"{path}: no {name} HDU; a TS cube has PRIMARY, SCANDATA, FITDATA, EBOUNDS")
        return None, where
    check_fits_hdu(hdul[name], path)  # before astropy reads it: within the read budget
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        try:
            return Table.read(hdul[name]), where
        except (ValueError, TypeError, KeyError) as exc:
            raise FormatError(f"{where}: cannot read the table: {exc}") from None


def _native(column) -> np.ndarray:
    if hasattr(column, "dask"):  # a lazy column: stays lazy
        return column.astype(column.dtype.newbyteorder("=")) if not column.dtype.isnative else column
    array = np.asarray(column)
    return array.astype(array.dtype.newbyteorder("=")) if not array.dtype.isnative else array


class _LazyTable:
    """The columns of a memory-mapped table HDU as dask arrays, with the few Table features
    :func:`_scandata` uses (``colnames``, ``len``, ``meta``, ``[name]``): nothing is read."""

    def __init__(self, hdu):
        self._hdu = hdu
        self.colnames = list(hdu.columns.names)
        self.meta = {key: hdu.header[key] for key in ("UL_CONF", "UL_CONFIDENCE") if key in hdu.header}

    def __len__(self) -> int:
        return int(self._hdu.header["NAXIS2"])

    def __getitem__(self, name: str):
        import dask.array as da

        return da.from_array(self._hdu.data[name], chunks=-1)


def _ebounds(table: Table, where: str) -> tuple[dict, dict]:
    """Energies (Quantities; the spec's unit keV where a column has none) and the energy-only REF_*
    columns ``name -> (values, unit)`` (:func:`fluxds.io.bands.energy_bounds`,
    :func:`fluxds.io.bands.per_energy_columns`), every problem at once."""
    problems = Problems(where)
    energies, refs = {}, {}
    with problems.check():
        energies = energy_bounds(table, where, default_unit=EBOUNDS_UNIT)
    with problems.check():
        refs = per_energy_columns(table, where)
    problems.raise_if_any()
    return energies, refs


def _scandata(table: Table, shape: tuple[int, int], n_energy: int, where: str) -> dict:
    """SCANDATA columns as arrays on (lat, lon, energy[, scan]), log-likelihoods turned into stats."""
    ny, nx = shape
    if len(table) != ny * nx:
        raise FormatError(
            f"{where}: {len(table)} rows, but the primary image has {ny} x {nx} = {ny * nx} pixels "
            "(one row per pixel expected)"
        )
    problems = Problems(where)  # every bad column at once (issue 15 item 2)
    columns, names = {}, {canonical_column(raw) for raw in table.colnames}
    for raw in table.colnames:
        values = _native(table[raw])
        if values.ndim not in (2, 3) or values.shape[1] != n_energy:
            problems.add(
                FormatError(
                    f"{where}: column {raw!r} has shape {values.shape[1:]} per row; expected "
                    f"({n_energy},) or ({n_energy}, n_scan) for {n_energy} energy bins in EBOUNDS"
                )
            )
            continue
        columns[canonical_column(raw)] = values.reshape((ny, nx) + values.shape[1:])
    for needed in ("norm",):
        if needed not in names:
            problems.add(FormatError(f"{where}: no {needed.upper()} column; columns: {table.colnames}"))
    if "dloglike_scan" in names and "loglike" not in names:
        problems.add(
            FormatError(f"{where}: DLOGLIKE_SCAN is relative to LOGLIKE, and there is no LOGLIKE column")
        )
    problems.raise_if_any()
    if "dloglike_scan" in columns:
        loglike = columns["loglike"].astype(np.float64)
        columns["stat_scan"] = -2.0 * (loglike[..., None] + columns.pop("dloglike_scan").astype(np.float64))
    if "loglike" in columns:
        columns["stat"] = -2.0 * columns.pop("loglike").astype(np.float64)
    return columns


def _per_pixel(table: Table | None, where: str, shape: tuple[int, int]) -> dict[str, xr.Variable]:
    if table is None or not table.colnames:
        return {}
    ny, nx = shape
    if len(table) != ny * nx:
        raise FormatError(f"{where}: {len(table)} rows, but the primary image has {ny * nx} pixels")
    out = {}
    for raw in table.colnames:
        values = _native(table[raw])
        if values.ndim != 1:
            raise FormatError(f"{where}: column {raw!r} holds vectors; expected one number per pixel")
        out[raw.lower()] = xr.Variable((LAT, LON), values.reshape(ny, nx), {"long_name": raw.lower()})
    return out


def _baseline(table: Table | None) -> str | None:
    if table is None or not table.colnames or not len(table):
        return None
    return json.dumps({name: np.asarray(table[name]).tolist() for name in table.colnames})


def read(path: str | os.PathLike, *, chunks=None) -> xr.Dataset:
    """Read a fermipy/gttscube TS cube into a WCS map with dims ``(energy, lat, lon, scan)``.

    Parameters
    ----------
    path : str or path-like
    chunks : dict, int or None
        Give the ``SCANDATA`` variables (the bulk of the file) as dask arrays over the memory-mapped
        columns, read only when computed; ``None`` reads eagerly.

    Returns
    -------
    xarray.Dataset
        The likelihood SED of every pixel (``norm*``, ``ts``, ``stat``, ``stat_scan``/``norm_scan``,
        ``bin_status``; ``ref_*`` from ``EBOUNDS``), the ``FITDATA`` columns as ``fit_*`` variables on
        ``(lat, lon)``, the WCS coordinates of :mod:`fluxds.wcs`; ``ts_image`` only where the primary
        image differs from ``FIT_TS``.

    Raises
    ------
    FormatError, UnitError
        Naming the file, HDU and column, the value found and what was expected.
    """
    path = str(path)
    hdul = open_fits(path, memmap=chunks is not None)
    with hdul:
        primary = hdul[0]
        check_fits_hdu(primary, path, lazy=chunks is not None)  # before astropy reads it
        if primary.data is None or primary.data.ndim != 2:
            raise FormatError(
                f"{path}[PRIMARY]: expected the 2-D TS image, found shape "
                f"{getattr(primary.data, 'shape', None)}"
            )
        shape = primary.data.shape
        image = _native(primary.data)
        header = celestial_header(primary.header, where=f"{path}[PRIMARY]")
        saved = saved_attrs(primary.header, f"{path}[PRIMARY]")
        producer = metadata_keywords(primary.header, exclude=header)  # TELESCOP, INSTRUME ... (item 17)
        ebounds, where_e = _table(hdul, "EBOUNDS", path)
        problems, energies, refs, columns = Problems(path), {}, {}, {}  # EBOUNDS and SCANDATA, at once
        with problems.check():
            energies, refs = _ebounds(ebounds, where_e)
        if chunks is not None and "SCANDATA" in hdul:
            scandata, where_s = _LazyTable(hdul["SCANDATA"]), f"{path}[SCANDATA]"
        else:
            scandata, where_s = _table(hdul, "SCANDATA", path)
        with problems.check():
            columns = _scandata(scandata, shape, len(ebounds), where_s)
        problems.raise_if_any()
        fitdata = _per_pixel(*_table(hdul, "FITDATA", path, required=False), shape)
        baseline = _baseline(_table(hdul, "BASELINE", path, required=False)[0])
        meta = {str(k).upper(): v for k, v in scandata.meta.items()}
    ul_conf = meta.get("UL_CONF", meta.get("UL_CONFIDENCE", 0.95))
    model = _model(saved, energies, refs, path)
    lazy = {k: v for k, v in columns.items() if hasattr(v, "dask")}
    if lazy:  # structure from a one-pixel template of zeros; the data are the lazy columns
        columns = {
            k: np.zeros((1, 1, *v.shape[2:]), v.dtype) if k in lazy else v[:1, :1] for k, v in columns.items()
        }
    ds = from_sed(
        schema.LIKELIHOOD,
        columns,
        energy_ref=energies.get("e_ref"),
        energy_min=energies.get("e_min"),
        energy_max=energies.get("e_max"),
        reference_model=model,
        dims=(LAT, LON, schema.ENERGY),
        coords=None if lazy else wcs_coords(header, shape, where=f"{path}[PRIMARY]"),
        ul_conf=ul_conf,
        where=path,
    )
    if lazy:
        variables = {}
        for name, var in ds.data_vars.items():
            if name not in lazy:
                variables[name] = var.variable
                continue
            # SCANDATA columns are on (lat, lon, energy[, scan]); the template has the canonical order
            extra = [d for d in var.dims if d not in (LAT, LON, schema.ENERGY)]
            variables[name] = xr.Variable((LAT, LON, schema.ENERGY, *extra), lazy[name], var.attrs).transpose(
                *var.dims
            )
        coords = {
            **{k: ds[k].variable for k in ds.coords},
            **wcs_coords(header, shape, where=f"{path}[PRIMARY]"),
        }
        ds = xr.Dataset(variables, coords, ds.attrs).chunk(chunks)
    ds = xr.Dataset({k: v.variable for k, v in ds.data_vars.items()}, ds.coords, ds.attrs)  # dims in order
    if model is not None and saved is None:
        ds.attrs["reference_model_origin"] = ORIGIN_TEMPLATE
    for name, (values, unit) in refs.items():
        long_name = schema.VARIABLES[name].long_name if name in schema.VARIABLES else name
        ds[name] = xr.Variable((schema.ENERGY,), values, {"long_name": long_name, "units": unit})
    ds = ds.assign(fitdata)
    fit_ts = fitdata.get("fit_ts")
    if fit_ts is None or not np.array_equal(np.asarray(fit_ts.values), image, equal_nan=True):
        ds[TS_IMAGE if fit_ts is not None else "fit_ts"] = xr.Variable(
            (LAT, LON), image, {"long_name": "TS image of the primary HDU"}
        )
    if saved is None and baseline is not None:
        ds.attrs[BASELINE_ATTR] = baseline
    if saved is None:
        ds.attrs.update(producer)
    return restore_attrs(ds, saved)


def _model(saved: dict | None, energies: dict, refs: dict, path: str):
    if saved and saved.get("reference_model"):
        try:
            return model_from_json(saved["reference_model"])
        except ModelError as exc:
            raise FormatError(f"{path}[PRIMARY]: reference model in FDSATTRS: {exc}") from None
    if "ref_dnde" in refs and "e_ref" in energies:
        values, unit = refs["ref_dnde"]
        try:
            return Template(energy=energies["e_ref"], values=values * u.Unit(unit))
        except ModelError:
            return None  # e.g. a zero reference: the stored columns still give every SED type
    return None
