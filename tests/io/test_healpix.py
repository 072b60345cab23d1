"""HEALPix flux maps: the representation (fluxds.healpix), gammapy's HEALPix layout read and written
(fluxds.io.healpix_map.read), the numbers of ``fm_hpx.fits`` from expected.json, and bad files."""

from __future__ import annotations

import shutil

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.io import fits
from astropy_healpix import HEALPix
from helpers import WRITTEN
from scipy import integrate

import fluxds
from fluxds import healpix
from fluxds.io.healpix_map.read import read, write
from fluxds.models import PowerLaw

FM_HPX = WRITTEN / "fm_hpx.fits"
# the file stores float32 (gammapy's HEALPix writer uses TFORM 'E'); expected.json has the float64
# numbers gammapy held in memory: the stored number is their float32 rounding, exactly
FLOAT32_RTOL = 2.0**-24


@pytest.fixture(scope="module")
def fm():
    return read(FM_HPX)


def _values(spec):
    return np.array([[np.nan if v is None else v for v in row] for row in spec["values"]])


@pytest.mark.parametrize("name", ["norm", "norm_err", "norm_ul", "ts", "sqrt_ts"])
def test_fm_hpx_numbers(fm, expected, name):
    spec = expected["fm_hpx.fits"]["quantities"][name]
    index = expected["fm_hpx.fits"]["pixels"]["index_in_data"]
    got = fm.sed.get(name).transpose(*spec["dims"]).values[:, index]
    want = _values(spec)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, want.astype(np.float32))  # the stored float32 of each number
    np.testing.assert_allclose(got, want, rtol=FLOAT32_RTOL, atol=0)


@pytest.mark.parametrize("name", ["is_ul", "success"])
def test_fm_hpx_flags(fm, expected, name):
    spec = expected["fm_hpx.fits"]["quantities"][name]
    index = expected["fm_hpx.fits"]["pixels"]["index_in_data"]
    got = fm.sed.get(name).values[:, index]
    assert got.dtype == bool
    np.testing.assert_array_equal(got, np.array(spec["values"], dtype=bool))


def test_fm_hpx_geometry(fm, expected):
    entry = expected["fm_hpx.fits"]
    pixels = entry["pixels"]
    np.testing.assert_array_equal(fm.pixel.values[pixels["index_in_data"]], pixels["healpix_ipix"])
    attrs = fm.healpix.attrs
    assert (attrs["nside"], attrs["order"], attrs["frame"]) == (16, "nested", "galactic")
    assert attrs["region"] == "DISK(0.,0.,15.)"
    assert fm.sizes == {"energy": 2, "pixel": entry["geometry"]["data_shape"][1]}
    assert list(fm.norm.dims) == ["energy", "pixel"]
    geometry = entry["geometry"]
    for coord, key in (
        ("energy", "energy_ref_TeV"),
        ("energy_min", "energy_min_TeV"),
        ("energy_max", "energy_max_TeV"),
    ):
        assert fm[coord].attrs["units"] == "TeV"
        np.testing.assert_allclose(fm[coord].values, geometry[key], rtol=1e-10)
    # the DISK region holds exactly the pixels whose centres lie within 15 deg (healpy's query_disc)
    np.testing.assert_array_equal(healpix.region_pixels(16, "nested", "galactic", attrs["region"]), fm.pixel)
    meta = entry["meta"]
    assert fm.attrs["sed_type_init"] == meta["sed_type_init"]
    assert fm.sed.n_sigma == meta["n_sigma"]
    assert fm.sed.sqrt_ts_threshold_ul == meta["sqrt_ts_threshold_ul"]
    # gammapy keeps n_sigma_ul = 2 in memory only: FluxMaps.write does not store it in the file
    assert meta["n_sigma_ul"] == 2.0 and fm.sed.n_sigma_ul is None


