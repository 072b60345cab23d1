"""The success filter of the converted quantities (``ds.sed.get(name)``): NaN where a fit failed in the
quantities derived from ``norm`` and ``norm_err``, for every layout of ``success`` (same dims, other
order, fewer dims, dims of its own, numbers instead of booleans, dask-backed), checked against numpy."""

from __future__ import annotations

import astropy.units as u
import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
from helpers import CountingScheduler

import fluxds

DNDE = u.Unit("cm-2 s-1 TeV-1")
PL = fluxds.models.PowerLaw(index=2.3, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
EDGES = np.geomspace(0.1, 100.0, 5) * u.TeV
SUFFIXES = ("", "_err", "_errp", "_errn", "_ul")
FILTERED = ("", "_err")
TARGET = {
    "dnde": u.Unit("cm-2 s-1 TeV-1"),
    "e2dnde": u.Unit("erg cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("erg cm-2 s-1"),
}
N_SOURCE, N_ENERGY = 6, 4


def _sources(seed: int = 5) -> xr.Dataset:
    """6 sources x 4 energies, norms of both signs, a zero, a NaN and a negative TS."""
    rng = np.random.default_rng(seed)
    shape = (N_SOURCE, N_ENERGY)
    norm = rng.normal(1.0, 0.8, shape)
    norm[0, 0], norm[1, 1] = 0.0, np.nan
    err = np.abs(norm) * 0.2 + 0.05
    ts = rng.uniform(0.0, 50.0, shape)
    ts[2, 2] = -1.0
    return fluxds.from_likelihood(
        norm,
        dims=("source", "energy"),
        coords={"source": [f"s{i}" for i in range(N_SOURCE)]},
        energy_min=EDGES[:-1],
        energy_max=EDGES[1:],
        reference_model=PL,
        norm_err=err,
        norm_errp=err * 1.1,
        norm_errn=err * 0.9,
        norm_ul=np.abs(norm) + 2 * err,
        ts=ts,
    )


def _references(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """The stored references in the default units, by astropy (shape (energy,))."""

    def stored(name: str) -> u.Quantity:
        return ds[name].values * u.Unit(ds[name].attrs["units"])

    energy = ds["energy"].values * u.Unit(ds["energy"].attrs["units"])
    refs = {
        "dnde": stored("ref_dnde"),
        "e2dnde": stored("ref_dnde") * energy**2,
        "flux": stored("ref_flux"),
        "eflux": stored("ref_eflux"),
    }
    return {sed: ref.to_value(TARGET[sed]) for sed, ref in refs.items()}


def _expected(ds: xr.Dataset, ok: np.ndarray) -> dict[str, np.ndarray]:
    """The 21 quantities by numpy on (source, energy): the norms filtered with ``ok`` (broadcast to
    (source, energy)), times the reference; sqrt_ts signed by the filtered norm, NaN where unknown."""
    refs = _references(ds)
    out = {}
    for suffix in SUFFIXES:
        norm = ds[f"norm{suffix}"].transpose("source", "energy").values
        if suffix in FILTERED:
            norm = np.where(ok, norm, np.nan)
        out[f"norm{suffix}"] = norm
        for sed, ref in refs.items():
            out[f"{sed}{suffix}"] = norm * ref
    norm, ts = out["norm"], ds["ts"].transpose("source", "energy").values
    root = np.sqrt(np.maximum(ts, 0.0))
    out["sqrt_ts"] = np.where(norm > 0, root, np.where(norm <= 0, -root, np.nan))
    return out


def _success_layouts():
    rng = np.random.default_rng(11)
    ok = rng.uniform(size=(N_SOURCE, N_ENERGY)) < 0.7
    per_source = np.array([True, False, True, True, False, True])
    numbers = ok.astype(float)
    numbers[0, 1], numbers[3, 3] = np.nan, 2.0  # truth values, as xarray's where takes them
    return {
        "same dims": (xr.DataArray(ok, dims=("source", "energy")), ok),
        "other order": (xr.DataArray(ok.T.copy(), dims=("energy", "source")), ok),
        "fewer dims": (xr.DataArray(per_source, dims="source"), per_source[:, None]),
        "numbers": (xr.DataArray(numbers, dims=("source", "energy")), numbers.astype(bool)),
        "all true": (xr.DataArray(np.ones_like(ok), dims=("source", "energy")), np.ones_like(ok)),
    }


LAYOUTS = _success_layouts()
NAMES = [f"{sed}{suffix}" for sed in ("norm", *TARGET) for suffix in SUFFIXES] + ["sqrt_ts"]


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("energy_first", [False, True])
def test_filtered_quantities_match_numpy(layout, energy_first):
    success, ok = LAYOUTS[layout]
    ds = _sources().assign(success=success)
    if energy_first:
        ds = ds.transpose("energy", "source")
    want = _expected(ds, ok)
    for name in NAMES:
        got = ds.sed.get(name)
        assert got.dims == ds["norm"].dims, name
        assert got.name == name and set(got.attrs) == {"long_name", "units"}, name
        xr.testing.assert_identical(got.coords.to_dataset(), ds["norm"].coords.to_dataset())
        values = got.transpose("source", "energy").values
        np.testing.assert_allclose(values, want[name], rtol=1e-14, atol=0, err_msg=f"{layout}: {name}")
        np.testing.assert_array_equal(np.isnan(values), np.isnan(want[name]), err_msg=name)


def test_filter_off_and_stored_arrays_untouched():
    ds = _sources().assign(success=LAYOUTS["same dims"][0])
    stored = {name: ds[name].values.copy() for name in ds.data_vars}
    unfiltered = _expected(ds, np.ones((N_SOURCE, N_ENERGY), bool))
    assert not np.shares_memory(ds.sed.norm.values, ds["norm"].values)
    for name in NAMES:
        ds.sed.get(name)
        got = ds.sed.get(name, filter_success=False).values
        np.testing.assert_allclose(got, unfiltered[name], rtol=1e-14, atol=0, err_msg=name)
    for name, values in stored.items():
        np.testing.assert_array_equal(ds[name].values, values, err_msg=f"{name} was changed")
    # the filtered norm is a new array even where no fit failed
    all_ok = ds.assign(success=LAYOUTS["all true"][0])
    assert not np.shares_memory(all_ok.sed.norm.values, all_ok["norm"].values)


def test_float32_norm_stays_float32():
    ds = _sources().assign(success=LAYOUTS["same dims"][0])
    ds["norm"] = ds["norm"].astype(np.float32)
    got = ds.sed.get("norm")
    assert got.dtype == np.float32
    want = np.where(LAYOUTS["same dims"][1], ds["norm"].values, np.nan)
    np.testing.assert_array_equal(got.values, want)


def test_success_with_dims_of_its_own_broadcasts():
    """A success per (source, energy, dataset): the filtered quantities gain the dataset dim, as
    xarray's broadcasting by name gives; the others keep the norm's dims."""
    ds = _sources()
    ok = np.random.default_rng(3).uniform(size=(N_SOURCE, N_ENERGY, 2)) < 0.6
    ds["success"] = xr.DataArray(ok, dims=("source", "energy", "dataset"))
    refs = _references(ds)
    got = ds.sed.get("flux").transpose("source", "energy", "dataset").values
    want = np.where(ok, ds["norm"].values[..., None], np.nan) * refs["flux"][None, :, None]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
    assert ds.sed.get("flux_ul").dims == ("source", "energy")


@pytest.mark.parametrize("chunked", ["success only", "everything"])
def test_dask_backed_stays_lazy(chunked):
    success, ok = LAYOUTS["same dims"]
    ds = _sources().assign(success=success)
    lazy = ds.chunk({"source": 3}) if chunked == "everything" else ds.assign(success=success.chunk(3))
    want = _expected(ds, ok)
    counter = CountingScheduler()
    with dask.config.set(scheduler=counter):
        results = {name: lazy.sed.get(name) for name in NAMES}
        assert counter.calls == 0
        for name in ("norm", "dnde", "e2dnde_err", "sqrt_ts"):
            assert isinstance(results[name].data, da.Array), name
    for name, result in results.items():
        np.testing.assert_allclose(result.values, want[name], rtol=1e-14, atol=0, err_msg=name)
