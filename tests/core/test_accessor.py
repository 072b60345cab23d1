"""The .sed accessor and the constructors: every quantity against a hand calculation; laziness."""

from __future__ import annotations

import astropy.units as u
import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from helpers import CountingScheduler

import fluxds
from fluxds import schema

DNDE = u.Unit("cm-2 s-1 TeV-1")
TEV_TO_ERG = (1 * u.TeV).to_value(u.erg)
E_MIN = np.array([1.0, 2.0, 4.0, 8.0])
E_MAX = np.array([2.0, 4.0, 8.0, 16.0])
E_REF = np.array([1.3, 2.9, 5.5, 11.0])  # deliberately not the log centres
PL = fluxds.models.PowerLaw(index=2.5, amplitude=3e-11 * DNDE, reference=1 * u.TeV)


def _sed(**extra):
    columns = dict(
        norm_err=[0.1, 0.2, 0.3, 0.5],
        norm_errp=[0.11, 0.22, 0.33, 0.6],
        norm_errn=[0.09, 0.18, 0.27, 0.4],
        norm_ul=[1.3, 1.5, 1.8, 2.0],
        norm_errsys=[0.05, 0.05, 0.05, 0.05],
        ts=[100.0, 25.0, 3.0, 1.0],
    )
    columns.update(extra)
    return fluxds.from_likelihood(
        [1.0, 0.9, 0.8, -0.2],
        energy_min=E_MIN * u.TeV,
        energy_max=E_MAX * u.TeV,
        energy_ref=E_REF * u.TeV,
        reference_model=PL,
        ul_conf=0.95,
        **columns,
    )


def _pl_flux(lo, hi, index=2.5, amp=3e-11):
    return amp / (1 - index) * (hi ** (1 - index) - lo ** (1 - index))


def _pl_eflux(lo, hi, index=2.5, amp=3e-11):
    return amp / (2 - index) * (hi ** (2 - index) - lo ** (2 - index)) * TEV_TO_ERG


def test_reference_fluxes_are_the_analytic_integrals():
    ds = _sed()
    np.testing.assert_allclose(ds.sed.flux_ref.values, _pl_flux(E_MIN, E_MAX), rtol=1e-14)
    np.testing.assert_allclose(ds.sed.eflux_ref.values, _pl_eflux(E_MIN, E_MAX), rtol=1e-14)
    np.testing.assert_allclose(ds.sed.dnde_ref.values, 3e-11 * E_REF**-2.5, rtol=1e-14)


@pytest.mark.parametrize("suffix", ["", "_err", "_errp", "_errn", "_ul", "_errsys"])
def test_every_sed_type_is_norm_times_reference(suffix):
    ds = _sed()
    norm = ds[f"norm{suffix}"].values
    np.testing.assert_allclose(ds.sed.get(f"dnde{suffix}").values, norm * 3e-11 * E_REF**-2.5, rtol=1e-14)
    # e2dnde uses the stored e_ref as given, not the log centre of the bin
    np.testing.assert_allclose(
        ds.sed.get(f"e2dnde{suffix}").values, norm * 3e-11 * E_REF**-0.5 * TEV_TO_ERG, rtol=1e-14
    )
    np.testing.assert_allclose(ds.sed.get(f"flux{suffix}").values, norm * _pl_flux(E_MIN, E_MAX), rtol=1e-14)
    np.testing.assert_allclose(
        ds.sed.get(f"eflux{suffix}").values, norm * _pl_eflux(E_MIN, E_MAX), rtol=1e-14
    )


def test_units_names_and_conversion():
    ds = _sed()
    dnde = ds.sed.dnde
    assert dnde.name == "dnde" and dnde.attrs["units"] == "cm-2 s-1 TeV-1" and dnde.attrs["long_name"]
    in_tev = ds.sed.get("e2dnde", unit="TeV cm-2 s-1")
    np.testing.assert_allclose(in_tev.values, ds.sed.e2dnde.values / TEV_TO_ERG, rtol=1e-14)
    assert u.Unit(in_tev.attrs["units"]) == u.Unit("TeV cm-2 s-1")
    per_mev = ds.sed.get("dnde_ul", unit="cm-2 s-1 MeV-1")
    np.testing.assert_allclose(per_mev.values, ds.sed.dnde_ul.values * 1e-6, rtol=1e-14)
    with pytest.raises(fluxds.UnitError, match="physical dimensions differ"):
        ds.sed.get("flux", unit="erg cm-2 s-1")


