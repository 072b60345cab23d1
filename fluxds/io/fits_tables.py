"""FITS and table helpers every table family shares: opening a FITS file from elsewhere, reading a
table HDU, and splitting/joining sources (one HDU per source)."""

from __future__ import annotations

import json
import warnings
from collections import Counter

import numpy as np
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyWarning

from fluxds import schema
from fluxds.errors import FormatError
from fluxds.io.fits_rows import read_rows
from fluxds.io.guard.fits_sizes import check_fits_hdu, check_fits_sizes
from fluxds.io.keywords import descriptions_from_tcomm

__all__ = [
    "DEFAULT_HDU",
    "open_fits",
    "read_table_hdu",
    "join_sources",
    "same_bins",
    "split_sources",
    "single_source",
    "SHARED_KEY",
    "ALONG_SOURCE_KEY",
    "NAME_KEY",
]


# the EXTNAME of the one table of a GADF SED or light-curve file
DEFAULT_HDU = "FLUXPOINTS"


def open_fits(path: str, *, memmap: bool = False) -> fits.HDUList:
    """Open a FITS file, any failure as a :class:`FormatError` naming the file; a gzip-compressed file
    is first checked against the decompression limit, and every header against the file size
    (:func:`fluxds.io.guard.fits_sizes.check_fits_sizes`). The columns of its tables are renamed by the
    ``columns=`` mapping of the read in progress (:mod:`fluxds.io.column_map`).

    Within :func:`fluxds.read` the file that format detection opened, its headers parsed and checked
    already, is taken over (:func:`fluxds.io.detect.take_fits`; not for ``memmap=True``): one read opens
    a file once. Closing the returned list closes the file."""
    from fluxds.io.column_map import rename_hdu_columns  # at call time: see fluxds.io.column_map
    from fluxds.io.detect import take_fits

    opened = None if memmap else take_fits(path)
    if opened is not None:
        hdul = opened.hdul  # closing it closes the file astropy reads from
    else:
        check_fits_sizes(path)
        try:
            hdul = fits.open(path, memmap=memmap)
        except (OSError, ValueError) as exc:
            raise FormatError(f"{path}: not a readable FITS file: {exc}") from None
    try:
        rename_hdu_columns(hdul, str(path))  # columns= of fluxds.read, for every family
    except BaseException:
        hdul.close()
        raise
    return hdul


def read_table_hdu(hdu, where: str) -> Table:
    """A FITS table HDU as an astropy Table (astropy's unit warnings silenced; errors as FormatError);
    its size is checked against the read budget first (:func:`fluxds.io.guard.fits_sizes.check_fits_hdu`).

    A plain binary table (numbers, logicals, text; no scaling, nulls or heap) is read in one pass by
    :func:`fluxds.io.fits_rows.read_rows` (big-endian views of the rows, as astropy's; its NaN values not
    masked); any other table by ``Table.read``."""
    check_fits_hdu(hdu, where)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        try:
            table = read_rows(hdu, where)
            return descriptions_from_tcomm(Table.read(hdu) if table is None else table)
        except (ValueError, TypeError, KeyError) as exc:
            raise FormatError(f"{where}: cannot read the table: {exc}") from None


SHARED_KEY = "_shared_over_source"


ALONG_SOURCE_KEY = "_coords_along_source"


NAME_KEY = "_source_name"


def same_bins(datasets, dim: str = schema.ENERGY) -> bool:
    """Whether Datasets share their bins along ``dim`` (the same bin coordinates, equal values): the
    condition for one grid; otherwise they make a collection (:mod:`fluxds.collection`).

    Parameters
    ----------
    datasets : sequence of xarray.Dataset
    dim : str
        A binned dimension (``energy``, ``time``, ``phase``).

    Returns
    -------
    bool
    """
    from fluxds.collection import member_label

    axis = schema.binned_axis(dim)
    names = [*axis.coords, *([axis.centre_value] if axis.centre_value else [])] if axis else [dim]
    first = datasets[0]
    reference = {c: first.variables[c] for c in names if c in first.coords}
    for ds in datasets:
        if member_label(ds, dim) is not None:
            return False
        if {c for c in names if c in ds.coords} != set(reference):
            return False
        for coord, ref in reference.items():
            var = ds.variables[coord]
            if var is ref:
                continue
            if var.dims != ref.dims or var.shape != ref.shape or not np.array_equal(var.values, ref.values):
                return False
    return True


