"""SED-type conversions: pure functions from a likelihood-form Dataset to any quantity or SED type.

The rule is the GADF one: a measured quantity of SED type ``T`` is the stored norm times the stored
reference of that type, element by element (``flux_ul = norm_ul * ref_flux``, ``e2dnde = norm * ref_dnde *
e_ref**2``). Nothing is re-integrated, so the file's own reference fluxes are used as they are. Every
function is xarray arithmetic only: a dask-backed Dataset gives dask-backed results.
"""

from __future__ import annotations

import functools

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import MissingEnergyEdgesError, MissingQuantityError
from fluxds.units import conversion_factor, format_unit, parse_unit, unit_attr

__all__ = ["get_quantity", "reference", "to_sed_type", "available_quantities", "has_edges"]

# The measurement suffixes that the success filter turns to NaN where a fit failed (gammapy's rule).
_SUCCESS_FILTERED = ("", "_err")


def has_edges(ds: xr.Dataset) -> bool:
    """Whether the Dataset holds energy bin edges (``energy_min``/``energy_max``)."""
    return schema.ENERGY_MIN in ds.coords and schema.ENERGY_MAX in ds.coords


def _labelled(da: xr.DataArray, name: str, unit: u.UnitBase | None, long_name: str) -> xr.DataArray:
    """A shallow copy (no data copied, dask stays lazy) with a name and fresh attributes."""
    out = da.copy(deep=False).rename(name)
    out.attrs = {"long_name": long_name}
    if unit is not None:
        out.attrs["units"] = format_unit(unit)
    return out


def _stored(ds: xr.Dataset, name: str, needed_for: str | None = None) -> xr.DataArray:
    if name not in ds.data_vars:
        why = f" (needed for {needed_for!r})" if needed_for and needed_for != name else ""
        raise MissingQuantityError(
            f"the Dataset holds no {name!r}{why}; it holds: {', '.join(map(str, ds.data_vars))}"
        )
    return ds[name]


def _success_filter(ds: xr.Dataset, da: xr.DataArray) -> xr.DataArray:
    if "success" not in ds.data_vars:
        return da
    return da.where(ds["success"])


@functools.lru_cache(maxsize=256)
def _energy_weighted(ref_unit: u.UnitBase, energy_unit: u.UnitBase, power: int) -> u.UnitBase:
    """``ref_unit * energy_unit**power``, one object per combination: astropy composes a new unit on
    every product, and comparing new units (the cache of ``conversion_factor``) costs far more than
    the arithmetic of a small array."""
    return ref_unit * energy_unit**power


def _reference_variable(
    ds: xr.Dataset, sed: str, unit: str | u.UnitBase | None
) -> tuple[xr.Variable, u.UnitBase, xr.Variable]:
    """The reference of SED type ``sed`` as a bare Variable in ``unit``, that unit, and the stored
    variable it comes from."""
    kind = schema.sed_type(sed)
    if kind.reference is None:
        raise MissingQuantityError(f"the SED type {sed!r} has no reference quantity")
    name = f"{kind.name}_ref"
    if kind.needs_edges and kind.reference not in ds.data_vars and not has_edges(ds):
        raise MissingEnergyEdgesError(
            f"{name!r} needs energy bin edges, and this SED has reference energies only "
            "(no energy_min/energy_max); read or build it with derive_edges=True to derive "
            "edges from e_ref explicitly"
        )
    if kind.reference not in ds.data_vars:
        _stored(ds, kind.reference, name)  # raises the MissingQuantityError
    stored = ds.variables[kind.reference]  # a bare Variable: no DataArray built (a fixed cost per call)
    ref = stored
    ref_unit = unit_attr(stored)
    if kind.energy_power:
        energy = ds.variables[schema.ENERGY]
        if energy.dims == ref.dims:  # plain array arithmetic on the (energy,) vectors
            ref = xr.Variable(ref.dims, ref.data * energy.data**kind.energy_power)
        else:
            ref = ref * energy**kind.energy_power
        ref_unit = _energy_weighted(ref_unit, unit_attr(energy), kind.energy_power)
    target = parse_unit(unit) if unit is not None else kind.physical_unit
    factor = conversion_factor(ref_unit, target, what=name)
    if factor != 1.0:
        ref = xr.Variable(ref.dims, ref.data * factor)
    return ref, target, stored