def test_sqrt_ts_and_is_ul_rules():
    ds = _sed()
    # sqrt_ts: sqrt(max(ts, 0)) with the sign of norm
    np.testing.assert_allclose(ds.sed.sqrt_ts.values, [10.0, 5.0, np.sqrt(3.0), -1.0], rtol=1e-15)
    # no stored is_ul, ts and norm_ul present: sqrt_ts < threshold (2)
    np.testing.assert_array_equal(ds.sed.is_ul.values, [False, False, True, True])
    ds.attrs["sqrt_ts_threshold_ul"] = 6.0
    np.testing.assert_array_equal(ds.sed.is_ul.values, [False, True, True, True])
    # stored is_ul wins
    stored = _sed(is_ul=[True, False, False, False])
    np.testing.assert_array_equal(stored.sed.is_ul.values, [True, False, False, False])
    # no ts: a finite norm_ul marks an upper limit
    no_ts = _sed(norm_ul=[np.nan, np.nan, 1.8, 2.0]).drop_vars("ts")
    np.testing.assert_array_equal(no_ts.sed.is_ul.values, [False, False, True, True])
    # neither: a NaN norm
    bare = fluxds.from_likelihood([1.0, np.nan], energy_ref=[1, 2] * u.TeV, reference_model=PL)
    np.testing.assert_array_equal(bare.sed.is_ul.values, [False, True])
    # a stored sqrt_ts is used as is
    stored_sqrt = _sed(sqrt_ts=[1.0, 2.0, 3.0, 4.0])
    np.testing.assert_array_equal(stored_sqrt.sed.sqrt_ts.values, [1.0, 2.0, 3.0, 4.0])


def test_success_filter_is_switchable():
    ds = _sed(success=[True, False, True, True])
    assert np.isnan(ds.sed.norm.values[1]) and np.isnan(ds.sed.flux_err.values[1])
    assert not np.isnan(ds.sed.flux_ul.values[1])  # only norm and norm_err are filtered
    assert ds.sed.get("norm", filter_success=False).values[1] == 0.9
    assert np.isnan(ds.sed.norm.values[1])  # the properties still filter


def test_npred_excess_family():
    npred_excess = np.array([[50.0], [20.0], [5.0], [-1.0]])
    ds = _sed(npred_excess=npred_excess, npred=npred_excess + 10.0)
    ref = npred_excess[:, 0] / ds.norm.values
    np.testing.assert_allclose(ds.sed.npred_excess_ref.values[:, 0], ref, rtol=1e-15)
    np.testing.assert_allclose(ds.sed.npred_excess_ul.values[:, 0], ref * ds.norm_ul.values, rtol=1e-15)
    np.testing.assert_allclose(ds.sed.npred_background.values, 10.0, rtol=1e-15)
    assert ds.npred_excess.dims == ("energy", "dataset")


def test_missing_quantity_names_what_is_needed():
    ds = fluxds.from_likelihood(
        [1.0, 2.0], energy_min=[1, 2] * u.TeV, energy_max=[2, 4] * u.TeV, reference_model=PL
    )
    with pytest.raises(fluxds.MissingQuantityError, match="'norm_ul'.*needed for 'flux_ul'"):
        _ = ds.sed.flux_ul
    assert "flux_ul" not in ds.sed.available_quantities
    assert {"norm", "dnde", "e2dnde", "flux", "eflux", "flux_ref", "is_ul"} <= set(
        ds.sed.available_quantities
    )


def test_every_schema_quantity_is_a_property():
    for name in schema.QUANTITY_NAMES:
        assert isinstance(getattr(fluxds.SedAccessor, name), property), name


