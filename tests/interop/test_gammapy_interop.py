"""gammapy (live, not expected.json) and fluxds read each other's files and give the same numbers.

Where gammapy 2.1 cannot read what fluxds writes, or gives other numbers, the single case is marked
``xfail(strict=True)`` with the exact reason; the tests beside it pin down what gammapy does instead.
"""

from __future__ import annotations

import functools
import logging
import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.table import Table

gammapy = pytest.importorskip("gammapy")

from gammapy.estimators import FluxPoints  # noqa: E402
from gammapy.modeling.models import (  # noqa: E402
    LogParabolaSpectralModel,
    PowerLawSpectralModel,
)
from helpers import FP_FILES, GADF, GAMMAPY_DATA, WRITTEN, three_sources  # noqa: E402

import fluxds  # noqa: E402

RTOL = 1e-10
UNITS = {
    "norm": "",
    "dnde": "cm-2 s-1 TeV-1",
    "e2dnde": "erg cm-2 s-1",
    "flux": "cm-2 s-1",
    "eflux": "erg cm-2 s-1",
}
SUFFIXES = ("", "_err", "_errp", "_errn", "_ul", "_sensitivity")
SED_TYPES = ["likelihood", "dnde", "e2dnde", "flux", "eflux"]
STEM = {"likelihood": "norm", "dnde": "dnde", "e2dnde": "e2dnde", "flux": "flux", "eflux": "eflux"}
EXTS = ["fits", "ecsv"]


# --- helpers ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _quiet_gammapy(caplog):
    # gammapy logs "No reference model set for FluxMaps..." for every non-likelihood SED it reads
    caplog.set_level(logging.ERROR, logger="gammapy")
    yield


def gp_read(path, **kwargs) -> FluxPoints:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return FluxPoints.read(path, **kwargs)


