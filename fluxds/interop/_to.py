"""fluxds Dataset -> gammapy ``FluxPoints``/``FluxMaps``, through gammapy's in-memory maps.

Imported only by :func:`fluxds.to_gammapy` (it imports gammapy).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.time import Time
from gammapy.data import GTI
from gammapy.estimators import FluxMaps, FluxPoints
from gammapy.estimators.map.core import VALID_QUANTITIES
from gammapy.maps import Map, MapAxis, Maps, RegionGeom
from gammapy.modeling.models import SkyModel

from fluxds import schema
from fluxds.construct import reference_model_of
from fluxds.errors import ModelError, SchemaError
from fluxds.interop._from import GAMMAPY_META, GAMMAPY_MODEL
from fluxds.interop._geometry import energy_axis, geom_for, other_axis
from fluxds.interop._models import StoredReferenceSpectralModel, gammapy_model, sky_model_from_json
from fluxds.units import parse_unit

__all__ = ["flux_maps_from_dataset"]

_SKY_DIMS = ("lat", "lon", "pixel")
_EXTRA_DIMS = ("scan", "dataset")
_REFS = ("ref_dnde", "ref_flux", "ref_eflux")
_RTOL = 1e-12


def _check(ds: xr.Dataset) -> tuple[str, ...]:
    if "source" in ds.dims:
        raise SchemaError(
            f"gammapy holds one source per FluxPoints/FluxMaps; this Dataset has {ds.sizes['source']} "
            "sources: select one first (ds.sel(source=name))"
        )
    if "norm" not in ds.data_vars:
        raise SchemaError("to_gammapy needs the likelihood form: a 'norm' variable")
    for name in _REFS:
        if name in ds.data_vars and set(ds[name].dims) - {schema.ENERGY}:
            raise SchemaError(
                f"{name!r} varies along {ds[name].dims}: gammapy has one reference spectrum (energy only)"
            )
    return tuple(d for d in ds["norm"].dims)


def _unit(var: xr.DataArray) -> u.UnitBase:
    text = var.attrs.get("units")
    return parse_unit(text) if text is not None else u.dimensionless_unscaled


def _scan_axis(ds: xr.Dataset) -> tuple[MapAxis | None, bool]:
    """gammapy's scan axis, and whether the scan values differ between bins: then the axis is
    gammapy's ``dnde_bin`` index and the values go to a ``dnde_scan_values`` map (as TS maps have
    them); else it is the ``norm`` axis of the one set of norm values."""
    if "norm_scan" not in ds.data_vars:
        return None, False
    scan = ds["norm_scan"].transpose(..., "scan").values
    flat = scan.reshape(-1, scan.shape[-1])
    if (flat == flat[:1]).all():
        return MapAxis.from_nodes(flat[0], name="norm", interp="lin"), False
    n = scan.shape[-1]
    return MapAxis(np.arange(n), interp="lin", node_type="center", name="dnde_bin"), True


def _map(var: xr.DataArray, geom, sizes: dict[str, int], sky_dims: tuple[str, ...], extra_axis=None):
    """A gammapy Map of one variable: data in gammapy's order (axes reversed, then the sky); a
    variable without some of the dims of ``norm`` is broadcast (gammapy's maps are full)."""
    axes_dims = [schema.ENERGY, *(d for d in sizes if d not in sky_dims and d != schema.ENERGY)]
    extra = [d for d in var.dims if d not in sizes]
    missing = {d: n for d, n in sizes.items() if d not in var.dims}
    if missing:
        var = var.expand_dims(missing)
    order = [*extra, *axes_dims][::-1] + list(sky_dims)
    data = np.asarray(var.transpose(*order).values)
    if not sky_dims:
        data = data[..., None, None]
    if extra:  # gammapy puts the norm/dataset axis first among the non-spatial axes
        geom = geom.to_image().to_cube([extra_axis, *geom.axes])
    unit = _unit(var) if data.dtype.kind == "f" else ""
    return Map.from_geom(geom, data=data, unit=unit)


def flux_maps_from_dataset(ds: xr.Dataset, *, exact_reference: bool = True) -> FluxMaps:
    """See :func:`fluxds.to_gammapy`."""
    base_dims = _check(ds)
    if "pixel" in ds.dims:
        from fluxds.interop._healpix import sorted_pixels

        ds = sorted_pixels(ds)
    sky_dims = tuple(d for d in base_dims if d in _SKY_DIMS)
    axes = [energy_axis(ds)]
    for dim in base_dims:
        if dim not in sky_dims and dim != schema.ENERGY:
            axes.append(other_axis(ds, dim, ds.sizes[dim]))
    geom = geom_for(ds, axes)
    sizes = {d: ds.sizes[d] for d in base_dims}
    scan_axis, per_bin = _scan_axis(ds)
    maps = Maps()
    if per_bin:
        if "ref_dnde" not in ds.data_vars:
            raise SchemaError("per-bin scan values need 'ref_dnde' (gammapy stores them as dnde)")
        values = ds["norm_scan"] * ds["ref_dnde"]
        values.attrs["units"] = ds["ref_dnde"].attrs.get("units", "")
        maps["dnde_scan_values"] = _map(values, geom, sizes, sky_dims, scan_axis)
    for name, var in ds.data_vars.items():
        name = str(name)
        if name not in VALID_QUANTITIES or name == "dnde_scan_values":
            continue
        extra = [d for d in var.dims if d not in base_dims]
        if len(extra) > 1:
            raise SchemaError(f"variable {name!r} has dims {var.dims}: gammapy holds one extra axis at most")
        extra_axis = None
        if extra:
            dim = extra[0]
            extra_axis = scan_axis if dim == "scan" else other_axis(ds, dim, ds.sizes[dim])
            if extra_axis is None:
                raise SchemaError(
                    f"variable {name!r} has a 'scan' dimension but the Dataset has no norm_scan"
                )
        maps[name] = _map(var, geom, sizes, sky_dims, extra_axis)
    cls = FluxPoints if isinstance(geom, RegionGeom) else FluxMaps
    model = _reference(ds, geom, exact_reference)
    return cls.from_maps(maps, sed_type="likelihood", reference_model=model, gti=_gti(ds), meta=_meta(ds))


def _stored(ds: xr.Dataset, name: str) -> u.Quantity | None:
    if name not in ds.data_vars:
        return None
    return u.Quantity(np.asarray(ds[name].values, dtype=float), _unit(ds[name]))


def _reference(ds: xr.Dataset, geom, exact: bool) -> SkyModel | None:
    """gammapy's reference SkyModel: gammapy's own dict (from from_gammapy), else the twin of the fluxds
    model; wrapped so that it gives the stored ref_* where gammapy's evaluation differs (``exact``)."""
    sky = None
    if ds.attrs.get(GAMMAPY_MODEL):
        try:
            sky = sky_model_from_json(ds.attrs[GAMMAPY_MODEL])
        except (ValueError, KeyError, TypeError):
            sky = None
    if sky is None:
        try:
            model = reference_model_of(ds)
        except ModelError:
            model = None
        if model is not None and not isinstance(model, dict):
            sky = SkyModel(spectral_model=gammapy_model(model))
    stored = {name: _stored(ds, name) for name in _REFS}
    if not exact or stored["ref_dnde"] is None:
        return sky
    axis = geom.axes["energy"]
    e_ref = u.Quantity(np.asarray(ds[schema.ENERGY].values, dtype=float), _unit(ds[schema.ENERGY]))
    if not np.allclose(axis.center.to_value(e_ref.unit), e_ref.value, rtol=1e-10, atol=0):
        warnings.warn(
            "gammapy's energy axis takes the log centre of each bin as its reference energy; this "
            f"Dataset's e_ref differ from it ({e_ref} vs {axis.center.to(e_ref.unit)}): gammapy's dnde "
            "are at the log centres",
            UserWarning,
            stacklevel=4,
        )
    edges = axis.node_type == "edges"
    spectral = None if sky is None else sky.spectral_model
    if spectral is not None and _agrees(spectral, axis, stored, edges):
        return sky
    wrapped = StoredReferenceSpectralModel(
        spectral,
        e_ref,
        axis.edges[:-1] if edges else None,
        axis.edges[1:] if edges else None,
        stored["ref_dnde"],
        stored["ref_flux"],
        stored["ref_eflux"],
    )
    if sky is None:
        return SkyModel(spectral_model=wrapped, name="fluxds-reference")
    return SkyModel(spectral_model=wrapped, spatial_model=sky.spatial_model, name=sky.name)


def _agrees(spectral, axis, stored: dict[str, Any], edges: bool) -> bool:
    """Whether gammapy's evaluation of the model gives the stored references (rtol 1e-12)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        checks = [(spectral(axis.center), stored["ref_dnde"])]
        if edges and stored["ref_flux"] is not None:
            checks.append((spectral.integral(axis.edges[:-1], axis.edges[1:]), stored["ref_flux"]))
        if edges and stored["ref_eflux"] is not None:
            checks.append((spectral.energy_flux(axis.edges[:-1], axis.edges[1:]), stored["ref_eflux"]))
    return all(
        np.allclose(theirs.to_value(ours.unit), ours.value, rtol=_RTOL, atol=0, equal_nan=True)
        for theirs, ours in checks
    )


def _gti(ds: xr.Dataset) -> GTI | None:
    if "gti_start" not in ds.data_vars:
        return None
    attrs = ds["gti_start"].attrs
    unit = parse_unit(attrs.get("units", "s"))
    reference = Time(
        float(attrs.get("mjdrefi", 0.0)),
        float(attrs.get("mjdreff", 0.0)),
        format="mjd",
        scale=str(attrs.get("time_scale", "tt")),
    )
    return GTI.create(
        u.Quantity(np.asarray(ds["gti_start"].values, dtype=float), unit),
        u.Quantity(np.asarray(ds["gti_stop"].values, dtype=float), unit),
        reference_time=reference,
    )


def _meta(ds: xr.Dataset) -> dict[str, Any]:
    """gammapy's meta: the one from_gammapy kept, updated from the attributes (a key gammapy has a
    default for is set only when it was there or differs from the default)."""
    meta: dict[str, Any] = json.loads(ds.attrs[GAMMAPY_META]) if ds.attrs.get(GAMMAPY_META) else {}
    defaults = {"n_sigma": 1.0, "sqrt_ts_threshold_ul": 2.0, "n_sigma_ul": None}
    for key, default in defaults.items():
        if key in ds.attrs and (key in meta or float(ds.attrs[key]) != default):
            meta[key] = float(ds.attrs[key])
    if "ul_conf" in ds.attrs:
        meta["UL_CONF"] = float(ds.attrs["ul_conf"])
    meta["sed_type_init"] = str(ds.attrs.get("sed_type_init", "likelihood"))
    return meta
