"""A reversible CF encoding of fluxds Datasets for netCDF, so that tools in other languages read the
files cleanly (ncdump, the CF checkers, UDUNITS-2, R's ncdf4, NCO) and fluxds reads them back exactly.

What :func:`encode` changes, and :func:`decode` undoes (a record of it travels in the global attribute
``fluxds_cf``):

- the energy bin edges ``energy_min``/``energy_max`` become the CF bounds variable ``energy_bounds``
  (``energy:bounds``), shape (energy, 2), where they share the unit of ``energy``;
- a dimensionless ``units`` of ``""`` is written ``"1"`` (UDUNITS refuses an empty unit);
- every variable and coordinate gets a ``long_name`` (the schema's words, or its name) where it has none;
- text coordinates (source and region names) are written as fixed-width character arrays;
- the ``time`` coordinate gets ``standard_name = "time"`` and is written as ``float64`` in
  ``days since 1858-11-17 00:00:00`` (MJD, in the light curve's own time scale, kept in ``time_scale``;
  calendar ``proleptic_gregorian``), units every CF tool and cftime parse. Those numbers are as exact as a
  float64 MJD (about a microsecond); the labels are not read back from them but recomputed, to the
  nanosecond, from ``time_min``/``time_max``/``time_value`` (written unchanged), exactly as a reader of the
  original file computed them. Labels that are not those numbers' (set by hand) are written as ``int64``
  ``microseconds since 1858-11-17 00:00:00`` when whole microseconds, else refused (see :func:`encode`);
- map dimensions run along their pixel-index coordinates (``lat`` -> ``iy``, ``lon`` -> ``ix``) and 1-D sky
  coordinates are called ``sky_lat``/``sky_lon``: CF tools read variables named ``lat``/``lon`` as
  geographic latitude/longitude, which galactic or celestial coordinates are not;
- global attributes ``Conventions = "CF-1.8"``, ``title`` and ``history`` are added where missing;
- coordinates and bounds carry no ``_FillValue``.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from fluxds import schema

__all__ = ["encode", "decode", "netcdf_encoding", "FILE_DIMS", "split_model_variables"]

RECORD = "fluxds_cf"
BOUNDS = "energy_bounds"
BOUNDS_DIM = "bounds2"
_MAP_AXES = (("lat", "iy"), ("lon", "ix"))
#: dimensions the encoding adds to a file, beyond those of :data:`fluxds.schema.DIMS`
FILE_DIMS = (BOUNDS_DIM, *(index for _, index in _MAP_AXES))


def split_model_variables(dims_of: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """Which variables of a netCDF file or zarr store belong to the fluxds Dataset, and which do not.

    A variable belongs when it is known by name (:data:`fluxds.schema.QUANTITY_NAMES`) or when all its
    dimensions are dimensions of the data model (:data:`fluxds.schema.DIMS`, the file's own encoding
    dimensions, and any other dimension of ``norm``, such as a pass-through ``phase``): a user's extra
    variable on the Dataset's dimensions travels with it. A variable with a dimension of its own (an
    extra ``junk(junk)``), and the coordinate of such a dimension, does not.

    Parameters
    ----------
    dims_of : dict of str to tuple of str
        Every variable of the file (coordinates included) and its dimension names.

    Returns
    -------
    belong : list of str
        The variables a fluxds reader reads.
    other : list of str
        The variables with a dimension of their own: never loaded by a fluxds reader.

    Examples
    --------
    >>> split_model_variables({"norm": ("energy",), "junk": ("junk",), "flag": ("energy",)})
    (['norm', 'flag'], ['junk'])
    """
    model = set(schema.DIMS) | set(FILE_DIMS) | set(dims_of.get("norm", ()))
    belong, other = [], []
    for name, dims in dims_of.items():
        known = name in schema.QUANTITY_NAMES or all(d in model for d in dims)
        (belong if known else other).append(str(name))
    return belong, other


TIME_UNITS = "days since 1858-11-17 00:00:00"
_TIME_EXACT_UNITS = "microseconds since 1858-11-17 00:00:00"
_MJD0 = np.datetime64("1858-11-17T00:00:00", "ns")
_NS_PER_DAY = 86_400_000_000_000


def _encode_time(out: xr.Dataset, record: dict) -> xr.Dataset:
    """The ``time`` coordinate as CF numbers (module docstring)."""
    var = out["time"].variable
    if var.dtype.kind != "M" or var.dims != ("time",):
        return out
    from fluxds.errors import FormatError
    from fluxds.timeaxis import time_labels

    stamps = np.asarray(var.values).astype("datetime64[ns]")
    ns = (stamps - _MJD0).astype(np.int64)  # within int64: datetime64[ns] spans 1678-2262
    attrs = {k: v for k, v in var.attrs.items() if k not in ("units", "calendar")}
    attrs.update(calendar="proleptic_gregorian")
    labels = time_labels(out)
    if labels is not None and np.array_equal(labels, stamps):
        whole, rest = np.divmod(ns, _NS_PER_DAY)
        days = whole.astype(np.float64) + rest / _NS_PER_DAY
        record["time"] = "recomputed"
        new = xr.Variable(("time",), days, {**attrs, "units": TIME_UNITS})
    elif np.all(ns % 1000 == 0):
        record["time"] = "stored"
        new = xr.Variable(("time",), ns // 1000, {**attrs, "units": _TIME_EXACT_UNITS})
    else:
        raise FormatError(
            "the 'time' labels are not those of the time_min/time_max/time_value coordinates and not whole "
            "microseconds: no CF time unit holds them exactly (cftime has no nanoseconds); rebuild them "
            "with fluxds.timeaxis.time_coords, or round them: ds.assign_coords(time=ds.time.dt.round('us'))"
        )
    return out.assign_coords(time=new)


_ADDED_GLOBALS = {
    "Conventions": "CF-1.8",
    "title": "gamma-ray flux estimate (fluxds)",
    "history": "written by fluxds",
}


def _long_name(name: str) -> str:
    spec = schema.VARIABLES.get(name)
    return spec.long_name if spec else schema.ENERGY_LONG_NAMES.get(name, name.replace("_", " "))


def encode(ds: xr.Dataset) -> xr.Dataset:
    """The CF form of a fluxds Dataset (see the module docstring); :func:`decode` inverts it exactly."""
    record: dict = {"long_names": [], "dimensionless": [], "globals": [], "bounds": None, "swapped": []}
    out = ds.copy(deep=False)
    out.attrs = dict(ds.attrs)
    for name in list(out.variables):
        var = out[name]
        attrs = dict(var.attrs)
        if "long_name" not in attrs and "standard_name" not in attrs:
            attrs["long_name"] = _long_name(str(name))
            record["long_names"].append(str(name))
        if attrs.get("units") == "":
            attrs["units"] = "1"
            record["dimensionless"].append(str(name))
        out[name].attrs = attrs
    edges = (schema.ENERGY_MIN, schema.ENERGY_MAX)
    if all(e in out.coords for e in edges) and all(
        out[e].attrs.get("units") == out[schema.ENERGY].attrs.get("units") for e in edges
    ):
        record["bounds"] = {e: dict(out[e].attrs) for e in edges}
        bounds = np.stack([out[e].values for e in edges], axis=-1)
        out = out.drop_vars(list(edges))
        bounds_attrs = {"long_name": "energy bin edges", "units": out[schema.ENERGY].attrs.get("units", "")}
        out[BOUNDS] = xr.Variable((schema.ENERGY, BOUNDS_DIM), bounds, bounds_attrs)
        out = out.set_coords(BOUNDS)
        out[schema.ENERGY].attrs["bounds"] = BOUNDS
    if "time" in out.coords and "standard_name" not in out["time"].attrs:
        out["time"].attrs = {**out["time"].attrs, "standard_name": "time"}
        record["time_standard_name"] = True
    if "time" in out.coords:
        out = _encode_time(out, record)
    for dim, index in _MAP_AXES:
        if dim in out.dims and index in out.coords and out[index].dims == (dim,):
            out = out.swap_dims({dim: index})
            if dim in out.variables and f"sky_{dim}" not in out.variables:
                out = out.rename_vars({dim: f"sky_{dim}"})
            record["swapped"].append([dim, index])
    for key, value in _ADDED_GLOBALS.items():
        if key not in out.attrs:
            out.attrs[key] = value
            record["globals"].append(key)
    out.attrs[RECORD] = json.dumps(record)
    return out


def decode(ds: xr.Dataset, *, where: str = "the Dataset") -> xr.Dataset:
    """Undo :func:`encode` (a Dataset without the ``fluxds_cf`` record is returned unchanged).

    ``where`` (the file) names the source in errors: energy bounds of any shape but (energy, 2) are
    refused (:class:`~fluxds.errors.FormatError`) before they are loaded, so a lazy read never computes
    bounds a file declares huge."""
    if RECORD not in ds.attrs:
        return ds
    record = json.loads(ds.attrs[RECORD])
    out = ds.copy(deep=False)
    out.attrs = {k: v for k, v in ds.attrs.items() if k != RECORD and k not in record["globals"]}
    if record.get("bounds") and BOUNDS in out.variables:
        found, want = out[BOUNDS], (out.sizes.get(schema.ENERGY), 2)
        if found.dims != (schema.ENERGY, BOUNDS_DIM) or found.shape != want:
            from fluxds.errors import FormatError

            raise FormatError(
                f"{where}: variable {BOUNDS!r} has dimensions {found.dims} and shape {found.shape}; the "
                f"energy bounds must be ({schema.ENERGY!r}, {BOUNDS_DIM!r}) of shape {want}"
            )
        bounds = found.values
        out = out.drop_vars(BOUNDS)
        energy_attrs = {k: v for k, v in out[schema.ENERGY].attrs.items() if k != "bounds"}
        out[schema.ENERGY].attrs = energy_attrs
        for i, edge in enumerate((schema.ENERGY_MIN, schema.ENERGY_MAX)):
            out = out.assign_coords(
                {edge: xr.Variable((schema.ENERGY,), bounds[:, i], record["bounds"][edge])}
            )
    if record.get("time") == "recomputed" and "time" in out.coords:
        from fluxds.timeaxis import time_labels

        labels = time_labels(out)
        if labels is not None:
            out = out.assign_coords(time=xr.Variable(("time",), labels, out["time"].attrs))
    if record.get("time") and "time" in out.coords:
        out["time"].attrs = {k: v for k, v in out["time"].attrs.items() if k not in ("units", "calendar")}
    if record.get("time_standard_name") and "time" in out.coords:
        out["time"].attrs = {k: v for k, v in out["time"].attrs.items() if k != "standard_name"}
    for dim, index in record.get("swapped", []):
        if f"sky_{dim}" in out.variables and out[f"sky_{dim}"].dims == (index,):
            out = out.rename_vars({f"sky_{dim}": dim})
        out = out.swap_dims({index: dim})
    for name in record["long_names"]:
        if name in out.variables:
            out[name].attrs = {k: v for k, v in out[name].attrs.items() if k != "long_name"}
    for name in record["dimensionless"]:
        if name in out.variables:
            out[name].attrs = {**out[name].attrs, "units": ""}
    return out


def netcdf_encoding(ds: xr.Dataset) -> dict:
    """Per-variable encoding for ``to_netcdf``: no fill values on coordinates and bounds, text
    coordinates as character arrays."""
    encoding = {}
    for name, var in ds.variables.items():
        entry = {}
        if name in ds.coords:
            entry["_FillValue"] = None
        if var.dtype.kind == "U":
            entry["dtype"] = "S1"
            entry.pop("_FillValue", None)
        if entry:
            encoding[name] = entry
    return encoding
