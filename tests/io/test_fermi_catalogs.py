"""Fermi-LAT catalogs (fluxds.io.fermi_catalog): the FSSC files of 2FGL, 3FGL, 3FHL (../shared/data/catalogs),
and 4FGL (DR1 and DR3 layouts) and 2FHL files built here in the FSSC layout; band SEDs and flux histories
checked by hand from the raw columns, against gammapy's catalog classes, and damaged files refused.

gammapy builds one FluxPoints per source (30-100 ms each): the default run compares a sample (about 25
sources of a curved spectral type, 25 power laws, and every spectral type of 3FGL), ``FLUXDS_FERMI_ALL=1``
every source of 3FGL and 3FHL (the result of such a run is in the notes on Fermi catalogs).
"""

from __future__ import annotations

import json
import math
import os
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from helpers import SHARED
from scipy.integrate import quad

import fluxds
from fluxds.errors import FormatError, UnknownFormatError
from fluxds.io import detect_format
from fluxds.models import model_from_dict

CATALOGS = SHARED / "catalogs"
FGL3 = CATALOGS / "gll_psc_v16.fit.gz"
FHL3 = CATALOGS / "gll_psch_v13.fit.gz"
FGL2 = CATALOGS / "gll_psc_v08.fit.gz"
need_samples = pytest.mark.skipif(not FGL3.exists(), reason="../shared/data/catalogs not present")
ALL = os.environ.get("FLUXDS_FERMI_ALL") == "1"
MJDREFF = 7.428703703703703e-4
F32 = np.float32


def f32(x):
    """A number as the file holds it (float32), back as a Python float."""
    return float(np.float32(x))


# ---- files built in the FSSC layout ------------------------------------------------------------------
DR3_EDGES = [50.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 1e5, 1e6]
DR1_EDGES = [50.0, 100.0, 300.0, 1e3, 3e3, 1e4, 3e4, 3e5]
NAMES_4FGL = [
    "4FGL J0001.0+0101",
    "4FGL J0002.0-0202",
    "4FGL J0003.0+0303",
    "4FGL J0004.0-0404",
    "4FGL J0005.0+0505",
]
TYPES_4FGL = ["PowerLaw", "LogParabola", "PLSuperExpCutoff", "PLSuperExpCutoff", "PowerLaw"]
PIVOT = [1000.0, 2000.0, 1500.0, 2500.0, 800.0]
PL = [(1e-12, 2.0), (2e-12, 2.3), (4e-11, 1.9), (3e-12, 2.1), (5e-13, 2.5)]  # (PL_Flux_Density, PL_Index)
LP = [(1e-12, 2.0, 0.05), (3e-12, 2.2, 0.1), (4e-11, 1.7, 0.2), (3e-12, 2.0, 0.15), (5e-13, 2.4, 0.02)]
# DR3 (PLEC_Flux_Density, PLEC_IndexS, PLEC_ExpfactorS, PLEC_Exp_Index); source 3 has b = 0 (the limit)
PLEC_DR3 = [
    (1e-12, 2.0, 0.1, 0.6667),
    (3e-12, 2.2, 0.2, 0.6667),
    (5e-11, 1.8, 0.5, 0.6667),
    (3e-12, 2.0, 0.3, 0.0),
    (5e-13, 2.4, 0.05, 0.6667),
]
# DR1 (PLEC_Flux_Density, PLEC_Index, PLEC_Expfactor [MeV^-b], PLEC_Exp_Index)
PLEC_DR1 = [
    (1e-12, 2.0, 1e-3, 0.6667),
    (3e-12, 2.2, 2e-3, 0.6667),
    (5e-11, 1.5, 9e-3, 0.6667),
    (3e-12, 1.6, 5e-3, 0.6667),
    (5e-13, 2.4, 1e-3, 0.6667),
]


def _band_values(n_band: int, seed: int):
    rng = np.random.default_rng(seed)
    flux = rng.uniform(1e-11, 1e-9, (5, n_band)) / np.arange(1, n_band + 1) ** 2
    lower = -rng.uniform(0.1, 0.4, (5, n_band)) * flux
    upper = rng.uniform(0.1, 0.5, (5, n_band)) * flux
    lower[0, 0] = lower[1, -1] = lower[4, -2] = np.nan  # upper limits: the lower error is null
    sqrt_ts = rng.uniform(1.5, 20.0, (5, n_band))
    sqrt_ts[np.isnan(lower)] = 0.5
    return flux, np.stack([lower, upper], axis=-1), sqrt_ts


def _strings(name, values, width=20):
    return fits.Column(name, f"{width}A", array=np.array(values))


