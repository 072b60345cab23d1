"""fluxds: gamma-ray flux estimates as xarray Datasets, with a physics-aware ``.sed`` accessor.

Importing fluxds registers the ``.sed`` accessor on :class:`xarray.Dataset`.

Examples
--------
>>> import fluxds
>>> ds = fluxds.read(fluxds.demo_path())
>>> sorted(ds.sed.to_sed_type("flux").data_vars)[:3]
['counts', 'flux', 'flux_err']
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fluxds import models
from fluxds.accessor import SedAccessor
from fluxds.construct import from_likelihood, from_sed
from fluxds.convert import get_quantity, to_sed_type
from fluxds.errors import (
    FluxdsError,
    FormatError,
    MissingEnergyEdgesError,
    MissingQuantityError,
    ModelError,
    OverwriteError,
    SchemaError,
    UnitError,
    UnknownFormatError,
)
from fluxds.interop import from_gammapy, to_gammapy
from fluxds.io import open_dataset, read, write
from fluxds.io.multi import open_mfdataset
from fluxds.parallel import BatchResult, batch
from fluxds.validate import validate

__version__ = "0.1.0"

__all__ = [
    "SedAccessor",
    "batch",
    "BatchResult",
    "FluxdsError",
    "FormatError",
    "MissingEnergyEdgesError",
    "MissingQuantityError",
    "ModelError",
    "OverwriteError",
    "SchemaError",
    "UnitError",
    "UnknownFormatError",
    "demo_path",
    "from_gammapy",
    "to_gammapy",
    "from_likelihood",
    "from_sed",
    "get_quantity",
    "models",
    "open_dataset",
    "open_mfdataset",
    "read",
    "to_sed_type",
    "validate",
    "write",
]


def demo_path() -> Path:
    """Path of the SED shipped with fluxds: the H.E.S.S. Crab likelihood SED from gammapy-data
    (CC BY-NC-SA 4.0, licence beside it)."""
    return Path(str(resources.files("fluxds") / "data" / "crab_hess_fp.fits"))
