"""SED-type conversions: pure functions from a likelihood-form Dataset to any quantity or SED type.

The rule is the GADF one: a measured quantity of SED type ``T`` is the stored norm times the stored
reference of that type, element by element (``flux_ul = norm_ul * ref_flux``, ``e2dnde = norm * ref_dnde *
e_ref**2``). Nothing is re-integrated, so the file's own reference fluxes are used as they are. The
functions do plain array arithmetic on the Dataset's own variables (already aligned: no xarray alignment,
one DataArray built per result), numpy in place where that saves a full-size temporary, and xarray or
dask operations otherwise: a dask-backed Dataset gives dask-backed results, nothing computed.
"""

from __future__ import annotations

import functools
from typing import Any

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


def _stored_variable(ds: xr.Dataset, name: str, needed_for: str | None = None) -> xr.Variable:
    """The stored data variable ``name`` as a bare Variable (no DataArray built: a fixed cost per call);
    the error of :func:`_stored` if the Dataset does not hold it."""
    if name not in ds.data_vars:
        _stored(ds, name, needed_for)  # raises the MissingQuantityError
    return ds.variables[name]


def _aligned(var: xr.Variable, dims: tuple) -> Any:
    """The data of ``var`` ready to broadcast against an array on ``dims``: its axes ordered as in
    ``dims``, length-1 axes inserted for the others (xarray's broadcasting by dimension name, without
    alignment: ``var`` comes from the same Dataset). ``None`` if ``var`` has dims of its own."""
    if var.dims == dims[len(dims) - var.ndim :]:  # the trailing dims, in order: numpy broadcasts as is
        return var.data
    if not set(var.dims) <= set(dims):
        return None
    order = tuple(d for d in dims if d in var.dims)
    data = var.data if order == var.dims else var.transpose(*order).data
    if len(order) < len(dims):
        data = data[tuple(slice(None) if d in var.dims else np.newaxis for d in dims)]
    return data


def _nan_where_failed(ds: xr.Dataset, dims: tuple, data: Any, *, copy: bool) -> np.ndarray | None:
    """The success filter on plain numpy arrays: ``data`` (an array on ``dims``) with NaN where
    ``success`` is False (its truth value, as :meth:`xarray.DataArray.where` takes it).

    ``data`` is changed in place, unless ``copy`` (a stored array: the result is a new array).
    ``None`` when the general xarray path is needed: a dask (or other non-numpy) array, a ``success``
    with dims of its own, or data that cannot hold NaN (integers) or whose NaN xarray writes otherwise
    (complex).
    """
    failed = _failed_fits(ds, dims)
    if failed is None or not isinstance(data, np.ndarray) or not np.issubdtype(data.dtype, np.floating):
        return None
    if copy:  # a fresh array, as xarray's where gives
        return np.where(failed, np.nan, data)
    if failed.any():
        np.copyto(data, np.nan, where=failed)
    return data


def _failed_fits(ds: xr.Dataset, dims: tuple) -> np.ndarray | None:
    """``not success`` as a numpy array that broadcasts against an array on ``dims``; ``None`` if
    ``success`` is not a numpy array (dask) or has dims of its own."""
    success = _aligned(ds.variables["success"], dims)
    return np.logical_not(success) if isinstance(success, np.ndarray) else None


