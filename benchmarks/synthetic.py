"""Seeded synthetic inputs of the issue-4 benchmark cases: likelihood maps, many-source SEDs and light
curves, built once with fluxds (``from_likelihood``) and, where gammapy is installed, as the gammapy
objects holding the same numbers."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import xarray as xr
from astropy.wcs import WCS

import fluxds
from fluxds.models import PowerLaw
from fluxds.wcs import assign_wcs

__all__ = [
    "EDGES",
    "MODEL_ARGS",
    "likelihood_arrays",
    "map_dataset",
    "sources_dataset",
    "lightcurve_dataset",
    "map_wcs",
]

N_ENERGY = 10
EDGES = np.geomspace(0.1, 100.0, N_ENERGY + 1) * u.TeV
MODEL_ARGS = {"index": 2.3, "amplitude": 1e-12 * u.Unit("cm-2 s-1 TeV-1"), "reference": 1.0 * u.TeV}
NORM_NAMES = ("norm", "norm_err", "norm_errp", "norm_errn", "norm_ul", "ts", "success")
BINSZ = 0.02  # deg per pixel


SUCCESS_FRACTION = 0.98  # fits that converged; the rest have success False (as real maps do)


def likelihood_arrays(shape: tuple[int, ...], seed: int = 20240601) -> dict[str, np.ndarray]:
    """norm, norm_err, norm_errp, norm_errn, norm_ul, ts (float64) and success (bool, ~2 % False) of
    ``shape``, seeded."""
    rng = np.random.default_rng(seed)
    norm = rng.lognormal(0.0, 0.4, shape)
    err = norm * rng.uniform(0.05, 0.3, shape)
    return {
        "norm": norm,
        "norm_err": err,
        "norm_errp": err * 1.1,
        "norm_errn": err * 0.9,
        "norm_ul": norm + 2.0 * err,
        "ts": rng.uniform(0.0, 100.0, shape),
        "success": rng.uniform(0.0, 1.0, shape) < SUCCESS_FRACTION,
    }


def map_wcs(n: int) -> WCS:
    """A galactic CAR WCS of n x n pixels of 0.02 deg around (0, 0)."""
    w = WCS(naxis=2)
    w.wcs.ctype = ["GLON-CAR", "GLAT-CAR"]
    w.wcs.crval = [0.0, 0.0]
    w.wcs.crpix = [(n + 1) / 2, (n + 1) / 2]
    w.wcs.cdelt = [-BINSZ, BINSZ]
    return w


def map_dataset(arrays: dict[str, np.ndarray], n_energy: int = N_ENERGY, edges=EDGES) -> xr.Dataset:
    """A WCS likelihood map on (energy, lat, lon) holding ``arrays``."""
    norm = arrays["norm"]
    ds = fluxds.from_likelihood(
        norm,
        dims=("energy", "lat", "lon"),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=PowerLaw(**MODEL_ARGS),
        **{k: v for k, v in arrays.items() if k != "norm"},
    )
    return assign_wcs(ds, map_wcs(norm.shape[-1]))


def sources_dataset(arrays: dict[str, np.ndarray]) -> xr.Dataset:
    """S sources x 10 energies (dims ``source``, ``energy``)."""
    n = arrays["norm"].shape[0]
    return fluxds.from_likelihood(
        arrays["norm"],
        dims=("source", "energy"),
        coords={"source": [f"src{i:05d}" for i in range(n)]},
        energy_min=EDGES[:-1],
        energy_max=EDGES[1:],
        reference_model=PowerLaw(**MODEL_ARGS),
        **{k: v for k, v in arrays.items() if k != "norm"},
    )


def lightcurve_dataset(n_time: int, n_energy: int = 3, n_scan: int = 11, seed: int = 11) -> xr.Dataset:
    """A light curve: ``n_time`` one-hour bins x ``n_energy`` energies x ``n_scan`` scan points, with
    norm, norm_err, norm_ul, ts, stat, stat_null and likelihood scans (norm_scan, stat_scan)."""
    from fluxds.timeaxis import time_coords

    rng = np.random.default_rng(seed)
    shape = (n_time, n_energy)
    arrays = likelihood_arrays(shape, seed)
    scan = np.linspace(0.2, 5.0, n_scan)
    norm_scan = np.broadcast_to(scan, (*shape, n_scan)).copy()
    stat_scan = (norm_scan - arrays["norm"][..., None]) ** 2 / arrays["norm_err"][..., None] ** 2
    stat_scan += rng.uniform(0, 1e-3, stat_scan.shape)
    start = 60000.0 + np.arange(n_time) / 24.0
    edges = np.geomspace(1.0, 100.0, n_energy + 1) * u.TeV
    return fluxds.from_likelihood(
        arrays["norm"],
        dims=("time", "energy"),
        coords=time_coords(time_min=start, time_max=start + 1 / 24.0, scale="tt"),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=PowerLaw(**MODEL_ARGS),
        norm_err=arrays["norm_err"],
        norm_ul=arrays["norm_ul"],
        ts=arrays["ts"],
        norm_scan=norm_scan,
        stat_scan=stat_scan,
        stat=stat_scan.min(axis=-1),
        stat_null=stat_scan.min(axis=-1) + arrays["ts"],
    )
