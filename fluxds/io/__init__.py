"""Reading and writing: :func:`read`, :func:`write`, :func:`open_dataset` and :func:`detect_format`,
dispatching to the format families through the one registry (:mod:`fluxds.io.registry`).

Each family is a package under ``fluxds/io/`` (``sed_table``, ``lightcurve``, ``flux_profile``,
``wcs_map``, ``healpix_map``, ``tscube``, ``cf``) declaring its formats (:class:`fluxds.io.format.Format`);
shared helpers live beside them under public names (``fits_tables``, ``gadf_table``, ``keywords``,
``gti``, ``bands``, ``model_file``, ``vocabulary``), the checks on files from elsewhere in ``guard/``,
safe writing in ``output/``. See ``docs/package_map.md``.
"""

from __future__ import annotations

import importlib
import inspect
import os
from pathlib import Path

import xarray as xr

from fluxds.collection import labels_as_text
from fluxds.errors import FluxdsError, FormatError, UnknownFormatError
from fluxds.io.damage import is_damage
from fluxds.io.detect import container_from_name, detect_format, fits_session
from fluxds.io.format import Format
from fluxds.io.guard.budget import budget_scope
from fluxds.io.guard.input_file import check_input
from fluxds.io.guard.untrusted import check_zarr_codecs
from fluxds.io.output.atomic import durability
from fluxds.io.registry import format_names, formats, get_format

__all__ = ["read", "write", "open_dataset", "detect_format", "format_names", "lazy_format_names"]


def lazy_format_names() -> tuple[str, ...]:
    """The formats whose reader maps the file's data lazily (memmap + dask) when given ``chunks=``."""
    return tuple(f.name for f in formats() if f.lazy)


def _known(name: str, where) -> Format:
    fmt = get_format(name)
    if fmt is None:
        prefix = f"{where}: " if where else ""
        raise UnknownFormatError(
            f"{prefix}unknown format {name!r}; expected one of {', '.join(format_names())}"
        )
    return fmt


def _entry_point(spec: str, fmt: str, path) -> object:
    """The function ``"module:function"`` (a module under ``fluxds.io``) of a format's reader or writer."""
    module_name, _, function = spec.partition(":")
    module_name = f"fluxds.io.{module_name}"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise UnknownFormatError(
            f"{path}: the {fmt!r} format (lightcurve, flux map ...) is not part of this fluxds version"
        ) from None
    return getattr(module, function)


