"""The Fermi-LAT catalogs' spectral models between fluxds and gammapy (``fluxds.interop._models``):
``ExpCutoffPowerLaw3FGL``, ``SuperExpCutoffPowerLaw3FGL``, ``SuperExpCutoffPowerLaw4FGL``,
``SuperExpCutoffPowerLaw4FGLDR3`` and ``PowerLaw2`` cross to gammapy's classes of the same names and back
exactly (parameter by parameter, the same values and units), with the same dN/dE (1e-12 relative), through
``to_gammapy``/``from_gammapy`` too: none of them falls back to a template any more."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from helpers import SHARED

import fluxds
from fluxds import models as fmodels

pytest.importorskip("gammapy")

from astropy.table import Table  # noqa: E402
from gammapy.estimators import FluxPoints  # noqa: E402
from gammapy.modeling import models as gmodels  # noqa: E402
from gammapy.modeling.models import SkyModel  # noqa: E402

from fluxds.interop._models import StoredReferenceSpectralModel, fluxds_model, gammapy_model  # noqa: E402

FGL3 = SHARED / "catalogs" / "gll_psc_v16.fit.gz"
DNDE = u.Unit("cm-2 s-1 MeV-1")

# (gammapy class, fluxds class, parameters as the catalogs give them: MeV, cm-2 s-1 MeV-1)
CASES = {
    "ExpCutoffPowerLaw3FGL": (
        gmodels.ExpCutoffPowerLaw3FGLSpectralModel,
        fmodels.ExpCutoffPowerLaw3FGL,
        dict(index=1.2835884094238281, amplitude=1.9786106780772528e-11 * DNDE,
             reference=760.3223266601562 * u.MeV, ecut=2079.845947265625 * u.MeV),
    ),
    "SuperExpCutoffPowerLaw3FGL": (
        gmodels.SuperExpCutoffPowerLaw3FGLSpectralModel,
        fmodels.SuperExpCutoffPowerLaw3FGL,
        dict(amplitude=7.555461117858542e-11 * DNDE, reference=913.70947265625 * u.MeV,
             ecut=1732.8778076171875 * u.MeV, index_1=1.2080625295639038, index_2=0.6370570063591003),
    ),
    "SuperExpCutoffPowerLaw4FGL": (
        gmodels.SuperExpCutoffPowerLaw4FGLSpectralModel,
        fmodels.SuperExpCutoffPowerLaw4FGL,
        dict(amplitude=3.1e-11 * DNDE, reference=1.5 * u.GeV, expfactor=0.0123, index_1=1.7,
             index_2=0.6667),
    ),
    "SuperExpCutoffPowerLaw4FGLDR3": (
        gmodels.SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
        fmodels.SuperExpCutoffPowerLaw4FGLDR3,
        dict(amplitude=4.2e-11 * DNDE, reference=1500.0 * u.MeV, expfactor=0.31, index_1=2.05,
             index_2=0.6667),
    ),
    "PowerLaw2": (
        gmodels.PowerLaw2SpectralModel,
        fmodels.PowerLaw2,
        dict(amplitude=3.3e-11 * u.Unit("cm-2 s-1"), index=2.8, emin=50 * u.GeV, emax=2000 * u.GeV),
    ),
}  # fmt: skip
# below the pivot, at it, above it and beyond every cutoff; none where gammapy's PLSuperExpCutoff4 takes its
# truncated series (|index_2 ln(E/reference)| < 0.01) except the pivot itself, where both are exact
ENERGIES = u.Quantity([30.0, 100.0, 433.0, 1500.0, 5000.0, 2.2e4, 1e5, 3e5, 2e6], u.MeV)


def _assert_same_parameters(fluxds_model_, gammapy_model_):
    """Every parameter of the two models: the same names, the same value and the same unit, exactly."""
    ours = fluxds_model_.parameters
    theirs = {p.name: p.quantity for p in gammapy_model_.parameters}
    assert list(ours) == list(theirs)
    for name, q in ours.items():
        q = u.Quantity(q)
        assert q.unit == theirs[name].unit, name
        assert q.value == theirs[name].value, name  # bit for bit, no unit conversion on the way


@pytest.mark.parametrize("name", list(CASES))
def test_gammapy_to_fluxds_and_back(name):
    gp_cls, fx_cls, params = CASES[name]
    gp = gp_cls(**params)
    ours = fluxds_model(gp)
    assert type(ours) is fx_cls  # not a template, not None
    assert ours.gammapy_type == gp_cls.__name__ == gp.tag[0]
    _assert_same_parameters(ours, gp)
    back = gammapy_model(ours)
    assert type(back) is gp_cls
    _assert_same_parameters(ours, back)
    for p, q in zip(gp.parameters, back.parameters, strict=True):
        assert (p.name, p.value, p.unit) == (q.name, q.value, q.unit)


@pytest.mark.parametrize("name", list(CASES))
def test_fluxds_to_gammapy_and_back(name):
    gp_cls, fx_cls, params = CASES[name]
    ours = fx_cls(**params)
    theirs = gammapy_model(ours)
    assert type(theirs) is gp_cls
    _assert_same_parameters(ours, theirs)
    again = fluxds_model(theirs)
    assert type(again) is fx_cls
    assert again.parameters.keys() == ours.parameters.keys()
    for key, q in ours.parameters.items():
        assert u.Quantity(again.parameters[key]).unit == u.Quantity(q).unit
        assert u.Quantity(again.parameters[key]).value == u.Quantity(q).value
    assert again.to_dict() == ours.to_dict()


@pytest.mark.parametrize("name", list(CASES))
def test_same_dnde(name):
    gp_cls, fx_cls, params = CASES[name]
    ours, theirs = fx_cls(**params), gp_cls(**params)
    expected = theirs(ENERGIES).to_value(DNDE)
    got = ours.dnde(ENERGIES).to_value(DNDE)
    assert np.all(np.isfinite(got)) and np.count_nonzero(got) >= 8  # 3FGL's 2 GeV cutoff: 0 at 2 TeV
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # and in another energy unit (4FGL's expfactor is in MeV**-index_2 whatever the unit of reference)
    np.testing.assert_allclose(ours.dnde(ENERGIES.to(u.TeV)).to_value(DNDE), expected, rtol=1e-12, atol=0)


def test_powerlaw2_integral_is_gammapys():
    gp_cls, fx_cls, params = CASES["PowerLaw2"]
    ours, theirs = fx_cls(**params), gp_cls(**params)
    lo, hi = u.Quantity([50.0, 171.0, 585.0], u.GeV), u.Quantity([171.0, 585.0, 2000.0], u.GeV)
    np.testing.assert_allclose(
        ours.flux(lo, hi).to_value("cm-2 s-1"), theirs.integral(lo, hi).to_value("cm-2 s-1"), rtol=1e-12
    )
    assert np.isclose(ours.flux(50 * u.GeV, 2 * u.TeV).to_value("cm-2 s-1"), 3.3e-11, rtol=1e-14)


def test_powerlaw2_range_in_two_units():
    """fluxds's PowerLaw2 holds ``emax`` in the unit of ``emin``: the same quantity, not the same unit."""
    gp = gmodels.PowerLaw2SpectralModel(amplitude="3e-11 cm-2 s-1", index=2.2, emin="50 GeV", emax="2 TeV")
    ours = fluxds_model(gp)
    assert type(ours) is fmodels.PowerLaw2
    assert ours.parameters["emax"].to_value(u.TeV) == 2.0
    back = gammapy_model(ours)
    assert back.emax.quantity.to_value(u.TeV) == 2.0
    np.testing.assert_allclose(ours.dnde(ENERGIES).to_value(DNDE), gp(ENERGIES).to_value(DNDE), rtol=1e-12)


