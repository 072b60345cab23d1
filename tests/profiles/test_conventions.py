"""Issue 13, items 2 and 4: what a file's likelihood profiles are relative to, and the upper-limit
conventions of the producers (gammapy two-sided, fermipy one-sided)."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Column, Table
from helpers import GADF, WRITTEN
from scipy import stats

import fluxds
from fluxds.errors import FluxdsError

DATA = WRITTEN


# --- item 2: profiles of non-likelihood files ----------------------------------------------------------
@pytest.mark.parametrize("name", ["fp_dnde.fits", "fp_eflux.fits", "fp_dnde.ecsv"])  # dnde & flux families
def test_profiles_without_their_reference_are_refused(name):
    """gammapy keeps norm_scan relative to its own reference model and does not store it in dnde/flux
    files; every profile-based result must refuse, saying why (on HEAD recompute_ul returned limits
    2.5x to 1.5e7x gammapy's stored ones, silently)."""
    ds = fluxds.read(DATA / name)
    calls = {
        "recompute_ul": lambda: ds.sed.recompute_ul(n_sigma_ul=2),
        "recompute_errors": lambda: ds.sed.recompute_errors(),
        "resample": lambda: ds.sed.resample("energy", group_size=2),
        "check": lambda: ds.sed.check(warn=False),
    }
    for what, call in calls.items():
        with pytest.raises(FluxdsError, match="reference model") as info:
            call()
        assert what in str(info.value)
    # the stored numbers themselves are still read as gammapy wrote them
    table = Table.read(DATA / name, hdu=1) if name.endswith(".fits") else Table.read(DATA / name)
    stem = next(s for s in ("e2dnde", "dnde", "eflux", "flux") if f"{s}_ul" in table.colnames)
    got = ds.sed.get(f"{stem}_ul", unit=str(table[f"{stem}_ul"].unit)).values
    np.testing.assert_allclose(got, np.asarray(table[f"{stem}_ul"]), rtol=1e-12)


def test_profile_plot_and_light_curve_refused(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from fluxds.plotting.profiles import plot_ts_profiles

    ds = fluxds.read(DATA / "fp_dnde.fits")
    with pytest.raises(FluxdsError, match="castro"):
        plot_ts_profiles(ds)
    lc = fluxds.read(DATA / "lc_flux.fits")
    with pytest.raises(FluxdsError, match="combining profiles"):
        lc.sed.combine("time")


def test_likelihood_file_profiles_agree_with_stored_limits():
    """Where the file keeps the scan's reference (likelihood type), the limits recomputed from the
    profiles equal gammapy's stored ones (the file's norm_ul column) in the bins whose limit lies
    inside the scan: the refusal above is about the missing reference, not about the profiles."""
    ds = fluxds.read(DATA / "fp_likelihood.fits")
    assert "scan_reference" not in ds.attrs
    table = Table.read(DATA / "fp_likelihood.fits", hdu=1)
    out = ds.sed.recompute_ul(n_sigma_ul=2)
    inside = out.norm_ul_status.values == 0
    assert inside.sum() >= 3
    np.testing.assert_allclose(out.norm_ul.values[inside], np.asarray(table["norm_ul"])[inside], rtol=1e-4)


def test_given_reference_model_is_trusted():
    from fluxds.models import PowerLaw

    scan = np.linspace(0.0, 3.0, 7)
    data = {
        "dnde": [2e-12] * u.Unit("cm-2 s-1 TeV-1"),
        "norm_scan": scan[None, :],
        "stat_scan": ((scan - 2.0) / 0.5)[None, :] ** 2,
    }
    edges = {"energy_min": [1] * u.TeV, "energy_max": [2] * u.TeV}
    bare = fluxds.from_sed("dnde", data, **edges)
    assert bare.attrs["scan_reference"].startswith("unknown")
    model = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    given = fluxds.from_sed("dnde", data, reference_model=model, **edges)
    assert "scan_reference" not in given.attrs
    ul = given.sed.recompute_ul(n_sigma_ul=2).norm_ul.values  # parabola: 2 + 2 * 0.5
    np.testing.assert_allclose(ul, [3.0], rtol=1e-9)


# --- item 4: upper-limit sidedness ---------------------------------------------------------------------
def test_confidence_sidedness_against_scipy():
    from fluxds.confidence import n_sigma_from_ul_conf, ul_conf_from_n_sigma

    # fermipy's onesided_cl_to_dlnl(0.95) = 1.3528 in log L, a rise of chi2.ppf(0.90, 1) = 2.7055
    assert n_sigma_from_ul_conf(0.95, "one-sided") ** 2 == pytest.approx(stats.chi2.ppf(0.90, 1), rel=1e-12)
    assert n_sigma_from_ul_conf(0.95, "two-sided") ** 2 == pytest.approx(stats.chi2.ppf(0.95, 1), rel=1e-12)
    assert n_sigma_from_ul_conf(0.95) == n_sigma_from_ul_conf(0.95, "two-sided")
    for side in ("one-sided", "two-sided"):
        assert ul_conf_from_n_sigma(n_sigma_from_ul_conf(0.99, side), side) == pytest.approx(0.99, abs=1e-15)
    with pytest.raises(FluxdsError, match="ul_sidedness"):
        n_sigma_from_ul_conf(0.95, "upper")


NORM = np.array([1.2, 0.8, 0.1])
SIGMA = np.array([0.1, 0.2, 0.3])
LOGLIKE = np.array([-1000.0, -700.0, -300.0])
Z95_ONE = 1.6448536269514722  # scipy.stats.norm.ppf(0.95)


def _fermipy_sed(path: Path) -> Path:
    """A file in fermipy's own SED layout, as ``fermipy.sed.SEDGenerator._make_sed_fits`` writes it
    (primary HDU, ``SED`` table with fermipy's column names and units, ``MODEL_FLUX``; ``SRCNAME`` and
    ``CREATOR`` in every header; ``UL_CONF = 0.95`` while the limit is one-sided, Δ(-2 ln L) = 2.71).
    The profiles are parabolas, ``dloglike_scan = loglike_scan - loglike`` (fermipy's profile_norm)."""
    e_min = np.array([100.0, 316.2, 1000.0])
    e_max = np.array([316.2, 1000.0, 3162.0])
    e_ref = np.sqrt(e_min * e_max)
    ref_dnde = 1e-9 * (e_ref / 1000.0) ** -2
    scan = np.stack([np.linspace(0.0, 3.0, 13)] * 3)
    scan[:, 4] = NORM  # the best fit on the grid, to compare the baselines exactly
    scan.sort(axis=1)
    dloglike = -0.5 * ((scan - NORM[:, None]) / SIGMA[:, None]) ** 2
    dnde_unit = "ph / (MeV cm2 s)"
    cols = [
        Column(name="e_min", data=e_min, unit="MeV"),
        Column(name="e_ref", data=e_ref, unit="MeV"),
        Column(name="e_max", data=e_max, unit="MeV"),
        Column(name="ref_dnde_e_min", data=1e-9 * (e_min / 1000.0) ** -2, unit=dnde_unit),
        Column(name="ref_dnde_e_max", data=1e-9 * (e_max / 1000.0) ** -2, unit=dnde_unit),
        Column(name="ref_dnde", data=ref_dnde, unit=dnde_unit),
        Column(name="ref_flux", data=1e-6 * (1 / e_min - 1 / e_max), unit="ph / (cm2 s)"),
        Column(name="ref_eflux", data=1e-3 * np.log(e_max / e_min), unit="MeV / (cm2 s)"),
        Column(name="ref_npred", data=np.ones(3)),
        Column(name="norm", data=NORM),
        Column(name="norm_err", data=SIGMA),
        Column(name="norm_errp", data=SIGMA),
        Column(name="norm_errn", data=SIGMA),
        Column(name="norm_ul", data=NORM + Z95_ONE * SIGMA),
        Column(name="ts", data=(NORM / SIGMA) ** 2),
        Column(name="loglike", data=LOGLIKE),
        Column(name="norm_scan", data=scan),
        Column(name="dloglike_scan", data=dloglike),
    ]
    table = Table(cols)
    table.meta["UL_CONF"] = 0.95
    hdu = fits.table_to_hdu(table)
    hdu.name = "SED"
    model = fits.BinTableHDU.from_columns(
        [fits.Column(name="energy", format="E", array=e_ref, unit="MeV")], name="MODEL_FLUX"
    )
    hdus = fits.HDUList([fits.PrimaryHDU(), hdu, model])
    for h in hdus:
        h.header["SRCNAME"] = "4FGL J0000.0+0000"
        h.header["CREATOR"] = "fermipy 1.2"
    out = path / "sed_4fgl.fits"
    hdus.writeto(out)
    return out


def test_fermipy_limits_are_one_sided(tmp_path):
    ds = fluxds.read(_fermipy_sed(tmp_path))
    assert ds.attrs["ul_sidedness"] == "one-sided"
    assert ds.attrs["ul_conf"] == 0.95
    assert ds.attrs["n_sigma_ul"] == pytest.approx(stats.norm.ppf(0.95), rel=1e-12)
    # recompute_ul honours the file's convention and gives fermipy's limits back (parabolas: exact)
    again = ds.sed.recompute_ul()
    np.testing.assert_allclose(again.norm_ul.values, NORM + Z95_ONE * SIGMA, rtol=1e-9)
    np.testing.assert_allclose(ds.sed.recompute_ul(ul_conf=0.95).norm_ul.values, NORM + Z95_ONE * SIGMA)
    assert again.attrs["ul_sidedness"] == "one-sided"
    # check() no longer flags every fermipy limit
    assert not ds.sed.check(warn=False)["ul_mismatch"].values.any()
    # the documented way to the other convention: gammapy's two-sided 95 %, 1.959964 sigma
    two = ds.sed.recompute_ul(ul_conf=0.95, ul_sidedness="two-sided")
    np.testing.assert_allclose(two.norm_ul.values, NORM + stats.norm.ppf(0.975) * SIGMA, rtol=1e-9)
    assert two.attrs["ul_sidedness"] == "two-sided"
    assert two.attrs["n_sigma_ul"] == pytest.approx(np.sqrt(stats.chi2.ppf(0.95, 1)), rel=1e-12)


def test_fermipy_stat_and_scan_share_a_baseline(tmp_path):
    """fermipy: stat = -2 loglike, stat_scan = stat - 2 dloglike_scan (dloglike relative to the best
    fit); on HEAD stat_scan kept min 0 beside stat 2000, and the castro plot was blank."""
    ds = fluxds.read(_fermipy_sed(tmp_path))
    np.testing.assert_allclose(ds.stat.values, -2 * LOGLIKE)
    np.testing.assert_allclose(ds.stat_scan.min("scan").values, -2 * LOGLIKE, rtol=1e-12)
    from fluxds.plotting.profiles import delta_stat

    delta = delta_stat(ds)
    np.testing.assert_allclose(delta.min("scan").values, 0.0, atol=1e-9)
    np.testing.assert_allclose(delta.max("scan").values, ((3.0 - NORM) / SIGMA) ** 2, rtol=1e-9)


def test_gammapy_and_gadf_files_stay_two_sided():
    ds = fluxds.read(DATA / "fp_likelihood.fits")
    assert ds.attrs.get("ul_sidedness", "two-sided") == "two-sided"
    # gammapy's UL_CONF 0.9544997 is its n_sigma_ul = 2 read two-sided
    assert ds.attrs["n_sigma_ul"] == pytest.approx(2.0, abs=1e-6)
    gadf = fluxds.read(GADF / "binlike.fits")
    assert gadf.attrs.get("ul_sidedness", "two-sided") == "two-sided"
    # the GADF sample keeps loglike_null: its scan stays referred to it (max dloglike_scan = loglike)
    np.testing.assert_allclose(gadf.stat_scan.min("scan").values, gadf.stat.values, rtol=1e-6)


# --- item 4: writing fermipy's SED layout --------------------------------------------------------------
# the SED HDU of fermipy.sed.SEDGenerator._make_sed_fits: column names, in order, and units
FERMIPY_COLUMNS = {
    "e_min": "MeV",
    "e_ref": "MeV",
    "e_max": "MeV",
    "ref_dnde_e_min": "ph / (MeV cm2 s)",
    "ref_dnde_e_max": "ph / (MeV cm2 s)",
    "ref_dnde": "ph / (MeV cm2 s)",
    "ref_flux": "ph / (cm2 s)",
    "ref_eflux": "MeV / (cm2 s)",
    "ref_npred": None,
    "dnde": "ph / (MeV cm2 s)",
    "dnde_err": "ph / (MeV cm2 s)",
    "dnde_errp": "ph / (MeV cm2 s)",
    "dnde_errn": "ph / (MeV cm2 s)",
    "dnde_ul": "ph / (MeV cm2 s)",
    "e2dnde": "MeV / (cm2 s)",
    "e2dnde_err": "MeV / (cm2 s)",
    "e2dnde_errp": "MeV / (cm2 s)",
    "e2dnde_errn": "MeV / (cm2 s)",
    "e2dnde_ul": "MeV / (cm2 s)",
    "norm": None,
    "norm_err": None,
    "norm_errp": None,
    "norm_errn": None,
    "norm_ul": None,
    "ts": None,
    "loglike": None,
    "norm_scan": None,
    "dloglike_scan": None,
}


def test_fermipy_sed_writer_round_trip_and_conventions(tmp_path):
    src = _fermipy_sed(tmp_path)
    ds = fluxds.read(src)
    out = tmp_path / "again.fits"
    ds.sed.write(out, format="fermipy-sed")
    with fits.open(out) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SED"]
        assert all(h.header["SRCNAME"] == "4FGL J0000.0+0000" for h in hdul)
        assert hdul["SED"].header["UL_CONF"] == 0.95
    table = Table.read(out, hdu="SED")
    assert table.colnames == list(FERMIPY_COLUMNS)
    for name, unit in FERMIPY_COLUMNS.items():
        if unit is None:
            assert table[name].unit is None, name
        else:
            assert table[name].unit == u.Unit(unit), name
    original = Table.read(src, hdu="SED")
    for name in original.colnames:  # fermipy's own numbers come back (loglike, dloglike_scan, ...)
        np.testing.assert_allclose(
            np.asarray(table[name]), np.asarray(original[name]), rtol=1e-12, err_msg=name
        )
    dnde = np.asarray(original["ref_dnde"]) * NORM
    np.testing.assert_allclose(np.asarray(table["dnde"]), dnde, rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(table["e2dnde"]), dnde * np.asarray(original["e_ref"]) ** 2, rtol=1e-12
    )
    back = fluxds.read(out)
    assert back.attrs["ul_sidedness"] == "one-sided"
    for name in ("norm", "norm_err", "norm_ul", "stat", "stat_scan", "norm_scan", "ref_dnde", "ref_flux"):
        np.testing.assert_allclose(back[name].values, ds[name].values, rtol=1e-12, err_msg=name)


def test_fermipy_sed_writer_converts_two_sided_limits(tmp_path):
    """A gammapy-convention Dataset (two-sided) written in fermipy's layout gets fermipy's one-sided 95 %
    limits, recomputed from its profiles: norm + 1.645 sigma on a parabola (a hand calculation)."""
    from fluxds.models import PowerLaw

    scan = np.linspace(0.0, 3.0, 31)
    model = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    stat_scan = 50.0 + ((scan[None, :] - NORM[:, None]) / SIGMA[:, None]) ** 2
    ds = fluxds.from_likelihood(
        NORM,
        energy_min=[1, 2, 4] * u.TeV,
        energy_max=[2, 4, 8] * u.TeV,
        reference_model=model,
        norm_err=SIGMA,
        norm_ul=NORM + 2 * SIGMA,
        stat=[50.0] * 3,
        norm_scan=np.broadcast_to(scan, (3, scan.size)),
        stat_scan=stat_scan,
        ul_conf=0.9544997361036416,
    )
    ds.sed.write(tmp_path / "sed.fits", format="fermipy-sed")
    table = Table.read(tmp_path / "sed.fits", hdu="SED")
    np.testing.assert_allclose(np.asarray(table["norm_ul"]), NORM + Z95_ONE * SIGMA, rtol=1e-9)
    np.testing.assert_allclose(np.asarray(table["loglike"]), -25.0)
    np.testing.assert_allclose(np.asarray(table["dloglike_scan"]).max(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(table["e_min"]), [1e6, 2e6, 4e6])  # MeV
    # without profiles the limits cannot be turned into fermipy's: refused, saying why
    bare = ds.drop_vars(["norm_scan", "stat_scan"])
    with pytest.raises(FluxdsError, match="one-sided 95 %"):
        bare.sed.write(tmp_path / "bare.fits", format="fermipy-sed")
    assert not (tmp_path / "bare.fits").exists()
