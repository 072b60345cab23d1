"""A reversible CF encoding of fluxds Datasets for netCDF, so that tools in other languages read the
files cleanly (ncdump, the CF checkers, UDUNITS-2, R's ncdf4, NCO) and fluxds reads them back exactly.

What :func:`encode` changes, and :func:`decode` undoes (a record of it travels in the global attribute
``fluxds_cf``):

- every binned axis of :data:`fluxds.schema.BINNED_AXES` present gets a CF bounds variable, shape
  (dim, 2), named by the schema (``energy_bounds``, ``phase_bounds``, ``x_bounds``, ``time_bounds``) and
  referenced by the centre's ``bounds`` attribute (``energy:bounds``, ``phase:bounds``, ``x_ref:bounds``,
  ``time:bounds``). For an axis whose edges *are* the bounds (``cf_bounds="edges"``: energy, phase, the
  region's distance) the edges move into it where they share the centre's unit, and come back exactly.
  The ``time`` bounds are *derived* (``cf_bounds="derived"``): the edges in the centre's CF unit, written
  beside ``time_min``/``time_max`` (kept unchanged) and dropped on reading;
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

__all__ = ["encode", "decode", "netcdf_encoding", "FILE_DIMS", "bounds_names", "split_model_variables"]

RECORD = "fluxds_cf"
BOUNDS = schema.BINNED_AXES[schema.ENERGY].bounds  # "energy_bounds"
BOUNDS_DIM = "bounds2"
_MAP_AXES = (("lat", "iy"), ("lon", "ix"))
#: dimensions the encoding adds to a file, beyond those of :data:`fluxds.schema.DIMS`
FILE_DIMS = (BOUNDS_DIM, *(index for _, index in _MAP_AXES))


def bounds_names() -> tuple[str, ...]:
    """Every CF bounds variable the encoding may write: one per binned axis of
    :data:`fluxds.schema.BINNED_AXES` (read at each call, so that a new axis is one schema entry)."""
    return tuple(axis.bounds for axis in schema.BINNED_AXES.values())


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


def _axis_long_name(name: str) -> str | None:
    """The schema's words for a coordinate of a binned axis (a dimension's own name, as ``time`` or
    ``phase``, says enough; energy keeps its words)."""
    for axis in schema.BINNED_AXES.values():
        if name in axis.coords and (name != axis.dim or axis.dim == schema.ENERGY):
            return axis.long_name_of[name]
    return None


def _long_name(name: str) -> str:
    spec = schema.VARIABLES.get(name)
    return spec.long_name if spec else (_axis_long_name(name) or name.replace("_", " "))


def _edges_bounds(out: xr.Dataset, axis: schema.BinnedAxis, record: dict) -> xr.Dataset:
    """Move the edges of ``axis`` into its CF bounds variable, where they share the centre's unit."""
    names = axis.coords
    if not all(n in out.coords and out[n].dims == (axis.dim,) for n in names) or axis.bounds in out.variables:
        return out
    unit = out[axis.centre].attrs.get("units")
    if any(out[e].attrs.get("units") != unit for e in axis.edges):
        return out
    saved = {e: dict(out[e].attrs) for e in axis.edges}
    if axis.dim == schema.ENERGY:
        record["bounds"] = saved  # the form fluxds wrote before other axes had bounds: older readers
    else:
        record.setdefault("axis_bounds", {})[axis.dim] = saved
    bounds = np.stack([out[e].values for e in axis.edges], axis=-1)
    out = out.drop_vars(list(axis.edges))
    attrs = {"long_name": f"{axis.dim} bin edges"}
    if unit is not None:
        attrs["units"] = unit
    out[axis.bounds] = xr.Variable((axis.dim, BOUNDS_DIM), bounds, attrs)
    out = out.set_coords(axis.bounds)
    out[axis.centre].attrs["bounds"] = axis.bounds
    return out


def _time_bounds(out: xr.Dataset, axis: schema.BinnedAxis, record: dict) -> xr.Dataset:
    """The derived CF bounds of ``time`` (module docstring), in the unit of the encoded ``time``."""
    from fluxds.timeaxis import edge_labels

    if axis.dim not in out.coords or axis.bounds in out.variables or record.get("time") is None:
        return out
    edges = edge_labels(out)
    if edges is None:
        return out
    ns = np.stack([(np.asarray(e).astype("datetime64[ns]") - _MJD0).astype(np.int64) for e in edges], -1)
    if record["time"] == "recomputed":
        whole, rest = np.divmod(ns, _NS_PER_DAY)
        values, unit = whole.astype(np.float64) + rest / _NS_PER_DAY, TIME_UNITS
    else:
        values, unit = np.round(ns / 1000).astype(np.int64), _TIME_EXACT_UNITS
    attrs = {"long_name": "time bin edges (derived from time_min, time_max)", "units": unit}
    attrs["calendar"] = "proleptic_gregorian"
    out[axis.bounds] = xr.Variable((axis.dim, BOUNDS_DIM), values, attrs)
    out = out.set_coords(axis.bounds)
    out[axis.dim].attrs["bounds"] = axis.bounds
    record.setdefault("derived_bounds", {})[axis.dim] = axis.bounds
    return out


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
    if "time" in out.coords and "standard_name" not in out["time"].attrs:
        out["time"].attrs = {**out["time"].attrs, "standard_name": "time"}
        record["time_standard_name"] = True
    if "time" in out.coords:
        out = _encode_time(out, record)
    for axis in schema.BINNED_AXES.values():  # every binned axis present gets CF bounds
        out = (_edges_bounds if axis.cf_bounds == "edges" else _time_bounds)(out, axis, record)
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
    moved = dict(record.get("axis_bounds") or {})
    if record.get("bounds"):
        moved[schema.ENERGY] = record["bounds"]
    for dim, saved in moved.items():
        axis = schema.BINNED_AXES.get(dim)
        if axis is None or axis.bounds not in out.variables:
            continue
        bounds = _checked_bounds(out, axis, where)
        out = out.drop_vars(axis.bounds)
        if axis.centre in out.variables:
            out[axis.centre].attrs = {k: v for k, v in out[axis.centre].attrs.items() if k != "bounds"}
        for i, edge in enumerate(axis.edges):
            out = out.assign_coords({edge: xr.Variable((axis.dim,), bounds[:, i], saved[edge])})
    for dim, name in (record.get("derived_bounds") or {}).items():
        axis = schema.BINNED_AXES.get(dim)
        if axis is None or name not in out.variables:
            continue
        out = out.drop_vars(name)  # derived from the edges, which the file keeps unchanged
        if axis.dim in out.variables:
            out[axis.dim].attrs = {k: v for k, v in out[axis.dim].attrs.items() if k != "bounds"}
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


def _checked_bounds(ds: xr.Dataset, axis: schema.BinnedAxis, where: str) -> np.ndarray:
    """The values of the bounds variable of ``axis``, refused (before it is loaded) unless of dims
    ``(dim, bounds2)`` and shape ``(n, 2)``."""
    found, want = ds[axis.bounds], (ds.sizes.get(axis.dim), 2)
    if found.dims != (axis.dim, BOUNDS_DIM) or found.shape != want:
        from fluxds.errors import FormatError

        raise FormatError(
            f"{where}: variable {axis.bounds!r} has dimensions {found.dims} and shape {found.shape}; the "
            f"{axis.dim} bounds must be ({axis.dim!r}, {BOUNDS_DIM!r}) of shape {want}"
        )
    return found.values


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
