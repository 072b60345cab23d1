"""Generated SEDs: any valid likelihood SED round-trips exactly through every table format, and every SED
type converts back to the same norms."""

from __future__ import annotations

import tempfile
from pathlib import Path

import astropy.units as u
import numpy as np
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fluxds

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)
maybe_nan = st.one_of(finite, st.just(float("nan")))


@st.composite
def seds(draw):
    n = draw(st.integers(1, 8))
    log_edges = np.cumsum(draw(st.lists(st.floats(0.01, 1.0), min_size=n + 1, max_size=n + 1)))
    unit = draw(st.sampled_from(["keV", "MeV", "GeV", "TeV", "erg"]))
    scale = (1 * u.TeV).to_value(unit)
    edges = 10 ** (log_edges - 1.0) * scale
    index = draw(st.floats(1.0, 4.0))
    model_kind = draw(st.sampled_from(["pl", "lp", "ecpl"]))
    amp = 10 ** draw(st.floats(-14, -9)) * u.Unit("cm-2 s-1 TeV-1")
    if model_kind == "pl":
        model = fluxds.models.PowerLaw(index=index, amplitude=amp, reference=1 * u.TeV)
    elif model_kind == "lp":
        model = fluxds.models.LogParabola(amplitude=amp, reference=1 * u.TeV, alpha=index, beta=0.2)
    else:
        model = fluxds.models.ExpCutoffPowerLaw(
            index=index, amplitude=amp, reference=1 * u.TeV, lambda_=0.1 * u.Unit("TeV-1")
        )

    def column():
        return np.array(draw(st.lists(maybe_nan, min_size=n, max_size=n)))

    ds = fluxds.from_likelihood(
        column(),
        energy_min=edges[:-1] * u.Unit(unit),
        energy_max=edges[1:] * u.Unit(unit),
        reference_model=model,
        norm_err=np.abs(column()),
        norm_ul=column(),
        ts=np.abs(column()),
        is_ul=np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n))),
        ul_conf=draw(st.floats(0.5, 0.999)),
        attrs={"target": draw(st.text(min_size=1, max_size=20).filter(str.isprintable))},
    )
    return ds


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(ds=seds(), ext=st.sampled_from(["fits", "ecsv", "h5", "nc"]))
def test_likelihood_roundtrip_is_identical(ds, ext):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"sed.{ext}"
        ds.sed.write(path)
        xr.testing.assert_identical(fluxds.read(path), ds)


@SETTINGS
@given(ds=seds(), sed_type=st.sampled_from(["dnde", "e2dnde", "flux", "eflux"]))
def test_every_sed_type_roundtrips_through_fits(ds, sed_type):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sed.fits"
        ds.sed.write(path, sed_type=sed_type)
        back = fluxds.read(path)
        xr.testing.assert_identical(back, ds)
        np.testing.assert_array_equal(back.sed.get(sed_type).values, ds.sed.get(sed_type).values)