def test_fm_hpx_reference_model(fm, expected):
    params = expected["fm_hpx.fits"]["reference_model"]["parameters"]
    model = fm.sed.reference_model
    assert type(model).__name__ == "LogParabola"
    assert fm.attrs["reference_model_origin"] == f"MODEL keyword: {WRITTEN / 'fm_hpx_model.yaml'}"
    d = model.to_dict()["parameters"]
    for name in ("amplitude", "reference", "alpha", "beta"):
        assert d[name]["value"] == params[name]["value"]


def test_fm_hpx_sed_types_spec_correct(fm, expected):
    """gammapy 2.1 fails on every SED type of a HEALPix map (a broadcasting bug, recorded in
    expected.json); the spec-correct numbers are norm x the reference model, by hand here."""
    entry = expected["fm_hpx.fits"]["quantities"]
    for name in ("dnde", "flux", "eflux", "e2dnde"):
        assert "error" in entry[name] and "not compatible" in entry[name]["error"]
    amplitude, reference, alpha, beta = 2e-12, 10.0, 2.3, 0.1

    def dnde(e):  # cm-2 s-1 TeV-1, e in TeV
        x = e / reference
        return amplitude * x ** (-alpha - beta * np.log(x))

    e_ref, e_min, e_max = (fm[c].values for c in ("energy", "energy_min", "energy_max"))
    norm = fm.norm.values.astype(float)
    flux = [integrate.quad(dnde, a, b, epsrel=1e-13)[0] for a, b in zip(e_min, e_max, strict=True)]
    eflux = [
        integrate.quad(lambda e: e * dnde(e), a, b, epsrel=1e-13)[0]
        for a, b in zip(e_min, e_max, strict=True)
    ]
    erg = (1 * u.TeV).to_value(u.erg)
    hand = {
        "dnde": norm * dnde(e_ref)[:, None],
        "e2dnde": norm * (e_ref**2 * dnde(e_ref) * erg)[:, None],
        "flux": norm * np.array(flux)[:, None],
        "eflux": norm * (np.array(eflux) * erg)[:, None],
    }
    for name, want in hand.items():
        got = fm.sed.get(name, unit=entry["dnde"].get("unit") if name == "dnde" else None)
        np.testing.assert_allclose(got.values, want, rtol=1e-9)
    assert fm.sed.get("dnde").attrs["units"] == "cm-2 s-1 TeV-1"


def test_model_yaml_resolved_relative_to_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # gammapy resolves MODEL against the current directory and fails here
    assert read(FM_HPX).sed.reference_model is not None
    shutil.copy(FM_HPX, tmp_path / "alone.fits")
    with pytest.raises(fluxds.FormatError, match=r"alone\.fits\[PRIMARY\].*MODEL.*fm_hpx_model\.yaml"):
        read(tmp_path / "alone.fits")
    given = read(
        tmp_path / "alone.fits",
        reference_model=PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV),
    )
    assert given.sed.reference_model.to_dict()["type"] == "PowerLaw"


# --- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("sed_type", [None, "dnde", "e2dnde", "flux", "eflux"])
def test_fm_hpx_round_trip(fm, tmp_path, sed_type):
    path = tmp_path / "rt.fits"
    write(fm, path, sed_type=sed_type)
    back = read(path)
    xr.testing.assert_identical(fm, back)
    with fits.open(path) as hdul:
        assert (sed_type or "norm").upper() in [h.name for h in hdul]
        assert "FDSATTRS" in hdul[0].header and "MODEL" not in hdul[0].header  # no side file needed


def test_dnde_map_without_norms(fm, tmp_path):
    """A dnde-type file as another writer would make it (DNDE* HDUs, MODEL keyword, nothing of fluxds's
    own): the norms are dnde / the model's ref_dnde. (gammapy 2.1 itself cannot write one: its
    FluxMaps.write(sed_type="dnde") on a HEALPix map fails with the broadcasting bug.)"""
    write(fm, tmp_path / "both.fits", sed_type="dnde")
    with fits.open(tmp_path / "both.fits") as hdul:
        kept = [h.copy() for h in hdul if not h.name.startswith("NORM")]
    kept[0].header.remove("FDSATTRS")
    kept[0].header["MODEL"] = "fm_hpx_model.yaml"
    fits.HDUList(kept).writeto(tmp_path / "dnde.fits")
    shutil.copy(WRITTEN / "fm_hpx_model.yaml", tmp_path)
    ds = read(tmp_path / "dnde.fits")
    assert ds.attrs["sed_type_init"] == "dnde" and "norm" in ds
    np.testing.assert_allclose(ds.norm.values, fm.norm.values, rtol=1e-15)
    stored = fits.getdata(tmp_path / "dnde.fits", "DNDE")
    np.testing.assert_allclose(ds.sed.dnde.values, [stored["CHANNEL1"], stored["CHANNEL2"]], rtol=1e-15)


