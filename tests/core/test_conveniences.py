"""Issue 13, items 18-20, 23, 24: what users found hard.

18 energy selection with Quantities and one energy unit; 19 comparing two SEDs whose e_ref differ in the
last digits; 20 unit arithmetic (attrs are carried by xarray arithmetic); 23 castro-fit defaults and the
reason a fit failed; 24 asymmetric systematic errors converted with the SED type and plotted.

Expected numbers are hand calculations written here (unit factors, closed-form integrals, scipy quadrature),
never fluxds's own output.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.table import Table
from scipy.integrate import quad

import fluxds
from fluxds.energy import compare, match_energies, sel_energy, to_energy_unit
from fluxds.errors import EnergyMismatchError, FitError, UnitError
from fluxds.models import ExpCutoffPowerLaw, PowerLaw
from fluxds.units import from_quantity, to_quantity

DNDE = u.Unit("cm-2 s-1 TeV-1")
ERG_PER_TEV = 1.602176634  # 1 TeV = 1.602176634 erg (exact, from the SI value of the eV)


@pytest.fixture(scope="module")
def crab():
    """The H.E.S.S. Crab SED: energies in TeV, e_ref 0.545 ... 13.0 TeV."""
    return fluxds.read(fluxds.demo_path())


def _powerlaw_sed(edges_value, unit, amplitude=3e-11, index=2.5, **extra):
    """A dnde SED of a power law (amplitude per TeV at 1 TeV), energies in ``unit``; e_ref the geometric
    bin centre."""
    edges = np.asarray(edges_value, float)
    e_ref = np.sqrt(edges[:-1] * edges[1:])
    e_tev = (e_ref * unit).to_value(u.TeV)
    dnde = amplitude * e_tev**-index * DNDE
    return fluxds.from_sed(
        "dnde",
        {"dnde": dnde, "dnde_err": 0.1 * dnde, **extra},
        energy_ref=e_ref * unit,
        energy_min=edges[:-1] * unit,
        energy_max=edges[1:] * unit,
    )


# ---- item 18: energy selection with units, one energy unit ------------------------------------------


def test_sel_energy_converts_a_quantity_to_the_coordinate_unit(crab):
    e_tev = crab["energy"].values
    # xarray alone reads 100 GeV as 100 TeV (the 13 TeV bin): the accessor converts first
    nearest = int(np.argmin(np.abs(e_tev - 0.1)))  # 100 GeV = 0.1 TeV, by hand
    assert nearest == 0
    picked = crab.sed.sel_energy(100 * u.GeV, method="nearest")
    assert float(picked["energy"]) == e_tev[nearest]
    xr.testing.assert_identical(picked, crab.isel(energy=nearest))
    # the module function works on a DataArray too
    da = sel_energy(crab.sed.dnde, 5000 * u.GeV, method="nearest")
    assert float(da["energy"]) == e_tev[int(np.argmin(np.abs(e_tev - 5.0)))]
    # a slice of Quantities: 1 TeV .. 6000 GeV holds the bins at 1.26, 2.89, 5.65 TeV
    window = crab.sed.sel_energy(slice(1 * u.TeV, 6000 * u.GeV))
    np.testing.assert_array_equal(window["energy"].values, e_tev[(e_tev >= 1) & (e_tev <= 6)])
    # a tolerance is an energy too
    with pytest.raises(KeyError):
        crab.sed.sel_energy(1.0 * u.TeV, method="nearest", tolerance=1 * u.GeV)


def test_sel_energy_refuses_plain_numbers_and_non_energies(crab):
    with pytest.raises(UnitError, match="plain number"):
        crab.sed.sel_energy(100, method="nearest")
    with pytest.raises(UnitError, match="not an energy"):
        crab.sed.sel_energy(1 * u.m, method="nearest")


def test_sel_energy_on_an_mev_file():
    ds = _powerlaw_sed([1e5, 1e6, 1e7], u.MeV)  # 0.1-1-10 TeV in MeV
    picked = ds.sed.sel_energy(3 * u.TeV, method="nearest")
    assert float(picked["energy"]) == pytest.approx(np.sqrt(1e6 * 1e7))


def test_to_energy_unit_converts_coordinates_and_per_energy_quantities(crab):
    gev = crab.sed.to_energy_unit("GeV")
    for name in ("energy", "energy_min", "energy_max"):
        assert gev[name].attrs["units"] == "GeV"
        np.testing.assert_allclose(gev[name].values, crab[name].values * 1e3, rtol=1e-15)
    # ref_dnde is per energy: per TeV -> per GeV is a factor 1e-3
    assert gev["ref_dnde"].attrs["units"] == "cm-2 s-1 GeV-1"
    np.testing.assert_allclose(gev["ref_dnde"].values, crab["ref_dnde"].values * 1e-3, rtol=1e-15)
    # an energy flux: TeV -> GeV
    assert crab["ref_eflux"].attrs["units"] == "TeV cm-2 s-1"
    assert gev["ref_eflux"].attrs["units"] == "GeV cm-2 s-1"
    np.testing.assert_allclose(gev["ref_eflux"].values, crab["ref_eflux"].values * 1e3, rtol=1e-15)
    # dimensionless and non-energy variables are untouched
    xr.testing.assert_identical(gev["norm"], crab["norm"].assign_coords(energy=gev["energy"]))
    np.testing.assert_array_equal(gev["ref_flux"].values, crab["ref_flux"].values)
    # the physics is the same: every derived quantity agrees
    for name in ("dnde", "e2dnde", "flux", "eflux", "dnde_ul"):
        np.testing.assert_allclose(gev.sed.get(name).values, crab.sed.get(name).values, rtol=1e-13)
    assert gev.sed.dnde.attrs["units"] == crab.sed.dnde.attrs["units"]
    # the input is not changed, the result validates, and it goes back
    assert crab["energy"].attrs["units"] == "TeV"
    gev.sed.validate()
    back = gev.sed.to_energy_unit(u.TeV)
    np.testing.assert_allclose(back["ref_dnde"].values, crab["ref_dnde"].values, rtol=1e-14)
    with pytest.raises(UnitError, match="not an energy unit"):
        crab.sed.to_energy_unit("cm")


def test_to_energy_unit_converts_erg_too():
    ds = _powerlaw_sed([1e5, 1e6, 1e7], u.MeV)
    assert ds["ref_eflux"].attrs["units"] == "erg cm-2 s-1"
    tev = ds.sed.to_energy_unit("TeV")
    # 1 erg = 1 / 1.602176634 TeV; ref_dnde per MeV -> per TeV is x 1e6
    assert tev["ref_eflux"].attrs["units"] == "TeV cm-2 s-1"
    np.testing.assert_allclose(tev["ref_eflux"].values, ds["ref_eflux"].values / ERG_PER_TEV, rtol=1e-14)
    np.testing.assert_allclose(tev["energy"].values, ds["energy"].values * 1e-6, rtol=1e-15)
    np.testing.assert_allclose(tev.sed.eflux.values, ds.sed.eflux.values, rtol=1e-13)


def test_to_energy_unit_stays_lazy(crab):
    lazy = crab.chunk({"energy": 2})
    gev = to_energy_unit(lazy, "GeV")
    assert gev["ref_dnde"].chunks is not None
    np.testing.assert_allclose(gev["ref_dnde"].values, crab["ref_dnde"].values * 1e-3, rtol=1e-15)


# ---- item 19: comparing two SEDs ---------------------------------------------------------------------


def _shifted(ds, factor):
    """The same SED with its energies rewritten in GeV and rounded differently (``factor``)."""
    gev = to_energy_unit(ds, "GeV")
    return gev.assign_coords({n: gev[n] * factor for n in ("energy", "energy_min", "energy_max")})


def test_match_energies_pairs_bins_within_a_tolerance(crab):
    other = _shifted(crab, 1 + 1e-7)
    assert (crab.sed.dnde / other.sed.dnde).sizes["energy"] == 0  # what xarray gives
    a, b = match_energies(crab.sed.dnde, other.sed.dnde, rtol=1e-6)
    assert a.sizes["energy"] == b.sizes["energy"] == crab.sizes["energy"]
    ok = np.where(crab["success"].values, 1.0, np.nan)  # the success filter of dnde (gammapy's rule)
    np.testing.assert_allclose((a / b).values, ok, rtol=1e-13)
    # b keeps its own e_ref beside a's labels, in a's unit
    np.testing.assert_allclose(b["energy_other"].values, crab["energy"].values * (1 + 1e-7), rtol=1e-14)
    with pytest.raises(EnergyMismatchError, match="bin 0 of a"):
        match_energies(crab.sed.dnde, other.sed.dnde, rtol=1e-9)


def test_compare_gives_the_ratio_with_units(crab):
    other = _shifted(crab, 1 - 1e-6)
    other = other.assign(norm=other["norm"] * 2.0)
    out = crab.sed.compare(other, "e2dnde")
    # e2dnde = norm ref_dnde e_ref**2: the ratio is 1/2 times (1 / (1 - 1e-6))**2, by hand
    ok = np.where(crab["success"].values, 1.0, np.nan)  # the success filter of e2dnde (gammapy's rule)
    np.testing.assert_allclose(out["ratio"].values, ok * 0.5 / (1 - 1e-6) ** 2, rtol=1e-12)
    assert out["ratio"].attrs["units"] == ""
    assert out["a"].attrs["units"] == out["b"].attrs["units"] == "erg cm-2 s-1"


def test_match_energies_inner_and_exact():
    a = _powerlaw_sed(np.geomspace(0.1, 100, 7), u.TeV)
    b = _powerlaw_sed(np.geomspace(0.1, 100, 7)[2:] * 1e3, u.GeV)  # the upper 4 bins, in GeV
    with pytest.raises(EnergyMismatchError, match="join='inner'"):
        match_energies(a.sed.dnde, b.sed.dnde)
    x, y = match_energies(a.sed.dnde, b.sed.dnde, join="inner")
    np.testing.assert_allclose(x["energy"].values, a["energy"].values[2:], rtol=1e-15)
    np.testing.assert_allclose((x / y).values, 1.0, rtol=1e-12)
    with pytest.raises(EnergyMismatchError, match="join is"):
        match_energies(a.sed.dnde, b.sed.dnde, join="outer")


def test_compare_interpolates_a_power_law_exactly():
    a = _powerlaw_sed(np.geomspace(0.2, 50, 6), u.TeV, amplitude=3e-11)
    b = _powerlaw_sed(np.geomspace(1e2, 1e5, 11), u.GeV, amplitude=1e-11)  # another binning, in GeV
    out = compare(a, b, "dnde", join="interp")
    # both are power laws of index 2.5: the ratio is 3 wherever b covers a's e_ref (0.1-100 TeV)
    np.testing.assert_allclose(out["ratio"].values, 3.0, rtol=1e-12)
    # b interpolated = 1e-11 E^-2.5 at a's e_ref, by hand
    e_a = a["energy"].values
    np.testing.assert_allclose(out["b"].values, 1e-11 * e_a**-2.5, rtol=1e-12)
    # outside b's range: NaN, not extrapolated
    c = _powerlaw_sed(np.geomspace(1e3, 1e5, 5), u.GeV)
    assert np.isnan(compare(a, c, "dnde", join="interp")["ratio"].values[0])


# ---- item 20: unit arithmetic --------------------------------------------------------------------------


def test_quantities_carry_the_right_units(crab):
    wrong = crab.sed.dnde / crab.sed.dnde_err
    assert wrong.attrs.get("units") == "cm-2 s-1 TeV-1"  # xarray's attrs: why quantity() exists
    ratio = crab.sed.quantity("dnde") / crab.sed.quantity("dnde_err")
    assert ratio.unit.physical_type == "dimensionless"
    ok = crab["success"].values if "success" in crab else True
    expected = np.where(ok, crab["norm"].values / crab["norm_err"].values, np.nan)  # dnde/dnde_err, by hand
    np.testing.assert_allclose(ratio.to_value(u.one), expected, rtol=1e-13)
    da = from_quantity(ratio, like=crab.sed.dnde, name="snr")
    assert da.attrs["units"] == "" and da.name == "snr" and da.dims == ("energy",)
    np.testing.assert_array_equal(da["energy"].values, crab["energy"].values)
    # e2dnde / dnde = e_ref**2
    e2 = crab.sed.quantity("e2dnde") / crab.sed.quantity("dnde")
    np.testing.assert_allclose(
        e2.to_value(u.TeV**2), np.where(ok, 1.0, np.nan) * crab["energy"].values ** 2, rtol=1e-13
    )
    assert from_quantity(e2.to(u.GeV**2), like=crab.sed.dnde).attrs["units"] == "GeV2"
    # a unit asked for
    np.testing.assert_allclose(
        crab.sed.quantity("dnde", unit="cm-2 s-1 GeV-1").value, crab.sed.dnde.values * 1e-3, rtol=1e-15
    )


def test_quantity_refuses_what_it_cannot_do(crab):
    with pytest.raises(UnitError, match="dask-backed"):
        crab.chunk().sed.quantity("dnde")
    with pytest.raises(UnitError, match="physical dimensions differ"):
        to_quantity(crab.sed.dnde, "erg")
    with pytest.raises(UnitError, match="shape"):
        from_quantity(np.ones(2) * u.m, like=crab.sed.dnde)


# ---- item 23: fit defaults and why a fit failed ---------------------------------------------------------


def _ecpl_dnde(e, amplitude=4e-11, index=2.2, lambda_=0.1):
    return amplitude * e**-index * np.exp(-lambda_ * e)


def test_cutoff_fit_frees_amplitude_index_lambda_by_default():
    """A noise-free 4-bin SED of a cutoff power law: the default fit returns the truth (alpha fixed)."""
    edges = np.array([0.5, 1.5, 4.5, 13.5, 40.5])
    ref = PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    # the truth's bin fluxes by scipy quadrature, the reference's in closed form (1e-12 (1/e1 - 1/e2))
    flux_true = np.array(
        [quad(_ecpl_dnde, lo, hi, epsrel=1e-13)[0] for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    )
    norm_true = flux_true / (1e-12 * (1 / edges[:-1] - 1 / edges[1:]))
    sigma = 0.1 * norm_true
    scan = norm_true[:, None] + sigma[:, None] * np.linspace(-5, 5, 21)
    ds = fluxds.from_likelihood(
        norm_true,
        norm_err=sigma,
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=ref,
        norm_scan=scan,
        stat_scan=((scan - norm_true[:, None]) / sigma[:, None]) ** 2,
    )
    start = ExpCutoffPowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV, lambda_=0.05 / u.TeV)
    fit = ds.sed.fit(start)
    assert list(fit["param"].values) == ["index", "amplitude", "lambda_"]
    assert "alpha" not in fit
    assert bool(fit["success"]) and str(fit["reason"].values) == ""
    assert float(fit["index"]) == pytest.approx(2.2, rel=1e-5)
    assert float(fit["lambda_"]) == pytest.approx(0.1, rel=1e-4)
    assert float(fit["amplitude"]) == pytest.approx(4e-11, rel=1e-5)
    assert np.isfinite([float(fit[f"{n}_err"]) for n in ("index", "amplitude", "lambda_")]).all()


def test_cutoff_fit_of_the_crab_and_the_reason_when_alpha_is_freed(crab):
    start = ExpCutoffPowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV, lambda_=0.1 / u.TeV)
    fit = crab.sed.fit(start)  # 4 bins with profiles, 3 free parameters
    assert "alpha" not in fit and int(fit["n_bins"]) == 4
    assert bool(fit["success"])
    errors = np.array([float(fit[f"{n}_err"]) for n in ("index", "amplitude", "lambda_")])
    values = np.array([float(fit[n]) for n in ("index", "amplitude", "lambda_")])
    assert np.isfinite(errors).all() and (errors < np.abs(values)).all()
    # alpha freed on purpose: 4 parameters on 4 bins do not converge, and the result says so
    free = crab.sed.fit(start, parameters=["index", "amplitude", "lambda_", "alpha"])
    assert not bool(free["success"])
    assert "optimizer stopped" in str(free["reason"].values)


def test_fit_says_why_it_failed():
    edges = np.geomspace(0.5, 20, 5)
    ref = PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    norm = np.ones((2, 4))
    scan = norm[..., None] * np.linspace(0.5, 1.5, 11)
    stat = ((scan - 1) / 0.1) ** 2
    stat[0, :2] = np.nan  # source a: 2 bins with profiles; source b: 4
    ds = fluxds.from_likelihood(
        norm,
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=ref,
        norm_scan=scan,
        stat_scan=stat,
        dims=("source", "energy"),
        coords={"source": ["a", "b"]},
    )
    start = ExpCutoffPowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV, lambda_=0.01 / u.TeV)
    fit = ds.sed.fit(start)
    assert fit["success"].values.tolist() == [False, True]
    assert "2 valid energy bin(s)" in str(fit["reason"].sel(source="a").values)
    assert "3 free parameter(s)" in str(fit["reason"].sel(source="a").values)
    assert str(fit["reason"].sel(source="b").values) == ""
    with pytest.raises(FitError, match="no SED has as many valid energy bins"):
        ds.sel(source=["a"]).sed.fit(start)


# ---- item 24: systematic errors -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_sys():
    """A dnde SED with asymmetric systematic errors and a power-law reference model (index 2, 1e-11 per
    TeV at 1 TeV), bins 1-2-4 TeV."""
    dnde = np.array([1e-11, 2e-12]) * DNDE
    ref = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    return fluxds.from_sed(
        "dnde",
        {
            "dnde": dnde,
            "dnde_err": 0.1 * dnde,
            "dnde_errsysp": 0.3 * dnde,
            "dnde_errsysn": 0.2 * dnde,
        },
        energy_ref=[1.5, 3.0] * u.TeV,
        energy_min=[1, 2] * u.TeV,
        energy_max=[2, 4] * u.TeV,
        reference_model=ref,
    )


def test_systematic_errors_are_converted_with_the_sed_type(with_sys):
    e_ref, e1, e2 = np.array([1.5, 3.0]), np.array([1.0, 2.0]), np.array([2.0, 4.0])
    # by hand: norm_errsys = dnde_errsys / ref_dnde, ref_dnde = 1e-11 E^-2
    norm_sysp = 0.3 * np.array([1e-11, 2e-12]) / (1e-11 * e_ref**-2)
    norm_sysn = 0.2 * np.array([1e-11, 2e-12]) / (1e-11 * e_ref**-2)
    np.testing.assert_allclose(with_sys["norm_errsysp"].values, norm_sysp, rtol=1e-13)
    # e2dnde: norm * ref_dnde * E^2, TeV -> erg
    np.testing.assert_allclose(
        with_sys.sed.e2dnde_errsysp.values, norm_sysp * 1e-11 * ERG_PER_TEV, rtol=1e-13
    )
    # flux: norm * ref_flux, ref_flux = 1e-11 (1/e1 - 1/e2) (closed form of E^-2)
    np.testing.assert_allclose(
        with_sys.sed.flux_errsysn.values, norm_sysn * 1e-11 * (1 / e1 - 1 / e2), rtol=1e-12
    )
    # eflux: ref_eflux = 1e-11 ln(e2/e1) TeV -> erg
    np.testing.assert_allclose(
        with_sys.sed.eflux_errsysp.values, norm_sysp * 1e-11 * np.log(e2 / e1) * ERG_PER_TEV, rtol=1e-12
    )
    assert with_sys.sed.e2dnde_errsysn.attrs["units"] == "erg cm-2 s-1"
    assert "e2dnde_errsysp" in with_sys.sed.available_quantities


def test_systematic_errors_in_a_flux_file(with_sys, tmp_path):
    path = tmp_path / "sys.fits"
    with_sys.sed.write(path, sed_type="flux")
    table = Table.read(path)
    e1, e2 = np.array([1.0, 2.0]), np.array([2.0, 4.0])
    norm_sysn = 0.2 * np.array([1e-11, 2e-12]) / (1e-11 * np.array([1.5, 3.0]) ** -2)
    np.testing.assert_allclose(
        table["flux_errsysn"].quantity.to_value("cm-2 s-1"), norm_sysn * 1e-11 * (1 / e1 - 1 / e2), rtol=1e-12
    )
    back = fluxds.read(path)
    np.testing.assert_allclose(back["norm_errsysn"].values, norm_sysn, rtol=1e-13)


def test_systematic_errors_are_plotted(with_sys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        artists = with_sys.sed.plot("e2dnde", ax=ax)
        assert len(artists.systematics) == 1
        bar = artists.systematics[0]
        assert bar in ax.containers and len(ax.containers) == 2  # the points, and the systematic bars
        # the bar spans e2dnde - errsysn .. e2dnde + errsysp (in erg cm-2 s-1), by hand
        segments = bar.lines[2][0].get_segments()
        e2dnde = np.array([1e-11, 2e-12]) * np.array([1.5, 3.0]) ** 2 * ERG_PER_TEV
        np.testing.assert_allclose([s[0][1] for s in segments], 0.8 * e2dnde, rtol=1e-12)
        np.testing.assert_allclose([s[1][1] for s in segments], 1.3 * e2dnde, rtol=1e-12)
        assert "systematic error" in [t.get_text() for t in ax.get_legend().get_texts()]
    finally:
        plt.close(fig)
    # no systematic errors: nothing extra
    fig, ax = plt.subplots()
    try:
        plain = with_sys.drop_vars(["norm_errsysp", "norm_errsysn"]).sed.plot("e2dnde", ax=ax)
        assert plain.systematics == [] and len(ax.containers) == 1
    finally:
        plt.close(fig)
