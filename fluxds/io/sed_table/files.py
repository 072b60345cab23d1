"""GADF SED tables in files: FITS (one HDU per source, GTI HDU), ECSV and HDF5 (one table).

The mapping between a table and a Dataset lives in :mod:`fluxds.io.gadf_table`; this module only finds the
tables in a file, joins several sources along ``source``, and writes atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table

from fluxds.errors import FluxdsError, FormatError
from fluxds.io.fits_tables import (
    ALONG_SOURCE_KEY,
    DEFAULT_HDU,
    NAME_KEY,
    SHARED_KEY,
    join_sources,
    open_fits,
    read_table_hdu,
    single_source,
    split_sources,
)
from fluxds.io.gadf_table import dataset_from_table, guess_sed_type, table_from_dataset
from fluxds.io.gti import gti_hdu, read_gti
from fluxds.io.guard.ecsv_safe import read_ecsv_table
from fluxds.io.guard.hdf5_layout import check_hdf5_layout
from fluxds.io.keywords import decode_keyword_text, table_hdu
from fluxds.io.output.atomic import atomic_path
from fluxds.io.vocabulary import canonical_column

__all__ = ["read_fits", "write_fits", "read_ecsv", "write_ecsv", "read_hdf5", "write_hdf5"]


def _is_sed_hdu(hdu) -> bool:
    if not isinstance(hdu, fits.BinTableHDU) or hdu.name == "GTI":
        return False
    names = [canonical_column(n) for n in hdu.columns.names]
    has_energy = "e_ref" in names or ("e_min" in names and "e_max" in names)
    return has_energy and guess_sed_type(names) is not None


def read_fits(path: str | os.PathLike, *, hdu: str | None = None, **options) -> xr.Dataset:
    """Read a GADF SED FITS file (one SED HDU, or one per source, and an optional GTI HDU).

    Parameters
    ----------
    path : str or path-like
    hdu : str, optional
        Read only this HDU.
    **options
        ``sed_type`` (overrides ``SED_TYPE``), ``derive_edges``, ``units``: see
        :func:`fluxds.io.gadf_table.dataset_from_table`.

    Returns
    -------
    xarray.Dataset
        With a ``source`` dimension when the file holds several SED HDUs (named by ``EXTNAME``, or the
        ``SOURCE`` keyword where present).
    """
    path = str(path)
    hdul = open_fits(path, memmap=False)
    with hdul:
        if hdu is not None:
            if hdu not in hdul:
                names = [h.name for h in hdul]
                raise FormatError(f"{path}: no HDU named {hdu!r}; HDUs: {names}")
            sed_hdus = [hdul[hdu]]
        else:
            sed_hdus = [h for h in hdul if _is_sed_hdu(h)]
        if not sed_hdus:
            names = [h.name for h in hdul]
            raise FormatError(
                f"{path}: no GADF SED table found (a table HDU with e_ref or e_min/e_max and a "
                f"norm/dnde/e2dnde/flux/eflux column); HDUs: {names}"
            )
        parts = []
        for i, h in enumerate(sed_hdus):
            label = h.name or f"HDU {hdul.index_of(h) if h in hdul else i}"
            where = f"{path}[{label}]"
            ds = dataset_from_table(read_table_hdu(h, where), where=where, **options)
            name = ds.attrs.pop(NAME_KEY, None)  # written by fluxds: exact
            if name is None:
                name = decode_keyword_text(str(h.header.get("SOURCE", h.header.get("EXTNAME", h.name))))
            parts.append((str(name), ds))
        gti = read_gti(hdul, path)
    if len(parts) == 1 and (hdu is not None or SHARED_KEY not in parts[0][1].attrs):
        ds = parts[0][1]
        for key in (SHARED_KEY, ALONG_SOURCE_KEY):  # one source of a multi-source file, asked for by HDU
            ds.attrs.pop(key, None)
    else:  # several sources, or one written from a ``source`` dimension of length 1 (the writer marks it)
        ds = join_sources(parts, path)
    if gti is not None and "gti_start" not in ds.data_vars:
        ds = ds.merge(gti)
    return ds


def _hdu_name(name: str, index: int, taken: set[str]) -> str:
    """The EXTNAME of a source's HDU: its name where a FITS header holds it unchanged (printable ASCII,
    no leading/trailing blanks, <= 68 characters), else ``SOURCE<index>``; the exact name travels in the
    HDU's fluxds metadata either way."""
    safe = name.isascii() and name.isprintable() and name == name.strip() and 0 < len(name) <= 68
    candidate = name if safe and name.upper() not in taken else f"SOURCE{index}"
    while candidate.upper() in taken:
        candidate += "_"
    taken.add(candidate.upper())
    return candidate


