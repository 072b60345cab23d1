"""Shared fixtures: paths of the real test files and the numbers gammapy computed from them."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
GADF = DATA / "gadf-spec"
GAMMAPY_DATA = DATA / "gammapy-data"
WRITTEN = DATA / "gammapy-written"

# every flux-points file gammapy 2.1 wrote for expected.json
FP_FILES = [
    "fp_likelihood.fits",
    "fp_likelihood.ecsv",
    "fp_dnde.fits",
    "fp_dnde.ecsv",
    "fp_e2dnde.fits",
    "fp_flux.fits",
    "fp_eflux.fits",
    "fp_ctb37b_dnde_eref_only.fits",
    "fp_ctb37b_dnde_eref_only.ecsv",
    "fp_gadf_sample_flux_rewritten.fits",
]


@pytest.fixture(scope="session")
def expected() -> dict:
    """``expected.json``: what gammapy 2.1 computes from each file in ``gammapy-written``."""
    return json.loads((WRITTEN / "expected.json").read_text())["files"]


@pytest.fixture(autouse=True)
def _quiet_astropy():
    from astropy.utils.exceptions import AstropyWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        yield


class CountingScheduler:
    """A dask scheduler that counts its calls (``dask.config.set(scheduler=counter)``): laziness tests
    assert that nothing computes before ``.compute()``."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        import dask

        self.calls += 1
        return dask.get(dsk, keys, **kwargs)
