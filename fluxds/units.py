"""Unit strings in and out: lenient parsing of what files hold, one UDUNITS-friendly formatter.

Files write units in many ways: ``1 / (cm2 s TeV)`` (astropy), ``TeV-1 s-1 cm-2`` (FITS), ``cm-2 ph s-1``
(with the counting token ``ph``), ``cm-2 MeV-1 ct s-1``. fluxds reads all of them with :func:`parse_unit`
and writes every unit with :func:`format_unit`, whose output both astropy and UDUNITS-2 read the same way
(UDUNITS misreads ``ph`` as phot and ``ct`` as centitonne, so the counting tokens are dropped: a photon
flux is a number flux).
"""

from __future__ import annotations

import functools
import re

import astropy.units as u
import numpy as np

from fluxds.errors import UnitError

__all__ = ["parse_unit", "format_unit", "unit_attr", "conversion_factor", "to_quantity", "from_quantity"]

# Counting tokens that carry no physical dimension for a flux: photons, counts.
_COUNT_TOKENS = re.compile(r"(?<![A-Za-z])(ph|photon|photons|ct|count|counts)(?![A-Za-z])")
_DIMENSIONLESS_WORDS = {"", "1", "dimensionless", "none", "dimensionless_unscaled"}
# astropy names that UDUNITS-2 does not know, and the spelling both read
_UDUNITS_NAMES = {"deg": "degree"}


def parse_unit(text: str | u.UnitBase | None, *, where: str = "") -> u.UnitBase:
    """Read a unit string as a file may hold it.

    Parameters
    ----------
    text : str, astropy unit or None
        The unit as written (``None``, ``""``, ``"1"``, ``"dimensionless"`` mean dimensionless). The
        counting tokens ``ph``/``photon``/``ct``/``count`` are dropped.
    where : str
        What the unit belongs to (file and column), used in the error message.

    Returns
    -------
    astropy.units.UnitBase

    Raises
    ------
    UnitError
        If the string is not a unit astropy can read.

    Examples
    --------
    >>> parse_unit("cm-2 MeV-1 ph s-1")
    Unit("1 / (MeV s cm2)")
    """
    if isinstance(text, u.UnrecognizedUnit):
        text = text.to_string()
    elif isinstance(text, u.UnitBase):
        counting = {u.photon, u.count}
        if not any(base in counting for base in getattr(text, "bases", [text])):
            return text
        text = text.to_string()
    if text is None:
        return u.dimensionless_unscaled
    try:
        return _parse_text(str(text))
    except ValueError as exc:
        place = f" of {where}" if where else ""
        raise UnitError(f"unit {str(text).strip()!r}{place} is not a unit astropy can read: {exc}") from None


@functools.lru_cache(maxsize=1024)
def _parse_text(raw: str) -> u.UnitBase:
    """Parse one unit string (cached: files and Datasets repeat a handful of unit strings)."""
    raw = raw.strip()
    if raw.lower() in _DIMENSIONLESS_WORDS:
        return u.dimensionless_unscaled
    cleaned = _COUNT_TOKENS.sub("", raw)
    cleaned = re.sub(r"\s+", " ", cleaned).strip()
    cleaned = re.sub(r"^[*.\s]+|[*.\s]+$", "", cleaned)
    if cleaned == "":
        return u.dimensionless_unscaled
    for fmt in ("fits", "generic", "ogip"):
        try:
            return u.Unit(cleaned, format=fmt)
        except ValueError:
            continue
    return u.Unit(cleaned, parse_strict="raise")


_RANK = {"length": 0, "time": 1, "energy": 2}


def _rank(base: u.UnitBase) -> int:
    return _RANK.get(str(base.physical_type), len(_RANK))


@functools.lru_cache(maxsize=1024)
def format_unit(unit: u.UnitBase | str | None) -> str:
    """Write a unit as a string that astropy and UDUNITS-2 both read as the same unit.

    The form is space-separated factors with integer powers (``cm-2 s-1 TeV-1``); a dimensionless unit is
    ``""``; a scaled dimensionless unit keeps its scale (``1e-12``).

    Examples
    --------
    >>> format_unit(parse_unit("1 / (cm2 s TeV)"))
    'cm-2 s-1 TeV-1'
    """
    unit = parse_unit(unit) if not isinstance(unit, u.UnitBase) else unit
    if unit == u.dimensionless_unscaled:
        return ""
    bases = list(getattr(unit, "bases", []))
    powers = list(getattr(unit, "powers", []))
    scale = getattr(unit, "scale", 1.0)
    if not bases:
        return repr(float(scale))
    # positive powers first (erg cm-2 s-1), then area, time, energy, others: cm-2 s-1 TeV-1
    order = sorted(range(len(bases)), key=lambda i: (powers[i] < 0, _rank(bases[i]), i))
    parts = []
    for i in order:
        name = bases[i].to_string()
        name = _UDUNITS_NAMES.get(name, name)
        power = powers[i]
        if power == 1:
            parts.append(name)
        elif float(power).is_integer():
            parts.append(f"{name}{int(power)}")
        else:
            raise UnitError(f"unit {unit} has a fractional power, which UDUNITS cannot read")
    text = " ".join(parts)
    if scale != 1.0:
        text = f"{scale!r} {text}"
    return text