def _success_filter(ds: xr.Dataset, da: xr.DataArray) -> xr.DataArray:
    """``da`` with NaN where ``success`` is False (gammapy's filter); ``da`` itself without ``success``."""
    if "success" not in ds.data_vars:
        return da
    data = _nan_where_failed(ds, da.dims, da.data, copy=True)
    if data is None:
        return da.where(ds["success"])
    return da._replace(variable=da.variable.copy(deep=False, data=data))


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
    dims, data, changed = stored.dims, stored.data, False
    ref_unit = unit_attr(stored)
    if kind.energy_power:
        energy = ds.variables[schema.ENERGY]
        if energy.dims == dims:  # plain array arithmetic on the (energy,) vectors
            data = data * energy.data**kind.energy_power
        else:
            weighted = stored * energy**kind.energy_power
            dims, data = weighted.dims, weighted.data
        ref_unit = _energy_weighted(ref_unit, unit_attr(energy), kind.energy_power)
        changed = True
    target = parse_unit(unit) if unit is not None else _default_unit(kind.name)
    factor = conversion_factor(ref_unit, target, what=name)
    if factor != 1.0:
        data, changed = data * factor, True
    if not changed:
        return stored, target, stored
    return xr.Variable(dims, data, fastpath=isinstance(data, np.ndarray)), target, stored


@functools.lru_cache(maxsize=16)
def _default_unit(sed: str) -> u.UnitBase:
    """The default unit of SED type ``sed``, one object per type: a unit built anew on every call would
    miss the identity shortcut of the unit caches (``conversion_factor``, ``format_unit``) and be
    compared by astropy's slow ``==``."""
    return schema.SED_TYPES[sed].physical_unit


def _product(var: xr.Variable, factor: xr.Variable | float) -> Any:
    """The data of ``var * factor`` for a factor taken from the same Dataset (already aligned): plain
    array arithmetic (numpy or dask), the factor's axes ordered and broadcast to ``var``'s dims; ``None``
    when the factor has dims of its own (the caller lets xarray broadcast)."""
    if isinstance(factor, float):
        return var.data if factor == 1.0 else var.data * factor
    data = _aligned(factor, var.dims)
    return None if data is None else var.data * data


def _attrs(units: str | None, long_name: str) -> dict[str, str]:
    """Fresh attributes of a derived quantity (``units`` as written, e.g. ``"cm-2 s-1"``)."""
    return {"long_name": long_name} if units is None else {"long_name": long_name, "units": units}


@functools.lru_cache(maxsize=16)
def _default_units(sed: str) -> str:
    """The ``units`` attribute of SED type ``sed`` in its default unit, cached by name: ``format_unit``
    caches by unit, and a unit equal to (not the same object as) the cached one is compared by
    astropy's slow ``==``."""
    return format_unit(_default_unit(sed))


def _result(
    ds: xr.Dataset, stored: str, factor: xr.Variable | float, name: str, attrs: dict, filtered: bool
) -> xr.DataArray:
    """``ds[stored] * factor`` named ``name`` with the attributes ``attrs``, success-filtered if
    ``filtered``.

    On numpy arrays: one product, NaN written into it where a fit failed, one new Variable on
    ``ds[stored]``'s coordinates and indexes (no alignment, no full-size temporary). A dask-backed
    Dataset (or a ``success`` with dims of its own) is filtered by xarray first, and stays lazy.
    """
    da = ds[stored]
    data = _product(da.variable, factor)
    if data is not None and filtered:
        unchanged = isinstance(factor, float) and factor == 1.0  # data is the stored array itself
        data = _nan_where_failed(ds, da.dims, data, copy=unchanged)
        if data is None:  # xarray's filter (lazy on dask), then the same product
            da = da.where(ds["success"])
            data = _product(da.variable, factor)
    if data is None:  # the factor has dims of its own: let xarray broadcast
        out = _labelled(da * xr.DataArray(factor), name, None, attrs["long_name"])
        out.attrs = attrs
        return out
    fast = isinstance(data, np.ndarray)  # xarray's checks of the data are then no-ops
    return da._replace(variable=xr.Variable(da.dims, data, attrs, fastpath=fast), name=name)


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
    stored = f"norm{suffix}"
    _stored_variable(ds, stored, name)  # raises if missing, before the reference is looked at
    filtered = filter_success and suffix in _SUCCESS_FILTERED and "success" in ds.data_vars
    if stem == "norm":
        target = unit if unit is not None else u.dimensionless_unscaled
        factor = conversion_factor(u.dimensionless_unscaled, target, what=name)
    else:
        factor, target, _ = _reference_variable(ds, stem, unit)
    units = _default_units(stem) if unit is None else format_unit(target)
    return _result(ds, stored, factor, name, _attrs(units, _long_name(stem, suffix)), filtered)