def gp_values(fp: FluxPoints, name: str, unit: str | None = None) -> np.ndarray:
    """gammapy's quantity as a 1-D array (the region map's spatial axes and a 1-long dataset axis
    squeezed away), in ``unit`` (default: fluxds's default unit for the quantity's SED type)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m = getattr(fp, name)
        if unit is None:
            unit = _unit(name)
        q = m if isinstance(m, u.Quantity) else None  # the *_ref quantities are plain Quantities
        if unit is None:
            return np.asarray(m.data if q is None else q.value).squeeze()
        return np.asarray((m.quantity if q is None else q).to_value(unit)).squeeze()


def ours(ds, name: str, unit: str | None = None) -> np.ndarray:
    return np.asarray(ds.sed.get(name, unit=unit if unit is not None else _unit(name)).values).squeeze()


def _unit(name: str) -> str | None:
    stem = name[: -len("_ref")] if name.endswith("_ref") else name
    for s in SUFFIXES[1:]:
        if stem.endswith(s):
            stem = stem[: -len(s)]
            break
    return UNITS.get(stem)


def assert_close(got, want, rtol=RTOL):
    np.testing.assert_allclose(
        np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=0, equal_nan=True
    )


@functools.cache
def fluxds_read(path):
    return fluxds.read(path)


def _types(ds) -> list[str]:
    return [t for t in SED_TYPES if ds.sed.has_edges or t in ("likelihood", "dnde", "e2dnde")]


# --- 1. gammapy reads what fluxds writes ------------------------------------------------------
INPUTS = [
    GAMMAPY_DATA / "crab_hess_fp.fits",
    WRITTEN / "fp_likelihood.fits",
    WRITTEN / "fp_flux.fits",
    GADF / "flux_points.fits",
    GADF / "binlike.fits",
]

# gammapy turns a flux/eflux SED into dnde with its default reference model (power law, index 2) and
# ignores the norm/ref_dnde columns fluxds writes beside: ratio gammapy/fluxds of dnde per bin
E2_SHAPE = {
    ("crab_hess_fp.fits", "flux"): "nan, 1.065411, 1.029023, 1.029023, 1.065411",
    ("crab_hess_fp.fits", "eflux"): "nan, 1.01511, 1.006699, 1.006699, 1.01511",
    ("fp_likelihood.fits", "flux"): "0.983144, 0.992804, 1.037788, 1.234658, 2.208878, 339.675954",
    ("fp_likelihood.fits", "eflux"): "0.991368, 0.982671, 0.99167, 1.111328, 1.841689, 218.800553",
}


def _cases(check: str):
    for source in INPUTS:
        for sed_type in _types(fluxds_read(source)):
            for ext in EXTS:
                marks = []
                if check == "dnde" and (source.name, sed_type) in E2_SHAPE:
                    ratio = E2_SHAPE[(source.name, sed_type)]
                    marks = [
                        pytest.mark.xfail(
                            strict=True,
                            raises=AssertionError,
                            reason=(
                                f"gammapy 2.1 reads a {sed_type} SED's {sed_type} column, then gives dnde "
                                "through its default E^-2 power law (FluxPoints.read without "
                                "reference_model), ignoring the norm/ref_dnde columns fluxds writes "
                                f"beside; the reference model here is not E^-2: gammapy/fluxds dnde = "
                                f"[{ratio}]"
                            ),
                        )
                    ]
                yield pytest.param(source, sed_type, ext, marks=marks, id=f"{source.name}-{sed_type}-{ext}")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """``written(source, sed_type, ext)`` -> (Dataset, path of the file fluxds wrote, gammapy's
    FluxPoints of that file); each file written and read once per module (the tests only read)."""
    folder = tmp_path_factory.mktemp("written")
    cache = {}

    def get(source, sed_type, ext):
        key = (source, sed_type, ext)
        if key not in cache:
            ds = fluxds_read(source)
            path = folder / f"{source.stem}_{sed_type}.{ext}"
            ds.sed.write(path, sed_type=sed_type)
            cache[key] = (ds, path)
        ds, path = cache[key]
        return ds, path, gp_read_cached(path)

    return get


@functools.cache
def gp_read_cached(path) -> FluxPoints:
    return gp_read(path)


@pytest.mark.parametrize(("source", "sed_type", "ext"), list(_cases("dnde")))
def test_gammapy_reads_fluxds_dnde(written, source, sed_type, ext):
    ds, path, fp = written(source, sed_type, ext)
    assert fp.sed_type_init == sed_type
    assert_close(gp_values(fp, "dnde"), ds.sed.dnde.values)
    assert_close(gp_values(fp, "e2dnde"), ds.sed.e2dnde.values)


@pytest.mark.parametrize(("source", "sed_type", "ext"), list(_cases("columns")))
def test_gammapy_reads_fluxds_columns(written, source, sed_type, ext):
    """The columns of the declared SED type (gammapy reads them as they are), is_ul, ts, sqrt_ts."""
    ds, path, fp = written(source, sed_type, ext)
    stem = STEM[sed_type]
    compared = 0
    for suffix in SUFFIXES:
        if f"norm{suffix}" in ds.data_vars:
            assert_close(gp_values(fp, f"{stem}{suffix}"), ours(ds, f"{stem}{suffix}"))
            compared += 1
    assert compared >= 2  # the value and at least one of err/ul
    if sed_type == "flux":
        assert_close(gp_values(fp, "flux"), ds.sed.flux.values)  # read from the column
    if "is_ul" in ds.data_vars:  # stored, so written as a column
        assert "is_ul" in fp.available_quantities
        np.testing.assert_array_equal(gp_values(fp, "is_ul").astype(bool), ds.sed.is_ul.values.astype(bool))
    for name in ("ts", "sqrt_ts"):
        if "ts" in ds.data_vars or "sqrt_ts" in ds.data_vars:
            assert_close(gp_values(fp, name), ours(ds, name))
        else:
            with pytest.raises(AttributeError):
                gp_values(fp, name)
    if ext == "fits" and "gti_start" in ds.data_vars:
        # gammapy sees the same GTI in our file as in the original file
        gti, gti0 = fp.gti, gp_read_cached(source).gti
        assert len(gti.table) == ds.sizes["gti"]
        np.testing.assert_array_equal((gti.time_start - gti0.time_start).to_value("s"), 0.0)
        np.testing.assert_array_equal((gti.time_stop - gti0.time_stop).to_value("s"), 0.0)


@pytest.mark.parametrize(
    "source", [GAMMAPY_DATA / "crab_hess_fp.fits", WRITTEN / "fp_likelihood.fits"], ids=lambda p: p.name
)
@pytest.mark.parametrize("sed_type", ["flux", "eflux"])
def test_gammapy_dnde_from_integral_sed_is_its_e2_assumption(written, source, sed_type):
    """What gammapy does in the xfailed dnde cases: our flux/eflux column read exactly, then
    dnde = value * PL2(e_ref) / integral of PL2 (index 2 power law) over the bin."""
    ds, path, fp = written(source, sed_type, "fits")
    pl2 = PowerLawSpectralModel()  # gammapy's default: index 2, 1e-12 cm-2 s-1 TeV-1 at 1 TeV
    e_min = ds.energy_min.values * u.Unit(ds.energy_min.attrs["units"])
    e_max = ds.energy_max.values * u.Unit(ds.energy_max.attrs["units"])
    e_ref = ds.energy.values * u.Unit(ds.energy.attrs["units"])
    with warnings.catch_warnings():  # gammapy's index-2 energy flux divides 0/0, then fixes it
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = pl2.integral(e_min, e_max) if sed_type == "flux" else pl2.energy_flux(e_min, e_max)
    shape = (pl2(e_ref) / ref).to_value(f"cm-2 s-1 TeV-1 / ({UNITS[sed_type]})")
    expected = ours(ds, sed_type) * shape
    assert_close(gp_values(fp, "dnde"), expected)
    assert np.nanmax(np.abs(gp_values(fp, "dnde") / ds.sed.dnde.values - 1)) > 1e-3


def test_gammapy_flux_of_a_likelihood_file_reintegrates_a_template(written):
    """gammapy's known defect: the flux of a likelihood SED is integrated through a template of
    ref_dnde instead of norm * stored ref_flux. fluxds gives norm * ref_flux (the GADF rule)."""
    ds, path, fp = written(WRITTEN / "fp_likelihood.fits", "likelihood", "fits")
    table = Table.read(path, hdu="FLUXPOINTS")
    for stem, unit in (("flux", "cm-2 s-1"), ("eflux", "erg cm-2 s-1")):
        ref = table[f"ref_{stem}"].quantity.to_value(unit)
        for suffix in ("", "_err", "_ul"):
            mine = ours(ds, f"{stem}{suffix}")
            assert_close(mine, np.asarray(table[f"norm{suffix}"]) * ref, rtol=1e-15)
            # the ECPL reference is curved: gammapy is off by up to 71 % (last bin, 0.29 x ours)
            theirs = gp_values(fp, f"{stem}{suffix}")
            assert np.max(np.abs(theirs / mine - 1)) > 0.5
    # dnde needs no integral, and agrees
    assert_close(gp_values(fp, "dnde"), ds.sed.dnde.values)


# --- 2. fluxds reads what gammapy wrote, and gets gammapy's live numbers ----------------------
GAMMAPY_FILES = sorted(WRITTEN.glob("fp_*.fits")) + sorted(WRITTEN.glob("fp_*.ecsv"))
QUANTITIES = (
    [f"{stem}{s}" for stem in UNITS for s in SUFFIXES]
    + ["dnde_ref", "e2dnde_ref", "flux_ref", "eflux_ref"]
    + ["ts", "sqrt_ts", "is_ul", "success", "npred", "npred_excess", "counts", "stat", "stat_null"]
)
TEMPLATE_REINTEGRATED = {f"{stem}{s}" for stem in ("flux", "eflux") for s in (*SUFFIXES, "_ref")}


def test_gammapy_written_files_are_all_covered():
    names = {p.name for p in GAMMAPY_FILES}
    assert set(FP_FILES) <= names


@pytest.mark.parametrize("path", GAMMAPY_FILES, ids=lambda p: p.name)
def test_fluxds_reads_gammapy_files_as_gammapy_does(path):
    fp = gp_read_cached(path)
    ds = fluxds.read(path)
    table = Table.read(path, hdu="FLUXPOINTS") if path.suffix == ".fits" else Table.read(path)
    assert ds.sed.sed_type_init == fp.sed_type_init
    compared = 0
    for name in QUANTITIES:
        try:
            theirs = gp_values(fp, name)
        except Exception as exc:  # gammapy raises AttributeError/KeyError/ValueError ...
            with pytest.raises(fluxds.FluxdsError):
                ours(ds, name)
            assert name not in fp.available_quantities, exc
            continue
        mine = ours(ds, name)
        if path.name.startswith("fp_likelihood") and name in TEMPLATE_REINTEGRATED:
            stem, suffix = name.split("_", 1) if "_" in name else (name, "")
            ref = table[f"ref_{stem}"].quantity.to_value(UNITS[stem])
            norm = (
                np.ones(len(table))
                if suffix == "ref"
                else np.asarray(table[f"norm{'_' + suffix if suffix else ''}"])
            )
            # ours: the GADF rule with the stored column; gammapy: a template re-integrated
            assert_close(mine, norm * ref, rtol=1e-15)
            assert np.nanmax(np.abs(theirs / mine - 1)) > 1e-3
        elif name in ("is_ul", "success"):
            np.testing.assert_array_equal(mine.astype(bool), theirs.astype(bool))
        else:
            assert_close(mine, theirs)
        compared += 1
    assert compared >= 8


# --- 3. Datasets built in memory ----------------------------------------------------------------
EDGES = np.geomspace(0.3, 30.0, 7) * u.TeV
E_MIN, E_MAX = EDGES[:-1], EDGES[1:]
E_REF = np.sqrt(E_MIN * E_MAX)
DNDE = u.Unit("cm-2 s-1 TeV-1")


def _pl():
    return (
        fluxds.models.PowerLaw(index=2.3, amplitude=1e-11 * DNDE, reference=1 * u.TeV),
        PowerLawSpectralModel(index=2.3, amplitude=1e-11 * DNDE, reference=1 * u.TeV),
    )


def _lp():
    kw = dict(amplitude=3e-12 * DNDE, reference=1 * u.TeV, alpha=2.2, beta=0.15)
    return fluxds.models.LogParabola(**kw), LogParabolaSpectralModel(**kw)


def _build(kind: str):
    """(Dataset, the gammapy twin of its reference model)."""
    model, gp_model = _pl() if kind.endswith("PowerLaw") else _lp()
    if kind.startswith("likelihood"):
        ds = fluxds.from_likelihood(
            np.array([1.2, 0.9, 1.05, 0.7, 2.5, -0.3]),
            energy_min=E_MIN,
            energy_max=E_MAX,
            energy_ref=E_REF,
            reference_model=model,
            norm_err=np.array([0.1, 0.08, 0.12, 0.2, 1.1, 0.9]),
            norm_errp=np.array([0.11, 0.09, 0.13, 0.22, 1.3, 1.0]),
            norm_errn=np.array([0.09, 0.07, 0.11, 0.18, 0.9, 0.8]),
            norm_ul=np.array([1.4, 1.06, 1.3, 1.1, 4.8, 1.6]),
            ts=np.array([150.0, 130.0, 80.0, 14.0, 3.0, 0.1]),
            ul_conf=0.95,
        )
    else:  # from_sed("flux"), edges only: fluxds derives e_ref = sqrt(e_min e_max)
        flux = np.array([4e-12, 1.1e-12, 2.5e-13, 4e-14, 6e-15, 9e-16]) * u.Unit("cm-2 s-1")
        ds = fluxds.from_sed(
            "flux",
            {
                "flux": flux,
                "flux_err": 0.1 * flux,
                "flux_ul": 1.5 * flux,
                "is_ul": np.array([False, False, False, False, True, True]),
            },
            energy_min=E_MIN,
            energy_max=E_MAX,
            reference_model=model,
            ul_conf=0.95,
        )
    return ds, gp_model


def _built_cases():
    for kind in ("likelihood-PowerLaw", "likelihood-LogParabola", "flux-LogParabola"):
        for sed_type in ("likelihood", "dnde", "flux"):
            yield pytest.param(kind, sed_type, id=f"{kind}-{sed_type}")


@pytest.mark.parametrize(("kind", "sed_type"), list(_built_cases()))
def test_gammapy_reads_dataset_built_in_memory(tmp_path, kind, sed_type):
    ds, gp_model = _build(kind)
    path = tmp_path / f"built_{sed_type}.fits"
    ds.sed.write(path, sed_type=sed_type)
    if sed_type != "flux":
        fp = gp_read(path)
        assert_close(gp_values(fp, "dnde"), ds.sed.dnde.values)
        assert_close(gp_values(fp, f"{STEM[sed_type]}_ul"), ours(ds, f"{STEM[sed_type]}_ul"))
        return
    # a flux SED holds no spectral shape gammapy reads: give it the reference model, as a user would
    fp = gp_read(path, reference_model=gp_model)
    assert_close(gp_values(fp, "flux"), ds.sed.flux.values)
    assert_close(gp_values(fp, "flux_ul"), ds.sed.flux_ul.values)
    # gammapy's dnde = flux / (its integral of the model) * model(e_ref); ours uses the exact
    # integral. The PowerLaw integral is analytic in both; gammapy integrates the LogParabola
    # numerically (integrate_spectrum), 1.4e-5 low here, while fluxds's closed form agrees with
    # scipy.integrate.quad to 1e-15. So: equal at 1e-10 after gammapy's own integral, and the
    # correction is gammapy's quadrature error only (< 2e-5).
    correction = ds.sed.flux_ref.values / gp_model.integral(E_MIN, E_MAX).to_value("cm-2 s-1")
    assert_close(gp_values(fp, "dnde"), ds.sed.dnde.values * correction)
    if kind.endswith("PowerLaw"):
        assert_close(correction, 1.0, rtol=1e-14)
    else:
        assert_close(correction, 1.0, rtol=2e-5)  # gammapy's quadrature, see above
        assert np.all(np.abs(correction - 1) > 1e-6)


# --- 4. several sources in one FITS file --------------------------------------------------------
@functools.cache
def _three():
    return three_sources()


HDU_KWARG_IGNORED = (
    "gammapy 2.1 FluxPoints.read(path, hdu=...) first tries Table.read(format='ascii.ecsv', "
    "hdu=...); its FITS fallback drops **kwargs and opens HDU 'FLUXPOINTS' or '' -> KeyError "
    "\"Extension '' not found.\" (a multi-source fluxds file names each HDU by its source)"
)


@pytest.mark.parametrize(
    "table_format",
    [
        "fits",
        pytest.param(None, marks=pytest.mark.xfail(strict=True, raises=KeyError, reason=HDU_KWARG_IGNORED)),
    ],
)
def test_gammapy_reads_each_source_of_a_multi_source_file(tmp_path, table_format):
    ds = _three()
    path = tmp_path / "three.fits"
    ds.sed.write(path)
    kwargs = {} if table_format is None else {"table_format": table_format}
    dndes = []
    for name in ds.source.values:
        fp = gp_read(path, hdu=str(name).upper(), **kwargs)
        dnde = gp_values(fp, "dnde")
        assert_close(dnde, ds.sed.dnde.sel(source=name).values)
        assert_close(gp_values(fp, "norm"), ds.norm.sel(source=name).values)
        dndes.append(dnde)
    # the sources really differ (norms x1, x2, x3; indices 2.3, 3.1, 1.8)
    assert not np.allclose(dndes[0], dndes[1], rtol=0.1, atol=0, equal_nan=True)
    assert not np.allclose(dndes[1], dndes[2], rtol=0.1, atol=0, equal_nan=True)


# --- 5. UL_CONF and n_sigma_ul ------------------------------------------------------------------
@pytest.mark.parametrize("ext", EXTS)
def test_ul_conf_095(tmp_path, ext):
    ds, _ = _build("likelihood-PowerLaw")
    assert ds.sed.ul_conf == 0.95
    path = tmp_path / f"ul.{ext}"
    ds.sed.write(path)
    fp = gp_read(path)
    assert fp.meta["UL_CONF"] == 0.95
    # gammapy rounds n_sigma_ul to 0.1 (its known defect): 1.959963984540054 becomes 2.0
    assert fp.n_sigma_ul == 2.0
    # the upper limits themselves are read as stored, not recomputed
    assert_close(gp_values(fp, "norm_ul"), ds.norm_ul.values)
    back = fluxds.read(path)
    assert back.sed.ul_conf == 0.95
    np.testing.assert_allclose(back.sed.n_sigma_ul, 1.959963984540054, rtol=1e-15, atol=0)