def unit_attr(obj) -> u.UnitBase:
    """The unit held in the ``units`` attribute of a DataArray or Variable (dimensionless if none)."""
    return parse_unit(obj.attrs.get("units"), where=str(getattr(obj, "name", "") or ""))


@functools.lru_cache(maxsize=1024)
def conversion_factor(from_unit: u.UnitBase, to_unit: u.UnitBase, *, what: str = "") -> float:
    """The number by which values in ``from_unit`` are multiplied to be in ``to_unit``.

    Raises
    ------
    UnitError
        If the two units have different physical dimensions.
    """
    try:
        return float(u.Quantity(1.0, from_unit).to_value(to_unit))
    except u.UnitConversionError:
        label = f"{what}: " if what else ""
        raise UnitError(
            f"{label}cannot convert {from_unit.to_string() or 'dimensionless'!r} to "
            f"{to_unit.to_string() or 'dimensionless'!r}: their physical dimensions differ"
        ) from None


def to_quantity(da, unit: str | u.UnitBase | None = None) -> u.Quantity:
    """A DataArray's values as an astropy Quantity in the unit of its ``units`` attribute.

    xarray carries attributes through arithmetic unchanged (``(ds.sed.dnde / ds.sed.dnde_err)`` keeps
    ``units = "cm-2 s-1 TeV-1"``), so the ``units`` attribute of a computed DataArray cannot be trusted.
    Do unit arithmetic on Quantities instead, and come back with :func:`from_quantity`::

        ratio = to_quantity(ds.sed.dnde) / to_quantity(ds.sed.dnde_err)   # dimensionless
        da = from_quantity(ratio, like=ds.sed.dnde, name="significance")  # units ""

    Parameters
    ----------
    da : xarray.DataArray
        With a ``units`` attribute (none means dimensionless); values in memory.
    unit : str or astropy unit, optional
        Convert to this unit.

    Returns
    -------
    astropy.units.Quantity
        The values (a view, no copy when no conversion is asked), same shape and axis order as ``da``.

    Raises
    ------
    UnitError
        ``da`` is dask-backed (a Quantity holds numpy values: call ``.compute()`` first, knowingly, or
        stay with DataArrays), or ``unit`` has another physical dimension.
    """
    if getattr(da, "chunks", None) is not None:
        raise UnitError(
            f"to_quantity: {getattr(da, 'name', None)!r} is dask-backed; an astropy Quantity holds numpy "
            "values, so it would be computed: call .compute() on it first if it fits in memory"
        )
    q = u.Quantity(np.asarray(da.values), unit_attr(da), copy=False)
    if unit is None:
        return q
    target = parse_unit(unit)
    conversion_factor(q.unit, target, what=str(getattr(da, "name", "") or ""))  # UnitError if incompatible
    return q.to(target)


def from_quantity(q: u.Quantity, like, *, name: str | None = None, long_name: str | None = None):
    """A DataArray of a Quantity's values, on the dims and coordinates of ``like``, with the Quantity's
    unit in its ``units`` attribute (formatted by :func:`format_unit`).

    Parameters
    ----------
    q : astropy.units.Quantity
        The same shape as ``like`` (e.g. the result of arithmetic on :func:`to_quantity` values).
    like : xarray.DataArray
        The dims and coordinates to put the values on.
    name, long_name : str, optional
        Name and ``long_name`` of the result (default ``like``'s name and no ``long_name``).

    Returns
    -------
    xarray.DataArray

    Raises
    ------
    UnitError
        ``q`` is not a Quantity, or its shape is not ``like``'s.
    """
    import xarray as xr

    if not isinstance(q, u.Quantity):
        raise UnitError(f"from_quantity: expected an astropy Quantity, got {type(q).__name__}")
    if q.shape != like.shape:
        raise UnitError(f"from_quantity: the Quantity has shape {q.shape}; {like.name!r} has {like.shape}")
    attrs = {"units": format_unit(q.unit)}
    if long_name is not None:
        attrs["long_name"] = long_name
    return xr.DataArray(q.value, dims=like.dims, coords=like.coords, name=name or like.name, attrs=attrs)
