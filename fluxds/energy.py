"""Energies with their units: selection by Quantity, one energy unit for a Dataset, matching the bins of
two SEDs.

Each file keeps its own energy unit (keV, MeV, GeV, TeV) in the ``units`` attribute of the ``energy``,
``energy_min`` and ``energy_max`` coordinates, and xarray's own ``.sel`` reads a number in that unit:
``ds.sed.dnde.sel(energy=100 * u.GeV, method="nearest")`` on a TeV SED takes 100 as 100 TeV (xarray
drops the unit). xarray cannot be told otherwise, so fluxds offers:

- :func:`sel_energy` (``ds.sed.sel_energy``): ``.sel`` along energy with Quantities, converted to the
  coordinate's unit first; a plain number is refused (say which unit you mean);
- :func:`to_energy_unit` (``ds.sed.to_energy_unit``): the Dataset with every energy in one unit (the
  energy coordinates and every variable whose unit holds an energy, e.g. ``ref_dnde`` per TeV -> per GeV),
  so that Datasets from different files share the same numbers on their energy axis;
- :func:`match_energies`: two quantities (DataArrays) of two SEDs on one energy axis, bins matched with a
  relative tolerance (xarray aligns on exact coordinate values, so ``a.sed.dnde / b.sed.dnde`` is
  empty when the two ``e_ref`` differ in the last digit), or the second interpolated onto the first's
  energies (log-log); :func:`compare` (``ds.sed.compare``) gives both and their ratio.
"""

from __future__ import annotations

from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import EnergyMismatchError, MissingQuantityError, UnitError
from fluxds.units import conversion_factor, format_unit, parse_unit, unit_attr

__all__ = ["sel_energy", "to_energy_unit", "energy_unit_of", "match_energies", "compare", "JOINS"]

JOINS = ("exact", "inner", "interp")
_ENERGY_COORDS = (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX)


def energy_unit_of(obj: xr.Dataset | xr.DataArray) -> u.UnitBase:
    """The unit of the ``energy`` coordinate of a Dataset or DataArray.

    Raises
    ------
    MissingQuantityError
        If ``obj`` has no ``energy`` coordinate.
    """
    if schema.ENERGY not in obj.coords:
        raise MissingQuantityError(f"{_what(obj)} has no {schema.ENERGY!r} coordinate")
    return unit_attr(obj.coords[schema.ENERGY])


def _what(obj) -> str:
    name = getattr(obj, "name", None)
    return f"DataArray {name!r}" if isinstance(obj, xr.DataArray) else "the Dataset"


def _to_coord_unit(value: Any, unit: u.UnitBase, what: str) -> Any:
    if value is None:
        return None
    if not isinstance(value, u.Quantity):
        raise UnitError(
            f"{what} is {value!r}, a plain number: give an astropy Quantity (e.g. 100 * u.GeV) so that "
            f"it is converted to the energy coordinate's unit ({format_unit(unit) or 'dimensionless'})"
        )
    try:
        return value.to_value(unit)
    except u.UnitConversionError:
        raise UnitError(
            f"{what} is {value}, not an energy in the coordinate's unit {format_unit(unit)!r}"
        ) from None


def sel_energy(
    obj: xr.Dataset | xr.DataArray,
    energy: u.Quantity | slice,
    *,
    method: str | None = None,
    tolerance: u.Quantity | None = None,
    drop: bool = False,
) -> xr.Dataset | xr.DataArray:
    """``obj.sel(energy=...)`` with energies given as Quantities, in any energy unit.

    Parameters
    ----------
    obj : xarray.Dataset or xarray.DataArray
        With an ``energy`` coordinate whose ``units`` attribute names its unit.
    energy : astropy.units.Quantity or slice of Quantities
        One energy, an array of energies, or ``slice(start, stop)`` (inclusive, as xarray's label slices),
        each converted to the coordinate's unit before selecting.
    method : {None, "nearest", "pad", "ffill", "backfill", "bfill"}
        As :meth:`xarray.Dataset.sel` (``"nearest"``: the bin whose ``e_ref`` is closest in linear
        energy).
    tolerance : astropy.units.Quantity, optional
        Largest distance (an energy) for an inexact match.
    drop : bool
        As :meth:`xarray.Dataset.sel`.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        The selection; lazy if ``obj`` is.

    Raises
    ------
    UnitError
        A plain number (its unit would be a guess) or a Quantity that is not an energy.

    Examples
    --------
    >>> import astropy.units as u, fluxds
    >>> ds = fluxds.read(fluxds.demo_path())  # energies in TeV
    >>> float(sel_energy(ds, 1000 * u.GeV, method="nearest").energy)
    1.2558278904179396
    """
    unit = energy_unit_of(obj)
    if isinstance(energy, slice):
        if energy.step is not None:
            raise UnitError(f"energy slice {energy!r}: a step is not supported")
        key: Any = slice(
            _to_coord_unit(energy.start, unit, "energy slice start"),
            _to_coord_unit(energy.stop, unit, "energy slice stop"),
        )
    else:
        key = _to_coord_unit(energy, unit, "energy")
    tol = _to_coord_unit(tolerance, unit, "tolerance")
    return obj.sel({schema.ENERGY: key}, method=method, tolerance=tol, drop=drop)


