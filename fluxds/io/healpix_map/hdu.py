"""One HEALPix table HDU of gammapy's (GADF's) layout <-> arrays; helpers of
:mod:`fluxds.io.healpix_map.read`.

A HEALPix map HDU is a ``BinTableHDU`` with the header keywords ``PIXTYPE='HEALPIX'``, ``NSIDE`` (or
``ORDER``), ``ORDERING`` (``NESTED``/``RING``), ``COORDSYS`` (``GAL``/``G``, ``CEL``/``C``; galprop's
``COORDTYPE`` or a ``FRAME`` keyword also read), ``INDXSCHM`` and, for partial-sky maps, ``HPX_REG``:

- ``IMPLICIT``: all ``12 NSIDE**2`` pixels, one row each (or healpy's packing, several pixels per row of a
  vector column), no ``PIX`` column;
- ``EXPLICIT``: a ``PIX`` column lists the pixel of each row;
- ``SPARSE``: ``PIX``, ``CHANNEL`` (0-based band) and ``VALUE`` columns list the non-zero values only;
  the others are 0 over the region's pixels (``HPX_REG``) or the whole sky;
- ``LOCAL`` (gammapy's maps with a different NSIDE per band) is not read.

The values of band ``k`` are in the column ``CHANNEL<k>`` (``ENERGY<k>``, ``BIN<k>`` in the Fermi and
galprop conventions), numbered from any start; a map without bands has one value column.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from astropy.io import fits

from fluxds.errors import FormatError
from fluxds.healpix import check_nside, region_pixels, region_size

__all__ = ["HpxGeometry", "geometry_from_header", "values_from_hdu", "is_healpix_hdu", "held_pixels"]

_VALUE_COLUMN = re.compile(r"^(CHANNEL|ENERGY|BIN)(\d+)$", re.IGNORECASE)
_FRAMES = {
    "G": "galactic",
    "GAL": "galactic",
    "GALACTIC": "galactic",
    "C": "icrs",
    "CEL": "icrs",
    "CELESTIAL": "icrs",
    "EQU": "icrs",
    "ICRS": "icrs",
    "FK5": "fk5",
}
COORDSYS = {"galactic": "GAL", "icrs": "CEL", "fk5": "CEL"}  # what gammapy writes
BOOL_KEY = "FDSDTYPE"  # header keyword of a map HDU whose values are booleans (stored as 0/1 floats)


@dataclass(frozen=True)
class HpxGeometry:
    """The HEALPix geometry of one HDU."""

    nside: int
    order: str
    frame: str
    indxschm: str
    region: str


def is_healpix_hdu(hdu) -> bool:
    """Whether an HDU is a HEALPix map table (not a bands or GTI table)."""
    if not isinstance(hdu, fits.BinTableHDU) or hdu.name.upper() in ("GTI", "BANDS", "EBOUNDS"):
        return False
    if hdu.name.upper().endswith("_BANDS"):
        return False
    header = hdu.header
    return str(header.get("PIXTYPE", "")).strip().upper() == "HEALPIX" or "NSIDE" in header


def geometry_from_header(header: fits.Header, has_pix: bool, where: str) -> HpxGeometry:
    """Read NSIDE/ORDER, ORDERING, the frame, INDXSCHM and HPX_REG, checking each."""
    if "NSIDE" in header:
        nside = check_nside(header["NSIDE"], where=f"{where}: keyword ")
        if "ORDER" in header and header["ORDER"] not in (-1, None) and 2 ** int(header["ORDER"]) != nside:
            raise FormatError(
                f"{where}: keywords NSIDE={nside} and ORDER={header['ORDER']} disagree "
                f"(NSIDE = 2**ORDER expected)"
            )
    elif "ORDER" in header:
        order_kw = header["ORDER"]
        if not isinstance(order_kw, int) or not 0 <= order_kw <= 29:
            raise FormatError(f"{where}: keyword ORDER is {order_kw!r}; expected an integer from 0 to 29")
        nside = 2**order_kw
    else:
        raise FormatError(f"{where}: no NSIDE (or ORDER) keyword; a HEALPix map needs one")
    ordering = str(header.get("ORDERING", "")).strip().upper()
    if ordering not in ("NESTED", "RING"):
        raise FormatError(
            f"{where}: keyword ORDERING is {header.get('ORDERING')!r}; expected 'NESTED' or 'RING'"
        )
    frame = None
    for key in ("COORDSYS", "COORDTYPE", "FRAME"):
        if key in header:
            frame = _FRAMES.get(str(header[key]).strip().upper())
            if frame is None:
                raise FormatError(
                    f"{where}: keyword {key} is {header[key]!r}; expected GAL/G (galactic) or CEL/C (icrs)"
                )
            break
    if frame is None:
        raise FormatError(f"{where}: no COORDSYS keyword; expected GAL/G (galactic) or CEL/C (icrs)")
    indxschm = str(header.get("INDXSCHM", "EXPLICIT" if has_pix else "IMPLICIT")).strip().upper()
    if indxschm not in ("IMPLICIT", "EXPLICIT", "SPARSE"):
        raise FormatError(
            f"{where}: keyword INDXSCHM is {indxschm!r}; fluxds reads IMPLICIT, EXPLICIT and SPARSE maps "
            "(LOCAL, a different NSIDE per band, is not supported)"
        )
    if indxschm in ("EXPLICIT", "SPARSE") and not has_pix:
        raise FormatError(f"{where}: INDXSCHM is {indxschm} but there is no PIX column")
    region = str(header.get("HPX_REG", header.get("HPXREGION", "")) or "").strip()
    return HpxGeometry(nside, ordering.lower(), frame, indxschm, region)


def held_pixels(geometry: HpxGeometry, hdu, where: str = "") -> int:
    """How many pixels a map HDU holds once read, from its header alone (nothing is listed or read).

    ``IMPLICIT``: all ``12 NSIDE**2``; ``EXPLICIT``: one per row (``NAXIS2``); ``SPARSE``: the pixels
    of its region (an upper bound computed from the region's parameters, see
    :func:`fluxds.healpix.region_size`), else all of the sky, whatever few values the file lists.
    """
    npix = 12 * geometry.nside**2
    if geometry.indxschm == "EXPLICIT":
        return int(hdu.header.get("NAXIS2", 0))
    if geometry.indxschm == "SPARSE" and geometry.region:
        return region_size(geometry.nside, geometry.region, where=where)
    return npix


def _value_columns(hdu, where: str) -> list[str]:
    names = list(hdu.columns.names)
    numbered = [(int(m.group(2)), n) for n in names if (m := _VALUE_COLUMN.match(n))]
    if numbered:
        prefixes = {_VALUE_COLUMN.match(n).group(1).upper() for _, n in numbered}
        if len(prefixes) > 1:
            raise FormatError(f"{where}: value columns of several kinds {sorted(prefixes)}; expected one")
        return [n for _, n in sorted(numbered)]
    rest = [n for n in names if n.upper() != "PIX"]
    if len(rest) != 1:
        raise FormatError(
            f"{where}: cannot tell the value columns: expected CHANNEL1..n (or one value column) "
            f"besides PIX; columns: {names}"
        )
    return rest


def _native(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    return array.astype(array.dtype.newbyteorder("=")) if not array.dtype.isnative else array


def values_from_hdu(
    hdu, geometry: HpxGeometry, n_bands: int, where: str, lazy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The pixel indices (storage order) and the values, shape ``(n_bands, n_pixels)`` (for a SPARSE
    map, ``n_bands`` is the size of its bands table, or 1). With ``lazy``, the value columns of an
    IMPLICIT or EXPLICIT map come as dask arrays over the (memory-mapped) columns: nothing is read."""
    npix = 12 * geometry.nside**2
    data = hdu.data
    if geometry.indxschm == "SPARSE":
        pixels = (
            region_pixels(geometry.nside, geometry.order, geometry.frame, geometry.region, where=where)
            if geometry.region
            else np.arange(npix, dtype=np.int64)
        )
        return pixels, _sparse_values(hdu, pixels, npix, n_bands, where)
    columns = _value_columns(hdu, where)
    if lazy and data is not None:
        import dask.array as da

        arrays = [
            da.from_array(data[name], chunks=-1).astype(data[name].dtype.newbyteorder("="))
            for name in columns
        ]
    else:
        arrays = [_native(data[name]) if data is not None else np.zeros(0) for name in columns]
    if geometry.indxschm == "IMPLICIT":
        arrays = [a.reshape(-1) for a in arrays]  # healpy packs several pixels per row
        if arrays[0].size != npix:
            raise FormatError(
                f"{where}: INDXSCHM is IMPLICIT (all-sky) and NSIDE is {geometry.nside}, so "
                f"{npix} pixels are expected; column {columns[0]!r} holds {arrays[0].size}"
            )
        pixels = np.arange(npix, dtype=np.int64)
    else:
        pixels = _native(data["PIX"]).astype(np.int64)
        _check_pix(pixels, npix, where)
        if any(a.ndim != 1 for a in arrays):
            raise FormatError(f"{where}: value columns must hold one number per row, found vectors")
    if lazy and data is not None:
        import dask.array as da

        return pixels, da.stack(arrays, axis=0)
    return pixels, np.stack(arrays, axis=0)


