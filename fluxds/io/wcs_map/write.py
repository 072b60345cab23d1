"""Write a WCS map in gammapy's flux-map layout (see :mod:`fluxds.io.wcs_map.read`)."""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.io import fits

from fluxds import schema
from fluxds.convert import to_sed_type
from fluxds.errors import FormatError
from fluxds.io.bands import Axis, bands_hdu
from fluxds.io.gti import gti_hdu
from fluxds.io.keywords import header_json
from fluxds.io.model_file import remove_replaced_model, write_model_yaml
from fluxds.io.output.atomic import atomic_path
from fluxds.io.output.fits_stream import write_fits
from fluxds.io.output.replaceable import check_replaceable
from fluxds.wcs import LAT, LON, header_of, is_wcs_map

__all__ = ["write", "primary_keyword", "TABLE_MAPS", "TABLE_MAP_KEY"]

# maps gammapy must not read (its FluxMaps takes every image HDU of a likelihood file as a quantity):
# written as a one-row binary table with this keyword
TABLE_MAPS = ("norm_scan",)
TABLE_MAP_KEY = "FDSMAP"


def _axis_for(ds: xr.Dataset, dim: str) -> Axis:
    size = ds.sizes[dim]
    if dim == "scan":
        return Axis("scan", size, {"center": np.arange(size, dtype=np.float64)}, "DNDE_BIN")
    if dim in ds.coords and ds[dim].dtype.kind in "US":
        return Axis(dim, size, {"labels": np.asarray(ds[dim].values, dtype=str)}, dim.upper())
    values = ds[dim].values if dim in ds.coords else np.arange(size)
    return Axis(dim, size, {"center": np.asarray(values, dtype=np.float64)}, dim.upper())


def _energy_axis(ds: xr.Dataset) -> Axis:
    values = {}
    for key, coord in (("e_ref", schema.ENERGY), ("e_min", schema.ENERGY_MIN), ("e_max", schema.ENERGY_MAX)):
        if coord in ds.coords and not (
            key == "e_ref" and ds[coord].attrs.get("note") and schema.ENERGY_MIN in ds.coords
        ):
            values[key] = u.Quantity(ds[coord].values, ds[coord].attrs.get("units", "TeV"))
    return Axis("energy", ds.sizes[schema.ENERGY], values, "ENERGY")


def _image_hdu(name: str, var: xr.DataArray, wcs_header: fits.Header, bands: fits.BinTableHDU):
    extra = [d for d in var.dims if d not in (schema.ENERGY, LAT, LON)]
    data = np.asarray(var.transpose(schema.ENERGY, *extra, LAT, LON).values)
    if data.dtype == bool:
        # FITS images hold no booleans. The data model's booleans (success, is_ul), which both fluxds and
        # gammapy read back as booleans, as bytes (BITPIX = 8), one eighth of gammapy's int64; any other
        # boolean as int64, as before (read back as integers that do not wrap in arithmetic)
        spec = schema.VARIABLES.get(name)
        data = data.view(np.uint8) if spec is not None and spec.dtype == "bool" else data.astype(np.int64)
    if name in TABLE_MAPS:
        dim = "(" + ",".join(str(n) for n in data.shape[::-1]) + ")"
        column = fits.Column(name.upper(), f"{data.size}D", dim=dim, array=data[np.newaxis])
        hdu = fits.BinTableHDU.from_columns([column], name=name.upper())
        hdu.header[TABLE_MAP_KEY] = (True, "a map, TDIM1 = image axes")
        hdu.header["BANDSHDU"] = bands.name
        return hdu
    header = wcs_header.copy()
    for key in ("AXCOLS", "INTERP"):
        for k in range(1, 4):
            if f"{key}{k}" in bands.header:
                header[f"{key}{k}"] = bands.header[f"{key}{k}"]
    header["WCSSHAPE"] = "(" + ",".join(str(n) for n in data.shape[::-1]) + ")"
    header["BANDSHDU"] = bands.name
    header["BUNIT"] = var.attrs.get("units", "")
    return fits.ImageHDU(data, header=header, name=name.upper())


