"""Issue 13, items 5-7: the conventions fluxds shares with (or states against) gammapy 2.1.

- item 5, pixel ties: a position on the edge between two WCS pixels takes the pixel of lower index, as
  gammapy's ``FluxMaps.get_flux_points`` (scipy's ``RegularGridInterpolator``, ``method="nearest"``);
  a position on a HEALPix pixel corner or edge takes healpy's pixel (gammapy's ``ang2pix``);
- item 6, ``sqrt_ts`` of a failed fit: NaN (its sign is unknown), while ``is_ul`` is True as in gammapy;
- item 7, ``ts_profile = stat_null - stat_scan`` (was ``ts_scan``, now a deprecated alias: gammapy's
  ``ts_scan`` is ``stat_scan - stat``).
"""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from helpers import WRITTEN

import fluxds
import fluxds.healpix
import fluxds.profiles
import fluxds.wcs
from fluxds.models import PowerLaw

DATA = WRITTEN


# --- item 5: pixel ties -------------------------------------------------------------------------------


def _gammapy_maps(name: str, monkeypatch):
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxMaps

    monkeypatch.chdir(DATA)  # gammapy resolves the MODEL keyword against the current directory
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FluxMaps.read(name)


@pytest.mark.parametrize("name", ["fm_ts.fits", "fm_excess.fits"])
def test_pixel_tie_at_centre_of_even_map_matches_gammapy(name, monkeypatch):
    gp = _gammapy_maps(name, monkeypatch)
    centre = gp.geom.center_skydir  # gammapy's default position
    x, y = gp.geom.to_image().coord_to_pix(centre)
    assert float(x[0]) % 1 == 0.5 and float(y[0]) % 1 == 0.5  # an exact tie on both axes
    ds = fluxds.read(DATA / name)
    ours = ds.sed.get_flux_points(centre)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gp.get_flux_points(centre)
    for quantity in ("norm", "norm_err", "ts", "sqrt_ts", "dnde", "flux"):
        mine = ours.sed.get(quantity)
        unit = u.Unit(mine.attrs.get("units", ""))
        np.testing.assert_allclose(
            mine.values.ravel(),
            getattr(theirs, quantity).quantity.to_value(unit).ravel(),
            rtol=1e-6,  # float32 images, reference fluxes integrated by each package
            err_msg=f"{name}: {quantity}",
        )
    # and by hand: the pixel of lower index on both axes (x 5.5 -> 5, y 4.5 -> 4 for fm_ts)
    iy, ix = int(np.ceil(float(y[0]) - 0.5)), int(np.ceil(float(x[0]) - 0.5))
    np.testing.assert_array_equal(ours.norm.values, ds.norm.isel(lat=iy, lon=ix).values)


def test_pixel_edges_match_gammapy(monkeypatch):
    """Inner edges, corners and the map's outer edges, against gammapy's get_flux_points."""
    gp = _gammapy_maps("fm_ts.fits", monkeypatch)
    ds = fluxds.read(DATA / "fm_ts.fits")
    ny, nx = ds.sizes["lat"], ds.sizes["lon"]
    # inner edges on x, on y, corners; the lower and upper outer edges on y (lat -0.25 and +0.25 deg)
    px = np.array([0.5, 3.5, 2.0, 4.5, 10.5, 0.0, 5.5, 4.0, 3.0])
    py = np.array([2.0, 0.5, 3.5, 6.5, 8.5, -0.5, ny - 0.5, 7.5, 4.5])
    positions = gp.geom.to_image().pix_to_coord((px, py))
    sky = SkyCoord(positions[0], positions[1], frame="galactic")
    gx, gy = gp.geom.to_image().coord_to_pix(sky)
    np.testing.assert_array_equal(gx, px)  # the positions are exact ties (the round trip is exact)
    np.testing.assert_array_equal(gy, py)
    ours = ds.sed.get_flux_points(sky)
    # what gammapy's get_flux_points does for each position (to_region_nd_map -> interp_by_coord
    # "nearest"), for all positions in one call; the first one also through get_flux_points itself
    energy = gp.norm.geom.axes["energy"].center
    theirs = gp.norm.interp_by_coord({"skycoord": sky[:, None], "energy": energy[None, :]}, method="nearest")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(theirs[0], gp.get_flux_points(sky[0]).norm.data.ravel())
    np.testing.assert_allclose(ours.norm.transpose("source", "energy").values, theirs, rtol=1e-7)
    # the rule, by hand: pixel k holds (k - 1/2, k + 1/2]; the outer edges belong to the border pixels
    ix = np.clip(np.ceil(px - 0.5), 0, nx - 1).astype(int)
    iy = np.clip(np.ceil(py - 0.5), 0, ny - 1).astype(int)
    expected = ds.norm.values[:, iy, ix].T
    np.testing.assert_array_equal(ours.norm.transpose("source", "energy").values, expected)


