"""The celestial WCS cards of a FITS header, kept verbatim as text (see :mod:`fluxds.wcs`)."""

from __future__ import annotations

import re

from astropy.io import fits
from astropy.wcs import WCS

from fluxds.errors import FormatError

__all__ = ["celestial_header", "header_text", "header_from_text", "precise_header"]

_AXIS_KEY = re.compile(r"^(CRPIX|CRVAL|CDELT|CTYPE|CUNIT|CROTA|CNAME|CRDER|CSYER)(\d)([A-Z]?)$")
_MATRIX_KEY = re.compile(r"^(PC|CD)(\d)_(\d)([A-Z]?)$")
_PARAM_KEY = re.compile(r"^(PV|PS)(\d)_(\d+)([A-Z]?)$")
_GLOBAL_KEY = re.compile(
    r"^(WCSAXES|LONPOLE|LATPOLE|RADESYS|RADECSYS|EQUINOX|WCSNAME|RESTFRQ|RESTWAV|SPECSYS)[A-Z]?$"
    r"|^(EPOCH|MJDREF|MJDREFI|MJDREFF|JDREF|JDREFI|JDREFF|DATEREF|DATE-OBS|MJD-OBS|DATE-BEG|MJD-BEG"
    r"|DATE-END|MJD-END|DATE-AVG|MJD-AVG|TIMESYS|TIMEUNIT|TREFPOS|TREFDIR|PLEPHEM|OBSGEO-[XYZLBH])$"
)


def _keep(key: str) -> bool:
    for pattern, axes in ((_AXIS_KEY, (2,)), (_MATRIX_KEY, (2, 3)), (_PARAM_KEY, (2,))):
        match = pattern.match(key)
        if match:
            return all(match.group(i) in "12" for i in axes)
    return bool(_GLOBAL_KEY.match(key))


def celestial_header(header: fits.Header, *, where: str = "") -> fits.Header:
    """The cards of ``header`` that define its celestial WCS (axes 1 and 2), unchanged.

    Parameters
    ----------
    header : astropy.io.fits.Header
        An image header (a 2-D sky image, or a cube whose first two axes are the sky).
    where : str
        The file and HDU, for messages.

    Returns
    -------
    astropy.io.fits.Header
        The WCS cards (``CRPIXi``, ``CRVALi``, ``CDELTi``, ``CTYPEi``, ``PCi_j``, ``PVi_m``, ``LONPOLE``,
        ``RADESYS``, time keywords ...), with alternate descriptions; ``WCSAXES`` is set to 2 when the
        file had more axes.

    Raises
    ------
    FormatError
        If axes 1 and 2 are not a celestial longitude/latitude pair.
    """
    types = (str(header.get("CTYPE1", "")), str(header.get("CTYPE2", "")))
    lon_ok = types[0][:4] in ("RA--", "GLON", "ELON", "SLON", "HLON") or types[0][:2] == "RA"
    lat_ok = types[1][:4] in ("DEC-", "GLAT", "ELAT", "SLAT", "HLAT")
    if not (lon_ok and lat_ok):
        raise FormatError(
            f"{where}: CTYPE1/CTYPE2 are {types[0]!r}/{types[1]!r}; a sky map needs a celestial "
            "longitude on axis 1 and latitude on axis 2 (e.g. 'GLON-CAR'/'GLAT-CAR', 'RA---TAN'/'DEC--TAN')"
        )
    out = fits.Header()
    for card in header.cards:
        if _keep(card.keyword):
            if card.keyword == "WCSAXES" and card.value != 2:
                out.append(("WCSAXES", 2, "Number of coordinate axes"))
            else:
                out.append(card)
    return out


def header_text(header: fits.Header) -> str:
    """Header cards as text: one card image per line, trailing blanks dropped (exact for FITS)."""
    return "\n".join(card.image.rstrip() for card in header.cards)


def header_from_text(text: str) -> fits.Header:
    """Inverse of :func:`header_text`."""
    return fits.Header.fromstring(text, sep="\n")


def precise_header(wcs: WCS) -> fits.Header:
    """``wcs.to_header()`` with the numbers at full double precision (wcslib prints 12 digits)."""
    header = wcs.to_header(relax=True)
    w = wcs.wcs
    for i in range(2):
        header[f"CRPIX{i + 1}"] = float(w.crpix[i])
        header[f"CRVAL{i + 1}"] = float(w.crval[i])
        if f"CDELT{i + 1}" in header:
            header[f"CDELT{i + 1}"] = float(w.cdelt[i])
        for j in range(2):
            for key, matrix in (("PC", "pc"), ("CD", "cd")):
                name = f"{key}{i + 1}_{j + 1}"
                if name in header:
                    header[name] = float(getattr(w, matrix)[i, j])
    for key in ("LONPOLE", "LATPOLE"):
        if key in header:
            header[key] = float(getattr(w, key.lower()))
    return header
