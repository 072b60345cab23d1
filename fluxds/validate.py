"""Check a Dataset against the data-model contract, reporting every problem at once."""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import SchemaError, UnitError

__all__ = ["validate"]


def _energy_problems(ds: xr.Dataset) -> list[str]:
    from fluxds.units import conversion_factor, parse_unit

    problems = []
    if schema.ENERGY not in ds.dims or schema.ENERGY not in ds.coords:
        return [f"no {schema.ENERGY!r} dimension with a coordinate of reference energies"]
    for name in (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX):
        if name not in ds.coords:
            continue
        coord = ds[name]
        try:
            unit = parse_unit(coord.attrs.get("units"), where=name)
        except UnitError as exc:
            problems.append(str(exc))
            continue
        if unit.physical_type != "energy":
            problems.append(f"coordinate {name!r} has units {unit!s:} which is not an energy")
        values = np.asarray(coord.values)
        if values.size and not (np.all(np.isfinite(values)) and np.all(values > 0)):
            problems.append(f"coordinate {name!r} must be finite and > 0, found {values}")
    if schema.ENERGY_MIN in ds.coords and schema.ENERGY_MAX in ds.coords:
        try:
            factor = conversion_factor(
                parse_unit(ds[schema.ENERGY_MAX].attrs.get("units")),
                parse_unit(ds[schema.ENERGY_MIN].attrs.get("units")),
            )
        except UnitError:
            factor = np.nan  # reported above
        lo = np.asarray(ds[schema.ENERGY_MIN].values)
        hi = np.asarray(ds[schema.ENERGY_MAX].values) * factor
        bad = np.flatnonzero(lo >= hi) if np.isfinite(factor) else []
        if len(bad):
            i = int(bad[0])
            problems.append(f"energy bin {i} has energy_min={lo[i]} >= energy_max={hi[i]} (in the same unit)")
    elif (schema.ENERGY_MIN in ds.coords) != (schema.ENERGY_MAX in ds.coords):
        problems.append("energy bin edges need both 'energy_min' and 'energy_max'")
    return problems


def _variable_problems(ds: xr.Dataset) -> list[str]:
    from fluxds.units import parse_unit

    problems = []
    for name in ("norm", "ref_dnde"):
        if name not in ds.data_vars:
            problems.append(f"required variable {name!r} is missing")
    for name, var in ds.data_vars.items():
        spec = schema.VARIABLES.get(str(name))
        if spec is None:
            continue
        if spec.dtype == "bool" and var.dtype != bool:
            problems.append(f"variable {name!r} must be boolean, found dtype {var.dtype}")
        norm_dims = set(ds["norm"].dims) if "norm" in ds.data_vars else {schema.ENERGY}
        beyond = [d for d in var.dims if d not in norm_dims]
        if spec.extra_dim and beyond and spec.extra_dim not in beyond:
            if not any(str(d).endswith("_axis") for d in beyond):
                problems.append(
                    f"variable {name!r} has dims {var.dims}: its extra dimension should be {spec.extra_dim!r}"
                )
        expected = spec.physical_unit
        if expected is None or var.dtype.kind != "f":
            continue
        try:
            unit = parse_unit(var.attrs.get("units"), where=str(name))
        except UnitError as exc:
            problems.append(str(exc))
            continue
        if not unit.is_equivalent(expected):
            problems.append(
                f"variable {name!r} has units {var.attrs.get('units')!r}, expected a unit like {spec.unit!r}"
            )
    return problems


def _attr_problems(ds: xr.Dataset) -> list[str]:
    problems = []
    sed_init = ds.attrs.get("sed_type_init")
    if sed_init is not None and sed_init not in schema.FILE_SED_TYPES:
        problems.append(f"attribute 'sed_type_init' is {sed_init!r}, expected one of {schema.FILE_SED_TYPES}")
    ul_conf = ds.attrs.get("ul_conf")
    if ul_conf is not None and not 0 < float(ul_conf) < 1:
        problems.append(f"attribute 'ul_conf' is {ul_conf}, expected a number in (0, 1)")
    for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
        value = ds.attrs.get(key)
        if value is not None and not np.isfinite(float(value)):
            problems.append(f"attribute {key!r} is {value}, expected a finite number")
    return problems


def validate(ds: xr.Dataset, *, where: str = "") -> xr.Dataset:
    """Check that ``ds`` is a valid fluxds Dataset; return it unchanged if so.

    Checks the energy dimension and coordinates (finite, positive, an energy unit, ``energy_min <
    energy_max``), the required variables (``norm``, ``ref_dnde``), the dtype and the physical dimension
    of the unit of every variable the schema knows, and the attributes of the contract.

    Parameters
    ----------
    ds : xarray.Dataset
    where : str
        What the Dataset came from, for the message.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    problems = _energy_problems(ds) + _variable_problems(ds) + _attr_problems(ds)
    if problems:
        label = f"{where}: " if where else ""
        raise SchemaError(f"{label}not a valid fluxds Dataset", problems=problems)
    return ds
