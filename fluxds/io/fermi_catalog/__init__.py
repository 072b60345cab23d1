"""Fermi-LAT source catalogs as the FSSC publishes them (2FGL, 3FGL, 4FGL DR1-DR4, 2FHL, 3FHL): the band
SEDs of every source along ``source`` (``product="sed"``) or their flux histories along
``(source, time)`` (``product="lightcurve"``); :mod:`.layout` (which columns a catalog has), :mod:`.read`.
Read only: fluxds does not write catalogs."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS", "CATALOG_HDUS"]

#: EXTNAMEs (upper case) of the source table of the FSSC catalog files
CATALOG_HDUS = ("LAT_POINT_SOURCE_CATALOG", "2FHL SOURCE CATALOG")


def _detect_fits(hdul) -> bool:
    return any(h.name.upper() in CATALOG_HDUS for h in hdul)


def _detect_columns(names: set[str]) -> bool:
    return "source_name" in names and bool(
        names & {"flux_band", "flux100_300", "flux50_171gev", "flux_history"}
    )


FORMATS = (
    Format(
        name="fermi-catalog",
        summary="a Fermi-LAT source catalog (2FGL, 3FGL, 4FGL, 2FHL, 3FHL: band SEDs and flux histories)",
        containers=("fits",),
        reader="fermi_catalog.read:read",
        writer=None,
        detect_fits=_detect_fits,
        detect_columns=_detect_columns,
    ),
)
