"""gammapy's flux-map FITS (WCS) <-> fluxds Datasets on ``(energy, lat, lon)``.

The file (``FluxMaps.write``): an empty primary HDU with ``SED_TYPE`` and ``MODEL`` (the reference-model
YAML, see :mod:`fluxds.io.model_file`), then one image HDU per quantity (``NORM``, ``NORM_ERR``, ...,
``TS``, ``SQRT_TS``, ``NPRED``, ``COUNTS``, ``STAT``, ``STAT_NULL``, ``NITER``, ``IS_UL``/``SUCCESS`` as
integers, ``STAT_SCAN`` with ``DNDE_SCAN_VALUES``), each with the celestial WCS in its header, ``BUNIT``,
and its non-spatial axes in the table named by ``BANDSHDU`` (see :mod:`fluxds.io.bands`); a ``GTI``
HDU. A GADF counts cube (the image in the primary HDU, a ``BANDS`` or ``EBOUNDS`` table) reads too.

Read: every quantity becomes the variable of the same name (lower case) on ``(energy, lat, lon)``, with a
trailing ``scan`` (likelihood scans) or ``dataset`` axis where the file has one; a file of SED type
``dnde``/``e2dnde``/``flux``/``eflux`` is turned into norms (:mod:`fluxds.io.wcs_map.build`); gammapy's
per-pixel scan grid ``DNDE_SCAN_VALUES`` becomes ``norm_scan = dnde_scan_values / ref_dnde``, per pixel.
The WCS travels as :mod:`fluxds.wcs` describes. With ``chunks=`` the images are memory-mapped and wrapped
in dask arrays: nothing is read until computed.

Write: gammapy's layout, plus what makes the round trip exact: the Dataset attributes as JSON
(``FDSATTRS``, the reference model among them), the norms beside the measurements of another SED type,
``NORM_SCAN`` beside ``DNDE_SCAN_VALUES``, and the reference fluxes as ``REF_*`` columns of the shared
``BANDS`` table. The model YAML is written beside the file for gammapy.
"""

from __future__ import annotations

import os
import re

import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds import schema
from fluxds.construct import ORIGIN_DEFAULT
from fluxds.errors import FormatError, Problems
from fluxds.io.bands import Axis, per_energy_columns, read_axes
from fluxds.io.column_map import rename_hdu_columns
from fluxds.io.detect import take_fits
from fluxds.io.fits_file import OpenedFits, native_image, open_fits_file
from fluxds.io.fits_tables import open_fits
from fluxds.io.gti import read_gti
from fluxds.io.guard.fits_sizes import check_fits_hdu
from fluxds.io.map_keywords import saved_attrs
from fluxds.io.model_file import resolve_model
from fluxds.io.vocabulary import SED_STEMS, is_quantity_hdu
from fluxds.io.wcs_map.build import build_map_dataset
from fluxds.io.wcs_map.write import TABLE_MAP_KEY, write
from fluxds.models import default_reference_model
from fluxds.wcs import LAT, LON, celestial_header, header_text, wcs_coords

__all__ = ["read", "write"]


def _bands_index(hdul: fits.HDUList, index: int, where: str) -> int:
    """The HDU index of the bands table of image ``index``: named by ``BANDSHDU`` (default ``BANDS``,
    then ``EBOUNDS``). Where several HDUs have that name (gammapy's ``hdu_bands="BANDS"`` writes one
    after each image), the first one after the image."""
    name = hdul[index].header.get("BANDSHDU")
    if name is None:
        name = next((n for n in ("BANDS", "EBOUNDS") if n in hdul), None)
    matches = [i for i, h in enumerate(hdul) if name is not None and h.name == str(name).upper()]
    if not matches:
        raise FormatError(f"{where}: no bands table (BANDSHDU = {name!r}): a flux map needs an energy axis")
    return next((i for i in matches if i > index), matches[0])


def _quantity_hdus(hdul: fits.HDUList, primary_name: str) -> list[tuple[str, int]]:
    """(variable name, HDU index) of every map: the image in the primary HDU, the image HDUs that name
    their bands table (``BANDSHDU``: gammapy and fluxds write it on every map) or bear a quantity's name,
    and fluxds's one-row tables (``NORM_SCAN``: a map gammapy must not read, see :func:`write`). Any other
    HDU (an extra ``JUNK`` image) is not a map: it is neither read nor counted against the read budget."""
    out = []
    for index, hdu in enumerate(hdul):
        if hdu.is_image and hdu.header.get("NAXIS", 0) >= 2:
            if index and "BANDSHDU" not in hdu.header and not is_quantity_hdu(hdu.name):
                continue
            out.append((primary_name if index == 0 else hdu.name.lower(), index))
        elif isinstance(hdu, fits.BinTableHDU) and hdu.header.get(TABLE_MAP_KEY):
            out.append((hdu.name.lower(), index))
    return out


