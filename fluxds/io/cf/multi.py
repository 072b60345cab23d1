"""Many files as one Dataset: ``xarray.open_mfdataset`` over fluxds netCDF/zarr files, decoded."""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence

import xarray as xr

from fluxds.errors import FormatError
from fluxds.io.cf.encoding import decode
from fluxds.io.cf.netcdf import check_netcdf_file
from fluxds.io.guard.input_file import check_input
from fluxds.io.guard.untrusted import check_zarr_codecs
from fluxds.io.guard.zarr_safe import walk_store
from fluxds.validate import validate

__all__ = ["open_mfdataset"]


def open_mfdataset(
    paths: str | Sequence[str | os.PathLike],
    *,
    concat_dim: str | None = None,
    chunks=None,
    **kwargs,
) -> xr.Dataset:
    """Open many netCDF (or zarr) files written by fluxds as one lazy Dataset.

    Parameters
    ----------
    paths : str (a glob) or sequence of paths
    concat_dim : str, optional
        Concatenate along this dimension in the order given (e.g. ``"source"`` for per-source SED files,
        which hold a scalar ``source`` coordinate); every variable gains the dimension. Without it the
        files are combined by their coordinates (e.g. per-night light curves along ``time``), and
        variables without that dimension are kept once.
    chunks : dict, optional
        dask chunks (default: one chunk per file).
    **kwargs
        Passed to :func:`xarray.open_mfdataset`. Variables without the combining dimension are kept once
        and must be equal in every file (``compat="equals"``); where they differ on purpose (e.g. each
        night's own GTI), pass ``drop_variables=["gti_start", "gti_stop"]`` or ``compat="override"``
        (first file wins).

    Returns
    -------
    xarray.Dataset
        Dask-backed, in the fluxds form (each file decoded from its CF encoding), validated.
    """
    options = {"preprocess": decode, "chunks": chunks if chunks is not None else {}, **kwargs}
    # variables without the combining dimension (per-energy references, a shared GTI) are kept once and
    # must agree between the files: files that differ there raise instead of losing values silently
    options.setdefault("data_vars", "minimal")
    options.setdefault("coords", "minimal")
    options.setdefault("compat", "equals")
    if concat_dim is not None:
        options.setdefault("combine", "nested")
        options.setdefault("concat_dim", concat_dim)
        # each file is one slice: every variable (and per-file scalars such as positions) gains the
        # dimension; comparing them instead would read them all
        options["data_vars"] = kwargs.get("data_vars", "all")
        options["coords"] = kwargs.get("coords", "different")
    else:
        options.setdefault("combine", "by_coords")
    options.setdefault("combine_attrs", "drop_conflicts")
    listed = sorted(glob.glob(paths)) if isinstance(paths, str) else list(paths)
    for path in listed:
        check_input(path)  # a FIFO, /dev/zero (a link to it) ... refused before any reader opens it
        if os.path.isdir(path):  # a zarr store from elsewhere: no link or special file inside, no pickle
            walk_store(path)
            check_zarr_codecs(path)
        else:  # a netCDF file: HDF5 layout or classic header checked before the C libraries read it
            check_netcdf_file(path)
    try:
        ds = xr.open_mfdataset(paths, **options)
    except (OSError, ValueError) as exc:
        raise FormatError(f"{paths}: cannot open and combine the files: {exc}") from None
    return validate(ds, where=str(paths))
