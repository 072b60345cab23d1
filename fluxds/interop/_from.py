"""gammapy ``FluxPoints``/``FluxMaps`` -> fluxds Dataset, through gammapy's in-memory maps.

Imported only by :func:`fluxds.from_gammapy` (it imports gammapy).
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.time import Time

from fluxds import schema
from fluxds.construct import from_sed
from fluxds.errors import SchemaError
from fluxds.interop._geometry import AXIS_TO_DIM, axis_coords, spatial
from fluxds.interop._models import fluxds_model, sky_model_json
from fluxds.io.gti import gti_from_columns
from fluxds.models import model_to_json

__all__ = ["dataset_from_flux_maps", "GAMMAPY_META", "GAMMAPY_MODEL"]

GAMMAPY_META = "gammapy_meta"
GAMMAPY_MODEL = "gammapy_reference_model"
_SCAN_VALUES = "dnde_scan_values"


def _native(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    return values if values.dtype.isnative else values.astype(values.dtype.newbyteorder("="))


def _data_array(m, spatial_dims: tuple[str, ...]) -> xr.DataArray:
    """A gammapy Map as a DataArray (a region map's 1x1 sky part dropped)."""
    dims = [AXIS_TO_DIM.get(a.name, a.name) for a in reversed(m.geom.axes)]
    data = _native(m.data)
    if not spatial_dims:
        data = data[..., 0, 0]
    return xr.DataArray(data, dims=[*dims, *spatial_dims])


def _scan_nodes(m) -> xr.DataArray | None:
    """The norm values of gammapy's ``norm`` scan axis (one axis for every bin)."""
    for axis in m.geom.axes:
        if axis.name == "norm":
            return xr.DataArray(_native(axis.center.to_value("")), dims="scan")
    return None


def _ordered(da: xr.DataArray, dims: tuple[str, ...], sizes: dict[str, int]) -> np.ndarray:
    """The values in the order ``dims`` + the extra dims (canonical), broadcast (a view) where the
    variable lacks some of ``dims``."""
    extra = [d for d in schema.canonical_dims(da.dims) if d not in dims]
    missing = {d: sizes[d] for d in dims if d not in da.dims}
    if missing:
        da = da.expand_dims(missing)
    return da.transpose(*dims, *extra).values


def _meta(fm) -> tuple[dict[str, Any], str]:
    rest = {}
    for key, value in fm.meta.items():
        if isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value)
        except TypeError:
            continue  # gammapy metadata objects: not carried
        rest[key] = value
    return rest, json.dumps(rest)


def _gti(fm) -> xr.Dataset | None:
    gti = fm.gti
    if gti is None or len(gti.table) == 0:
        return None
    ref = gti.time_ref
    mjdrefi = int(np.floor(ref.mjd))
    mjdreff = float((ref - Time(mjdrefi, format="mjd", scale=ref.scale)).to_value("d"))
    return gti_from_columns(
        gti.met_start.to_value("s"),
        gti.met_stop.to_value("s"),
        unit="s",
        mjdrefi=mjdrefi,
        mjdreff=mjdreff,
        timesys=ref.scale,
        where="gammapy GTI",
    )


