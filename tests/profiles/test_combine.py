"""combine / resample against inverse-variance combination, hand-summed profiles and gammapy's numbers."""

from __future__ import annotations

import astropy.units as u
import dask
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN

import fluxds
from fluxds.construct import from_likelihood
from fluxds.models import PowerLaw

PL = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)


def _gaussian_lc(seed=0, n_time=6, n_energy=3, n_scan=17, same_grid=False):
    """A multi-energy light curve of parabolic profiles on per-bin grids, with stat_null."""
    rng = np.random.default_rng(seed)
    shape = (n_time, n_energy)
    mu = rng.uniform(0.5, 2.0, shape)
    sigma = rng.uniform(0.1, 0.6, shape)
    if same_grid:
        scan = np.broadcast_to(np.linspace(-1.0, 4.0, n_scan), shape + (n_scan,))
    else:
        lo = rng.uniform(-1.0, 0.0, shape)[..., None]
        scan = lo + rng.uniform(3.0, 5.0, shape)[..., None] * np.sort(
            rng.uniform(0, 1, shape + (n_scan,)), -1
        )
    stat = 10.0 + ((scan - mu[..., None]) / sigma[..., None]) ** 2
    e = np.geomspace(1.0, 30.0, n_energy + 1)
    t = np.arange(n_time + 1, dtype=float) + 59000.0
    from fluxds.timeaxis import time_coords

    ds = from_likelihood(
        mu, energy_min=e[:-1] * u.TeV, energy_max=e[1:] * u.TeV, reference_model=PL,
        dims=("time", "energy"), coords=time_coords(time_min=t[:-1], time_max=t[1:]),
        norm_scan=scan, stat_scan=stat, stat_null=10.0 + (mu / sigma) ** 2, ts=(mu / sigma) ** 2,
    )  # fmt: skip
    return ds, mu, sigma


def _inverse_variance(mu, sigma, axis=0):
    w = 1.0 / sigma**2
    return (w * mu).sum(axis) / w.sum(axis), 1.0 / np.sqrt(w.sum(axis))


@pytest.mark.parametrize("same_grid", [True, False])
def test_combine_gaussians_is_inverse_variance(same_grid):
    ds, mu, sigma = _gaussian_lc(same_grid=same_grid)
    out = ds.sed.combine("time")
    mean, err = _inverse_variance(mu, sigma)
    np.testing.assert_allclose(out.norm.values, mean, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values, err, atol=1e-9)
    np.testing.assert_allclose(out.norm_errp.values, err, atol=1e-9)
    np.testing.assert_allclose(out.norm_ul.values, mean + 2 * err, atol=1e-9)
    # the summed statistic at the minimum, and ts = stat_null_sum - stat_sum
    stat_min = (10.0 + ((mean - mu) / sigma) ** 2).sum(0)
    np.testing.assert_allclose(out.stat.values, stat_min, atol=1e-8)
    np.testing.assert_allclose(out.ts.values, (10.0 + (mu / sigma) ** 2).sum(0) - stat_min, atol=1e-8)
    assert "time" not in out.dims and float(out.time_min) == 59000.0 and float(out.time_max) == 59006.0
    assert np.all(out.n_dof.values == 6)


def test_combine_rescales_different_references():
    """Entries with reference fluxes differing by a factor k: norm' = norm * ref_old / ref_new."""
    ds, mu, sigma = _gaussian_lc(1, n_time=2, n_energy=2, same_grid=True)
    k = np.array([1.0, 2.5])[:, None]  # the second time bin's reference is 2.5x brighter
    scaled = ds.assign(
        ref_flux=ds.ref_flux * xr.DataArray(np.broadcast_to(k, (2, 2)), dims=("time", "energy"))
    )
    out = scaled.sed.combine("time")  # common reference: the first entry's
    mean, err = _inverse_variance(mu * k, sigma * k)
    np.testing.assert_allclose(out.norm.values, mean, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values, err, atol=1e-9)
    np.testing.assert_allclose(out.ref_flux.values, ds.ref_flux.values)
    mean_ref = scaled.sed.combine("time", reference="mean")
    np.testing.assert_allclose(mean_ref.ref_flux.values, ds.ref_flux.values * 1.75)
    np.testing.assert_allclose(mean_ref.norm.values * 1.75, mean, atol=1e-9)


