"""Reference spectral models of fluxds: analytic power laws, curved spectra and tabulated templates.

Every model evaluates ``dnde(energy)`` and integrates it exactly over energy bins (``flux`` in
cm-2 s-1, ``eflux`` in erg cm-2 s-1): closed forms where they exist, vectorised adaptive quadrature
in ``ln E`` (1e-10 relative) otherwise. Models serialise to plain dicts / JSON and read gammapy's
model dicts (YAML) too.
"""

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
from fluxds.models.serialize import (
    default_reference_model,
    model_from_dict,
    model_from_json,
    model_to_json,
)
from fluxds.models.template import Template

__all__ = [
    "SpectralModel",
    "PowerLaw",
    "ExpCutoffPowerLaw",
    "LogParabola",
    "BrokenPowerLaw",
    "ExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw3FGL",
    "SuperExpCutoffPowerLaw4FGL",
    "SuperExpCutoffPowerLaw4FGLDR3",
    "PowerLaw2",
    "Template",
    "model_from_dict",
    "model_from_json",
    "model_to_json",
    "default_reference_model",
]
