"""Tests of fluxds.models: exact integrals against scipy quad, gammapy cross-checks, JSON/YAML."""

from __future__ import annotations

import glob
import json
import math

import astropy.units as u
import numpy as np
import pytest
from scipy.integrate import quad

from fluxds.errors import ModelError, UnitError
from fluxds.models import (
    BrokenPowerLaw,
    ExpCutoffPowerLaw,
    LogParabola,
    PowerLaw,
    SpectralModel,
    Template,
    default_reference_model,
    model_from_dict,
    model_from_json,
    model_to_json,
)

DATA = "/work/shared/data/gammapy-written"
DNDE = u.Unit("cm-2 s-1 TeV-1")
TEV_TO_ERG = (1 * u.TeV).to_value(u.erg)
RTOL = 1e-10

# the 6 bins of the gammapy-written flux points (fp_likelihood.fits), in TeV
FP_EDGES = [
    0.31622776601683794,
    0.6309573444801934,
    1.2589254117941675,
    2.51188643150958,
    5.011872336272725,
    10.000000000000002,
    31.62277660168379,
]
BINS = [(0.01, 100.0), (0.1, 10.0), (0.05, 0.2), (1.0, 1.001), (10.0, 10.00001), (3.0, 3.0000003)]
BINS += list(zip(FP_EDGES[:-1], FP_EDGES[1:], strict=True))
E_MIN = np.array([b[0] for b in BINS])
E_MAX = np.array([b[1] for b in BINS])

ECPL = {
    "index": 1.3080724993219859,
    "amplitude": 1.1459114814141685e-12,
    "reference": 1.0,
    "lambda_": 1.0695292537155594,
}


# ---- independent reference: plain-Python dnde formulas and scipy quad in ln E ------------------
def pl_dnde(index, amp=1e-12, ref=1.0):
    return lambda e: amp * (e / ref) ** -index


def ecpl_dnde(index, amplitude, reference, lambda_, alpha=1.0):
    return lambda e: amplitude * (e / reference) ** -index * math.exp(-((lambda_ * e) ** alpha))


def lp_dnde(amp, ref, alpha, beta):
    return lambda e: amp * (e / ref) ** (-alpha - beta * math.log(e / ref))


def bpl_dnde(index1, index2, amp, ebreak):
    return lambda e: amp * (e / ebreak) ** (-index1 if e < ebreak else -index2)


def quad_integral(f, a, b, moment, breaks=()):
    """∫_a^b f(E) E^moment dE in ln E with quad (epsrel 1e-13), split at breaks and every 0.5."""
    delta = math.log1p((b - a) / a) if 0.5 < b / a < 2 else math.log(b / a)
    cuts = {0.0, delta}
    cuts.update(math.log(x / a) for x in breaks if a < x < b)
    cuts.update(np.arange(0.5, delta, 0.5).tolist())
    cuts = sorted(cuts)
    total = 0.0
    for t0, t1 in zip(cuts[:-1], cuts[1:], strict=True):
        val, _ = quad(
            lambda t: f(a * math.exp(t)) * (a * math.exp(t)) ** (1 + moment),
            t0,
            t1,
            epsabs=0,
            epsrel=1e-13,
            limit=500,
        )
        total += val
    return total


def reference_integrals(f, breaks=(), e_min=E_MIN, e_max=E_MAX):
    flux = np.array([quad_integral(f, a, b, 0, breaks) for a, b in zip(e_min, e_max, strict=True)])
    eflux = np.array([quad_integral(f, a, b, 1, breaks) for a, b in zip(e_min, e_max, strict=True)])
    return flux, eflux * TEV_TO_ERG


def check_integrals(model, f, breaks=(), rtol=RTOL):
    flux, eflux = reference_integrals(f, breaks)
    got_flux = model.flux(E_MIN * u.TeV, E_MAX * u.TeV)
    got_eflux = model.eflux(E_MIN * u.TeV, E_MAX * u.TeV)
    assert got_flux.unit == u.Unit("cm-2 s-1")
    assert got_eflux.unit == u.Unit("erg cm-2 s-1")
    np.testing.assert_allclose(got_flux.value, flux, rtol=rtol, atol=0)
    np.testing.assert_allclose(got_eflux.value, eflux, rtol=rtol, atol=0)


