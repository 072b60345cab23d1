"""Build the catalog excerpts the notebook ``catalogs.ipynb`` reads when the full catalogs are not at hand.

The 3FGL (``gll_psc_v16.fit.gz``) and 3FHL (``gll_psch_v13.fit.gz``) excerpts are the published files
with the rows of ``LAT_Point_Source_Catalog`` limited to the sources within ``RADIUS`` of the Crab nebula;
every header keyword and every other HDU is kept as published, so fluxds reads them exactly as it reads
the full catalogs. ``gammacat.fits.gz`` is small and copied whole. Licences: ``LICENCE-fermi.rst``
(Fermi-LAT catalogs, public) and ``LICENCE-gammacat.rst`` (gamma-cat, CC BY 4.0) beside this script.

Run from the repository root with the full catalogs in ``../shared/data/catalogs``::

    python notebooks/data/make_excerpts.py ../shared/data/catalogs
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

CRAB_RA, CRAB_DEC = 83.633, 22.0145  # deg (ICRS)
RADIUS = 10.0  # deg
HERE = Path(__file__).resolve().parent


def separation_deg(ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Angular distance to the Crab nebula (deg), haversine."""
    ra1, dec1, ra2, dec2 = map(np.radians, (ra, dec, CRAB_RA, CRAB_DEC))
    a = np.sin((dec1 - dec2) / 2) ** 2 + np.cos(dec1) * np.cos(dec2) * np.sin((ra1 - ra2) / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(a)))


def excerpt(source: Path, target: Path) -> int:
    """Write ``target``: ``source`` with the catalog rows near the Crab only; the number of rows kept."""
    with fits.open(source) as hdul:
        hdus = [fits.PrimaryHDU(header=hdul[0].header)]
        kept = 0
        for hdu in hdul[1:]:
            if hdu.name == "LAT_Point_Source_Catalog":
                near = separation_deg(hdu.data["RAJ2000"], hdu.data["DEJ2000"]) < RADIUS
                kept = int(near.sum())
                hdus.append(fits.BinTableHDU(data=hdu.data[near], header=hdu.header))
            else:
                hdus.append(hdu.copy())
        fits.HDUList(hdus).writeto(target, overwrite=True)
    return kept


def main(folder: str) -> None:
    shared = Path(folder)
    for name in ("gll_psc_v16.fit.gz", "gll_psch_v13.fit.gz"):
        print(name, excerpt(shared / name, HERE / name), "sources")  # noqa: T201
    shutil.copyfile(shared / "gammacat.fits.gz", HERE / "gammacat.fits.gz")
    for licence in ("LICENCE-fermi.rst", "LICENCE-gammacat.rst"):
        shutil.copyfile(shared / licence, HERE / licence)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/catalogs")
