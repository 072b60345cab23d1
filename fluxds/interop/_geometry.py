"""gammapy map axes and geometries <-> fluxds dimensions and coordinates.

Imported only by :func:`fluxds.from_gammapy` / :func:`fluxds.to_gammapy` (it imports gammapy).

=========================  =============  ===========================================================
gammapy                    fluxds dim     coordinates
=========================  =============  ===========================================================
``energy`` MapAxis         ``energy``     ``energy`` (axis centre), ``energy_min``/``energy_max`` (edges,
                                          only for an axis of edges: one made from nodes has none)
``time`` TimeMapAxis       ``time``       ``time_min``/``time_max``: the axis' own numbers (``edges_min``
                                          /``edges_max`` since ``reference_time``), see fluxds.timeaxis
``projected-distance``     ``region``     ``x_ref`` (axis centre), ``x_min``/``x_max`` (edges, for an axis
                                          of edges), names ``region0`` ...
``norm`` / ``dnde_bin``    ``scan``       (``norm_scan`` is a variable)
``dataset``                ``dataset``    ``dataset`` = the labels of a LabelMapAxis (none otherwise)
RegionGeom                 (none)         the region as DS9 text in ``attrs["region_shape"]``
WcsGeom                    ``lat, lon``   see :mod:`fluxds.wcs`
HpxGeom                    ``pixel``      see :mod:`fluxds.healpix`
=========================  =============  ===========================================================
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.time import Time
from gammapy.maps import HpxGeom, LabelMapAxis, MapAxis, RegionGeom, TimeMapAxis, WcsGeom

from fluxds import schema
from fluxds.errors import SchemaError
from fluxds.io.flux_profile.columns import X_COLUMNS
from fluxds.units import format_unit, parse_unit

__all__ = ["AXIS_TO_DIM", "axis_coords", "spatial", "energy_axis", "other_axis", "geom_for", "REGION_ATTR"]

AXIS_TO_DIM = {
    "energy": schema.ENERGY,
    "time": "time",
    "projected-distance": "region",
    "norm": "scan",
    "dnde_bin": "scan",
    "dataset": "dataset",
}
REGION_ATTR = "region_shape"


# --- gammapy -> fluxds ---------------------------------------------------------------------------
def _time_coords(axis: TimeMapAxis) -> dict[str, xr.Variable]:
    from fluxds.timeaxis import time_coords

    ref = axis.reference_time
    mjdrefi = int(np.floor(ref.mjd))
    mjdreff = float((ref - Time(mjdrefi, format="mjd", scale=ref.scale)).to_value("d"))
    unit = axis.edges_min.unit
    return time_coords(
        time_min=axis.edges_min.to_value(unit),
        time_max=axis.edges_max.to_value(unit),
        unit=format_unit(unit),
        mjdrefi=mjdrefi,
        mjdreff=mjdreff,
        scale=ref.scale,
    )


def _distance_coords(axis: MapAxis) -> dict[str, xr.Variable]:
    unit = format_unit(axis.unit)
    n = axis.nbin
    coords = {
        "region": xr.Variable(
            "region", np.array([f"region{i}" for i in range(n)]), {"long_name": "region name"}
        ),
        "x_ref": xr.Variable(
            "region", axis.center.value.astype(float), {"units": unit, "long_name": X_COLUMNS["x_ref"]}
        ),
    }
    if axis.node_type == "edges":
        edges = axis.edges.value.astype(float)
        coords["x_min"] = xr.Variable("region", edges[:-1], {"units": unit, "long_name": X_COLUMNS["x_min"]})
        coords["x_max"] = xr.Variable("region", edges[1:], {"units": unit, "long_name": X_COLUMNS["x_max"]})
    return coords


def axis_coords(axis) -> dict[str, xr.Variable]:
    """The fluxds coordinates of one non-spatial gammapy axis (energy excluded)."""
    if isinstance(axis, TimeMapAxis):
        return _time_coords(axis)
    if axis.name == "projected-distance":
        return _distance_coords(axis)
    if axis.name == "dataset" and isinstance(axis, LabelMapAxis):
        return {"dataset": xr.Variable("dataset", np.asarray(axis.center).astype(str))}
    return {}


def spatial(geom) -> tuple[tuple[str, ...], dict[str, xr.Variable], dict[str, str]]:
    """``(spatial dims, coordinates, attrs)`` of a gammapy geometry."""
    if isinstance(geom, RegionGeom):
        attrs = {}
        if geom.region is not None:
            attrs[REGION_ATTR] = geom.region.serialize(format="ds9")
        return (), {}, attrs
    if isinstance(geom, WcsGeom):
        from fluxds.wcs import wcs_coords

        if not geom.is_regular:
            raise SchemaError("a WcsGeom whose image size changes along its axes has no fluxds form")
        ny, nx = geom.data_shape[-2:]
        return ("lat", "lon"), wcs_coords(geom.wcs, (int(ny), int(nx))), {}
    if isinstance(geom, HpxGeom):
        from fluxds.interop._healpix import healpix_coords

        return ("pixel",), healpix_coords(geom), {}
    raise SchemaError(f"unknown gammapy geometry {type(geom).__name__}")


# --- fluxds -> gammapy ---------------------------------------------------------------------------
def _quantity(ds: xr.Dataset, name: str) -> u.Quantity:
    return u.Quantity(np.asarray(ds[name].values, dtype=float), parse_unit(ds[name].attrs.get("units")))


def energy_axis(ds: xr.Dataset) -> MapAxis:
    """gammapy's energy axis: bin edges when the Dataset has them (contiguous), else the nodes."""
    if schema.ENERGY_MIN in ds.coords and schema.ENERGY_MAX in ds.coords:
        lo, hi = (
            _quantity(ds, schema.ENERGY_MIN),
            _quantity(ds, schema.ENERGY_MAX).to(parse_unit(ds[schema.ENERGY_MIN].attrs.get("units"))),
        )
        if lo.size > 1 and not np.array_equal(hi.value[:-1], lo.value[1:]):
            raise SchemaError(
                "gammapy's energy axis needs contiguous bins (energy_max[i] == energy_min[i+1]); "
                f"found energy_max {hi.value[:-1]} and energy_min {lo.value[1:]}"
            )
        return MapAxis.from_energy_edges(np.append(lo.value, hi.value[-1]) * lo.unit)
    return MapAxis.from_nodes(_quantity(ds, schema.ENERGY), name="energy", interp="log")