def test_pixel_ties_without_gammapy():
    """A hand-made 4x4 CAR map whose pixel (iy, ix) holds 10 * iy + ix: ties go to the lower index."""
    from astropy.wcs import WCS

    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    wcs.wcs.crval = [0.0, 0.0]
    wcs.wcs.crpix = [2.5, 2.5]  # the map centre (l, b) = (0, 0) is the corner of four pixels
    wcs.wcs.cdelt = [-0.5, 0.5]
    iy, ix = np.mgrid[0:4, 0:4]
    pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        (10.0 * iy + ix)[np.newaxis] + 1.0,
        energy_min=[1.0] * u.TeV,
        energy_max=[10.0] * u.TeV,
        reference_model=pl,
        dims=("energy", "lat", "lon"),
    )
    ds = fluxds.wcs.assign_wcs(ds, wcs)
    # (0, 0) is x = y = 1.5: pixel (1, 1); l = -0.25 is x = 2 exactly; b = 0.75 is y = 3 exactly
    where = SkyCoord([0.0, -0.25, 0.0, 0.75], [0.0, 0.0, 0.75, -0.25], unit="deg", frame="galactic")
    norm = ds.sed.get_flux_points(where).norm.values.ravel()
    np.testing.assert_array_equal(norm, [1.0 + 11, 1.0 + 12, 1.0 + 31, 1.0 + 10 * 1 + 0])