def test_a_bad_powerlaw2_still_falls_back():
    """gammapy lets ``emin >= emax`` through; fluxds refuses such a model: None, the stored values kept."""
    gp = gmodels.PowerLaw2SpectralModel(amplitude="1e-11 cm-2 s-1", index=2, emin="2 TeV", emax="1 TeV")
    assert fluxds_model(gp) is None


def _flux_points(reference: SkyModel) -> FluxPoints:
    """Three dnde points (50 GeV - 2 TeV) relative to ``reference``."""
    table = Table(
        {
            "e_min": [50.0, 171.0, 585.0] * u.GeV,
            "e_max": [171.0, 585.0, 2000.0] * u.GeV,
            "dnde": [2.0e-13, 6.0e-15, 1.5e-16] * u.Unit("cm-2 s-1 GeV-1"),
            "dnde_err": [4.0e-14, 1.5e-15, 6.0e-17] * u.Unit("cm-2 s-1 GeV-1"),
        },
        meta={"SED_TYPE": "dnde"},
    )
    return FluxPoints.from_table(table, sed_type="dnde", reference_model=reference)


@pytest.mark.parametrize("name", list(CASES))
def test_from_gammapy_keeps_the_model(name):
    gp_cls, fx_cls, params = CASES[name]
    fp = _flux_points(SkyModel(spectral_model=gp_cls(**params), name="src"))
    ds = fluxds.from_gammapy(fp)
    model = ds.sed.reference_model
    assert type(model) is fx_cls, type(model)  # not a Template of the stored ref_dnde
    _assert_same_parameters(model, fp.reference_model.spectral_model)
    np.testing.assert_allclose(
        ds.sed.get("dnde", "cm-2 s-1 GeV-1").values, fp.dnde.quantity.to_value("cm-2 s-1 GeV-1").ravel(),
        rtol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_to_gammapy_gives_gammapys_class(name):
    gp_cls, fx_cls, params = CASES[name]
    model = fx_cls(**params)
    lo = u.Quantity([50.0, 171.0, 585.0], u.GeV)
    hi = u.Quantity([171.0, 585.0, 2000.0], u.GeV)
    ds = fluxds.from_sed(
        "dnde",
        {"dnde": model.dnde(np.sqrt(lo * hi)) * 1.1, "dnde_err": model.dnde(np.sqrt(lo * hi)) * 0.2},
        energy_min=lo,
        energy_max=hi,
        reference_model=model,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gammapy's own integration of a curved model
        fp = fluxds.to_gammapy(ds)
    spectral = fp.reference_model.spectral_model
    if isinstance(spectral, StoredReferenceSpectralModel):  # gammapy's integral differs: stored ref_* kept
        spectral = spectral.model
    assert type(spectral) is gp_cls
    _assert_same_parameters(model, spectral)
    np.testing.assert_allclose(
        fp.dnde.quantity.to_value("cm-2 s-1 GeV-1").ravel(), ds.sed.get("dnde", "cm-2 s-1 GeV-1").values,
        rtol=1e-12,
    )  # fmt: skip


@pytest.mark.skipif(not FGL3.exists(), reason="../shared/data/catalogs not present")
@pytest.mark.parametrize(
    "source",
    ["3FGL J0030.4+0451", "3FGL J0835.3-4510"],  # a PLExpCutoff and a PLSuperExpCutoff pulsar
)
def test_gammapy_catalog_source_keeps_its_model(source):
    """A source of gammapy's ``SourceCatalog3FGL`` through ``from_gammapy`` keeps its cutoff model, with
    the parameters of fluxds's own reading of the catalog."""
    from gammapy.catalog import SourceCatalog3FGL

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src = SourceCatalog3FGL(FGL3)[source]
        fp = FluxPoints.from_table(src.flux_points_table, reference_model=src.sky_model(), format="gadf-sed")
        ds = fluxds.from_gammapy(fp)
    model = ds.sed.reference_model
    expected = fluxds.read(FGL3).sed.select(source=[source]).sed.reference_model[source]
    assert type(model) is type(expected)
    assert model.type in ("ExpCutoffPowerLaw3FGL", "SuperExpCutoffPowerLaw3FGL")
    _assert_same_parameters(model, src.spectral_model())
    for key, q in expected.parameters.items():  # the same numbers as fluxds's reader (float32 columns)
        assert u.Quantity(model.parameters[key]).to_value(u.Quantity(q).unit) == pytest.approx(
            u.Quantity(q).value, rel=1e-15
        )
