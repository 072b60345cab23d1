"""Every number gammapy 2.1 computes from the ``fp_*`` files, reproduced at rtol 1e-10 — and, where
gammapy's number is one of its known defects, the spec-correct number instead."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from astropy.table import Table
from helpers import FP_FILES, WRITTEN
from scipy import stats

import fluxds

# gammapy ignores the stored ref_flux/ref_eflux of a likelihood SED and re-integrates a template
# through ref_dnde: every integral quantity it gives for these files is off (up to 244 % here).
TEMPLATE_REINTEGRATED = {
    name
    for stem in ("flux", "eflux")
    for name in [f"{stem}{s}" for s in ("", "_err", "_errp", "_errn", "_ul", "_sensitivity")]
    + [f"{stem}_ref"]
}


@functools.cache
def _read(fname: str):
    return fluxds.read(WRITTEN / fname)


def _values(spec: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.ravel(spec["values"])], dtype=float)


def _ours(ds, name: str, spec: dict) -> np.ndarray:
    da = ds.sed.get(name, unit=spec.get("unit") or None)
    da = da.transpose(*[d for d in spec["dims"] if d in da.dims])
    return np.asarray(da.values, dtype=float).ravel()


def _cases():
    import json

    files = json.loads((WRITTEN / "expected.json").read_text())["files"]
    for fname in FP_FILES:
        for name in files[fname]["quantities"]:
            yield fname, name


@pytest.mark.parametrize(("fname", "name"), list(_cases()))
def test_quantity_matches_gammapy(expected, fname, name):
    spec = expected[fname]["quantities"][name]
    ds = _read(fname)
    if "error" in spec:
        # gammapy cannot give it; neither can we, and we say why with a fluxds error
        with pytest.raises(fluxds.FluxdsError):
            ds.sed.get(name)
        return
    got = _ours(ds, name, spec)
    want = _values(spec)
    if fname.startswith("fp_likelihood") and name in TEMPLATE_REINTEGRATED:
        assert np.nanmax(np.abs(got / want - 1)) > 1e-3, "gammapy defect vanished?"
        return  # the spec-correct numbers are checked in test_likelihood_uses_stored_reference
    if spec.get("dims") and "is_ul" == name:
        np.testing.assert_array_equal(got.astype(bool), want.astype(bool))
        return
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, equal_nan=True)


@pytest.mark.parametrize("fname", ["fp_likelihood.fits", "fp_likelihood.ecsv"])
def test_likelihood_uses_stored_reference(expected, fname):
    """The GADF rule: flux = norm * ref_flux with the stored column. The numbers gammapy had in memory
    before writing (with the true ECPL model) are the right ones; its read-back numbers are not."""
    ds = _read(fname)
    before = expected["fp_likelihood.fits"]["in_memory_before_write"]["quantities"]
    for name in ("flux", "flux_ul", "eflux", "dnde", "e2dnde", "sqrt_ts"):
        spec = before[name]
        np.testing.assert_allclose(_ours(ds, name, spec), _values(spec), rtol=1e-10)
    table = Table.read(WRITTEN / fname)
    # hand calculation from the columns: norm_err * ref_eflux, in erg
    eflux_err = table["norm_err"] * table["ref_eflux"].quantity.to_value("erg cm-2 s-1")
    np.testing.assert_allclose(ds.sed.eflux_err.values, eflux_err, rtol=1e-13)
    np.testing.assert_allclose(
        ds.sed.flux_sensitivity.values, table["norm_sensitivity"] * table["ref_flux"], rtol=1e-13
    )


@pytest.mark.parametrize("fname", FP_FILES)
def test_metadata(expected, fname):
    meta = expected[fname]["meta"]
    ds = _read(fname)
    assert ds.sed.sed_type_init == meta["sed_type_init"]
    assert ds.sed.n_sigma == meta["n_sigma"]
    assert ds.sed.sqrt_ts_threshold_ul == meta["sqrt_ts_threshold_ul"]
    ul_conf = Table.read(WRITTEN / fname).meta.get("UL_CONF")
    if ul_conf is None:
        assert meta["n_sigma_ul"] is None and ds.sed.n_sigma_ul is None
    else:
        # gammapy rounds n_sigma_ul to 0.1; the exact value belongs to the stated UL_CONF
        assert ds.sed.ul_conf == ul_conf
        exact = stats.norm.isf(0.5 * (1 - ul_conf))
        assert ds.sed.n_sigma_ul == pytest.approx(exact, rel=1e-14)
        assert round(ds.sed.n_sigma_ul, 1) == meta["n_sigma_ul"]


@pytest.mark.parametrize("fname", FP_FILES)
def test_energies(expected, fname):
    geometry = expected[fname]["geometry"]
    ds = _read(fname)
    np.testing.assert_allclose(
        ds.sed.get("dnde").energy.values
        * fluxds.units.conversion_factor(
            fluxds.units.parse_unit(ds.energy.attrs["units"]), fluxds.units.parse_unit("TeV")
        ),
        geometry["energy_ref_TeV"],
        rtol=1e-12,
    )
    assert ds.sed.has_edges == (geometry["energy_node_type"] == "edges")


def test_reference_model_meta(expected):
    ds = fluxds.read(WRITTEN / "fp_dnde.fits")
    params = expected["fp_dnde.fits"]["reference_model"]["parameters"]
    model = ds.sed.reference_model
    assert type(model).__name__ == "PowerLaw"
    assert model.to_dict()["parameters"]["index"]["value"] == params["index"]["value"]
    assert "default" in ds.attrs["reference_model_origin"]
    assert type(fluxds.read(WRITTEN / "fp_likelihood.fits").sed.reference_model).__name__ == ("Template")
