"""A power law normalised by its integral flux over an energy range: :class:`PowerLaw2` (2FHL's model)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np

from fluxds.errors import ModelError, UnitError
from fluxds.models import batch
from fluxds.models._base import SpectralModel
from fluxds.models._params import FLUX_UNIT, ParamSpec, check_quantity
from fluxds.units import format_unit, parse_unit

__all__ = ["PowerLaw2"]


class PowerLaw2(SpectralModel):
    """Power law with the integral flux over ``[emin, emax]`` as amplitude (gammapy's
    ``PowerLaw2SpectralModel``; the 2FHL catalog's model, ``Flux50`` over 50 GeV - 2 TeV).

    ``dnde = amplitude * (1 - index) * E ** -index / (emax ** (1 - index) - emin ** (1 - index))``, so that
    ``flux(emin, emax) == amplitude``. Integrals are closed forms written without cancellation (exact also
    at ``index == 1`` and ``index == 2``).

    Parameters
    ----------
    amplitude : astropy.units.Quantity
        Integral photon flux over ``[emin, emax]`` (e.g. cm-2 s-1; a plain number is taken in cm-2 s-1).
    index : float
        Spectral index.
    emin, emax : astropy.units.Quantity
        The energy range of ``amplitude`` (a plain number is taken in TeV).

    Examples
    --------
    >>> import astropy.units as u
    >>> m = PowerLaw2(amplitude=1e-11 * u.Unit("cm-2 s-1"), index=2.5, emin=50 * u.GeV, emax=2 * u.TeV)
    >>> m.flux(50 * u.GeV, 2 * u.TeV)
    <Quantity 1.e-11 1 / (s cm2)>
    """

    type = "PowerLaw2"
    gammapy_type = "PowerLaw2SpectralModel"
    param_specs = (
        ParamSpec("amplitude", "flux"),
        ParamSpec("index", "dimensionless"),
        ParamSpec("emin", "energy"),
        ParamSpec("emax", "energy"),
    )
    _energy_param = "emin"

    def __init__(self, amplitude: u.Quantity, index: float, emin: u.Quantity, emax: u.Quantity) -> None:
        self._init_parameters(
            {
                "amplitude": (amplitude, None),
                "index": (index, None),
                "emin": (emin, None),
                "emax": (emax, None),
            }
        )

    def _init_parameters(self, items: Mapping[str, tuple[Any, Any]]) -> None:
        """As :meth:`SpectralModel._init_parameters`, with ``amplitude`` an integral flux (cm-2 s-1)."""
        value, unit = items["amplitude"]
        if isinstance(value, u.Quantity):
            number, unit = value.value, value.unit
        else:
            number = value
            try:
                unit = (
                    FLUX_UNIT if unit is None else parse_unit(unit, where="PowerLaw2 parameter 'amplitude'")
                )
            except UnitError as exc:  # the message names the parameter
                raise ModelError(str(exc)) from None
        if not unit.is_equivalent(FLUX_UNIT):
            raise ModelError(
                f"PowerLaw2 parameter 'amplitude' = {number} {format_unit(unit) or '(dimensionless)'!r} has "
                "the wrong physical dimension: expected an integral flux, e.g. 'cm-2 s-1'"
            )
        if isinstance(number, bool | str) or number is None:
            raise ModelError(f"PowerLaw2 parameter 'amplitude': value {number!r} is not a number")
        try:
            number = float(np.asarray(number, dtype=float))
        except (TypeError, ValueError):
            raise ModelError(f"PowerLaw2 parameter 'amplitude': value {number!r} is not a number") from None
        if not np.isfinite(number):
            raise ModelError(f"PowerLaw2 parameter 'amplitude' must be finite, got {number!r}")
        params = {"amplitude": (number, unit)}
        for spec in self.param_specs[1:]:
            raw, raw_unit = items[spec.name]
            q, q_unit = check_quantity(self.type, spec.name, spec.kind, raw, raw_unit)
            if np.ndim(q) != 0 or not np.isfinite(q):
                raise ModelError(f"{self.type} parameter {spec.name!r} must be a finite scalar, got {raw!r}")
            params[spec.name] = (float(q), q_unit)
        eunit = params["emin"][1]
        emax = u.Quantity(*params["emax"]).to_value(eunit)
        if not 0 < params["emin"][0] < emax:
            raise ModelError(
                f"PowerLaw2: need 0 < emin < emax, got emin={items['emin'][0]!r}, emax={items['emax'][0]!r}"
            )
        params["emax"] = (float(emax), eunit)
        self._params = params
        self._eunit = eunit
        self._dnde_unit = unit / eunit

    def _in_energy_unit(self, unit: u.UnitBase) -> SpectralModel:
        return self  # the amplitude is per energy range, not per energy unit: integrate in emin's unit

    def _batch_params(self) -> dict[str, float]:
        return {name: value for name, (value, _) in self._params.items()}

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:
        return batch.dnde(self.type, energy, self._batch_params())

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        return batch.integral(self.type, lo, hi, self._batch_params(), moment)
