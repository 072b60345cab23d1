"""Axis labels with units, shared by every plot: quantity symbols, unit text, energy-band titles."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from fluxds.errors import UnitError
from fluxds.units import format_unit, parse_unit

__all__ = ["quantity_label", "unit_text", "energy_band_label", "nice_energy_unit"]

# mathtext symbols of the SED types (and of a few stored statistics) for axis labels
_SYMBOLS = {
    "norm": "Norm",
    "dnde": r"$dN/dE$",
    "e2dnde": r"$E^2\,dN/dE$",
    "flux": "Flux",
    "eflux": "Energy flux",
    "sqrt_ts": r"$\sqrt{TS}$",
    "ts": "TS",
    "npred_excess": "Excess counts",
    "counts": "Counts",
}
_ENERGY_UNITS = ("keV", "MeV", "GeV", "TeV", "PeV")


def unit_text(unit: str | u.UnitBase | None) -> str:
    """The unit as fluxds writes it (``"erg cm-2 s-1"``); ``""`` for a dimensionless unit.

    Examples
    --------
    >>> unit_text("1 / (cm2 s TeV)")
    'cm-2 s-1 TeV-1'
    """
    if unit is None:
        return ""
    parsed = parse_unit(unit)
    try:
        return format_unit(parsed)
    except UnitError:  # a fractional power (E^2.7 dN/dE): "TeV(1.7) cm-2 s-1", which astropy reads back
        return " ".join(
            _unit_words(parsed, lambda name, power, frac: f"{name}({power})" if frac else name + power)
        )


def _unit_words(unit: u.UnitBase, write) -> list[str]:
    """The factors of a unit with fractional powers, in fluxds's order (scale, positive powers, cm s TeV,
    negative fractional powers last); each factor with a power other than 1 written by
    ``write(name, power_text, fractional)``."""
    bases, powers = list(unit.bases), [float(p) for p in unit.powers]
    integer = u.dimensionless_unscaled
    for b, p in zip(bases, powers, strict=True):
        if p.is_integer():
            integer = integer * b ** int(p)
    fractional = [(b.to_string(), p) for b, p in zip(bases, powers, strict=True) if not p.is_integer()]
    words = [] if unit.scale == 1.0 else [repr(float(unit.scale))]
    words += [write(n, f"{p:.6g}", True) for n, p in fractional if p > 0]
    for word in format_unit(integer).split():  # "cm-2" -> name "cm", power "-2"
        name = word.rstrip("-0123456789")
        words.append(write(name, word[len(name) :], False) if word != name else word)
    words += [write(n, f"{p:.6g}", True) for n, p in fractional if p < 0]
    return words


def _mathtext_unit(unit: u.UnitBase) -> str:
    """A unit with a fractional power in mathtext, powers as superscripts:
    ``$\\mathrm{TeV^{1.7}\\,cm^{-2}\\,s^{-1}}$`` (astropy's own text would be ``TeV(17/10) / (s cm2)``)."""
    return (
        "$\\mathrm{" + "\\,".join(_unit_words(unit, lambda name, power, frac: f"{name}^{{{power}}}")) + "}$"
    )


def quantity_label(name: str, unit: str | u.UnitBase | None = None, energy_power: float = 0) -> str:
    """An axis label: the quantity's symbol and its unit in brackets.

    Parameters
    ----------
    name : str
        A quantity name (``"dnde"``, ``"e2dnde"``, ``"flux_ul"``, ``"sqrt_ts"`` ...); suffixes are dropped.
    unit : str or astropy unit, optional
        The unit of the plotted values; omitted from the label when dimensionless.
    energy_power : float
        A power of energy the values were multiplied by (``E^p dN/dE``).

    Returns
    -------
    str

    Examples
    --------
    >>> quantity_label("e2dnde", "erg cm-2 s-1")
    '$E^2\\\\,dN/dE$ [erg cm-2 s-1]'
    >>> quantity_label("dnde", "TeV cm-2 s-1", energy_power=2)
    '$E^{2}$ $dN/dE$ [TeV cm-2 s-1]'
    """
    from fluxds import schema

    split = schema.split_measurement(name)
    stem = split[0] if split is not None else name
    symbol = _SYMBOLS.get(stem, stem)
    if energy_power:
        power = int(energy_power) if float(energy_power).is_integer() else energy_power
        symbol = f"$E^{{{power}}}$ {symbol}"
    text = unit_text(unit)
    if text and _has_fractional_power(unit):  # TeV^{1.7} rather than TeV(1.7)
        text = _mathtext_unit(parse_unit(unit))
    return f"{symbol} [{text}]" if text else symbol


def _has_fractional_power(unit: str | u.UnitBase | None) -> bool:
    parsed = parse_unit(unit)
    return any(not float(p).is_integer() for p in getattr(parsed, "powers", []))


def nice_energy_unit(values, unit: str | u.UnitBase) -> u.UnitBase:
    """The energy unit among keV ... PeV in which the largest of ``values`` lies in [1, 1000)
    (``1e7 keV`` -> ``GeV``).

    Examples
    --------
    >>> nice_energy_unit([1e7, 5e8], "keV")
    Unit("GeV")
    """
    unit = parse_unit(unit)
    positive = np.asarray(values, dtype=float)
    positive = positive[np.isfinite(positive) & (positive > 0)]
    if positive.size == 0:
        return unit
    low = positive.max() * unit
    for name in _ENERGY_UNITS:
        if low.to_value(name) < 1000:
            return u.Unit(name)
    return u.Unit(_ENERGY_UNITS[-1])


def energy_band_label(e_min: float, e_max: float, unit: str | u.UnitBase) -> str:
    """A title for an energy band, in a readable unit: ``"10 - 29.1 GeV"``.

    Examples
    --------
    >>> energy_band_label(1e7, 2.906e7, "keV")
    '10 - 29.1 GeV'
    """
    nice = nice_energy_unit([e_max], unit)
    lo, hi = (float((v * parse_unit(unit)).to_value(nice)) for v in (e_min, e_max))
    return f"{lo:.3g} - {hi:.3g} {unit_text(nice)}"
