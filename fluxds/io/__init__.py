"""Reading and writing: format detection and dispatch to one module per format family.

Each format family lives in its own module, imported when first used; this registry is the only place
that knows them all. A reader is ``read(path, **options) -> Dataset``; a writer is
``write(ds, path, *, sed_type=None, overwrite=False, **options)``.
"""

from __future__ import annotations

import importlib
import os
import struct
import zlib
from pathlib import Path

import xarray as xr

from fluxds.errors import FluxdsError, FormatError, UnknownFormatError
from fluxds.io.budget import budget_scope
from fluxds.io.fits_sizes import check_fits_sizes
from fluxds.io.input_file import check_input
from fluxds.io.untrusted import check_gzip_size, check_not_pickle, check_zarr_codecs

__all__ = ["read", "write", "open_dataset", "detect_format", "FORMATS", "LAZY_FORMATS"]

# format name -> ("module:reader", "module:writer" or None)
FORMATS: dict[str, tuple[str, str | None]] = {
    "gadf-sed": ("fluxds.io.sed_files:read_fits", "fluxds.io.sed_files:write_fits"),
    "ecsv": ("fluxds.io.sed_files:read_ecsv", "fluxds.io.sed_files:write_ecsv"),
    "hdf5": ("fluxds.io.sed_files:read_hdf5", "fluxds.io.sed_files:write_hdf5"),
    "ascii": ("fluxds.io.sed_files:read_ascii", None),
    "netcdf": ("fluxds.io.netcdf:read_netcdf", "fluxds.io.netcdf:write_netcdf"),
    "zarr": ("fluxds.io.zarr_store:read_zarr", "fluxds.io.zarr_store:write_zarr"),
    "lightcurve": ("fluxds.io.lightcurve:read", "fluxds.io.lightcurve:write"),
    "binned-time-series": (
        "fluxds.io.lightcurve:read_binned_time_series",
        "fluxds.io.lightcurve:write_binned_time_series",
    ),
    "flux-map": ("fluxds.io.flux_maps:read", "fluxds.io.flux_maps:write"),
    "healpix-map": ("fluxds.io.healpix:read", "fluxds.io.healpix:write"),
    "tscube": ("fluxds.io.tscube:read", "fluxds.io.tscube:write"),
    "profile": ("fluxds.io.profile:read", "fluxds.io.profile:write"),
    # issue 13 item 4: fermipy's own SED layout (GTAnalysis.sed); read by the GADF SED reader
    "fermipy-sed": ("fluxds.io.sed_files:read_fits", "fluxds.io.fermipy_sed:write"),
}
# what the libraries under the readers (astropy, h5py, netCDF4, zarr, numpy) raise for a damaged file:
# turned into a FormatError naming the file at the reading boundary (the original kept as __cause__)
_DAMAGED = (
    OSError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    EOFError,
    OverflowError,
    RuntimeError,
    ZeroDivisionError,
    AssertionError,  # astropy asserts on some malformed column definitions
    struct.error,
    zlib.error,
)
_LIBRARIES = ("astropy.", "h5py", "netCDF4", "zarr", "numcodecs", "h5netcdf", "yaml")


def _is_damage(exc: Exception) -> bool:
    """Whether an exception from a reader is a verdict on a damaged file rather than a fluxds bug to let
    through: one of :data:`_DAMAGED`, an exception class of a library (astropy's VerifyError ...), or any
    exception raised inside a library's code (astropy's own UnboundLocalError on some broken TFORMs)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    in_library = tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_LIBRARIES)
    if in_library or type(exc).__module__.startswith(_LIBRARIES):
        return True
    if isinstance(exc, TypeError) and "argument" in str(exc):
        return False  # a call with wrong arguments (e.g. an unknown read option): a caller's error
    return isinstance(exc, _DAMAGED)


# formats whose reader maps the file's data lazily (memmap + dask) when given ``chunks=``
LAZY_FORMATS = ("flux-map", "healpix-map", "tscube")
_FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
_CONTAINERS = {
    **{s: "fits" for s in _FITS_SUFFIXES},
    ".ecsv": "ecsv",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
    ".zarr": "zarr",
}
# a Dataset's dimensions -> the table/map layout that holds it (first match)
_LAYOUT_BY_DIM = (
    ("pixel", "healpix-map"),
    ("lat", "flux-map"),
    ("time", "lightcurve"),
    ("region", "profile"),
)


def _resolve(spec: str, fmt: str, path) -> object:
    module_name, _, function = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownFormatError(
            f"{path}: the {fmt!r} format (lightcurve, flux map ...) is not part of this fluxds version"
        ) from None
    return getattr(module, function)


def _sniff(path: Path) -> str | None:
    """The container from the first bytes: fits, ecsv, netcdf, hdf5."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(2048)
    except OSError as exc:
        raise FormatError(f"{path}: cannot open: {exc}") from None
    check_not_pickle(head, path)  # never unpickled: refused before any reader sees the file
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"\x1f\x8b"):
        check_gzip_size(path)  # a gzip bomb is refused before anything decompresses it
        return "fits" if path.name.lower().endswith(".gz") else None
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