def test_combine_lc_file_equals_hand_summed_profile():
    ds = fluxds.read(WRITTEN / "lc_1bin_likelihood.fits")
    out = ds.sed.combine("time")
    hand = ds.stat_scan.sum("time").values[0]  # the 4 bins share one norm grid
    grid = ds.norm_scan.values[0]
    got = out.stat_scan.values[0]
    np.testing.assert_array_equal(out.norm_scan.values[0, : grid.size], grid)
    np.testing.assert_allclose(got[: grid.size], hand, rtol=1e-12)
    assert np.isnan(got[grid.size :]).all()  # union grid: the duplicates are padding
    np.testing.assert_allclose(out.stat_null.values, ds.stat_null.sum("time").values, rtol=1e-12)
    # the minimum of the summed profile matches the minimum of the hand-summed profile
    from fluxds.profiles import profile_minimum

    np.testing.assert_allclose(out.norm.values, profile_minimum(grid, hand)[0], rtol=1e-12)


def test_resample_energy_gaussians_and_lazy():
    ds, mu, sigma = _gaussian_lc(2, n_time=4, n_energy=6)
    lazy = ds.chunk({"time": 2})
    in_memory_coords = lazy.assign_coords({k: ds[k] for k in ds.coords})
    calls = []
    with dask.config.set(scheduler=lambda dsk, keys, **kw: calls.append(1) or dask.get(dsk, keys, **kw)):
        out = in_memory_coords.sed.resample("energy", group_size=2)
        assert not calls and out.norm.chunks is not None and out.stat_scan.chunks is not None
        # dask-backed bin edges (as fluxds.open_dataset gives): one small compute of the edges only
        lazy_edges = lazy.sed.resample("energy", group_size=2)
        assert len(calls) == 1 and lazy_edges.norm_ul.chunks is not None
        out = out.compute()
        assert len(calls) == 2
    xr.testing.assert_allclose(lazy_edges.compute(), out)
    mean, err = _inverse_variance(mu.reshape(4, 3, 2), sigma.reshape(4, 3, 2), axis=-1)
    np.testing.assert_allclose(out.norm.values, mean, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values, err, atol=1e-9)
    np.testing.assert_allclose(out.ref_flux.values, ds.ref_flux.values.reshape(3, 2).sum(-1), rtol=1e-12)
    np.testing.assert_allclose(out.energy_min.values, ds.energy_min.values[::2])
    np.testing.assert_allclose(out.energy_max.values, ds.energy_max.values[1::2])
    e_ref = np.sqrt(out.energy_min.values * out.energy_max.values)
    np.testing.assert_allclose(out.energy.values, e_ref, rtol=1e-12)
    np.testing.assert_allclose(out.ref_dnde.values, 1e-12 * e_ref**-2.0, rtol=1e-10)  # the model there
    assert np.all(out.n_dof.values == 2) and out.sizes["time"] == 4  # multi-energy light curve works


def test_resample_time_by_edges_and_min_ts():
    ds, mu, sigma = _gaussian_lc(3, n_time=6, n_energy=1)
    out = ds.sed.resample("time", edges=[59000.0, 59002.0, 59006.0])
    mean, err = _inverse_variance(mu[:2], sigma[:2])
    np.testing.assert_allclose(out.norm.values[0], mean, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values[0], err, atol=1e-9)
    np.testing.assert_allclose(out.time_min.values, [59000.0, 59002.0])
    np.testing.assert_allclose(out.time_max.values, [59002.0, 59006.0])
    np.testing.assert_array_equal(out.n_dof.values.ravel(), [2, 4])  # per bin since issue 13 item 8
    # min_ts: every group but possibly the last reaches the threshold; the groups cover all bins
    one = ds.isel(energy=[0])
    res = one.sed.resample("time", min_ts=float(np.median(one.ts.values)) * 1.5)
    assert res.n_dof.sum() == 6
    assert np.all(res.ts.values[:-1] >= float(np.median(one.ts.values)) * 1.5 - 1e-9)