# ---- models -----------------------------------------------------------------------------------
def ecpl_model(**kw):
    p = {**ECPL, **kw}
    return ExpCutoffPowerLaw(
        index=p["index"],
        amplitude=p["amplitude"] * DNDE,
        reference=p["reference"] * u.TeV,
        lambda_=p["lambda_"] / u.TeV,
        alpha=p.get("alpha", 1.0),
    )


@pytest.mark.parametrize(
    "index", [2.3, 0.0, 1.0, 2.0, 3.0, 1 - 1e-9, 1 + 1e-9, 2 - 1e-9, 2 + 1e-9, 1 + 1e-13]
)
def test_power_law_integrals(index):
    model = PowerLaw(index=index, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    check_integrals(model, pl_dnde(index))


def test_power_law_other_units_and_reference():
    model = PowerLaw(index=2.7, amplitude=3e-9 * u.Unit("cm-2 s-1 GeV-1"), reference=300 * u.GeV)
    f = pl_dnde(2.7, 3e-9 * 1e3, 0.3)  # in TeV units
    check_integrals(model, f)
    assert model.dnde(0.3 * u.TeV).unit == u.Unit("cm-2 s-1 GeV-1")
    np.testing.assert_allclose(model.dnde(300 * u.GeV).value, 3e-9, rtol=1e-15)


@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_ecpl_integrals(alpha):
    model = ecpl_model(alpha=alpha)
    check_integrals(model, ecpl_dnde(**ECPL, alpha=alpha))


def test_ecpl_against_gammapy():
    models = pytest.importorskip("gammapy.modeling.models")
    ours = ecpl_model()
    theirs = models.ExpCutoffPowerLawSpectralModel(
        index=ECPL["index"],
        amplitude=ECPL["amplitude"] * DNDE,
        reference=1 * u.TeV,
        lambda_=ECPL["lambda_"] / u.TeV,
        alpha=1,
    )
    energy = np.geomspace(0.01, 100, 57) * u.TeV
    np.testing.assert_allclose(ours.dnde(energy).value, theirs(energy).to_value(DNDE), rtol=1e-12)
    edges = np.array(FP_EDGES) * u.TeV
    exact = reference_integrals(ecpl_dnde(**ECPL), (), edges.value[:-1], edges.value[1:])[0]
    flux = ours.flux(edges[:-1], edges[1:]).value
    np.testing.assert_allclose(flux, exact, rtol=RTOL)
    # gammapy's numerical integral is known to be low for curved models (1e-5 .. 6e-4 here)
    low = 1 - theirs.integral(edges[:-1], edges[1:]).to_value("cm-2 s-1") / flux
    assert np.all((low > 0) & (low < 1e-3))


def test_ecpl_fp_reference_flux():
    """ref_flux stored by gammapy in fp_likelihood.fits is gammapy's (low) numeric integral."""
    ours = ecpl_model()
    edges = np.array(FP_EDGES) * u.TeV
    flux = ours.flux(edges[:-1], edges[1:]).to_value("cm-2 s-1")
    exact0 = quad_integral(ecpl_dnde(**ECPL), FP_EDGES[0], FP_EDGES[1], 0)
    np.testing.assert_allclose(flux[0], exact0, rtol=RTOL)
    # the stored 6.31031338e-13 is 8.2e-6 below the exact integral
    np.testing.assert_allclose(flux[0], 6.31031338e-13 * (1 + 8.15e-6), rtol=1e-7)


def test_log_parabola_integrals():
    model = LogParabola(amplitude=2e-12 * DNDE, reference=10 * u.TeV, alpha=2.3, beta=0.1)
    check_integrals(model, lp_dnde(2e-12, 10.0, 2.3, 0.1))


@pytest.mark.parametrize("beta", [1e-300, 1e-12, 1e-6, 0.01, 1.0, 5.0, 50.0, -0.05])
def test_log_parabola_beta_range(beta):
    model = LogParabola(amplitude=1e-12 * DNDE, reference=1 * u.TeV, alpha=2.0, beta=beta)
    check_integrals(model, lp_dnde(1e-12, 1.0, 2.0, beta))


@pytest.mark.parametrize("alpha", [1.0, 2.0, 2.5])
def test_log_parabola_beta_zero_is_power_law(alpha):
    lp = LogParabola(amplitude=1e-12 * DNDE, reference=2 * u.TeV, alpha=alpha, beta=0.0)
    pl = PowerLaw(index=alpha, amplitude=1e-12 * DNDE, reference=2 * u.TeV)
    lo, hi = E_MIN * u.TeV, E_MAX * u.TeV
    np.testing.assert_allclose(lp.flux(lo, hi), pl.flux(lo, hi), rtol=RTOL)
    np.testing.assert_allclose(lp.eflux(lo, hi), pl.eflux(lo, hi), rtol=RTOL)
    np.testing.assert_allclose(lp.dnde(lo), pl.dnde(lo), rtol=1e-14)


def test_broken_power_law_integrals():
    model = BrokenPowerLaw(index1=1.5, index2=3.2, amplitude=1e-12 * DNDE, ebreak=2 * u.TeV)
    check_integrals(model, bpl_dnde(1.5, 3.2, 1e-12, 2.0), breaks=(2.0,))
    # break given in GeV, same physical model
    model_gev = BrokenPowerLaw(
        index1=1.5, index2=3.2, amplitude=1e-15 * u.Unit("cm-2 s-1 GeV-1"), ebreak=2000 * u.GeV
    )
    check_integrals(model_gev, bpl_dnde(1.5, 3.2, 1e-12, 2.0), breaks=(2.0,))


def test_template_integrals_against_quad():
    nodes = np.geomspace(0.1, 30, 9)
    values = 1e-12 * nodes**-2.2 * np.exp(-nodes / 8)
    model = Template(nodes * u.TeV, values * DNDE)
    ln_e, ln_v = np.log(nodes), np.log(values)

    def f(e):  # log-log interpolation, end segments extended
        j = min(max(np.searchsorted(nodes, e, side="right") - 1, 0), nodes.size - 2)
        slope = (ln_v[j + 1] - ln_v[j]) / (ln_e[j + 1] - ln_e[j])
        return math.exp(ln_v[j] + slope * (math.log(e) - ln_e[j]))

    check_integrals(model, f, breaks=tuple(nodes))
    np.testing.assert_array_equal(model.dnde(nodes * u.TeV).value, values)


def test_template_of_power_law_is_that_power_law():
    nodes = np.geomspace(0.3, 10, 13)
    pl = PowerLaw(index=2.4, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    template = Template(nodes * u.TeV, pl.dnde(nodes * u.TeV))
    lo, hi = E_MIN * u.TeV, E_MAX * u.TeV  # includes 0.01-100 TeV: extrapolated on both sides
    np.testing.assert_allclose(template.flux(lo, hi), pl.flux(lo, hi), rtol=RTOL)
    np.testing.assert_allclose(template.eflux(lo, hi), pl.eflux(lo, hi), rtol=RTOL)
    check_integrals(template, pl_dnde(2.4))
    energy = np.geomspace(0.01, 100, 31) * u.TeV
    np.testing.assert_allclose(template.dnde(energy), pl.dnde(energy), rtol=1e-12)


# ---- vectorisation, signs -----------------------------------------------------------------------
ALL_MODELS = [
    PowerLaw(index=2.1, amplitude=1e-12 * DNDE, reference=1 * u.TeV),
    ecpl_model(),
    LogParabola(amplitude=2e-12 * DNDE, reference=10 * u.TeV, alpha=2.3, beta=0.1),
    BrokenPowerLaw(index1=1.5, index2=3.2, amplitude=1e-12 * DNDE, ebreak=2 * u.TeV),
    Template([0.1, 1, 10] * u.TeV, [1e-10, 1e-12, 3e-15] * DNDE),
]


@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.type)
def test_vectorised_shapes_and_signs(model):
    energy = np.geomspace(0.1, 10, 12).reshape(3, 4) * u.TeV
    assert model.dnde(energy).shape == (3, 4)
    lo, hi = energy[:, :-1], energy[:, 1:]
    flux = model.flux(lo, hi)
    assert flux.shape == (3, 3)
    one = [model.flux(a, b).value for a, b in zip(lo.ravel(), hi.ravel(), strict=True)]
    np.testing.assert_allclose(flux.value.ravel(), one, rtol=1e-13)
    assert model.flux(1 * u.TeV, 1 * u.TeV).value == 0
    np.testing.assert_allclose(model.eflux(hi, lo), -model.eflux(lo, hi), rtol=1e-13)
    # broadcasting of edge arrays and energy units
    got = model.flux([[0.3], [1.0]] * u.TeV, [2000, 5000, 9000] * u.GeV)
    assert got.shape == (2, 3)
    np.testing.assert_allclose(got[1, 2], model.flux(1 * u.TeV, 9 * u.TeV), rtol=1e-13)


def test_many_bins_at_once():
    model = ecpl_model()
    edges = np.geomspace(0.01, 100, 20001) * u.TeV
    flux = model.flux(edges[:-1], edges[1:])
    total = model.flux(edges[0], edges[-1])
    np.testing.assert_allclose(flux.sum(), total, rtol=1e-10)


# ---- serialisation ------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ALL_MODELS, ids=lambda m: m.type)
def test_json_round_trip_exact(model):
    text = model_to_json(model)
    back = model_from_json(text)
    assert back == model and hash(back) == hash(model)
    assert type(back) is type(model) and back.name == model.type
    assert json.loads(text) == model.to_dict()
    energy = np.geomspace(0.01, 100, 50) * u.TeV
    np.testing.assert_array_equal(back.dnde(energy).value, model.dnde(energy).value)
    np.testing.assert_array_equal(
        back.flux(energy[:-1], energy[1:]).value, model.flux(energy[:-1], energy[1:]).value
    )
    assert model.type in repr(model)


def test_awkward_floats_round_trip_bitwise():
    model = PowerLaw(index=0.1 + 0.2, amplitude=1 / 3 * 1e-12 * DNDE, reference=math.pi * u.TeV)
    back = model_from_json(model_to_json(model))
    assert back.index == 0.1 + 0.2 and back.amplitude.value == 1 / 3 * 1e-12
    assert back == model


def test_to_dict_shape_and_default_model():
    assert default_reference_model().to_dict() == {
        "type": "PowerLaw",
        "parameters": {
            "index": {"value": 2.0, "unit": ""},
            "amplitude": {"value": 1e-12, "unit": "cm-2 s-1 TeV-1"},
            "reference": {"value": 1.0, "unit": "TeV"},
        },
    }
    assert isinstance(default_reference_model(), SpectralModel)
    d = Template([1, 2] * u.TeV, [1, 2] * DNDE).to_dict()
    assert d["type"] == "Template" and d["energy"] == {"values": [1.0, 2.0], "unit": "TeV"}
    assert set(d["values"]) == {"values", "unit"}


def test_equality():
    a = PowerLaw(index=2, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    assert a == default_reference_model()
    assert a != PowerLaw(index=2.1, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    assert a != LogParabola(amplitude=1e-12 * DNDE, reference=1 * u.TeV, alpha=2, beta=0)
    assert a != Template([1, 2] * u.TeV, [1, 2] * DNDE)


@pytest.mark.parametrize("path", sorted(glob.glob(f"{DATA}/*_model.yaml")))
def test_gammapy_yaml_files(path):
    yaml = pytest.importorskip("yaml")
    with open(path) as fh:
        content = yaml.safe_load(fh)
    spectral = content["components"][0]["spectral"]
    model = model_from_dict(spectral)
    params = {p["name"]: p for p in spectral["parameters"]}
    assert model.gammapy_type == spectral["type"]
    ref = params["reference"]["value"] * u.Unit(params["reference"]["unit"])
    amp = params["amplitude"]["value"] * u.Unit(params["amplitude"]["unit"])
    np.testing.assert_allclose(model.dnde(ref).to_value(DNDE), amp.to_value(DNDE), rtol=1e-15)
    if ref == 1 * u.TeV:
        assert model.dnde(1 * u.TeV).to_value(DNDE) == amp.to_value(DNDE)


def test_gammapy_to_dict_of_every_model():
    gm = pytest.importorskip("gammapy.modeling.models")
    theirs = [
        gm.PowerLawSpectralModel(index=2.2, amplitude="3e-12 cm-2 s-1 TeV-1", reference="2 TeV"),
        gm.ExpCutoffPowerLawSpectralModel(index=1.7, lambda_="0.2 TeV-1", alpha=1.3),
        gm.LogParabolaSpectralModel(alpha=2.1, beta=0.2, amplitude="1e-11 cm-2 s-1 TeV-1"),
        gm.BrokenPowerLawSpectralModel(index1=1.4, index2=2.9, ebreak="3 TeV"),
        gm.TemplateSpectralModel(energy=[0.1, 1, 10] * u.TeV, values=[1e-10, 1e-12, 3e-15] * DNDE),
    ]
    energy = np.geomspace(0.15, 8, 23) * u.TeV
    for model in theirs:
        ours = model_from_dict(model.to_dict())  # the {"spectral": {...}} wrapper, parameter list
        expected = model(energy).to_value(DNDE)
        np.testing.assert_allclose(ours.dnde(energy).value, expected, rtol=1e-12)


# ---- bad input -----------------------------------------------------------------------------------
def test_unknown_type():
    with pytest.raises(ModelError, match="Foo.*PowerLaw"):
        model_from_dict({"type": "Foo", "parameters": {}})


def test_missing_and_extra_parameters():
    d = default_reference_model().to_dict()
    del d["parameters"]["index"]
    with pytest.raises(ModelError, match="index"):
        model_from_dict(d)
    d = default_reference_model().to_dict()
    d["parameters"]["beta"] = {"value": 1.0, "unit": ""}
    with pytest.raises(ModelError, match="beta"):
        model_from_dict(d)
    d = {
        "type": "ExpCutoffPowerLawSpectralModel",
        "parameters": [
            {"name": "index", "value": 2.0},
            {"name": "amplitude", "value": 1e-12, "unit": "TeV-1 s-1 cm-2"},
            {"name": "reference", "value": 1.0, "unit": "TeV"},
        ],
    }
    with pytest.raises(ModelError, match="lambda_"):
        model_from_dict(d)
    d["parameters"].append({"name": "lambda_", "value": 0.1, "unit": "TeV-1"})
    assert model_from_dict(d).alpha == 1.0  # alpha is optional, as in the constructor


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda: PowerLaw(index=2, amplitude=1e-12 * u.erg, reference=1 * u.TeV), "amplitude.*erg"),
        (lambda: PowerLaw(index=2 * u.TeV, amplitude=1e-12 * DNDE, reference=1 * u.TeV), "index"),
        (lambda: PowerLaw(index=2, amplitude=1e-12 * DNDE, reference=1 * u.cm), "reference"),
        (
            lambda: ExpCutoffPowerLaw(
                index=2, amplitude=1e-12 * DNDE, reference=1 * u.TeV, lambda_=1 * u.TeV
            ),
            "lambda_",
        ),
        (lambda: PowerLaw(index=np.nan, amplitude=1e-12 * DNDE, reference=1 * u.TeV), "index"),
        (lambda: PowerLaw(index=[1, 2], amplitude=1e-12 * DNDE, reference=1 * u.TeV), "index"),
        (lambda: BrokenPowerLaw(1, 2, 1e-12 * DNDE, ebreak=1 * u.s), "ebreak"),
    ],
)
def test_wrong_parameters(make, name):
    with pytest.raises(ModelError, match=name):
        make()