def write_fits(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a GADF SED FITS file: a ``FLUXPOINTS`` HDU (or one HDU per source, ``EXTNAME`` = source
    name) and a ``GTI`` HDU when the Dataset has one. Atomic; refuses to overwrite unless asked."""
    where = str(path)
    hdus = [fits.PrimaryHDU()]
    gti_text = None
    taken: set[str] = {"PRIMARY", "GTI"}
    for index, (name, part) in enumerate(split_sources(ds)):
        table = table_from_dataset(part, sed_type, where=where)
        gti_text = table.meta.pop("GTI", gti_text)
        hdu = table_hdu(table, where)
        hdu.name = DEFAULT_HDU if name is None else _hdu_name(name, index, taken)
        hdus.append(hdu)
    if gti_text is not None:
        hdus.append(gti_hdu(ds))
    with atomic_path(path, overwrite=overwrite) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def read_ecsv(path: str | os.PathLike, **options) -> xr.Dataset:
    """Read a GADF SED table from ECSV (astropy's safe YAML header reader); ``options`` as for
    :func:`read_fits`."""
    where = str(path)
    table = read_ecsv_table(where)  # the header checked against the read budget first
    return dataset_from_table(table, where=where, **options)


def write_ecsv(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a GADF SED table to ECSV (one source; the GTI goes into the meta as JSON)."""
    where = str(path)
    table = table_from_dataset(single_source(ds, "ECSV", where), sed_type, where=where, ascii_text=False)
    with atomic_path(path, overwrite=overwrite) as tmp:
        table.write(tmp, format="ascii.ecsv")


#: astropy reads an HDF5 table into an array, then copies it into the Table's columns
_HDF5_TABLE_COPIES = 2
_HDF5_META_KEY = "__table_column_meta__"  # astropy's serialised metadata: an attribute (astropy < 3) ...
_HDF5_META_SUFFIX = "." + _HDF5_META_KEY  # ... or a dataset beside the table


def _check_hdf5_table(f, hdf5_path: str, where: str) -> None:
    """The table astropy will read (and its serialised metadata) against the read budget, from the
    declared shapes alone; the metadata's YAML against alias bombs (:mod:`fluxds.io.guard.yaml_safe`)."""
    import h5py

    from fluxds.io.guard.budget import check_allocation, read_budget
    from fluxds.io.guard.hdf5_sizes import chunk_bytes, dataset_nbytes

    if hdf5_path not in f or not isinstance(f[hdf5_path], h5py.Dataset):
        raise FormatError(f"{where}: no table {hdf5_path!r} in the HDF5 file")
    table = f[hdf5_path]
    label = f"{where}[{hdf5_path}]"
    meta = f.get(hdf5_path + _HDF5_META_SUFFIX)
    meta = meta if isinstance(meta, h5py.Dataset) else None
    limit = read_budget()
    rows = _HDF5_TABLE_COPIES * dataset_nbytes(table)
    inflate = max(chunk_bytes(table, limit), chunk_bytes(meta, limit) if meta is not None else 0)
    meta_bytes = dataset_nbytes(meta) if meta is not None else 0
    what = (
        f"a table of declared shape {tuple(int(n) for n in table.shape)} of {table.dtype.itemsize}-byte "
        f"rows (read, then copied into columns){f', {meta_bytes} bytes of metadata' if meta_bytes else ''}"
        f"{f', chunks HDF5 may inflate to {inflate} bytes' if inflate else ''}"
    )
    check_allocation(rows + meta_bytes + inflate, path=where, variable=hdf5_path, what=what)
    # the YAML astropy parses: the metadata dataset, or (files of astropy < 3) an attribute of the table
    found = meta[()] if meta is not None else table.attrs.get(_HDF5_META_KEY)
    if found is not None:
        from fluxds.io.guard.yaml_safe import check_yaml

        values = np.asarray(found).ravel()
        lines = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in values]
        check_yaml("\n".join(lines), path=label, what="HDF5 table metadata (YAML)")


def read_hdf5(path: str | os.PathLike, *, hdf5_path: str | None = None, **options) -> xr.Dataset:
    """Read a GADF SED table stored with astropy's HDF5 table writer (the GADF samples' flavour: meta as
    HDF5 attributes, and no units unless the writer serialised them: pass ``units="gadf"`` then).

    ``hdf5_path`` names the table (default: the first table in the file); ``options`` as for
    :func:`read_fits`.
    """
    from fluxds.io.column_map import rename_table_columns  # at call time: see fluxds.io.column_map

    where = str(path)
    try:
        import h5py

        with h5py.File(where, "r") as f:
            check_hdf5_layout(f, where)
            if hdf5_path is None:
                found = []
                f.visititems(
                    lambda n, o: found.append(n) if isinstance(o, h5py.Dataset) and o.dtype.names else None
                )
                if not found:
                    raise FormatError(f"{where}: no table found in the HDF5 file")
                hdf5_path = found[0]
            _check_hdf5_table(f, hdf5_path, where)
        table = Table.read(where, format="hdf5", path=hdf5_path)
        rename_table_columns(table, f"{where}[{hdf5_path}]")  # columns= of fluxds.read
    except FluxdsError:
        raise
    except Exception as exc:  # h5py raises OSError/KeyError/ValueError, among others
        raise FormatError(f"{where}: not a readable HDF5 table: {exc}") from None
    return dataset_from_table(table, where=f"{where}[{hdf5_path}]", **options)


def write_hdf5(
    ds: xr.Dataset, path: str | os.PathLike, *, sed_type: str | None = None, overwrite: bool = False
) -> None:
    """Write a GADF SED table to HDF5 (astropy's table layout, meta serialised)."""
    where = str(path)
    table = table_from_dataset(single_source(ds, "HDF5", where), sed_type, where=where, ascii_text=False)
    with atomic_path(path, overwrite=overwrite) as tmp:
        table.write(Path(tmp), format="hdf5", path="sed", serialize_meta=True)


def read_ascii(
    path: str | os.PathLike,
    *,
    columns: dict[str, str] | None = None,
    ul_conf: float | None = None,
    **options,
) -> xr.Dataset:
    """Read a plain-text SED table (whitespace or comma separated, with a header line).

    Plain text holds no units and often other column names, so both are given explicitly: nothing is
    guessed.

    Parameters
    ----------
    path : str or path-like
    columns : dict, optional
        File column name -> GADF name, e.g. ``{"E": "e_ref", "Differential_Flux": "dnde"}``; default
        the ``columns=`` of :func:`fluxds.read` (every table reader takes it: :mod:`fluxds.io.column_map`).
    ul_conf : float, optional
        Confidence level of the upper limits.
    **options
        ``units`` (GADF name -> unit string, for every column with a physical dimension; or
        ``"gadf"``), ``sed_type``, ``derive_edges``: see :func:`read_fits`.

    Returns
    -------
    xarray.Dataset
    """
    from fluxds.io.column_map import rename_table_columns  # at call time: see fluxds.io.column_map

    where = str(path)
    try:
        table = Table.read(where, format="ascii")
    except Exception as exc:  # astropy's ascii readers raise many kinds of errors
        raise FormatError(f"{where}: not a readable text table: {exc}") from None
    rename_table_columns(table, where, columns)  # given here, or columns= of fluxds.read
    if ul_conf is not None:
        table.meta["UL_CONF"] = ul_conf
    return dataset_from_table(table, where=where, **options)
