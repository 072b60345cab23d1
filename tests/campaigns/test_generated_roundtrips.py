"""Generated round trips (issue 7, item 1): every Dataset hypothesis builds goes through every format
that can hold it and comes back identical (values bit-exact, dims, coords, attrs: ``xr.testing.
assert_identical``; and every variable's dtype, where the first generator's text may come back from
netCDF as ``object``).

Two generators:

- ``strategies.datasets`` (this folder): every kind of Dataset (SEDs of one or many sources, light curves,
  WCS and HEALPix maps, region profiles, mixed dimensions), 1-4 energy bins, scans, GTIs;
  ``test_generated_roundtrip_is_identical``, through all 11 formats;
- ``many_bin_seds`` (below): energy-only SEDs of 1-12 bins (every SED type as ``sed_type_init``,
  keV/MeV/GeV/TeV/erg energies, NaN and infinite values where allowed, non-ASCII text in attributes);
  ``test_generated_many_bin_sed_roundtrip``, through the six formats that hold an SED.

Profiles (hypothesis settings, ``FLUXDS_HYPOTHESIS``): ``ci`` (default: 120 examples per format of the
first generator and 60 of the second, derandomized, about 2 min on 2 cores: the README's ``pytest`` must
stay under 8 minutes), ``wide`` (250 per format of both, derandomized: the CI profile until 2026-12) and
``thorough`` (10 000 per format in one hypothesis run per format). ``FLUXDS_ROUNDTRIP_EXAMPLES=n`` sets the
second generator's count alone. Both tests carry the ``campaign`` marker::

    FLUXDS_HYPOTHESIS=wide pytest -q -p no:cacheprovider tests/campaigns/test_generated_roundtrips.py
    FLUXDS_HYPOTHESIS=thorough pytest -q -p no:cacheprovider tests/campaigns/test_generated_roundtrips.py
    FLUXDS_ROUNDTRIP_EXAMPLES=10000 pytest -q tests/campaigns/test_generated_roundtrips.py -k many_bin

The thorough figures in the docs come from ``tests/campaigns/roundtrip_campaign.py``, the first check run in
chunks of independent seeds whose outcomes add up in a ledger (resumable, two processes at once).
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from campaigns.strategies import KINDS, datasets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fluxds
from fluxds.models import PowerLaw

pytestmark = pytest.mark.campaign

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
SED_EXAMPLES = int(
    os.environ.get("FLUXDS_ROUNDTRIP_EXAMPLES", {"ci": 60, "wide": 250, "thorough": 10_000}.get(PROFILE, 60))
)

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
                from fluxds.io.cf.netcdf import write_netcdf

                write_netcdf(ds, path, **options)
            else:
                ds.sed.write(path)
            return fluxds.read(path).load()


def _assert_identical_with_dtypes(back: xr.Dataset, ds: xr.Dataset, text_as_object: bool = False) -> None:
    """``assert_identical`` (values, not dtypes) and every variable's dtype. ``text_as_object``: text may
    come back as ``object`` (netCDF reads variable-length strings, e.g. source names, that way)."""
    xr.testing.assert_identical(back, ds)
    for var in ds.variables:
        got, want = back[var].dtype, ds[var].dtype
        if text_as_object and {got.kind, want.kind} <= {"U", "O"}:
            continue
        assert got == want, var


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_generated_roundtrip_is_identical(fmt):
    kinds = FORMATS[fmt][2]
    if fmt == "zarr":
        pytest.importorskip("zarr", reason="zarr is part of the test extra")

    @settings(settings.get_profile(PROFILE))
    @given(item=datasets(kinds=kinds))
    def check(item):
        _, ds = item
        _assert_identical_with_dtypes(_roundtrip(ds, fmt), ds, text_as_object=True)

    check()


_finite = st.floats(0.05, 20.0, allow_nan=False, allow_infinity=False)
_value = st.one_of(_finite, st.just(np.nan))
_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40)


@st.composite
def many_bin_seds(draw) -> xr.Dataset:
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


@pytest.mark.parametrize(
    "fmt", ["gadf-sed-fits", "gadf-sed-ecsv", "gadf-sed-hdf5", "netcdf4", "h5netcdf", "zarr"]
)
def test_generated_many_bin_sed_roundtrip(fmt):
    if fmt == "zarr":
        pytest.importorskip("zarr", reason="zarr is part of the test extra")

    @settings(
        max_examples=SED_EXAMPLES,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(ds=many_bin_seds())
    def check(ds):
        _assert_identical_with_dtypes(_roundtrip(ds, fmt), ds)

    check()