def build_4fgl(path, dr: int = 3):
    """A 5-source 4FGL catalog in the FSSC layout of DR3/DR4 (``dr=3``) or DR1/DR2 (``dr=1``)."""
    edges = DR3_EDGES if dr == 3 else DR1_EDGES
    n_band = len(edges) - 1
    n_hist = 12 if dr == 3 else 8
    flux, unc, sqrt_ts = _band_values(n_band, 1 + dr)
    nufnu = flux * np.sqrt(np.array(edges[:-1]) * edges[1:]) * 1.602176634e-6  # any numbers: kept as read
    hist_flux, hist_unc, hist_ts = _band_values(n_hist, 10 + dr)
    hist_unc[2, 3, 0] = np.nan
    E = "E"
    cols = [
        _strings("Source_Name", NAMES_4FGL, 18),
        fits.Column("RAJ2000", E, unit="deg", array=[1.0, 2.0, 3.0, 4.0, 5.0]),
        fits.Column("DEJ2000", E, unit="deg", array=[1.0, -2.0, 3.0, -4.0, 5.0]),
        fits.Column("GLON", E, unit="deg", array=[100.0, 110.0, 120.0, 130.0, 140.0]),
        fits.Column("GLAT", E, unit="deg", array=[-60.0, -61.0, -62.0, -63.0, -64.0]),
        fits.Column("Conf_95_SemiMajor", E, unit="deg", array=[0.05] * 5),
        fits.Column("Conf_95_SemiMinor", E, unit="deg", array=[0.04] * 5),
        fits.Column("Conf_95_PosAng", E, unit="deg", array=[10.0] * 5),
        fits.Column("Signif_Avg", E, array=[5.0, 6.0, 7.0, 8.0, 9.0]),
        fits.Column("Pivot_Energy", E, unit="MeV", array=PIVOT),
        fits.Column("Flux1000", E, unit="photon/cm**2/s", array=[1e-9] * 5),
        fits.Column("Energy_Flux100", E, unit="erg/cm**2/s", array=[1e-11] * 5),
        _strings("SpectrumType", TYPES_4FGL, 18),
        fits.Column("PL_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] for p in PL]),
        fits.Column("Unc_PL_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] / 10 for p in PL]),
        fits.Column("PL_Index", E, array=[p[1] for p in PL]),
        fits.Column("Unc_PL_Index", E, array=[0.1] * 5),
        fits.Column("LP_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] for p in LP]),
        fits.Column("Unc_LP_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] / 10 for p in LP]),
        fits.Column("LP_Index", E, array=[p[1] for p in LP]),
        fits.Column("Unc_LP_Index", E, array=[0.1] * 5),
        fits.Column("LP_beta", E, array=[p[2] for p in LP]),
        fits.Column("Unc_LP_beta", E, array=[0.01] * 5),
        fits.Column("LP_SigCurv", E, array=[1.0, 5.0, 2.0, 3.0, 0.5]),
    ]
    plec = PLEC_DR3 if dr == 3 else PLEC_DR1
    suffix = "S" if dr == 3 else ""
    cols += [
        fits.Column("PLEC_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] for p in plec]),
        fits.Column("Unc_PLEC_Flux_Density", E, unit="photon/cm**2/MeV/s", array=[p[0] / 10 for p in plec]),
        fits.Column(f"PLEC_Index{suffix}", E, array=[p[1] for p in plec]),
        fits.Column(f"Unc_PLEC_Index{suffix}", E, array=[0.1] * 5),
        fits.Column(f"PLEC_Expfactor{suffix}", E, array=[p[2] for p in plec]),
        fits.Column(f"Unc_PLEC_Expfactor{suffix}", E, array=[0.01] * 5),
        fits.Column("PLEC_Exp_Index", E, array=[p[3] for p in plec]),
        fits.Column("Unc_PLEC_Exp_Index", E, array=[np.nan] * 5),
        fits.Column("Flux_Band", f"{n_band}E", unit="photon/cm**2/s", array=flux),
        fits.Column("Unc_Flux_Band", f"{2 * n_band}E", unit="photon/cm**2/s", dim=f"(2,{n_band})", array=unc),
        fits.Column("nuFnu_Band", f"{n_band}E", unit="erg/cm**2/s", array=nufnu),
        fits.Column("Sqrt_TS_Band", f"{n_band}E", array=sqrt_ts),
        fits.Column("Variability_Index", E, array=[10.0, 20.0, 30.0, 40.0, 50.0]),
        fits.Column("Flux_History", f"{n_hist}E", unit="photon/cm**2/s", array=hist_flux),
        fits.Column(
            "Unc_Flux_History", f"{2 * n_hist}E", unit="photon/cm**2/s", dim=f"(2,{n_hist})", array=hist_unc
        ),
        fits.Column("Sqrt_TS_History", f"{n_hist}E", array=hist_ts),
    ]
    hdus_extra = []
    if dr == 1:  # DR1/DR2 also give 2-month light curves
        f2, u2, t2 = _band_values(48, 99)
        cols += [
            fits.Column("Flux2_History", "48E", unit="photon/cm**2/s", array=f2),
            fits.Column("Unc_Flux2_History", "96E", unit="photon/cm**2/s", dim="(2,48)", array=u2),
            fits.Column("Sqrt_TS2_History", "48E", array=t2),
        ]
        start2 = 239557417.0 + np.arange(49) * (365.25 * 86400 * 8 / 48)
        hdus_extra.append(
            fits.BinTableHDU.from_columns(
                [fits.Column("Hist2_Start", "D", unit="s", array=start2)], name="Hist2_Start"
            )
        )
    cols += [
        _strings("Extended_Source_Name", [""] * 5, 18),
        _strings("ASSOC_FGL", ["3FGL J0001.0+0101", "", "", "", ""], 18),
        _strings("ASSOC_FHL", [""] * 5, 18),
        _strings("ASSOC_GAM1", [""] * 5, 18),
        _strings("ASSOC_GAM2", [""] * 5, 18),
        _strings("ASSOC_GAM3", [""] * 5, 18),
        _strings("TEVCAT_FLAG", ["N"] * 5, 1),
        _strings("ASSOC_TEV", ["", "", "TeV J0003", "", ""], 24),
        _strings("CLASS1", ["bll", "FSRQ", "PSR", "psr", ""], 7),
        _strings("CLASS2", [""] * 5, 7),
        _strings("ASSOC1", ["PKS 0001+01", "B2 0002-02", "PSR J0003+03", "", ""], 28),
        _strings("ASSOC2", [""] * 5, 26),
        fits.Column("Flags", "I", array=[0] * 5),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="LAT_Point_Source_Catalog")
    h = table.header
    h["CDS-NAME"] = "4FGL-DR3" if dr == 3 else "4FGL"
    h["VERSION"] = "v31" if dr == 3 else "v22"
    h["TIMESYS"], h["TIMEUNIT"], h["MJDREFI"] = "TT", "s", 51910
    h["MJDREFF"] = "7.428703703703703D-4"
    h["TSUPLIM"] = 1.0
    extended = fits.BinTableHDU.from_columns(
        [
            _strings("Source_Name", ["4FGL J9999.9+9999e"], 18),
            fits.Column("RAJ2000", E, unit="deg", array=[0.0]),
            fits.Column("DEJ2000", E, unit="deg", array=[0.0]),
            _strings("Model_Form", ["Disk"], 12),
            fits.Column("Model_SemiMajor", E, unit="deg", array=[0.5]),
            fits.Column("Model_SemiMinor", E, unit="deg", array=[0.5]),
            fits.Column("Model_PosAng", E, unit="deg", array=[0.0]),
            _strings("Spatial_Filename", [""], 20),
        ],
        name="ExtendedSources",
    )
    bounds = fits.BinTableHDU.from_columns(
        [fits.Column("LowerEnergy", E, unit="MeV", array=edges[:-1]),
         fits.Column("UpperEnergy", E, unit="MeV", array=edges[1:]),
         fits.Column("SysRel", E, array=[0.05] * n_band)],
        name="EnergyBounds",
    )  # fmt: skip
    start = 239557417.0 + np.arange(n_hist + 1) * 365.25 * 86400  # no time keywords: they are in GTI
    hist = fits.BinTableHDU.from_columns(
        [fits.Column("Hist_Start", "D", unit="s", array=start)], name="Hist_Start"
    )
    gti = fits.BinTableHDU.from_columns(
        [
            fits.Column("START", "D", unit="s", array=start[:-1] + 100.0),
            fits.Column("STOP", "D", unit="s", array=start[1:] - 100.0),
        ],
        name="GTI",
    )  # fmt: skip
    gti.header["MJDREFI"], gti.header["MJDREFF"], gti.header["TIMESYS"] = 51910, "7.428703703703703D-4", "TT"
    hdul = fits.HDUList([fits.PrimaryHDU(), table, extended, bounds, hist, *hdus_extra, gti])
    hdul.writeto(path, overwrite=True)
    return path


FHL2_BANDS = [(50.0, 171.0), (171.0, 585.0), (585.0, 2000.0)]
NAMES_2FHL = [
    "2FHL J0001.0+0101",
    "2FHL J0002.0-0202",
    "2FHL J0003.0+0303",
    "2FHL J0004.0-0404",
    "2FHL J0005.0+0505",
]


def build_2fhl(path):
    """A 5-source 2FHL catalog in the FSSC layout (gll_psch_v08/v09)."""
    rng = np.random.default_rng(5)
    flux50 = np.array([1e-11, 3e-12, 5e-11, 2e-12, 8e-12])
    index = np.array([3.0, 2.5, 2.0, 4.2, 1.0])
    cols = [
        _strings("Source_Name", NAMES_2FHL, 18),
        fits.Column("RAJ2000", "E", unit="deg", array=[10.0, 20.0, 30.0, 40.0, 50.0]),
        fits.Column("DEJ2000", "E", unit="deg", array=[1.0, -2.0, 3.0, -4.0, 5.0]),
        fits.Column("GLON", "E", unit="deg", array=[100.0, 110.0, 120.0, 130.0, 140.0]),
        fits.Column("GLAT", "E", unit="deg", array=[-60.0, -61.0, -62.0, -63.0, -64.0]),
        fits.Column("Pos_err_68", "E", unit="deg", array=[0.03] * 5),
        fits.Column("TS", "E", array=[30.0, 40.0, 50.0, 60.0, 70.0]),
        fits.Column("Spectral_Index", "E", array=index),
        fits.Column("Unc_Spectral_Index", "E", array=[0.3] * 5),
        fits.Column("Flux50", "E", unit="photon/cm**2/s", array=flux50),
        fits.Column("Unc_Flux50", "E", unit="photon/cm**2/s", array=flux50 / 5),
        fits.Column("Energy_Flux50", "E", unit="erg/cm**2/s", array=flux50 * 1e-1),
        fits.Column("Unc_Energy_Flux50", "E", unit="erg/cm**2/s", array=flux50 * 2e-2),
    ]
    for lo, hi in FHL2_BANDS:
        tag = f"{lo:.0f}_{hi:.0f}GeV"
        f = flux50 * rng.uniform(0.1, 0.6, 5)
        unc = np.stack([-0.3 * f, 0.4 * f], axis=1)
        if lo == 585.0:
            unc[[0, 3], 0] = np.nan  # upper limits
        cols += [
            fits.Column(f"Flux{tag}", "E", unit="photon/cm**2/s", array=f),
            fits.Column(f"Unc_Flux{tag}", "2E", unit="photon/cm**2/s", array=unc),
            fits.Column(f"Sqrt_TS{tag}", "E", array=rng.uniform(0.5, 8, 5)),
        ]
    cols += [
        fits.Column("Npred", "E", array=[10.0] * 5),
        fits.Column("ROI", "I", array=[1, 2, 3, 4, 5]),
        _strings("ASSOC", ["Mrk 421", "", "Crab", "", ""], 24),
        _strings("CLASS", ["hsp", "", "PWN", "", ""], 8),
        _strings("3FGL_Name", [""] * 5, 18),
        _strings("1FHL_Name", [""] * 5, 18),
        _strings("TeVCat_Name", [""] * 5, 18),
    ]
    table = fits.BinTableHDU.from_columns(cols, name="2FHL Source Catalog")
    table.header["VERSION"] = "v09"
    extended = fits.BinTableHDU.from_columns(
        [_strings("Source_Name", ["2FHL J9999.9+9999e"], 18)], name="Extended Sources"
    )
    rois = fits.BinTableHDU.from_columns([fits.Column("ROI", "I", array=[1])], name="ROIs")
    fits.HDUList([fits.PrimaryHDU(), table, extended, rois]).writeto(path, overwrite=True)
    return path


@pytest.fixture(scope="module")
def fgl4(tmp_path_factory):
    return build_4fgl(tmp_path_factory.mktemp("fermi") / "gll_psc_v31.fit", dr=3)


@pytest.fixture(scope="module")
def fgl4_dr1(tmp_path_factory):
    return build_4fgl(tmp_path_factory.mktemp("fermi") / "gll_psc_v22.fit", dr=1)


@pytest.fixture(scope="module")
def fhl2(tmp_path_factory):
    return build_2fhl(tmp_path_factory.mktemp("fermi") / "gll_psch_v09.fit")


def read(path, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("error", fluxds.PhysicsWarning)  # a catalog read is clean
        return fluxds.read(path, **kwargs)


# ---- detection -----------------------------------------------------------------------------------------
@need_samples
@pytest.mark.parametrize("path", [FGL3, FHL3, FGL2], ids=["3FGL", "3FHL", "2FGL"])
def test_samples_are_detected(path):
    assert detect_format(path) == "fermi-catalog"


def test_built_files_are_detected(fgl4, fgl4_dr1, fhl2, tmp_path):
    for path in (fgl4, fgl4_dr1, fhl2):
        assert detect_format(path) == "fermi-catalog"
    # by the columns, when the source table has another EXTNAME
    with fits.open(fgl4) as hdul:
        hdul[1].name = "SOURCES"
        hdul.writeto(tmp_path / "renamed.fits")
    assert detect_format(tmp_path / "renamed.fits") == "fermi-catalog"
    assert read(tmp_path / "renamed.fits").sizes["source"] == 5


# ---- 3FGL, 3FHL, 2FGL: numbers from the raw columns -------------------------------------------------------
@need_samples
def test_3fgl_power_law_source_by_hand():
    ds = read(FGL3)
    assert ds.sizes == {"source": 3034, "energy": 5}
    assert ds.attrs["catalog"] == "3FGL" and ds.attrs["sed_type_init"] == "flux"
    assert ds.attrs["n_sigma_ul"] == 2.0 and ds.attrs["sqrt_ts_threshold_ul"] == 1.0
    np.testing.assert_array_equal(ds.energy_min.values, [100, 300, 1e3, 3e3, 1e4])  # Flux30_100 is empty
    np.testing.assert_array_equal(ds.energy_max.values, [300, 1e3, 3e3, 1e4, 1e5])
    assert ds.energy.attrs["units"] == "MeV" and "log-centre" in ds.energy.attrs["note"]
    with fits.open(FGL3) as hdul:
        row = hdul[1].data[0]
        k, e0, g = float(row["Flux_Density"]), float(row["Pivot_Energy"]), float(row["Spectral_Index"])
        assert row["SpectrumType"].strip() == "PowerLaw"
        f, unc = float(row["Flux1000_3000"]), row["Unc_Flux1000_3000"].astype(float)
        ts, nufnu = float(row["Sqrt_TS1000_3000"]), float(row["nuFnu1000_3000"])
        ra, name = float(row["RAJ2000"]), row["Source_Name"].strip()
    src = ds.isel(source=0, energy=2)
    assert str(src.source.values) == name and float(src.ra) == ra
    ref_flux = k * e0 / (1 - g) * ((3000 / e0) ** (1 - g) - (1000 / e0) ** (1 - g))
    assert float(src.ref_flux) == pytest.approx(ref_flux, rel=1e-13)
    assert float(src.norm) == pytest.approx(f / ref_flux, rel=1e-13)
    assert float(src.norm_errn) == pytest.approx(-unc[0] / ref_flux, rel=1e-13)
    assert float(src.norm_errp) == pytest.approx(unc[1] / ref_flux, rel=1e-13)
    e_ref = math.sqrt(3e6)
    dnde = f / ref_flux * k * (e_ref / e0) ** -g
    assert float(ds.sed.get("dnde", "cm-2 s-1 MeV-1").isel(source=0, energy=2)) == pytest.approx(
        dnde, rel=1e-13
    )
    assert float(src.ts) == pytest.approx(ts**2, rel=1e-15) and float(src.sqrt_ts) == ts
    assert float(src.nufnu) == nufnu and ds.nufnu.attrs["units"] == "erg cm-2 s-1"
    assert ds.ra.attrs["units"] == "deg" and ds.dec.dims == ("source",)
    assert {"spectrum_type", "assoc1", "class1", "signif_avg", "signif_curve", "glon", "glat"} <= set(
        ds.coords
    )


@need_samples
def test_3fgl_upper_limits_and_null_errors():
    ds = read(FGL3)
    with fits.open(FGL3) as hdul:
        d = hdul[1].data
        unc = np.stack(
            [d[f"Unc_Flux{s}"] for s in ("100_300", "300_1000", "1000_3000", "3000_10000", "10000_100000")], 1
        )
        flux = np.stack(
            [d[f"Flux{s}"] for s in ("100_300", "300_1000", "1000_3000", "3000_10000", "10000_100000")], 1
        )
    ul = np.isnan(unc[..., 0])
    np.testing.assert_array_equal(ds.is_ul.values, ul)
    assert ul.sum() == 2041
    expected = (flux.astype(float) + 2 * unc[..., 1].astype(float))[ul]
    np.testing.assert_allclose(ds.sed.flux_ul.values[ul], expected, rtol=1e-14)
    assert np.isnan(ds.norm_ul.values[~ul]).all() and np.isnan(ds.norm_errn.values[ul]).all()
    # 3FGL's Crab components hold -inf errors in some bands (not computed): NaN, not a limit, not negative
    null = np.isinf(unc[..., 1])
    assert null.sum() == 20 and "3FGL J0534.5+2201i" in set(ds.source.values[null.any(1)])
    assert np.isnan(ds.norm_errp.values[null]).all() and np.isnan(ds.norm_errn.values[null]).all()
    assert not ds.is_ul.values[null].any() and np.isfinite(ds.norm.values[null]).all()


@need_samples
def test_by_source_models_give_the_reference_fluxes():
    ds = read(FGL3)
    models = ds.sed.reference_model
    assert isinstance(models, dict) and len(models) == 3034
    text = json.loads(ds.attrs["reference_model"])["by_source"]
    kinds = ds.spectrum_type.to_series()
    picks = [
        kinds[kinds == t].index[0] for t in ("PowerLaw", "LogParabola", "PLExpCutoff", "PLSuperExpCutoff")
    ]
    lo, hi = ds.energy_min.values * u.MeV, ds.energy_max.values * u.MeV
    for name in picks:
        model = model_from_dict(text[name])
        assert model == models[name]
        src = ds.sel(source=name)
        np.testing.assert_allclose(model.flux(lo, hi).to_value("cm-2 s-1"), src.ref_flux, rtol=1e-12)
        np.testing.assert_allclose(model.eflux(lo, hi).to_value("erg cm-2 s-1"), src.ref_eflux, rtol=1e-12)
        np.testing.assert_allclose(
            model.dnde(ds.energy.values * u.MeV).to_value("cm-2 s-1 MeV-1"), src.ref_dnde, rtol=1e-13
        )
    assert {m.type for m in models.values()} == {
        "PowerLaw",
        "LogParabola",
        "ExpCutoffPowerLaw3FGL",
        "SuperExpCutoffPowerLaw3FGL",
    }


@need_samples
def test_curved_reference_fluxes_against_quad():
    """fluxds's reference integrals of the curved 3FGL/3FHL sources are exact (quad in ln E, 1e-9)."""
    for path, unit in ((FGL3, "MeV"), (FHL3, "GeV")):
        ds = read(path)
        models = ds.sed.reference_model
        for kind in np.unique(ds.spectrum_type.values):
            if kind == "PowerLaw":
                continue
            name = str(ds.source.values[ds.spectrum_type.values == kind][0])
            m, src = models[name], ds.sel(source=name)
            for lo, hi, ref in zip(
                src.energy_min.values, src.energy_max.values, src.ref_flux.values, strict=True
            ):
                e_unit, dnde_unit = u.Unit(unit), u.Unit(f"cm-2 s-1 {unit}-1")

                def integrand(t, m=m, e_unit=e_unit, dnde_unit=dnde_unit):
                    return m.dnde(math.exp(t) * e_unit).to_value(dnde_unit) * math.exp(t)

                q = quad(integrand, math.log(lo), math.log(hi), epsabs=0, epsrel=1e-12, limit=300)[0]
                assert ref == pytest.approx(q, rel=1e-9), (name, lo, hi)


@need_samples
def test_3fhl_by_hand():
    ds = read(FHL3)
    assert ds.sizes == {"source": 1556, "energy": 5}
    np.testing.assert_array_equal(ds.energy_min.values, [10, 20, 50, 150, 500])
    assert ds.energy_min.attrs["units"] == "GeV"
    with fits.open(FHL3) as hdul:
        row = hdul[1].data[0]
        k, e0, g = float(row["Flux_Density"]), float(row["Pivot_Energy"]), float(row["PowerLaw_Index"])
        f, unc = row["Flux_Band"].astype(float), row["Unc_Flux_Band"].astype(float)
    assert row["SpectrumType"].strip() == "PowerLaw"  # its model: PowerLaw_Index (Spectral_Index differs)
    lo, hi = np.array([10, 20, 50, 150, 500.0]), np.array([20, 50, 150, 500, 2000.0])
    ref = k * e0 / (1 - g) * ((hi / e0) ** (1 - g) - (lo / e0) ** (1 - g))
    src = ds.isel(source=0)
    np.testing.assert_allclose(src.norm, f / ref, rtol=1e-13)
    ul = np.isnan(unc[:, 0])
    np.testing.assert_array_equal(src.is_ul, ul)
    np.testing.assert_allclose(src.sed.flux_ul.values[ul], (f + 2 * unc[:, 1])[ul], rtol=1e-14)


@need_samples
def test_2fgl_conventions():
    """2FGL: symmetric band errors, Unc_Flux = 0 marks Flux as the 2 sigma upper limit itself; -inf: null."""
    ds = read(FGL2)
    assert ds.attrs["catalog"] == "2FGL" and ds.attrs["sqrt_ts_threshold_ul"] == pytest.approx(math.sqrt(10))
    assert "norm_err" in ds and "norm_errp" not in ds
    with fits.open(FGL2) as hdul:
        d = hdul[1].data
        f = d["Flux300_1000"].astype(float)
        unc = d["Unc_Flux300_1000"].astype(float)
    ul = unc == 0
    np.testing.assert_array_equal(ds.is_ul.isel(energy=1), ul)
    np.testing.assert_allclose(ds.sed.flux_ul.isel(energy=1).values[ul], f[ul], rtol=1e-15)
    assert np.isnan(ds.norm.isel(energy=1).values[ul]).all()
    np.testing.assert_allclose(ds.sed.flux.isel(energy=1).values[~ul], f[~ul], rtol=1e-15)
    good = ~ul & np.isfinite(unc)  # 2FGL writes null as -inf (Vela X): NaN in fluxds
    np.testing.assert_allclose(ds.sed.flux_err.isel(energy=1).values[good], unc[good], rtol=1e-15)
    assert np.isnan(ds.norm_err.isel(energy=1).values[~good]).all()
    # sources whose Flux_Density/Pivot_Energy are null (-inf): the power law through Flux1000 and the index
    vela = ds.sel(source="2FGL J0833.1-4511e")
    model = ds.sed.reference_model["2FGL J0833.1-4511e"]
    assert model.type == "PowerLaw2" and model.flux(1 * u.GeV, 100 * u.GeV).value == pytest.approx(
        1.8335797e-08, rel=1e-7
    )
    assert np.isfinite(vela.ref_flux).all() and np.isfinite(vela.norm).all()


# ---- light curves ------------------------------------------------------------------------------------------
@need_samples
@pytest.mark.parametrize(("path", "n_time"), [(FGL3, 48), (FGL2, 24)], ids=["3FGL", "2FGL"])
def test_light_curve_edges_are_hist_start(path, n_time):
    ds = read(path, product="lightcurve")
    with fits.open(path) as hdul:
        edges = hdul["Hist_Start"].data["Hist_Start"].astype(float)
        flux = hdul[1].data["Flux_History"].astype(float)
        unc = hdul[1].data["Unc_Flux_History"].astype(float)
    assert ds.sizes["time"] == n_time and ds.sizes["energy"] == 1
    assert ds.norm.dims == ("source", "time", "energy") and ds.ref_flux.dims == ("source", "energy")
    np.testing.assert_array_equal(ds.time_min.values, edges[:-1])
    np.testing.assert_array_equal(ds.time_max.values, edges[1:])
    attrs = ds.time_min.attrs
    assert (attrs["units"], attrs["mjdrefi"], attrs["mjdreff"], attrs["time_scale"]) == (
        "s",
        51910,
        MJDREFF,
        "tt",
    )
    first = 51910 + MJDREFF + (edges[0] + edges[1]) / 2 / 86400  # the first bin centre, TT MJD
    from astropy.time import Time

    assert abs(Time(ds.time.values[0]).mjd - first) < 1e-8  # datetime64 in the TT scale
    assert float(ds.energy_min[0]) == 100.0 and float(ds.energy_max[0]) == 100000.0
    np.testing.assert_allclose(ds.sed.flux.values[..., 0], flux, rtol=1e-15)
    if unc.ndim == 3:  # 3FGL: [lower, upper], lower null for a limit
        ul = np.isnan(unc[..., 0])
        expected_ul = flux + 2 * unc[..., 1]
    else:  # 2FGL: Unc_Flag_History = 1: the error is half the way from the value to the 2 sigma limit
        with fits.open(path) as hdul:
            ul = hdul[1].data["Unc_Flag_History"].astype(bool)
        expected_ul = flux + 2 * unc
    np.testing.assert_array_equal(ds.is_ul.values[..., 0], ul)
    expected_ul[~np.isfinite(expected_ul)] = np.nan  # -inf: an error not computed (3FGL's Crab)
    np.testing.assert_allclose(ds.sed.flux_ul.values[..., 0][ul], expected_ul[ul], rtol=1e-14)
    assert "gti_start" in ds and ds.gti_start.attrs["mjdreff"] == MJDREFF


# ---- 4FGL (built in the FSSC layout) -------------------------------------------------------------------
def test_4fgl_dr3_by_hand(fgl4):
    ds = read(fgl4)
    assert ds.sizes == {"source": 5, "energy": 8}
    assert ds.attrs["catalog"] == "4FGL-DR3"
    np.testing.assert_array_equal(ds.energy_min.values, DR3_EDGES[:-1])
    np.testing.assert_array_equal(ds.energy_max.values, DR3_EDGES[1:])
    assert list(ds.source.values) == NAMES_4FGL and list(ds.class1.values) == [
        "bll",
        "FSRQ",
        "PSR",
        "psr",
        "",
    ]
    with fits.open(fgl4) as hdul:
        d = hdul[1].data
        flux, unc, sqrt_ts = (
            d["Flux_Band"].astype(float),
            d["Unc_Flux_Band"].astype(float),
            d["Sqrt_TS_Band"].astype(float),
        )
    # source 0, PowerLaw (PL_Flux_Density, PL_Index: 4FGL's own power-law columns), band 1-3 GeV
    k, e0, g = f32(PL[0][0]), f32(PIVOT[0]), f32(PL[0][1])
    ref = k * e0**2 * (1 / 1000 - 1 / 3000)  # index 2: the integral of 1/E^2
    src = ds.isel(source=0, energy=3)
    assert float(src.ref_flux) == pytest.approx(ref, rel=1e-13)
    assert float(src.norm) == pytest.approx(flux[0, 3] / ref, rel=1e-13)
    assert float(src.norm_errn) == pytest.approx(-unc[0, 3, 0] / ref, rel=1e-13)
    assert float(ds.sed.get("dnde", "cm-2 s-1 MeV-1").isel(source=0, energy=3)) == pytest.approx(
        flux[0, 3] / ref * k * (math.sqrt(3e6) / e0) ** -g, rel=1e-13
    )
    assert float(src.ts) == pytest.approx(sqrt_ts[0, 3] ** 2, rel=1e-14)
    # the upper limits: lower error null -> Flux + 2 x upper error
    ul = np.isnan(unc[..., 0])
    assert ul.sum() == 3
    np.testing.assert_array_equal(ds.is_ul.values, ul)
    np.testing.assert_allclose(ds.sed.flux_ul.values[ul], (flux + 2 * unc[..., 1])[ul], rtol=1e-14)
    # source 2, PLSuperExpCutoff DR3 form (PLEC_IndexS, PLEC_ExpfactorS), against the formula and quad
    amp, gs, d_, b = (f32(x) for x in PLEC_DR3[2])
    e0 = f32(PIVOT[2])

    def dnde(e):
        return amp * (e / e0) ** (d_ / b - gs) * math.exp(d_ / b**2 * (1 - (e / e0) ** b))

    src = ds.isel(source=2)
    for i, (lo, hi) in enumerate(zip(DR3_EDGES[:-1], DR3_EDGES[1:], strict=True)):
        q = quad(
            lambda t: dnde(math.exp(t)) * math.exp(t),
            math.log(lo),
            math.log(hi),
            epsabs=0,
            epsrel=1e-13,
            limit=300,
        )[0]
        assert float(src.ref_flux[i]) == pytest.approx(q, rel=1e-9)
        assert float(src.ref_dnde[i]) == pytest.approx(dnde(math.sqrt(lo * hi)), rel=1e-12)
    # source 3, b = 0: the log-parabola limit of PLSuperExpCutoff4
    amp, gs, d_, _ = (f32(x) for x in PLEC_DR3[3])
    e0, e = f32(PIVOT[3]), math.sqrt(1e3 * 3e3)
    expected = amp * (e / e0) ** (-gs - d_ / 2 * math.log(e / e0))
    assert float(ds.ref_dnde.isel(source=3, energy=3)) == pytest.approx(expected, rel=1e-12)
    models = ds.sed.reference_model
    dr3 = "SuperExpCutoffPowerLaw4FGLDR3"
    assert [models[n].type for n in NAMES_4FGL] == ["PowerLaw", "LogParabola", dr3, dr3, "PowerLaw"]
    assert models[NAMES_4FGL[1]].alpha == f32(LP[1][1]) and models[NAMES_4FGL[1]].beta == f32(LP[1][2])


def test_4fgl_dr3_light_curve(fgl4):
    ds = read(fgl4, product="lightcurve")
    with fits.open(fgl4) as hdul:
        edges = hdul["Hist_Start"].data["Hist_Start"]
        d = hdul[1].data
        flux, unc, ts = (
            d["Flux_History"].astype(float),
            d["Unc_Flux_History"].astype(float),
            d["Sqrt_TS_History"].astype(float),
        )
    assert ds.sizes["time"] == 12
    np.testing.assert_array_equal(ds.time_min.values, edges[:-1])
    np.testing.assert_array_equal(ds.time_max.values, edges[1:])
    # Hist_Start carries no MJDREF: the GTI HDU's (its MJDREFF in Fortran's D notation)
    assert ds.time_min.attrs["mjdrefi"] == 51910 and ds.time_min.attrs["mjdreff"] == MJDREFF
    assert (float(ds.energy_min[0]), float(ds.energy_max[0])) == (100.0, 100000.0)
    assert "100 MeV - 100 GeV" in ds.energy_min.attrs["note"]  # the file gives no TEMIN/TEMAX
    np.testing.assert_allclose(ds.sed.flux.values[..., 0], flux, rtol=1e-15)
    np.testing.assert_allclose(ds.ts.values[..., 0], ts**2, rtol=1e-15)
    ul = np.isnan(unc[..., 0])
    np.testing.assert_array_equal(ds.is_ul.values[..., 0], ul)
    np.testing.assert_allclose(ds.sed.flux_ul.values[..., 0][ul], (flux + 2 * unc[..., 1])[ul], rtol=1e-14)
    # the reference: each source's model integrated over 100 MeV - 100 GeV
    k, e0 = f32(PL[0][0]), f32(PIVOT[0])
    assert float(ds.ref_flux.isel(source=0, energy=0)) == pytest.approx(
        k * e0**2 * (1 / 100 - 1 / 1e5), rel=1e-13
    )


def test_4fgl_dr1_layout(fgl4_dr1):
    ds = read(fgl4_dr1)
    assert ds.sizes == {"source": 5, "energy": 7}
    models = ds.sed.reference_model
    m = models[NAMES_4FGL[2]]
    assert m.type == "SuperExpCutoffPowerLaw4FGL" and m.expfactor == f32(PLEC_DR1[2][2])
    amp, g, a, b = (f32(x) for x in PLEC_DR1[2])
    e0 = f32(PIVOT[2])
    e = math.sqrt(3e4 * 3e5)
    expected = amp * (e / e0) ** -g * math.exp(a * (e0**b - e**b))  # 4FGL eq. 4, MeV
    assert float(ds.ref_dnde.isel(source=2, energy=6)) == pytest.approx(expected, rel=1e-12)
    year = read(fgl4_dr1, product="lightcurve")
    months = read(fgl4_dr1, product="lightcurve", interval="2-month")
    assert year.sizes["time"] == 8 and months.sizes["time"] == 48
    with fits.open(fgl4_dr1) as hdul:
        np.testing.assert_array_equal(months.time_min.values, hdul["Hist2_Start"].data["Hist2_Start"][:-1])


def test_4fgl_equals_gammapy(fgl4, fgl4_dr1):
    pytest.importorskip("gammapy")
    from gammapy.catalog import SourceCatalog4FGL

    for path in (fgl4, fgl4_dr1):
        ds = read(path)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            cat = SourceCatalog4FGL(path)
            for i in range(5):
                _compare_flux_points(ds, i, cat[i].flux_points, exact_reference=TYPES_4FGL[i] == "PowerLaw")


# ---- 2FHL (built in the FSSC layout) -------------------------------------------------------------------
def test_2fhl_by_hand(fhl2):
    ds = read(fhl2)
    assert ds.sizes == {"source": 5, "energy": 3} and ds.attrs["catalog"] == "2FHL"
    np.testing.assert_array_equal(ds.energy_min.values, [50, 171, 585])
    assert ds.energy_min.attrs["units"] == "GeV" and "sqrt_ts" in ds and "nufnu" not in ds
    with fits.open(fhl2) as hdul:
        d = hdul[1].data
        f = d["Flux171_585GeV"].astype(float)
        f50, g = float(d["Flux50"][0]), float(d["Spectral_Index"][0])
        unc = d["Unc_Flux585_2000GeV"].astype(float)
        f_last = d["Flux585_2000GeV"].astype(float)
    # PowerLaw2 of index 3 normalised to Flux50 over 50 GeV - 2 TeV: F * (171^-2 - 585^-2) / (50^-2 - 2000^-2)
    ref = f50 * (171.0**-2 - 585.0**-2) / (50.0**-2 - 2000.0**-2)
    assert g == 3.0
    assert float(ds.ref_flux.isel(source=0, energy=1)) == pytest.approx(ref, rel=1e-13)
    assert float(ds.norm.isel(source=0, energy=1)) == pytest.approx(f[0] / ref, rel=1e-13)
    np.testing.assert_array_equal(ds.is_ul.isel(energy=2), [True, False, False, True, False])
    np.testing.assert_allclose(
        ds.sed.flux_ul.isel(energy=2).values[[0, 3]], (f_last + 2 * unc[:, 1])[[0, 3]], rtol=1e-14
    )
    models = ds.sed.reference_model
    assert models[NAMES_2FHL[4]].type == "PowerLaw2" and models[NAMES_2FHL[4]].index == 1.0
    assert sum(
        models[NAMES_2FHL[0]].flux(ds.energy_min.values * u.GeV, ds.energy_max.values * u.GeV).value
    ) == pytest.approx(f50, rel=1e-13)
    assert str(ds.assoc.sel(source=NAMES_2FHL[2]).values) == "Crab"
    with pytest.raises(FormatError, match="Flux_History"):
        read(fhl2, product="lightcurve")


def test_2fhl_equals_gammapy(fhl2):
    pytest.importorskip("gammapy")
    from gammapy.catalog import SourceCatalog2FHL

    ds = read(fhl2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = SourceCatalog2FHL(fhl2)
        for i in range(4):
            _compare_flux_points(ds, i, cat[i].flux_points, exact_reference=True)
        # index 1: gammapy's PowerLaw2 is 0/0 there (NaN everywhere); fluxds's closed form is exact
        assert np.isnan(cat[4].flux_points.flux.data).all()
    assert np.isfinite(ds.sed.flux.isel(source=4)).all() and np.isfinite(ds.sed.dnde.isel(source=4)).all()


# ---- against gammapy's catalog classes --------------------------------------------------------------------
QUANTITIES = ["flux", "flux_errn", "flux_errp", "flux_ul", "dnde", "dnde_errn", "dnde_errp", "dnde_ul"]
QUANTITIES += ["e2dnde", "e2dnde_errn", "e2dnde_errp", "e2dnde_ul"]


def _compare_flux_points(ds, i, fp, *, exact_reference: bool):
    """fluxds's numbers of source ``i`` against gammapy's FluxPoints, to 1e-6 relative (gammapy adds the
    2 sigma to the flux in float32: 6e-8). Where gammapy integrates the reference model numerically (curved
    spectra, ``exact_reference=False``), its reference flux is off by up to ~1e-3 (fluxds's is exact, see
    test_curved_reference_fluxes_against_quad): the comparison then takes gammapy's reference flux."""
    src = ds.isel(source=i)
    ratio = np.ones(ds.sizes["energy"])
    if not exact_reference:
        ratio = np.asarray(fp.flux_ref.to_value("cm-2 s-1")).reshape(-1) / src.ref_flux.values
    for q in QUANTITIES:
        expected = getattr(fp, q).quantity
        got = ds.sed.get(q, expected.unit).isel(source=i).values
        if not q.startswith("flux"):
            got = got / ratio  # gammapy's: flux / (its ref_flux) x ref_dnde
        expected = np.asarray(expected.value, dtype=float).reshape(-1)
        # 3FGL's -inf errors (not computed): gammapy keeps -inf, fluxds NaN
        expected[np.isinf(expected)] = np.nan
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected), err_msg=f"{src.source.values} {q}")
        np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{src.source.values} {q}")
    np.testing.assert_array_equal(src.is_ul.values, np.asarray(fp.is_ul.data).reshape(-1))
    if "sqrt_ts" in fp.available_quantities:  # gammapy leaves out 2FHL's Sqrt_TS columns
        # a null Sqrt_TS (3FGL's fixed Crab and extended components): gammapy 0, fluxds NaN as published
        expected = np.asarray(fp.sqrt_ts.data).reshape(-1)
        np.testing.assert_array_equal(
            np.where(np.isnan(src.sqrt_ts.values), 0.0, src.sqrt_ts.values), expected
        )


def _sample(ds):
    if ALL:
        return range(ds.sizes["source"])
    kinds = ds.spectrum_type.values
    curved = np.flatnonzero(kinds != "PowerLaw")
    power = np.flatnonzero(kinds == "PowerLaw")
    first = [np.flatnonzero(kinds == k)[0] for k in np.unique(kinds)]  # every spectral type
    picks = np.concatenate([first, curved[:: max(1, curved.size // 25)], power[:: max(1, power.size // 25)]])
    return np.unique(picks)


@need_samples
@pytest.mark.parametrize("which", ["3FGL", "3FHL"])
def test_sed_equals_gammapy(which):
    pytest.importorskip("gammapy")
    from gammapy.catalog import SourceCatalog3FGL, SourceCatalog3FHL
    from gammapy.estimators import FluxPoints

    path, cls = (FGL3, SourceCatalog3FGL) if which == "3FGL" else (FHL3, SourceCatalog3FHL)
    ds = read(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = cls(path)
        for i in _sample(ds):
            s = cat[int(i)]
            # gammapy's .flux_points needs the spatial model, whose extended templates are not here: the
            # same numbers come from its table and spectral model, as .flux_points builds them
            fp = FluxPoints.from_table(
                s.flux_points_table, reference_model=s.spectral_model(), format="gadf-sed"
            )
            _compare_flux_points(ds, int(i), fp, exact_reference=ds.spectrum_type.values[i] == "PowerLaw")


@need_samples
def test_light_curve_equals_gammapy():
    pytest.importorskip("gammapy")
    from gammapy.catalog import SourceCatalog3FGL

    ds = read(FGL3, product="lightcurve")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cat = SourceCatalog3FGL(FGL3)
        picks = range(ds.sizes["source"]) if ALL else range(0, ds.sizes["source"], 300)
        for i in picks:
            s = cat[i]
            if not s.is_pointlike:
                continue  # gammapy's lightcurve() needs the spatial templates of extended sources
            lc = s.lightcurve()
            for q in ("flux", "flux_errp", "flux_errn", "flux_ul"):
                expected = getattr(lc, q).quantity.to_value("cm-2 s-1").reshape(-1)
                expected[np.isinf(expected)] = np.nan
                got = ds.sed.get(q, "cm-2 s-1").isel(source=i).values.reshape(-1)
                np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
                np.testing.assert_allclose(got, expected, rtol=1e-6, err_msg=f"{s.name} {q}")
            np.testing.assert_allclose(
                lc.geom.axes["time"].time_min.tt.mjd, _mjd(ds, "time_min"), rtol=0, atol=1e-9
            )


def _mjd(ds, name):
    a = ds[name].attrs
    return a["mjdrefi"] + a["mjdreff"] + ds[name].values / 86400.0


# ---- refusals ----------------------------------------------------------------------------------------------
def _without(src, dst, *, column=None, hdu=None):
    with fits.open(src) as hdul:
        hdus = [h for h in hdul if hdu is None or h.name.upper() != hdu.upper()]
        if column is not None:
            table = hdus[1]
            cols = [c for c in table.columns if c.name != column]
            hdus[1] = fits.BinTableHDU.from_columns(cols, header=table.header, name=table.name)
        fits.HDUList(hdus).writeto(dst, overwrite=True)
    return dst


@pytest.mark.parametrize(
    ("column", "hdu", "product", "named"),
    [
        ("Unc_Flux_Band", None, "sed", "Unc_Flux_Band"),
        ("Pivot_Energy", None, "sed", "Pivot_Energy"),
        ("PLEC_ExpfactorS", None, "sed", "PLEC_Expfactor"),
        ("Source_Name", None, "sed", "Source_Name"),
        ("Unc_Flux_History", None, "lightcurve", "Unc_Flux_History"),
        (None, "EnergyBounds", "sed", "EnergyBounds"),
        (None, "Hist_Start", "lightcurve", "Hist_Start"),
    ],
)
def test_damaged_catalog_is_refused(fgl4, tmp_path, column, hdu, product, named):
    path = _without(fgl4, tmp_path / "damaged.fit", column=column, hdu=hdu)
    with pytest.raises(FormatError) as info:
        fluxds.read(path, product=product)
    message = str(info.value)
    assert str(path) in message and named in message


def test_bad_options_are_refused(fgl4):
    with pytest.raises(FormatError, match="product="):
        fluxds.read(fgl4, product="map")
    with pytest.raises(FormatError, match="interval="):
        fluxds.read(fgl4, product="lightcurve", interval="weekly")
    with pytest.raises(FormatError, match="Flux2_History"):
        fluxds.read(fgl4, product="lightcurve", interval="2-month")  # DR3 has no 2-month histories
    with pytest.raises(FormatError, match="365.2 days wide"):
        fluxds.read(fgl4, product="lightcurve", interval="1-month")  # 4FGL's histories are yearly
    assert fluxds.read(fgl4, product="lightcurve", interval="1-year").sizes["time"] == 12
    with pytest.raises(FormatError, match="no table HDU named"):
        fluxds.read(fgl4, hdu="NOPE")


def test_unknown_spectrum_type_is_refused(fgl4, tmp_path):
    with fits.open(fgl4) as hdul:
        hdul[1].data["SpectrumType"][1] = "BrokenPowerLaw"
        hdul.writeto(tmp_path / "bpl.fit")
    with pytest.raises(FormatError, match="BrokenPowerLaw.*4FGL J0002.0-0202"):
        fluxds.read(tmp_path / "bpl.fit")


def test_catalog_is_not_written(fgl4, tmp_path):
    ds = read(fgl4)
    with pytest.raises(UnknownFormatError, match="does not write"):
        fluxds.write(ds, tmp_path / "out.fits", format="fermi-catalog")
    ds.sed.write(tmp_path / "out.nc")  # the Dataset itself writes as any other
    back = fluxds.read(tmp_path / "out.nc")
    np.testing.assert_allclose(back.norm, ds.norm)
    assert back.attrs["reference_model"] == ds.attrs["reference_model"]