@pytest.mark.parametrize("order", ["ring", "nested"])
def test_healpix_ties_match_gammapy(order):
    """Positions on HEALPix pixel corners and edges (round numbers on the Galactic plane), where
    astropy-healpix and healpy (gammapy's ang2pix) disagree: fluxds takes healpy's pixel, as gammapy."""
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxMaps
    from gammapy.maps import HpxGeom, Map, MapAxis
    from gammapy.modeling.models import PowerLawSpectralModel

    nside = 16
    energy = MapAxis.from_energy_edges([1.0, 10.0] * u.TeV)
    geom = HpxGeom.create(nside=nside, nest=order == "nested", frame="galactic", axes=[energy])
    index = np.arange(12 * nside**2, dtype=float)
    gmap = Map.from_geom(geom, data=index[np.newaxis] + 1.0)  # each pixel holds its index + 1
    model = PowerLawSpectralModel(index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    gp = FluxMaps.from_maps({"norm": gmap}, reference_model=model, sed_type="likelihood")
    pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        index[np.newaxis] + 1.0,
        energy_min=[1.0] * u.TeV,
        energy_max=[10.0] * u.TeV,
        reference_model=pl,
        dims=("energy", "pixel"),
    )
    ds = fluxds.healpix.assign_healpix(ds, nside, order=order, frame="galactic")
    # corners on the plane (b = 0 at l = k * 22.5 deg), on b = +-30 deg, the map centre (0, 0)
    lon = np.array([22.5, 45.0, 90.0, 202.5, 315.0, 0.0, 112.5, 180.0, 0.0])
    lat = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 30.0, -30.0, 30.0, 0.0])
    sky = SkyCoord(lon, lat, unit="deg", frame="galactic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = np.array([gp.get_flux_points(s).norm.data.ravel()[0] for s in sky])
    ours = ds.sed.get_flux_points(sky).norm.values.ravel()
    np.testing.assert_array_equal(ours, theirs)
    # these are ties: astropy-healpix (fluxds before) puts most of them in another pixel
    from astropy_healpix import HEALPix

    other = HEALPix(nside=nside, order=order, frame="galactic").skycoord_to_healpix(sky) + 1.0
    assert (other != theirs).sum() >= 6
    # the public lookup agrees (positions along `pixel` of an all-sky map are the indices)
    np.testing.assert_array_equal(fluxds.healpix.pixel_positions(ds, sky) + 1.0, theirs)


def test_healpix_pixel_of_position_equals_healpy():
    """lonlat_to_pixel against healpy's ang2pix itself (gammapy's conversion of degrees to theta, phi), on
    pixel corners and edges, poles, random positions, nside 1 to 2**29, both orderings."""
    hp = pytest.importorskip("healpy")
    from astropy_healpix import HEALPix

    rng = np.random.default_rng(13)
    for nside in (1, 4, 64, 2**29):
        for order in ("ring", "nested"):
            lon, lat = [rng.uniform(0, 360, 3000)], [np.degrees(np.arcsin(rng.uniform(-1, 1, 3000)))]
            lon.append(rng.uniform(-720, 720, 500))
            lat.append(rng.uniform(89.9, 90, 500) * rng.choice([-1, 1], 500))
            grid_lon, grid_lat = np.meshgrid(np.arange(0, 360, 7.5), np.arange(-90, 90.1, 7.5))
            lon.append(grid_lon.ravel())
            lat.append(grid_lat.ravel())
            if nside <= 64:  # points on pixel edges, from their boundaries
                edge_lon, edge_lat = HEALPix(nside=nside, order=order).boundaries_lonlat(
                    rng.integers(0, 12 * nside**2, 300), step=3
                )
                lon.append(edge_lon.to_value(u.deg).ravel())
                lat.append(edge_lat.to_value(u.deg).ravel())
            lon, lat = np.concatenate(lon), np.concatenate(lat)
            theta = np.pi / 2 - (lat * u.deg).to_value(u.rad)
            expected = hp.ang2pix(nside, theta, (lon * u.deg).to_value(u.rad), nest=order == "nested")
            got = fluxds.healpix.lonlat_to_pixel(lon, lat, nside=nside, order=order)
            np.testing.assert_array_equal(got, expected, err_msg=f"nside {nside} {order}")
    assert fluxds.healpix.lonlat_to_pixel(np.nan, 0.0, nside=4, order="ring") == -1


# --- item 6: sqrt_ts and is_ul of failed fits ----------------------------------------------------------


def _failed_bins(with_ul: bool):
    """The same four bins as a fluxds Dataset and a gammapy FluxPoints (built from a table, independently)."""
    pytest.importorskip("gammapy")
    from astropy.table import Table
    from gammapy.estimators import FluxPoints
    from gammapy.modeling.models import PowerLawSpectralModel

    e_min, e_max = np.array([1.0, 2.0, 4.0, 8.0]), np.array([2.0, 4.0, 8.0, 16.0])
    norm = np.array([1.2, 0.8, -0.3, 0.5])
    ts = np.array([25.0, 16.0, 9.0, 1.0])
    success = np.array([True, False, False, True])
    columns = {"norm_err": [0.1, 0.2, 0.2, 0.4], "ts": ts, "success": success}
    if with_ul:
        columns["norm_ul"] = [1.4, 1.3, 0.2, 1.3]
    table = Table(
        {"e_min": e_min * u.TeV, "e_max": e_max * u.TeV, "norm": norm, **columns},
        meta={"SED_TYPE": "likelihood"},
    )
    model = PowerLawSpectralModel(index=2.0, amplitude="1e-12 cm-2 s-1 TeV-1", reference="1 TeV")
    gp = FluxPoints.from_table(table, sed_type="likelihood", reference_model=model)
    pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        norm, energy_min=e_min * u.TeV, energy_max=e_max * u.TeV, reference_model=pl, **columns
    )
    return ds, gp, ts, norm, success


def test_is_ul_of_failed_fits_equals_gammapy():
    ds, gp, ts, norm, success = _failed_bins(with_ul=True)
    expected = np.sqrt(ts) < 2.0  # the sqrt_ts threshold, for the bins that converged
    expected[~success] = True  # a failed fit is an upper limit: only its limit can be shown
    np.testing.assert_array_equal(ds.sed.is_ul.values, expected)
    np.testing.assert_array_equal(ds.sed.is_ul.values, gp.is_ul.data.ravel())


def test_is_ul_without_ts_uses_the_filtered_norm_as_gammapy():
    ds, gp, *_ = _failed_bins(with_ul=False)
    ds = ds.drop_vars("ts")
    gp._data.pop("ts")
    np.testing.assert_array_equal(ds.sed.is_ul.values, [False, True, True, False])
    np.testing.assert_array_equal(ds.sed.is_ul.values, gp.is_ul.data.ravel())