def test_wrong_unit_in_dict():
    d = default_reference_model().to_dict()
    d["parameters"]["amplitude"]["unit"] = "erg"
    with pytest.raises(ModelError, match="amplitude.*1e-12.*erg.*differential flux"):
        model_from_dict(d)
    d["parameters"]["amplitude"]["unit"] = "not a unit"
    with pytest.raises(ModelError, match="amplitude"):
        model_from_dict(d)


@pytest.mark.parametrize(
    "energy, values, match",
    [
        ([1, 2, 2, 3], [1, 1, 1, 1], "node 2"),
        ([1, 3, 2], [1, 1, 1], "node 2"),
        ([1, 2, 3], [1, 0, 1], "node 1"),
        ([1, 2, 3], [1, 1, -1], "node 2"),
        ([1, 2, 3], [1, 1], "shape"),
        ([1], [1], "at least 2"),
    ],
)
def test_bad_template(energy, values, match):
    with pytest.raises(ModelError, match=match):
        Template(energy * u.TeV, values * DNDE)
    d = {
        "type": "TemplateSpectralModel",
        "energy": {"data": energy, "unit": "TeV"},
        "values": {"data": values, "unit": "cm-2 s-1 TeV-1"},
    }
    with pytest.raises(ModelError, match=match):
        model_from_dict(d)


def test_bad_template_units_and_json():
    with pytest.raises(ModelError, match="values"):
        Template([1, 2] * u.TeV, [1, 2] * u.erg)
    with pytest.raises(ModelError, match="energy"):
        Template([1, 2] * u.s, [1, 2] * DNDE)
    with pytest.raises(ModelError, match="JSON"):
        model_from_json("{not json")
    with pytest.raises(ModelError, match="dict"):
        model_from_json("[1, 2]")


def test_bad_energy_argument():
    model = default_reference_model()
    with pytest.raises(UnitError, match="energy"):
        model.dnde(1 * u.s)
    with pytest.raises(UnitError, match="e_min"):
        model.flux(1.0, 2 * u.TeV)