def _product(da: xr.DataArray, factor: xr.Variable | float):
    """The data of ``da * factor`` for a factor taken from the same Dataset (already aligned): plain
    array arithmetic (numpy or dask), the factor's axes ordered and broadcast to ``da``'s dims; ``None``
    when the factor has dims of its own (the caller lets xarray broadcast)."""
    if isinstance(factor, float):
        return da.data if factor == 1.0 else da.data * factor
    if not set(factor.dims) <= set(da.dims):
        return None
    order = [d for d in da.dims if d in factor.dims]
    data = factor.data if tuple(order) == factor.dims else factor.transpose(*order).data
    if len(order) < da.ndim:
        data = data[tuple(slice(None) if d in factor.dims else np.newaxis for d in da.dims)]
    return da.data * data


def _result(
    da: xr.DataArray, factor: xr.Variable | float, name: str, unit: u.UnitBase | None, long_name: str
) -> xr.DataArray:
    """``da * factor`` named ``name`` with fresh attributes: one new Variable on ``da``'s coordinates
    and indexes (nothing copied; dask stays lazy)."""
    data = _product(da, factor)
    if data is None:  # the factor has dims of its own: let xarray broadcast
        return _labelled(da * xr.DataArray(factor), name, unit, long_name)
    attrs = {"long_name": long_name}
    if unit is not None:
        attrs["units"] = format_unit(unit)
    return da._replace(variable=xr.Variable(da.dims, data, attrs), name=name)


def reference(ds: xr.Dataset, sed: str, unit: str | u.UnitBase | None = None) -> xr.DataArray:
    """The reference model's value in each bin, in SED type ``sed``.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset (likelihood form).
    sed : {"dnde", "e2dnde", "flux", "eflux"}
        The SED type.
    unit : str or astropy unit, optional
        Unit of the result; default the type's default (``cm-2 s-1 TeV-1``, ``erg cm-2 s-1``,
        ``cm-2 s-1``, ``erg cm-2 s-1``).

    Returns
    -------
    xarray.DataArray
        Named ``<sed>_ref``, with ``units`` and ``long_name``.

    Raises
    ------
    MissingEnergyEdgesError
        ``flux``/``eflux`` asked of an SED without bin edges.
    """
    kind = schema.sed_type(sed)
    ref, target, _ = _reference_variable(ds, sed, unit)
    stored = ds[kind.reference]
    out = stored.copy(deep=False, data=ref.transpose(*stored.dims).data)
    return _labelled(out, f"{kind.name}_ref", target, f"reference model {kind.long_name}")


def _measurement(
    ds: xr.Dataset, stem: str, suffix: str, unit: u.UnitBase | None, filter_success: bool
) -> xr.DataArray:
    name = f"{stem}{suffix}"
    norm = _stored(ds, f"norm{suffix}", name)
    if filter_success and suffix in _SUCCESS_FILTERED:
        norm = _success_filter(ds, norm)
    kind = schema.SED_TYPES[stem]
    long_name = f"{kind.long_name} {schema.MEASUREMENT_SUFFIXES[suffix]}".replace(" best-fit value", "")
    if stem == "norm":
        target = unit if unit is not None else u.dimensionless_unscaled
        factor = conversion_factor(u.dimensionless_unscaled, target, what=name)
        return _result(norm, factor, name, target, long_name)
    ref, target, _ = _reference_variable(ds, stem, unit)
    return _result(norm, ref, name, target, long_name)


