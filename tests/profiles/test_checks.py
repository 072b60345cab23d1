"""ds.sed.check: flags where stored numbers contradict the profile (analytic profiles, real files)."""

from __future__ import annotations

import warnings

import dask
import numpy as np
import pytest
from helpers import GADF, WRITTEN, parabolic_profiles

import fluxds


def test_consistent_dataset_passes_quietly():
    ds, mu, sigma, _, _ = parabolic_profiles(6)
    ds = ds.sed.recompute_ul(n_sigma_ul=2).assign(ts=(mu / sigma) ** 2 * (ds.norm * 0 + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = ds.sed.check()
    assert not report.any_problem.any()
    np.testing.assert_allclose(report.ul_n_sigma_found.values, 2.0, atol=1e-7)
    np.testing.assert_allclose(report.norm_min.values, mu, atol=1e-9)


def test_fermipy_style_95_percent_limits_are_caught():
    """Limits written at 95 % while UL_CONF claims 99 %: flagged, and the true level is reported."""
    ds, mu, sigma, _, _ = parabolic_profiles(7)
    ds = ds.sed.recompute_ul(ul_conf=0.95)
    ds.attrs.update(ul_conf=0.99, n_sigma_ul=2.5758293035489004)
    with pytest.warns(UserWarning, match=r"ul_mismatch: 35 of 35 bins.*median 1\.960"):
        report = ds.sed.check()
    assert report.ul_mismatch.all()
    np.testing.assert_allclose(report.ul_n_sigma_found.values, 1.959963984540054, atol=1e-7)
    np.testing.assert_allclose(report.norm_ul_expected.values, mu + 2.5758293035489004 * sigma, atol=1e-9)


def test_norm_offset_and_ts_mismatch():
    ds, mu, sigma, _, _ = parabolic_profiles(8)
    shifted = ds.norm.values.copy()
    shifted[1, 2] += 0.5 * sigma[1, 2]  # half a sigma away from the minimum
    ts = (mu / sigma) ** 2
    ts[3, 1] += 1.0
    bad = ds.assign(norm=(ds.norm.dims, shifted), ts=(ds.norm.dims, ts), stat=ds.norm * 0 + 3.0)
    with pytest.warns(UserWarning, match="norm_offset: 1 of 35 bins, ts_mismatch: 1 of 35"):
        report = bad.sed.check()
    assert report.norm_offset.values.sum() == 1 and report.norm_offset.values[1, 2]
    assert report.norm_offset_sigma.values[1, 2] == pytest.approx(0.5, abs=1e-9)
    assert report.ts_mismatch.values.sum() == 1 and report.ts_mismatch.values[3, 1]
    # tolerances are arguments
    assert not bad.sed.check(norm_tol=0.6, ts_atol=2.0, warn=False).any_problem.any()


def test_real_files():
    """gammapy's file: consistent where the scan covers the minimum. The GADF sample binlike.fits is
    synthetic: its scans peak far from its norm column (norm 1.54, scan centre 2.38 in bin 0)."""
    good = fluxds.read(WRITTEN / "fp_likelihood.fits").isel(energy=slice(0, 4))
    assert not good.sed.check(warn=False).any_problem.any()
    sample = fluxds.read(GADF / "binlike.fits")
    with pytest.warns(UserWarning, match="norm_offset: 24 of 24"):
        report = sample.sed.check()
    assert report.norm_min.values[0] == pytest.approx(2.3786, abs=1e-3)


def test_check_report_is_lazy_until_the_warning():
    ds, *_ = parabolic_profiles(9)
    lazy = ds.chunk({"source": 2})
    calls = []
    with dask.config.set(scheduler=lambda dsk, keys, **kw: calls.append(1) or dask.get(dsk, keys, **kw)):
        report = lazy.sed.check(warn=False)
        assert not calls and report.ul_mismatch.chunks is not None
