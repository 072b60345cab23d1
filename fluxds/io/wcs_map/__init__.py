"""WCS flux maps (gammapy's ``FluxMaps`` files: one image HDU per quantity, ``BANDS``/``EBOUNDS``, a
reference-model YAML beside them) <-> Datasets with ``lat``/``lon`` dimensions; :mod:`.read`,
:mod:`.write`, :mod:`.build`."""

from __future__ import annotations

from fluxds.io.format import Format
from fluxds.io.vocabulary import quantity_hdus

__all__ = ["FORMATS"]


def _is_wcs_map_file(hdul) -> bool:
    names = {hdu.name.upper() for hdu in hdul}
    return any(h.is_image for h in quantity_hdus(hdul)) or (
        hdul[0].header.get("NAXIS", 0) >= 2 and bool(names & {"BANDS", "EBOUNDS"})
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