def _container_from_name(path: Path) -> str | None:
    name = path.name.lower()
    for suffix, container in _CONTAINERS.items():
        if name.endswith(suffix):
            return container
    return None


def _fits_layout(path: Path) -> str:
    from astropy.io import fits

    from fluxds.io.layouts import fits_layout

    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            return fits_layout(hdul)
    except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        raise FormatError(f"{path}: not a readable FITS file: {exc}") from None


def _ecsv_layout(path: Path) -> str:
    from fluxds.io.layouts import table_layout

    names = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            stripped = line.lstrip("# ").strip()
            if stripped.startswith("- {name:") or stripped.startswith("- name:"):
                names.append(stripped.split("name:", 1)[1].split(",", 1)[0].strip(" }'\""))
    layout = table_layout(names)
    return "ecsv" if layout == "gadf-sed" else layout


def detect_format(path: str | os.PathLike) -> str:
    """The format of a file, from its content (magic bytes, HDU and column names) and then its name.

    Returns
    -------
    str
        One of :data:`FORMATS`.

    Raises
    ------
    UnknownFormatError
    """
    path = Path(path)
    check_input(path)  # a FIFO or a device: refused before its first bytes are read (no hang)
    if path.is_dir():
        from fluxds.io.zarr_store import is_zarr_store

        if is_zarr_store(path):
            return "zarr"
        raise UnknownFormatError(f"{path}: a directory, and not a zarr store")
    container = _sniff(path) or _container_from_name(path)
    if container == "fits":
        check_fits_sizes(path)  # no allocation because a header declares huge dimensions
        return _fits_layout(path)
    if container == "ecsv":
        return _ecsv_layout(path)
    if container in ("netcdf", "hdf5"):
        return container
    raise UnknownFormatError(
        f"{path}: cannot tell the format from the content or the name; pass format= one of "
        f"{', '.join(FORMATS)}"
    )


def _format_for_writing(ds: xr.Dataset, path: Path, fmt: str | None) -> str:
    if fmt is not None:
        if fmt not in FORMATS:
            raise UnknownFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
        return fmt
    container = _container_from_name(path)
    if container is None:
        raise UnknownFormatError(
            f"{path}: cannot tell the format from the name; pass format= one of {', '.join(FORMATS)}"
        )
    if container in ("netcdf", "hdf5", "zarr"):
        return container
    if container == "fits" and _is_tscube(ds):
        return "tscube"
    for dim, layout in _LAYOUT_BY_DIM:
        if dim in ds.dims:
            return layout
    return "gadf-sed" if container == "fits" else "ecsv"


def _is_tscube(ds: xr.Dataset) -> bool:
    """A WCS map with variables on the sky pixels alone (a TS cube's ``fit_*``, ``ts_image``): the flux-map
    layout has no place for them, a TS cube's FITDATA does (issue 13 item 13)."""
    from fluxds import schema
    from fluxds.wcs import LAT, LON

    return (
        LAT in ds.dims
        and schema.ENERGY in ds.dims
        and any(set(var.dims) == {LAT, LON} for var in ds.data_vars.values())
    )