@functools.lru_cache(maxsize=64)
def _long_name(stem: str, suffix: str) -> str:
    """The ``long_name`` of the measurement ``<stem><suffix>`` (e.g. "differential flux upper limit")."""
    kind = schema.SED_TYPES[stem]
    return f"{kind.long_name} {schema.MEASUREMENT_SUFFIXES[suffix]}".replace(" best-fit value", "")


def _sqrt_ts(ds: xr.Dataset, filter_success: bool = True) -> xr.DataArray:
    """Stored ``sqrt_ts``; else ``sqrt(max(ts, 0))`` with the sign of ``norm`` (after the success filter),
    NaN where that sign is unknown (``norm`` NaN: a failed fit, or a NaN stored norm)."""
    if "sqrt_ts" in ds.data_vars:
        return ds["sqrt_ts"]
    ts_var = _stored_variable(ds, "ts", "sqrt_ts")
    norm_var = _stored_variable(ds, "norm", "sqrt_ts")
    filtered = filter_success and "success" in ds.data_vars
    long_name = schema.VARIABLES["sqrt_ts"].long_name
    attrs = _attrs(_default_units("norm"), long_name)
    if ts_var.dims == norm_var.dims:  # the usual case: plain array arithmetic, no alignment
        data = _signed_root(ds, norm_var, ts_var, filtered)
        if data is not None:
            return ds["norm"]._replace(variable=xr.Variable(norm_var.dims, data, attrs), name="sqrt_ts")
    ts, norm = ds["ts"], ds["norm"]
    if filtered:
        norm = norm.where(ds["success"])
    if ts.dims == norm.dims:  # dask: the same arithmetic, lazy
        root = np.sqrt(np.clip(ts.data, 0, None))
        data = np.where(norm.data > 0, root, np.where(norm.data <= 0, -root, np.nan))
        return norm._replace(variable=xr.Variable(norm.dims, data, attrs), name="sqrt_ts")
    root = np.sqrt(ts.clip(min=0))
    out = xr.where(norm > 0, root, xr.where(norm <= 0, -root, np.nan))
    return _labelled(out, "sqrt_ts", u.dimensionless_unscaled, long_name)


def _signed_root(ds: xr.Dataset, norm: xr.Variable, ts: xr.Variable, filtered: bool) -> np.ndarray | None:
    """``sqrt(max(ts, 0))`` with the sign of ``norm`` (``-`` for ``norm <= 0``), NaN where that sign is
    unknown (a NaN norm; with ``filtered``, a failed fit), for numpy ``ts`` and ``norm`` on the same dims;
    ``None`` for anything else (dask, 0-d: the caller's xarray path)."""
    norm_data, ts_data = norm.data, ts.data
    if not (isinstance(norm_data, np.ndarray) and isinstance(ts_data, np.ndarray)) or norm_data.ndim == 0:
        return None  # (numpy gives scalars, not arrays, for 0-d operands)
    failed = _failed_fits(ds, norm.dims) if filtered else None
    if filtered and failed is None:
        return None
    root = np.maximum(ts_data, 0)  # np.clip(ts, 0, None) without its Python wrapper
    if not np.issubdtype(root.dtype, np.floating):
        return None
    np.sqrt(root, out=root)
    data = np.negative(root)
    np.copyto(data, root, where=norm_data > 0)
    unknown = np.isnan(norm_data)
    if failed is not None:
        unknown |= failed
    if unknown.any():
        np.copyto(data, np.nan, where=unknown)
    return data


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


_split_measurement = functools.lru_cache(maxsize=256)(schema.split_measurement)


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
    split = _split_measurement(name)
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
