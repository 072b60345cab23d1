"""HEALPix flux maps (gammapy's ``HpxNDMap`` files: one HDU per quantity, explicit or implicit pixels,
``BANDS``) <-> Datasets with a ``pixel`` dimension; :mod:`.read`, :mod:`.write`, :mod:`.hdu`."""

from __future__ import annotations

from fluxds.io.format import Format
from fluxds.io.vocabulary import quantity_hdus

__all__ = ["FORMATS"]


def _is_healpix_file(hdul) -> bool:
    from astropy.io import fits

    found = quantity_hdus(hdul)
    return (
        any(isinstance(h, fits.BinTableHDU) and "PIX" in h.columns.names for h in found)
        or any("NSIDE" in h.header for h in found)
        # any HEALPix table (a Planck or galprop map, whatever its HDU name): read, or refused by name
        or any(
            isinstance(h, fits.BinTableHDU) and str(h.header.get("PIXTYPE", "")).strip().upper() == "HEALPIX"
            for h in hdul
        )
    )


FORMATS = (
    Format(
        name="healpix-map",
        summary="a HEALPix flux map (dim pixel)",
        containers=("fits",),
        reader="healpix_map.read:read",
        writer="healpix_map.write:write",
        detect_fits=_is_healpix_file,
        holds=lambda ds: "pixel" in ds.dims,
        lazy=True,
        fits_only=True,
    ),
)
