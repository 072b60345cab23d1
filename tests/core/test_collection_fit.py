"""Joint fits of published points: ``.sed.fit`` on values with asymmetric errors and upper limits (profiles
approximated from them), on collections (every member's points share one parameter set) and with
``joint=`` on grids. The best-fit statistic is checked against the sum of the terms computed by hand."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr

import fluxds
from fluxds import collection
from fluxds.construct import from_sed
from fluxds.models import LogParabola, PowerLaw

DNDE = u.Unit("cm-2 s-1 TeV-1")
TRUTH = LogParabola(amplitude=3e-11 * DNDE, reference=1 * u.TeV, alpha=2.4, beta=0.15)
START = LogParabola(amplitude=1e-11 * DNDE, reference=1 * u.TeV, alpha=2.0, beta=0.0)
N_SIGMA_UL = 1.959963984540054  # UL_CONF 0.95, two-sided


def _paper(name, energies, rel_p, rel_n, ul_at, rng, edges=False):
    """Points drawn from TRUTH with asymmetric errors (relative), upper limits (2x the truth) at ``ul_at``."""
    e = np.asarray(energies)
    true = TRUTH.dnde(e * u.TeV).to_value(DNDE)
    errp, errn = rel_p * true, rel_n * true
    z = rng.standard_normal(e.size)
    value = true + np.where(z > 0, errp, errn) * z
    ul = np.full(e.size, np.nan)
    ul[ul_at] = 2 * true[ul_at]
    is_ul = np.isfinite(ul)
    energy = {"energy_ref": e * u.TeV}
    if edges:
        ratio = np.sqrt(e[1] / e[0])
        energy.update(energy_min=e / ratio * u.TeV, energy_max=e * ratio * u.TeV)
    ds = from_sed(
        "dnde",
        {
            "dnde": value * DNDE,
            "dnde_errp": errp * DNDE,
            "dnde_errn": errn * DNDE,
            "dnde_ul": ul * DNDE,
            "is_ul": is_ul,
        },
        ul_conf=0.95,
        coords={"paper": name},
        **energy,
    )
    raw = {"e": e, "value": value, "errp": errp, "errn": errn, "ul": ul, "is_ul": is_ul}
    return ds, raw


def _two_papers(seed=3, edges=False):
    rng = np.random.default_rng(seed)
    a, ra = _paper("hess", np.geomspace(0.3, 30, 10), 0.08, 0.06, [9], rng, edges)
    b, rb = _paper("magic", np.geomspace(0.1, 10, 8), 0.12, 0.10, [0, 7], rng, edges)
    raw = {k: np.concatenate([ra[k], rb[k]]) for k in ra}
    return collection.stack_members([a, b], label="paper"), raw


def _chi2_by_hand(model, raw) -> float:
    """Σ ((m - v) / σ±)² over measured points (σ+ where the model lies above) + Σ n_ul² (m / ul)² over the
    limits: in dnde, straight from the numbers drawn."""
    m = model.dnde(raw["e"] * u.TeV).to_value(DNDE)
    sigma = np.where(m >= raw["value"], raw["errp"], raw["errn"])
    measured = ((m - raw["value"]) / sigma) ** 2
    limits = (N_SIGMA_UL * m / raw["ul"]) ** 2
    return float(np.sum(np.where(raw["is_ul"], limits, measured)))


def test_two_papers_fitted_jointly_recover_the_log_parabola():
    col, raw = _two_papers()
    fit = col.sed.fit(START, weighting="dnde")
    assert bool(fit["success"]) and fit["alpha"].dims == ()  # one parameter set for both papers
    assert int(fit["n_bins"]) == 18
    assert fit.attrs["profiles"].startswith("approximated")
    truth = {"amplitude": 3e-11, "alpha": 2.4, "beta": 0.15}
    for name, value in truth.items():
        assert abs(float(fit[name]) - value) < 3 * float(fit[f"{name}_err"]), (name, float(fit[name]))
    best = fluxds.profiles.castro_fit.best_fit_model(fit)
    # the statistic at the best fit: the sum of the terms by hand (the kink at each value < 1e-8 each)
    assert float(fit["stat"]) == pytest.approx(_chi2_by_hand(best, raw), rel=1e-7, abs=1e-7)
    # the covariance against the sum by hand: moving alpha alone by d raises it by d**2 inv(cov)_aa
    cov = fit["covariance"].values
    d = 0.3 * float(fit["alpha_err"])
    moved = LogParabola(
        amplitude=best.parameters["amplitude"],
        reference=1 * u.TeV,
        alpha=float(fit["alpha"]) + d,
        beta=float(fit["beta"]),
    )
    rise = _chi2_by_hand(moved, raw) - float(fit["stat"])
    assert rise == pytest.approx(d**2 * np.linalg.inv(cov)[1, 1], rel=0.02)


def test_flux_weighting_with_bin_edges():
    col, _ = _two_papers(seed=11, edges=True)
    fit = col.sed.fit(START)  # weighting="flux": the model integrated over each point's bin
    assert bool(fit["success"])
    for name, value in {"alpha": 2.4, "beta": 0.15}.items():
        assert abs(float(fit[name]) - value) < 3 * float(fit[f"{name}_err"])


def test_members_fitted_separately_differ_from_the_joint_fit():
    col, _ = _two_papers()
    joint = col.sed.fit(START, weighting="dnde")
    alone = [collection.member(col, p).sed.fit(START, weighting="dnde") for p in ("hess", "magic")]
    # the joint statistic is at least the sum of the separate minima (each has its own parameters)
    assert float(joint["stat"]) >= sum(float(f["stat"]) for f in alone) - 1e-9
    assert int(joint["n_bins"]) == sum(int(f["n_bins"]) for f in alone)


def _grid():
    """Two sources on the same bins, with parabolic profiles."""
    rng = np.random.default_rng(5)
    edges = np.geomspace(0.5, 50, 7)
    ref = PowerLaw(index=2.5, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    norm = rng.normal(1.0, 0.05, (2, 6))
    err = np.full((2, 6), 0.1)
    scan = np.linspace(0, 3, 31) * np.ones((2, 6, 1))
    return fluxds.from_likelihood(
        norm,
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=ref,
        dims=("source", "energy"),
        coords={"source": ["a", "b"]},
        norm_err=err,
        norm_scan=scan,
        stat_scan=((scan - norm[..., None]) / err[..., None]) ** 2,
    )


def test_joint_option_on_a_grid():
    ds = _grid()
    start = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    each = ds.sed.fit(start)
    assert each["index"].dims == ("source",)
    joint = ds.sed.fit(start, joint=True)
    assert joint["index"].dims == () and int(joint["n_bins"]) == 12
    assert joint.attrs["joint"] == '["source"]' and joint.attrs["profiles"] == "stored"
    # the same as the collection of both sources' points
    flat = collection.collection_from_grid(ds, "source")
    same = flat.sed.fit(start)
    for name in ("index", "amplitude", "stat"):
        assert float(joint[name]) == pytest.approx(float(same[name]), rel=1e-9)
    assert float(joint["stat"]) >= float(each["stat"].sum()) - 1e-9
    with pytest.raises(fluxds.FluxdsError, match="not dimensions of the SEDs"):
        ds.sed.fit(start, joint=["time"])


def test_stored_profiles_are_fitted_as_before():
    ds = _grid()
    start = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    fit = ds.sed.fit(start)
    # errors beside the profiles change nothing: the profiles are what is fitted
    other = ds.assign(norm_err=ds.norm_err * 10).sed.fit(start)
    xr.testing.assert_identical(fit, other)
    assert fit.attrs["profiles"] == "stored"


def test_collection_of_a_member_with_profiles_and_one_without():
    ds = _grid().isel(source=0)
    with_profiles = ds.assign_coords(source="lat")
    published = ds.drop_vars(["norm_scan", "stat_scan"]).assign_coords(
        {c: ("energy", ds[c].values * 1.1, ds[c].attrs) for c in ("energy", "energy_min", "energy_max")}
    )
    published = published.assign_coords(source="paper")
    col = fluxds.concat_sources([with_profiles, published])
    assert collection.members(col) == ["lat", "paper"]
    start = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    fit = col.sed.fit(start)
    assert int(fit["n_bins"]) == 12 and "for the 6 point(s)" in fit.attrs["profiles"]
    best = fluxds.profiles.castro_fit.best_fit_model(fit)
    # by hand: every point's (pred - norm)**2 / 0.1**2 (both members' profiles are these parabolas)
    pred = fluxds.profiles.castro.predicted_norm(col, best).values
    assert float(fit["stat"]) == pytest.approx(
        float(np.sum((pred - col["norm"].values) ** 2 / 0.01)), rel=1e-6
    )


def test_nothing_to_fit_says_what_is_needed():
    ds = from_sed("dnde", {"dnde": [1e-12, 2e-13] * DNDE}, energy_ref=[1.0, 2.0] * u.TeV)
    with pytest.raises(fluxds.SchemaError, match="or values with errors or upper limits"):
        ds.sed.fit(START, weighting="dnde")
