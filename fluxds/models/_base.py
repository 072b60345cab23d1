"""Base class of the reference spectral models: parameters, units, evaluation, integration."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, ClassVar

import astropy.units as u
import numpy as np

from fluxds.errors import ModelError, UnitError
from fluxds.models._integrate import integrate_log
from fluxds.models._params import EFLUX_UNIT, FLUX_UNIT, ParamSpec, check_quantity
from fluxds.units import format_unit

__all__ = ["SpectralModel"]


class SpectralModel:
    """Base class of the fluxds reference spectral models.

    A model has named scalar parameters (a float for dimensionless ones, an astropy Quantity
    otherwise, available as attributes), evaluates the differential flux ``dnde`` and integrates it
    exactly: ``flux`` (cm-2 s-1) and ``eflux`` (erg cm-2 s-1) over energy bins. Subclasses implement
    ``_dnde_values`` and, where a closed form exists, ``_integral_values``; the default integral is
    the adaptive quadrature of :func:`fluxds.models._integrate.integrate_log` (1e-10 relative or
    better).

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

    def _in_energy_unit(self, unit: u.UnitBase) -> SpectralModel:
        """The same model with its energy-like parameters expressed in ``unit`` (a shallow copy)."""
        if unit == self._eunit:
            return self
        clone = copy.copy(self)
        params = dict(self._params)
        for spec in self.param_specs:
            value, old = params[spec.name]
            if spec.kind == "energy":
                params[spec.name] = (float(u.Quantity(value, old).to_value(unit)), unit)
            elif spec.kind == "inverse_energy":
                params[spec.name] = (float(u.Quantity(value, old).to_value(1 / unit)), 1 / unit)
        clone._params = params
        clone._eunit = unit
        return clone

    def _integral(self, e_min, e_max, moment: int, out_unit: u.UnitBase) -> u.Quantity:
        model = self
        if (
            isinstance(e_min, u.Quantity)
            and isinstance(e_max, u.Quantity)
            and e_min.unit == e_max.unit
            and e_min.unit.is_equivalent(self._eunit)
        ):
            # integrate in the unit of the edges: narrow bins keep their exact width
            model = self._in_energy_unit(e_min.unit)
        lo = model._energy_values(e_min, "e_min")
        hi = model._energy_values(e_max, "e_max")
        lo, hi = np.broadcast_arrays(lo, hi)
        values = np.asarray(model._integral_values(lo, hi, moment), dtype=float).reshape(lo.shape)
        native = self._dnde_unit * model._eunit ** (1 + moment)
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
