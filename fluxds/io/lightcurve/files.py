"""Light curves in files: gammapy's "lightcurve" and "binned-time-series" layouts and the GADF v0.3
light-curve layout, in FITS and ECSV; and phase curves (:mod:`fluxds.io.lightcurve.phase`), the same
layout with one row per bin of another binned axis.

The tables themselves are mapped by :mod:`fluxds.io.lightcurve.table` (gammapy's layout, the common core),
:mod:`fluxds.io.lightcurve.gadf` and :mod:`fluxds.io.lightcurve.bts`; this module finds the tables in a
file, joins sources, handles the ``GTI`` HDU, and writes atomically. See ``docs/lightcurves.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr
from astropy.io import fits
from astropy.table import Table

from fluxds.errors import FormatError
from fluxds.io.fits_rows import EncodedTable, column_names, encode_table, write_table_file
from fluxds.io.fits_tables import (
    DEFAULT_HDU,
    join_sources,
    open_fits,
    read_table_hdu,
    single_source,
    split_sources,
)
from fluxds.io.gti import gti_hdu, read_gti
from fluxds.io.guard.ecsv_safe import read_ecsv_table
from fluxds.io.keywords import table_hdu
from fluxds.io.lightcurve.bts import bts_table_from_dataset, dataset_from_bts_table
from fluxds.io.lightcurve.gadf import (
    HDU_NAME,
    dataset_from_gadf_tables,
    gadf_tables_from_dataset,
    is_gadf_table,
)
from fluxds.io.lightcurve.phase import (
    check_row_axis,
    dataset_from_row_table,
    is_row_table,
    row_table_from_dataset,
)
from fluxds.io.lightcurve.table import dataset_from_lightcurve_table, lightcurve_table_from_dataset
from fluxds.io.output.atomic import atomic_path
from fluxds.timeaxis import shared_time_bins_problem

__all__ = [
    "read",
    "write",
    "read_binned_time_series",
    "write_binned_time_series",
    "read_phasecurve",
    "write_phasecurve",
]

_TIME_COLUMNS = {"time_min", "time_max", "time"}
_BTS_COLUMN = "time_bin_start"
LAYOUTS = ("gammapy", "gadf")


def _container(path: Path) -> str:
    from fluxds.io.detect import container_from_name, sniff_container

    container = sniff_container(path) if path.exists() else None
    container = container or container_from_name(path)
    if container not in ("fits", "ecsv"):
        raise FormatError(f"{path}: light curves are read from and written to FITS or ECSV, not {container}")
    return container


def _read_ecsv(path: str) -> Table:
    return read_ecsv_table(path)  # the header checked against the read budget first


def _names(hdu) -> set[str]:
    return {n.lower() for n in column_names(hdu)}


def _fits_tables(
    path: str, hdu: str | None, marker, what: str = "light-curve"
) -> tuple[list[tuple[str, str, Table]], xr.Dataset | None]:
    """(where, name, table) of every table HDU that ``marker(column names)`` accepts, and the GTI."""
    hdul = open_fits(path, memmap=False)
    with hdul:
        names = [h.name for h in hdul]
        if hdu is not None:
            if hdu not in hdul:
                raise FormatError(f"{path}: no HDU named {hdu!r}; HDUs: {names}")
            chosen = [hdul[hdu]]
        else:
            chosen = [
                h for h in hdul if isinstance(h, fits.BinTableHDU) and h.name != "GTI" and marker(_names(h))
            ]
        if not chosen:
            raise FormatError(f"{path}: no {what} table found; HDUs: {names}")
        tables = []
        for h in chosen:
            where = f"{path}[{h.name}]" if h.ver in (0, 1) else f"{path}[{h.name},{h.ver}]"
            label = h.header.get("SOURCE", h.header.get("EXTNAME", h.name))
            tables.append((where, str(label), read_table_hdu(h, where)))
        gti = read_gti(hdul, path)
    return tables, gti


def _layout(names: set[str]) -> str:
    if _BTS_COLUMN in names:
        return "bts"
    return "gadf" if is_gadf_table(names) else "gammapy"


_GTI_VARS = ("gti_start", "gti_stop")


def _writable(ds: xr.Dataset, where: str, what: str = "a light-curve file") -> xr.Dataset:
    """``ds`` with one set of time bins and one GTI table, as a light-curve file holds them: GTIs that
    gained a ``source`` dimension (light curves stacked with ``xr.concat``) are kept once if equal for all
    sources; anything else is refused, saying what is wrong and what to do."""
    problem = shared_time_bins_problem(ds)
    if problem:
        raise FormatError(f"{where}: {problem}")
    present = [v for v in _GTI_VARS if v in ds.data_vars]
    if not present or all(ds[v].dims == ("gti",) for v in present):
        return ds
    name = next(v for v in present if ds[v].dims != ("gti",))
    dims = ds[name].dims
    if set(dims) == {"gti", "source"}:
        first = {v: ds[v].isel(source=0) for v in present}
        same = all(bool(((ds[v] == first[v]) | (ds[v].isnull() & first[v].isnull())).all()) for v in present)
        if same:
            return ds.assign({v: first[v].drop_vars("source", errors="ignore") for v in present})
    raise FormatError(
        f"{where}: variable {name!r} has dims {dims}, and {what} holds one GTI table of dims "
        "('gti',) for all its sources; these differ between sources. Stack light curves with "
        "fluxds.concat_sources(datasets) (one GTI: the union of theirs), write netCDF or zarr (which keep "
        "a GTI per source), write each source to its own file (ds.sel(source=name)), or leave the GTI out "
        "(ds.drop_vars(['gti_start', 'gti_stop']))"
    )


def _with_gti(ds: xr.Dataset, gti: xr.Dataset | None) -> xr.Dataset:
    if gti is not None and "gti_start" not in ds.data_vars:
        ds = ds.merge(gti)
    return ds


def read(
    path: str | os.PathLike,
    *,
    hdu: str | None = None,
    sed_type: str | None = None,
    units: dict[str, str] | str | None = None,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model=None,
    gammapy_defaults: bool = False,
) -> xr.Dataset:
    """Read a light curve: gammapy's "lightcurve" table or the GADF v0.3 layout (FITS or ECSV).

    Parameters
    ----------
    path : str or path-like
    hdu : str, optional
        Read only this HDU (FITS).
    sed_type : str, optional
        Overrides ``SED_TYPE`` (gammapy writes none; then the columns tell).
    units : dict or "gadf", optional
        Units for columns without one.
    energy_ref, energy_min, energy_max : astropy Quantity, optional
        The energy band of a GADF light curve whose header gives none (or of a binned time series).
    reference_model : fluxds.models.SpectralModel, optional
        The reference model of a GADF light curve or binned time series without ``ref_*`` columns
        (default gammapy's, a power law of index 2). gammapy light curves store their references.
    gammapy_defaults : bool
        A binned time series of SED type likelihood without energies or reference fluxes is refused unless
        they are given or this is True (assume gammapy's 1-10 TeV and power law of index 2; see
        :func:`fluxds.io.lightcurve.bts.dataset_from_bts_table`). No effect on other layouts.

    Returns
    -------
    xarray.Dataset
        Dims ``(time, energy, ...)``; several gammapy-layout HDUs become a ``source`` dimension, several GADF
        HDUs (one per energy band) the energy bins.
    """
    path = str(path)
    given = dict(
        energy_ref=energy_ref, energy_min=energy_min, energy_max=energy_max, reference_model=reference_model
    )
    energy = {k: v for k, v in given.items() if v is not None}
    if _container(Path(path)) == "ecsv":
        tables, gti = [(path, "", _read_ecsv(path))], None
    else:
        tables, gti = _fits_tables(path, hdu, lambda names: bool(names & (_TIME_COLUMNS | {_BTS_COLUMN})))
    kinds = {_layout({n.lower() for n in t.colnames}) for _, _, t in tables}
    if len(kinds) > 1:
        raise FormatError(f"{path}: light-curve HDUs of different layouts ({sorted(kinds)}); pass hdu=")
    kind = kinds.pop()
    if kind == "bts":
        if len(tables) > 1:
            raise FormatError(f"{path}: several binned-time-series HDUs; pass hdu=")
        where, _, table = tables[0]
        ds = dataset_from_bts_table(
            table, where=where, sed_type=sed_type, units=units, gammapy_defaults=gammapy_defaults, **energy
        )
    elif kind == "gadf":
        ds = dataset_from_gadf_tables(
            [(w, t) for w, _, t in tables], sed_type=sed_type, units=units, **energy
        )
    else:
        if energy:
            raise FormatError(
                f"{path}: gammapy light curves store energies and references; {sorted(energy)} do not apply"
            )
        parts = [
            (label, dataset_from_lightcurve_table(t, where=w, sed_type=sed_type, units=units))
            for w, label, t in tables
        ]
        ds = parts[0][1] if len(parts) == 1 else join_sources(parts, path)
    return _with_gti(ds, gti)


def _write_tables(
    tables: list[tuple[str, Table]], ds: xr.Dataset, path, container: str, overwrite: bool
) -> None:
    if container == "ecsv":
        if len(tables) != 1:
            raise FormatError(
                f"{path}: ECSV holds one table; this light curve needs {len(tables)} (write FITS)"
            )
        with atomic_path(path, overwrite=overwrite) as tmp:
            tables[0][1].write(tmp, format="ascii.ecsv")
        return
    parts = []
    gti = False
    for i, (name, table) in enumerate(tables):
        gti = table.meta.pop("GTI", None) is not None or gti
        parts.append(_table_part(table, name, i + 1 if name == HDU_NAME else None, f"{path}[{name}]"))
    if gti:
        parts.append(gti_hdu(ds))
    with atomic_path(path, overwrite=overwrite) as tmp:
        write_table_file(tmp, parts)


def _table_part(table: Table, name: str, ver: int | None, where: str) -> EncodedTable | fits.BinTableHDU:
    """One table HDU to write: its header and rows written in one pass (:mod:`fluxds.io.fits_rows`,
    the bytes astropy writes), or an astropy HDU for a table of other columns. Column descriptions become
    ``TCOMMn`` keywords (issue 13 item 17)."""
    encoded = encode_table(table, name=name, ver=ver)
    if encoded is not None:
        return encoded
    hdu = table_hdu(table, where)
    hdu.name = name
    if ver is not None:
        hdu.ver = ver
    return hdu


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    sed_type: str | None = None,
    overwrite: bool = False,
    layout: str = "gammapy",
) -> None:
    """Write a light curve to FITS or ECSV (from the name). Atomic; refuses to overwrite unless asked.

    Parameters
    ----------
    ds : xarray.Dataset
        A light curve (``time`` dimension with ``time_min``/``time_max``).
    path : str or path-like
    sed_type : str, optional
        SED type of the columns; default the Dataset's ``sed_type_init``.
    overwrite : bool
    layout : {"gammapy", "gadf"}
        gammapy's "lightcurve" table (one HDU ``FLUXPOINTS``, or one per source named after it, and a
        ``GTI`` HDU), or the GADF v0.3 layout (one HDU ``LIGHTCURVE`` per energy bin, ``EXTVER`` 1, 2 ...).
    """
    where = str(path)
    if layout not in LAYOUTS:
        raise FormatError(f"{where}: layout={layout!r}; expected one of {LAYOUTS}")
    ds = _writable(ds, where)
    container = _container(Path(path))
    if layout == "gadf":
        part = single_source(ds, "a GADF light curve", where)
        tables = [(HDU_NAME, t) for t in gadf_tables_from_dataset(part, sed_type, where=where)]
    elif container == "ecsv":
        tables = [
            ("", lightcurve_table_from_dataset(single_source(ds, "ECSV", where), sed_type, where=where))
        ]
    else:
        tables = [
            (
                DEFAULT_HDU if name is None else name,
                lightcurve_table_from_dataset(part, sed_type, where=where),
            )
            for name, part in split_sources(ds)
        ]
    _write_tables(tables, ds, path, container, overwrite)


def read_binned_time_series(
    path: str | os.PathLike,
    *,
    hdu: str | None = None,
    sed_type: str | None = None,
    units: dict[str, str] | str | None = None,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model=None,
    gammapy_defaults: bool = False,
) -> xr.Dataset:
    """Read gammapy's "binned-time-series" light curve (astropy ``BinnedTimeSeries``; ECSV or FITS).

    See :func:`fluxds.io.lightcurve.bts.dataset_from_bts_table` for the options; without energies the bin is
    a 1-10 TeV placeholder and the reference model gammapy's default, both recorded in the Dataset; for a
    likelihood file only with ``gammapy_defaults=True`` (otherwise a ``FormatError`` saying what to pass).
    """
    path = str(path)
    options = dict(
        gammapy_defaults=gammapy_defaults,
        sed_type=sed_type,
        units=units,
        energy_ref=energy_ref,
        energy_min=energy_min,
        energy_max=energy_max,
        reference_model=reference_model,
    )
    if _container(Path(path)) == "ecsv":
        return dataset_from_bts_table(_read_ecsv(path), where=path, **options)
    tables, gti = _fits_tables(path, hdu, lambda names: _BTS_COLUMN in names)
    if len(tables) > 1:
        raise FormatError(f"{path}: several binned-time-series HDUs; pass hdu=")
    where, _, table = tables[0]
    return _with_gti(dataset_from_bts_table(table, where=where, **options), gti)


def write_binned_time_series(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a one-energy-bin light curve as a binned time series, to ECSV or FITS (HDU ``FLUXPOINTS``)."""
    where = str(path)
    container = _container(Path(path))
    ds = _writable(ds, where)
    table = bts_table_from_dataset(
        single_source(ds, "a binned time series", where), sed_type, where=where, fits=container == "fits"
    )
    _write_tables([("FLUXPOINTS", table)], ds, path, container, overwrite)