def test_sqrt_ts_of_failed_fits_is_nan():
    """The documented difference: gammapy's NaN comparison gives -sqrt(ts) whatever the fit found."""
    ds, gp, ts, norm, success = _failed_bins(with_ul=True)
    ours = ds.sed.sqrt_ts.values
    np.testing.assert_array_equal(ours[success], (np.sign(norm) * np.sqrt(ts))[success])
    assert np.isnan(ours[~success]).all()
    theirs = gp.sqrt_ts.data.ravel()
    np.testing.assert_array_equal(theirs[success], ours[success])
    np.testing.assert_array_equal(theirs[~success], -np.sqrt(ts[~success]))  # gammapy: always negative
    # without the success filter both take the stored norm's sign
    gp.filter_success_nan = False
    sqrt_ts = ds.sed.get("sqrt_ts", filter_success=False).values
    np.testing.assert_array_equal(sqrt_ts, np.sign(norm) * np.sqrt(ts))
    np.testing.assert_array_equal(sqrt_ts, gp.sqrt_ts.data.ravel())
    np.testing.assert_array_equal(ds.sed.get("is_ul", filter_success=False).values, gp.is_ul.data.ravel())


def test_sqrt_ts_helper_nan_norm_is_nan():
    from fluxds.profiles.significance import sqrt_ts

    ts, norm = np.array([9.0, 4.0, 16.0]), np.array([1.0, -2.0, np.nan])
    np.testing.assert_array_equal(sqrt_ts(ts, norm), [3.0, -2.0, np.nan])
    out = sqrt_ts(xr.DataArray(ts, dims="energy"), xr.DataArray(norm, dims="energy"))
    np.testing.assert_array_equal(out.values, [3.0, -2.0, np.nan])


def test_sqrt_ts_of_failed_fits_stays_lazy():
    da = pytest.importorskip("dask.array")
    ds, *_ = _failed_bins(with_ul=True)
    lazy = ds.chunk({"energy": 2})
    out = lazy.sed.sqrt_ts
    assert isinstance(out.data, da.Array)
    np.testing.assert_array_equal(out.values, ds.sed.sqrt_ts.values)


# --- item 7: ts_profile (formerly ts_scan) ------------------------------------------------------------


def _profile_dataset() -> xr.Dataset:
    return xr.Dataset(
        {
            "stat_scan": (("energy", "scan"), [[7.0, 4.0, 6.0], [2.5, 3.0, 5.5]]),
            "stat_null": ("energy", [10.0, 3.5]),
            "stat": ("energy", [4.0, 2.5]),
        }
    )


def test_ts_profile_hand_calculation():
    ds = _profile_dataset()
    out = fluxds.profiles.ts_profile(ds)
    # stat_null - stat_scan: 10 - (7, 4, 6) and 3.5 - (2.5, 3, 5.5)
    np.testing.assert_array_equal(out.values, [[3.0, 6.0, 4.0], [1.0, 0.5, -2.0]])
    assert out.name == "ts_profile" and out.dims == ("energy", "scan")
    # gammapy's ts_scan is stat_scan - stat: (3, 0, 2) and (0, 0.5, 3); ts_profile = ts - that
    gammapy_ts_scan = np.array([[3.0, 0.0, 2.0], [0.0, 0.5, 3.0]])
    ts = np.array([[6.0], [1.0]])  # stat_null - stat
    np.testing.assert_array_equal(out.values, ts - gammapy_ts_scan)


def test_ts_scan_is_a_deprecated_alias():
    ds = _profile_dataset()
    with pytest.warns(DeprecationWarning, match="ts_profile"):
        old = fluxds.profiles.ts_scan(ds)
    with pytest.warns(DeprecationWarning, match="stat_scan - stat"):
        old_accessor = ds.sed.ts_scan()
    expected = [[3.0, 6.0, 4.0], [1.0, 0.5, -2.0]]
    np.testing.assert_array_equal(old.values, expected)
    np.testing.assert_array_equal(old_accessor.values, expected)
    np.testing.assert_array_equal(ds.sed.ts_profile().values, expected)


def test_ts_profile_against_gammapy_ts_scan():
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxPoints

    path = DATA / "fp_likelihood.fits"
    ds = fluxds.read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp = FluxPoints.read(path)
    theirs = np.squeeze(gp.ts_scan.data)  # stat_scan - stat, (energy, scan)
    ts = (ds.stat_null - ds.stat).values[:, np.newaxis]
    np.testing.assert_allclose(ds.sed.ts_profile().values, ts - theirs, rtol=0, atol=1e-9)