def read(
    path: str | os.PathLike,
    format: str | None = None,
    *,
    isolate: bool | float = False,
    max_bytes: int | str | None = None,
    strict: bool = False,
    **kwargs,
) -> xr.Dataset:
    """Read any file fluxds knows into a fluxds Dataset.

    Parameters
    ----------
    path : str or path-like
    format : str, optional
        One of :data:`FORMATS` (``gadf-sed`` for a FITS SED table, ``ecsv``, ``hdf5``, ``netcdf``,
        ``ascii`` for plain text with ``columns=`` and ``units=`` maps, ``lightcurve``, ``flux-map`` ...);
        detected when not given (never ``ascii``).
    isolate : bool or float
        For files from elsewhere: first read the file in a separate, confined Python process (isolated
        mode, a private working folder), with a limit of CPU time counted from when that process is
        ready to read (``True``: 60 s, or a number of seconds > 0; ``False``/``None``: off) and a memory
        cap sized from the read budget, and refuse the file with a ``FormatError`` if that process is
        killed, runs out of time or of memory (a damaged HDF5/netCDF file can abort or hang the C
        library). 0, negative, NaN or infinite values raise ``ValueError``. See
        :func:`fluxds.io.isolated.probe`.
    max_bytes : int or str, optional
        The read budget for this call: bytes (or a size such as ``"8GiB"``) the read may materialise;
        a file declaring more is refused with a :class:`~fluxds.errors.BudgetError` before anything
        is allocated. Default: :func:`fluxds.io.budget.read_budget`.
    strict : bool
        Impossible numbers (a negative error or reference flux, ``e_ref`` outside its bin, a NaN GTI) are
        always refused; suspicious ones (an upper limit below the best fit) are a
        :class:`~fluxds.errors.PhysicsWarning`, or with ``strict=True`` refused too. See
        :func:`fluxds.validate.physics_problems`.
    **kwargs
        Passed to the reader (e.g. ``sed_type=``, ``hdu=`` for FITS, ``units="gadf"``).

    Returns
    -------
    xarray.Dataset
    """
    from fluxds.validate import check_physics  # issue 12 item 10: impossible / suspicious numbers

    with budget_scope(max_bytes):
        return check_physics(
            _read(path, format, isolate, max_bytes, **kwargs), where=str(path), strict=strict
        )


def _read(path, format, isolate, max_bytes, **kwargs) -> xr.Dataset:
    from fluxds.io.isolated import isolation_limit, vetted_copy

    seconds = isolation_limit(isolate)  # 0, < 0, NaN, inf, a string ...: a usage error, not "off"
    if seconds is None:
        return _read_path(path, format, **kwargs)
    # the child and this process read the same private copy: replacing the file at ``path`` once the child
    # has closed it changes nothing. The budget in force (max_bytes=) reaches the child through read_budget()
    with vetted_copy(path, seconds, **({"format": format} if format else {}), **kwargs) as copy:
        return _read_path(copy, format, **kwargs).load()  # the copy goes on leaving: nothing read later


def _read_path(path, format, **kwargs) -> xr.Dataset:
    check_input(path)  # a FIFO, /dev/zero (a link to it) ... refused before any reader opens it
    try:
        fmt = format or detect_format(path)
    except FluxdsError:
        raise
    except Exception as exc:
        if not _is_damage(exc):
            raise
        raise FormatError(f"{path}: cannot tell the format ({type(exc).__name__}: {exc})") from exc
    if fmt not in FORMATS:
        raise UnknownFormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if kwargs.get("columns") is not None and fmt != "ascii":  # issue 13 item 22: not a raw TypeError
        raise FormatError(
            f"{path}: columns= (a mapping of the file's column names to fluxds names) is for plain-text "
            f"tables (format='ascii'); this file is read as {fmt!r}, whose reader takes the column names "
            "the format defines"
        )
    if fmt == "zarr" and Path(path).is_dir():
        check_zarr_codecs(path)  # zarr 2 would unpickle object arrays
    reader = _resolve(FORMATS[fmt][0], fmt, path)
    try:
        return reader(path, **kwargs)
    except FluxdsError as exc:
        if str(path) in str(exc):
            raise
        # every error of a read names the file, even one raised deep down without it
        named = type(exc)(f"{path}: {exc}")  # the message lists the problems already
        named.problems = exc.problems
        raise named from exc
    except Exception as exc:
        if not _is_damage(exc):  # a bad argument to the reader, or a fluxds bug: as it is
            raise
        raise FormatError(
            f"{path}: cannot be read as {fmt!r}, the file is damaged or not what its layout says "
            f"({type(exc).__name__}: {exc})"
        ) from exc


