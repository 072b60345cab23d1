"""Assemble a WCS-map Dataset from the arrays of a flux-map file (numpy or dask), in likelihood form.

:func:`fluxds.from_sed` is the one road into the likelihood form, but it takes in-memory arrays of one
shape. A map may be large and read lazily, so the Dataset is built in two steps:

1. :func:`fluxds.from_sed` runs on the arrays of *one pixel* (a cheap slice, computed even when the map
   is dask-backed): it checks names, units and shapes, evaluates the reference model on the energy bins
   and gives every variable its attributes;
2. each map variable of that template then takes the full array (numpy, or dask without computing),
   with the same dims.

Conversions from a file of SED type ``dnde``/``e2dnde``/``flux``/``eflux`` to norms happen here, on the
full arrays, as xarray arithmetic (lazy for dask): ``norm<S> = <type><S> / ref_<type>`` with the
reference of the type evaluated on the energy bins (``ref_dnde * e_ref**2`` for ``e2dnde``), and, for
gammapy's per-pixel likelihood scans, ``norm_scan = dnde_scan_values / ref_dnde``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.construct import from_sed
from fluxds.errors import FormatError
from fluxds.models import SpectralModel
from fluxds.units import format_unit, parse_unit

__all__ = ["build_map_dataset", "energy_coords", "reference_values"]

SPATIAL = ("lat", "lon")


def energy_coords(energy: Mapping[str, u.Quantity]) -> dict[str, xr.Variable]:
    """``energy``/``energy_min``/``energy_max`` coordinates as :func:`fluxds.from_sed` makes them (for
    maps without a measurement, e.g. a counts cube)."""
    from fluxds.construct import EREF_DERIVED

    e_ref, note = energy.get("e_ref"), None
    if e_ref is None:
        e_ref, note = np.sqrt(energy["e_min"] * energy["e_max"]), EREF_DERIVED
    out = {}
    for name, q, key in (
        (schema.ENERGY, e_ref, None),
        (schema.ENERGY_MIN, energy.get("e_min"), "e_min"),
        (schema.ENERGY_MAX, energy.get("e_max"), "e_max"),
    ):
        if q is None:
            continue
        attrs = {"units": format_unit(q.unit), "long_name": schema.ENERGY_LONG_NAMES[name]}
        if key is None and note:
            attrs["note"] = note
        out[name] = xr.Variable((schema.ENERGY,), np.asarray(q.value, dtype=np.float64), attrs)
    return out


def reference_values(model: SpectralModel, energy: Mapping[str, u.Quantity], stem: str) -> u.Quantity:
    """The reference of SED type ``stem`` on the energy bins, as :func:`fluxds.from_sed` evaluates it."""
    kind = schema.sed_type(stem)
    e_ref = energy.get("e_ref")
    if e_ref is None:
        e_ref = np.sqrt(energy["e_min"] * energy["e_max"])
    if kind.reference == "ref_dnde":
        ref = model.dnde(e_ref)
        return ref * e_ref**kind.energy_power if kind.energy_power else ref
    if "e_min" not in energy:
        raise FormatError(f"an SED of type {stem!r} needs energy bin edges (E_MIN, E_MAX)")
    integral = model.flux if kind.reference == "ref_flux" else model.eflux
    return integral(energy["e_min"], energy["e_max"])


def _divide(var: xr.Variable, unit: str, ref: u.Quantity, name: str, where: str) -> xr.Variable:
    """``var [unit] / ref`` as a dimensionless Variable (lazy for dask): ``(value / ref) * scale``."""
    value_unit = parse_unit(unit, where=f"{where}, {name}")
    try:
        scale = float((value_unit / ref.unit).to(u.dimensionless_unscaled))
    except u.UnitConversionError:
        raise FormatError(
            f"{where}: {name} has unit {unit!r}, which does not convert with the reference "
            f"({format_unit(ref.unit)})"
        ) from None
    ref_var = xr.Variable((schema.ENERGY,), np.asarray(ref.value, dtype=np.float64))
    out = var / ref_var
    return (out * scale if scale != 1.0 else out).transpose(*var.dims)


def _norms(
    arrays: dict[str, tuple[xr.Variable, str]], sed: str, model, energy, where: str
) -> dict[str, tuple[xr.Variable, str]]:
    """Replace the measurements of SED type ``sed`` (and ``dnde_scan_values``) by norms."""
    out = dict(arrays)
    kind = schema.sed_type(sed)
    if kind.name != "norm":
        ref = None
        for suffix in schema.MEASUREMENT_SUFFIXES:
            name = f"{kind.name}{suffix}"
            if name not in out:
                continue
            var, unit = out.pop(name)
            if f"norm{suffix}" in out:
                continue  # the file holds the norms too (fluxds writes both): the stored norms win
            ref = reference_values(model, energy, kind.name) if ref is None else ref
            out[f"norm{suffix}"] = (_divide(var, unit, ref, name, where), "")
    if "dnde_scan_values" in out:
        var, unit = out.pop("dnde_scan_values")
        if "norm_scan" not in out:
            ref = reference_values(model, energy, "dnde")
            out["norm_scan"] = (_divide(var, unit, ref, "dnde_scan_values", where), "")
    return out


def _sample(var: xr.Variable, unit: str) -> Any:
    """One pixel of ``var`` for the template Dataset, which takes only structure (shape, dtype, unit)
    from it: for dask-backed data, zeros of that shape, so that opening a map computes nothing."""
    part = var.isel({d: slice(0, 1) for d in SPATIAL})
    values = (
        np.asarray(part.values) if isinstance(part.data, np.ndarray) else np.zeros(part.shape, part.dtype)
    )
    return values * parse_unit(unit) if unit else values


def build_map_dataset(
    arrays: dict[str, tuple[xr.Variable, str]],
    *,
    sed: str | None,
    energy: Mapping[str, u.Quantity],
    model: SpectralModel | None,
    coords: Mapping[str, Any],
    energy_only: Mapping[str, tuple[np.ndarray, str]],
    where: str,
) -> xr.Dataset:
    """The Dataset of a map file.

    Parameters
    ----------
    arrays : dict
        Variable name -> ``(Variable on (energy, lat, lon[, extra]), unit string)``, numpy or dask.
    sed : str or None
        The SED type of the file; None for a map without a measurement (a counts cube).
    energy : mapping
        ``e_ref``/``e_min``/``e_max`` Quantities.
    model : SpectralModel or None
        The reference model.
    coords : mapping
        WCS coordinates and those of extra axes.
    energy_only : mapping
        Per-energy columns stored in the bands table (``ref_dnde`` ...): name -> (values, unit); they
        replace what the model gives.
    where : str
        The file, for messages.
    """
    if sed is None:
        variables = {}
        for name, (var, unit) in arrays.items():
            spec = schema.VARIABLES.get(name)
            attrs = {"long_name": spec.long_name if spec else name}
            if var.dtype.kind == "f":
                attrs["units"] = format_unit(parse_unit(unit))
            variables[name] = xr.Variable(var.dims, var.data, attrs)
        ds = xr.Dataset(variables, coords={**energy_coords(energy), **coords})
        return ds.transpose(*schema.canonical_dims(ds.dims))
    arrays = _norms(arrays, sed, model, energy, where)
    sample = {name: _sample(var, unit) for name, (var, unit) in arrays.items()}
    template = from_sed(
        schema.LIKELIHOOD,
        sample,
        energy_ref=energy.get("e_ref"),
        energy_min=energy.get("e_min"),
        energy_max=energy.get("e_max"),
        reference_model=model,
        dims=(schema.ENERGY, *SPATIAL),
        where=where,
    )
    variables = {}
    first = [f"norm{s}" for s in schema.MEASUREMENT_SUFFIXES if f"norm{s}" in arrays]
    for name in [*first, *(n for n in arrays if n not in first)]:
        var, unit = arrays[name]
        attrs = dict(template[name].attrs)
        spec = schema.VARIABLES.get(name)
        data = var.data.astype(bool) if spec is not None and spec.dtype == "bool" else var.data
        variables[name] = xr.Variable(var.dims, data, attrs)
    for name in template.data_vars:
        if name not in variables:
            variables[name] = template[name].variable  # references, on energy only
    for name, (values, unit) in energy_only.items():
        spec = schema.VARIABLES.get(name)
        attrs = {"long_name": spec.long_name if spec else name}
        if unit is not None:
            attrs["units"] = format_unit(parse_unit(unit))
        variables[name] = xr.Variable((schema.ENERGY,), values, attrs)
    energy_vars = {k: template[k].variable for k in template.coords if schema.ENERGY in template[k].dims}
    ds = xr.Dataset(variables, coords={**energy_vars, **coords}, attrs=template.attrs)
    return ds.transpose(*schema.canonical_dims(ds.dims))
