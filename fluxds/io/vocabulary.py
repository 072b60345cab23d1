"""The names files use, in one place for every family, derived from the data model (:mod:`fluxds.schema`)
wherever the data model knows them: the HDU names of map quantities, the column aliases (energy columns
included), the SED stems, the keywords that are structure rather than attributes, and the names of
Dataset variables that only some formats hold.

Every reader and writer takes these names from here; a family adds to them only what its own layout
defines (a light curve's time keywords), and says so where it does. ``docs/formats.md`` ("File
vocabularies") lists where each name comes from. Cheap to import (no astropy): the families' detection
uses it.
"""

from __future__ import annotations

from fluxds import schema

__all__ = [
    "META_ATTRS",
    "SED_STEMS",
    "GAMMAPY_MAP_QUANTITIES",
    "QUANTITY_HDU_NAMES",
    "ENERGY_COLUMN_ALIASES",
    "COLUMN_ALIASES",
    "BANDS_AXIS_COLUMNS",
    "STRUCTURAL_META",
    "ERROR_SUFFIXES",
    "REFERENCE_VARIABLES",
    "TS_IMAGE",
    "canonical_column",
    "energy_columns",
    "is_quantity_hdu",
    "quantity_hdus",
]

#: the header keyword (and ECSV meta key) holding, as JSON, the Dataset attributes fluxds wrote
META_ATTRS = "FDSATTRS"


def _sed_stems() -> tuple[str, ...]:
    """The SED types other than ``norm``, in :data:`schema.SED_TYPES` order, a stem that ends in another
    stem first (``e2dnde`` before ``dnde``, ``eflux`` before ``flux``): the order names are matched in."""
    stems = [t for t in schema.SED_TYPES if t != "norm"]
    ordered: list[str] = []
    for stem in stems:
        ordered += [s for s in stems if s != stem and s.endswith(stem) and s not in ordered]
        if stem not in ordered:
            ordered.append(stem)
    return tuple(ordered)


#: the stems of measured quantities other than the norm: ``("e2dnde", "dnde", "eflux", "flux")``
SED_STEMS: tuple[str, ...] = _sed_stems()

#: what gammapy 2.1's ``FluxMaps.write`` writes beyond the data model's quantities (its
#: ``all_quantities``: the SED-type maps, ``OPTIONAL_QUANTITIES_COMMON`` and the likelihood scan): the
#: per-pixel scan grid ``dnde_scan_values`` (read into ``norm_scan``). Its ``VALID_QUANTITIES`` also name
#: ``alpha``, ``acceptance_on``, ``acceptance_off``, which ``FluxMaps.write`` never writes.
GAMMAPY_MAP_QUANTITIES: tuple[str, ...] = ("dnde_scan_values",)

#: HDU names (upper case) of flux-map quantities: every quantity of the data model
#: (:data:`fluxds.schema.QUANTITY_NAMES`) and :data:`GAMMAPY_MAP_QUANTITIES`
QUANTITY_HDU_NAMES: frozenset[str] = frozenset(
    name.upper() for name in (*schema.QUANTITY_NAMES, *GAMMAPY_MAP_QUANTITIES)
)

#: every name of an energy column, lower case -> the GADF column it is (``e_ref``, ``e_min``, ``e_max``,
#: the keys of :data:`fluxds.schema.ENERGY_COLUMNS`). Where a table has several names of one column, the
#: first in this order is read: ``energy`` (gammapy's and GADF's BANDS tables), ``e_ref`` (GADF SED tables,
#: TS-cube EBOUNDS), ``e_ctr`` (older GADF / fermipy).
ENERGY_COLUMN_ALIASES: dict[str, str] = {
    "energy": "e_ref",
    "e_ref": "e_ref",
    "e_ctr": "e_ref",
    "e_min": "e_min",
    "e_max": "e_max",
}

#: every other spelling of a column found in real files (lower case) -> the fluxds (GADF) name: the data
#: model's :data:`fluxds.schema.COLUMN_ALIASES` (``ref_dfde`` ...) and the energy aliases
COLUMN_ALIASES: dict[str, str] = {
    **schema.COLUMN_ALIASES,
    **{k: v for k, v in ENERGY_COLUMN_ALIASES.items() if k != v},
}

#: columns of a BANDS/EBOUNDS table that describe its axes (upper case): never a per-energy variable
BANDS_AXIS_COLUMNS: frozenset[str] = frozenset(
    {"CHANNEL", "NSIDE", *(name.upper() for name in ENERGY_COLUMN_ALIASES)}
)

#: table keywords (upper case) that are structure, read into coordinates and attributes of their own or
#: rewritten by every writer, never kept as plain attributes: the SED type, the upper-limit confidence,
#: fluxds's JSON, the HDU name and version, the GTI (JSON in ECSV), a scalar source name, and the marks of
#: derived energy columns. A family adds the keywords its own layout reads (a light curve's time
#: reference: :data:`fluxds.io.lightcurve.keys.STRUCTURAL_META`).
STRUCTURAL_META: frozenset[str] = frozenset(
    {"SED_TYPE", "UL_CONF", META_ATTRS, "EXTNAME", "EXTVER", "GTI", "SOURCE", "E_EDGES", "E_REF"}
)

#: the suffixes of uncertainties (``_err``, ``_errp``, ``_errn``, ``_errsys`` ...): magnitudes, never negative
ERROR_SUFFIXES: tuple[str, ...] = tuple(s for s in schema.MEASUREMENT_SUFFIXES if s.startswith("_err"))

#: the reference model's values in each bin (``ref_dnde``, ``ref_flux`` ... ``ref_npred``): never negative
REFERENCE_VARIABLES: tuple[str, ...] = tuple(n for n in schema.VARIABLES if n.startswith("ref_"))

# the TS image of a TS cube's PRIMARY HDU, over the sky pixels alone
TS_IMAGE = "ts_image"


def canonical_column(name: str) -> str:
    """A column's fluxds (GADF) name: lower case, other spellings mapped (:data:`COLUMN_ALIASES`)."""
    lowered = str(name).lower()
    return COLUMN_ALIASES.get(lowered, lowered)


def energy_columns(names) -> dict[str, str]:
    """The energy columns among a table's column names.

    Parameters
    ----------
    names : iterable of str
        The column names as the file gives them (any case).

    Returns
    -------
    dict
        ``e_ref``/``e_min``/``e_max`` -> the file's column name, for those present; of several names of
        one column, the first in :data:`ENERGY_COLUMN_ALIASES` order.

    Examples
    --------
    >>> energy_columns(["CHANNEL", "E_MIN", "E_MAX", "E_CTR", "ENERGY"])
    {'e_ref': 'ENERGY', 'e_min': 'E_MIN', 'e_max': 'E_MAX'}
    """
    given = {str(n).lower(): str(n) for n in reversed(list(names))}  # the first of equal names wins
    found: dict[str, str] = {}
    for alias, column in ENERGY_COLUMN_ALIASES.items():
        if alias in given and column not in found:
            found[column] = given[alias]
    return {k: found[k] for k in ("e_ref", "e_min", "e_max") if k in found}


def is_quantity_hdu(name: str) -> bool:
    """Whether an HDU's name is a flux-map quantity (:data:`QUANTITY_HDU_NAMES`, any case)."""
    return str(name).upper() in QUANTITY_HDU_NAMES


def quantity_hdus(hdul) -> list:
    """The HDUs of an open FITS file named after a flux-map quantity (``NORM``, ``DNDE_UL``, ``TS`` ...)."""
    return [hdu for hdu in hdul if is_quantity_hdu(hdu.name)]
