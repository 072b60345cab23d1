"""Which layout a FITS or ECSV file holds (GADF SED table, light curve, flux map, HEALPix map, TS cube,
profile), from its HDU names and column names only: nothing is read eagerly."""

from __future__ import annotations

from astropy.io import fits

__all__ = ["fits_layout", "table_layout", "QUANTITY_HDU_NAMES"]

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


def table_layout(column_names) -> str:
    """The layout of one table from its column names: ``binned-time-series``, ``lightcurve``,
    ``profile`` or ``gadf-sed``."""
    names = {str(n).lower() for n in column_names}
    if "time_bin_start" in names:
        return "binned-time-series"
    if names & {"time_min", "time_max", "time"}:
        return "lightcurve"
    if names & {"x_min", "x_max", "x_ref"}:
        return "profile"
    return "gadf-sed"


def fits_layout(hdul: fits.HDUList) -> str:
    """The layout of an open FITS file: ``tscube``, ``healpix-map``, ``flux-map``, ``lightcurve``,
    ``profile`` or ``gadf-sed`` (the default, whose reader says clearly what is missing)."""
    names = {hdu.name.upper() for hdu in hdul}
    if "SCANDATA" in names:
        return "tscube"
    quantity_hdus = [hdu for hdu in hdul if hdu.name.upper() in QUANTITY_HDU_NAMES]
    if any(isinstance(h, fits.BinTableHDU) and "PIX" in h.columns.names for h in quantity_hdus) or any(
        "NSIDE" in h.header for h in quantity_hdus
    ):
        return "healpix-map"
    if any(h.is_image for h in quantity_hdus) or (
        hdul[0].header.get("NAXIS", 0) >= 2 and names & {"BANDS", "EBOUNDS"}
    ):
        return "flux-map"
    for hdu in hdul:
        if isinstance(hdu, fits.BinTableHDU) and hdu.name.upper() != "GTI":
            layout = table_layout(hdu.columns.names)
            if layout != "gadf-sed":
                return layout
    return "gadf-sed"
