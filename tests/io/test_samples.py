"""Every SED file of the GADF spec samples and gammapy-data reads, and its converted values agree with
a hand calculation written here."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table
from helpers import GADF, GAMMAPY_DATA

import fluxds

MEV_TO_ERG = (1 * u.MeV).to_value(u.erg)
TEV_TO_ERG = (1 * u.TeV).to_value(u.erg)


@pytest.mark.parametrize("ext", ["fits", "ecsv"])
def test_gadf_flux_points(ext):
    """SED type flux without e_ref: e_ref is the log centre; with gammapy's default reference (power
    law of index 2), dnde at the log centre is exactly flux / (e_max - e_min)."""
    table = Table.read(GADF / f"flux_points.{ext}")
    ds = fluxds.read(GADF / f"flux_points.{ext}")
    assert ds.sed.sed_type_init == "flux"
    e_min, e_max = table["e_min"].data, table["e_max"].data  # MeV
    np.testing.assert_allclose(ds.energy.values, np.sqrt(e_min * e_max), rtol=1e-15)
    np.testing.assert_allclose(ds.sed.flux.values, table["flux"], rtol=1e-14, equal_nan=True)
    dnde_per_mev = table["flux"].data / (e_max - e_min)
    np.testing.assert_allclose(
        ds.sed.get("dnde", "cm-2 s-1 MeV-1").values, dnde_per_mev, rtol=1e-12, equal_nan=True
    )
    np.testing.assert_allclose(ds.sed.flux_ul.values, table["flux_ul"], rtol=1e-14, equal_nan=True)
    np.testing.assert_array_equal(ds.sed.is_ul.values, table["is_ul"].data)
    # energy flux of a power law of index 2: flux * e_ref^2 * ln(e_max/e_min) / (e_max - e_min)
    eflux = dnde_per_mev * np.sqrt(e_min * e_max) ** 2 * np.log(e_max / e_min) * MEV_TO_ERG
    np.testing.assert_allclose(ds.sed.eflux.values, eflux, rtol=1e-12, equal_nan=True)
    assert ds.sed.ul_conf == 0.95


@pytest.mark.parametrize("ext", ["fits", "ecsv"])
def test_gadf_diff_flux_points(ext):
    """SED type dnde with e_ref only: dnde and e2dnde convert, flux/eflux refuse clearly."""
    table = Table.read(GADF / f"diff_flux_points.{ext}")
    ds = fluxds.read(GADF / f"diff_flux_points.{ext}")
    e_ref = table["e_ref"].data  # MeV
    np.testing.assert_allclose(
        ds.sed.dnde.values, table["dnde"].data * 1e6, rtol=1e-14, equal_nan=True
    )  # cm-2 s-1 MeV-1 -> TeV-1
    np.testing.assert_allclose(
        ds.sed.e2dnde_err.values,
        table["dnde_err"].data * e_ref**2 * MEV_TO_ERG,
        rtol=1e-13,
        equal_nan=True,
    )
    np.testing.assert_allclose(
        ds.sed.e2dnde_ul.values,
        table["dnde_ul"].data * e_ref**2 * MEV_TO_ERG,
        rtol=1e-13,
        equal_nan=True,
    )
    with pytest.raises(fluxds.MissingEnergyEdgesError, match="edges"):
        _ = ds.sed.flux
    with pytest.raises(fluxds.MissingEnergyEdgesError):
        _ = ds.sed.eflux_ul


def test_derive_edges_is_explicit_and_recorded():
    ds = fluxds.read(GADF / "diff_flux_points.fits", derive_edges=True)
    e_ref = ds.energy.values
    lo, hi = ds.energy_min.values, ds.energy_max.values
    np.testing.assert_allclose(lo[1:], np.sqrt(e_ref[1:] * e_ref[:-1]), rtol=1e-14)
    np.testing.assert_allclose(hi[:-1], lo[1:], rtol=0)
    assert "derived" in ds.energy_min.attrs["note"]
    # power law of index 2 through the points: flux = dnde(e_ref) e_ref^2 (1/lo - 1/hi)
    dnde = ds.sed.get("dnde", "cm-2 s-1 MeV-1").values
    np.testing.assert_allclose(
        ds.sed.flux.values, dnde * e_ref**2 * (1 / lo - 1 / hi), rtol=1e-12, equal_nan=True
    )


@pytest.mark.parametrize("ext", ["fits", "ecsv"])
def test_gadf_binlike(ext):
    """Likelihood SED with log-likelihood columns (GADF/fermipy convention) in MeV."""
    table = Table.read(GADF / f"binlike.{ext}")
    ds = fluxds.read(GADF / f"binlike.{ext}")
    norm = table["norm"].data
    np.testing.assert_allclose(ds.sed.dnde.values, norm * table["ref_dnde"].data * 1e6, rtol=1e-14)
    np.testing.assert_allclose(ds.sed.flux.values, norm * table["ref_flux"].data, rtol=1e-14)
    np.testing.assert_allclose(
        ds.sed.eflux_err.values, table["norm_err"] * table["ref_eflux"].data * MEV_TO_ERG, rtol=1e-13
    )
    # stat = -2 log L; stat_null = -2 log L0
    np.testing.assert_allclose(ds.stat.values, -2 * table["loglike"].data, rtol=0)
    np.testing.assert_allclose(ds.stat_null.values, -2 * table["loglike_null"].data, rtol=0)
    np.testing.assert_allclose(ds.ref_npred.values, table["ref_npred"].data, rtol=0)
    if "dloglike_scan" in table.colnames:
        # GADF: dloglike_scan = log L(norm) - loglike_null, so stat_scan = -2 (loglike_null + dloglike)
        want = -2 * (table["loglike_null"].data[:, None] + table["dloglike_scan"].data)
        np.testing.assert_allclose(ds.stat_scan.values, want, rtol=0)
        assert ds.norm_scan.dims == ("energy", "scan")
        # the profile's lowest point is the best fit: min(stat_scan) == stat (to the printed digits)
        np.testing.assert_allclose(ds.stat_scan.min("scan").values, ds.stat.values, rtol=1e-12)


def test_binlike_is_ul_from_ts():
    """No stored is_ul: sqrt_ts = sqrt(ts) signed by norm, is_ul = sqrt_ts < 2 (norm_ul exists)."""
    table = Table.read(GADF / "binlike.fits")
    ds = fluxds.read(GADF / "binlike.fits")
    sqrt_ts = np.sqrt(np.clip(table["ts"].data, 0, None)) * np.where(table["norm"] > 0, 1, -1)
    np.testing.assert_allclose(ds.sed.sqrt_ts.values, sqrt_ts, rtol=0)
    np.testing.assert_array_equal(ds.sed.is_ul.values, sqrt_ts < 2)


@pytest.mark.parametrize(
    ("name", "twin"),
    [
        ("tests-spectrum-flux_points.fits", "flux_points.fits"),
        ("tests-spectrum-diff_flux_points.fits", "diff_flux_points.fits"),
    ],
)
def test_ph_units_read_as_number_fluxes(name, twin):
    """'cm-2 ph s-1' is a photon (number) flux: same numbers as the GADF sample without 'ph'."""
    ds = fluxds.read(GAMMAPY_DATA / name)
    ref = fluxds.read(GADF / twin)
    for q in ("dnde", "e2dnde_err", "norm_ul"):
        np.testing.assert_allclose(ds.sed.get(q).values, ref.sed.get(q).values, rtol=1e-15, equal_nan=True)


def test_crab_hess_fp():
    """gammapy-written H.E.S.S. likelihood SED: ref_eflux in TeV, stored sqrt_ts/is_ul, GTI."""
    table = Table.read(GAMMAPY_DATA / "crab_hess_fp.fits", hdu="FLUXPOINTS")
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    norm = table["norm"].data
    np.testing.assert_allclose(
        ds.sed.eflux.values, norm * table["ref_eflux"].data * TEV_TO_ERG, rtol=1e-14, equal_nan=True
    )
    np.testing.assert_allclose(
        ds.sed.e2dnde_errp.values,
        table["norm_errp"] * table["ref_dnde"] * table["e_ref"] ** 2 * TEV_TO_ERG,
        rtol=1e-14,
        equal_nan=True,
    )
    np.testing.assert_array_equal(ds.sed.sqrt_ts.values, table["sqrt_ts"].data)
    np.testing.assert_array_equal(ds.sed.is_ul.values, table["is_ul"].data)
    assert ds.sizes["gti"] == 1 and ds.gti_start.attrs["mjdrefi"] == 51544
    assert ds.sed.ul_conf == 0.9973002
    # success is False in the first bin: the success filter puts NaN there, switchable
    assert not bool(ds.success[0])
    np.testing.assert_array_equal(np.isnan(ds.sed.norm_err.values), ~table["success"].data)
    np.testing.assert_array_equal(ds.sed.get("norm_err", filter_success=False).values, table["norm_err"].data)


def test_plain_text_sed_with_column_map():
    """The published CTB 37B SED (plain text, no units in the file): read with an explicit map."""
    path = GAMMAPY_DATA / "tests-spectrum-flux_points_ctb_37b.txt"
    ds = fluxds.read(
        path,
        format="ascii",
        sed_type="dnde",
        columns={
            "E": "e_ref",
            "Differential_Flux": "dnde",
            "lower_error": "dnde_errn",
            "upper_error": "dnde_errp",
        },
        units={
            "e_ref": "TeV",
            "dnde": "cm-2 s-1 TeV-1",
            "dnde_errn": "cm-2 s-1 TeV-1",
            "dnde_errp": "cm-2 s-1 TeV-1",
        },
    )
    raw = np.loadtxt(path, skiprows=2)
    np.testing.assert_allclose(ds.sed.dnde.values, raw[:, 1], rtol=1e-15)
    np.testing.assert_allclose(ds.sed.e2dnde_errp.values, raw[:, 3] * raw[:, 0] ** 2 * TEV_TO_ERG, rtol=1e-14)
    with pytest.raises(fluxds.MissingEnergyEdgesError):
        _ = ds.sed.flux


@pytest.mark.parametrize("name", ["flux_points", "diff_flux_points", "binlike"])
def test_gadf_hdf5_flavour(tmp_path, name):
    """The spec's .h5 samples are written by its make_sed_examples.py with
    ``tab.write(name, format="hdf5", path="/sed")``: meta as HDF5 attributes, units dropped. We write
    them the same way from the FITS samples; they read with the spec's recommended units (MeV ...)."""
    import warnings

    table = Table.read(GADF / f"{name}.fits")
    path = tmp_path / f"{name}.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # astropy warns that units are not written
        table.write(path, format="hdf5", path="/sed")
    with pytest.raises(fluxds.UnitError, match=r"has no unit.*units='gadf'"):
        fluxds.read(path)
    ds = fluxds.read(path, units="gadf")
    xr_ref = fluxds.read(GADF / f"{name}.fits")
    assert ds.sed.sed_type_init == xr_ref.sed.sed_type_init and ds.sed.ul_conf == 0.95
    for quantity in ("dnde", "e2dnde", "norm_err"):
        np.testing.assert_array_equal(ds.sed.get(quantity).values, xr_ref.sed.get(quantity).values)
    assert ds.energy.attrs["units"] == "MeV"