def _synthetic(nside, order, frame, region, seed=0):
    if region:
        pixels = healpix.region_pixels(nside, order, frame, region)
    else:
        pixels = np.arange(12 * nside**2)
    rng = np.random.default_rng(seed)
    shape = (3, pixels.size)
    model = PowerLaw(index=2.5, amplitude=3e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        rng.uniform(0.1, 3, shape),
        energy_min=[0.1, 1, 10] * u.TeV,
        energy_max=[1, 10, 100] * u.TeV,
        reference_model=model,
        norm_err=rng.uniform(0.1, 1, shape).astype(np.float32),
        ts=rng.uniform(0, 50, shape),
        is_ul=rng.uniform(0, 1, shape) > 0.5,
        dims=("energy", "pixel"),
        coords=healpix.healpix_coords(nside, order=order, frame=frame, pixels=pixels, region=region),
    )
    ds["niter"] = xr.Variable(("pixel",), rng.integers(0, 9, pixels.size))
    return ds


@pytest.mark.parametrize("order", ["nested", "ring"])
@pytest.mark.parametrize("frame", ["galactic", "icrs"])
@pytest.mark.parametrize("region", ["", "DISK(120.,-30.,20.)"])
def test_round_trip_variants(tmp_path, order, frame, region):
    ds = _synthetic(4, order, frame, region)
    path = tmp_path / "v.fits"
    ds.sed.write(path)  # the pixel dimension picks the HEALPix layout
    back = fluxds.read(path)
    xr.testing.assert_identical(ds, back)
    header = fits.getheader(path, "NORM")
    assert header["INDXSCHM"] == ("EXPLICIT" if region else "IMPLICIT")
    assert header["ORDERING"] == {"nested": "NESTED", "ring": "RING"}[order]
    assert header["COORDSYS"] == {"galactic": "GAL", "icrs": "CEL"}[frame]
    columns = ["CHANNEL1", "CHANNEL2", "CHANNEL3"]
    assert fits.getdata(path, "NORM").columns.names == (["PIX"] if region else []) + columns


def test_selection_stays_a_partial_map(tmp_path):
    ds = _synthetic(2, "ring", "galactic", "").isel(pixel=[40, 3, 17])
    write(ds, tmp_path / "sel.fits")
    back = read(tmp_path / "sel.fits")
    xr.testing.assert_identical(ds, back)
    np.testing.assert_array_equal(back.pixel, [40, 3, 17])


# --- the representation ------------------------------------------------------------------------------
def test_sky_coordinates_and_lookups(fm):
    hpx = healpix.healpix_of(fm)
    assert (hpx.nside, hpx.order, hpx.frame.name) == (16, "nested", "galactic")
    lon, lat = HEALPix(16, "nested", "galactic").healpix_to_lonlat(fm.pixel.values)
    np.testing.assert_array_equal(fm.sky_lon.values, lon.deg)
    np.testing.assert_array_equal(fm.sky_lat.values, lat.deg)
    assert fm.sky_lon.attrs["units"] == "degree"
    centres = healpix.pixel_skycoord(fm)
    # every pixel centre (given in ICRS) finds its own pixel; a position far off the disc finds none
    np.testing.assert_array_equal(healpix.pixel_positions(fm, centres.icrs), np.arange(fm.sizes["pixel"]))
    assert healpix.pixel_positions(fm, SkyCoord(180, 60, unit="deg", frame="galactic")) == -1
    index, weights = healpix.interpolation_weights(
        fm, SkyCoord([0.5, 3], [0.2, -4], unit="deg", frame="galactic")
    )
    assert index.shape == weights.shape == (4, 2) and (index >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)