def dataset_from_flux_maps(fm, *, regions=None) -> xr.Dataset:
    """See :func:`fluxds.from_gammapy`."""
    geom = fm.geom
    spatial_dims, spatial_coords, spatial_attrs = spatial(geom)
    arrays = {name: _data_array(m, spatial_dims) for name, m in fm._data.items()}
    units = {name: m.unit for name, m in fm._data.items()}
    scan_values = arrays.pop(_SCAN_VALUES, None)
    norm = arrays["norm"]
    dims = tuple(schema.canonical_dims(norm.dims))
    sizes = dict(norm.sizes)
    coords = dict(spatial_coords)
    for axis in geom.axes:
        if axis.name != "energy":
            coords.update(axis_coords(axis))
    for axis in fm._data.get("counts", fm._data.get("npred", fm._data["norm"])).geom.axes:
        if axis.name == "dataset":
            coords.update(axis_coords(axis))
    if regions is not None:
        coords.update(_region_shapes(regions, norm.sizes.get("region")))

    data: dict[str, Any] = {}
    shared: list[str] = []  # variables along energy (and scan) only
    for name, da in arrays.items():
        values = _ordered(da, dims, sizes)
        unit = units[name]
        if unit != u.dimensionless_unscaled and values.dtype.kind == "f":
            data[name] = u.Quantity(values, unit, copy=False)
        else:
            data[name] = values
    if scan_values is not None:  # a scan grid per bin (TS maps): norm_scan = dnde_scan_values / ref_dnde
        ref = u.Quantity(np.ravel(fm.dnde_ref.value), fm.dnde_ref.unit)
        scale = float((units[_SCAN_VALUES] / ref.unit).to(u.dimensionless_unscaled))
        norm_scan = scan_values / xr.DataArray(ref.value, dims=schema.ENERGY)
        data["norm_scan"] = _ordered(norm_scan * scale if scale != 1.0 else norm_scan, dims, sizes)
    elif "stat_scan" in fm._data:
        nodes = _scan_nodes(fm._data["stat_scan"])
        if nodes is not None:  # one grid for every bin: (energy, scan), as the table readers give it
            shared.append("norm_scan")
            data["norm_scan"] = _ordered(nodes.broadcast_like(arrays["stat_scan"]), dims, sizes)

    axis = fm.energy_axis
    energy = {"energy_ref": axis.center}
    if axis.node_type == "edges":
        energy.update(energy_min=axis.edges[:-1], energy_max=axis.edges[1:])
    refs = {"ref_dnde": fm.dnde_ref}
    if axis.node_type == "edges":
        refs.update(ref_flux=fm.flux_ref, ref_eflux=fm.eflux_ref)
    for name, ref in refs.items():  # in fluxds's units (gammapy's integral of a keV axis is in keV TeV-1 ...)
        flat = u.Quantity(np.ravel(ref.value), ref.unit).to(schema.VARIABLES[name].unit)
        shape = [1 if d != schema.ENERGY else flat.size for d in dims]
        full = np.broadcast_to(flat.value.reshape(shape), [sizes[d] for d in dims])
        data[name] = u.Quantity(full, flat.unit, copy=False)

    model = fluxds_model(fm.reference_spectral_model)
    ds = from_sed(
        "likelihood",
        data,
        dims=dims,
        coords=coords,
        reference_model=model,
        **energy,
    )
    others = {d: 0 for d in dims if d != schema.ENERGY}
    ds = ds.assign({name: ds[name].isel(others, drop=True) for name in [*refs, *shared]})
    ds.attrs = _attrs(fm, model, spatial_attrs)
    gti = _gti(fm)
    if gti is not None:
        ds = ds.merge(gti)
    return ds.transpose(*schema.canonical_dims(ds.dims))


def _attrs(fm, model, spatial_attrs: dict[str, str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "sed_type_init": str(fm.sed_type_init or "likelihood"),
        "n_sigma": float(fm.n_sigma),
    }
    if fm.meta.get("UL_CONF") is not None:
        attrs["ul_conf"] = float(fm.meta["UL_CONF"])
    if fm.n_sigma_ul is not None:
        attrs["n_sigma_ul"] = float(fm.n_sigma_ul)
    attrs["sqrt_ts_threshold_ul"] = float(fm.sqrt_ts_threshold_ul)
    spectral = fm.reference_spectral_model
    tag = type(spectral).tag[0] if isinstance(type(spectral).tag, list) else str(type(spectral).tag)
    if model is not None:
        attrs["reference_model"] = model_to_json(model)
        attrs["reference_model_origin"] = f"gammapy reference model ({tag})"
    else:
        attrs["reference_model_origin"] = (
            f"gammapy reference model ({tag}), which fluxds has no type for: ref_* as gammapy evaluated it"
        )
    sky = fm.reference_model
    if model is None or sky.spatial_model is not None or sky.temporal_model is not None:
        text = sky_model_json(sky)  # what the fluxds model cannot say, for to_gammapy
        if text is not None:
            attrs[GAMMAPY_MODEL] = text
    rest, rest_json = _meta(fm)
    if rest:
        attrs[GAMMAPY_META] = rest_json
    attrs.update(spatial_attrs)
    return attrs


def _region_shapes(regions, n: int | None) -> dict[str, xr.Variable]:
    if n is None:
        raise SchemaError("regions= is for profiles (a projected-distance axis); this object has none")
    texts = [r if isinstance(r, str) else r.serialize(format="ds9") for r in regions]
    if len(texts) != n:
        raise SchemaError(f"regions= has {len(texts)} regions; the profile has {n}")
    return {"region_shape": xr.Variable("region", np.array(texts, dtype=str), {"long_name": "region"})}
