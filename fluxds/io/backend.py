"""The xarray backend: ``xr.open_dataset(path, engine="fluxds")`` reads any file fluxds reads.

WCS flux maps come back dask-backed and memory-mapped (read only when computed), so that
``chunks=`` never reads a large map eagerly; the other formats are read eagerly.

A doorway only: reading lives in :mod:`fluxds.io`. Registered as the ``fluxds`` entry point in
``pyproject.toml``, so it works without importing fluxds first.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from xarray.backends import BackendEntrypoint

__all__ = ["FluxdsBackendEntrypoint"]

_EXTENSIONS = (".fits", ".fits.gz", ".fit", ".fts", ".ecsv", ".h5", ".hdf5")


class FluxdsBackendEntrypoint(BackendEntrypoint):
    """Open GADF SED tables (FITS, ECSV, HDF5) as fluxds Datasets."""

    description = "Gamma-ray flux estimates (GADF SED tables) as fluxds Datasets"
    url = "https://github.com/fluxds/fluxds"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format", "sed_type", "hdu")

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike,
        *,
        drop_variables: Iterable[str] | None = None,
        format: str | None = None,
        sed_type: str | None = None,
        hdu: str | None = None,
    ):
        from fluxds.io import detect_format, lazy_format_names, read

        kwargs = {"sed_type": sed_type} if sed_type else {}
        if hdu is not None:
            kwargs["hdu"] = hdu
        fmt = format or detect_format(filename_or_obj)
        if fmt in lazy_format_names():
            # xarray chunks after the backend returns: hand it memory-mapped dask arrays, so that a large
            # map is not read before the user's chunks= applies (and is read only when computed)
            kwargs["chunks"] = {}
        ds = read(filename_or_obj, format=fmt, **kwargs)
        if drop_variables:
            ds = ds.drop_vars(list(drop_variables), errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj) -> bool:
        try:
            name = Path(filename_or_obj).name.lower()
        except TypeError:
            return False
        return name.endswith(_EXTENSIONS)
