"""Models to and from plain dicts / JSON (fluxds and gammapy shapes); the default model."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import astropy.units as u

from fluxds.errors import ModelError
from fluxds.models._base import SpectralModel
from fluxds.models.curved import ExpCutoffPowerLaw, LogParabola
from fluxds.models.cutoff import (
    ExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw4FGL,
    SuperExpCutoffPowerLaw4FGLDR3,
)
from fluxds.models.powerlaw import BrokenPowerLaw, PowerLaw
from fluxds.models.powerlaw2 import PowerLaw2
from fluxds.models.template import Template

__all__ = ["model_from_dict", "model_from_json", "model_to_json", "default_reference_model"]

_MODEL_CLASSES: tuple[type[SpectralModel], ...] = (
    PowerLaw,
    ExpCutoffPowerLaw,
    LogParabola,
    BrokenPowerLaw,
    Template,
    ExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw4FGL,
    SuperExpCutoffPowerLaw4FGLDR3,
    PowerLaw2,
)
_BY_NAME: dict[str, type[SpectralModel]] = {}
for _cls in _MODEL_CLASSES:
    _BY_NAME[_cls.type] = _cls
    _BY_NAME[_cls.gammapy_type] = _cls


def model_from_dict(data: Mapping[str, Any]) -> SpectralModel:
    """Build a spectral model from a plain dict.

    Accepted shapes: fluxds' own (:meth:`SpectralModel.to_dict`, ``parameters`` a dict of
    ``{"value", "unit"}`` dicts), and gammapy's (type names such as ``PowerLawSpectralModel``,
    ``parameters`` a list of ``{"name", "value", "unit"}`` dicts as in gammapy model YAML files, a
    missing ``unit`` meaning dimensionless; a ``{"spectral": {...}}`` wrapper; template columns
    under ``data``). Extra keys of the parameter entries (``frozen``, ``error``, ``min``...) are
    ignored.

    Parameters
    ----------
    data : Mapping
        The dict.

    Returns
    -------
    SpectralModel

    Raises
    ------
    ModelError
        Unknown type, missing or unknown parameter, unreadable unit or wrong physical dimension (the
        message names the type/parameter, the value found and what is expected).

    Examples
    --------
    >>> model = model_from_dict({"type": "PowerLawSpectralModel", "parameters": [
    ...     {"name": "index", "value": 2.0},
    ...     {"name": "amplitude", "value": 1e-12, "unit": "TeV-1 s-1 cm-2"},
    ...     {"name": "reference", "value": 1.0, "unit": "TeV"}]})
    >>> model
    PowerLaw(index=2.0, amplitude=1e-12 cm-2 s-1 TeV-1, reference=1.0 TeV)
    """
    if not isinstance(data, Mapping):
        raise ModelError(f"a spectral model must be a dict, got {type(data).__name__}")
    if "type" not in data and isinstance(data.get("spectral"), Mapping):
        data = data["spectral"]
    name = data.get("type")
    known = ", ".join(cls.type for cls in _MODEL_CLASSES)
    if name is None:
        raise ModelError(f"spectral model dict has no 'type'; expected one of {known}")
    cls = _BY_NAME.get(name) if isinstance(name, str) else None
    if cls is None:
        gammapy = ", ".join(cls.gammapy_type for cls in _MODEL_CLASSES)
        raise ModelError(
            f"unknown spectral model type {name!r}; expected one of {known} (or gammapy's {gammapy})"
        )
    return cls._from_dict_data(data)


def model_to_json(model: SpectralModel) -> str:
    """The model as a JSON string (:meth:`SpectralModel.to_dict`); floats round-trip bit-exactly.

    Parameters
    ----------
    model : SpectralModel

    Returns
    -------
    str
    """
    if not isinstance(model, SpectralModel):
        raise ModelError(f"expected a SpectralModel, got {type(model).__name__}")
    return json.dumps(model.to_dict())


def model_from_json(text: str) -> SpectralModel:
    """Read a model from a JSON string (parsed with :func:`json.loads` only).

    Parameters
    ----------
    text : str
        JSON text of a dict accepted by :func:`model_from_dict`.

    Returns
    -------
    SpectralModel

    Raises
    ------
    ModelError
        Invalid JSON, or a dict :func:`model_from_dict` rejects.
    """
    try:
        data = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"spectral model JSON cannot be read: {exc}") from None
    return model_from_dict(data)


def default_reference_model() -> PowerLaw:
    """gammapy's reference model for SEDs given without one.

    Returns
    -------
    PowerLaw
        ``index=2``, ``amplitude=1e-12 cm-2 s-1 TeV-1``, ``reference=1 TeV``.

    Examples
    --------
    >>> default_reference_model().dnde(1 * u.TeV)
    <Quantity 1.e-12 1 / (TeV s cm2)>
    """
    return PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1.0 * u.TeV)
