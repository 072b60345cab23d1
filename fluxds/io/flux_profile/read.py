"""gammapy's flux-profile table (FITS, ECSV) <-> a fluxds Dataset with a ``region`` dimension.

The table (``FluxPoints.write(..., format="profile")``) has one row per region: ``x_min``, ``x_max``,
``x_ref`` (the projected distance, deg), then every quantity as a per-row vector over energy (scans and
dataset-wise columns as 2-D vectors: energy x scan, energy x dataset). The energies ``e_ref``/``e_min``/
``e_max`` are repeated in every row, in keV.

Read into dims ``(region, energy[, scan | dataset])`` with

- coordinates ``region`` (names: the ``region`` column fluxds writes, else generated ``region0``,
  ``region1`` ...), ``x_min``, ``x_max``, ``x_ref`` (with ``units``; gammapy keeps only ``x_ref``),
  and ``region_shape`` (the region as text, e.g. DS9) when the file has a ``region_shape`` column;
- the ``ref_*`` and ``norm_scan`` columns, identical in every row of a gammapy file (one reference
  model, one scan grid), kept once: ``ref_*`` on ``energy``, ``norm_scan`` on ``(energy, scan)`` (a
  file that fluxds wrote lists the variables it broadcast, in ``FDSATTRS``);
- the GTI: gammapy repeats the dataset GTI once per region (8 regions, 8 identical rows). In a file
  without ``FDSATTRS`` (not written by fluxds) a row that repeats an earlier row exactly is dropped;
  the GTI of a file fluxds wrote is kept row for row.

Written as gammapy writes it, plus ``region``/``region_shape`` columns, ``SED_TYPE``, ``UL_CONF`` and
``FDSATTRS`` (gammapy reads such files with ``FluxPoints.read(path, format="profile")``).
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning

from fluxds import schema
from fluxds.construct import ORIGIN_TEMPLATE, column_problems, from_sed
from fluxds.errors import FluxdsError, FormatError, ModelError, Problems
from fluxds.io.flux_profile.columns import (
    HDU_NAME,
    NOTES_KEY,
    REGION_DIM,
    SHARED_KEY,
    energy_columns,
    loglike_to_stat,
    per_row,
    region_coords,
    shared_columns,
    text_columns,
)
from fluxds.io.gadf_table import negative_column_problems, normalised_columns, resolve_sed_type, units_option
from fluxds.io.gti import gti_from_json
from fluxds.io.guard.ecsv_safe import read_ecsv_table
from fluxds.io.guard.fits_sizes import check_fits_hdu, check_fits_sizes
from fluxds.io.keywords import META_ATTRS, attrs_from_meta, decode_keyword_text, jsonable, table_meta
from fluxds.io.vocabulary import STRUCTURAL_META, canonical_column
from fluxds.models import Template, model_from_json

__all__ = ["read", "write", "dataset_from_profile_table", "profile_table_from_dataset", "REGION_DIM"]


def dataset_from_profile_table(
    table: Table,
    *,
    where: str,
    sed_type: str | None = None,
    units: dict[str, str] | str | None = None,
    gti: xr.Dataset | None = None,
) -> xr.Dataset:
    """Read one gammapy profile table into a fluxds Dataset with a ``region`` dimension.

    Parameters
    ----------
    table : astropy.table.Table
        One row per region (``x_min``, ``x_max``, ``x_ref`` in an angle unit), energy vectors per row.
    where : str
        The file and HDU, for messages.
    sed_type : str, optional
        Overrides ``SED_TYPE`` (gammapy writes none: then guessed from the columns).
    units : dict or "gadf", optional
        Units for columns without one (see :func:`fluxds.io.gadf_table.dataset_from_table`).
    gti : xarray.Dataset, optional
        ``gti_start``/``gti_stop`` read from the file (deduplicated here unless fluxds wrote the file).

    Returns
    -------
    xarray.Dataset
    """
    if len(table) == 0:
        raise FormatError(f"{where}: the profile table has no rows (regions)")
    meta = table_meta(table)
    saved = attrs_from_meta(meta, where)
    problems = Problems(where)  # every problem of the table, reported at once (issue 15 item 2)
    rest, text = text_columns(table)
    coords = region_coords(table, text, where, problems)
    columns = normalised_columns(rest, where, units_option(units, where), problems)
    unread = {canonical_column(raw) for raw in rest.colnames} - set(columns)  # reported already
    loglike_to_stat(columns)
    e = energy_columns(columns, where, problems, unread)
    columns = {k: per_row(v) for k, v in columns.items()}
    sed = None
    with problems.check():  # an unreadable column still names the SED type
        sed = resolve_sed_type(sed_type, meta, [*columns, *sorted(unread)], where)
    if problems:  # the table cannot be read: what else is wrong with the columns that were read
        if sed is not None:
            energies = {k: v for k, v in e.items() if v is not None}
            problems.extend(column_problems(sed, {**energies, **columns}, where=where))
        problems.extend(negative_column_problems(columns, where, rows="region"))
        problems.raise_if_any()
    shared = shared_columns(columns, saved, where)
    model, origin = None, None
    if saved and saved.get("reference_model"):
        try:
            model = model_from_json(saved["reference_model"])
        except ModelError as exc:
            raise FormatError(f"{where}: reference model in {META_ATTRS}: {exc}") from None
    elif "ref_dnde" in shared and e["e_ref"] is not None:
        try:  # gammapy's rule: a template through e_ref and ref_dnde
            model, origin = Template(e["e_ref"], columns["ref_dnde"][0]), ORIGIN_TEMPLATE
        except ModelError:
            model = None
    extra = {
        str(k): v if isinstance(v, (str, int, float)) else json.dumps(jsonable(v), default=str)
        for k, v in table.meta.items()
        if str(k).upper() not in STRUCTURAL_META
    }
    try:
        ds = from_sed(
            sed,
            columns,
            energy_ref=e["e_ref"],
            energy_min=e["e_min"],
            energy_max=e["e_max"],
            reference_model=model,
            dims=(REGION_DIM, schema.ENERGY),
            coords=coords,
            attrs=extra,
            ul_conf=meta.get("UL_CONF"),
            where=where,
        )
    except FluxdsError as exc:  # with the negative values of the columns, if there are any
        problems.add(exc)
        problems.extend(negative_column_problems(columns, where, rows="region"))
        problems.raise_if_any()
    ds = ds.assign({name: ds[name].isel({REGION_DIM: 0}, drop=True) for name in shared if name in ds})
    if origin is not None:
        ds.attrs["reference_model_origin"] = origin
    if saved is not None:
        saved.pop(SHARED_KEY, None)
        for coord, note in saved.pop(NOTES_KEY, {}).items():
            ds[coord].attrs["note"] = note
        ds.attrs = saved
    if "SOURCE" in meta:  # structural, as in every table: the scalar source name
        ds = ds.assign_coords(source=decode_keyword_text(str(meta["SOURCE"])))
    if gti is not None:
        ds = ds.merge(gti if saved is not None else _dedup_gti(gti))
    return ds.transpose(*schema.canonical_dims(ds.dims))


def _dedup_gti(gti: xr.Dataset) -> xr.Dataset:
    """Drop GTI rows that repeat an earlier row exactly (order kept)."""
    pairs = np.stack([gti["gti_start"].values, gti["gti_stop"].values], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    return gti.isel(gti=np.sort(first))


def _fits_gti(hdul, path: str) -> xr.Dataset | None:
    from fluxds.io.gti import read_gti

    return read_gti(hdul, path)


def read(
    path: str | os.PathLike,
    *,
    hdu: str | None = None,
    sed_type: str | None = None,
    units: dict[str, str] | str | None = None,
) -> xr.Dataset:
    """Read a gammapy flux-profile table (FITS or ECSV).

    Parameters
    ----------
    path : str or path-like
    hdu : str, optional
        FITS: the table HDU (default: ``FLUXPOINTS``, else the first table with an ``x_ref`` column).
    sed_type : str, optional
        Overrides the file's ``SED_TYPE`` (gammapy writes none; it is then guessed from the columns).
    units : dict or "gadf", optional
        Units for columns that carry none.

    Returns
    -------
    xarray.Dataset
        Dims ``region``, ``energy`` (and ``scan``, ``dataset``, ``gti`` where present).
    """
    path = str(path)
    if not path.lower().endswith(".ecsv"):
        check_fits_sizes(path)
        try:
            with fits.open(path, memmap=False) as hdul:
                from fluxds.io.column_map import rename_hdu_columns

                rename_hdu_columns(hdul, path)  # columns= of fluxds.read
                table_hdu = _profile_hdu(hdul, hdu, path)
                label = table_hdu.name or "HDU 1"
                check_fits_hdu(table_hdu, path)  # before astropy reads it: within the read budget
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", AstropyWarning)
                    table = Table.read(table_hdu)
                gti = _fits_gti(hdul, path)
        except OSError as exc:
            raise FormatError(f"{path}: not a readable FITS file: {exc}") from None
        where = f"{path}[{label}]"
    else:
        table = read_ecsv_table(path)  # the header checked against the read budget first
        where = path
        text = table_meta(table).get("GTI")
        gti = gti_from_json(text, where) if text is not None else None
    return dataset_from_profile_table(table, where=where, sed_type=sed_type, units=units, gti=gti)


def _profile_hdu(hdul: fits.HDUList, hdu: str | None, path: str):
    if hdu is not None:
        if hdu not in hdul:
            raise FormatError(f"{path}: no HDU named {hdu!r}; HDUs: {[h.name for h in hdul]}")
        return hdul[hdu]
    if HDU_NAME in hdul:
        return hdul[HDU_NAME]
    for h in hdul:
        if isinstance(h, fits.BinTableHDU) and "x_ref" in [n.lower() for n in h.columns.names]:
            return h
    raise FormatError(
        f"{path}: no profile table (a table HDU with an 'x_ref' column); HDUs: {[h.name for h in hdul]}"
    )


def write(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a gammapy flux-profile table: FITS (``FLUXPOINTS`` and ``GTI`` HDUs) or ECSV (by the
    name; the GTI then goes into the table meta as JSON). Atomic; refuses to overwrite unless asked.

    Parameters
    ----------
    ds : xarray.Dataset
        With a ``region`` dimension and an ``x_ref`` coordinate (deg); variables along ``region``,
        ``energy`` and at most one of ``scan``/``dataset``.
    path : str or path-like
    sed_type : str, optional
        SED type of the columns (default ``sed_type_init``); the norms and references are written
        beside, so every type reads back to the same Dataset.
    overwrite : bool
    """
    from fluxds.io.flux_profile.write import write as _write

    _write(ds, path, sed_type=sed_type, overwrite=overwrite)


def profile_table_from_dataset(ds: xr.Dataset, sed_type: str | None = None, *, where: str = "") -> Table:
    """The gammapy profile table of a Dataset: one row per region (see
    :func:`fluxds.io.flux_profile.write.profile_table_from_dataset`)."""
    from fluxds.io.flux_profile.write import profile_table_from_dataset as _table

    return _table(ds, sed_type, where=where)
