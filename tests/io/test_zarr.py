"""zarr stores: every kind of Dataset round-trips exactly (same CF encoding as netCDF), reads lazily,
and writes atomically."""

from __future__ import annotations

import warnings

import dask.array as da
import pytest
import xarray as xr
from helpers import DATASET_KINDS, every_kind_of_dataset

import fluxds
import fluxds.io

pytest.importorskip("zarr")


@pytest.fixture(autouse=True)
def _quiet_zarr():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr v3's notes on string dtypes and consolidated metadata
        yield


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_roundtrip_is_exact(tmp_path, kind):
    ds = every_kind_of_dataset()[kind]
    path = tmp_path / f"{kind}.zarr"
    ds.sed.write(path)
    assert fluxds.io.detect_format(path) == "zarr"
    xr.testing.assert_identical(fluxds.read(path), ds)


def test_lazy_open(tmp_path):
    ds = every_kind_of_dataset()["wcs_map"]
    path = tmp_path / "map.zarr"
    ds.sed.write(path)
    lazy = fluxds.open_dataset(path, chunks={"energy": 1})
    assert isinstance(lazy["norm"].data, da.Array)
    xr.testing.assert_identical(lazy.load(), ds)


def test_overwrite_and_atomic_replace(tmp_path):
    sed = every_kind_of_dataset()["sed"]
    path = tmp_path / "sed.zarr"
    sed.sed.write(path)
    with pytest.raises(fluxds.OverwriteError, match="exists; pass overwrite=True"):
        sed.sed.write(path)
    other = every_kind_of_dataset()["sed_eref_only"]
    other.sed.write(path, overwrite=True)
    xr.testing.assert_identical(fluxds.read(path), other)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sed.zarr"]  # no temporary left behind


def test_not_a_store(tmp_path):
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(fluxds.UnknownFormatError, match="not a zarr store"):
        fluxds.read(tmp_path / "empty.zarr")
