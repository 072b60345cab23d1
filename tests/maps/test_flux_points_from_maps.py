"""Flux points from flux maps: ``ds.sed.get_flux_points(positions)`` on WCS maps of any projection and on
HEALPix maps, vectorised over positions, as full likelihood SEDs."""

from __future__ import annotations

import functools
import warnings

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from astropy.wcs import WCS
from astropy_healpix import HEALPix
from helpers import WRITTEN

import fluxds
from fluxds.maps import OffMapWarning, get_flux_points
from fluxds.models import default_reference_model
from fluxds.wcs import assign_wcs, wcs_of

SGR_A = SkyCoord(359.944, -0.046, unit="deg", frame="galactic")


@functools.cache
def _read(fname: str) -> xr.Dataset:
    return fluxds.read(WRITTEN / fname)


def _random_positions(n: int, lon: tuple, lat: tuple, seed: int = 0, frame: str = "galactic") -> SkyCoord:
    rng = np.random.default_rng(seed)
    return SkyCoord(rng.uniform(*lon, n), rng.uniform(*lat, n), unit="deg", frame=frame)


def test_sgr_a_star_matches_gammapy(expected):
    derived = expected["fm_excess.fits"]["derived"]["get_flux_points(Sgr A*)"]
    ds = _read("fm_excess.fits")
    fp = ds.sed.get_flux_points(SGR_A.icrs)  # any frame: converted to the map's
    iy, ix = derived["nearest_pixel_index_lat_lon"]
    xr.testing.assert_equal(
        fp.norm.drop_vars(["source", "source_lon", "source_lat"]),
        ds.norm.isel(lat=iy, lon=ix).drop_vars(["ix", "iy", "lon", "lat", "wcs"]),
    )
    checked = 0
    for name, spec in derived["quantities"].items():
        if "error" in spec:
            with pytest.raises(fluxds.FluxdsError):
                fp.sed.get(name)
            continue
        got = fp.sed.get(name, unit=spec.get("unit") or None).values
        want = np.array(spec["values"], dtype=float)
        if got.dtype == bool:
            np.testing.assert_array_equal(got, want.astype(bool))
        else:
            np.testing.assert_allclose(np.ravel(got), want, rtol=1e-10, atol=0)
        checked += 1
    assert checked >= 38
    assert float(fp.source_lon) == pytest.approx(359.944) and str(fp.source.values) == "pos0"


def _assert_same_as_single_calls(ds, positions, method):
    names = [f"s{i}" for i in range(len(positions))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OffMapWarning)
        many = ds.sed.get_flux_points(positions, names=names, method=method)
        singles = [
            ds.sed.get_flux_points(positions[i], names=[names[i]], method=method)
            for i in range(len(positions))
        ]
    assert many.sizes["source"] == len(positions)
    for name in [*many.data_vars, "source", "source_lon", "source_lat"]:
        if "source" in many[name].dims:
            stacked = np.stack([one[name].values for one in singles])
            np.testing.assert_array_equal(stacked, many[name].transpose("source", ...).values, err_msg=name)
    for i in range(0, len(positions), 97):
        xr.testing.assert_identical(singles[i], many.isel(source=i))
    return many


def test_many_positions_equal_single_calls():
    ds = _read("fm_excess.fits")
    positions = _random_positions(1000, (-0.9, 0.9), (-0.55, 0.55)).icrs  # another frame than the map's
    many = _assert_same_as_single_calls(ds, positions, "nearest")
    assert np.isnan(many.norm).any() and np.isfinite(many.norm).any()  # some off the 1.6 x 1 deg map


def test_many_positions_equal_single_calls_linear():
    ds = _read("fm_ts.fits")  # with per-pixel scans and a GTI
    positions = _random_positions(150, (-0.35, 0.35), (-0.28, 0.28), seed=1)
    many = _assert_same_as_single_calls(ds, positions, "linear")
    assert many.stat_scan.dims == ("source", "energy", "scan")
    assert np.isnan(many.norm).any() and np.isfinite(many.norm).any()


def test_off_map_positions():
    ds = _read("fm_excess.fits")
    positions = SkyCoord([0.0, 5.0, 180.0], [0.0, 0.0, 0.0], unit="deg", frame="galactic")
    with pytest.warns(OffMapWarning, match="2 of 3 positions"):
        fp = ds.sed.get_flux_points(positions, names=["in", "east", "anticentre"])
    assert np.isfinite(fp.norm.sel(source="in")).all()
    assert np.isnan(fp.norm.sel(source=["east", "anticentre"])).all()
    assert np.isnan(fp.sed.dnde.sel(source="east")).all()
    assert not fp.is_ul.sel(source="east").any()  # booleans: False off the map
    with pytest.raises(fluxds.SchemaError, match="anticentre"):
        ds.sed.get_flux_points(positions, names=["in", "east", "anticentre"], off_map="raise")


