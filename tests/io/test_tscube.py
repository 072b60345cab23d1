"""fermipy / gttscube TS cubes: the GADF sample ``tscube_lowts.fits`` read, its row -> pixel mapping, its
likelihood profiles, conversions against the EBOUNDS columns, round trips and bad files.

Issue 13 item 13 (the last section): flux points taken from a fermipy TS cube write to GADF FITS/ECSV
(the per-source FITDATA numbers as header keywords, exactly back through fluxds), and ``fluxds convert
tscube.fits out.fits`` writes a TS cube back. Expected numbers come from the file itself, read with
astropy.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits
from helpers import GADF

import fluxds
from fluxds.cli import main
from fluxds.io.tscube.read import read, write
from fluxds.maps import OffMapWarning
from fluxds.wcs import wcs_of

TSCUBE = GADF / "tscube_lowts.fits.gz"  # the spec's sample file, gzipped (FITS readers take it as is)
NY = NX = 20
N_ENERGY, N_SCAN = 24, 10


@pytest.fixture(scope="module")
def cube():
    return read(TSCUBE)


@pytest.fixture(scope="module")
def raw():
    with fits.open(TSCUBE) as hdul:
        return {
            "image": np.array(hdul[0].data),
            "header": hdul[0].header.copy(),
            "scan": {n: np.array(hdul["SCANDATA"].data[n]) for n in hdul["SCANDATA"].columns.names},
            "fit": {n: np.array(hdul["FITDATA"].data[n]) for n in hdul["FITDATA"].columns.names},
            "ebounds": {n: np.array(hdul["EBOUNDS"].data[n]) for n in hdul["EBOUNDS"].columns.names},
        }


def test_reads(cube):
    assert fluxds.io.detect_format(TSCUBE) == "tscube"
    assert dict(cube.sizes) == {"energy": N_ENERGY, "lat": NY, "lon": NX, "scan": N_SCAN}
    assert cube.norm.dims == ("energy", "lat", "lon")
    assert cube.stat_scan.dims == cube.norm_scan.dims == ("energy", "lat", "lon", "scan")
    assert cube.fit_ts.dims == ("lat", "lon") and "ts_image" not in cube  # the image is FIT_TS
    assert cube.energy.attrs["units"] == "keV" and cube.energy_min.values[0] == 5e5
    assert cube.attrs["ul_conf"] == 0.95
    assert cube.attrs["sed_type_init"] == "likelihood"
    wcs = wcs_of(cube)
    assert list(wcs.wcs.ctype) == ["GLON-AIT", "GLAT-AIT"]
    # the sky coordinates of a pixel are those of the file's WCS at that pixel
    lon, lat = wcs.pixel_to_world_values(7, 3)
    assert cube.sky_lon.values[3, 7] == lon and cube.sky_lat.values[3, 7] == lat
    assert set(cube.sed.available_quantities) >= {"dnde", "flux_ul", "e2dnde_err", "sqrt_ts", "ref_npred"}


def test_row_to_pixel_mapping(cube, raw):
    """Row i of SCANDATA/FITDATA is the pixel (x, y) = (i % NAXIS1, i // NAXIS1) of the primary image
    (FITS order: the first axis varies fastest), i.e. numpy's [i // nx, i % nx]."""
    assert (raw["header"]["NAXIS1"], raw["header"]["NAXIS2"]) == (NX, NY)
    fit_ts = raw["fit"]["FIT_TS"]
    rows = np.arange(fit_ts.size)
    iy, ix = rows // NX, rows % NX
    # every row's FITDATA TS is the primary TS image at its pixel (163 distinct values: not by chance)
    np.testing.assert_array_equal(raw["image"][iy, ix], fit_ts)
    assert np.unique(fit_ts).size > 150
    # and the transposed reading would not be: the mapping is tested, not assumed
    assert not np.array_equal(raw["image"][ix, iy], fit_ts)
    np.testing.assert_array_equal(cube.fit_ts.values[iy, ix], fit_ts)
    np.testing.assert_array_equal(cube.norm.values[:, iy, ix], raw["scan"]["NORM"].T)
    np.testing.assert_array_equal(
        cube.norm_scan.values[:, iy, ix, :], raw["scan"]["NORM_SCAN"].transpose(1, 0, 2)
    )


def test_profiles_peak_at_the_stored_norm(cube, raw):
    """The maximum of each likelihood profile (minimum of stat_scan) lies at the stored NORM within the
    scan-grid spacing. The file is a low-TS sample: its largest TS is 11.3, so the significant bins are
    those with TS > 4 (124 of them); the property holds for every bin too."""
    ts = cube.ts
    assert float(ts.max()) < 25 and int((ts > 4).sum()) == 124
    best = cube.norm_scan.isel(scan=cube.stat_scan.argmin("scan"))
    spacing = cube.norm_scan.diff("scan").max("scan")
    off = abs(best - cube.norm) / spacing
    assert float(off.where(ts > 4).max()) <= 1.0
    assert float(off.max()) <= 1.0


def test_dloglike_is_relative_to_the_maximum(cube, raw):
    """DLOGLIKE_SCAN is relative to LOGLIKE, the maximum: it never exceeds 0 (but for the fitter's 4e-6),
    and at the first scan point (norm 1e-10) it is -TS/2 (relative to the zero-norm fit it would be 0);
    so stat_scan = -2 (LOGLIKE + DLOGLIKE_SCAN) lies above stat = -2 LOGLIKE and exceeds it by TS at
    zero norm."""
    dll = raw["scan"]["DLOGLIKE_SCAN"]
    assert dll.max() < 1e-5
    assert raw["scan"]["NORM_SCAN"][..., 0].max() == np.float32(1e-10)
    assert (raw["scan"]["TS"] > 1).sum() > 600  # the -TS/2 check below is not about zeros only
    np.testing.assert_allclose(-2 * dll[..., 0], raw["scan"]["TS"], rtol=1e-6, atol=1e-6)
    stat = -2.0 * raw["scan"]["LOGLIKE"].astype(float)
    np.testing.assert_array_equal(cube.stat.values.transpose(1, 2, 0).reshape(-1, N_ENERGY), stat)
    assert float((cube.stat_scan - cube.stat).min()) > -2e-5
    zero = cube.stat_scan.isel(scan=0) - cube.stat
    np.testing.assert_allclose(zero, cube.ts, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "unit", "norm_column", "reference", "energy_power"),
    [
        ("dnde", "MeV-1 cm-2 s-1", "NORM", "REF_DFDE", 0),
        ("dnde_ul", "MeV-1 cm-2 s-1", "NORM_UL", "REF_DFDE", 0),
        ("e2dnde", "MeV cm-2 s-1", "NORM", "REF_DFDE", 2),
        ("flux", "cm-2 s-1", "NORM", "REF_FLUX", 0),
        ("flux_errp", "cm-2 s-1", "NORM_ERRP", "REF_FLUX", 0),
        ("eflux", "MeV cm-2 s-1", "NORM", "REF_EFLUX", 0),
    ],
)
def test_conversions_by_hand(cube, raw, name, unit, norm_column, reference, energy_power):
    """<type> = NORM x REF_<type> row by row (the GADF rule), e2dnde with E_REF (keV -> MeV)."""
    norm = raw["scan"][norm_column].astype(float)
    e_ref_mev = raw["ebounds"]["E_REF"].astype(float) / 1e3
    want = norm * raw["ebounds"][reference] * e_ref_mev**energy_power
    got = cube.sed.get(name, unit=unit).transpose("lat", "lon", "energy").values.reshape(-1, N_ENERGY)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