def _time_axis(ds: xr.Dataset) -> TimeMapAxis:
    from fluxds.timeaxis import time_reference

    if "time_min" not in ds.coords:
        raise SchemaError("gammapy's time axis needs time bins: coordinates 'time_min'/'time_max'")
    ref = time_reference(ds["time_min"])
    unit = parse_unit(ref["unit"])
    reference = Time(float(ref["mjdrefi"]), float(ref["mjdreff"]), format="mjd", scale=ref["scale"])
    return TimeMapAxis(
        edges_min=u.Quantity(np.asarray(ds["time_min"].values, dtype=float), unit),
        edges_max=u.Quantity(np.asarray(ds["time_max"].values, dtype=float), unit),
        reference_time=reference,
        name="time",
    )


def _distance_axis(ds: xr.Dataset) -> MapAxis:
    if "x_ref" not in ds.coords:
        raise SchemaError("gammapy's projected-distance axis needs an 'x_ref' coordinate on 'region'")
    x_ref = _quantity(ds, "x_ref")
    if "x_min" in ds.coords and "x_max" in ds.coords:
        lo, hi = _quantity(ds, "x_min").to(x_ref.unit), _quantity(ds, "x_max").to(x_ref.unit)
        if np.array_equal(hi.value[:-1], lo.value[1:]) and np.all(hi.value > lo.value):
            return MapAxis.from_edges(
                np.append(lo.value, hi.value[-1]), unit=x_ref.unit, name="projected-distance"
            )
    return MapAxis.from_nodes(x_ref, name="projected-distance")


def other_axis(ds: xr.Dataset, dim: str, size: int):
    """gammapy's axis for a fluxds dimension other than energy and the sky ones."""
    if dim == "time":
        return _time_axis(ds)
    if dim == "region":
        return _distance_axis(ds)
    if dim == "dataset":
        if "dataset" in ds.coords:
            return LabelMapAxis(labels=np.asarray(ds["dataset"].values).astype(str), name="dataset")
        return MapAxis.from_edges(np.arange(size + 1) - 0.5, name="dataset")
    raise SchemaError(
        f"gammapy has no axis for the dimension {dim!r}; select along it first (e.g. ds.isel({dim}=0))"
    )


def geom_for(ds: xr.Dataset, axes: list):
    """The gammapy geometry of the Dataset's sky part (region, WCS or HEALPix) with ``axes``."""
    if "pixel" in ds.dims:
        from fluxds.interop._healpix import healpix_geom

        return healpix_geom(ds, axes)
    if "lat" in ds.dims or "lon" in ds.dims:
        from fluxds.wcs import wcs_of

        return WcsGeom(wcs=wcs_of(ds), npix=(ds.sizes["lon"], ds.sizes["lat"]), axes=axes)
    region = ds.attrs.get(REGION_ATTR) or None
    return RegionGeom.create(region=region, axes=axes)