def _energy_part(unit: u.UnitBase, target: u.UnitBase) -> u.UnitBase | None:
    """``unit`` with each energy factor replaced by ``target`` (``cm-2 s-1 TeV-1`` -> ``cm-2 s-1 GeV-1``,
    ``erg cm-2 s-1`` -> ``GeV cm-2 s-1``); None if ``unit`` holds no energy."""
    bases = list(getattr(unit, "bases", []))
    powers = list(getattr(unit, "powers", []))
    energy_power = sum(p for b, p in zip(bases, powers, strict=True) if b.physical_type == "energy")
    if not any(b.physical_type == "energy" for b in bases):
        return None
    out: u.UnitBase = u.dimensionless_unscaled
    for base, power in zip(bases, powers, strict=True):
        if base.physical_type != "energy":
            out = out * base**power
    return out * target**energy_power if energy_power else out


def to_energy_unit(ds: xr.Dataset, unit: str | u.UnitBase) -> xr.Dataset:
    """The Dataset with every energy in ``unit``: coordinates and per-energy quantities alike.

    ``energy``, ``energy_min`` and ``energy_max`` are converted to ``unit``; so is every other variable or
    coordinate whose ``units`` attribute holds an energy, each energy factor replaced by ``unit``:
    ``ref_dnde`` in ``cm-2 s-1 TeV-1`` becomes ``cm-2 s-1 GeV-1`` (values x 1e-3), ``ref_eflux`` in
    ``erg cm-2 s-1`` becomes ``GeV cm-2 s-1``. The physics is unchanged: every quantity ``ds.sed`` gives
    is the same (it comes in its SED type's default unit, or the one asked for, whatever the stored
    units). Nothing is computed: a dask-backed Dataset stays lazy.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset with an ``energy`` coordinate.
    unit : str or astropy unit
        An energy unit (``"TeV"``, ``"GeV"``, ``u.MeV`` ...).

    Returns
    -------
    xarray.Dataset
        A new Dataset (the input is not changed); attributes kept.

    Raises
    ------
    UnitError
        If ``unit`` is not an energy.
    """
    target = parse_unit(unit)
    if target.physical_type != "energy":
        raise UnitError(f"to_energy_unit: {unit!r} is not an energy unit (it is a {target.physical_type})")
    energy_unit_of(ds)  # raises without an energy coordinate
    updates: dict[str, xr.Variable] = {}
    for name, var in ds.variables.items():
        if "units" not in var.attrs:
            continue
        old = unit_attr(var)
        new = target if name in _ENERGY_COORDS else _energy_part(old, target)
        if new is None:
            continue
        factor = conversion_factor(old, new, what=str(name))
        attrs = {**var.attrs, "units": format_unit(new)}
        data = var.data if factor == 1.0 else var.data * factor
        updates[str(name)] = xr.Variable(var.dims, data, attrs, encoding=dict(var.encoding))
    coords = {k: v for k, v in updates.items() if k in ds.coords}
    data_vars = {k: v for k, v in updates.items() if k not in ds.coords}
    out = ds.assign_coords(coords).assign(data_vars)
    out.attrs = dict(ds.attrs)
    return out


