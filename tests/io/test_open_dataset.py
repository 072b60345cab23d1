"""fluxds.open_dataset and xr.open_dataset(engine="fluxds") with chunks: dask-backed, nothing read early."""

from __future__ import annotations

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from helpers import DATA, GAMMAPY_DATA, WRITTEN, CountingScheduler

import fluxds


@pytest.mark.parametrize("opener", ["fluxds", "xarray"])
def test_map_opens_lazily(opener):
    path = WRITTEN / "fm_excess.fits"
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        if opener == "fluxds":
            ds = fluxds.open_dataset(path, chunks={"lat": 10})
        else:
            ds = xr.open_dataset(path, engine="fluxds", chunks={"lat": 10})
        assert isinstance(ds["norm"].data, da.Array)
        assert ds["norm"].data.chunks[ds["norm"].dims.index("lat")] == (10, 10)
        eflux = ds.sed.eflux_ul
        assert isinstance(eflux.data, da.Array) and counter.calls == 0
        values = eflux.values
    # fluxds's own graph computes once; xarray wraps the backend's dask arrays in its lazy adapter and
    # re-chunks them, so computing its graph also computes the inner ones (still nothing before .values)
    assert counter.calls == 1 if opener == "fluxds" else counter.calls >= 1
    np.testing.assert_array_equal(values, fluxds.read(path).sed.eflux_ul.values)


def test_netcdf_opens_lazily(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    ds.sed.write(tmp_path / "crab.nc")
    lazy = fluxds.open_dataset(tmp_path / "crab.nc", chunks={"energy": 2})
    assert isinstance(lazy["norm"].data, da.Array)
    xr.testing.assert_identical(lazy.load(), ds)


def test_other_formats_are_chunked_after_reading():
    lazy = fluxds.open_dataset(GAMMAPY_DATA / "crab_hess_fp.fits", chunks={"energy": 3})
    assert lazy["norm"].data.chunks == ((3, 2),)
    xr.testing.assert_identical(lazy.load(), fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits"))
    assert isinstance(fluxds.open_dataset(GAMMAPY_DATA / "crab_hess_fp.fits")["norm"].data, np.ndarray)


@pytest.mark.parametrize("sed_type", ["likelihood", "dnde", "e2dnde", "flux", "eflux"])
def test_healpix_map_opens_lazily(tmp_path, sed_type):
    """A HEALPix map of any SED type (without stored norms: they are derived lazily) opens with nothing
    computed, and loads bit-identical to the eager read."""
    from astropy.io import fits

    path = tmp_path / f"hpx_{sed_type}.fits"
    fluxds.read(WRITTEN / "fm_hpx.fits").sed.write(path, sed_type=sed_type)
    if sed_type != "likelihood":
        with fits.open(path) as hdul:  # keep only the columns of the SED type
            fits.HDUList([h for h in hdul if not h.name.startswith("NORM")]).writeto(tmp_path / "only.fits")
        path = tmp_path / "only.fits"
    eager = fluxds.read(path)
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        lazy = fluxds.open_dataset(path, chunks={"pixel": 16})
        assert isinstance(lazy["norm"].data, da.Array) and lazy["norm"].data.chunks[-1][0] == 16
        flux_ul = lazy.sed.get("flux_ul" if "norm_ul" in lazy else "flux")
        assert counter.calls == 0
        loaded = lazy.load()
    xr.testing.assert_identical(loaded, eager)
    np.testing.assert_array_equal(flux_ul.values, eager.sed.get(flux_ul.name).values)


def test_tscube_opens_lazily(tmp_path):
    """The SCANDATA of a TS cube (pixels x energy x scan: the bulk of the file) stays on disk until
    computed; an uncompressed copy is memory-mapped."""
    import gzip

    path = tmp_path / "tscube.fits"
    path.write_bytes(gzip.decompress((DATA / "gadf-spec" / "tscube_lowts.fits.gz").read_bytes()))
    eager = fluxds.read(path)
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        lazy = xr.open_dataset(path, engine="fluxds", chunks={"lat": 5})
        assert isinstance(lazy["stat_scan"].data, da.Array) and isinstance(lazy["norm"].data, da.Array)
        assert lazy["norm"].data.chunks[lazy["norm"].dims.index("lat")] == (5, 5, 5, 5)
        assert counter.calls == 0
        loaded = lazy.load()
    xr.testing.assert_identical(loaded, eager)


def test_nothing_computes_until_written(tmp_path):
    """Open lazily, convert, extract flux points and select: no dask computation; writing computes."""
    from astropy.coordinates import SkyCoord

    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        fm = fluxds.open_dataset(WRITTEN / "fm_excess.fits", chunks={"lat": 10})
        flux = fm.sed.to_sed_type("flux")
        seds = fm.sed.get_flux_points(SkyCoord([0.0, 0.1], [0.0, 0.0], unit="deg", frame="galactic"))
        dnde = seds.sed.dnde
        assert isinstance(flux["flux_ul"].data, da.Array) and isinstance(dnde.data, da.Array)
        assert counter.calls == 0
        fm.sed.write(tmp_path / "map.nc")
        assert counter.calls >= 1
    xr.testing.assert_identical(fluxds.read(tmp_path / "map.nc"), fluxds.read(WRITTEN / "fm_excess.fits"))