def test_round_trip(cube, raw, tmp_path):
    path = tmp_path / "cube.fits"
    write(cube, path)
    back = read(path)
    xr.testing.assert_identical(cube, back)
    # the same layout: HDUs, the image with its WCS, and the stored columns bit for bit
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCANDATA", "FITDATA", "BASELINE", "EBOUNDS"]
        np.testing.assert_array_equal(hdul[0].data, raw["image"])
        for key in ("CTYPE1", "CRVAL1", "CDELT1", "CRPIX2", "CRVAL2"):
            assert hdul[0].header[key] == raw["header"][key]
        scandata = hdul["SCANDATA"]
        assert scandata.header["UL_CONF"] == 0.95
        for name, values in raw["scan"].items():
            assert scandata.data[name].dtype == values.dtype, name
            np.testing.assert_array_equal(scandata.data[name], values, err_msg=name)
        for name, values in raw["fit"].items():
            np.testing.assert_array_equal(hdul["FITDATA"].data[name], values)
        assert hdul["EBOUNDS"].columns["E_MIN"].unit == "keV"
        np.testing.assert_array_equal(hdul["EBOUNDS"].data["REF_DNDE"], raw["ebounds"]["REF_DFDE"])


def _small_cube(ny=3, nx=5):
    """A non-square cube written by fluxds, to pin the row order against the FITS convention."""
    ds = read(TSCUBE).isel(lat=slice(2, 2 + ny), lon=slice(4, 4 + nx))
    values = np.arange(ny * nx, dtype=np.float32).reshape(ny, nx) + 1
    return ds.assign(fit_ts=(("lat", "lon"), values))


