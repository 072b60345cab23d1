"""Power-law models: :class:`PowerLaw` and :class:`BrokenPowerLaw`, with closed-form integrals."""

from __future__ import annotations

import astropy.units as u
import numpy as np

from fluxds.models._base import SpectralModel
from fluxds.models._integrate import powerlaw_integral
from fluxds.models._params import ParamSpec

__all__ = ["PowerLaw", "BrokenPowerLaw"]


class PowerLaw(SpectralModel):
    """Power law ``dnde = amplitude * (E / reference) ** -index`` (gammapy's PowerLawSpectralModel).

    ``flux`` and ``eflux`` are closed forms written as ``exp(k t) * width * exprel(-|k width|)`` in
    ``t = ln(E/reference)``, exact also at ``index == 1`` / ``index == 2`` and stable next to them.

    Parameters
    ----------
    index : float
        Spectral index (dimensionless).
    amplitude : astropy.units.Quantity
        dN/dE at ``reference``, dimension of a differential flux (e.g. cm-2 s-1 TeV-1); a plain
        number is taken in cm-2 s-1 TeV-1.
    reference : astropy.units.Quantity
        Reference energy (a plain number is taken in TeV).

    Examples
    --------
    >>> import astropy.units as u
    >>> model = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> model.dnde(2 * u.TeV)
    <Quantity 2.5e-13 1 / (TeV s cm2)>
    >>> model.flux(1 * u.TeV, 10 * u.TeV)
    <Quantity 9.e-13 1 / (s cm2)>
    """

    type = "PowerLaw"
    gammapy_type = "PowerLawSpectralModel"
    param_specs = (
        ParamSpec("index", "dimensionless"),
        ParamSpec("amplitude", "dnde"),
        ParamSpec("reference", "energy"),
    )

    def __init__(self, index: float, amplitude: u.Quantity, reference: u.Quantity) -> None:
        self._init_parameters(
            {"index": (index, None), "amplitude": (amplitude, None), "reference": (reference, None)}
        )

    def _values(self) -> tuple[float, float, float]:
        return tuple(self._params[n][0] for n in ("index", "amplitude", "reference"))

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:
        index, amplitude, reference = self._values()
        return amplitude * np.power(energy / reference, -index)

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        index, amplitude, reference = self._values()
        k = 1.0 + moment - index
        return amplitude * reference ** (1 + moment) * powerlaw_integral(lo, hi, reference, k)


class BrokenPowerLaw(SpectralModel):
    """Broken power law (gammapy's BrokenPowerLawSpectralModel convention).

    ``dnde = amplitude * (E / ebreak) ** -index1`` for ``E < ebreak`` and
    ``amplitude * (E / ebreak) ** -index2`` for ``E >= ebreak``. Integrals are closed forms, each
    bin split at the break.

    Parameters
    ----------
    index1, index2 : float
        Spectral indices below and above the break (dimensionless).
    amplitude : astropy.units.Quantity
        dN/dE at ``ebreak`` (e.g. cm-2 s-1 TeV-1; a plain number is taken in cm-2 s-1 TeV-1).
    ebreak : astropy.units.Quantity
        Break energy (a plain number is taken in TeV).

    Examples
    --------
    >>> import astropy.units as u
    >>> model = BrokenPowerLaw(
    ...     index1=1.5, index2=3, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), ebreak=1 * u.TeV
    ... )
    >>> model.dnde([0.25, 2] * u.TeV)
    <Quantity [8.00e-12, 1.25e-13] 1 / (TeV s cm2)>
    """

    type = "BrokenPowerLaw"
    gammapy_type = "BrokenPowerLawSpectralModel"
    param_specs = (
        ParamSpec("index1", "dimensionless"),
        ParamSpec("index2", "dimensionless"),
        ParamSpec("amplitude", "dnde"),
        ParamSpec("ebreak", "energy"),
    )
    _energy_param = "ebreak"

    def __init__(self, index1: float, index2: float, amplitude: u.Quantity, ebreak: u.Quantity) -> None:
        self._init_parameters(
            {
                "index1": (index1, None),
                "index2": (index2, None),
                "amplitude": (amplitude, None),
                "ebreak": (ebreak, None),
            }
        )

    def _values(self):
        return tuple(self._params[n][0] for n in ("index1", "index2", "amplitude", "ebreak"))

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:
        index1, index2, amplitude, ebreak = self._values()
        x = energy / ebreak
        with np.errstate(all="ignore"):
            return amplitude * np.where(x < 1, np.power(x, -index1), np.power(x, -index2))

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        index1, index2, amplitude, ebreak = self._values()
        sign = np.where(hi >= lo, 1.0, -1.0)
        a, b = np.minimum(lo, hi), np.maximum(lo, hi)
        # below the break: [a, min(b, ebreak)]; above: [max(a, ebreak), b]
        below_hi = np.minimum(b, ebreak)
        above_lo = np.maximum(a, ebreak)
        has_below = a < ebreak
        has_above = b > ebreak
        below = powerlaw_integral(
            np.where(has_below, a, ebreak),
            np.where(has_below, below_hi, ebreak),
            ebreak,
            1.0 + moment - index1,
        )
        above = powerlaw_integral(
            np.where(has_above, above_lo, ebreak),
            np.where(has_above, b, ebreak),
            ebreak,
            1.0 + moment - index2,
        )
        total = np.where(has_below, below, 0.0) + np.where(has_above, above, 0.0)
        total = np.where(np.isnan(a) | np.isnan(b), np.nan, total)
        return sign * amplitude * ebreak ** (1 + moment) * total
