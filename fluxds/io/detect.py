"""Which container a file is, from its first bytes and then its name; which format it holds, by asking
each family of :mod:`fluxds.io.registry` in order."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from pathlib import Path

from fluxds.errors import FormatError, UnknownFormatError
from fluxds.io.fits_file import OpenedFits, open_fits_file
from fluxds.io.fits_rows import column_names
from fluxds.io.guard.input_file import check_input
from fluxds.io.guard.untrusted import check_gzip_size, check_not_pickle
from fluxds.io.registry import format_names, formats

__all__ = [
    "detect_format",
    "sniff_container",
    "container_from_name",
    "fits_format",
    "table_format",
    "ecsv_format",
    "ecsv_header_meta",
    "SUFFIXES",
    "fits_session",
    "take_fits",
]

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fits.gz")
# file name endings -> container
SUFFIXES = {
    **{s: "fits" for s in FITS_SUFFIXES},
    ".ecsv": "ecsv",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".nc": "netcdf",
    ".nc4": "netcdf",
    ".netcdf": "netcdf",
    ".zarr": "zarr",
}


def sniff_container(path: Path) -> str | None:
    """The container from the first bytes: ``fits``, ``ecsv``, ``netcdf``, ``hdf5``, or None.

    A pickle is refused here, before any reader sees the file; a gzip file is checked against the
    decompression limit before anything decompresses it.
    """
    try:
        with open(path, "rb") as handle:
            head = handle.read(2048)
    except OSError as exc:
        raise FormatError(f"{path}: cannot open: {exc}") from None
    check_not_pickle(head, path)
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if head.startswith(b"\x1f\x8b"):
        check_gzip_size(path)
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


def container_from_name(path: Path) -> str | None:
    """The container a file name says (``.fits``, ``.fits.gz``, ``.ecsv``, ``.h5``, ``.nc``, ``.zarr``),
    or None."""
    name = path.name.lower()
    for suffix, container in SUFFIXES.items():
        if name.endswith(suffix):
            return container
    return None


def _default_for(container: str) -> str | None:
    return next((f.name for f in formats() if container in f.default_for), None)


def mapped_names(column_names) -> list[str]:
    """Column names as the ``columns=`` mapping of the read in progress renames them
    (:func:`fluxds.io.column_map.mapped_names`, imported at call time: see that module)."""
    from fluxds.io.column_map import mapped_names as mapped

    return mapped(column_names)


def table_format(column_names, container: str) -> str | None:
    """The format a table with these columns holds (a family's ``detect_columns`` claims it), or None."""
    names = {str(n).lower() for n in mapped_names(column_names)}  # as columns= of the read renames them
    for fmt in formats():
        if container in fmt.containers and fmt.detect_columns is not None and fmt.detect_columns(names):
            return fmt.name
    return None


def fits_format(hdul) -> str:
    """The format of an open FITS file: the first family whose ``detect_fits`` claims the HDU list, then
    the first whose ``detect_columns`` claims one of its tables (a ``GTI`` table aside), else the FITS
    default (``gadf-sed``, whose reader says clearly what is missing)."""
    from astropy.io import fits

    for fmt in formats():
        if fmt.detect_fits is not None and fmt.detect_fits(hdul):
            return fmt.name
    for hdu in hdul:
        if isinstance(hdu, fits.BinTableHDU) and hdu.name.upper() != "GTI":
            found = table_format(column_names(hdu), "fits")  # from TTYPEn: no column definitions built
            if found is not None:
                return found
    return _default_for("fits")


#: the FITS files that detection opened during the read in progress (:func:`fits_session`), by path
_KEPT: ContextVar[dict[str, OpenedFits] | None] = ContextVar("fluxds_kept_fits", default=None)


@contextlib.contextmanager
def fits_session() -> Iterator[None]:
    """Within this block, a FITS file that :func:`detect_format` opens stays open for the reader that
    follows (:func:`take_fits`): one read opens the file and parses its headers once. Whatever no reader
    took is closed when the block ends. :func:`fluxds.read` runs detection and reader in one."""
    kept: dict[str, OpenedFits] = {}
    token = _KEPT.set(kept)
    try:
        yield
    finally:
        _KEPT.reset(token)
        for opened in kept.values():
            opened.close()


def _kept_key(path: str | os.PathLike) -> str:
    """One spelling of a path for the files kept by detection (``./a.fits`` and ``a.fits`` alike)."""
    return os.path.normpath(os.fspath(path))


def take_fits(path: str | os.PathLike) -> OpenedFits | None:
    """The FITS file that detection opened for the read in progress, handed over to the caller (who
    closes it): None outside :func:`fits_session`, when detection did not open ``path``, or when ``path``
    no longer names the same file (device, inode, size, modification time): open it anew then."""
    kept = _KEPT.get()
    opened = kept.pop(_kept_key(path), None) if kept is not None else None
    if opened is not None and not opened.is_file(path):
        opened.close()
        return None
    return opened


def _fits_file_format(path: Path) -> str:
    opened = open_fits_file(path)  # headers checked against the file size first
    kept = _KEPT.get()
    try:
        fmt = fits_format(opened.hdul)
    except (OSError, ValueError, IndexError, KeyError, TypeError) as exc:
        opened.close()
        raise FormatError(f"{path}: not a readable FITS file: {exc}") from None
    except BaseException:
        opened.close()
        raise
    if kept is None:
        opened.close()
    else:
        previous = kept.pop(_kept_key(path), None)
        if previous is not None:
            previous.close()
        kept[_kept_key(path)] = opened
    return fmt


def _ecsv_column_names(path: Path) -> list[str]:
    names = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.startswith("#"):
                break
            stripped = line.lstrip("# ").strip()
            if stripped.startswith("- {name:") or stripped.startswith("- name:"):
                names.append(stripped.split("name:", 1)[1].split(",", 1)[0].strip(" }'\""))
    return names


def ecsv_header_meta(path: str | os.PathLike) -> dict:
    """The ``meta`` mapping of an ECSV file's YAML header (``{}`` when there is none or it does not parse).

    Only the header lines are read; their YAML is checked first (size, nesting, alias expansion:
    :func:`fluxds.io.guard.yaml_safe.check_yaml`), then parsed by astropy's safe ECSV header loader.
    A header the checks refuse raises their :class:`~fluxds.errors.FluxdsError`.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    dict
    """
    import textwrap

    from astropy.table import meta as table_meta

    from fluxds.io.guard.yaml_safe import check_yaml

    lines = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("#"):
                break
            if stripped[1:]:
                lines.append(stripped[1:])
    check_yaml(textwrap.dedent("\n".join(lines)), path=str(path), what="ECSV header")
    try:
        header = table_meta.get_header_from_yaml(lines)
    except Exception:  # not valid ECSV YAML: the reader reports it
        return {}
    meta = header.get("meta") if isinstance(header, dict) else None
    return dict(meta) if isinstance(meta, dict) else {}


def ecsv_format(path: str | os.PathLike) -> str | None:
    """The format an ECSV file holds: the first family whose ``detect_meta`` claims its header's meta and
    column names, then the first whose ``detect_columns`` claims its columns, or None."""
    names = _ecsv_column_names(Path(path))
    lowered = {str(n).lower() for n in mapped_names(names)}
    claimers = [f for f in formats() if "ecsv" in f.containers and f.detect_meta is not None]
    if claimers:
        meta = ecsv_header_meta(path)
        for fmt in claimers:
            if fmt.detect_meta(meta, lowered):
                return fmt.name
    return table_format(names, "ecsv")


def detect_format(path: str | os.PathLike) -> str:
    """The format of a file, from its content (magic bytes, HDU and column names) and then its name.

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        One of :func:`fluxds.io.registry.format_names`.

    Raises
    ------
    UnknownFormatError
        When neither the content nor the name tells.
    """
    path = Path(path)
    check_input(path)  # a FIFO or a device: refused before its first bytes are read (no hang)
    if path.is_dir():
        from fluxds.io.cf.zarr_store import is_zarr_store

        if is_zarr_store(path):
            return "zarr"
        raise UnknownFormatError(f"{path}: a directory, and not a zarr store")
    container = sniff_container(path) or container_from_name(path)
    if container == "fits":
        return _fits_file_format(path)
    if container == "ecsv":
        return ecsv_format(path) or _default_for("ecsv")
    if container in ("netcdf", "hdf5"):
        return _default_for(container)
    raise UnknownFormatError(
        f"{path}: cannot tell the format from the content or the name; pass format= one of "
        f"{', '.join(format_names())}"
    )