def test_row_order_of_written_cubes(tmp_path):
    ds = _small_cube()
    write(ds, tmp_path / "small.fits")
    with fits.open(tmp_path / "small.fits") as hdul:
        image, rows = hdul[0].data, hdul["FITDATA"].data["FIT_TS"]
        assert (hdul[0].header["NAXIS1"], hdul[0].header["NAXIS2"]) == (5, 3)
        assert hdul[0].header["CRPIX1"] == 10.5 - 4 and hdul[0].header["CRPIX2"] == 10.5 - 2  # the cutout
        i = np.arange(15)
        np.testing.assert_array_equal(image[i // 5, i % 5], rows)
        np.testing.assert_array_equal(rows, np.arange(1, 16))
    back = read(tmp_path / "small.fits")
    np.testing.assert_array_equal(back.sky_lon.values, ds.sky_lon.values)
    np.testing.assert_array_equal(back.norm.values, ds.norm.values)


# --- bad input ---------------------------------------------------------------------------------------
def _edited(tmp_path, edit):
    with fits.open(TSCUBE) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    edit(hdul)
    path = tmp_path / "bad.fits"
    hdul.writeto(path, output_verify="silentfix")
    return path


def test_rows_must_match_pixels(tmp_path):
    def edit(hdul):
        hdul[0] = fits.PrimaryHDU(np.zeros((19, 20), np.float32), header=hdul[0].header)

    with pytest.raises(fluxds.FormatError, match=r"bad\.fits\[SCANDATA\]: 400 rows.*19 x 20 = 380 pixels"):
        read(_edited(tmp_path, edit))


def test_energy_bins_must_match(tmp_path):
    def edit(hdul):
        hdul["EBOUNDS"] = fits.BinTableHDU(hdul["EBOUNDS"].data[:20], header=hdul["EBOUNDS"].header)

    with pytest.raises(
        fluxds.FormatError, match=r"\[SCANDATA\]: column 'TS' has shape \(24,\).*20 energy bins"
    ):
        read(_edited(tmp_path, edit))


def test_missing_hdu_and_bad_primary(tmp_path):
    path = _edited(tmp_path, lambda hdul: hdul.pop(4))
    with pytest.raises(fluxds.FormatError, match=r"bad\.fits: no EBOUNDS HDU"):
        read(path)
    path.unlink()

    def edit(hdul):
        hdul[0] = fits.PrimaryHDU(header=fits.Header({"CTYPE1": "GLON-AIT"}))

    with pytest.raises(fluxds.FormatError, match=r"\[PRIMARY\]: expected the 2-D TS image"):
        read(_edited(tmp_path, edit))


def test_write_refusals(cube, tmp_path):
    with pytest.raises(fluxds.FormatError, match="likelihood form"):
        write(cube, tmp_path / "x.fits", sed_type="dnde")
    with pytest.raises(fluxds.FormatError, match="WCS map"):
        write(cube.drop_vars("wcs"), tmp_path / "x.fits")
    extra = cube.expand_dims(source=["a"])
    with pytest.raises(fluxds.FormatError, match=r"dims \['source'\]"):
        write(extra, tmp_path / "x.fits")
    assert not (tmp_path / "x.fits").exists()
    write(cube, tmp_path / "x.fits")
    with pytest.raises(fluxds.OverwriteError):
        write(cube, tmp_path / "x.fits")


# --- flux points from a TS cube written to GADF FITS/ECSV; a TS cube written back (issue 13 item 13) ---
PIXELS = [(10, 10), (3, 15)]  # (iy, ix) in numpy order of the primary image
FIT_COLUMNS = ("FIT_TS", "FIT_STATUS", "FIT_NORM", "FIT_NORM_ERR", "FIT_NORM_ERRP", "FIT_NORM_ERRN")


@pytest.fixture(scope="module")
def read_cube():
    return fluxds.read(TSCUBE)


@pytest.fixture(scope="module")
def fit_rows():
    with fits.open(TSCUBE) as hdul:
        nx = hdul[0].data.shape[1]
        fit = {name: np.asarray(hdul["FITDATA"].data[name]) for name in FIT_COLUMNS}
        norm = np.asarray(hdul["SCANDATA"].data["NORM"])
    return nx, fit, norm


def _positions(read_cube, pixels):
    lon = [float(read_cube["sky_lon"][iy, ix]) for iy, ix in pixels]
    lat = [float(read_cube["sky_lat"][iy, ix]) for iy, ix in pixels]
    return SkyCoord(lon, lat, unit="deg", frame="galactic")


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_one_position_writes_with_fitdata_as_keywords(read_cube, fit_rows, tmp_path, suffix):
    nx, fit, norm = fit_rows
    iy, ix = PIXELS[0]
    row = iy * nx + ix
    fp = read_cube.sed.get_flux_points(_positions(read_cube, PIXELS[:1])[0])
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


def test_two_positions_write_one_hdu_each(read_cube, fit_rows, tmp_path):
    nx, fit, norm = fit_rows
    fp = read_cube.sed.get_flux_points(_positions(read_cube, PIXELS), names=["a", "b"])
    out = tmp_path / "fp2.fits"
    fp.sed.write(out)  # HEAD: FormatError, wrongly "has dims ()" for a (source,) variable
    back = fluxds.read(out)
    rows = [iy * nx + ix for iy, ix in PIXELS]
    assert back["fit_ts"].dims == ("source",)
    np.testing.assert_array_equal(back["fit_ts"].values, fit["FIT_TS"][rows])
    np.testing.assert_array_equal(back["norm"].transpose("source", "energy").values, norm[rows])
    for hdu, row in zip(("a", "b"), rows, strict=True):
        assert fits.getheader(out, hdu)["FIT_NORM"] == float(fit["FIT_NORM"][row])


def test_off_map_nan_stays_in_fluxds_metadata(read_cube, tmp_path):
    with pytest.warns(OffMapWarning):
        fp = read_cube.sed.get_flux_points(SkyCoord(0.0, 0.0, unit="deg", frame="galactic"))
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