def _matched_indices(ea: np.ndarray, eb: np.ndarray, rtol: float) -> tuple[np.ndarray, np.ndarray]:
    """For each energy of ``ea``, the index of the closest energy of ``eb`` (both ascending) and whether it
    lies within ``rtol`` (relative to the ``ea`` value)."""
    pos = np.clip(np.searchsorted(eb, ea), 1, max(eb.size - 1, 1))
    left = np.clip(pos - 1, 0, eb.size - 1)
    right = np.clip(pos, 0, eb.size - 1)
    nearest = np.where(np.abs(eb[left] - ea) <= np.abs(eb[right] - ea), left, right)
    ok = np.abs(eb[nearest] - ea) <= rtol * np.abs(ea)
    return nearest, ok


def _values(obj, name: str, unit: u.UnitBase) -> np.ndarray:
    coord = obj.coords[name]
    return np.atleast_1d(np.asarray(coord.values, dtype=float)) * conversion_factor(
        unit_attr(coord), unit, what=name
    )


def match_energies(
    a: xr.DataArray, b: xr.DataArray, *, rtol: float = 1e-3, join: str = "exact"
) -> tuple[xr.DataArray, xr.DataArray]:
    """Two quantities of two SEDs on one energy axis (``a``'s), so that ``a / b`` compares bin by bin.

    xarray aligns on exact coordinate values: two SEDs of the same binning whose ``e_ref`` differ in the
    last digits (another tool, another unit, a rounding) give an empty result. Here bins are matched by
    their ``e_ref`` within a relative tolerance (and their edges, when both have them), after converting
    ``b``'s energies to ``a``'s unit.

    Parameters
    ----------
    a, b : xarray.DataArray
        Quantities with an ``energy`` coordinate (e.g. ``ds_a.sed.dnde`` and ``ds_b.sed.dnde``).
    rtol : float
        Largest relative difference of two energies (e_ref, e_min, e_max) that are the same bin.
    join : {"exact", "inner", "interp"}
        ``"exact"``: every bin of ``a`` has its match in ``b`` and the reverse, else an error;
        ``"inner"``: only the bins found in both are kept (an error if none);
        ``"interp"``: ``b`` interpolated onto ``a``'s ``e_ref`` (linear in ``ln E`` and ``ln b``, so exact for
        a power law; NaN outside ``b``'s range and where ``b <= 0``). Use it for point quantities
        (``dnde``, ``e2dnde``): a bin integral (``flux``, ``eflux``) depends on the bin's width.

    Returns
    -------
    (xarray.DataArray, xarray.DataArray)
        ``a`` (the matched bins) and ``b`` labelled with ``a``'s ``energy``, ``energy_min`` and
        ``energy_max``; ``b``'s own ``e_ref`` (in ``a``'s unit) kept as the coordinate ``energy_other``.
        The values are unchanged (only the labels of ``b``'s bins are).

    Raises
    ------
    EnergyMismatchError
        The bins do not match within ``rtol`` (the message names the first bin that does not).

    Examples
    --------
    >>> import fluxds
    >>> a = fluxds.read(fluxds.demo_path())
    >>> b = a.assign_coords(energy=a.energy * (1 + 1e-9))  # e_ref rounded differently
    >>> (a.sed.dnde / b.sed.dnde).sizes["energy"]  # xarray: no common energy
    0
    >>> x, y = match_energies(a.sed.dnde, b.sed.dnde)
    >>> float(abs(x / y - 1).max()) < 1e-12
    True
    """
    if join not in JOINS:
        raise EnergyMismatchError(f"join is {join!r}; expected one of {', '.join(map(repr, JOINS))}")
    if not rtol >= 0:
        raise EnergyMismatchError(f"rtol is {rtol!r}; expected a number >= 0")
    unit = energy_unit_of(a)
    energy_unit_of(b)
    ea, eb = _values(a, schema.ENERGY, unit), _values(b, schema.ENERGY, unit)
    if join == "interp":
        return a, _interp(a, b, ea, eb)
    index, ok = _matched_indices(ea, eb, rtol)
    edges = [n for n in (schema.ENERGY_MIN, schema.ENERGY_MAX) if n in a.coords and n in b.coords]
    for name in edges:
        xa, xb = _values(a, name, unit), _values(b, name, unit)
        ok &= np.abs(xb[index] - xa) <= rtol * np.abs(xa)
    if join == "exact" and (ea.size != eb.size or not ok.all()):
        if ea.size != eb.size and ok.all():
            reason = f"{eb.size - ea.size} more bin(s) in b than in a"
        else:
            i = int(np.flatnonzero(~ok)[0])
            reason = (
                f"bin {i} of a (e_ref {ea[i]:.8g} {format_unit(unit)}) has no bin in b within rtol={rtol:g} "
                f"(nearest e_ref {eb[index[i]]:.8g}; edges compared: {', '.join(edges) or 'none'})"
            )
        raise EnergyMismatchError(
            f"match_energies: the energy bins differ ({ea.size} bins in a, {eb.size} in b): {reason}; "
            "join='inner' keeps the common bins, join='interp' interpolates b onto a's energies"
        )
    keep = np.flatnonzero(ok)
    if keep.size == 0:
        raise EnergyMismatchError(f"match_energies: no bin of a matches a bin of b within rtol={rtol:g}")
    a2 = a.isel({schema.ENERGY: keep})
    b2 = b.isel({schema.ENERGY: index[keep]})
    return a2, _relabelled(b2, a2, eb[index[keep]], unit)