def _map(projection: str, frame: str, plane: bool = False, shape=(3, 40, 50)) -> xr.Dataset:
    w = WCS(naxis=2)
    names = {"galactic": ("GLON", "GLAT"), "icrs": ("RA--", "DEC-")}[frame]
    w.wcs.ctype = [f"{names[0]}-{projection}", f"{names[1]}-{projection}"]
    w.wcs.crval = [266.4, -28.9] if frame == "icrs" else [10.0, 0.0]
    w.wcs.crpix = [shape[2] / 2 + 0.5, shape[1] / 2 + 0.5]
    w.wcs.cdelt = [-0.05, 0.05] if projection != "AIT" else [-6.0, 6.0]
    rng = np.random.default_rng(7)
    if plane:  # linear in the pixel coordinates: bilinear interpolation reproduces it exactly
        e, y, x = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
        norm = 0.3 * x - 0.7 * y + 2 * e + 1.5
    else:
        norm = rng.normal(1, 0.3, shape)
    ds = fluxds.from_sed(
        "likelihood",
        {"norm": norm, "ts": rng.uniform(0, 25, shape), "is_ul": rng.random(shape) < 0.3},
        dims=("energy", "lat", "lon"),
        energy_min=np.geomspace(0.1, 10, shape[0] + 1)[:-1] * u.TeV,
        energy_max=np.geomspace(0.1, 10, shape[0] + 1)[1:] * u.TeV,
        reference_model=default_reference_model(),
    )
    return assign_wcs(ds, w)


@pytest.mark.parametrize(("projection", "frame"), [("CAR", "galactic"), ("TAN", "icrs"), ("AIT", "galactic")])
def test_nearest_pixel_any_projection(projection, frame):
    ds = _map(projection, frame)
    wcs = wcs_of(ds)
    ny, nx = ds.sizes["lat"], ds.sizes["lon"]
    x = np.random.default_rng(2).uniform(0, nx - 1, 300)
    y = np.random.default_rng(3).uniform(0, ny - 1, 300)
    lon, lat = wcs.pixel_to_world_values(x, y)
    inside = np.isfinite(lon)
    positions = SkyCoord(lon[inside], lat[inside], unit="deg", frame=frame)
    other = positions.transform_to("fk5" if frame == "galactic" else "galactic")
    fp = get_flux_points(ds, other)
    iy, ix = wcs.world_to_array_index(positions)  # astropy's own nearest pixel
    want = ds.norm.values[:, iy, ix].T
    np.testing.assert_array_equal(fp.norm.values, want)
    np.testing.assert_array_equal(fp.is_ul.values, ds.is_ul.values[:, iy, ix].T)
    np.testing.assert_allclose(fp.source_lon.values % 360, positions.spherical.lon.deg % 360, atol=1e-8)


@pytest.mark.parametrize(("projection", "frame"), [("CAR", "galactic"), ("TAN", "icrs")])
def test_bilinear_reproduces_a_plane(projection, frame):
    ds = _map(projection, frame, plane=True)
    wcs = wcs_of(ds)
    rng = np.random.default_rng(4)
    x, y = rng.uniform(0, ds.sizes["lon"] - 1, 100), rng.uniform(0, ds.sizes["lat"] - 1, 100)
    lon, lat = wcs.pixel_to_world_values(x, y)
    fp = get_flux_points(ds, SkyCoord(lon, lat, unit="deg", frame=frame), method="linear")
    e = np.arange(ds.sizes["energy"])
    want = 0.3 * x[:, None] - 0.7 * y[:, None] + 2 * e[None, :] + 1.5
    np.testing.assert_allclose(fp.norm.values, want, rtol=1e-9)
    assert fp.is_ul.dtype == bool  # booleans take the nearest pixel


def test_tan_map_far_side_is_off_the_map():
    ds = _map("TAN", "icrs")
    antipode = SkyCoord(266.4 - 180, 28.9, unit="deg", frame="icrs")
    with pytest.warns(OffMapWarning):
        fp = get_flux_points(ds, antipode)
    assert np.isnan(fp.norm).all()


def _healpix_map(nside=8, every=1) -> tuple[xr.Dataset, HEALPix]:
    hp = HEALPix(nside=nside, order="nested", frame="galactic")
    pixels = np.arange(0, hp.npix, every, dtype=np.int64)
    norm = np.stack([np.cos(pixels / 40.0) + 2, np.sin(pixels / 30.0) + 2])
    ds = fluxds.from_sed(
        "likelihood",
        {"norm": norm, "ts": norm * 4, "is_ul": norm < 2},
        dims=("energy", "pixel"),
        energy_min=[0.1, 1] * u.TeV,
        energy_max=[1, 10] * u.TeV,
        reference_model=default_reference_model(),
        coords={
            "pixel": ("pixel", pixels),
            "healpix": ((), 0, {"nside": nside, "order": "nested", "frame": "galactic", "region": ""}),
        },
    )
    return ds, hp


