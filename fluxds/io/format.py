"""What a format family declares about each format it reads or writes: :class:`Format`.

A family package (``fluxds/io/<family>/``) lists its formats in ``FORMATS`` in its ``__init__.py``, which
stays cheap to import (no astropy, h5py or netCDF4 at import time); :mod:`fluxds.io.registry` collects
them. See ``docs/package_map.md`` for how to add a family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Format", "CONTAINERS"]

# the kinds of file a format can live in, as :func:`fluxds.io.detect.sniff_container` names them
CONTAINERS = ("fits", "ecsv", "hdf5", "netcdf", "zarr", "text")


@dataclass(frozen=True)
class Format:
    """One format: its name, where it lives, how it is recognised, and its reader and writer.

    Attributes
    ----------
    name : str
        The ``format=`` name users pass (``"gadf-sed"``, ``"lightcurve"`` ...).
    summary : str
        What the format holds, in a few words (for messages and ``fluxds formats``).
    containers : tuple of str
        The containers (:data:`CONTAINERS`) a file of this format can be.
    reader, writer : str or None
        ``"module:function"`` under :mod:`fluxds.io`, imported when first used; ``None`` when fluxds does
        not read (write) the format. A reader is ``read(path, **options) -> Dataset``; a writer is
        ``write(ds, path, *, overwrite=False, **options)`` and also takes ``sed_type=`` when
        :attr:`takes_sed_type`.
    detect_fits : callable, optional
        ``detect_fits(hdul) -> bool``: whether an open FITS file (HDUs not loaded) is of this format,
        from HDU names and headers only. Asked in registry order.
    detect_columns : callable, optional
        ``detect_columns(names) -> bool``: whether a table with these (lower-case) column names is of
        this format; asked for every table HDU of a FITS file and the columns of an ECSV header.
    detect_meta : callable, optional
        ``detect_meta(meta, names) -> bool``: whether an ECSV file is of this format, from the ``meta``
        mapping of its YAML header (keys as written, e.g. gamma-cat's ``data_type``, ``reference_id``)
        and its lower-case column names. Asked in registry order, before any ``detect_columns``, for ECSV
        files only (the header is parsed after the checks of :mod:`fluxds.io.guard.ecsv_safe`; a header
        that does not parse gives an empty ``meta``). For FITS, ``detect_fits`` sees the headers already.
    holds : callable, optional
        ``holds(ds) -> bool``: whether a Dataset is written in this format when the file name alone
        says only the container (``.fits``, ``.ecsv``). Asked in registry order.
    default_for : tuple of str
        The containers for which this is the format when no detection claims the file.
    lazy : bool
        Whether the reader maps the file's data lazily (memmap + dask) when given ``chunks=``.
    takes_sed_type : bool
        Whether the writer takes ``sed_type=`` (the table formats); netCDF and zarr hold the likelihood
        form only.
    fits_only : bool
        Whether a write under the name of another container (``map.ecsv``, ``map.nc`` with
        ``format=``) is refused rather than made FITS under a misleading name (the map formats).
    """

    name: str
    summary: str
    containers: tuple[str, ...]
    reader: str | None
    writer: str | None
    detect_fits: Callable[[Any], bool] | None = None
    detect_columns: Callable[[set[str]], bool] | None = None
    holds: Callable[[Any], bool] | None = None
    default_for: tuple[str, ...] = ()
    lazy: bool = False
    takes_sed_type: bool = True
    fits_only: bool = False
    # last, so that formats declared with positional arguments keep their meaning
    detect_meta: Callable[[dict, set[str]], bool] | None = None
