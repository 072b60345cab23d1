"""WCS flux maps (gammapy's ``FluxMaps`` files: one image HDU per quantity, ``BANDS``/``EBOUNDS``, a
reference-model YAML beside them) <-> Datasets with ``lat``/``lon`` dimensions; :mod:`.read`,
:mod:`.write`, :mod:`.build`."""

from __future__ import annotations

from fluxds.io.format import Format
from fluxds.io.vocabulary import quantity_hdus

__all__ = ["FORMATS"]


def _is_sky_image_only(hdul) -> bool:
    """A file of images only (no table at all) with a celestial WCS: a sky map, read (or refused for
    lacking an energy axis, naming the file) as a flux map rather than taken for an SED table."""
    if any(not h.is_image for h in hdul):
        return False
    for h in hdul:
        types = [str(h.header.get(f"CTYPE{i}", "")).upper() for i in (1, 2)]
        if h.header.get("NAXIS", 0) >= 2 and any(t[:4] in ("RA--", "GLON", "ELON") for t in types):
            return True
    return False


def _is_wcs_map_file(hdul) -> bool:
    names = {hdu.name.upper() for hdu in hdul}
    return (
        any(h.is_image for h in quantity_hdus(hdul))
        or (hdul[0].header.get("NAXIS", 0) >= 2 and bool(names & {"BANDS", "EBOUNDS"}))
        or _is_sky_image_only(hdul)
    )


FORMATS = (
    Format(
        name="flux-map",
        summary="a WCS flux map (image HDUs per quantity, dims lat/lon)",
        containers=("fits",),
        reader="wcs_map.read:read",
        writer="wcs_map.write:write",
        detect_fits=_is_wcs_map_file,
        holds=lambda ds: "lat" in ds.dims,
        lazy=True,
        fits_only=True,
    ),
)
