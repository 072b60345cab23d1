"""Many fluxds netCDF files as one lazy Dataset: per-night light curves along time, per-source SEDs along
source; ds.sed works on the result."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from astropy.coordinates import SkyCoord
from helpers import WRITTEN

import fluxds


def test_nights_combine_along_time(tmp_path):
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    paths = []
    for i in range(lc.sizes["time"]):
        path = tmp_path / f"night{i}.nc"
        lc.isel(time=[i]).sed.write(path)
        paths.append(path)
    combined = fluxds.open_mfdataset(paths[::-1])  # any order: combined by the time coordinate
    assert isinstance(combined["norm"].data, da.Array)
    flux = combined.sed.flux_ul
    assert isinstance(flux.data, da.Array)
    np.testing.assert_array_equal(flux.values, lc.sed.flux_ul.values)
    xr.testing.assert_identical(combined.load(), lc)


def test_differing_shared_variables_raise(tmp_path):
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    first, second = lc.isel(time=[0], gti=[0]), lc.isel(time=[1], gti=[1])  # each night its own GTI
    first.sed.write(tmp_path / "a.nc")
    second.sed.write(tmp_path / "b.nc")
    with pytest.raises(fluxds.FormatError, match="cannot open and combine"):
        fluxds.open_mfdataset([tmp_path / "a.nc", tmp_path / "b.nc"])
    combined = fluxds.open_mfdataset(
        [tmp_path / "a.nc", tmp_path / "b.nc"], drop_variables=["gti_start", "gti_stop"]
    )
    np.testing.assert_array_equal(combined.sed.dnde.values, lc.isel(time=[0, 1]).sed.dnde.values)


def test_sources_combine_along_source(tmp_path):
    fm = fluxds.read(WRITTEN / "fm_excess.fits")
    positions = SkyCoord([0.0, 0.1, -0.1], [0.0, 0.0, 0.05], unit="deg", frame="galactic")
    seds = fm.sed.get_flux_points(positions, names=["a", "b", "c"])
    paths = []
    for name in ["a", "b", "c"]:
        path = tmp_path / f"{name}.nc"
        seds.sel(source=name).sed.write(path)
        paths.append(path)
    combined = fluxds.open_mfdataset(paths, concat_dim="source")
    assert list(combined.source.values) == ["a", "b", "c"]
    np.testing.assert_array_equal(combined.source_lon.values, seds.source_lon.values)
    for name in ("dnde", "flux_ul", "e2dnde_err", "sqrt_ts"):
        np.testing.assert_array_equal(combined.sed.get(name).values, seds.sed.get(name).values)
