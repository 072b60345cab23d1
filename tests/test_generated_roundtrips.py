"""Generated round trips (issue 7, item 1): every Dataset the strategies in ``strategies.py`` make goes
through every format that can hold it and comes back identical (values bit-exact, dims, coords, attrs,
dtypes: ``xr.testing.assert_identical``).

Profiles (hypothesis settings): ``ci`` (default, 120 examples per format, derandomized, about 1.5 min on
2 cores: the README's ``pytest`` must stay under 8 minutes), ``wide`` (250 per format, derandomized: the CI
profile until 2026-12) and ``thorough`` (10 000 per format in one hypothesis run per format)::

    FLUXDS_HYPOTHESIS=wide pytest -q -p no:cacheprovider tests/test_generated_roundtrips.py
    FLUXDS_HYPOTHESIS=thorough pytest -q -p no:cacheprovider tests/test_generated_roundtrips.py

The thorough figures in the docs come from ``tests/roundtrip_campaign.py``, the same check run in chunks
of independent seeds whose outcomes add up in a ledger (resumable, two processes at once).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from strategies import KINDS, datasets

import fluxds

settings.register_profile(
    "ci",
    max_examples=120,
    derandomize=True,  # CI tries the same 120 per format every run; the campaign explores new ones
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "wide",
    max_examples=250,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=10_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = os.environ.get("FLUXDS_HYPOTHESIS", "ci")

# format -> (file name, write options, kinds it holds)
FORMATS = {
    "gadf-sed-fits": ("x.fits", {}, ("sed", "sources")),
    "gadf-sed-ecsv": ("x.ecsv", {}, ("sed",)),
    "gadf-sed-hdf5": ("x.h5", {}, ("sed",)),
    "lightcurve-fits": ("x.fits", {}, ("lightcurve",)),
    "lightcurve-ecsv": ("x.ecsv", {}, ("lightcurve",)),
    "profile-fits": ("x.fits", {}, ("profile",)),
    "flux-map-fits": ("x.fits", {}, ("wcs_map",)),
    "healpix-map-fits": ("x.fits", {}, ("healpix_map",)),
    "netcdf4": ("x.nc", {"engine": "netcdf4"}, KINDS),
    "h5netcdf": ("x.nc", {"engine": "h5netcdf"}, KINDS),
    "zarr": ("x.zarr", {}, KINDS),
}


def _roundtrip(ds: xr.Dataset, fmt: str) -> xr.Dataset:
    name, options, _ = FORMATS[fmt]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "engine" in options:
                from fluxds.io.netcdf import write_netcdf

                write_netcdf(ds, path, **options)
            else:
                ds.sed.write(path)
            return fluxds.read(path).load()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_generated_roundtrip_is_identical(fmt):
    kinds = FORMATS[fmt][2]
    if fmt == "zarr":
        pytest.importorskip("zarr", reason="zarr is part of the test extra")

    @settings(settings.get_profile(PROFILE))
    @given(item=datasets(kinds=kinds))
    def check(item):
        _, ds = item
        xr.testing.assert_identical(_roundtrip(ds, fmt), ds)

    check()
