"""Catalogs that hold spectral models only, no flux points: refused, naming what the file is.

Recognised by their columns (as gammapy's ``catalog/hawc.py`` and ``catalog/lhaaso.py`` read them):

- 2HWC and 3HWC (HAWC): ``source_name`` with ``spec0_dnde``, ``spec0_index``, ``spec0_radius`` (3HWC
  adds asymmetric errors ``spec0_dnde_errp``/``_errn`` and ``search_radius``); a power law per source
  (and a second, extended fit ``spec1_*`` in 2HWC);
- 1LHAASO: ``Source_Name``, ``Model_a``/``Model_b`` (the components WCDA, KM2A), ``N0``, ``E0``,
  ``gamma`` (a power law per component), ``r39``, ``TS100``.
"""

from __future__ import annotations

import os

import numpy as np

from fluxds.errors import FormatError

__all__ = ["read", "catalog_kind"]

_WHAT = {
    "2HWC": "the 2HWC catalog (HAWC, 2017: a power law per source at 7 TeV, point-like and extended fits)",
    "3HWC": "the 3HWC catalog (HAWC, 2020: a power law per source at 7 TeV)",
    "1LHAASO": "the 1LHAASO catalog (LHAASO, 2023: a power law per WCDA and KM2A component)",
    "HAWC": "a HAWC catalog (a power-law model per source)",
}


def catalog_kind(names: set[str], first_name: str) -> str:
    """``2HWC``, ``3HWC``, ``1LHAASO`` or ``HAWC`` from the (lower-case) columns and the first source name."""
    first = first_name.strip().upper()
    if "model_a" in names or first.startswith("1LHAASO"):
        return "1LHAASO"
    if first.startswith("2HWC"):
        return "2HWC"
    if first.startswith("3HWC"):
        return "3HWC"
    if "spec0_dnde_errp" in names or "search_radius" in names:
        return "3HWC"
    return "2HWC" if "spec0_dnde_err" in names else "HAWC"


def _first_name(path: str) -> tuple[set[str], str, int]:
    if path.lower().endswith(".ecsv"):
        from fluxds.io.guard.ecsv_safe import read_ecsv_table

        table = read_ecsv_table(path)
        names = {n.lower(): n for n in table.colnames}
        column = names.get("source_name")
        first = str(table[column][0]) if column and len(table) else ""
        return set(names), first, len(table)
    from astropy.io import fits

    from fluxds.io.fits_tables import open_fits

    with open_fits(path) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.BinTableHDU):
                names = {n.lower(): n for n in hdu.columns.names}
                if "source_name" in names:
                    rows = int(hdu.header.get("NAXIS2", 0))
                    first = ""
                    if rows:
                        value = np.asarray(hdu.data[names["source_name"]][:1])
                        first = value[0].decode() if isinstance(value[0], bytes) else str(value[0])
                    return set(names), first, rows
    return set(), "", 0


def read(path: str | os.PathLike, **_options) -> None:
    """Refuse a model-only catalog with a :class:`~fluxds.errors.FormatError` saying what it is.

    Raises
    ------
    FormatError
        Always: ``"<file>: the 3HWC catalog (...) holds spectral models only, no flux points; ..."``.
    """
    where = str(path)
    names, first, rows = _first_name(where)
    kind = catalog_kind(names, first)
    gammapy_class = {"1LHAASO": "SourceCatalog1LHAASO", "2HWC": "SourceCatalog2HWC"}.get(
        kind, "SourceCatalog3HWC"
    )
    raise FormatError(
        f"{where}: {_WHAT[kind]}, {rows} sources: it holds spectral models only, no flux points, and fluxds "
        f"reads flux points. For the models use gammapy.catalog.{gammapy_class}; to compare a source with "
        "flux points, evaluate its model on your energy bins"
    )