def _relabelled(b: xr.DataArray, a: xr.DataArray, energy_b: np.ndarray, unit: u.UnitBase) -> xr.DataArray:
    labels = {n: a.coords[n] for n in _ENERGY_COORDS if n in a.coords}
    out = b.drop_vars([n for n in _ENERGY_COORDS if n in b.coords]).assign_coords(labels)
    other = xr.Variable(
        (schema.ENERGY,),
        energy_b,
        {"units": format_unit(unit), "long_name": "reference energy of the other SED"},
    )
    return out.assign_coords(energy_other=other)


def _interp(a: xr.DataArray, b: xr.DataArray, ea: np.ndarray, eb: np.ndarray) -> xr.DataArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        log_b = np.log(b.where(b > 0))
    log_b = log_b.drop_vars([n for n in _ENERGY_COORDS if n in log_b.coords])
    log_b = log_b.assign_coords({schema.ENERGY: np.log(eb)})
    out = np.exp(log_b.interp({schema.ENERGY: np.log(ea)}, method="linear"))
    labels = {n: a.coords[n] for n in _ENERGY_COORDS if n in a.coords}
    out = out.drop_vars(schema.ENERGY).assign_coords(labels)
    out.attrs = dict(b.attrs)
    out.name = b.name
    return out


def compare(
    a: xr.Dataset,
    b: xr.Dataset,
    quantity: str = "dnde",
    *,
    rtol: float = 1e-3,
    join: str = "exact",
    unit: str | u.UnitBase | None = None,
) -> xr.Dataset:
    """One quantity of two SEDs side by side and their ratio, bin by bin (see :func:`match_energies`).

    Parameters
    ----------
    a, b : xarray.Dataset
        fluxds Datasets.
    quantity : str
        A quantity name (``"dnde"``, ``"e2dnde"``, ``"flux_ul"`` ...), taken from both in the same unit.
    rtol, join
        As :func:`match_energies`.
    unit : str or astropy unit, optional
        Unit of ``a`` and ``b`` in the result; default the quantity's default unit.

    Returns
    -------
    xarray.Dataset
        On ``a``'s (matched) energies: ``a`` and ``b`` (the quantity of each, ``units``), ``ratio`` =
        ``a / b`` (``units`` ``""``), and ``b``'s own ``e_ref`` as ``energy_other``.
    """
    from fluxds.convert import get_quantity

    qa = get_quantity(a, quantity, unit)
    qb = get_quantity(b, quantity, qa.attrs.get("units") if unit is None else unit)
    xa, xb = match_energies(qa, qb, rtol=rtol, join=join)
    xb = xb.drop_vars(["energy_other"], errors="ignore") if join == "interp" else xb
    ratio = xa / xb
    ratio.attrs = {"units": "", "long_name": f"ratio of {quantity} (a / b)"}
    out = xr.Dataset({"a": xa, "b": xb, "ratio": ratio})
    out.attrs = {"quantity": quantity, "join": join, "rtol": float(rtol)}
    return out