def read_phasecurve(
    path: str | os.PathLike,
    *,
    hdu: str | None = None,
    sed_type: str | None = None,
    units: dict[str, str] | str | None = None,
) -> xr.Dataset:
    """Read a phase curve (FITS or ECSV): one row per phase bin (``phase_min``, ``phase_max``, optional
    ``phase``), energies as per-row vectors; see :mod:`fluxds.io.lightcurve.phase`.

    Parameters
    ----------
    path : str or path-like
    hdu : str, optional
        Read only this HDU (FITS).
    sed_type : str, optional
        Overrides ``SED_TYPE``.
    units : dict or "gadf", optional
        Units for columns without one.

    Returns
    -------
    xarray.Dataset
        Dims ``(phase, energy, ...)``; several HDUs become a ``source`` dimension.
    """
    path = str(path)
    if _container(Path(path)) == "ecsv":
        tables, gti = [(path, "", _read_ecsv(path))], None
    else:
        tables, gti = _fits_tables(path, hdu, is_row_table, what="phase-curve")
    parts = [
        (label, dataset_from_row_table(t, where=w, sed_type=sed_type, units=units)) for w, label, t in tables
    ]
    ds = parts[0][1] if len(parts) == 1 else join_sources(parts, path)
    return _with_gti(ds, gti)


def write_phasecurve(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a phase curve to FITS (one HDU ``FLUXPOINTS``, or one per source, and ``GTI``) or ECSV (from
    the name). Atomic; refuses to overwrite unless asked.

    Parameters
    ----------
    ds : xarray.Dataset
        A Dataset with a ``phase`` dimension and ``phase_min``/``phase_max`` (and/or ``phase``) numbers.
    path : str or path-like
    sed_type : str, optional
        SED type of the columns; default the Dataset's ``sed_type_init``.
    overwrite : bool
    """
    where = str(path)
    check_row_axis(ds, where)  # before the GTIs: a Dataset without phase bins is told so first
    ds = _writable(ds, where, "a phase-curve file")
    container = _container(Path(path))
    if container == "ecsv":
        tables = [("", row_table_from_dataset(single_source(ds, "ECSV", where), sed_type, where=where))]
    else:
        tables = [
            (DEFAULT_HDU if name is None else name, row_table_from_dataset(part, sed_type, where=where))
            for name, part in split_sources(ds)
        ]
    _write_tables(tables, ds, path, container, overwrite)
