"""The fast paths of ``get_flux_points`` (issue 16): positions already in the map's frame, numpy fancy
indexing of in-memory maps, and the WCS lookups of a Dataset or a DataArray. Each is checked against an
independent computation (astropy's own transform, numpy indexing by hand, xarray's indexing of a
dask-backed copy)."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import FK5, SkyCoord
from astropy.wcs import WCS

import fluxds
from fluxds.maps import get_flux_points
from fluxds.models import default_reference_model
from fluxds.wcs import assign_wcs, cached_wcs, is_wcs_map, wcs_of


def _map(frame: str = "galactic", shape=(4, 30, 40), seed: int = 0) -> xr.Dataset:
    """A CAR likelihood map with a float, an integer, a boolean and a per-dataset variable."""
    w = WCS(naxis=2)
    w.wcs.ctype = {"galactic": ["GLON-CAR", "GLAT-CAR"], "fk5": ["RA---CAR", "DEC--CAR"]}[frame]
    if frame == "fk5":
        w.wcs.radesys, w.wcs.equinox = "FK5", 2000.0
    w.wcs.crval = [0.0, 0.0]
    w.wcs.crpix = [shape[2] / 2 + 0.5, shape[1] / 2 + 0.5]
    w.wcs.cdelt = [-0.1, 0.1]
    rng = np.random.default_rng(seed)
    ds = fluxds.from_sed(
        "likelihood",
        {
            "norm": rng.normal(1, 0.3, shape),
            "ts": rng.uniform(0, 25, shape),
            "is_ul": rng.random(shape) < 0.3,
            "npred": rng.integers(0, 50, shape),
        },
        dims=("energy", "lat", "lon"),
        energy_min=np.geomspace(0.1, 10, shape[0] + 1)[:-1] * u.TeV,
        energy_max=np.geomspace(0.1, 10, shape[0] + 1)[1:] * u.TeV,
        reference_model=default_reference_model(),
    )
    return assign_wcs(ds, w)


def _inside(ds: xr.Dataset, n: int, frame: str, seed: int = 1) -> SkyCoord:
    """``n`` positions on the map, from random pixel coordinates."""
    wcs = wcs_of(ds)
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(0, ds.sizes["lon"] - 1, n), rng.uniform(0, ds.sizes["lat"] - 1, n)
    lon, lat = wcs.pixel_to_world_values(x, y)
    return SkyCoord(lon, lat, unit="deg", frame=frame)


@pytest.mark.parametrize("frame", ["galactic", "fk5"])
def test_positions_in_the_map_frame_as_astropy_transforms_them(frame):
    """No transform of positions already in a Galactic map's frame; FK5 -> FK5 (a precession between
    equal equinoxes, not exactly the identity) still transformed: source_lon/lat are astropy's numbers."""
    ds = _map(frame)
    positions = _inside(ds, 50, frame)
    fp = get_flux_points(ds, positions)
    target = FK5(equinox="J2000") if frame == "fk5" else positions.frame
    want = positions.transform_to(target).spherical
    np.testing.assert_array_equal(fp.source_lon.values, want.lon.deg)
    np.testing.assert_array_equal(fp.source_lat.values, want.lat.deg)
    # and the same flux points as the positions given in another frame
    other = positions.transform_to("icrs" if frame == "galactic" else "galactic")
    xr.testing.assert_allclose(
        get_flux_points(ds, other).drop_vars(["source_lon", "source_lat"]),
        fp.drop_vars(["source_lon", "source_lat"]),
    )


def test_source_coordinates_do_not_share_memory_with_the_positions():
    ds = _map()
    positions = _inside(ds, 5, "galactic")
    fp = get_flux_points(ds, positions)
    assert not np.shares_memory(fp.source_lon.values, positions.data.lon.value)


