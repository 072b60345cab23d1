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

from fluxds.errors import UnitError

__all__ = ["parse_unit", "format_unit", "unit_attr", "conversion_factor"]

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
