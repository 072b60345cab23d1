"""The names files use, in one place for every family: the HDU names of map quantities, the names of
Dataset variables that only some formats hold."""

from __future__ import annotations

__all__ = ["QUANTITY_HDU_NAMES", "TS_IMAGE", "quantity_hdus"]

# Image/table HDU names a gammapy flux-map file uses for its quantities (upper case).
QUANTITY_HDU_NAMES = {
    "NORM",
    "NORM_ERR",
    "NORM_ERRP",
    "NORM_ERRN",
    "NORM_UL",
    "NORM_SENSITIVITY",
    "DNDE",
    "DNDE_ERR",
    "DNDE_ERRP",
    "DNDE_ERRN",
    "DNDE_UL",
    "E2DNDE",
    "E2DNDE_ERR",
    "E2DNDE_ERRP",
    "E2DNDE_ERRN",
    "E2DNDE_UL",
    "FLUX",
    "FLUX_ERR",
    "FLUX_ERRP",
    "FLUX_ERRN",
    "FLUX_UL",
    "EFLUX",
    "EFLUX_ERR",
    "EFLUX_ERRP",
    "EFLUX_ERRN",
    "EFLUX_UL",
    "TS",
    "SQRT_TS",
    "NPRED",
    "NPRED_EXCESS",
    "COUNTS",
    "STAT",
    "STAT_NULL",
    "STAT_SCAN",
}

# the TS image of a TS cube's PRIMARY HDU, over the sky pixels alone
TS_IMAGE = "ts_image"


def quantity_hdus(hdul) -> list:
    """The HDUs of an open FITS file named after a flux-map quantity (``NORM``, ``DNDE_UL``, ``TS`` ...)."""
    return [hdu for hdu in hdul if hdu.name.upper() in QUANTITY_HDU_NAMES]
