"""Reference models between gammapy and fluxds, and the stored-reference model given to gammapy.

Imported only by :func:`fluxds.from_gammapy` / :func:`fluxds.to_gammapy` (it imports gammapy).
"""

from __future__ import annotations

import json
from typing import Any

import astropy.units as u
import numpy as np
from gammapy.modeling.models import (
    SPECTRAL_MODEL_REGISTRY as _REGISTRY,
)
from gammapy.modeling.models import (
    Models,
    SkyModel,
    SpectralModel,
    TemplateSpectralModel,
)

from fluxds import models as fmodels
from fluxds.errors import ModelError
from fluxds.units import format_unit

__all__ = [
    "fluxds_model",
    "gammapy_model",
    "sky_model_json",
    "sky_model_from_json",
    "StoredReferenceSpectralModel",
]

# gammapy class name -> fluxds model class, for the types whose parameters are the same (names, meaning,
# units): a model of these types crosses between the two exactly, parameter by parameter
_TO_FLUXDS = {
    cls.gammapy_type: cls
    for cls in (
        fmodels.PowerLaw,
        fmodels.ExpCutoffPowerLaw,
        fmodels.LogParabola,
        fmodels.BrokenPowerLaw,
        # the Fermi-LAT catalogs' shapes (fluxds.models.cutoff, fluxds.models.powerlaw2)
        fmodels.ExpCutoffPowerLaw3FGL,
        fmodels.SuperExpCutoffPowerLaw3FGL,
        fmodels.SuperExpCutoffPowerLaw4FGL,
        fmodels.SuperExpCutoffPowerLaw4FGLDR3,
        fmodels.PowerLaw2,
    )
}
_DEFAULT_TEMPLATE_INTERP = {"values_scale": "log", "points_scale": ("log",)}


def _native(q: u.Quantity) -> u.Quantity:
    """A Quantity with native byte order (gammapy's template of a FITS file is big-endian)."""
    values = np.asarray(q.value)
    if not values.dtype.isnative:
        values = values.astype(values.dtype.newbyteorder("="))
    return u.Quantity(values, q.unit, copy=False)


def fluxds_model(model: SpectralModel) -> fmodels.SpectralModel | None:
    """The fluxds twin of a gammapy spectral model (same type, the very same parameter values), or
    None for a type fluxds does not have (compound, smooth broken power law, ...) or parameters it refuses
    (a ``PowerLaw2SpectralModel`` with ``emin >= emax``): the caller then keeps the stored reference
    values as a template."""
    if isinstance(model, TemplateSpectralModel):
        interp = {k: v for k, v in getattr(model, "_interp_kwargs", _DEFAULT_TEMPLATE_INTERP).items()}
        if {k: interp.get(k) for k in _DEFAULT_TEMPLATE_INTERP} != _DEFAULT_TEMPLATE_INTERP:
            return None
        try:
            return fmodels.Template(_native(model.energy), _native(model.values))
        except ModelError:
            return None
    cls = _TO_FLUXDS.get(type(model).__name__)
    if cls is None:
        return None
    params = [
        {"name": p.name, "value": float(p.value), "unit": format_unit(p.unit)} for p in model.parameters
    ]
    try:
        return fmodels.model_from_dict({"type": cls.gammapy_type, "parameters": params})
    except ModelError:
        return None


def gammapy_model(model: fmodels.SpectralModel) -> SpectralModel:
    """The gammapy twin of a fluxds model (same parameter values and units)."""
    if isinstance(model, fmodels.Template):
        return TemplateSpectralModel(energy=model.energy, values=model.values)
    cls = _REGISTRY.get_cls(model.gammapy_type)
    return cls(**model.parameters)


def sky_model_json(sky_model: SkyModel) -> str | None:
    """gammapy's dict of a reference SkyModel as JSON text, or None where gammapy cannot write it
    (e.g. a big-endian template read from a FITS file)."""
    try:
        data = sky_model.to_dict()
        return json.dumps(data, default=_json_default)
    except (TypeError, ValueError, NotImplementedError, AttributeError):
        return None


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")


def sky_model_from_json(text: str) -> SkyModel:
    """Inverse of :func:`sky_model_json`."""
    return Models.from_dict({"components": [json.loads(text)]})[0]


