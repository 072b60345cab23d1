"""Issue 13 item 13: flux points taken from a fermipy TS cube write to GADF FITS/ECSV (the per-source
FITDATA numbers as header keywords, exactly back through fluxds), and ``fluxds convert tscube.fits
out.fits`` writes a TS cube back. Expected numbers come from the file itself, read with astropy."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.coordinates import SkyCoord
from astropy.io import fits
from conftest import GADF

import fluxds
from fluxds.cli import main
from fluxds.maps import OffMapWarning

TSCUBE = GADF / "tscube_lowts.fits.gz"
PIXELS = [(10, 10), (3, 15)]  # (iy, ix) in numpy order of the primary image
FIT_COLUMNS = ("FIT_TS", "FIT_STATUS", "FIT_NORM", "FIT_NORM_ERR", "FIT_NORM_ERRP", "FIT_NORM_ERRN")


@pytest.fixture(scope="module")
def cube():
    return fluxds.read(TSCUBE)


@pytest.fixture(scope="module")
def raw():
    with fits.open(TSCUBE) as hdul:
        nx = hdul[0].data.shape[1]
        fit = {name: np.asarray(hdul["FITDATA"].data[name]) for name in FIT_COLUMNS}
        norm = np.asarray(hdul["SCANDATA"].data["NORM"])
    return nx, fit, norm


def _positions(cube, pixels):
    lon = [float(cube["sky_lon"][iy, ix]) for iy, ix in pixels]
    lat = [float(cube["sky_lat"][iy, ix]) for iy, ix in pixels]
    return SkyCoord(lon, lat, unit="deg", frame="galactic")


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_one_position_writes_with_fitdata_as_keywords(cube, raw, tmp_path, suffix):
    nx, fit, norm = raw
    iy, ix = PIXELS[0]
    row = iy * nx + ix
    fp = cube.sed.get_flux_points(_positions(cube, PIXELS[:1])[0])
    out = tmp_path / f"fp{suffix}"
    fp.sed.write(out)  # HEAD: FormatError "variable 'fit_ts' has dims ()"
    back = fluxds.read(out)
    np.testing.assert_array_equal(back["norm"].values, norm[row])
    for column in FIT_COLUMNS:
        assert back[column.lower()].dtype == fit[column].dtype.newbyteorder("=")
        assert back[column.lower()].values[()] == fit[column][row]
    if suffix == ".fits":  # the keywords other readers see
        header = fits.getheader(out, 1)
        for column in FIT_COLUMNS:
            assert header[column] == pytest.approx(float(fit[column][row]), rel=0, abs=0)


def test_two_positions_write_one_hdu_each(cube, raw, tmp_path):
    nx, fit, norm = raw
    fp = cube.sed.get_flux_points(_positions(cube, PIXELS), names=["a", "b"])
    out = tmp_path / "fp2.fits"
    fp.sed.write(out)  # HEAD: FormatError, wrongly "has dims ()" for a (source,) variable
    back = fluxds.read(out)
    rows = [iy * nx + ix for iy, ix in PIXELS]
    assert back["fit_ts"].dims == ("source",)
    np.testing.assert_array_equal(back["fit_ts"].values, fit["FIT_TS"][rows])
    np.testing.assert_array_equal(back["norm"].transpose("source", "energy").values, norm[rows])
    for hdu, row in zip(("a", "b"), rows, strict=True):
        assert fits.getheader(out, hdu)["FIT_NORM"] == float(fit["FIT_NORM"][row])


def test_off_map_nan_stays_in_fluxds_metadata(cube, tmp_path):
    with pytest.warns(OffMapWarning):
        fp = cube.sed.get_flux_points(SkyCoord(0.0, 0.0, unit="deg", frame="galactic"))
    out = tmp_path / "off.fits"
    fp.sed.write(out)  # a FITS header cannot hold NaN: no FIT_TS keyword, the value travels in FDSATTRS
    assert "FIT_TS" not in fits.getheader(out, 1)
    assert np.isnan(fluxds.read(out)["fit_ts"].values[()])


def test_convert_tscube_to_fits_writes_a_tscube(tmp_path, capsys):
    out = tmp_path / "copy.fits"
    assert main(["convert", str(TSCUBE), str(out)]) == 0  # HEAD: exit 1, fit_ts on (lat, lon)
    assert fluxds.io.detect_format(out) == "tscube"
    with fits.open(TSCUBE) as a, fits.open(out) as b:
        for column in FIT_COLUMNS:
            np.testing.assert_array_equal(b["FITDATA"].data[column], a["FITDATA"].data[column])
        for column in ("NORM", "NORM_ERR", "NORM_UL", "NORM_SCAN", "TS"):
            np.testing.assert_array_equal(b["SCANDATA"].data[column], a["SCANDATA"].data[column])
        np.testing.assert_allclose(
            b["SCANDATA"].data["DLOGLIKE_SCAN"], a["SCANDATA"].data["DLOGLIKE_SCAN"], rtol=0, atol=1e-5
        )
        np.testing.assert_array_equal(b[0].data, a[0].data)