def _check_pix(pixels: np.ndarray, npix: int, where: str) -> None:
    bad = (pixels < 0) | (pixels >= npix)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(
            f"{where}: column PIX holds pixel index {int(pixels[i])} (row {i}), outside [0, {npix}) "
            f"for NSIDE {int(round((npix / 12) ** 0.5))}"
        )
    unique, counts = np.unique(pixels, return_counts=True)
    if (counts > 1).any():
        raise FormatError(f"{where}: column PIX lists pixel {int(unique[counts > 1][0])} more than once")


def _sparse_values(hdu, pixels: np.ndarray, npix: int, n_bands: int, where: str) -> np.ndarray:
    data = hdu.data
    names = [n.upper() for n in hdu.columns.names]
    if "VALUE" not in names:
        raise FormatError(f"{where}: INDXSCHM is SPARSE but there is no VALUE column; columns: {names}")
    pix = _native(data["PIX"]).astype(np.int64)
    value = _native(data["VALUE"])
    channel = (
        _native(data["CHANNEL"]).astype(np.int64) if "CHANNEL" in names else np.zeros(pix.size, np.int64)
    )
    bad_channel = (channel < 0) | (channel >= n_bands)
    if bad_channel.any():
        raise FormatError(
            f"{where}: column CHANNEL holds {int(channel[bad_channel][0])}; expected a 0-based band "
            f"number below {n_bands}"
        )
    position = np.searchsorted(pixels, pix)
    bad = (position >= pixels.size) | (pixels[np.minimum(position, pixels.size - 1)] != pix)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(
            f"{where}: column PIX holds {int(pix[i])} (row {i}), which is not a pixel of the map "
            f"(NSIDE region of {pixels.size} of {npix} pixels)"
        )
    out = np.zeros((n_bands, pixels.size), dtype=value.dtype if value.dtype.kind == "f" else np.float64)
    out[channel, position] = value
    return out