def test_region_pixels_match_healpy():
    healpy = pytest.importorskip("healpy")
    rng = np.random.default_rng(3)
    for nside in (4, 32, 128):
        for nest in (True, False):
            lon, lat, radius = rng.uniform(0, 360), rng.uniform(-80, 80), rng.uniform(1, 30)
            want = healpy.query_disc(
                nside, healpy.ang2vec(lon, lat, lonlat=True), np.radians(radius), nest=nest
            )
            got = healpix.region_pixels(
                nside, "nested" if nest else "ring", "icrs", f"DISK({lon},{lat},{radius})"
            )
            np.testing.assert_array_equal(got, np.sort(want))


# --- files written by gammapy itself ----------------------------------------------------------------
@pytest.fixture(scope="module")
def gammapy_maps():
    pytest.importorskip("healpy")  # gammapy's HEALPix geometry needs it
    return pytest.importorskip("gammapy.maps")


@pytest.mark.parametrize("nest", [True, False])
@pytest.mark.parametrize("region", [None, "DISK(10.,20.,12.)"])
def test_gammapy_written_flux_maps(gammapy_maps, tmp_path, monkeypatch, nest, region):
    from gammapy.estimators import FluxMaps
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    monkeypatch.chdir(tmp_path)
    axis = gammapy_maps.MapAxis.from_energy_edges([0.1, 1, 10] * u.TeV, name="energy")
    geom = gammapy_maps.HpxGeom.create(nside=8, nest=nest, frame="icrs", region=region, axes=[axis])
    rng = np.random.default_rng(0)
    maps = gammapy_maps.Maps()
    for name in ("norm", "norm_err", "ts"):
        maps[name] = gammapy_maps.Map.from_geom(geom, data=rng.uniform(0.1, 2, geom.data_shape))
    model = PowerLawSpectralModel(index=2.3)
    FluxMaps.from_maps(maps, sed_type="likelihood", reference_model=SkyModel(spectral_model=model)).write(
        "g.fits", filename_model="g_model.yaml"
    )
    assert fits.getheader("g.fits", "NORM")["INDXSCHM"] == ("EXPLICIT" if region else "IMPLICIT")
    ds = read("g.fits")
    want_pixels = np.arange(768) if region is None else geom.to_image()._ipix
    np.testing.assert_array_equal(ds.pixel, want_pixels)
    np.testing.assert_array_equal(ds.norm.values, maps["norm"].data.astype(np.float32))
    ref = model(axis.center).to_value("cm-2 s-1 TeV-1")
    np.testing.assert_allclose(ds.sed.dnde.values, ds.norm.values * ref[:, None], rtol=1e-12)
    # and gammapy's map reader takes the HDUs fluxds writes
    write(ds, "ours.fits")
    back = gammapy_maps.HpxNDMap.read("ours.fits", hdu="NORM")
    assert (back.geom.nside[0], back.geom.nest, back.geom.frame) == (8, nest, "icrs")
    np.testing.assert_array_equal(back.data, ds.norm.values)


@pytest.mark.parametrize("region", [None, "DISK(10.,20.,25.)", "HPX_PIXEL(RING,2,5)"])
def test_gammapy_sparse_maps(gammapy_maps, tmp_path, region):
    axis = gammapy_maps.MapAxis.from_energy_edges([0.1, 1, 10] * u.TeV, name="energy")
    geom = gammapy_maps.HpxGeom.create(nside=8, nest=True, frame="galactic", region=region, axes=[axis])
    data = np.random.default_rng(1).uniform(0, 1, geom.data_shape)
    data[data < 0.5] = 0  # SPARSE stores the non-zero values only
    hdul = gammapy_maps.Map.from_geom(geom, data=data).to_hdulist(hdu="NORM", sparse=True)
    hdul[0].header["SED_TYPE"] = "likelihood"
    hdul.writeto(tmp_path / "sparse.fits")
    assert fits.getheader(tmp_path / "sparse.fits", "NORM")["INDXSCHM"] == "SPARSE"
    model = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = read(tmp_path / "sparse.fits", reference_model=model)
    np.testing.assert_array_equal(ds.pixel, np.sort(geom.to_image()._ipix) if region else np.arange(768))
    np.testing.assert_array_equal(ds.norm.values, data.astype(np.float32))


