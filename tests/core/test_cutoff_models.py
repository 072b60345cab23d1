"""The Fermi-LAT catalog shapes (fluxds.models.cutoff, PowerLaw2) and the array evaluation behind the
catalog readers (fluxds.models.batch): formulas written out here, integrals against scipy quad in ln E,
the b -> 0 limit of 4FGL-DR3's PLSuperExpCutoff4, JSON, gammapy's twins."""

from __future__ import annotations

import json
import math

import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import quad

from fluxds.errors import ModelError
from fluxds.models import (
    ExpCutoffPowerLaw3FGL,
    LogParabola,
    PowerLaw,
    PowerLaw2,
    SuperExpCutoffPowerLaw3FGL,
    SuperExpCutoffPowerLaw4FGL,
    SuperExpCutoffPowerLaw4FGLDR3,
    batch,
    model_from_dict,
    model_from_json,
    model_to_json,
)

DNDE = u.Unit("cm-2 s-1 MeV-1")
MEV_TO_ERG = (1 * u.MeV).to_value(u.erg)
RTOL = 1e-9  # the contract; the quadrature reaches ~1e-13
# bins in MeV: the 3FGL and 4FGL bands, a wide one, narrow ones and tails far above the cutoffs
BINS = [
    (50.0, 100.0), (100.0, 300.0), (300.0, 1e3), (1e3, 3e3), (3e3, 1e4), (1e4, 3e4), (3e4, 1e5),
    (1e5, 1e6), (100.0, 1e5), (1000.0, 1000.001), (2.0e4, 2.0e4 * (1 + 1e-7)), (1e4, 1e5),
]  # fmt: skip
LO = np.array([b[0] for b in BINS])
HI = np.array([b[1] for b in BINS])


# ---- the formulas, written out independently of fluxds ---------------------------------------------------
def ecpl3fgl(e, index, k, e0, ecut):
    return k * (e / e0) ** -index * math.exp((e0 - e) / ecut)


def secpl3fgl(e, k, e0, ecut, g, b):
    return k * (e / e0) ** -g * math.exp((e0 / ecut) ** b - (e / ecut) ** b)


def secpl4fgl_dr1(e_mev, k, e0_mev, a, g, b):  # 4FGL eq. 4: energies in MeV
    return k * (e_mev / e0_mev) ** -g * math.exp(a * (e0_mev**b - e_mev**b))


def secpl4fgl_dr3(e, k, e0, d, g, b):  # 4FGL-DR3 eq. 2 and, for b = 0, eq. 3
    x = e / e0
    if b == 0:
        return k * x ** (-g - d / 2 * math.log(x))
    return k * x ** (d / b - g) * math.exp(d / b**2 * (1 - x**b))


def quad_ln(f, lo, hi, moment):
    """∫ f(E) E^moment dE by quad in ln E (quad in E misses the tails of a cutoff)."""
    value, _ = quad(
        lambda t: f(math.exp(t)) * math.exp(t) ** (1 + moment),
        math.log(lo), math.log(hi), epsabs=0, epsrel=1e-13, limit=400,
    )  # fmt: skip
    return value


CASES = [
    (
        ExpCutoffPowerLaw3FGL(index=1.4, amplitude=2e-11 * DNDE, reference=1500 * u.MeV, ecut=3000 * u.MeV),
        lambda e: ecpl3fgl(e, 1.4, 2e-11, 1500.0, 3000.0),
    ),
    (
        ExpCutoffPowerLaw3FGL(index=2.0, amplitude=1e-12 * DNDE, reference=700 * u.MeV, ecut=50000 * u.MeV),
        lambda e: ecpl3fgl(e, 2.0, 1e-12, 700.0, 50000.0),
    ),
    (
        SuperExpCutoffPowerLaw3FGL(
            amplitude=2e-11 * DNDE, reference=1500 * u.MeV, ecut=3000 * u.MeV, index_1=1.3, index_2=0.6
        ),
        lambda e: secpl3fgl(e, 2e-11, 1500.0, 3000.0, 1.3, 0.6),
    ),
    (
        SuperExpCutoffPowerLaw3FGL(
            amplitude=5e-10 * DNDE, reference=900 * u.MeV, ecut=1200 * u.MeV, index_1=0.9, index_2=2.0
        ),
        lambda e: secpl3fgl(e, 5e-10, 900.0, 1200.0, 0.9, 2.0),
    ),
    (
        SuperExpCutoffPowerLaw4FGL(
            amplitude=2e-11 * DNDE, reference=1500 * u.MeV, expfactor=0.012, index_1=1.3, index_2=2 / 3
        ),
        lambda e: secpl4fgl_dr1(e, 2e-11, 1500.0, 0.012, 1.3, 2 / 3),
    ),
    (
        SuperExpCutoffPowerLaw4FGLDR3(
            amplitude=2e-11 * DNDE, reference=1500 * u.MeV, expfactor=0.6, index_1=2.1, index_2=2 / 3
        ),
        lambda e: secpl4fgl_dr3(e, 2e-11, 1500.0, 0.6, 2.1, 2 / 3),
    ),
    (
        SuperExpCutoffPowerLaw4FGLDR3(
            amplitude=3e-12 * DNDE, reference=2500 * u.MeV, expfactor=0.3, index_1=1.8, index_2=0.0
        ),
        lambda e: secpl4fgl_dr3(e, 3e-12, 2500.0, 0.3, 1.8, 0.0),
    ),
    (
        SuperExpCutoffPowerLaw4FGLDR3(
            amplitude=3e-12 * DNDE, reference=2500 * u.MeV, expfactor=0.3, index_1=1.8, index_2=1.5
        ),
        lambda e: secpl4fgl_dr3(e, 3e-12, 2500.0, 0.3, 1.8, 1.5),
    ),
]
IDS = [f"{m.type}-{i}" for i, (m, _) in enumerate(CASES)]