@pytest.mark.parametrize("sed_type", ["dnde", "e2dnde", "flux", "eflux"])
def test_from_sed_and_to_sed_type_invert_each_other(sed_type):
    ds = _sed()
    table = ds.sed.to_sed_type(sed_type)
    assert table.attrs["sed_type"] == sed_type
    assert {sed_type, f"{sed_type}_err", f"{sed_type}_ul", "ts"} <= set(table.data_vars)
    assert not any(str(k).startswith(("norm", "ref_")) for k in table.data_vars)
    unit = u.Unit(table[sed_type].attrs["units"])
    data = {k: table[k].values * unit for k in table.data_vars if str(k).startswith(sed_type)}
    data["ts"] = table["ts"].values
    back = fluxds.from_sed(
        sed_type,
        data,
        energy_ref=E_REF * u.TeV,
        energy_min=E_MIN * u.TeV,
        energy_max=E_MAX * u.TeV,
        reference_model=PL,
    )
    for suffix in ("", "_err", "_errp", "_errn", "_ul"):
        np.testing.assert_allclose(back[f"norm{suffix}"].values, ds[f"norm{suffix}"].values, rtol=1e-14)
    assert back.sed.sed_type_init == sed_type


def test_non_likelihood_input_without_model_uses_gammapy_default():
    ds = fluxds.from_sed(
        "flux",
        {"flux": [2e-12, 1e-12] * u.Unit("cm-2 s-1")},
        energy_min=[1, 2] * u.TeV,
        energy_max=[2, 4] * u.TeV,
    )
    assert ds.sed.reference_model == fluxds.models.default_reference_model()
    assert "default" in ds.attrs["reference_model_origin"]
    # power law of index 2 at the log centre: dnde = flux / (e_max - e_min)
    np.testing.assert_allclose(ds.sed.dnde.values, [2e-12 / 1, 1e-12 / 2], rtol=1e-14)


def test_ul_conf_and_n_sigma_ul_are_exact():
    ds = _sed()
    assert ds.sed.ul_conf == 0.95
    assert ds.sed.n_sigma_ul == pytest.approx(1.959963984540054, rel=1e-15)
    other = fluxds.from_likelihood([1.0], energy_ref=[1] * u.TeV, reference_model=PL, n_sigma_ul=3)
    assert other.sed.n_sigma_ul == 3.0
    assert other.sed.ul_conf == pytest.approx(0.9973002039367398, rel=1e-15)


def test_vectorised_over_sources():
    norm = np.array([[1.0, 0.5, 0.2, 0.1], [2.0, 1.0, 0.4, 0.2], [0.1, 0.1, 0.1, 0.1]])
    ds = fluxds.from_likelihood(
        norm,
        energy_min=E_MIN * u.TeV,
        energy_max=E_MAX * u.TeV,
        reference_model=PL,
        dims=("source", "energy"),
        coords={"source": ["a", "b", "c"]},
    )
    assert ds.sed.flux.dims == ("source", "energy")
    np.testing.assert_allclose(ds.sed.flux.values, norm * _pl_flux(E_MIN, E_MAX), rtol=1e-14)


def test_lazy_on_dask():
    """Every quantity and to_sed_type stay lazy: no dask computation until asked."""
    ds = _sed(success=[True, False, True, True], npred_excess=[[5.0], [3.0], [1.0], [0.5]])
    lazy = ds.chunk({"energy": 2})
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        results = [lazy.sed.get(name) for name in lazy.sed.available_quantities]
        table = lazy.sed.to_sed_type("eflux")
        assert counter.calls == 0
        for result in results:
            if result.name not in lazy.coords:
                assert isinstance(result.data, da.Array), result.name
        assert isinstance(table["eflux_ul"].data, da.Array)
        computed = lazy.sed.eflux_ul.compute()
        assert counter.calls == 1
    xr.testing.assert_allclose(computed, ds.sed.eflux_ul)


@pytest.mark.parametrize("sed_type", ["dnde", "e2dnde", "flux", "eflux"])
def test_non_likelihood_input_with_energy_not_last(sed_type):
    """Arrays on ("energy", "source") convert exactly like the same arrays on ("source", "energy")."""
    unit = u.Unit(schema.SED_TYPES[sed_type].unit)
    values = np.arange(1.0, 9.0).reshape(4, 2) * 1e-12
    common = dict(
        energy_min=E_MIN * u.TeV,
        energy_max=E_MAX * u.TeV,
        energy_ref=E_REF * u.TeV,
        reference_model=PL,
        coords={"source": ["a", "b"]},
    )
    a = fluxds.from_sed(sed_type, {sed_type: values * unit}, dims=("energy", "source"), **common)
    b = fluxds.from_sed(sed_type, {sed_type: values.T * unit}, dims=("source", "energy"), **common)
    xr.testing.assert_identical(a, b)
    np.testing.assert_allclose(a.sed.get(sed_type).values, values.T, rtol=1e-14)