def _sqrt_ts(ds: xr.Dataset, filter_success: bool = True) -> xr.DataArray:
    """Stored ``sqrt_ts``; else ``sqrt(max(ts, 0))`` with the sign of ``norm`` (after the success filter),
    NaN where that sign is unknown (``norm`` NaN: a failed fit, or a NaN stored norm)."""
    if "sqrt_ts" in ds.data_vars:
        return ds["sqrt_ts"]
    ts = _stored(ds, "ts", "sqrt_ts")
    norm = _stored(ds, "norm", "sqrt_ts")
    if filter_success:
        norm = _success_filter(ds, norm)
    long_name = schema.VARIABLES["sqrt_ts"].long_name
    if ts.dims == norm.dims:  # the usual case: plain array arithmetic (numpy or dask), no alignment
        root = np.sqrt(np.clip(ts.data, 0, None))
        data = np.where(norm.data > 0, root, np.where(norm.data <= 0, -root, np.nan))
        attrs = {"long_name": long_name, "units": format_unit(u.dimensionless_unscaled)}
        return norm._replace(variable=xr.Variable(norm.dims, data, attrs), name="sqrt_ts")
    root = np.sqrt(ts.clip(min=0))
    out = xr.where(norm > 0, root, xr.where(norm <= 0, -root, np.nan))
    return _labelled(out, "sqrt_ts", u.dimensionless_unscaled, long_name)


def _is_ul(ds: xr.Dataset, filter_success: bool = True) -> xr.DataArray:
    """Stored ``is_ul`` wins; else ``not sqrt_ts >= threshold`` when ts and norm_ul exist (a NaN
    ``sqrt_ts``, e.g. of a failed fit, is an upper limit); else a finite norm_ul; else a NaN norm (after
    the success filter). gammapy's rules, see docs/sed_types.md#is-ul."""
    if "is_ul" in ds.data_vars:
        return ds["is_ul"]
    has_ts = "ts" in ds.data_vars or "sqrt_ts" in ds.data_vars
    if has_ts and "norm_ul" in ds.data_vars:
        threshold = float(ds.attrs.get("sqrt_ts_threshold_ul", schema.DEFAULT_SQRT_TS_THRESHOLD_UL))
        out = ~(_sqrt_ts(ds, filter_success) >= threshold)
    elif "norm_ul" in ds.data_vars:
        out = np.isfinite(ds["norm_ul"])
    else:
        norm = _stored(ds, "norm", "is_ul")
        out = np.isnan(_success_filter(ds, norm) if filter_success else norm)
    return _labelled(out, "is_ul", None, schema.VARIABLES["is_ul"].long_name)


def _npred_excess(ds: xr.Dataset, name: str, filter_success: bool) -> xr.DataArray:
    excess = _stored(ds, "npred_excess", name)
    norm = _stored(ds, "norm", name)
    if filter_success:
        norm = _success_filter(ds, norm)
    ref = excess / norm
    suffix = name[len("npred_excess") :]
    if suffix == "_ref":
        out = ref
    else:
        norm_x = _stored(ds, f"norm{suffix}", name)
        if filter_success and suffix in _SUCCESS_FILTERED:
            norm_x = _success_filter(ds, norm_x)
        out = ref * norm_x
    long_name = "predicted excess counts " + (
        "for the reference model" if suffix == "_ref" else schema.MEASUREMENT_SUFFIXES[suffix]
    )
    return _labelled(out, name, u.dimensionless_unscaled, long_name)