# --- bad input ------------------------------------------------------------------------------------------
def _edited(tmp_path, edit):
    path = tmp_path / "bad.fits"
    with fits.open(FM_HPX) as hdul:
        hdul = fits.HDUList([h.copy() for h in hdul])
    edit(hdul)
    hdul.writeto(path)
    shutil.copy(WRITTEN / "fm_hpx_model.yaml", tmp_path / "fm_hpx_model.yaml")
    return path


def test_bad_nside(tmp_path):
    path = _edited(tmp_path, lambda h: h["NORM_ERR"].header.update(NSIDE=15))
    with pytest.raises(fluxds.FormatError, match=r"bad\.fits\[NORM_ERR\].*NSIDE is 15.*power of two"):
        read(path)


def test_pix_out_of_range(tmp_path):
    def edit(hdul):
        hdul["NORM"].data["PIX"][7] = 3072

    with pytest.raises(
        fluxds.FormatError,
        match=r"bad\.fits\[NORM\].*column PIX holds pixel index 3072 \(row 7\).*\[0, 3072\)",
    ):
        read(_edited(tmp_path, edit))


def test_bad_ordering_and_frame(tmp_path):
    path = _edited(tmp_path, lambda h: h["TS"].header.update(ORDERING="SPIRAL"))
    with pytest.raises(fluxds.FormatError, match=r"\[TS\].*ORDERING is 'SPIRAL'"):
        read(path)
    path.unlink()
    path = _edited(tmp_path, lambda h: h["TS"].header.update(COORDSYS="X"))
    with pytest.raises(fluxds.FormatError, match=r"\[TS\].*COORDSYS is 'X'"):
        read(path)


def test_geometry_mismatch_and_missing_bands(tmp_path):
    def edit(hdul):
        hdul["SQRT_TS"].data["PIX"][0] = 5

    with pytest.raises(fluxds.FormatError, match=r"\[SQRT_TS\].*differs from that of .*\[NORM\]"):
        read(_edited(tmp_path, edit))
    (tmp_path / "bad.fits").unlink()
    path = _edited(tmp_path, lambda h: h["IS_UL"].header.update(BANDSHDU="NOPE"))
    with pytest.raises(fluxds.FormatError, match=r"\[IS_UL\].*BANDSHDU names 'NOPE'"):
        read(path)


def test_write_refusals(fm, tmp_path):
    write(fm, tmp_path / "once.fits")
    with pytest.raises(fluxds.OverwriteError):
        write(fm, tmp_path / "once.fits")
    write(fm, tmp_path / "once.fits", overwrite=True)
    scan = fm.assign(stat_scan=(("energy", "pixel", "scan"), np.zeros((2, 56, 3))))
    with pytest.raises(fluxds.FormatError, match=r"'stat_scan' has dims \('energy', 'pixel', 'scan'\)"):
        write(scan, tmp_path / "scan.fits")
    with pytest.raises(fluxds.FormatError, match="not a HEALPix map"):
        write(fm.drop_vars("healpix"), tmp_path / "plain.fits")
    assert not (tmp_path / "scan.fits").exists() and not (tmp_path / "plain.fits").exists()


def test_fdsattrs_must_be_json(tmp_path):
    path = _edited(tmp_path, lambda h: h[0].header.update(FDSATTRS="{not json"))
    with pytest.raises(fluxds.FormatError, match=r"\[PRIMARY\].*FDSATTRS is not valid JSON"):
        read(path)