def _axes_of(hdul: fits.HDUList, bands: int, sizes: list[int], where: str, memo: dict) -> list[Axis]:
    """The axes of the bands table ``bands`` for images with non-spatial axes of ``sizes``: checked
    against the read budget for each image (charged once), parsed once per table and sizes (gammapy's
    files share one ``BANDS`` table among all their maps)."""
    check_fits_hdu(hdul[bands], where)
    key = (bands, tuple(sizes))
    if key not in memo:
        memo[key] = read_axes(hdul[bands], sizes, where=f"{where}[{hdul[bands].name}]")
    return memo[key]


def _image_shape(hdu, label: str) -> list[int]:
    """The image axes (FITS order: x, y, axis 3, ...) of an image HDU or a one-row table map."""
    if hdu.is_image:
        return [int(hdu.header[f"NAXIS{i}"]) for i in range(1, int(hdu.header["NAXIS"]) + 1)]
    dim = hdu.columns[0].dim
    if not dim or not re.fullmatch(r"\(\s*\d+(\s*,\s*\d+)+\s*\)", dim):
        raise FormatError(f"{label}: a table map needs TDIM1 = (nx,ny,...), found {dim!r}")
    return [int(n) for n in re.findall(r"\d+", dim)]


def _file_chunks(chunks, dims: list[str]):
    if isinstance(chunks, dict):
        return tuple(chunks.get(d, -1) for d in dims)
    return chunks


def _open(where: str, lazy: bool) -> tuple[fits.HDUList, OpenedFits | None]:
    """The open file: memory-mapped by astropy for a lazy read; else the file the format detection of
    this read opened (:func:`fluxds.io.detect.take_fits`) or opened anew, whose images
    :func:`fluxds.io.fits_file.native_image` reads. The table columns renamed by ``columns=``."""
    if lazy:
        return open_fits(where, memmap=True), None
    opened = take_fits(where) or open_fits_file(where)
    try:
        rename_hdu_columns(opened.hdul, where)  # columns= of fluxds.read, as open_fits applies it
    except BaseException:
        opened.close()
        raise
    return opened.hdul, opened


def _data(hdu, dims: list[str], chunks, token: str, where: str, opened: OpenedFits | None):
    check_fits_hdu(hdu, where, lazy=chunks is not None)  # before astropy reads (or decompresses) it
    if chunks is None:
        # one pass, no big-endian copy held; None: a scaled, compressed or table map, read by astropy
        data = native_image(hdu, opened.handle, where=f"{where}[{hdu.name}]") if opened else None
        if data is None:
            raw = np.asarray(hdu.data if hdu.is_image else hdu.data.field(0)[0])
            data = raw.astype(raw.dtype.newbyteorder("="), copy=False)
            del hdu.data  # the HDU no longer holds the big-endian array
        return data
    raw = hdu.data if hdu.is_image else hdu.data.field(0)[0]  # memory-mapped: no read
    import dask.array as da
    from dask.base import tokenize

    lazy = da.from_array(raw, chunks=_file_chunks(chunks, dims), name=f"fluxds-map-{tokenize(token, chunks)}")
    return lazy.astype(raw.dtype.newbyteorder("="))


def _same_energy(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k].to_value(b[k].unit), b[k].value) for k in a)


def _guess_sed(names) -> str | None:
    """The SED type of a map file without ``SED_TYPE``: ``likelihood`` where it holds ``NORM`` maps (its
    reference fluxes, if any, are columns of BANDS, not maps: unlike
    :func:`fluxds.io.gadf_table.guess_sed_type`, which asks for them beside the norms of a table), else
    the first SED stem present."""
    if "norm" in names:
        return schema.LIKELIHOOD
    return next((stem for stem in SED_STEMS if stem in names), None)


def _extra_coords(axes: list[Axis]) -> dict[str, xr.Variable]:
    coords = {}
    for axis in axes:
        if axis.dim in ("energy", "scan"):
            continue
        if "labels" in axis.values:
            coords[axis.dim] = xr.Variable((axis.dim,), np.asarray(axis.values["labels"], dtype=str))
        else:
            for key, suffix in (("center", ""), ("min", "_min"), ("max", "_max")):
                if key in axis.values:
                    q = axis.values[key]
                    attrs = {"units": str(q.unit)} if hasattr(q, "unit") else {}
                    coords[f"{axis.dim}{suffix}"] = xr.Variable(
                        (axis.dim,), np.asarray(getattr(q, "value", q)), attrs
                    )
    return coords


