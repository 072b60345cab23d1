"""recompute_ul / recompute_errors against analytic parabolas, gammapy's numbers and gammapy itself."""

from __future__ import annotations

import astropy.units as u
import dask
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN, CountingScheduler, parabolic_profiles

import fluxds
from fluxds.construct import from_likelihood
from fluxds.models import PowerLaw

PL = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
E = np.geomspace(1.0, 100.0, 6)


@pytest.mark.parametrize("n_sigma_ul", [1.0, 2.0, 3.0])
def test_ul_exact_on_parabolas_with_status(n_sigma_ul):
    ds, mu, sigma, _, hi = parabolic_profiles()
    out = ds.sed.recompute_ul(n_sigma_ul=n_sigma_ul)
    want = mu + n_sigma_ul * sigma
    np.testing.assert_allclose(out.norm_ul.values, want, rtol=0, atol=1e-9)
    # beyond the scan: finite, flagged 2
    np.testing.assert_array_equal(out.norm_ul_status.values == 2, want > hi)
    assert np.all(np.isin(out.norm_ul_status.values, [0, 2]))
    assert out.attrs["n_sigma_ul"] == n_sigma_ul
    assert out.attrs["ul_conf"] == pytest.approx(float(__import__("scipy").special.erf(n_sigma_ul / 2**0.5)))
    assert out.norm_ul_status.dtype == np.int8
    assert out.norm_ul_status.attrs["flag_meanings"].split()[2] == "extrapolated_above_scan"


def test_ul_conf_gives_exact_n_sigma():
    ds, mu, sigma, _, _ = parabolic_profiles(1)
    out = ds.sed.recompute_ul(ul_conf=0.95)
    assert out.attrs["n_sigma_ul"] == pytest.approx(1.959963984540054, rel=1e-15)
    assert out.attrs["ul_conf"] == 0.95
    np.testing.assert_allclose(out.norm_ul.values, mu + 1.959963984540054 * sigma, atol=1e-9)


def test_negative_excess_rule_zero():
    """reference="zero": for norm_min < 0 the rise is measured from the profile at zero norm."""
    ds, mu, sigma, _, _ = parabolic_profiles(2)
    out = ds.sed.recompute_ul(n_sigma_ul=2, reference="zero")
    # stat(x) = 3 + ((x-mu)/s)^2; from 0 when mu < 0: ((x-mu)/s)^2 = (mu/s)^2 + 4
    want = np.where(mu < 0, mu + sigma * np.sqrt((mu / sigma) ** 2 + 4.0), mu + 2.0 * sigma)
    assert (mu < 0).any()
    np.testing.assert_allclose(out.norm_ul.values, want, atol=1e-9)
    assert np.all(out.norm_ul.values > 0)


@pytest.mark.parametrize("n_sigma", [1.0, 2.0])
def test_errors_exact_on_parabolas(n_sigma):
    ds, mu, sigma, lo, hi = parabolic_profiles(3)
    out = ds.sed.recompute_errors(n_sigma=n_sigma)
    np.testing.assert_allclose(out.norm_errp.values, n_sigma * sigma, atol=1e-9)
    np.testing.assert_allclose(out.norm_errn.values, n_sigma * sigma, atol=1e-9)
    np.testing.assert_allclose(out.norm_err.values, n_sigma * sigma, atol=1e-9)
    np.testing.assert_array_equal(out.norm_errp_status.values == 2, mu + n_sigma * sigma > hi)
    np.testing.assert_array_equal(out.norm_errn_status.values == 1, mu - n_sigma * sigma < lo)
    assert out.attrs["n_sigma"] == n_sigma


@pytest.mark.parametrize("n_sigma_ul", [2, 3])
def test_gammapy_recompute_ul_numbers(expected, n_sigma_ul):
    """Within the scan, agree with gammapy's recompute_ul (expected.json); beyond it, finite + flagged."""
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    out = ds.sed.recompute_ul(n_sigma_ul=n_sigma_ul)
    derived = expected["fp_likelihood.fits"]["derived"][f"recompute_ul(n_sigma_ul={n_sigma_ul})"]
    gp = np.array([np.nan if v is None else v for v in derived["norm_ul"]["values"]])
    inside = np.isfinite(gp)
    # gammapy interpolates with a global quadratic spline, fluxds with local cubics: 11 log-spaced points
    np.testing.assert_allclose(out.norm_ul.values[inside], gp[inside], rtol=5e-4)
    assert np.all(out.norm_ul_status.values[inside] == 0)
    assert np.all(np.isfinite(out.norm_ul.values[~inside]))
    assert np.all(out.norm_ul_status.values[~inside] == 2)
    gp_dnde = np.array([np.nan if v is None else v for v in derived["dnde_ul"]["values"]])
    np.testing.assert_allclose(out.sed.dnde_ul.values[inside], gp_dnde[inside], rtol=5e-4)


def test_ul_at_stored_confidence_matches_the_fit():
    """gammapy's estimator found norm_ul by refitting (ul_conf of the file); the profile reproduces it."""
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    out = ds.sed.recompute_ul()  # the file's own UL_CONF
    inside = out.norm_ul_status.values == 0
    assert inside.sum() >= 4
    np.testing.assert_allclose(out.norm_ul.values[inside], ds.norm_ul.values[inside], rtol=2e-5)


def test_against_gammapy_directly():
    gp = pytest.importorskip("gammapy.estimators")
    fp = gp.FluxPoints.read(WRITTEN / "fp_likelihood.fits")
    ref = fp.recompute_ul(n_sigma_ul=2.5).norm_ul.data.squeeze()
    out = fluxds.read(WRITTEN / "fp_likelihood.fits").sed.recompute_ul(n_sigma_ul=2.5)
    inside = np.isfinite(ref)
    assert inside.sum() >= 3
    # 11 log-spaced scan points: the two interpolations differ by up to ~1e-3 between the points
    np.testing.assert_allclose(out.norm_ul.values[inside], ref[inside], rtol=2e-3)


def test_lazy_on_dask():
    ds, mu, sigma, _, _ = parabolic_profiles(4)
    lazy = ds.chunk({"source": 3, "scan": 5})
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        ul = lazy.sed.recompute_ul(n_sigma_ul=2)
        err = lazy.sed.recompute_errors(n_sigma=1)
        assert counter.calls == 0
        assert ul.norm_ul.chunks is not None and err.norm_errp.chunks is not None
        got = ul.norm_ul.compute()
        assert counter.calls == 1
    xr.testing.assert_allclose(got, ds.sed.recompute_ul(n_sigma_ul=2).norm_ul)


def test_status_survives_netcdf(tmp_path):
    ds, *_ = parabolic_profiles(5)
    out = ds.sed.recompute_ul(n_sigma_ul=3)
    path = tmp_path / "ul.nc"
    out.sed.write(path)
    back = fluxds.read(path)
    np.testing.assert_array_equal(back.norm_ul_status.values, out.norm_ul_status.values)


def test_missing_profiles_raise_fluxds_error():
    ds = from_likelihood([1.0], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=PL)
    with pytest.raises(fluxds.errors.MissingQuantityError, match="stat_scan"):
        ds.sed.recompute_ul()