def test_resample_matches_gammapy(expected):
    """gammapy's resample_axis(group_size=2): norm, stat, ts, ul agree; its norm_err is 1/sqrt(2) low."""
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    out = ds.sed.resample("energy", group_size=2)
    gp = expected["fp_likelihood.fits"]["derived"]
    gp = gp["resample_axis(get_rebinned_axis(method='fixed-bins', group_size=2))"]
    q = {k: np.array([np.nan if x is None else x for x in v["values"]]) for k, v in gp["quantities"].items()}
    np.testing.assert_allclose(out.energy.values, gp["geometry"]["energy_ref_TeV"], rtol=1e-12)
    np.testing.assert_allclose(out.energy_min.values, gp["geometry"]["energy_min_TeV"], rtol=1e-12)
    np.testing.assert_allclose(out.norm.values, q["norm"], rtol=2e-3)
    np.testing.assert_allclose(out.stat_null.values, q["stat_null"], rtol=1e-12)
    np.testing.assert_allclose(out.ts.values, q["ts"], rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(out.norm_ul.values[:2], q["norm_ul"][:2], rtol=1e-3)
    assert (
        np.isnan(q["norm_ul"][2]) and np.isfinite(out.norm_ul.values[2]) and out.norm_ul_status.values[2] == 2
    )
    np.testing.assert_allclose(out.sed.dnde.values[:2], q["dnde"][:2], rtol=2e-3)
    # errors: the right value is the inverse-variance combination of the two bins' own (fit) errors
    err_in = ds.norm_err.values[:4].reshape(2, 2)
    truth = 1.0 / np.sqrt((1.0 / err_in**2).sum(-1))
    np.testing.assert_allclose(out.norm_err.values[:2], truth, rtol=1e-2)
    np.testing.assert_allclose(q["norm_err"][:2] / out.norm_err.values[:2], 1 / np.sqrt(2), rtol=0.03)


def test_resample_multi_energy_light_curve_along_time():
    """gammapy refuses this; each energy bin's time groups are merged independently."""
    ds, mu, sigma = _gaussian_lc(4, n_time=6, n_energy=3)
    out = ds.sed.resample("time", group_size=3)
    mean, err = _inverse_variance(mu.reshape(2, 3, 3), sigma.reshape(2, 3, 3), axis=1)
    assert out.norm.dims == ("time", "energy")
    np.testing.assert_allclose(out.norm.values, mean, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values, err, atol=1e-9)
    m, sg = mu.reshape(2, 3, 3), sigma.reshape(2, 3, 3)
    ts_sum = ((m / sg) ** 2).sum(1) - (((mean[:, None] - m) / sg) ** 2).sum(1)
    np.testing.assert_allclose(out.ts.values, ts_sum, atol=1e-8)
    np.testing.assert_allclose(out.time_max.values, [59003.0, 59006.0])
    np.testing.assert_allclose(out.energy_min.values, ds.energy_min.values)  # energy untouched


def test_combine_is_lazy_on_dask():
    ds, mu, sigma = _gaussian_lc(5)
    lazy = ds.chunk({"energy": 1}).assign_coords({k: ds[k] for k in ds.coords})
    calls = []
    with dask.config.set(scheduler=lambda dsk, keys, **kw: calls.append(1) or dask.get(dsk, keys, **kw)):
        out = lazy.sed.combine("time")
        assert not calls and out.norm.chunks is not None and out.ts.chunks is not None
        got = out.norm.compute()
        assert len(calls) == 1
    np.testing.assert_allclose(got.values, _inverse_variance(mu, sigma)[0], atol=1e-9)


def test_lazy_real_file_from_open_dataset():
    """fluxds.open_dataset (dask data and dask bin-edge coordinates): nothing computes but resample's
    one read of the time edges."""
    path = WRITTEN / "lc_1bin_likelihood.fits"
    lazy = fluxds.open_dataset(path, chunks={"time": 2})
    calls = []
    with dask.config.set(scheduler=lambda dsk, keys, **kw: calls.append(1) or dask.get(dsk, keys, **kw)):
        results = [
            lazy.sed.combine("time"),
            lazy.sed.recompute_ul(n_sigma_ul=3),
            lazy.sed.recompute_errors(n_sigma=2),
            lazy.sed.check(warn=False),
        ]
        assert not calls
        resampled = lazy.sed.resample("time", group_size=2)
        assert len(calls) == 1
    eager = fluxds.read(path)
    xr.testing.assert_allclose(results[0].compute(), eager.sed.combine("time"))
    xr.testing.assert_allclose(resampled.compute(), eager.sed.resample("time", group_size=2))
