"""The one registry of formats: every family package, in the order its detection is asked.

Adding a format family is one package under ``fluxds/io/`` declaring ``FORMATS`` (see
:class:`fluxds.io.format.Format`) and one line in :data:`FAMILIES`. Detection asks the families in this
order (the first claim wins), so a family whose files could also pass for another's comes first.
"""

from __future__ import annotations

import importlib
from functools import cache

from fluxds.io.format import Format

__all__ = ["FAMILIES", "formats", "get_format", "format_names"]

# packages under fluxds.io, most specific detection first
FAMILIES = (
    "tscube",  # a SCANDATA HDU
    "healpix_map",  # quantity HDUs with PIX columns or NSIDE
    "wcs_map",  # quantity images, or an image with BANDS/EBOUNDS
    "tev_catalog",  # gamma-cat / HGPS catalogs (per-source SED vectors); HAWC, LHAASO model-only catalogs
    "published",  # gamma-cat per-paper ECSVs (meta), SED compilations (energy + paper), PULSAR_SED files
    "lightcurve",  # time columns
    "flux_profile",  # x_min/x_max/x_ref columns
    "fermi_catalog",  # an HDU LAT_Point_Source_Catalog, or Source_Name with Fermi band columns
    "sed_table",  # GADF SED tables: the default for FITS, ECSV, HDF5
    "cf",  # netCDF and zarr
)


@cache
def formats() -> tuple[Format, ...]:
    """Every format of every family, in detection order."""
    found: list[Format] = []
    for family in FAMILIES:
        found.extend(importlib.import_module(f"fluxds.io.{family}").FORMATS)
    return tuple(found)


def format_names() -> tuple[str, ...]:
    """The ``format=`` names, in detection order."""
    return tuple(f.name for f in formats())


def get_format(name: str) -> Format | None:
    """The :class:`Format` called ``name``, or None."""
    return next((f for f in formats() if f.name == name), None)
