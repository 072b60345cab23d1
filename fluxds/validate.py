"""Check a Dataset against the data-model contract, reporting every problem at once."""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import SchemaError, UnitError

__all__ = ["validate", "order_problems"]


# --- order and uniqueness of coordinates (H5 hardening) ---------------------------------------------
def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    values = np.asarray(values)
    if values.dtype.kind == "M":
        if np.isnat(values).any():
            return None
        return values.astype("datetime64[ns]").astype(np.int64)
    return values if values.dtype.kind in "iuf" else None


def _not_increasing(ds: xr.Dataset, name: str) -> str | None:
    values = np.asarray(ds[name].values)
    numbers = _as_numbers(values)
    if numbers is None or numbers.ndim != 1 or numbers.size < 2:
        return None
    bad = np.flatnonzero(~(np.diff(numbers) > 0))
    if not len(bad):
        return None
    i = int(bad[0])
    unit = ds[name].attrs.get("units", "")
    return (
        f"coordinate {name!r} must increase strictly along {ds[name].dims[0]!r}; found {values[i]} {unit} "
        f"at index {i} then {values[i + 1]} {unit} at index {i + 1}".replace("  ", " ")
    )


def order_problems(ds: xr.Dataset) -> list[str]:
    """Energies and time bins in increasing order, time bins of positive length, unique source names.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    list of str
        One message per problem (naming the coordinate, the values found and what was expected).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"energy": ("energy", [1.0, 4.0, 2.0], {"units": "TeV"})})
    >>> print(order_problems(ds)[0])  # doctest: +NORMALIZE_WHITESPACE
    coordinate 'energy' must increase strictly along 'energy'; found 4.0 TeV at index 1
    then 2.0 TeV at index 2
    """
    problems = []
    for name in (schema.ENERGY_MIN, schema.ENERGY_MAX, schema.ENERGY, "time_min", "time_max"):
        if name in ds.coords:
            problem = _not_increasing(ds, name)
            if problem:
                problems.append(problem)
    if "time_min" in ds.coords and "time_max" in ds.coords:
        lo, hi = _as_numbers(ds["time_min"].values), _as_numbers(ds["time_max"].values)
        if lo is not None and hi is not None and lo.shape == hi.shape:
            bad = np.flatnonzero(~(lo < hi))
            if len(bad):
                i = int(bad[0])
                problems.append(
                    f"time bin {i} has time_min={ds['time_min'].values[i]} >= "
                    f"time_max={ds['time_max'].values[i]}; expected time_min < time_max"
                )
    if "source" in ds.coords and ds["source"].ndim == 1:
        names, counts = np.unique(np.asarray(ds["source"].values), return_counts=True)
        if (counts > 1).any():
            problems.append(
                f"coordinate 'source' has duplicate source names {[str(n) for n in names[counts > 1]]}; "
                "expected unique names"
            )
    return problems


# --- end of the H5 block -------------------------------------------------------------------------------


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
    problems = _energy_problems(ds) + order_problems(ds) + _variable_problems(ds) + _attr_problems(ds)
    if problems:
        label = f"{where}: " if where else ""
        raise SchemaError(f"{label}not a valid fluxds Dataset", problems=problems)
    return ds