def test_healpix_nearest_and_bilinear():
    ds, hp = _healpix_map()
    positions = _random_positions(500, (0, 360), (-80, 80), seed=5).icrs
    fp = ds.sed.get_flux_points(positions)
    ipix = hp.skycoord_to_healpix(positions)
    np.testing.assert_array_equal(fp.norm.values, ds.norm.values[:, ipix].T)
    lin = ds.sed.get_flux_points(positions, method="linear")
    sky = positions.galactic
    index, weights = hp.bilinear_interpolation_weights(sky.l, sky.b)
    want = np.einsum("kn,ekn->ne", weights, ds.norm.values[:, index])
    np.testing.assert_allclose(lin.norm.values, want, rtol=1e-12)
    assert lin.sed.dnde.dims == ("source", "energy")


def test_healpix_partial_map_off_pixels():
    ds, hp = _healpix_map(every=2)  # even pixels only
    positions = _random_positions(200, (0, 360), (-60, 60), seed=6)
    ipix = hp.skycoord_to_healpix(positions)
    with pytest.warns(OffMapWarning):
        fp = ds.sed.get_flux_points(positions)
    present = ipix % 2 == 0
    assert np.isnan(fp.norm.values[~present]).all()
    np.testing.assert_array_equal(fp.norm.values[present], ds.norm.values[:, ipix[present] // 2].T)


def test_dask_backed_map_stays_lazy():
    eager = _read("fm_ts.fits")
    lazy = fluxds.io.wcs_map.read.read(WRITTEN / "fm_ts.fits", chunks={"lat": 3, "lon": 4})
    positions = _random_positions(50, (-0.25, 0.25), (-0.2, 0.2), seed=8)
    fp_lazy = lazy.sed.get_flux_points(positions, method="linear")
    assert hasattr(fp_lazy.norm.data, "dask") and hasattr(fp_lazy.stat_scan.data, "dask")
    xr.testing.assert_identical(fp_lazy.compute(), eager.sed.get_flux_points(positions, method="linear"))


def test_result_is_a_likelihood_sed(tmp_path):
    ds = _read("fm_ts.fits")
    positions = SkyCoord([0.0, 0.1, -0.1], [0.0, 0.05, -0.1], unit="deg", frame="galactic")
    fp = ds.sed.get_flux_points(positions, names=["A", "B", "C"])
    for name in ("norm_scan", "stat_scan", "ref_dnde", "ref_flux", "ts", "success", "gti_start", "npred"):
        assert name in fp, name
    assert fp.npred.dims == ("source", "energy", "dataset")  # per-dataset counts, as GADF/gammapy
    fp.sed.validate()
    fp.sed.write(tmp_path / "sed.fits")
    back = fluxds.read(tmp_path / "sed.fits")
    xr.testing.assert_identical(back, fp)  # positions included


def test_cutout_sed_reads_back_in_gammapy(tmp_path):
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxPoints

    cutout = _read("fm_excess.fits").isel(lat=slice(5, 15), lon=slice(10, 22))
    positions = SkyCoord([0.0, 0.1], [0.0, -0.05], unit="deg", frame="galactic")
    fp = cutout.sed.get_flux_points(positions, names=["centre", "east"])
    xr.testing.assert_identical(
        fp, _read("fm_excess.fits").sed.get_flux_points(positions, names=["centre", "east"])
    )
    fp.sed.write(tmp_path / "sed.fits")
    for name in ("centre", "east"):
        gp = FluxPoints.read(tmp_path / "sed.fits", table_format="fits", hdu=name.upper())
        np.testing.assert_allclose(gp.dnde.data.ravel(), fp.sed.dnde.sel(source=name).values, rtol=1e-12)
        np.testing.assert_allclose(gp.norm_ul.data.ravel(), fp.norm_ul.sel(source=name).values, rtol=1e-12)


def test_bad_arguments():
    ds = _read("fm_excess.fits")
    with pytest.raises(fluxds.SchemaError, match="method"):
        ds.sed.get_flux_points(SGR_A, method="cubic")
    with pytest.raises(fluxds.SchemaError, match="names"):
        ds.sed.get_flux_points(SkyCoord([0, 0.1], [0, 0], unit="deg", frame="galactic"), names=["a", "a"])
    with pytest.raises(fluxds.SchemaError, match="SkyCoord"):
        ds.sed.get_flux_points((0.0, 0.0))
    with pytest.raises(fluxds.SchemaError, match="flux map"):
        fluxds.read(WRITTEN / "fp_likelihood.fits").sed.get_flux_points(SGR_A)


def test_healpix_file_from_gammapy(expected):
    pytest.importorskip("fluxds.io.healpix_map.read")
    ds = fluxds.read(WRITTEN / "fm_hpx.fits")
    pixels = expected["fm_hpx.fits"]["pixels"]
    hp = HEALPix(nside=pixels["nside"], order="nested" if pixels["nest"] else "ring", frame=pixels["frame"])
    centres = hp.healpix_to_skycoord(np.array(pixels["healpix_ipix"]))
    fp = ds.sed.get_flux_points(centres.icrs)
    at = ds.isel(pixel=pixels["index_in_data"])
    np.testing.assert_array_equal(at.pixel.values, pixels["healpix_ipix"])
    np.testing.assert_array_equal(fp.norm.values, at.norm.values.T)
    np.testing.assert_array_equal(fp.sed.dnde.values, at.sed.dnde.values.T)