def _lookup(x: np.ndarray, nodes: np.ndarray, rtol: float) -> np.ndarray:
    """Index of the node each ``x`` equals within ``rtol`` (-1 where none), vectorised."""
    order = np.argsort(nodes, kind="stable")
    s = nodes[order]
    if s.size == 1:
        cand = np.zeros(x.shape, dtype=np.intp)
    else:
        i = np.clip(np.searchsorted(s, x), 1, s.size - 1)
        cand = np.where(np.abs(s[i - 1] - x) <= np.abs(s[i] - x), i - 1, i)
    ok = np.isclose(s[cand], x, rtol=rtol, atol=0.0)
    return np.where(ok, order[cand], -1)


class StoredReferenceSpectralModel(SpectralModel):
    """A gammapy spectral model that gives the stored reference values of a fluxds Dataset.

    At the reference energies it returns the stored ``ref_dnde``; integrated over the stored energy
    bins, the stored ``ref_flux`` (``integral``) and ``ref_eflux`` (``energy_flux``): the GADF rule
    (nothing re-integrated). Anywhere else it is the underlying ``model`` (NaN without one).
    Energies match within a relative 1e-10. Serialised (``to_dict``) as the underlying model.

    Parameters
    ----------
    model : gammapy SpectralModel or None
        The reference model itself.
    energy_ref, energy_min, energy_max : astropy.units.Quantity
        The bins (``energy_min``/``energy_max`` may be None).
    ref_dnde, ref_flux, ref_eflux : astropy.units.Quantity or None
        The stored references, 1-D over energy.
    """

    tag = ["StoredReferenceSpectralModel", "stored-reference"]
    rtol = 1e-10

    def __init__(self, model, energy_ref, energy_min, energy_max, ref_dnde, ref_flux, ref_eflux):
        self.model = model
        self._e_ref = energy_ref
        self._edges = None if energy_min is None else (energy_min, energy_max.to(energy_min.unit))
        self._ref = {"dnde": ref_dnde, "flux": ref_flux, "eflux": ref_eflux}
        super().__init__()

    def _fallback(self, what: str, *args) -> u.Quantity:
        unit = self._ref[what].unit
        if self.model is None:
            return u.Quantity(np.full(np.broadcast(*args).shape, np.nan), unit)
        if what == "dnde":
            return self.model(*args).to(unit)
        method = self.model.integral if what == "flux" else self.model.energy_flux
        return method(*args).to(unit)

    def __call__(self, energy):
        energy = u.Quantity(energy)
        x = energy.to_value(self._e_ref.unit)
        idx = _lookup(np.asarray(x, dtype=float), self._e_ref.value, self.rtol)
        stored = self._ref["dnde"]
        out = np.asarray(stored.value)[np.clip(idx, 0, None)]
        if (idx < 0).any():
            out = np.where(idx >= 0, out, self._fallback("dnde", energy).to_value(stored.unit))
        return u.Quantity(out, stored.unit)

    def evaluate(self, energy):
        return self(energy)

    def _binned(self, what: str, energy_min, energy_max) -> u.Quantity:
        stored = self._ref[what]
        if stored is None:  # nothing stored: the model's own integral
            if self.model is None:
                raise ValueError(f"no stored ref_{what} and no reference model to integrate")
            return (self.model.integral if what == "flux" else self.model.energy_flux)(energy_min, energy_max)
        if self._edges is None:
            return self._fallback(what, energy_min, energy_max)
        lo, hi = self._edges
        a = np.asarray(u.Quantity(energy_min).to_value(lo.unit), dtype=float)
        b = np.asarray(u.Quantity(energy_max).to_value(lo.unit), dtype=float)
        shape = np.broadcast(a, b).shape
        a, b = (np.array(np.broadcast_to(x, shape), ndmin=1) for x in (a, b))
        idx = _lookup(a, lo.value, self.rtol)
        ok = idx >= 0
        ok[ok] = np.isclose(hi.value[idx[ok]], b[ok], rtol=self.rtol, atol=0.0)
        out = np.asarray(stored.value)[np.clip(idx, 0, None)]
        if not ok.all():
            fallback = self._fallback(what, u.Quantity(a, lo.unit), u.Quantity(b, lo.unit))
            out = np.where(ok, out, fallback.to_value(stored.unit))
        return u.Quantity(out.reshape(shape), stored.unit)

    def integral(self, energy_min, energy_max, **kwargs):
        return self._binned("flux", energy_min, energy_max)

    def energy_flux(self, energy_min, energy_max, **kwargs):
        return self._binned("eflux", energy_min, energy_max)

    def to_dict(self, full_output=False):
        if self.model is None:
            raise ValueError("this stored reference has no underlying model to write")
        return self.model.to_dict(full_output)
