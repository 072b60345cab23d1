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

import importlib
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fluxds.accessor import SedAccessor
from fluxds.errors import (
    BatchError,
    BudgetError,
    EnergyMismatchError,
    FitError,
    FluxdsError,
    FormatError,
    MissingEnergyEdgesError,
    MissingQuantityError,
    ModelError,
    OverwriteError,
    PhysicsWarning,
    SchedulerError,
    SchemaError,
    TimeValueError,
    UnitError,
    UnknownFormatError,
    WriteError,
)
from fluxds.validate import validate  # eagerly: the function shadows its module's name

# The rest of the public API is imported on first use (PEP 562), so that ``import fluxds`` costs
# little more than ``import xarray`` (astropy.units alone takes ~0.3 s to import).
_LAZY = {
    "models": "fluxds.models",
    "energy": "fluxds.energy",
    "from_likelihood": "fluxds.construct",
    "from_sed": "fluxds.construct",
    "get_quantity": "fluxds.convert",
    "to_sed_type": "fluxds.convert",
    "from_gammapy": "fluxds.interop",
    "to_gammapy": "fluxds.interop",
    "open_dataset": "fluxds.io",
    "read": "fluxds.io",
    "write": "fluxds.io",
    "open_mfdataset": "fluxds.io.cf.multi",
    "BatchResult": "fluxds.parallel",
    "batch": "fluxds.parallel",
    "concat_files": "fluxds.concat",
    "concat_sources": "fluxds.concat",
    "stack_members": "fluxds.collection",
    "collection_from_grid": "fluxds.collection",
    "select": "fluxds.collection",
}

if TYPE_CHECKING:  # for type checkers and IDEs: the names as if imported eagerly
    from fluxds import models
    from fluxds.collection import collection_from_grid, select, stack_members
    from fluxds.concat import concat_files, concat_sources
    from fluxds.construct import from_likelihood, from_sed
    from fluxds.convert import get_quantity, to_sed_type
    from fluxds.interop import from_gammapy, to_gammapy
    from fluxds.io import open_dataset, read, write
    from fluxds.io.cf.multi import open_mfdataset
    from fluxds.parallel import BatchResult, batch


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'fluxds' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name in ("models", "energy") else getattr(module, name)  # submodules
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "SedAccessor",
    "stack_members",
    "collection_from_grid",
    "select",
    "batch",
    "BatchResult",
    "concat_files",
    "concat_sources",
    "FluxdsError",
    "FormatError",
    "MissingEnergyEdgesError",
    "MissingQuantityError",
    "ModelError",
    "OverwriteError",
    "WriteError",
    "BudgetError",
    "TimeValueError",
    "BatchError",
    "SchedulerError",
    "PhysicsWarning",
    "EnergyMismatchError",
    "FitError",
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
