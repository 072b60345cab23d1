"""The castro likelihood and spectral fits from SED profiles (fluxds.profiles.castro, castro_fit).

Checked against closed-form power-law integrals and the chi2 of parabolic profiles written here, the
Fisher-matrix errors of parabolic profiles (derivatives by scipy quadrature), seeded coverage trials,
and gammapy's own profile fit of crab_hess_fp.fits.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from helpers import GAMMAPY_DATA
from scipy import integrate

import fluxds
from fluxds import from_likelihood
from fluxds.errors import MissingEnergyEdgesError, ModelError, SchemaError
from fluxds.models import ExpCutoffPowerLaw, LogParabola, PowerLaw
from fluxds.profiles.castro import castro_stat, predicted_norm
from fluxds.profiles.castro_fit import best_fit_model, fit_castro

DNDE = u.Unit("cm-2 s-1 TeV-1")
EDGES = np.geomspace(0.3, 30.0, 9) * u.TeV  # 8 bins, a quarter decade each
REF = PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
TRUTH = PowerLaw(index=2.6, amplitude=4e-11 * DNDE, reference=1 * u.TeV)
REL_ERR = np.array([0.05, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3])  # width of each bin's parabola


def pl_flux(amplitude, index, e1, e2, e0=1.0):
    """Closed-form power-law flux over [e1, e2] (TeV, cm-2 s-1), written independently of fluxds."""
    return amplitude * e0 / (1 - index) * ((e2 / e0) ** (1 - index) - (e1 / e0) ** (1 - index))


def parabolic_sed(norm_true, sigma, *, seed=None, n_sources=None, n_scan=21, width=5.0):
    """Likelihood SED with parabolic profiles ``((norm - norm_hat) / sigma)**2`` around ``norm_hat``.

    ``norm_hat = norm_true`` (no seed) or ``norm_true + sigma * N(0, 1)`` (a seed); ``n_sources``
    adds a ``source`` dimension of independent noise draws.
    """
    shape = (n_sources, norm_true.size) if n_sources else norm_true.shape
    noise = np.random.default_rng(seed).standard_normal(shape) if seed is not None else np.zeros(shape)
    norm_hat = norm_true + sigma * noise
    grid = np.linspace(-width, width, n_scan)
    scan = norm_hat[..., None] + sigma[:, None] * grid
    stat = ((scan - norm_hat[..., None]) / sigma[:, None]) ** 2
    dims = ("source", "energy") if n_sources else ("energy",)
    coords = {"source": [f"s{i}" for i in range(n_sources)]} if n_sources else None
    ds = from_likelihood(
        norm_hat,
        norm_err=np.broadcast_to(sigma, shape),
        energy_min=EDGES[:-1],
        energy_max=EDGES[1:],
        reference_model=REF,
        norm_scan=scan,
        stat_scan=stat,
        dims=dims,
        coords=coords,
    )
    return ds, norm_hat


def _truth_norm():
    e1, e2 = EDGES[:-1].value, EDGES[1:].value
    return pl_flux(4e-11, 2.6, e1, e2) / pl_flux(1e-12, 2.0, e1, e2)


# ---- castro_stat ------------------------------------------------------------------------------------


def test_castro_stat_is_chi2_of_parabolas_vectorised_over_sources():
    norm_true = _truth_norm()
    sigma = REL_ERR * norm_true
    ds, norm_hat = parabolic_sed(norm_true, sigma, seed=1, n_sources=5)
    model = PowerLaw(index=2.5, amplitude=3e-11 * DNDE, reference=1 * u.TeV)
    e1, e2 = EDGES[:-1].value, EDGES[1:].value
    pred = pl_flux(3e-11, 2.5, e1, e2) / pl_flux(1e-12, 2.0, e1, e2)
    expected = np.sum(((pred - norm_hat) / sigma) ** 2, axis=-1)
    stat = castro_stat(ds, model)
    assert stat.dims == ("source",)
    np.testing.assert_allclose(stat.values, expected, rtol=1e-9)
    np.testing.assert_allclose(ds.sed.castro_stat(model).values, expected, rtol=1e-9)


def test_callable_model_integrates_like_the_exact_model():
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true, seed=2)
    lp = LogParabola(amplitude=3e-11 * DNDE, reference=1 * u.TeV, alpha=2.4, beta=0.1)
    exact = predicted_norm(ds, lp)
    quadrature = predicted_norm(ds, lambda energy: lp.dnde(energy))
    np.testing.assert_allclose(quadrature.values, exact.values, rtol=1e-12)
    np.testing.assert_allclose(
        float(castro_stat(ds, lambda energy: lp.dnde(energy))), float(castro_stat(ds, lp)), rtol=1e-10
    )


@pytest.mark.parametrize("weighting", ["eflux", "dnde"])
def test_other_weightings(weighting):
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true)
    e1, e2 = EDGES[:-1].value, EDGES[1:].value
    model = PowerLaw(index=2.5, amplitude=3e-11 * DNDE, reference=1 * u.TeV)
    if weighting == "dnde":
        e_ref = ds["energy"].values
        expected = (3e-11 * e_ref**-2.5) / (1e-12 * e_ref**-2.0)
    else:  # E * dnde of index g is a power law of index g - 1; for index 1 its integral is a log
        expected = pl_flux(3e-11, 1.5, e1, e2) / (1e-12 * np.log(e2 / e1))
    np.testing.assert_allclose(predicted_norm(ds, model, weighting=weighting).values, expected, rtol=1e-12)


def test_lazy_on_dask_and_equal():
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true, seed=3, n_sources=6)
    lazy = castro_stat(ds.chunk({"source": 2}), TRUTH)
    assert lazy.chunks is not None  # still a dask array
    np.testing.assert_allclose(lazy.compute().values, castro_stat(ds, TRUTH).values, rtol=1e-14)


def test_bad_input():
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true)
    with pytest.raises(SchemaError, match="stat_scan"):
        castro_stat(ds.drop_vars("stat_scan"), TRUTH)
    with pytest.raises(ModelError, match="weighting"):
        castro_stat(ds, TRUTH, weighting="npred")
    with pytest.raises(MissingEnergyEdgesError, match="energy_min"):
        castro_stat(ds.drop_vars(["energy_min", "energy_max"]), TRUTH)
    with pytest.raises(ModelError, match="no parameter"):
        fit_castro(ds, TRUTH, parameters=["gamma"])


# ---- fits -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "truth",
    [
        TRUTH,
        LogParabola(amplitude=4e-11 * DNDE, reference=1 * u.TeV, alpha=2.4, beta=0.15),
        ExpCutoffPowerLaw(index=2.2, amplitude=4e-11 * DNDE, reference=1 * u.TeV, lambda_=0.1 / u.TeV),
    ],
    ids=lambda m: m.type,
)
def test_noise_free_fit_returns_the_truth(truth):
    norm_true = (truth.flux(EDGES[:-1], EDGES[1:]) / REF.flux(EDGES[:-1], EDGES[1:])).value
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true)
    start = {"PowerLaw": dict(index=2.0), "LogParabola": dict(alpha=2.0, beta=0.05)}.get(
        truth.type, dict(index=2.0, lambda_=0.05 / u.TeV)
    )
    fit = ds.sed.fit(type(truth)(**{**truth.parameters, "amplitude": 1e-11 * DNDE, **start}))
    assert bool(fit["success"])
    assert float(fit["stat"]) < 1e-9
    for name, value in truth.parameters.items():
        if name in fit:
            assert float(fit[name]) == pytest.approx(value.value, rel=1e-6), name
    assert best_fit_model(fit).type == truth.type


def test_errors_agree_with_the_fisher_matrix():
    """Noise-free parabolic profiles: the Hessian of the stat is twice the Fisher matrix
    F = J^T diag(1/sigma^2) J, J the derivatives of the predicted norms (scipy quadrature here)."""
    norm_true = _truth_norm()
    sigma = REL_ERR * norm_true
    ds, _ = parabolic_sed(norm_true, sigma)
    fit = fit_castro(ds, PowerLaw(index=2.2, amplitude=2e-11 * DNDE, reference=1 * u.TeV))
    ref = pl_flux(1e-12, 2.0, EDGES[:-1].value, EDGES[1:].value)
    a, g = 4e-11, 2.6
    bins = list(zip(EDGES[:-1].value, EDGES[1:].value, strict=True))
    d_amp = [integrate.quad(lambda e: e**-g, lo, hi)[0] for lo, hi in bins]
    d_index = [integrate.quad(lambda e: -a * np.log(e) * e**-g, lo, hi)[0] for lo, hi in bins]
    jac = np.stack([np.array(d_index) / ref, np.array(d_amp) / ref], axis=1)  # (energy, [index, amp])
    fisher = jac.T @ (jac / sigma[:, None] ** 2)
    cov = np.linalg.inv(fisher)
    np.testing.assert_allclose(fit["covariance"].values, cov, rtol=1e-4)
    assert float(fit["index_err"]) == pytest.approx(np.sqrt(cov[0, 0]), rel=1e-4)
    assert float(fit["amplitude_err"]) == pytest.approx(np.sqrt(cov[1, 1]), rel=1e-4)


def test_index_coverage_over_200_seeded_trials():
    """200 noisy SEDs fitted at once (a source dimension): the pulls (fit - truth) / error are
    standard normal, so the truth lies within 1 sigma in ~68 % and within 2 sigma in ~95 % of trials."""
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true, seed=2024, n_sources=200)
    fit = ds.sed.fit(PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV))
    assert fit["index"].dims == ("source",)
    assert bool(fit["success"].all())
    pull = ((fit["index"] - 2.6) / fit["index_err"]).values
    within1, within2 = np.mean(np.abs(pull) < 1), np.mean(np.abs(pull) < 2)
    # binomial sd for 200 trials: 3.3 % at 68 %, 1.5 % at 95 %; bounds are ~3 sd wide
    assert 0.58 < within1 < 0.78, within1
    assert within2 >= 0.95, within2  # the issue: within its error in >= 95 % of 200 trials (2 sigma)
    assert abs(pull.mean()) < 0.25 and 0.85 < pull.std() < 1.15
    # a single-source fit of one trial gives the same numbers as the batch
    one = ds.isel(source=7).sed.fit(PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV))
    assert float(one["index"]) == pytest.approx(float(fit["index"][7]), rel=1e-6)
    assert float(one["index_err"]) == pytest.approx(float(fit["index_err"][7]), rel=1e-3)


def test_callable_fit_with_parameters():
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true)

    def dnde(energy, amplitude, index):
        return amplitude * (energy / u.TeV).to_value("") ** -index

    fit = fit_castro(ds, dnde, parameters={"amplitude": 1e-11 * DNDE, "index": 2.0})
    assert float(fit["index"]) == pytest.approx(2.6, rel=1e-6)
    assert float(fit["amplitude"]) == pytest.approx(4e-11, rel=1e-6)


# ---- the H.E.S.S. Crab flux points ----------------------------------------------------------------


@pytest.fixture(scope="module")
def crab():
    return fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")


def test_crab_power_law_and_log_parabola(crab):
    pl = crab.sed.fit(PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV))
    lp = crab.sed.fit(LogParabola(amplitude=1e-11 * DNDE, reference=1 * u.TeV, alpha=2.0, beta=0.1))
    assert bool(pl["success"]) and bool(lp["success"])
    assert int(pl["n_bins"]) == 4  # the first bin has no profile
    # H.E.S.S. Crab (Aharonian et al. 2006): a steepening spectrum, index 2.4-2.6 at 1-20 TeV
    assert 2.4 < float(pl["index"]) < 2.8
    assert 3e-11 < float(pl["amplitude"]) < 6e-11  # (3.45 +- 0.05) e-11 cm-2 s-1 TeV-1 at 1 TeV
    assert float(lp["beta"]) > 0  # curved downwards
    assert float(lp["stat"]) < float(pl["stat"])


@pytest.mark.parametrize("kind", ["PowerLaw", "LogParabola"])
def test_crab_agrees_with_gammapy_profile_fit(crab, kind):
    """gammapy's FluxPointsDataset(stat_type="profile") compares dnde at e_ref with dnde_ref, so the
    comparison uses weighting="dnde"; the interpolations differ (gammapy: quadratic interp1d)."""
    pytest.importorskip("gammapy")
    from gammapy.datasets import FluxPointsDataset
    from gammapy.estimators import FluxPoints
    from gammapy.modeling import Fit
    from gammapy.modeling.models import LogParabolaSpectralModel, PowerLawSpectralModel, SkyModel

    if kind == "PowerLaw":
        gp = PowerLawSpectralModel(index=2, amplitude="1e-11 cm-2 s-1 TeV-1", reference="1 TeV")
        ours = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    else:
        gp = LogParabolaSpectralModel(alpha=2, beta=0.1, amplitude="1e-11 cm-2 s-1 TeV-1", reference="1 TeV")
        ours = LogParabola(amplitude=1e-11 * DNDE, reference=1 * u.TeV, alpha=2.0, beta=0.1)
    data = FluxPoints.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    dataset = FluxPointsDataset(data=data, models=SkyModel(spectral_model=gp), stat_type="profile")
    assert Fit().run([dataset]).success
    fit = crab.sed.fit(ours, weighting="dnde")
    for par in gp.parameters.free_parameters:
        value, err = float(fit[par.name]), float(fit[f"{par.name}_err"])
        assert abs(value - par.value) < 0.25 * err, (par.name, value, par.value, err)
        assert err == pytest.approx(par.error, rel=0.15), par.name


def test_fit_result_layout():
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true, seed=5, n_sources=3)
    fit = fit_castro(ds, TRUTH, parameters=["index"])  # amplitude frozen at the truth
    assert list(fit["covariance"].coords["param"].values) == ["index"]
    assert "amplitude" not in fit
    assert fit["index"].attrs["units"] == ""
    xr.testing.assert_equal(fit["n_bins"], xr.full_like(fit["n_bins"], 8))
    model = best_fit_model(fit.isel(source=1))
    assert model.index == pytest.approx(float(fit["index"][1]))
    assert model.amplitude == TRUTH.amplitude


def test_sed_without_enough_bins_is_not_fitted_alone():
    """A source whose profiles are all NaN gets NaN and success False; the others are fitted."""
    norm_true = _truth_norm()
    ds, _ = parabolic_sed(norm_true, REL_ERR * norm_true, n_sources=3)
    ds["stat_scan"][1] = np.nan
    fit = fit_castro(ds, PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV))
    assert fit["success"].values.tolist() == [True, False, True]
    assert np.isnan(fit["index"][1]) and np.isnan(fit["index_err"][1])
    assert int(fit["n_bins"][1]) == 0
    np.testing.assert_allclose(fit["index"].values[[0, 2]], 2.6, rtol=1e-6)
    assert float(castro_stat(ds, TRUTH)[1]) == 0.0  # no bins, nothing to add