@pytest.mark.parametrize(("model", "formula"), CASES, ids=IDS)
def test_dnde_is_the_published_formula(model, formula):
    energy = np.geomspace(30.0, 1e6, 41)
    expected = np.array([formula(e) for e in energy])
    got = model.dnde(energy * u.MeV).to_value(DNDE)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # amplitude is dN/dE at the pivot (every 3FGL/4FGL form is normalised there)
    assert model.dnde(model.reference).to_value(DNDE) == pytest.approx(
        model.amplitude.to_value(DNDE), rel=1e-15
    )


@pytest.mark.parametrize(("model", "formula"), CASES, ids=IDS)
def test_integrals_against_quad(model, formula):
    flux = model.flux(LO * u.MeV, HI * u.MeV).to_value("cm-2 s-1")
    eflux = model.eflux(LO * u.MeV, HI * u.MeV).to_value("erg cm-2 s-1")
    for i, (lo, hi) in enumerate(BINS):
        expected = quad_ln(formula, lo, hi, 0)
        assert flux[i] == pytest.approx(expected, rel=RTOL), (lo, hi)
        assert eflux[i] == pytest.approx(quad_ln(formula, lo, hi, 1) * MEV_TO_ERG, rel=RTOL), (lo, hi)


@pytest.mark.parametrize(("model", "formula"), CASES, ids=IDS)
def test_energy_unit_of_the_edges_does_not_matter(model, formula):
    lo, hi = LO[:9], HI[:9]  # the narrow bins' widths change in the unit conversion itself
    mev = model.flux(lo * u.MeV, hi * u.MeV)
    gev = model.flux((lo / 1000) * u.GeV, (hi / 1000) * u.GeV)
    np.testing.assert_allclose(gev.to_value("cm-2 s-1"), mev.to_value("cm-2 s-1"), rtol=1e-11)


def test_dr1_expfactor_is_per_mev_whatever_the_reference_unit():
    """PLEC_Expfactor is in MeV^-b: a model with its pivot in GeV is the same spectrum."""
    mev = SuperExpCutoffPowerLaw4FGL(
        amplitude=2e-11 * DNDE, reference=1500 * u.MeV, expfactor=0.012, index_1=1.3, index_2=2 / 3
    )
    gev = SuperExpCutoffPowerLaw4FGL(
        amplitude=2e-8 * u.Unit("cm-2 s-1 GeV-1"), reference=1.5 * u.GeV, expfactor=0.012, index_1=1.3,
        index_2=2 / 3,
    )  # fmt: skip
    energy = np.geomspace(50, 1e6, 17) * u.MeV
    np.testing.assert_allclose(gev.dnde(energy).to_value(DNDE), mev.dnde(energy).to_value(DNDE), rtol=1e-12)
    np.testing.assert_allclose(
        gev.eflux(LO * u.MeV, HI * u.MeV).value, mev.eflux(LO * u.MeV, HI * u.MeV).value, rtol=1e-11
    )


