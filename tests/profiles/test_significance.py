"""Significance helpers against scipy.stats (an independent implementation)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
import xarray as xr
from scipy import stats

import fluxds
from fluxds.profiles import conf_to_n_sigma, n_sigma_to_conf, p_value, p_value_to_n_sigma, sqrt_ts

N = np.array([0.5, 1.0, 1.959963984540054, 2.0, 3.0, 5.0])


def test_n_sigma_conf_one_and_two_sided():
    np.testing.assert_allclose(n_sigma_to_conf(N, sided="one"), stats.norm.cdf(N), rtol=1e-14)
    np.testing.assert_allclose(n_sigma_to_conf(N, sided="two"), stats.chi2.cdf(N**2, 1), rtol=1e-13)
    np.testing.assert_allclose(n_sigma_to_conf(N, sided="two"), 1 - 2 * stats.norm.sf(N), rtol=1e-13)
    conf = np.array([0.6827, 0.9, 0.95, 0.99, 0.9973])
    np.testing.assert_allclose(conf_to_n_sigma(conf, sided="one"), stats.norm.ppf(conf), rtol=1e-13)
    np.testing.assert_allclose(conf_to_n_sigma(conf, sided="two"), stats.norm.isf((1 - conf) / 2), rtol=1e-13)
    assert conf_to_n_sigma(0.95, sided="two") == pytest.approx(1.959963984540054, rel=1e-15)


def test_sided_is_required_and_checked():
    with pytest.raises(TypeError):
        n_sigma_to_conf(2.0)  # type: ignore[call-arg]
    with pytest.raises(fluxds.errors.FluxdsError, match="sided"):
        conf_to_n_sigma(0.95, sided="both")


@pytest.mark.parametrize("dof", [1, 2, 5])
def test_p_values(dof):
    ts = np.array([0.0, 1.0, 4.0, 25.0, 60.0])
    np.testing.assert_allclose(p_value(ts, dof=dof), stats.chi2.sf(ts, dof), rtol=1e-12)
    assert p_value(-3.0) == 1.0
    # 1 dof: the two-sided Gaussian equivalent of p(ts) is sqrt(ts)
    np.testing.assert_allclose(p_value_to_n_sigma(p_value(ts[1:]), sided="two"), np.sqrt(ts[1:]), rtol=1e-9)
    np.testing.assert_allclose(p_value_to_n_sigma(0.05, sided="one"), stats.norm.isf(0.05), rtol=1e-13)


def test_sqrt_ts_signed_and_lazy():
    ts = xr.DataArray(da.from_array(np.array([9.0, 4.0, -1.0, 0.0]), chunks=2), dims="energy")
    norm = xr.DataArray(np.array([1.0, -2.0, 0.5, -1.0]), dims="energy")
    signed = sqrt_ts(ts, norm)
    assert isinstance(signed.data, da.Array)
    np.testing.assert_array_equal(signed.values, [3.0, -2.0, 0.0, -0.0])
    np.testing.assert_array_equal(sqrt_ts(ts).values, [3.0, 2.0, 0.0, 0.0])
    assert isinstance(p_value(ts).data, da.Array)


def test_ts_scan_matches_ts_at_minimum():
    ds = fluxds.read(fluxds.demo_path())
    if "stat_scan" not in ds or "stat_null" not in ds:
        pytest.fail("the demo file is expected to hold profiles and stat_null")
    tss = ds.sed.ts_scan()
    assert tss.dims == ds.stat_scan.dims
    np.testing.assert_allclose(tss.values, (ds.stat_null - ds.stat_scan).values)
