"""Shared paths and helpers of the test suite: ``from helpers import WRITTEN, CountingScheduler``.

``tests/`` is on pytest's ``pythonpath`` (``pyproject.toml``), so every test file, in any folder, imports
this module by the same name. Fixtures live in ``tests/conftest.py``; builders that more than one test
file uses live here (test files cannot import each other under ``--import-mode=importlib``).
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the repository
DATA = TESTS / "data"
GADF = DATA / "gadf-spec"
GAMMAPY_DATA = DATA / "gammapy-data"
WRITTEN = DATA / "gammapy-written"
KNOWN = ROOT / "fuzz" / "known"  # inputs the fuzzer found, kept as regression cases
SHARED = ROOT.parent / "shared" / "data"  # the real files beside the repository, where present

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


class CountingScheduler:
    """A dask scheduler that counts its calls (``dask.config.set(scheduler=counter)``): laziness tests
    assert that nothing computes before ``.compute()``."""

    def __init__(self):
        self.calls = 0

    def __call__(self, dsk, keys, **kwargs):
        import dask

        self.calls += 1
        return dask.get(dsk, keys, **kwargs)


# --- builders shared by several test files ---------------------------------------------------------


def sed_files(folder, n: int) -> list:
    """n small SED files: 10 distinct generated SEDs, each copied n/10 times under its own name."""
    import astropy.units as u
    import numpy as np

    import fluxds

    folder.mkdir()
    rng = np.random.default_rng(7)
    model = fluxds.models.PowerLaw(index=2.4, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    paths = []
    for i in range(n):
        path = folder / f"sed{i:03d}.fits"
        if i < 10:
            fluxds.from_likelihood(
                rng.normal(1, 0.2, 4),
                energy_min=[1, 2, 4, 8] * u.TeV,
                energy_max=[2, 4, 8, 16] * u.TeV,
                reference_model=model,
                norm_err=rng.uniform(0.05, 0.2, 4),
                ts=rng.uniform(0, 50, 4),
            ).sed.write(path)
        else:
            shutil.copyfile(folder / f"sed{i % 10:03d}.fits", path)
        paths.append(path)
    return paths


def three_sources():
    """The Crab SED of gammapy-data as three sources (norms x1, x2, x3) with their own power laws."""
    import astropy.units as u

    import fluxds
    from fluxds.io.fits_tables import join_sources

    base = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    names = ["Crab Nebula", "PKS 2155-304", "Vela X"]
    models = [
        fluxds.models.PowerLaw(index=i, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
        for i in (2.3, 3.1, 1.8)
    ]
    parts = []
    for k, (name, model) in enumerate(zip(names, models, strict=True)):
        ds = fluxds.from_likelihood(
            base.norm.values * (1 + k),
            energy_min=base.energy_min.values * u.TeV,
            energy_max=base.energy_max.values * u.TeV,
            energy_ref=base.energy.values * u.TeV,
            reference_model=model,
            norm_err=base.norm_err.values,
            norm_ul=base.norm_ul.values,
            ts=base.ts.values,
            ul_conf=0.95,
        )
        parts.append((name, ds))
    return join_sources(parts, "test")


def parabolic_profiles(seed=0, n_source=7, n_scan=15):
    """Sources x 5 energy bins of parabolic profiles on random per-bin grids (with NaN padding).

    Returns ``(ds, mu, sigma, valid_lo, valid_hi)``: the minima, widths and scanned range of each bin."""
    import astropy.units as u
    import numpy as np

    from fluxds.construct import from_likelihood
    from fluxds.models import PowerLaw

    pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    e = np.geomspace(1.0, 100.0, 6)
    rng = np.random.default_rng(seed)
    shape = (n_source, 5)
    mu = rng.uniform(-0.5, 2.0, shape)
    sigma = rng.uniform(0.1, 1.0, shape)
    lo = mu - rng.uniform(0.5, 2.5, shape) * sigma
    hi = mu + rng.uniform(0.5, 2.5, shape) * sigma
    scan = lo[..., None] + (hi - lo)[..., None] * np.sort(rng.uniform(0, 1, shape + (n_scan,)), -1)
    scan[..., 0], scan[..., -1] = lo, hi
    stat = 3.0 + ((scan - mu[..., None]) / sigma[..., None]) ** 2
    stat[0, 0, -3:] = np.nan  # padding
    ds = from_likelihood(
        mu, energy_min=e[:-1] * u.TeV, energy_max=e[1:] * u.TeV, reference_model=pl,
        dims=("source", "energy"), coords={"source": [f"s{i}" for i in range(n_source)]},
        norm_scan=scan, stat_scan=stat, stat_null=3.0 + (mu / sigma) ** 2,
    )  # fmt: skip
    valid_hi = np.nanmax(np.where(np.isfinite(stat), scan, np.nan), -1)
    valid_lo = scan[..., 0]
    return ds, mu, sigma, valid_lo, valid_hi


# one real Dataset of every kind fluxds makes (netCDF and zarr round trips)
DATASET_KINDS = [
    "sed", "sed_eref_only", "lightcurve", "wcs_map", "healpix_map", "profile", "tscube", "sources",
]  # fmt: skip


@functools.cache
def every_kind_of_dataset() -> dict:
    """``{kind: Dataset}`` for every kind in ``DATASET_KINDS``, read from the real files (cached)."""
    from astropy.coordinates import SkyCoord

    import fluxds

    fm = fluxds.read(WRITTEN / "fm_excess.fits")
    return {
        "sed": fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits"),
        "sed_eref_only": fluxds.read(WRITTEN / "fp_ctb37b_dnde_eref_only.fits"),
        "lightcurve": fluxds.read(WRITTEN / "lc_likelihood.fits"),
        "wcs_map": fluxds.read(WRITTEN / "fm_ts.fits"),
        "healpix_map": fluxds.read(WRITTEN / "fm_hpx.fits"),
        "profile": fluxds.read(WRITTEN / "profile_likelihood.fits"),
        "tscube": fluxds.read(GADF / "tscube_lowts.fits.gz"),
        "sources": fm.sed.get_flux_points(
            SkyCoord([0.0, 0.1], [0.0, 0.0], unit="deg", frame="galactic"), names=["Sgr A*", "b"]
        ),
    }