def join_sources(parts: list[tuple[str, xr.Dataset]], where: str) -> xr.Dataset:
    """Join one Dataset per source: along a new ``source`` dimension where they share their energy bins
    (a grid), else as a collection along ``energy`` labelled ``source``
    (:func:`fluxds.collection.stack_members`: a FITS file with one SED HDU per source, each with its own
    bins, as catalogs and compilations write them).

    Variables that a writer marked as shared by all sources (attribute ``_shared_over_source``, a JSON
    list) are kept without the ``source`` dimension; the others gain it.
    """
    names = [name for name, _ in parts]
    duplicates = sorted(n for n, k in Counter(names).items() if k > 1)
    if duplicates:
        raise FormatError(f"{where}: duplicate source names {duplicates}")
    first = parts[0][1]
    if not same_bins([ds for _, ds in parts]):
        from fluxds.collection import stack_members
        from fluxds.errors import FluxdsError

        keys = (SHARED_KEY, ALONG_SOURCE_KEY)
        cleaned = {}
        for name, ds in parts:
            ds = ds.drop_vars("source", errors="ignore")
            ds.attrs = {k: v for k, v in ds.attrs.items() if k not in keys}
            cleaned[name] = ds
        try:
            return stack_members(cleaned, label="source")
        except FluxdsError as exc:
            raise FormatError(f"{where}: the sources' tables do not go together: {exc}") from None
    shared = [v for v in json.loads(first.attrs.get(SHARED_KEY, "[]")) if v in first.data_vars]
    along = [c for c in json.loads(first.attrs.get(ALONG_SOURCE_KEY, "[]")) if c in first.coords]
    models = {name: ds.attrs.get("reference_model") for name, ds in parts}
    joined = xr.concat(
        [ds.drop_vars(["source", *shared, *along], errors="ignore") for _, ds in parts],
        dim=xr.DataArray(names, dims="source", name="source"),
        data_vars="all",
        coords="minimal",
        combine_attrs="drop_conflicts",
        join="exact",
    )
    joined = joined.assign({v: first[v] for v in shared})
    joined = joined.assign_coords(
        {c: ("source", [ds[c].values[()] for _, ds in parts], first[c].attrs) for c in along}
    )
    joined.attrs.pop(SHARED_KEY, None)
    joined.attrs.pop(ALONG_SOURCE_KEY, None)
    if len(set(models.values())) > 1:
        joined.attrs["reference_model"] = json.dumps(
            {"by_source": {n: json.loads(m) for n, m in models.items() if m}}
        )
    return joined.transpose(*schema.canonical_dims(joined.dims))


def split_sources(ds: xr.Dataset) -> list[tuple[str | None, xr.Dataset]]:
    if "source" not in ds.dims:
        return [(None, ds)]
    by_source = None
    text = ds.attrs.get("reference_model")
    if text and '"by_source"' in text:
        by_source = {n: json.dumps(m) for n, m in json.loads(text)["by_source"].items()}
    shared = [str(v) for v in ds.data_vars if "source" not in ds[v].dims and not str(v).startswith("gti_")]
    along_source = [str(c) for c in ds.coords if c != "source" and ds[c].dims == ("source",)]
    parts = []
    for name in ds["source"].values.tolist():
        part = ds.sel(source=name)
        # a new dict: sel() shares ds.attrs
        attrs = {**part.attrs, SHARED_KEY: json.dumps(shared), ALONG_SOURCE_KEY: json.dumps(along_source)}
        if by_source is not None:
            attrs["reference_model"] = by_source.get(str(name), "")
        attrs[NAME_KEY] = str(name)  # exact, whatever a FITS header can hold (see _hdu_name)
        part.attrs = attrs
        parts.append((str(name), part))
    return parts


def single_source(ds: xr.Dataset, fmt: str, where: str) -> xr.Dataset:
    if "source" in ds.dims:
        if ds.sizes["source"] == 1:
            return ds.isel(source=0)
        raise FormatError(
            f"{where}: {fmt} holds one table, and this Dataset has {ds.sizes['source']} sources; "
            "write FITS (one HDU per source) or netCDF, or select one source"
        )
    return ds