@pytest.mark.parametrize("b", [0.0, 1e-300, 1e-12, 1e-8, 1e-5, 1e-3, 0.01, 0.05, 0.2, 2 / 3, -0.5])
def test_dr3_small_b_has_no_cancellation(b):
    """(E/E0)^(d/b) exp(d/b^2 (1 - (E/E0)^b)) written without 0/0: continuous into the log-parabola at b = 0,
    against the same expression in 50-digit arithmetic (mpmath-free: Python's decimal)."""
    from decimal import Decimal, getcontext

    getcontext().prec = 50
    d, g = 0.45, 1.9
    model = SuperExpCutoffPowerLaw4FGLDR3(
        amplitude=1e-12 * DNDE, reference=1000 * u.MeV, expfactor=d, index_1=g, index_2=b
    )
    for e in (60.0, 400.0, 999.9999, 1000.0, 3000.0, 5e4, 8e5):
        L = Decimal(e / 1000.0).ln()
        bd, dd = Decimal(b), Decimal(d)
        if b == 0 or abs(b) < 1e-200:
            exponent = -Decimal(g) * L - dd * L * L / 2
        else:
            exponent = (dd / bd - Decimal(g)) * L + dd / (bd * bd) * (1 - (bd * L).exp())
        expected = float(Decimal("1e-12") * exponent.exp())
        assert model.dnde(e * u.MeV).to_value(DNDE) == pytest.approx(expected, rel=1e-13), (b, e)


def test_dr3_at_b_zero_is_a_log_parabola():
    d = 0.6
    dr3 = SuperExpCutoffPowerLaw4FGLDR3(
        amplitude=2e-11 * DNDE, reference=1500 * u.MeV, expfactor=d, index_1=2.1, index_2=0.0
    )
    lp = LogParabola(amplitude=2e-11 * DNDE, reference=1500 * u.MeV, alpha=2.1, beta=d / 2)
    np.testing.assert_allclose(
        dr3.flux(LO * u.MeV, HI * u.MeV).value, lp.flux(LO * u.MeV, HI * u.MeV).value, rtol=1e-10
    )


def test_exprel2():
    y = np.array(
        [-50.0, -1.0, -0.1000001, -0.0999999, -1e-8, 0.0, 1e-8, 0.05, 0.0999999, 0.1000001, 1.0, 30.0]
    )
    from decimal import Decimal, getcontext

    getcontext().prec = 60
    expected = []
    for v in y:
        if v == 0:
            expected.append(0.5)
            continue
        dv = Decimal(float(v))
        expected.append(float((dv.exp() - 1 - dv) / (dv * dv)))
    np.testing.assert_allclose(batch.exprel2(y), expected, rtol=5e-15)


def test_powerlaw2():
    m = PowerLaw2(amplitude=3e-11 * u.Unit("cm-2 s-1"), index=2.7, emin=50 * u.GeV, emax=2 * u.TeV)
    assert m.flux(50 * u.GeV, 2 * u.TeV).to_value("cm-2 s-1") == pytest.approx(3e-11, rel=1e-14)
    k = 3e-11 * (1 - 2.7) / (2000.0 ** (1 - 2.7) - 50.0 ** (1 - 2.7))  # GeV-1 cm-2 s-1
    assert m.dnde(100 * u.GeV).to_value("cm-2 s-1 GeV-1") == pytest.approx(k * 100.0**-2.7, rel=1e-13)
    edges = np.geomspace(50, 2000, 6)
    f = m.flux(edges[:-1] * u.GeV, edges[1:] * u.GeV).to_value("cm-2 s-1")
    assert f.sum() == pytest.approx(3e-11, rel=1e-13)
    # eflux: closed form, in MeV bins too
    ef = m.eflux(50_000 * u.MeV, 2e6 * u.MeV).to_value("GeV cm-2 s-1")
    expected = k * (2000.0 ** (2 - 2.7) - 50.0 ** (2 - 2.7)) / (2 - 2.7)
    assert ef == pytest.approx(expected, rel=1e-12)
    # index 1 (the logarithm) is exact
    one = PowerLaw2(amplitude=1e-10 * u.Unit("cm-2 s-1"), index=1.0, emin=1 * u.GeV, emax=100 * u.GeV)
    assert one.flux(1 * u.GeV, 10 * u.GeV).to_value("cm-2 s-1") == pytest.approx(0.5e-10, rel=1e-14)
    with pytest.raises(ModelError, match="integral flux"):
        PowerLaw2(amplitude=1e-10 * DNDE, index=2.0, emin=1 * u.GeV, emax=100 * u.GeV)
    with pytest.raises(ModelError, match="emin < emax"):
        PowerLaw2(amplitude=1e-10 * u.Unit("cm-2 s-1"), index=2.0, emin=100 * u.GeV, emax=1 * u.GeV)


