"""Reading and writing: format detection and dispatch to one module per format family."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from fluxds.errors import FormatError, UnknownFormatError
from fluxds.io import netcdf, sed_files

__all__ = ["read", "write", "detect_format", "FORMATS"]

# format name -> (reader, writer)
FORMATS = {
    "gadf-sed": (sed_files.read_fits, sed_files.write_fits),
    "ecsv": (sed_files.read_ecsv, sed_files.write_ecsv),
    "hdf5": (sed_files.read_hdf5, sed_files.write_hdf5),
    "netcdf": (netcdf.read_netcdf, netcdf.write_netcdf),
    "ascii": (sed_files.read_ascii, None),
}
_SUFFIXES = {
    ".fits": "gadf-sed",
    ".fit": "gadf-sed",
    ".fts": "gadf-sed",
    ".fits.gz": "gadf-sed",
    ".ecsv": "ecsv",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
}


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            head = handle.read(2048)
    except OSError as exc:
        raise FormatError(f"{path}: cannot open: {exc}") from None
    if head.startswith(b"SIMPLE  ="):
        return "gadf-sed"
    if head.startswith(b"\x1f\x8b"):
        return "gadf-sed" if path.name.endswith(".gz") else None
    if head.lstrip().startswith(b"# %ECSV"):
        return "ecsv"
    if head.startswith(b"CDF\x01") or head.startswith(b"CDF\x02"):
        return "netcdf"
    if head.startswith(b"\x89HDF"):
        return "netcdf" if b"_NCProperties" in head or _is_netcdf4(path) else "hdf5"
    return None


def _is_netcdf4(path: Path) -> bool:
    import h5py

    try:
        with h5py.File(path, "r") as f:
            return "_NCProperties" in f.attrs or any(
                "DIMENSION_LIST" in obj.attrs or "CLASS" in obj.attrs
                for obj in f.values()
                if isinstance(obj, h5py.Dataset)
            )
    except OSError:
        return False


def detect_format(path: str | os.PathLike) -> str:
    """The format of a file, from its content (magic bytes) and then its name.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    UnknownFormatError
    """
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such file")
    found = _sniff(path)
    if found:
        return found
    name = path.name.lower()
    for suffix, fmt in _SUFFIXES.items():
        if name.endswith(suffix):
            return fmt
    raise UnknownFormatError(
        f"{path}: cannot tell the format from the content or the name; pass format= one of "
        f"{', '.join(FORMATS)}"
    )


def _format_for_writing(path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise UnknownFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    name = path.name.lower()
    for suffix, found in _SUFFIXES.items():
        if name.endswith(suffix):
            return found
    raise UnknownFormatError(
        f"{path}: cannot tell the format from the name; pass format= one of {', '.join(FORMATS)}"
    )


def read(path: str | os.PathLike, format: str | None = None, **kwargs) -> xr.Dataset:
    """Read any file fluxds knows into a fluxds Dataset.

    Parameters
    ----------
    path : str or path-like
    format : str, optional
        One of ``gadf-sed`` (FITS), ``ecsv``, ``hdf5``, ``netcdf``, ``ascii`` (plain text, with
        ``columns=`` and ``units=`` maps); detected when not given (never ``ascii``).
    **kwargs
        Passed to the reader (e.g. ``sed_type=``, ``hdu=`` for FITS).

    Returns
    -------
    xarray.Dataset
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return FORMATS[fmt][0](path, **kwargs)


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    format: str | None = None,
    sed_type: str | None = None,
    overwrite: bool = False,
) -> None:
    """Write a fluxds Dataset; see :meth:`fluxds.SedAccessor.write`."""
    fmt = _format_for_writing(Path(path), format)
    writer = FORMATS[fmt][1]
    if writer is None:
        raise UnknownFormatError(f"{path}: fluxds reads {fmt!r} but does not write it")
    if fmt == "netcdf":
        if sed_type not in (None, "likelihood"):
            raise FormatError(
                f"{path}: netCDF holds the likelihood form; convert with ds.sed.to_sed_type() first "
                "if you want other variables in the file"
            )
        writer(ds, path, overwrite=overwrite)
    else:
        writer(ds, path, sed_type=sed_type, overwrite=overwrite)
