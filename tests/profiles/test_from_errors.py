"""Likelihood profiles approximated from published values, errors and upper limits
(:mod:`fluxds.profiles.from_errors`): their shape against the formulas by hand, the limits and errors
they give back, gammapy's ``FluxPointsDataset(stat_type="distrib")`` on the same points."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.table import Table

from fluxds.construct import from_likelihood, from_sed
from fluxds.errors import MissingQuantityError
from fluxds.models import LogParabola, PowerLaw
from fluxds.profiles import evaluate_profile, recompute_errors, recompute_ul
from fluxds.profiles.castro import castro_stat, predicted_norm, stat_at
from fluxds.profiles.from_errors import APPROXIMATED, is_approximated, profiles_from_errors

DNDE = u.Unit("cm-2 s-1 TeV-1")
REF = PowerLaw(index=2, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
NAN = float("nan")


def _points(**columns):
    n = len(next(iter(columns.values())))
    edges = np.geomspace(1, 10, n + 1)
    return from_likelihood(
        columns.pop("norm", np.full(n, NAN)),
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=REF,
        **columns,
    )


def _at(ds, norms):
    stat, _ = evaluate_profile(ds["norm_scan"].values, ds["stat_scan"].values, np.asarray(norms, float))
    return stat


def test_half_parabolas_against_the_formula():
    ds = profiles_from_errors(_points(norm=[2.0, 1.0], norm_errp=[0.5, 0.2], norm_errn=[0.1, 0.2]))
    x = np.linspace(-3.0, 8.0, 2001)
    for i, (n0, sp, sn) in enumerate([(2.0, 0.5, 0.1), (1.0, 0.2, 0.2)]):
        expected = np.where(x >= n0, ((x - n0) / sp) ** 2, ((x - n0) / sn) ** 2)
        got, _ = evaluate_profile(ds["norm_scan"].values[i], ds["stat_scan"].values[i], x)
        # exact on each side (inside and beyond the scan), the kink at n0 to < 1e-8
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-8)
    assert is_approximated(ds) and ds.attrs["profiles_origin"] == APPROXIMATED
    assert ds["stat_scan"].dims == ("energy", "scan") and ds.sizes["scan"] == 49


def test_symmetric_error_and_n_sigma():
    ds = _points(norm=[1.0, 3.0], norm_err=[0.5, 1.0], norm_errp=[0.25, NAN])
    ds.attrs["n_sigma"] = 2.0  # the errors are 2-sigma errors: Δstat = 4 at one error
    out = profiles_from_errors(ds)
    # bin 0: errp 0.25 above, norm_err 0.5 below; bin 1: norm_err both sides (errp NaN)
    np.testing.assert_allclose(_at(out, [1.25, 2.0]), [4.0, 4.0], rtol=1e-12)
    np.testing.assert_allclose(_at(out, [0.5, 5.0]), [4.0, 16.0], rtol=1e-12)


@pytest.mark.parametrize(
    ("ul_conf", "sidedness", "rise"),
    [(0.95, None, 3.841458820694124), (0.95, "one-sided", 2.705543454095404)],
)
def test_upper_limit_profile_gives_the_limit_back(ul_conf, sidedness, rise):
    ds = _points(norm=[0.3, 2.0], norm_ul=[1.5, NAN], is_ul=[True, False], norm_err=[0.4, 0.5])
    ds.attrs.update(ul_conf=ul_conf, **({"ul_sidedness": sidedness} if sidedness else {}))
    out = profiles_from_errors(ds)
    # the limit: n_sigma_ul**2 (x / ul)**2 from zero, whatever the value stored beside it
    np.testing.assert_allclose(
        _at(out, [[0.0, 1.5, 3.0], [2.0, 2.5, 1.5]]), [[0, rise, 4 * rise], [0, 1, 1]], atol=1e-12
    )
    back = recompute_ul(out)
    np.testing.assert_allclose(float(back["norm_ul"][0]), 1.5, rtol=1e-9)
    errors = recompute_errors(out)
    np.testing.assert_allclose(float(errors["norm_errp"][1]), 0.5, rtol=1e-9)


def test_points_without_errors_or_limit_are_left_out():
    ds = _points(norm=[1.0, 2.0, 1.5], norm_err=[0.1, NAN, 0.0])
    out = profiles_from_errors(ds)
    assert np.isfinite(out["stat_scan"].values[0]).all()
    assert np.isnan(out["norm_scan"].values[1:]).all()  # no error; a zero error
    # the castro likelihood sums the valid bin only: ((1.2 - 1) / 0.1)**2 = 4 with a model 1.2x the ref
    model = PowerLaw(index=2, amplitude=1.2e-12 * DNDE, reference=1 * u.TeV)
    assert float(castro_stat(out, model)) == pytest.approx(4.0, rel=1e-9)
    with pytest.raises(MissingQuantityError, match="needs values with errors"):
        profiles_from_errors(_points(norm=[1.0]))


def test_only_missing_keeps_the_stored_profiles():
    scan = np.linspace(0, 3, 11)
    stored = _points(
        norm=[1.0, 2.0],
        norm_err=[0.3, 0.4],
        norm_scan=np.stack([scan, np.full(11, NAN)]),
        stat_scan=np.stack([(scan - 1.0) ** 2 / 0.2**2, np.full(11, NAN)]),
    )
    out = profiles_from_errors(stored, only_missing=True)
    assert out.sizes["scan"] == 49
    np.testing.assert_array_equal(out["stat_scan"].values[0, :11], stored["stat_scan"].values[0])
    assert np.isnan(out["stat_scan"].values[0, 11:]).all()  # padding
    np.testing.assert_allclose(
        _at(out, [1.2, 2.4]), [1.0, 1.0], rtol=1e-9
    )  # stored (σ 0.2); approximated (0.4)
    assert "for the 1 point(s)" in out.attrs["profiles_origin"]


def _published():
    table = Table(
        {
            "e_ref": [0.5, 1.0, 2.0, 4.0] * u.TeV,
            "dnde": [2e-11, 5e-12, 1e-12, 2e-13] * DNDE,
            "dnde_errp": [2e-12, 6e-13, 2e-13, 5e-14] * DNDE,
            "dnde_errn": [1e-12, 4e-13, 1e-13, 3e-14] * DNDE,
            "dnde_err": [1.5e-12, 5e-13, 1.5e-13, 4e-14] * DNDE,
            "dnde_ul": [NAN, NAN, NAN, 4e-13] * DNDE,
            "is_ul": [False, False, False, True],
        },
        meta={"SED_TYPE": "dnde", "UL_CONF": 0.95},
    )
    columns = {k: (table[k].quantity if k != "is_ul" else np.asarray(table[k])) for k in table.colnames[1:]}
    ds = from_sed("dnde", columns, energy_ref=table["e_ref"].quantity, ul_conf=0.95)
    return table, ds


def test_measured_points_equal_gammapy_distrib_statistic():
    pytest.importorskip("gammapy")
    from gammapy.datasets import FluxPointsDataset
    from gammapy.estimators import FluxPoints
    from gammapy.modeling.models import LogParabolaSpectralModel, SkyModel
    from scipy.special import erfc

    table, ds = _published()
    gp_model = LogParabolaSpectralModel(amplitude=5e-12 * DNDE, reference=1 * u.TeV, alpha=2.2, beta=0.1)
    gp = FluxPointsDataset(
        models=SkyModel(spectral_model=gp_model),
        data=FluxPoints.from_table(table, sed_type="dnde"),
        stat_type="distrib",
    )
    theirs = gp.stat_array().ravel()
    model = LogParabola(amplitude=5e-12 * DNDE, reference=1 * u.TeV, alpha=2.2, beta=0.1)
    approx = profiles_from_errors(ds)
    ours, _ = stat_at(approx, predicted_norm(approx, model, weighting="dnde"))
    # measured points: the same asymmetric-Gaussian term, to rounding
    np.testing.assert_allclose(ours.values[:3], theirs[:3], rtol=1e-9, atol=1e-12)
    # the limit: gammapy's erfc term vs a parabola reaching 1.96**2 at the limit (documented difference)
    m = model.dnde(4 * u.TeV).to_value(DNDE)
    assert theirs[3] == pytest.approx(2 * np.log(erfc((4e-13 - m) / 4e-13) / erfc(1)), rel=1e-9)
    assert float(ours[3]) == pytest.approx(1.959963984540054**2 * (m / 4e-13) ** 2, rel=1e-9)
    at_limit = 2 * np.log(erfc(0.0) / erfc(1.0))
    assert at_limit == pytest.approx(3.70, abs=0.005)  # the module's documentation says so


def test_dims_other_than_energy_broadcast():
    ds = _points(norm=[1.0, 2.0], norm_err=[0.1, 0.2])
    two = xr.concat([ds, ds.assign(norm=ds.norm * 2)], dim="source").assign_coords(source=["a", "b"])
    out = profiles_from_errors(two)
    assert out["stat_scan"].dims == ("source", "energy", "scan")
    np.testing.assert_allclose(out["norm_scan"].sel(source="b").values[:, 24], [2.0, 4.0])  # centre: n0
