"""Generated round trips (first slice of issue 7 item 1): hypothesis builds valid energy-only SEDs (sizes
from 1, every SED type as ``sed_type_init``, keV/MeV/TeV/erg energies, NaN and infinite values where
allowed, non-ASCII text in attributes) and each must come back identical from every format that holds
it: GADF FITS, ECSV, HDF5, netCDF4, h5netcdf, zarr.

CI runs ``FLUXDS_ROUNDTRIP_EXAMPLES`` (default 60) examples per format; the thorough profile is
``FLUXDS_ROUNDTRIP_EXAMPLES=10000 python -m pytest -q tests/test_roundtrip_generated.py -p no:cacheprovider``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fluxds
from fluxds.models import PowerLaw

EXAMPLES = int(os.environ.get("FLUXDS_ROUNDTRIP_EXAMPLES", "60"))
FORMATS = {
    "fits": ("sed.fits", {}),
    "ecsv": ("sed.ecsv", {}),
    "hdf5": ("sed.h5", {}),
    "netcdf4": ("sed.nc", {"engine": "netcdf4"}),
    "h5netcdf": ("sed.nc", {"engine": "h5netcdf"}),
    "zarr": ("sed.zarr", {}),
}
_finite = st.floats(0.05, 20.0, allow_nan=False, allow_infinity=False)
_value = st.one_of(_finite, st.just(np.nan))
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@st.composite
def datasets(draw) -> xr.Dataset:
    n = draw(st.integers(1, 12))
    unit = draw(st.sampled_from(["keV", "MeV", "GeV", "TeV", "erg"]))
    start = draw(st.floats(-2.0, 2.0))
    widths = draw(st.lists(st.floats(0.05, 1.0), min_size=n + 1, max_size=n + 1))
    edges = 10 ** (start + np.cumsum(widths)) * u.TeV
    model = PowerLaw(
        index=draw(st.floats(1.0, 4.0)),
        amplitude=draw(st.floats(1e-14, 1e-9)) * u.Unit("cm-2 s-1 TeV-1"),
        reference=1 * u.TeV,
    )
    columns = {
        "norm_err": np.array(draw(st.lists(_value, min_size=n, max_size=n))),
        "norm_ul": np.array(draw(st.lists(st.one_of(_value, st.just(np.inf)), min_size=n, max_size=n))),
        "ts": np.array(draw(st.lists(st.floats(0.0, 1e4), min_size=n, max_size=n))),
        "is_ul": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
    }
    ds = fluxds.from_likelihood(
        np.array(draw(st.lists(_finite, min_size=n, max_size=n))),
        energy_min=edges[:-1].to(unit),
        energy_max=edges[1:].to(unit),
        reference_model=model,
        attrs={"target": draw(_text), "instrument": draw(_text)},
        ul_conf=draw(st.sampled_from([None, 0.95, 0.99, 0.6826894921370859])),
        **columns,
    )
    ds.attrs["sed_type_init"] = draw(st.sampled_from(["likelihood", "dnde", "e2dnde", "flux", "eflux"]))
    return ds


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_generated_round_trip(fmt):
    name, options = FORMATS[fmt]

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(ds=datasets())
    def check(ds):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            if fmt in ("netcdf4", "h5netcdf"):
                from fluxds.io.netcdf import write_netcdf

                write_netcdf(ds, path, **options)
            else:
                fluxds.write(ds, path)
            back = fluxds.read(path)
            xr.testing.assert_identical(back, ds)
            for var in ds.variables:
                assert back[var].dtype == ds[var].dtype, var

    check()
