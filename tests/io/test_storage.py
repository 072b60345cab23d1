"""Compression and chunking of written netCDF/zarr files (fluxds.io.cf.storage): what the file itself says
(netCDF4's filters and chunking, zarr's array metadata) against the documented rule, user overrides, and
dask-backed writes keeping their dask chunks."""

from __future__ import annotations

import astropy.units as u
import netCDF4
import numpy as np
import pytest
import xarray as xr
from astropy.wcs import WCS

import fluxds
from fluxds.models import PowerLaw
from fluxds.wcs import assign_wcs


def _map(n: int = 300, n_energy: int = 3) -> xr.Dataset:
    rng = np.random.default_rng(1)
    shape = (n_energy, n, n)
    w = WCS(naxis=2)
    w.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    w.wcs.crpix = [n / 2, n / 2]
    w.wcs.cdelt = [-0.02, 0.02]
    edges = np.geomspace(1, 10, n_energy + 1) * u.TeV
    ds = fluxds.from_likelihood(
        rng.lognormal(0, 0.3, shape),
        dims=("energy", "lat", "lon"),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV),
        ts=rng.uniform(0, 25, shape),
    )
    return assign_wcs(ds, w)


def test_netcdf_map_is_compressed_and_chunked(tmp_path):
    ds = _map()
    path = tmp_path / "m.nc"
    fluxds.write(ds, path)
    with netCDF4.Dataset(path) as nc:
        norm = nc.variables["norm"]
        assert norm.filters()["zlib"] and norm.filters()["shuffle"] and norm.filters()["complevel"] == 1
        assert norm.dimensions == ("energy", "iy", "ix")
        assert norm.chunking() == [3, 256, 256]  # energy whole, 256 x 256 pixels
        small = nc.variables["ref_dnde"]  # 3 values: stored plain
        assert not small.filters()["zlib"] and small.chunking() == "contiguous"
    xr.testing.assert_identical(fluxds.read(path), ds)


def test_netcdf_encoding_override(tmp_path):
    ds = _map(n=260)
    path = tmp_path / "m.nc"
    fluxds.write(ds, path, encoding={"norm": {"zlib": False, "shuffle": False}, "ts": {"complevel": 9}})
    with netCDF4.Dataset(path) as nc:
        assert not nc.variables["norm"].filters()["zlib"]
        assert nc.variables["ts"].filters()["complevel"] == 9
        assert nc.variables["ts"].filters()["shuffle"]  # the other defaults stay
    xr.testing.assert_identical(fluxds.read(path), ds)


@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_dask_write_keeps_dask_chunks(tmp_path, engine):
    ds = _map(n=300).chunk({"energy": 1, "lat": 100, "lon": 150})
    path = tmp_path / "m.nc"
    before = netCDF4.get_chunk_cache()
    fluxds.write(ds, path, engine=engine)
    assert netCDF4.get_chunk_cache() == before  # the write's smaller cache is not left behind
    with netCDF4.Dataset(path) as nc:
        assert nc.variables["norm"].chunking() == [1, 100, 150]
    np.testing.assert_array_equal(fluxds.read(path)["norm"].values, ds["norm"].values)


def test_zarr_uses_blosc_lz4(tmp_path):
    zarr = pytest.importorskip("zarr")
    ds = _map()
    path = tmp_path / "m.zarr"
    fluxds.write(ds, path)
    group = zarr.open_group(str(path), mode="r")
    norm = group["norm"]
    assert norm.chunks == (3, 256, 256)
    codecs = [type(c).__name__ for c in getattr(norm, "compressors", ())]
    assert codecs == ["BloscCodec"] and norm.compressors[0].cname.value == "lz4"
    xr.testing.assert_identical(fluxds.read(path), ds)