def read(
    path: str | os.PathLike, *, sed_type: str | None = None, chunks=None, primary_name: str = "counts"
) -> xr.Dataset:
    """Read a gammapy flux-map FITS file (WCS) or a GADF WCS cube.

    Parameters
    ----------
    path : str or path-like
    sed_type : str, optional
        Overrides the ``SED_TYPE`` keyword (else guessed from the HDU names).
    chunks : int, str, tuple or dict, optional
        Read lazily: the images are memory-mapped and wrapped in dask arrays with these chunks (a dict
        maps dimension names ``energy``, ``lat``, ``lon``, ``scan``, ``dataset`` to chunk sizes).
    primary_name : str
        The variable name of an image in the primary HDU (a counts cube: ``counts``).

    Returns
    -------
    xarray.Dataset
        On ``(energy, lat, lon[, scan | dataset])``; a file without a measurement (a counts cube) gives
        its quantities only, without ``norm`` or a reference model.

    Raises
    ------
    FormatError
        Naming the file, the HDU or keyword and what was expected.
    """
    where = str(path)
    hdul, opened = _open(where, lazy=chunks is not None)
    with opened if opened is not None else hdul:
        primary = hdul[0].header
        found = _quantity_hdus(hdul, primary_name)
        if not found:
            raise FormatError(f"{where}: no image HDU: not a flux map; HDUs: {[h.name for h in hdul]}")
        labels = {i: f"{where}[{hdul[i].name or i}]" for _, i in found}
        spatial = {i: _image_shape(hdul[i], labels[i])[:2] for i in labels}  # headers: before any read
        odd = next((i for i in spatial if spatial[i] != spatial[found[0][1]]), None)
        if odd is not None:
            raise FormatError(f"{labels[odd]}: WCS or image size differs from that of the first map")
        arrays, energy, wcs_text, axes_seen, energy_only, axes_read = {}, None, None, [], {}, {}
        mtime = os.stat(where).st_mtime_ns
        problems = Problems(where)  # every bad map HDU at once (issue 15 item 2)
        for name, index in found:
            with problems.check():
                hdu = hdul[index]
                label = f"{where}[{hdu.name or index}]"
                header = hdu.header
                image_shape = _image_shape(hdu, label)
                sizes = image_shape[2:]
                bands = _bands_index(hdul, index, label)
                axes = _axes_of(hdul, bands, sizes, where, axes_read)
                energy_axes = [a for a in axes if a.dim == "energy"]
                if len(energy_axes) != 1:
                    raise FormatError(f"{label}: expected one energy axis, found {[a.dim for a in axes]}")
                if energy is None:
                    energy = energy_axes[0].values
                elif not _same_energy(energy_axes[0].values, energy):
                    raise FormatError(f"{label}: energy bins differ from those of the first map")
                text = header_text(celestial_header(header, where=label)) if hdu.is_image else wcs_text
                if wcs_text is None:
                    wcs_text, shape = text, (image_shape[1], image_shape[0])
                elif text != wcs_text or (image_shape[1], image_shape[0]) != shape:
                    raise FormatError(f"{label}: WCS or image size differs from that of the first map")
                if len(axes) == 1 and not energy_only:
                    energy_only = per_energy_columns(hdul[bands], f"{where}[{hdul[bands].name}]")
                dims = [a.dim for a in reversed(axes)] + [LAT, LON]
                token = f"{os.path.abspath(where)}:{mtime}:{index}"
                data = _data(hdu, dims, chunks, token, where, opened)
                var = xr.Variable(dims, data).transpose(*schema.canonical_dims(dims))
                arrays[name] = (var, str(header.get("BUNIT", "")).strip())
                axes_seen += [a for a in axes if a.dim not in {b.dim for b in axes_seen}]
        problems.raise_if_any()
        gti = read_gti(hdul, where)
        keyword = primary.get("MODEL")
        sed = (sed_type or primary.get("SED_TYPE") or _guess_sed(arrays) or "").strip().lower() or None
    saved = saved_attrs(primary, where)
    model, origin = (None, None)
    if sed is not None:
        if sed not in schema.FILE_SED_TYPES:
            raise FormatError(
                f"{where}: SED_TYPE is {sed!r}; expected one of {', '.join(schema.FILE_SED_TYPES)}"
            )
        model, origin = resolve_model(keyword, saved, where)
        if model is None:
            model, origin = default_reference_model(), ORIGIN_DEFAULT
    coords = {**wcs_coords(wcs_text, shape, where=where), **_extra_coords(axes_seen)}
    ds = build_map_dataset(
        arrays, sed=sed, energy=energy, model=model, coords=coords, energy_only=energy_only, where=where
    )
    if sed is not None:
        ds.attrs["sed_type_init"] = sed
        ds.attrs["reference_model_origin"] = origin or ds.attrs.get("reference_model_origin")
    if saved is not None:
        ds.attrs = saved
    if gti is not None:
        ds = ds.merge(gti)
    return ds