def _format_for_writing(ds: xr.Dataset, path: Path, name: str | None) -> Format:
    """The format to write ``ds`` in: ``name`` when given; else a container-only format (netCDF, HDF5,
    zarr) from the file name; else the first format of the registry that ``holds`` the Dataset (a TS cube,
    a map, a light curve, a flux profile); else the container's default (a GADF SED table)."""
    if name is not None:
        return _known(name, None)
    container = container_from_name(path)
    if container is None:
        raise UnknownFormatError(
            f"{path}: cannot tell the format from the name; pass format= one of {', '.join(format_names())}"
        )
    if container not in ("fits", "ecsv"):
        return next(f for f in formats() if container in f.default_for)
    for fmt in formats():
        if fmt.holds is not None and fmt.holds(ds):
            return fmt
    return next(f for f in formats() if container in f.default_for)


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
        One of :func:`format_names` (``gadf-sed`` for a FITS SED table, ``ecsv``, ``hdf5``, ``netcdf``,
        ``ascii`` for plain text with ``columns=`` and ``units=`` maps, ``lightcurve``, ``flux-map`` ...);
        detected when not given (never ``ascii``).
    isolate : bool or float
        For files from elsewhere: first read the file in a separate, confined Python process (isolated
        mode, a private working folder), with a limit of CPU time counted from when that process is
        ready to read (``True``: 60 s, or a number of seconds > 0; ``False``/``None``: off) and a memory
        cap sized from the read budget, and refuse the file with a ``FormatError`` if that process is
        killed, runs out of time or of memory (a damaged HDF5/netCDF file can abort or hang the C
        library). 0, negative, NaN or infinite values raise ``ValueError``. See
        :func:`fluxds.io.guard.isolated.probe`.
    max_bytes : int or str, optional
        The read budget for this call: bytes (or a size such as ``"8GiB"``) the read may materialise;
        a file declaring more is refused with a :class:`~fluxds.errors.BudgetError` before anything
        is allocated. Default: :func:`fluxds.io.guard.budget.read_budget`.
    strict : bool
        Impossible numbers (a negative error or reference flux, ``e_ref`` outside its bin, a NaN GTI) are
        always refused; suspicious ones (an upper limit below the best fit) are a
        :class:`~fluxds.errors.PhysicsWarning`, or with ``strict=True`` refused too. See
        :func:`fluxds.validate.physics_problems`.
    **kwargs
        Passed to the reader (e.g. ``sed_type=``, ``hdu=`` for FITS, ``units="gadf"``). ``columns=``
        (the file's column names -> fluxds names, e.g. ``{"E": "e_ref", "Flux": "dnde"}``) works for
        every table format (FITS, ECSV, HDF5, plain text: SEDs, light curves, flux profiles) and is seen
        by the format detection; a name the file lacks is a ``FormatError`` naming the file and the
        column (:mod:`fluxds.io.column_map`).

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
    from fluxds.io.guard.isolated import isolation_limit, vetted_copy

    seconds = isolation_limit(isolate)  # 0, < 0, NaN, inf, a string ...: a usage error, not "off"
    if seconds is None:
        return _read_path(path, format, **kwargs)
    # the child and this process read the same private copy: replacing the file at ``path`` once the child
    # has closed it changes nothing. The budget in force (max_bytes=) reaches the child through read_budget()
    with vetted_copy(path, seconds, **({"format": format} if format else {}), **kwargs) as copy:
        return _read_path(copy, format, **kwargs).load()  # the copy goes on leaving: nothing read later


def _read_path(path, format, **kwargs) -> xr.Dataset:
    with fits_session():  # a FITS file detection opens stays open for the reader (opened once)
        return _read_detected(path, format, **kwargs)


def _read_detected(path, format, **kwargs) -> xr.Dataset:
    # imported here, not at module level: the mapping lives in that module's context variable, and every
    # reader reaches it at call time (pytest's doctest import may load a module twice)
    from fluxds.io.column_map import column_scope

    check_input(path)  # a FIFO, /dev/zero (a link to it) ... refused before any reader opens it
    try:
        with column_scope(kwargs.get("columns"), str(path)):  # detection sees the mapped column names
            fmt = format or detect_format(path)
    except FluxdsError:
        raise
    except Exception as exc:
        if not is_damage(exc):
            raise
        raise FormatError(f"{path}: cannot tell the format ({type(exc).__name__}: {exc})") from exc
    reader_spec = _known(fmt, None).reader
    if fmt in ("netcdf", "zarr") and kwargs.get("columns") is not None:  # not a table: no column names
        raise FormatError(
            f"{path}: columns= (a mapping of the file's column names to fluxds names) is for tables "
            f"(FITS, ECSV, HDF5, plain text); this file is read as {fmt!r}, which holds variables"
        )
    if fmt == "zarr" and Path(path).is_dir():
        check_zarr_codecs(path)  # zarr 2 would unpickle object arrays
    reader = _entry_point(reader_spec, fmt, path)
    try:
        with column_scope(kwargs.pop("columns", None), str(path)):  # every table reader applies it
            return labels_as_text(reader(path, **kwargs))
    except FluxdsError as exc:
        if str(path) in str(exc):
            raise
        # every error of a read names the file, even one raised deep down without it
        named = type(exc)(f"{path}: {exc}")  # the message lists the problems already
        named.problems = exc.problems
        raise named from exc
    except Exception as exc:
        if not is_damage(exc):  # a bad argument to the reader, or a fluxds bug: as it is
            raise
        raise FormatError(
            f"{path}: cannot be read as {fmt!r}, the file is damaged or not what its layout says "
            f"({type(exc).__name__}: {exc})"
        ) from exc


_CONTAINER_HOLDS = {"ecsv": "one table, one row per energy (or time) bin", "hdf5": "one SED table"}
_CONTAINER_KIND = {"ecsv": "an ECSV", "hdf5": "an HDF5", "netcdf": "a netCDF", "zarr": "a zarr"}


def _refuse_container(path: Path, fmt: Format) -> None:
    """A FITS-only format asked for under the name of a container that cannot hold it: refused, naming the
    path, the container and what it cannot hold, instead of a FITS file under a misleading name."""
    container = container_from_name(path)
    if fmt.fits_only and container not in (None, "fits"):
        holds = _CONTAINER_HOLDS.get(container)
        raise FormatError(
            f"{path}: the {fmt.name!r} format is FITS only, and {_CONTAINER_KIND[container]} file "
            "cannot hold "
            f"{fmt.summary}{f' (it holds {holds})' if holds else ''}; name the file .fits, "
            "or write netCDF (.nc) or zarr (.zarr) without format=, or take flux points first "
            "(ds.sed.get_flux_points) for a table"
        )


#: the options :func:`write` itself passes to every writer (not the format's own)
_WRITE_ARGUMENTS = ("sed_type", "overwrite")


def _check_write_options(writer, fmt: Format, path, options: dict) -> None:
    """Refuse options the format's writer does not take, naming the file, the format, the option and the
    options it takes (issue 15 item 2: not the writer's raw ``TypeError``)."""
    parameters = list(inspect.signature(writer).parameters.values())
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    named = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    takes = [p.name for p in parameters[2:] if p.kind in named and p.name not in _WRITE_ARGUMENTS]
    unknown = [name for name in options if name not in takes]
    if unknown:
        raise FormatError(
            f"{path}: the {fmt.name!r} format has no write option {', '.join(map(repr, unknown))}; "
            f"it takes {', '.join(f'{n}=' for n in takes) or 'no option'} besides format=, sed_type= and "
            "overwrite="
        )


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    format: str | None = None,
    sed_type: str | None = None,
    overwrite: bool = False,
    fsync: bool = True,
    **kwargs,
) -> None:
    """Write a fluxds Dataset; see :meth:`fluxds.SedAccessor.write`."""
    with durability(fsync):
        _write(ds, path, format, sed_type, overwrite, kwargs)