def get_quantity(
    ds: xr.Dataset,
    name: str,
    unit: str | u.UnitBase | None = None,
    *,
    filter_success: bool = True,
) -> xr.DataArray:
    """Any quantity of a fluxds Dataset, stored or derived.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset in likelihood form.
    name : str
        A name from :data:`fluxds.schema.QUANTITY_NAMES` (``dnde``, ``flux_ul``, ``e2dnde_ref``,
        ``sqrt_ts``, ``is_ul``, ``npred_excess_err``, ``stat_scan`` ...).
    unit : str or astropy unit, optional
        The unit of the result; default: the type's default unit (or the stored unit for stored
        variables).
    filter_success : bool
        Set ``norm``/``norm_err`` (and what derives from them) to NaN where ``success`` is False; a
        derived ``sqrt_ts`` is then NaN there too (its sign is unknown) and ``is_ul`` True.

    Returns
    -------
    xarray.DataArray
        Named ``name``, with ``units`` (omitted for booleans) and ``long_name``.

    Raises
    ------
    MissingQuantityError
        If the Dataset does not hold what the quantity needs.
    UnitError
        If ``unit`` has the wrong physical dimension.
    """
    target = parse_unit(unit) if unit is not None else None
    split = schema.split_measurement(name)
    if split is not None:
        return _measurement(ds, split[0], split[1], target, filter_success)
    if name.endswith("_ref") and name[:-4] in schema.SED_TYPES:
        return reference(ds, name[:-4], target)
    if name.startswith("npred_excess") and name != "npred_excess":
        return _npred_excess(ds, name, filter_success)
    if name == "sqrt_ts":
        return _sqrt_ts(ds, filter_success)
    if name == "is_ul":
        return _is_ul(ds, filter_success)
    if name == "npred_background" and name not in ds.data_vars:
        out = _stored(ds, "npred", name) - _stored(ds, "npred_excess", name)
        return _labelled(out, name, u.dimensionless_unscaled, schema.VARIABLES[name].long_name)
    da = _stored(ds, name)
    if target is not None:
        factor = conversion_factor(unit_attr(da), target, what=name)
        da = _labelled(da * factor, name, target, da.attrs.get("long_name", name))
    return da


def available_quantities(ds: xr.Dataset) -> list[str]:
    """The names :func:`get_quantity` can give for this Dataset, in the schema's order."""
    # try each on a one-element slice: the same rules as get_quantity, at no cost for large data
    probe = ds.isel({dim: slice(0, 1) for dim in ds.dims})
    names = []
    for name in schema.QUANTITY_NAMES:
        try:
            get_quantity(probe, name)
        except MissingQuantityError:
            continue
        names.append(name)
    return names


def to_sed_type(
    ds: xr.Dataset, sed: str, *, keep_likelihood: bool = False, filter_success: bool = False
) -> xr.Dataset:
    """The Dataset in one SED type: the GADF variables of that type, ready for a table.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset in likelihood form.
    sed : {"likelihood", "dnde", "e2dnde", "flux", "eflux"}
        The SED type.
    keep_likelihood : bool
        Keep the stored ``norm*`` and ``ref_*`` variables beside the converted ones. Writers do: the
        GADF spec allows several representations in one SED, so a file of any type then reads back to
        the very same norms (gammapy reads only the columns of the declared type).
    filter_success : bool
        Apply the success filter to ``<type>`` and ``<type>_err``. Off by default: a table should hold
        what was measured, with ``success`` beside it.

    Returns
    -------
    xarray.Dataset
        Variables ``<sed><suffix>`` for every suffix whose norm is stored, the statistics
        (``ts``, ``stat``, scans, counts, ``is_ul``, ``success`` ...) as stored, the same coordinates,
        and the attributes with ``sed_type`` set.
    """
    kind = schema.sed_type(sed)
    if kind.name == "norm":
        out = ds.copy(deep=False)
        out.attrs = dict(ds.attrs)
    else:
        converted = {
            f"{kind.name}{suffix}": _measurement(ds, kind.name, suffix, None, filter_success)
            for suffix in schema.MEASUREMENT_SUFFIXES
            if f"norm{suffix}" in ds.data_vars
        }
        kept = [
            name
            for name in ds.data_vars
            if keep_likelihood or not (str(name).startswith(("norm", "ref_")) and name != "norm_scan")
        ]
        out = xr.Dataset({**converted, **{k: ds[k] for k in kept}}, coords=ds.coords)
        out.attrs.update(ds.attrs)
    out.attrs["sed_type"] = schema.LIKELIHOOD if kind.name == "norm" else kind.name
    return out
