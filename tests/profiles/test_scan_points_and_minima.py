"""Issue 13, items 1, 3 and 8: profiles of any length, minima outside the scan, bins without a profile.

Every expected number comes from an independent computation written here: the true profiles (parabolas,
or straight lines for two-point scans, where the interpolant is exactly a line) summed and minimised by
dense evaluation and ``scipy.optimize.brentq``, hand calculations, or gammapy's own limits stored in the
files it wrote.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from helpers import WRITTEN
from scipy.optimize import brentq, minimize_scalar

import fluxds
from fluxds.construct import from_likelihood
from fluxds.models import PowerLaw
from fluxds.profiles import evaluate_profile
from fluxds.profiles.castro import castro_stat
from fluxds.timeaxis import time_coords

PL = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
N_SCAN = [2, 3, 99, 100, 101, 109, 500]


# --- independent brute force -------------------------------------------------------------------------
def _true_profile(mu, sigma, lo, hi, n_scan):
    """The exact function a profile of ``n_scan`` points on [lo, hi] represents (and its scan).

    Three or more points: the parabola ``((x - mu) / sigma)**2`` (the interpolant is exact on it, and
    so is its continuation beyond the scan). Two points: the straight line through the parabola at the
    two ends (what two points define; the interpolant continues it as a line).
    """
    x = np.linspace(lo, hi, n_scan)

    def parabola(v):
        return ((np.asarray(v) - mu) / sigma) ** 2

    if n_scan >= 3:
        return x, parabola(x), parabola
    y = parabola(x)
    slope = (y[1] - y[0]) / (x[1] - x[0])
    return x, y, lambda v: y[0] + slope * (np.asarray(v) - x[0])


def _brute(f, lo, hi, n_sigma=1.0, n_sigma_ul=2.0):
    """Minimum on [lo, hi] by dense evaluation (refined), errors and limit by brentq on ``f``."""
    grid = np.linspace(lo, hi, 20_001)
    values = f(grid)
    i = int(np.argmin(values))
    if 0 < i < grid.size - 1:
        res = minimize_scalar(f, bounds=(grid[i - 1], grid[i + 1]), method="bounded",
                              options={"xatol": 1e-13})  # fmt: skip
        x_min, f_min = float(res.x), float(res.fun)
    else:
        x_min, f_min = float(grid[i]), float(values[i])

    def crossing(level, direction):
        step = max(hi - lo, 1.0)
        for k in range(60):  # expand until the level is bracketed (few steps)
            far = x_min + direction * step * 2.0**k
            if f(far) >= level:
                return brentq(lambda v: f(v) - level, *sorted((x_min, far)), xtol=1e-14, rtol=1e-14)
        return np.nan

    up = crossing(f_min + n_sigma**2, +1)
    down = crossing(f_min + n_sigma**2, -1)
    return {"norm": x_min, "stat": f_min, "norm_errp": up - x_min, "norm_errn": x_min - down,
            "norm_ul": crossing(f_min + n_sigma_ul**2, +1)}  # fmt: skip


def _check(out, expected, atol):
    for name, value in expected.items():
        np.testing.assert_allclose(float(out[name]), value, atol=atol, rtol=1e-9, err_msg=name)


# --- item 1: profiles of 2 to 500 points ----------------------------------------------------------
@pytest.mark.parametrize("n_scan", N_SCAN)
def test_combine_any_number_of_scan_points(n_scan):
    mu, sigma, ranges = [0.8, 1.4], [0.3, 0.5], [(-0.5, 2.5), (0.0, 3.5)]
    profiles = [_true_profile(m, s, lo, hi, n_scan) for m, s, (lo, hi) in zip(mu, sigma, ranges, strict=True)]
    ds = from_likelihood(
        [[0.8], [1.4]], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=PL,
        dims=("source", "energy"), coords={"source": ["a", "b"]},
        norm_scan=np.stack([p[0] for p in profiles])[:, None],
        stat_scan=np.stack([p[1] for p in profiles])[:, None],
    )  # fmt: skip
    out = ds.sed.combine("source").isel(energy=0)
    expected = _brute(lambda v: profiles[0][2](v) + profiles[1][2](v), -0.5, 3.5)
    _check(out, expected, atol=1e-8)


@pytest.mark.parametrize("n_scan", N_SCAN)
def test_resample_any_number_of_scan_points(n_scan):
    mu, sigma = np.array([1.0, 2.0, 1.5, 0.5]), np.array([0.5, 0.4, 1.0, 0.8])
    profiles = [_true_profile(m, s, -2.0, 5.0, n_scan) for m, s in zip(mu, sigma, strict=True)]
    e = np.geomspace(1, 16, 5)
    ds = from_likelihood(mu, energy_min=e[:-1] * u.TeV, energy_max=e[1:] * u.TeV, reference_model=PL,
                         norm_scan=np.stack([p[0] for p in profiles]),
                         stat_scan=np.stack([p[1] for p in profiles]))  # fmt: skip
    out = ds.sed.resample("energy", group_size=2)
    for g in range(2):  # merged energy bins share the norm: the profiles add at equal norm
        a, b = profiles[2 * g][2], profiles[2 * g + 1][2]
        _check(out.isel(energy=g), _brute(lambda v, a=a, b=b: a(v) + b(v), -2.0, 5.0), atol=1e-8)


@pytest.mark.parametrize("n_scan", N_SCAN)
def test_variability_any_number_of_scan_points(n_scan):
    mu, sigma = np.array([1.0, 2.0, 1.5]), np.array([0.5, 0.5, 1.0])
    ranges = [(-1.0, 4.0), (0.0, 5.0), (-2.0, 4.5)]
    profiles = [_true_profile(m, s, lo, hi, n_scan) for m, s, (lo, hi) in zip(mu, sigma, ranges, strict=True)]
    t = np.arange(4.0) + 59000.0
    ds = from_likelihood(mu[:, None], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=PL,
                         dims=("time", "energy"), coords=time_coords(time_min=t[:-1], time_max=t[1:]),
                         norm_scan=np.stack([p[0] for p in profiles])[:, None],
                         stat_scan=np.stack([p[1] for p in profiles])[:, None])  # fmt: skip
    result = ds.sed.variability("time")
    # TS_var = sum_i f_i(norm_const) - sum_i min f_i, minima within each scan / the union of the scans
    # (never below 0: with two-point scans the lines, continued beyond their scans, sum lower)
    own_min = sum(_brute(p[2], lo, hi)["stat"] for p, (lo, hi) in zip(profiles, ranges, strict=True))
    joint = _brute(lambda v: sum(p[2](v) for p in profiles), -2.0, 5.0)
    np.testing.assert_allclose(float(result.ts_var[0]), max(joint["stat"] - own_min, 0.0), atol=1e-7)
    np.testing.assert_allclose(float(result.norm_const[0]), joint["norm"], atol=1e-7)


@pytest.mark.parametrize("n_scan", N_SCAN)
def test_castro_fit_any_number_of_scan_points(n_scan):
    truth = PowerLaw(index=2.5, amplitude=3e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    e = np.geomspace(0.5, 50, 7) * u.TeV
    norm = (truth.flux(e[:-1], e[1:]) / PL.flux(e[:-1], e[1:])).to_value("")
    sigma = 0.1 * norm
    profiles = [_true_profile(m, s, 0.5 * m, 1.5 * m, n_scan) for m, s in zip(norm, sigma, strict=True)]
    ds = from_likelihood(norm, energy_min=e[:-1], energy_max=e[1:], reference_model=PL,
                         norm_scan=np.stack([p[0] for p in profiles]),
                         stat_scan=np.stack([p[1] for p in profiles]))  # fmt: skip
    # the castro statistic of a model: each bin's true profile at the model's predicted norm
    other = PowerLaw(index=2.3, amplitude=2.5e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    pred = (other.flux(e[:-1], e[1:]) / PL.flux(e[:-1], e[1:])).to_value("")
    expected = sum(p[2](x) for p, x in zip(profiles, pred, strict=True))
    np.testing.assert_allclose(float(castro_stat(ds, other)), expected, rtol=1e-9)
    if n_scan == 2:
        return  # straight-line profiles have no minimum: nothing to fit
    fit = ds.sed.fit(PL)  # the profiles are exact parabolas centred on the truth: the fit is the truth
    assert bool(fit["success"])
    np.testing.assert_allclose(float(fit["index"]), 2.5, atol=1e-6)
    np.testing.assert_allclose(float(fit["amplitude"]), 3e-12, rtol=1e-6)


def test_combine_fm_ts_two_positions():
    """The issue's case: gammapy's TS map scans 109 points per pixel; combine two positions."""
    from astropy.coordinates import SkyCoord

    fm = fluxds.read(WRITTEN / "fm_ts.fits")
    seds = fm.sed.get_flux_points(SkyCoord([0.0, 0.1], [0.0, 0.0], unit="deg", frame="galactic"))
    assert seds.sizes["scan"] == 109
    out = seds.sed.combine("source")
    ns, ss = seds.norm_scan.values, seds.stat_scan.values  # (source, energy, scan)
    for j in range(seds.sizes["energy"]):
        grid = out.norm_scan.isel(energy=j).values
        grid = grid[np.isfinite(grid)]
        # each source's interpolated profile, one norm at a time (the path that never had the bug)
        summed = sum(evaluate_profile(ns[i, j][None], ss[i, j][None], grid, points=False)[0] for i in (0, 1))
        np.testing.assert_allclose(out.stat_scan.isel(energy=j).values[: grid.size], summed, rtol=1e-12)
        assert float(out.stat[j]) <= summed.min() + 1e-9


# --- item 3: a profile minimum outside the scan ------------------------------------------------------
SCAN = np.geomspace(0.2, 5.0, 11)  # gammapy's default scan


def _one_bin(mu, sigma, stat0=10.0, scan=SCAN):
    stat_scan = stat0 + ((scan - mu) / sigma) ** 2
    return from_likelihood(
        [mu], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=PL,
        norm_scan=[scan], stat_scan=[stat_scan], stat=[stat0],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mu", "sigma", "ul", "errp", "errn", "status"),
    [
        # minimum below the scan; the limit mu + 2 sigma inside it (measured from the scan edge instead:
        # level 10 + 1.4**2 + 4, limit -0.5 + 0.5 * sqrt(5.96) = 0.7207, 44 % high, "inside_scan")
        (-0.5, 0.5, 0.5, 0.5, 0.5, 1),
        (-0.5, 0.25, 0.0, 0.25, 0.25, 1),  # and the limit below the scan too
        (6.0, 0.5, 7.0, 0.5, 0.5, 2),  # minimum above the scan
        (6.0, 2.0, 10.0, 2.0, 2.0, 2),  # ... with its lower error inside the scan
    ],
)
def test_minimum_outside_scan_by_hand(mu, sigma, ul, errp, errn, status):
    """Parabolas ``10 + ((x - mu) / sigma)**2`` with the stored best fit (mu, 10) outside the scan."""
    ds = _one_bin(mu, sigma)
    out = ds.sed.recompute_ul(n_sigma_ul=2)
    np.testing.assert_allclose(float(out.norm_ul[0]), ul, atol=1e-9)
    assert int(out.norm_ul_status[0]) == status  # measured from a minimum outside the scan: flagged
    err = ds.sed.recompute_errors(n_sigma=1)
    np.testing.assert_allclose([float(err.norm_errp[0]), float(err.norm_errn[0])], [errp, errn], atol=1e-9)
    assert int(err.norm_errp_status[0]) == status and int(err.norm_errn_status[0]) == status


def test_minimum_outside_scan_reference_zero_by_hand():
    # profile 10 + ((x + 0.5) / 0.5)**2: at zero norm 11; the limit where it reaches 15:
    # x = -0.5 + 0.5 * sqrt(5)
    out = _one_bin(-0.5, 0.5).sed.recompute_ul(n_sigma_ul=2, reference="zero")
    np.testing.assert_allclose(float(out.norm_ul[0]), -0.5 + 0.5 * np.sqrt(5.0), atol=1e-9)
    assert int(out.norm_ul_status[0]) == 1


def test_minimum_inside_scan_unchanged():
    """Control: a stored minimum inside the scan leaves the limit and its status as they were."""
    out = _one_bin(1.0, 0.5).sed.recompute_ul(n_sigma_ul=2)
    np.testing.assert_allclose(float(out.norm_ul[0]), 2.0, atol=1e-9)
    assert int(out.norm_ul_status[0]) == 0


@pytest.mark.parametrize("name", ["profile_likelihood.fits", "lc_likelihood.fits"])
def test_minimum_below_scan_real_files(name):
    """gammapy's own 2-sigma limits (from its fit, not from the scan) in bins whose best fit lies below
    the 0.2-5 scan: Fermi-LAT 3FHL Galactic-centre flux profile (8 bins) and a light curve (3 bins)."""
    ds = fluxds.read(WRITTEN / name)
    dims = ds.norm.dims
    lowest = ds.norm_scan.min("scan").broadcast_like(ds.norm).transpose(*dims).values
    below = (ds.norm.values < lowest) & (ds.stat < ds.stat_scan.min("scan")).transpose(*dims).values
    assert below.sum() >= 3
    out = ds.sed.recompute_ul(n_sigma_ul=2)
    ul, status = out.norm_ul.transpose(*dims).values[below], out.norm_ul_status.transpose(*dims).values[below]
    stored = ds.norm_ul.values[below]
    inside = stored >= lowest[below]  # gammapy's limit within the scan
    np.testing.assert_allclose(ul[inside], stored[inside], rtol=1e-4)  # interpolation of 11 points
    np.testing.assert_allclose(ul[~inside], stored[~inside], atol=0.01)  # extrapolated below the scan
    assert (status == 1).all()


# --- item 8: combine and bins without a profile ------------------------------------------------------
def test_combine_ignores_bin_without_profile():
    """Three time bins, the third without a profile (all-NaN stat_scan) but with stat_null = 16.

    By hand: profiles ((x - 1) / 0.5)**2 and ((x - 2) / 0.5)**2; stat_null (their value at 0) 4 and 16;
    joint minimum at 1.5 with stat 1 + 1 = 2; ts = 4 + 16 - 2 = 18 (not 34), n_dof = 2 (not 3).
    """
    scan = np.linspace(-1.0, 4.0, 21)
    stat_scan = np.stack([((scan - 1.0) / 0.5) ** 2, ((scan - 2.0) / 0.5) ** 2, np.full(21, np.nan)])
    t = np.arange(4.0) + 59000.0
    ds = from_likelihood(
        [[1.0], [2.0], [np.nan]], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=PL,
        dims=("time", "energy"), coords=time_coords(time_min=t[:-1], time_max=t[1:]),
        norm_scan=np.broadcast_to(scan, (3, 1, 21)), stat_scan=stat_scan[:, None],
        stat_null=[[4.0], [16.0], [16.0]],
    )  # fmt: skip
    out = ds.sed.combine("time")
    np.testing.assert_allclose(float(out.norm[0]), 1.5, atol=1e-9)
    np.testing.assert_allclose(float(out.stat[0]), 2.0, atol=1e-9)
    np.testing.assert_allclose(float(out.stat_null[0]), 20.0, atol=1e-12)
    np.testing.assert_allclose(float(out.ts[0]), 18.0, atol=1e-9)
    assert float(out.n_dof[0]) == 2.0
    # resample along time merges by the same rule
    merged = ds.sed.resample("time", group_size=3)
    np.testing.assert_allclose(float(merged.ts.squeeze()), 18.0, atol=1e-9)
    assert float(merged.n_dof.squeeze()) == 2.0