# formats whose writer makes FITS whatever the file is called, and what they hold (issue 13 item 16)
_FITS_ONLY = {
    "flux-map": "a WCS flux map (image HDUs per quantity, dims lat/lon)",
    "healpix-map": "a HEALPix flux map (dim pixel)",
    "tscube": "a TS cube (SCANDATA/FITDATA tables over sky pixels)",
}


def _refuse_container(path: Path, fmt: str) -> None:
    """A FITS-only layout asked for under the name of a container that cannot hold it: refused, naming the
    path, the container and what it cannot hold, instead of a FITS file under a misleading name."""
    container = _container_from_name(path)
    if fmt in _FITS_ONLY and container not in (None, "fits"):
        holds = {"ecsv": "one table, one row per energy (or time) bin", "hdf5": "one SED table"}
        kind = {"ecsv": "an ECSV", "hdf5": "an HDF5", "netcdf": "a netCDF", "zarr": "a zarr"}[container]
        raise FormatError(
            f"{path}: the {fmt!r} format is FITS only, and {kind} file cannot hold {_FITS_ONLY[fmt]}"
            f"{f' (it holds {holds[container]})' if container in holds else ''}; name the file .fits, "
            "or write netCDF (.nc) or zarr (.zarr) without format=, or take flux points first "
            "(ds.sed.get_flux_points) for a table"
        )


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    format: str | None = None,
    sed_type: str | None = None,
    overwrite: bool = False,
    **kwargs,
) -> None:
    """Write a fluxds Dataset; see :meth:`fluxds.SedAccessor.write`."""
    fmt = _format_for_writing(ds, Path(path), format)
    _refuse_container(Path(path), fmt)
    spec = FORMATS[fmt][1]
    if spec is None:
        raise UnknownFormatError(f"{path}: fluxds reads {fmt!r} but does not write it")
    if fmt in ("netcdf", "zarr"):
        if sed_type not in (None, "likelihood"):
            raise FormatError(
                f"{path}: {fmt} holds the likelihood form; convert with ds.sed.to_sed_type() first "
                "if you want other variables in the file"
            )
        _resolve(spec, fmt, path)(ds, path, overwrite=overwrite, **kwargs)
    else:
        _resolve(spec, fmt, path)(ds, path, sed_type=sed_type, overwrite=overwrite, **kwargs)


def open_dataset(path: str | os.PathLike, chunks=None, format: str | None = None, **kwargs) -> xr.Dataset:
    """Open a file as a dask-backed fluxds Dataset (with ``chunks``), reading as little as possible.

    Parameters
    ----------
    path : str or path-like
    chunks : dict, int, "auto" or None
        dask chunks by dimension name (as :meth:`xarray.Dataset.chunk`); ``None`` reads eagerly, like
        :func:`read`.
    format : str, optional
        As for :func:`read`.
    **kwargs
        Passed to the reader.

    Returns
    -------
    xarray.Dataset
        netCDF files open through xarray's lazy reader and WCS flux maps are memory-mapped
        (:data:`LAZY_FORMATS`): their data are read only when computed. Other formats are read, then
        chunked.
    """
    check_input(path)  # a FIFO, /dev/zero (a link to it) ... refused before any reader opens it
    fmt = format or detect_format(path)
    if chunks is None:
        return read(path, format=fmt, **kwargs)
    if fmt == "netcdf":  # lazy: the HDF5 layout, the coordinates and each dask chunk checked at open
        from fluxds.io.netcdf import open_netcdf

        with budget_scope(kwargs.pop("max_bytes", None)):
            return open_netcdf(path, chunks, **kwargs)
    if fmt in LAZY_FORMATS or fmt == "zarr":
        return read(path, format=fmt, chunks=chunks, **kwargs)
    return read(path, format=fmt, **kwargs).chunk(chunks)
