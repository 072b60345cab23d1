"""netCDF in the reversible CF encoding: every kind of Dataset fluxds makes round-trips exactly through
both engines, and the file carries what CF tools look for."""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import pytest
import xarray as xr
from helpers import DATASET_KINDS, every_kind_of_dataset

import fluxds
from fluxds.io.cf.netcdf import write_netcdf


@pytest.mark.parametrize("kind", DATASET_KINDS)
@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_roundtrip_is_exact(tmp_path, kind, engine):
    ds = every_kind_of_dataset()[kind]
    path = tmp_path / f"{kind}.nc"
    write_netcdf(ds, path, engine=engine)
    xr.testing.assert_identical(fluxds.read(path), ds)


@pytest.mark.parametrize("kind", DATASET_KINDS)
def test_file_is_cf_shaped(tmp_path, kind):
    """The file holds what CF tools look for. With FLUXDS_NETCDF_OUT=DIR the files are kept there, for
    ../shared/tools/netcdf-clients-check.sh (the README's netCDF exchange check, run by CI)."""
    ds = every_kind_of_dataset()[kind]
    keep = os.environ.get("FLUXDS_NETCDF_OUT")
    path = (Path(keep) if keep else tmp_path) / f"{kind}.nc"
    ds.sed.write(path, overwrite=True)
    with netCDF4.Dataset(path) as nc:
        assert nc.getncattr("Conventions") == "CF-1.8"
        for name, var in nc.variables.items():
            attrs = var.ncattrs()
            assert "long_name" in attrs, name
            if "units" in attrs:
                assert var.getncattr("units") != "", name  # UDUNITS refuses an empty unit
            if name in ds.coords or name == "energy_bounds":
                assert "_FillValue" not in attrs, name
        if "energy_min" in ds.coords:
            assert nc.variables["energy"].getncattr("bounds") == "energy_bounds"
            assert nc.variables["energy_bounds"].shape == (ds.sizes["energy"], 2)
