"""The base class of the reference spectral models: parameters, units, evaluation and integration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from fluxds.errors import ModelError, UnitError
from fluxds.models._integrate import integrate_log
from fluxds.units import format_unit, parse_unit

__all__ = ["SpectralModel", "ParamSpec", "DNDE_UNIT", "FLUX_UNIT", "EFLUX_UNIT"]

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
            f"{model_type} parameter {name!r} = {number} {format_unit(unit) or '(dimensionless)'!r} "
            f"has the wrong physical dimension: expected {words}"
        )
    if kind == "dimensionless" and unit != u.dimensionless_unscaled:
        number, unit = number * unit.to(u.dimensionless_unscaled), u.dimensionless_unscaled
    return number, unit


class SpectralModel:
    """Base class of the fluxds reference spectral models.

    A model has named scalar parameters (a float for dimensionless ones, an astropy Quantity
    otherwise, available as attributes), evaluates the differential flux ``dnde`` and integrates it
    exactly: ``flux`` (cm-2 s-1) and ``eflux`` (erg cm-2 s-1) over energy bins. Subclasses implement
    ``_dnde_values`` and, where a closed form exists, ``_integral_values``; the default integral is the
    adaptive quadrature of :func:`fluxds.models._integrate.integrate_log` (1e-10 relative or better).

    Attributes
    ----------
    type : str
        The fluxds type name (``"PowerLaw"`` ...); ``name`` is the same.
    gammapy_type : str
        The matching gammapy class name (``"PowerLawSpectralModel"`` ...).
    """

    type: ClassVar[str] = "SpectralModel"
    gammapy_type: ClassVar[str] = ""
    param_specs: ClassVar[tuple[ParamSpec, ...]] = ()
    _energy_param: ClassVar[str] = "reference"

    # ---- construction -------------------------------------------------------------------------
    def _init_parameters(self, items: Mapping[str, tuple[Any, Any]]) -> None:
        """Validate ``{name: (value, unit or None)}`` and set up the model."""
        params = {}
        for spec in self.param_specs:
            value, unit = items[spec.name]
            number, unit = check_quantity(self.type, spec.name, spec.kind, value, unit)
            if number.ndim != 0:
                raise ModelError(f"{self.type} parameter {spec.name!r} must be a scalar, got {value!r}")
            if not np.isfinite(number):
                raise ModelError(f"{self.type} parameter {spec.name!r} must be finite, got {value!r}")
            params[spec.name] = (float(number), unit)
        self._params = params
        self._eunit = params[self._energy_param][1]
        self._dnde_unit = params["amplitude"][1]

    @classmethod
    def expected_parameters(cls) -> list[str]:
        """Names of the parameters of this model type, in order."""
        return [spec.name for spec in cls.param_specs]

    @classmethod
    def _from_dict_data(cls, data: Mapping[str, Any]) -> SpectralModel:
        """Build from a dict (``parameters`` as a dict of dicts or as gammapy's list of dicts)."""
        raw = data.get("parameters")
        expected = ", ".join(cls.expected_parameters())
        found: dict[str, tuple[Any, Any]] = {}
        if isinstance(raw, Mapping):
            for name, entry in raw.items():
                if isinstance(entry, Mapping):
                    found[name] = (entry.get("value"), entry.get("unit", ""))
                else:
                    found[name] = (entry, "")
        elif isinstance(raw, list | tuple):
            for entry in raw:
                if not isinstance(entry, Mapping) or "name" not in entry:
                    raise ModelError(f"{cls.type}: parameter entry {entry!r} has no 'name'")
                if entry["name"] in found:
                    raise ModelError(f"{cls.type}: parameter {entry['name']!r} is given twice")
                found[entry["name"]] = (entry.get("value"), entry.get("unit", ""))
        else:
            raise ModelError(f"{cls.type}: 'parameters' missing or not a dict/list; expected {expected}")
        extra = [name for name in found if name not in cls.expected_parameters()]
        if extra:
            raise ModelError(f"{cls.type}: unknown parameter(s) {extra}; expected {expected}")
        for spec in cls.param_specs:
            if spec.name not in found:
                if spec.default is None:
                    raise ModelError(f"{cls.type}: missing parameter {spec.name!r}; expected {expected}")
                found[spec.name] = (spec.default, "")
        model = cls.__new__(cls)
        model._init_parameters(found)
        return model

    # ---- parameters ---------------------------------------------------------------------------
    def __getattr__(self, name: str):
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            value, unit = params[name]
            return value if unit == u.dimensionless_unscaled else u.Quantity(value, unit)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def name(self) -> str:
        """The model type name, e.g. ``"PowerLaw"``."""
        return self.type

    @property
    def parameters(self) -> dict[str, u.Quantity]:
        """The parameters as ``{name: Quantity}`` (dimensionless ones with an empty unit)."""
        return {name: u.Quantity(value, unit) for name, (value, unit) in self._params.items()}

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-able dict ``{"type": ..., "parameters": {name: {"value", "unit"}}}``.

        Values are Python floats (exact through JSON), units UDUNITS-friendly strings.
        """
        return {
            "type": self.type,
            "parameters": {
                name: {"value": float(value), "unit": format_unit(unit)}
                for name, (value, unit) in self._params.items()
            },
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpectralModel):
            return NotImplemented
        if self.type != other.type or self._params.keys() != other._params.keys():
            return False
        return all(
            value == other._params[name][0] and unit == other._params[name][1]
            for name, (value, unit) in self._params.items()
        )

    def __hash__(self) -> int:
        return hash((self.type, tuple(value for value, _ in self._params.values())))

    def __repr__(self) -> str:
        parts = []
        for name, (value, unit) in self._params.items():
            text = format_unit(unit)
            parts.append(f"{name}={value!r}" + (f" {text}" if text else ""))
        return f"{self.type}({', '.join(parts)})"

    # ---- evaluation ---------------------------------------------------------------------------
    def _energy_values(self, energy: Any, what: str) -> np.ndarray:
        if not isinstance(energy, u.Quantity):
            raise UnitError(f"{what} must be an astropy Quantity with an energy unit, got {energy!r}")
        try:
            return np.asarray(energy.to_value(self._eunit), dtype=float)
        except u.UnitConversionError:
            raise UnitError(
                f"{what} has unit {energy.unit.to_string()!r}, expected an energy unit (e.g. TeV)"
            ) from None

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        """``∫ dnde E^moment dE`` in ``dnde_unit * eunit**(1 + moment)`` (quadrature by default)."""
        return integrate_log(lambda e: self._dnde_values(e) * e**moment, lo, hi)

    def dnde(self, energy: u.Quantity) -> u.Quantity:
        """Differential flux at ``energy``.

        Parameters
        ----------
        energy : astropy.units.Quantity
            Energies, any energy unit, any array shape.

        Returns
        -------
        astropy.units.Quantity
            dN/dE, same shape as ``energy``, in the unit of the amplitude (e.g. cm-2 s-1 TeV-1).
        """
        values = self._dnde_values(self._energy_values(energy, "energy"))
        return np.asarray(values, dtype=float) << self._dnde_unit

    def _integral(self, e_min, e_max, moment: int, out_unit: u.UnitBase) -> u.Quantity:
        lo = self._energy_values(e_min, "e_min")
        hi = self._energy_values(e_max, "e_max")
        lo, hi = np.broadcast_arrays(lo, hi)
        values = np.asarray(self._integral_values(lo, hi, moment), dtype=float).reshape(lo.shape)
        native = self._dnde_unit * self._eunit ** (1 + moment)
        try:
            factor = u.Quantity(1.0, native).to_value(out_unit)
        except u.UnitConversionError:  # pragma: no cover - dimensions are checked at construction
            raise ModelError(f"{self.type}: cannot express {native} in {out_unit}") from None
        return np.asarray(values * factor if factor != 1.0 else values) << out_unit

    def flux(self, e_min: u.Quantity, e_max: u.Quantity) -> u.Quantity:
        """Integral flux ``∫ dnde dE`` over ``[e_min, e_max]``.

        Parameters
        ----------
        e_min, e_max : astropy.units.Quantity
            Bin edges (positive, finite, any energy unit), broadcast together.

        Returns
        -------
        astropy.units.Quantity
            Photon flux in cm-2 s-1, shape of the broadcast edges.
        """
        return self._integral(e_min, e_max, 0, FLUX_UNIT)

    def eflux(self, e_min: u.Quantity, e_max: u.Quantity) -> u.Quantity:
        """Energy flux ``∫ E dnde dE`` over ``[e_min, e_max]``.

        Parameters
        ----------
        e_min, e_max : astropy.units.Quantity
            Bin edges (positive, finite, any energy unit), broadcast together.

        Returns
        -------
        astropy.units.Quantity
            Energy flux in erg cm-2 s-1, shape of the broadcast edges.
        """
        return self._integral(e_min, e_max, 1, EFLUX_UNIT)