@pytest.mark.parametrize(
    "model",
    [m for m, _ in CASES]
    + [PowerLaw2(amplitude=3e-11 * u.Unit("cm-2 s-1"), index=2.7, emin=50 * u.GeV, emax=2 * u.TeV)],
    ids=IDS + ["PowerLaw2"],
)
def test_json_round_trip(model):
    text = model_to_json(model)
    back = model_from_json(text)
    assert back == model
    assert json.loads(model_to_json(back)) == json.loads(text)
    gammapy_dict = {
        "type": model.gammapy_type,
        "parameters": [
            {"name": k, "value": float(v.value), "unit": v.unit.to_string()}
            for k, v in model.parameters.items()
        ],
    }
    assert model_from_dict(gammapy_dict) == model


@pytest.mark.parametrize(
    "model",
    [m for m, _ in CASES]
    + [PowerLaw2(amplitude=3e-11 * u.Unit("cm-2 s-1"), index=2.7, emin=50 * u.GeV, emax=2 * u.TeV)],
    ids=IDS + ["PowerLaw2"],
)
def test_same_as_gammapys_twin(model):
    pytest.importorskip("gammapy")
    from gammapy.modeling.models import SPECTRAL_MODEL_REGISTRY

    twin = SPECTRAL_MODEL_REGISTRY.get_cls(model.gammapy_type)(**model.parameters)
    energy = np.geomspace(60, 9e5, 23) * u.MeV
    # gammapy's DR3 model uses a 3-term series where |b ln(E/E0)| < 0.01 (error < 1e-8 here)
    with np.errstate(all="ignore"):  # gammapy's DR3 form divides by b = 0 before masking
        expected = twin(energy).to_value(DNDE)
    np.testing.assert_allclose(model.dnde(energy).to_value(DNDE), expected, rtol=1e-7)


def test_batch_arrays_equal_the_model_objects():
    """The catalog route (arrays of parameters, one call per type) gives what each model gives."""
    rng = np.random.default_rng(3)
    n = 7
    params = {
        "amplitude": rng.uniform(1e-12, 1e-10, n),
        "reference": rng.uniform(500, 3000, n),
        "expfactor": rng.uniform(0.0, 1.0, n),
        "index_1": rng.uniform(1.0, 2.5, n),
        "index_2": np.array([0.0, 1e-9, 0.3, 2 / 3, 1.0, 0.5, 2 / 3]),
    }
    lo, hi = LO[None, :], HI[None, :]
    arrays = {k: v[:, None] for k, v in params.items()}
    flux = batch.integral("SuperExpCutoffPowerLaw4FGLDR3", lo, hi, arrays, 0)
    dnde = batch.dnde("SuperExpCutoffPowerLaw4FGLDR3", np.sqrt(lo * hi), arrays)
    for i in range(n):
        m = SuperExpCutoffPowerLaw4FGLDR3(
            amplitude=params["amplitude"][i] * DNDE, reference=params["reference"][i] * u.MeV,
            expfactor=params["expfactor"][i], index_1=params["index_1"][i], index_2=params["index_2"][i],
        )  # fmt: skip
        np.testing.assert_allclose(flux[i], m.flux(LO * u.MeV, HI * u.MeV).to_value("cm-2 s-1"), rtol=1e-12)
        np.testing.assert_allclose(dnde[i], m.dnde(np.sqrt(LO * HI) * u.MeV).to_value(DNDE), rtol=1e-14)
    # closed forms: PowerLaw
    pl = {
        "index": np.array([[1.0], [2.0], [2.7]]),
        "amplitude": np.ones((3, 1)),
        "reference": np.ones((3, 1)),
    }
    got = batch.integral("PowerLaw", lo, hi, pl, 1)
    for i, g in enumerate((1.0, 2.0, 2.7)):
        expected = PowerLaw(index=g, amplitude=1 * DNDE, reference=1 * u.MeV).eflux(LO * u.MeV, HI * u.MeV)
        np.testing.assert_allclose(got[i] * MEV_TO_ERG, expected.to_value("erg cm-2 s-1"), rtol=1e-13)
    # bad edges give NaN, as SpectralModel does
    assert np.isnan(
        batch.integral(
            "LogParabola",
            [0.0, -1.0],
            [1.0, 2.0],
            {"amplitude": 1, "reference": 1, "alpha": 2, "beta": 0.1},
            0,
        )
    ).all()
    with pytest.raises(ModelError, match="missing parameter"):
        batch.dnde("PowerLaw", [1.0], {"index": 2.0})
    with pytest.raises(ModelError, match="no array evaluation"):
        batch.dnde("Template", [1.0], {})
