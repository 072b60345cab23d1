"""Variability from likelihood profiles (fluxds.profiles.variability): fermipy's TS_var and Fvar.

Checked against the chi2 about the inverse-variance weighted mean (parabolic profiles, written here),
the chi2(n - 1) distribution of seeded constant light curves, a hand-summed band likelihood, the
Vaughan et al. (2003) Fvar formula written here, and a brute-force grid minimisation on a real file.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN
from scipy import stats

import fluxds
from fluxds import from_likelihood
from fluxds.errors import SchemaError
from fluxds.models import default_reference_model
from fluxds.profiles.interp import evaluate_profile
from fluxds.profiles.variability import variability

EDGES = [1.0, 3.0, 10.0] * u.TeV


def parabolic_lc(norm_hat, sigma, dims, *, width=6.0, n_scan=25, ref_dnde=None):
    """A light curve with parabolic profiles ``((norm - norm_hat) / sigma)**2``; last dim is energy."""
    norm_hat, sigma = np.broadcast_arrays(np.asarray(norm_hat, float), np.asarray(sigma, float))
    grid = np.linspace(-width, width, n_scan)
    scan = norm_hat[..., None] + sigma[..., None] * grid
    extra = {} if ref_dnde is None else {"ref_dnde": ref_dnde}
    return from_likelihood(
        norm_hat,
        norm_err=sigma,
        energy_min=EDGES[: norm_hat.shape[-1]],
        energy_max=EDGES[1 : norm_hat.shape[-1] + 1],
        reference_model=None if ref_dnde is not None else default_reference_model(),
        norm_scan=scan,
        stat_scan=((scan - norm_hat[..., None]) / sigma[..., None]) ** 2,
        dims=dims,
        **extra,
    )


def chi2_about_weighted_mean(norm, sigma, axis):
    w = 1.0 / sigma**2
    mean = np.sum(w * norm, axis=axis, keepdims=True) / np.sum(w, axis=axis, keepdims=True)
    return np.sum(w * (norm - mean) ** 2, axis=axis), np.squeeze(mean, axis=axis)


def test_ts_var_is_the_chi2_about_the_weighted_mean():
    rng = np.random.default_rng(11)
    norm = rng.uniform(0.5, 3.0, size=(4, 7, 2))  # source, time, energy
    sigma = rng.uniform(0.1, 0.8, size=norm.shape)
    ds = parabolic_lc(norm, sigma, ("source", "time", "energy"))
    result = ds.sed.variability("time")
    expected, mean = chi2_about_weighted_mean(norm, sigma, axis=1)
    assert result["ts_var"].dims == ("source", "energy")
    np.testing.assert_allclose(result["ts_var"].values, expected, rtol=1e-9)
    np.testing.assert_allclose(result["norm_const"].values, mean, rtol=1e-7)
    assert (result["dof"] == 6).all()
    np.testing.assert_allclose(result["p_value"].values, stats.chi2.sf(expected, 6), rtol=1e-9)
    np.testing.assert_allclose(result["sigma"].values, stats.norm.isf(stats.chi2.sf(expected, 6)), rtol=1e-9)
    # for parabolic profiles the simple chi2 from norm/norm_err is the same number
    np.testing.assert_allclose(result["chi2"].values, expected, rtol=1e-12)


def test_constant_light_curves_give_chi2_of_n_minus_1_dof():
    """2000 seeded constant light curves of 10 bins (an extra `realisation` dim, one call)."""
    n_real, n_time = 2000, 10
    rng = np.random.default_rng(2025)
    sigma = rng.uniform(0.1, 0.4, size=(1, n_time, 1))
    norm = 1.0 + sigma * rng.standard_normal((n_real, n_time, 1))
    ds = parabolic_lc(norm, sigma, ("realisation", "time", "energy"))
    result = variability(ds)
    ts = result["ts_var"].values[:, 0]
    dof = n_time - 1
    # the mean of 2000 chi2(9) draws has sd sqrt(2 * 9 / 2000) = 0.095
    assert abs(ts.mean() - dof) < 0.4, ts.mean()
    assert stats.kstest(ts, stats.chi2(dof).cdf).pvalue > 1e-3
    p = result["p_value"].values
    assert 0.03 < np.mean(p < 0.05) < 0.07  # p-values uniform


def test_flare_gives_large_ts_var():
    norm = np.ones((8, 1))
    norm[5] = 4.0  # a flare 30 sigma above the rest
    ds = parabolic_lc(norm, 0.1, ("time", "energy"))
    result = variability(ds)
    assert float(result["ts_var"][0]) > 100
    assert float(result["sigma"][0]) > 8


def test_band_sums_energy_profiles_at_one_norm():
    rng = np.random.default_rng(5)
    norm = rng.uniform(0.5, 2.0, size=(6, 2))  # time, energy
    sigma = rng.uniform(0.2, 0.5, size=norm.shape)
    ds = parabolic_lc(norm, sigma, ("time", "energy"))
    result = variability(ds, combine_energy=True)
    # hand: band profile of bin i is sum_e ((n - norm_ie) / sigma_ie)^2; minimum at the weighted mean
    w = 1 / sigma**2
    per_time = np.sum(w * norm, axis=1) / np.sum(w, axis=1)
    stat_min_i = np.sum(w * (norm - per_time[:, None]) ** 2, axis=1)
    const = np.sum(w * norm) / np.sum(w)
    expected = np.sum(w * (norm - const) ** 2) - stat_min_i.sum()
    assert result["ts_var"].dims == ()
    assert float(result["ts_var"]) == pytest.approx(expected, rel=1e-9)
    assert float(result["norm_const"]) == pytest.approx(const, rel=1e-7)
    assert int(result["dof"]) == 5


def test_different_references_along_time_are_rescaled():
    """The same flux measured against references that differ per time bin is not variable."""
    ref_dnde = np.array([[1.0], [2.0], [0.5], [4.0]]) * 1e-12 * u.Unit("cm-2 s-1 TeV-1")
    flux_norm = 1.7  # in units of the mean reference
    mean_ref = ref_dnde.value.mean()
    norm = flux_norm * mean_ref / ref_dnde.value  # each bin's own norm
    ds = parabolic_lc(norm, 0.05 * norm, ("time", "energy"), ref_dnde=ref_dnde)
    result = variability(ds)
    assert result.attrs["reference_variable"] == "ref_dnde"
    assert float(result["ts_var"][0]) < 1e-10
    assert float(result["norm_const"][0]) == pytest.approx(flux_norm, rel=1e-7)
    assert float(result["chi2"][0]) < 1e-20


def test_fvar_follows_vaughan_2003():
    norm = np.array([1.0, 1.6, 0.7, 1.3, 0.9])[:, None]
    err = np.array([0.1, 0.15, 0.1, 0.12, 0.1])[:, None]
    result = variability(parabolic_lc(norm, err, ("time", "energy")))
    s2 = np.var(norm[:, 0], ddof=1)
    expected = np.sqrt(s2 - np.mean(err[:, 0] ** 2)) / np.mean(norm[:, 0])
    assert float(result["fvar"][0]) == pytest.approx(expected, rel=1e-12)
    quiet = variability(parabolic_lc(np.ones((5, 1)), 0.3, ("time", "energy")))
    assert np.isnan(float(quiet["fvar"][0]))  # no excess variance


def test_real_light_curve_matches_a_brute_force_grid():
    ds = fluxds.read(WRITTEN / "lc_1bin_likelihood.fits")
    result = variability(ds)
    norm_scan, stat_scan = xr.broadcast(ds["norm_scan"], ds["stat_scan"])  # the file shares one grid
    ns = norm_scan.transpose(..., "time", "energy", "scan").values
    ss = stat_scan.transpose(..., "time", "energy", "scan").values
    grid = np.linspace(np.nanmin(ns), np.nanmax(ns), 200001)
    stat_grid, _ = evaluate_profile(ns, ss, np.broadcast_to(grid, ns.shape[:-1] + grid.shape), points=True)
    const = stat_grid.sum(axis=-3).min(axis=-1)  # sum over time, then the best common norm
    per_bin = stat_grid.min(axis=-1).sum(axis=-2)
    np.testing.assert_allclose(result["ts_var"].values, const - per_bin, rtol=1e-6, atol=1e-6)
    assert (result["dof"] == ds.sizes["time"] - 1).all()


def test_lazy_on_dask():
    rng = np.random.default_rng(3)
    norm = rng.uniform(0.5, 2.0, size=(6, 5, 1))
    ds = parabolic_lc(norm, 0.2, ("source", "time", "energy"))
    lazy = variability(ds.chunk({"source": 2}))
    assert lazy["ts_var"].chunks is not None
    np.testing.assert_allclose(lazy["ts_var"].compute().values, variability(ds)["ts_var"].values, rtol=1e-12)


def test_bad_dimension():
    ds = parabolic_lc(np.ones((3, 1)), 0.1, ("time", "energy"))
    with pytest.raises(SchemaError, match="phase"):
        variability(ds, dim="phase")
