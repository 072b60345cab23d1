"""Parameter specifications and the unit / value checks shared by every spectral model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import astropy.units as u
import numpy as np

from fluxds.errors import ModelError, UnitError
from fluxds.units import format_unit, parse_unit

__all__ = ["ParamSpec", "check_quantity", "KINDS", "DNDE_UNIT", "FLUX_UNIT", "EFLUX_UNIT"]

DNDE_UNIT = u.Unit("cm-2 s-1 TeV-1")
FLUX_UNIT = u.Unit("cm-2 s-1")
EFLUX_UNIT = u.Unit("erg cm-2 s-1")

# kind -> (default unit, what the dimension is, in words)
KINDS = {
    "dimensionless": (u.dimensionless_unscaled, "dimensionless"),
    "energy": (u.TeV, "an energy, e.g. 'TeV'"),
    "inverse_energy": (u.TeV**-1, "an inverse energy, e.g. 'TeV-1'"),
    "dnde": (DNDE_UNIT, "a differential flux, e.g. 'cm-2 s-1 TeV-1'"),
}


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a model: its name, physical kind and (if optional) default value."""

    name: str
    kind: str
    default: float | None = None


def check_quantity(model_type: str, name: str, kind: str, value: Any, unit: Any = None):
    """Validate a parameter (or a template column) and return ``(float or array, unit)``.

    ``value`` is a Quantity or a number; ``unit`` (a string or unit) applies to a plain number, and
    ``None`` means the default unit of ``kind``. Raises :class:`ModelError` naming ``name``.
    """
    default_unit, words = KINDS[kind]
    if isinstance(value, u.Quantity):
        number, unit = value.value, value.unit
    else:
        number = value
        if unit is None:
            unit = default_unit
        else:
            try:
                unit = parse_unit(unit, where=f"{model_type} parameter {name!r}")
            except UnitError as exc:
                raise ModelError(str(exc)) from None
    if isinstance(number, bool | str) or number is None:
        raise ModelError(f"{model_type} parameter {name!r}: value {number!r} is not a number")
    try:
        number = np.asarray(number, dtype=float)
    except (TypeError, ValueError):
        raise ModelError(f"{model_type} parameter {name!r}: value {number!r} is not a number") from None
    if not unit.is_equivalent(default_unit):
        raise ModelError(
            f"{model_type} parameter {name!r} = {number} "
            f"{format_unit(unit) or '(dimensionless)'!r} "
            f"has the wrong physical dimension: expected {words}"
        )
    if kind == "dimensionless" and unit != u.dimensionless_unscaled:
        number, unit = number * unit.to(u.dimensionless_unscaled), u.dimensionless_unscaled
    return number, unit