def test_positions_in_radians_and_of_any_shape():
    ds = _map()
    positions = _inside(ds, 12, "galactic")
    in_rad = SkyCoord(positions.l.rad, positions.b.rad, unit="rad", frame="galactic").reshape((3, 4))
    fp = get_flux_points(ds, in_rad)
    np.testing.assert_allclose(fp.source_lon.values, positions.l.deg, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(fp.norm.values, get_flux_points(ds, positions).norm.values)


ORDERS = [("energy", "lat", "lon"), ("lon", "lat", "energy"), ("lat", "energy", "lon")]


@pytest.mark.parametrize("method", ["nearest", "linear"])
@pytest.mark.parametrize("order", ORDERS)
def test_numpy_path_equals_xarray_indexing_of_a_dask_copy(method, order):
    """In-memory maps (numpy fancy indexing) and dask-backed maps (xarray's vectorised indexing) give
    identical Datasets, whatever the order of the map's dims (adjacent or not), off-map positions too."""
    pytest.importorskip("dask")
    ds = _map().transpose(*order)
    ds["extra"] = (("lat", "lon", "scan"), np.random.default_rng(3).normal(size=(30, 40, 3)))
    positions = SkyCoord(
        np.r_[np.random.default_rng(4).uniform(-1.9, 1.9, 40), 30.0],
        np.r_[np.random.default_rng(5).uniform(-1.4, 1.4, 40), 0.0],
        unit="deg",
        frame="galactic",
    )
    with pytest.warns(fluxds.maps.OffMapWarning, match="1 of 41"):
        eager = get_flux_points(ds, positions, method=method)
    with pytest.warns(fluxds.maps.OffMapWarning, match="1 of 41"):
        lazy = get_flux_points(ds.chunk({"lat": 7, "lon": 9}), positions, method=method)
    assert hasattr(lazy.norm.data, "dask") and hasattr(lazy.extra.data, "dask")
    xr.testing.assert_identical(lazy.compute(), eager)
    assert eager.norm.dims == ("source", "energy") and eager.extra.dims == ("source", "scan")
    assert eager.npred.dims == ("source", "energy", "dataset")


def test_nearest_pixels_by_hand():
    """Numpy fancy indexing of the map at astropy's nearest pixels (an independent computation)."""
    ds = _map()
    positions = _inside(ds, 200, "galactic", seed=7)
    fp = get_flux_points(ds, positions)
    iy, ix = wcs_of(ds).world_to_array_index(positions)
    for name in ("norm", "ts", "is_ul"):
        np.testing.assert_array_equal(fp[name].values, ds[name].values[:, iy, ix].T, err_msg=name)
        assert fp[name].dtype == ds[name].dtype
    np.testing.assert_array_equal(fp.npred.values[..., 0], ds.npred.values[:, iy, ix].T)
    one = get_flux_points(ds, positions[3])
    assert one.norm.dims == ("energy",)
    np.testing.assert_array_equal(one.norm.values, ds.norm.values[:, iy[3], ix[3]])


def test_variables_a_backend_reads_lazily_stay_unread(tmp_path):
    """A map opened without dask: the variables are read at the positions only when asked for, never
    whole by get_flux_points."""
    ds = _map()
    ds.drop_vars("wcs").to_netcdf(tmp_path / "map.nc")
    with xr.open_dataset(tmp_path / "map.nc") as opened:
        lazy = opened.assign_coords(wcs=ds.wcs)
        positions = _inside(ds, 20, "galactic")
        fp = get_flux_points(lazy, positions)
        assert not lazy.variables["norm"]._in_memory  # not loaded whole
        np.testing.assert_array_equal(fp.norm.values, get_flux_points(ds, positions).norm.values)


def test_wcs_lookups_of_a_dataarray_and_a_cutout():
    ds = _map()
    assert is_wcs_map(ds) and not is_wcs_map(ds.drop_vars("wcs"))
    assert cached_wcs(ds.norm) is cached_wcs(ds)
    cut = ds.isel(lat=slice(5, 20), lon=slice(8, 30))
    assert cached_wcs(cut.norm).wcs.crpix[0] == wcs_of(ds).wcs.crpix[0] - 8
    assert cached_wcs(cut).wcs.crpix[1] == wcs_of(ds).wcs.crpix[1] - 5
    with pytest.raises(fluxds.SchemaError, match="contiguous"):
        cached_wcs(ds.norm.isel(lon=[0, 2, 4]))