def write(
    ds: xr.Dataset,
    path: str | os.PathLike,
    *,
    sed_type: str | None = None,
    overwrite: bool = False,
    model_file: bool | str | os.PathLike = True,
) -> None:
    """Write a WCS map in gammapy's flux-map layout (atomic; refuses to overwrite unless asked).

    Parameters
    ----------
    ds : xarray.Dataset
        A WCS map (see :mod:`fluxds.wcs`).
    path : str or path-like
    sed_type : str, optional
        SED type of the quantity HDUs; default ``ds.attrs["sed_type_init"]``.
    overwrite : bool
    model_file : bool or path-like
        Also write the reference model as a gammapy model YAML (default ``<stem>_model.yaml`` beside the
        file) and name it in ``MODEL``, so that gammapy's ``FluxMaps.read`` finds it; False for none.
        If the name is taken (by the YAML of the file being replaced, say), the YAML goes under a unique
        variant ``<name>-<8 hex digits>.yaml``: the flux map and its model are replaced together (all
        old or all new, as gammapy reads them), and the YAML that the replaced file named is removed
        once the new file is in place, if fluxds wrote it.

    Raises
    ------
    OverwriteError
        The file exists and ``overwrite`` is False, or it is not something fluxds may replace (nothing is
        written then, not even the YAML).
    WriteError
        Writing failed (disk full, ...): the old file and its YAML are as they were, and no new YAML is
        left behind.
    """
    where = str(path)
    if not is_wcs_map(ds):
        raise FormatError(
            f"{where}: the flux-map format holds WCS maps (lat/lon dims and a 'wcs' coordinate)"
        )
    wcs_header = header_of(ds)
    has_norm = "norm" in ds.data_vars
    sed = (sed_type or ds.attrs.get("sed_type_init") or schema.LIKELIHOOD) if has_norm else None
    out = to_sed_type(ds, sed, keep_likelihood=True) if has_norm and sed != schema.LIKELIHOOD else ds
    energy_axis = _energy_axis(ds)
    maps, per_energy = [], {}
    for name, var in out.data_vars.items():
        name = str(name)
        if name.startswith("gti_"):
            continue
        if {schema.ENERGY, LAT, LON} <= set(var.dims) and var.ndim <= 4:
            maps.append(name)
        elif var.dims == (schema.ENERGY,):
            per_energy[name.upper()] = (np.asarray(var.values), var.attrs.get("units", ""))
        else:
            raise FormatError(
                f"{where}: variable {name!r} has dims {var.dims}; a flux-map file holds maps on (energy, "
                "lat, lon) with at most one more axis, and per-energy columns"
            )
    if "norm_scan" in maps and "ref_dnde" in ds.data_vars:
        dnde_scan = ds["norm_scan"] * ds["ref_dnde"]
        dnde_scan.attrs["units"] = ds["ref_dnde"].attrs.get("units", "")
        out = out.assign(dnde_scan_values=dnde_scan)
        maps.insert(maps.index("norm_scan") + 1, "dnde_scan_values")
    primary = fits.PrimaryHDU()
    shared = bands_hdu("BANDS", [energy_axis], extra=per_energy)
    hdus = [primary]
    for name in maps:
        var = out[name]
        extra = [_axis_for(ds, d) for d in var.dims if d not in (schema.ENERGY, LAT, LON)]
        bands = bands_hdu(f"{name.upper()}_BANDS", [*extra, energy_axis]) if extra else shared
        hdus.append(_image_hdu(name, var, wcs_header, bands))
        if extra:
            hdus.append(bands)
    hdus.append(shared)
    if "gti_start" in ds.data_vars:
        hdus.append(gti_hdu(ds))
    if sed is not None:
        primary.header["SED_TYPE"] = sed
    primary.header["FDSATTRS"] = header_json(dict(ds.attrs))
    _write_pair(fits.HDUList(hdus), Path(path), ds.attrs, model_file, overwrite)


def _write_pair(hdus: fits.HDUList, target: Path, attrs: dict, model_file, overwrite: bool) -> None:
    """Replace the flux map and its model YAML together, as gammapy reads them (through ``MODEL``).

    Every refusal comes before anything is written. The new YAML goes under a name no entry holds (never
    over the old one), then the FITS file naming it is renamed into place in one system call (the
    commit); the YAML that the replaced FITS file named is removed only after that, and only if fluxds
    wrote it. Any failure before the commit removes the new YAML: the old pair is left as it was.
    """
    check_replaceable(target, overwrite=overwrite, directory=False)
    written = write_model_yaml(attrs, target, model_file)
    replaced: list[str | None] = []
    try:
        if written:  # inside the try: a name a FITS header cannot hold must not leave the YAML behind
            try:
                hdus[0].header["MODEL"] = written[0]
            except ValueError:
                raise FormatError(
                    f"{target}: the model file's name {written[0]!r} cannot be written in the FITS keyword "
                    "MODEL (printable ASCII only); choose a file name in ASCII"
                ) from None
        with atomic_path(
            target, overwrite=overwrite, directory=False, on_replaced=_keep_model_of(replaced)
        ) as tmp:
            write_fits(hdus, tmp)  # hdus.writeto(tmp)'s bytes, images streamed (no in-place byteswap)
    except BaseException:
        if written:  # nothing names it: the old FITS file names the old YAML (if any)
            with contextlib.suppress(FileNotFoundError):
                written[1].unlink()
        raise
    if replaced:
        remove_replaced_model(replaced[0], target, written[1] if written else None)


def _keep_model_of(replaced: list[str | None]):
    """An ``on_replaced`` hook of :func:`~fluxds.io.output.atomic.atomic_path` keeping the ``MODEL``
    keyword of the replaced FITS file in ``replaced``."""

    def hook(name: str, dir_fd: int) -> None:
        replaced.append(primary_keyword(name, "MODEL", dir_fd=dir_fd))

    return hook


def primary_keyword(name: str, key: str, *, dir_fd: int | None = None, max_bytes: int = 364 * 2880):
    """The value of keyword ``key`` in the primary header of the FITS file ``name``, or None.

    Reads at most ``max_bytes`` (the header only; a link is not followed); a file that is not FITS, or
    whose primary header is longer, gives None.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.pread(fd, max_bytes, 0)
    finally:
        os.close(fd)
    cards = [data[i : i + 80] for i in range(0, len(data) - len(data) % 80, 80)]
    ends = [i for i, card in enumerate(cards) if card.rstrip() == b"END"]
    if not data.startswith(b"SIMPLE  =") or not ends:
        return None
    try:
        header = fits.Header.fromstring(b"".join(cards[: ends[0] + 1]).decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return None
    value = header.get(key)
    return value if isinstance(value, str) else None