def _write(ds: xr.Dataset, path, format: str | None, sed_type: str | None, overwrite: bool, kwargs) -> None:
    fmt = _format_for_writing(ds, Path(path), format)
    _refuse_container(Path(path), fmt)
    if fmt.writer is None:
        raise UnknownFormatError(f"{path}: fluxds reads {fmt.name!r} but does not write it")
    writer = _entry_point(fmt.writer, fmt.name, path)
    _check_write_options(writer, fmt, path, kwargs)
    if fmt.takes_sed_type:
        writer(ds, path, sed_type=sed_type, overwrite=overwrite, **kwargs)
        return
    if sed_type not in (None, "likelihood"):
        raise FormatError(
            f"{path}: {fmt.name} holds the likelihood form; convert with ds.sed.to_sed_type() first "
            "if you want other variables in the file"
        )
    writer(ds, path, overwrite=overwrite, **kwargs)


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
        netCDF files open through xarray's lazy reader and flux maps and TS cubes are memory-mapped
        (:func:`lazy_format_names`): their data are read only when computed. Other formats are read, then
        chunked.
    """
    check_input(path)  # a FIFO, /dev/zero (a link to it) ... refused before any reader opens it
    fmt = format or detect_format(path)
    if chunks is None:
        return read(path, format=fmt, **kwargs)
    if fmt == "netcdf":  # lazy: the HDF5 layout, the coordinates and each dask chunk checked at open
        from fluxds.io.cf.netcdf import open_netcdf

        with budget_scope(kwargs.pop("max_bytes", None)):
            return open_netcdf(path, chunks, **kwargs)
    if fmt in lazy_format_names() or fmt == "zarr":
        return read(path, format=fmt, chunks=chunks, **kwargs)
    return read(path, format=fmt, **kwargs).chunk(chunks)
