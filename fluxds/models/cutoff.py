"""The cutoff shapes of the Fermi-LAT catalogs: 3FGL's (super-)exponential cutoffs and 4FGL's
``PLSuperExpCutoff2`` (DR1/DR2) and ``PLSuperExpCutoff4`` (DR3/DR4).

Each is gammapy's model of the same name (``ExpCutoffPowerLaw3FGLSpectralModel`` ...), same parameters,
and the FSSC's form (https://fermi.gsfc.nasa.gov/ssc/data/analysis/scitools/source_models.html). The
amplitude is dN/dE at ``reference`` (the catalog's ``Pivot_Energy``). Integrals use the vectorised adaptive
quadrature of :mod:`fluxds.models.batch` (1e-11 relative): the incomplete-gamma closed forms are not
stable for every index. Evaluation goes through :mod:`fluxds.models.batch`, which the catalog readers
call with the arrays of all their sources.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from fluxds.models import batch
from fluxds.models._base import SpectralModel
from fluxds.models._params import ParamSpec

__all__ = [
    "ExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw4FGL",
    "SuperExpCutoffPowerLaw4FGLDR3",
]


class _BatchShape(SpectralModel):
    """A model whose shape is one of :data:`fluxds.models.batch.SHAPES` (same parameter names)."""

    def _batch_params(self) -> dict[str, float]:
        return {name: value for name, (value, _) in self._params.items()}

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:
        return batch.dnde(self.type, energy, self._batch_params())

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        return batch.integral(self.type, lo, hi, self._batch_params(), moment)

    def _set(self, **values) -> None:
        self._init_parameters({name: (value, None) for name, value in values.items()})


class ExpCutoffPowerLaw3FGL(_BatchShape):
    """Power law with exponential cutoff, normalised at the pivot (3FGL and 2FGL ``PLExpCutoff``).

    ``dnde = amplitude * (E / reference) ** -index * exp((reference - E) / ecut)``: ``amplitude`` is
    dN/dE at ``reference`` (gammapy's ``ExpCutoffPowerLaw3FGLSpectralModel``; fluxds's
    :class:`~fluxds.models.ExpCutoffPowerLaw` is the same shape with ``amplitude`` at ``E = 0`` of the
    cutoff, i.e. ``exp(reference / ecut)`` times larger).

    Parameters
    ----------
    index : float
        Photon index below the cutoff (``Spectral_Index``).
    amplitude : astropy.units.Quantity
        dN/dE at ``reference`` (``Flux_Density``; a plain number is taken in cm-2 s-1 TeV-1).
    reference : astropy.units.Quantity
        Pivot energy (``Pivot_Energy``; a plain number is taken in TeV).
    ecut : astropy.units.Quantity
        Cutoff energy (``Cutoff``; a plain number is taken in TeV).

    Examples
    --------
    >>> import astropy.units as u
    >>> m = ExpCutoffPowerLaw3FGL(index=1.5, amplitude=1e-9 * u.Unit("cm-2 s-1 MeV-1"),
    ...                           reference=1000 * u.MeV, ecut=3000 * u.MeV)
    >>> m.dnde(1000 * u.MeV)
    <Quantity 1.e-09 1 / (MeV s cm2)>
    """

    type = "ExpCutoffPowerLaw3FGL"
    gammapy_type = "ExpCutoffPowerLaw3FGLSpectralModel"
    param_specs = (
        ParamSpec("index", "dimensionless"),
        ParamSpec("amplitude", "dnde"),
        ParamSpec("reference", "energy"),
        ParamSpec("ecut", "energy"),
    )

    def __init__(self, index: float, amplitude: u.Quantity, reference: u.Quantity, ecut: u.Quantity) -> None:
        self._set(index=index, amplitude=amplitude, reference=reference, ecut=ecut)


class SuperExpCutoffPowerLaw3FGL(_BatchShape):
    """Power law with super-exponential cutoff, normalised at the pivot (3FGL ``PLSuperExpCutoff``).

    ``dnde = amplitude * (E / reference) ** -index_1 * exp((reference / ecut) ** index_2 -
    (E / ecut) ** index_2)`` (gammapy's ``SuperExpCutoffPowerLaw3FGLSpectralModel``; 3FGL paper eq. 4).

    Parameters
    ----------
    amplitude : astropy.units.Quantity
        dN/dE at ``reference`` (``Flux_Density``).
    reference : astropy.units.Quantity
        Pivot energy (``Pivot_Energy``).
    ecut : astropy.units.Quantity
        Cutoff energy (``Cutoff``).
    index_1 : float
        Photon index (``Spectral_Index``).
    index_2 : float
        Exponential index ``b`` (``Exp_Index``).

    Examples
    --------
    >>> import astropy.units as u
    >>> m = SuperExpCutoffPowerLaw3FGL(amplitude=1e-9 * u.Unit("cm-2 s-1 MeV-1"), reference=1 * u.GeV,
    ...                                ecut=2 * u.GeV, index_1=1.3, index_2=0.7)
    >>> float(m.dnde(1 * u.GeV).to_value("cm-2 s-1 MeV-1"))
    1e-09
    """

    type = "SuperExpCutoffPowerLaw3FGL"
    gammapy_type = "SuperExpCutoffPowerLaw3FGLSpectralModel"
    param_specs = (
        ParamSpec("amplitude", "dnde"),
        ParamSpec("reference", "energy"),
        ParamSpec("ecut", "energy"),
        ParamSpec("index_1", "dimensionless"),
        ParamSpec("index_2", "dimensionless"),
    )

    def __init__(
        self,
        amplitude: u.Quantity,
        reference: u.Quantity,
        ecut: u.Quantity,
        index_1: float,
        index_2: float,
    ) -> None:
        self._set(amplitude=amplitude, reference=reference, ecut=ecut, index_1=index_1, index_2=index_2)


class SuperExpCutoffPowerLaw4FGL(_BatchShape):
    """4FGL DR1/DR2 ``PLSuperExpCutoff2``: ``dnde = amplitude * (E / reference) ** -index_1 *
    exp(expfactor * (reference ** index_2 - E ** index_2))``, energies in MeV.

    gammapy's ``SuperExpCutoffPowerLaw4FGLSpectralModel``; 4FGL paper (arXiv:1902.10045) eq. 4. As in the
    FITS file (``PLEC_Expfactor``) and in gammapy, ``expfactor`` is a plain number meaning
    ``MeV ** -index_2``: the model converts energies to MeV for the exponent, whatever the unit of
    ``reference``.

    Parameters
    ----------
    amplitude : astropy.units.Quantity
        dN/dE at ``reference`` (``PLEC_Flux_Density``).
    reference : astropy.units.Quantity
        Pivot energy (``Pivot_Energy``).
    expfactor : float
        ``a`` in MeV ** -index_2 (``PLEC_Expfactor``).
    index_1 : float
        Photon index ``Gamma`` (``PLEC_Index``).
    index_2 : float
        Exponential index ``b`` (``PLEC_Exp_Index``).

    Examples
    --------
    >>> import astropy.units as u
    >>> m = SuperExpCutoffPowerLaw4FGL(amplitude=1e-9 * u.Unit("cm-2 s-1 MeV-1"), reference=1 * u.GeV,
    ...                                expfactor=0.01, index_1=1.5, index_2=2 / 3)
    >>> float(m.dnde(1 * u.GeV).to_value("cm-2 s-1 MeV-1"))
    1e-09
    """

    type = "SuperExpCutoffPowerLaw4FGL"
    gammapy_type = "SuperExpCutoffPowerLaw4FGLSpectralModel"
    param_specs = (
        ParamSpec("amplitude", "dnde"),
        ParamSpec("reference", "energy"),
        ParamSpec("expfactor", "dimensionless"),
        ParamSpec("index_1", "dimensionless"),
        ParamSpec("index_2", "dimensionless"),
    )

    def __init__(
        self,
        amplitude: u.Quantity,
        reference: u.Quantity,
        expfactor: float,
        index_1: float,
        index_2: float,
    ) -> None:
        self._set(
            amplitude=amplitude, reference=reference, expfactor=expfactor, index_1=index_1, index_2=index_2
        )

    def _batch_params(self) -> dict[str, float]:
        params = super()._batch_params()
        params["mev_per_unit"] = float(u.Quantity(1.0, self._eunit).to_value(u.MeV))
        return params


class SuperExpCutoffPowerLaw4FGLDR3(_BatchShape):
    """4FGL DR3/DR4 ``PLSuperExpCutoff4``: ``dnde = amplitude * (E / reference) ** (expfactor / index_2 -
    index_1) * exp(expfactor / index_2**2 * (1 - (E / reference) ** index_2))``.

    gammapy's ``SuperExpCutoffPowerLaw4FGLDR3SpectralModel``; 4FGL-DR3 paper (arXiv:2201.11184) eq. 2.
    ``index_1`` (``PLEC_IndexS``) is the photon index at ``reference``, ``expfactor`` (``PLEC_ExpfactorS``,
    ``d``) the curvature there. Written as ``exp(-index_1 L - expfactor L**2 f(index_2 L))`` with
    ``L = ln(E / reference)`` and ``f(y) = (e**y - 1 - y) / y**2`` (:func:`fluxds.models.batch.exprel2`), it
    has no 0/0 at ``index_2 -> 0``, where it becomes the log-parabola ``exp(-index_1 L - expfactor L**2 /
    2)`` (the DR3 paper's eq. 3, which gammapy and the Fermi tools evaluate as a truncated series where
    ``|index_2 L| < 0.01``).

    Parameters
    ----------
    amplitude : astropy.units.Quantity
        dN/dE at ``reference`` (``PLEC_Flux_Density``).
    reference : astropy.units.Quantity
        Pivot energy (``Pivot_Energy``).
    expfactor : float
        ``d`` (``PLEC_ExpfactorS``).
    index_1 : float
        ``Gamma_S`` (``PLEC_IndexS``).
    index_2 : float
        ``b`` (``PLEC_Exp_Index``); 0 is allowed.

    Examples
    --------
    >>> import astropy.units as u
    >>> m = SuperExpCutoffPowerLaw4FGLDR3(amplitude=1e-9 * u.Unit("cm-2 s-1 MeV-1"), reference=1 * u.GeV,
    ...                                   expfactor=0.6, index_1=2.0, index_2=0.0)
    >>> lp = 1e-9 * 10.0 ** -2.0 * np.exp(-0.3 * np.log(10.0) ** 2)  # log-parabola at 10 GeV
    >>> bool(np.isclose(m.dnde(10 * u.GeV).to_value("cm-2 s-1 MeV-1"), lp, rtol=1e-14))
    True
    """

    type = "SuperExpCutoffPowerLaw4FGLDR3"
    gammapy_type = "SuperExpCutoffPowerLaw4FGLDR3SpectralModel"
    param_specs = (
        ParamSpec("amplitude", "dnde"),
        ParamSpec("reference", "energy"),
        ParamSpec("expfactor", "dimensionless"),
        ParamSpec("index_1", "dimensionless"),
        ParamSpec("index_2", "dimensionless"),
    )

    def __init__(
        self,
        amplitude: u.Quantity,
        reference: u.Quantity,
        expfactor: float,
        index_1: float,
        index_2: float,
    ) -> None:
        self._set(
            amplitude=amplitude, reference=reference, expfactor=expfactor, index_1=index_1, index_2=index_2
        )
