"""Binned axes in the schema (issue 15 item 3): energy, time, phase and the region's distance described once
in ``fluxds.schema.BINNED_AXES``; the CF bounds, ``resample``/``combine``/``variability`` and the checks read
that description, so a new axis is one entry. Proved with ``phase`` (hand computations below) and with an
axis that exists only in a test."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN

import fluxds
from fluxds import schema
from fluxds.axes import binned_coords, derived_centre_note
from fluxds.io.cf.encoding import BOUNDS_DIM, decode, encode
from fluxds.models import PowerLaw
from fluxds.timeaxis import time_coords

PL = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
# four phase bins; the last centre is not the midpoint of its edges (a weighted centre a producer gave)
LO = np.array([0.0, 0.2, 0.45, 0.7])
HI = np.array([0.2, 0.45, 0.7, 1.0])
CENTRE = np.array([0.1, 0.325, 0.575, 0.9])
MU = np.array([1.0, 2.0, 1.5, 0.5])
SIGMA = np.array([0.5, 0.5, 1.0, 1.0])
SCAN = np.linspace(-2.0, 5.0, 15)


def phase_curve(lo=LO, hi=HI, centre=CENTRE, mu=MU, sigma=SIGMA) -> xr.Dataset:
    """A phase curve with one energy bin and parabolic profiles ``((norm - mu) / sigma)**2``, sampled on a
    grid that holds every minimum (the profile code interpolates parabolas exactly)."""
    n = len(mu)
    scan = np.broadcast_to(SCAN, (n, 1, SCAN.size))
    return fluxds.from_likelihood(
        mu[:, None],
        norm_err=sigma[:, None],
        energy_min=[1] * u.TeV,
        energy_max=[10] * u.TeV,
        reference_model=PL,
        dims=("phase", "energy"),
        coords=binned_coords("phase", centre=centre, lo=lo, hi=hi),
        norm_scan=scan,
        stat_scan=((scan - mu[:, None, None]) / sigma[:, None, None]) ** 2,
        stat_null=(mu[:, None] / sigma[:, None]) ** 2,
    )


# --- the schema entries ---------------------------------------------------------------------------------
def test_every_binned_axis_is_described_once():
    assert list(schema.BINNED_AXES) == ["energy", "time", "phase", "region"]
    energy, time, phase, region = schema.BINNED_AXES.values()
    assert energy.file_columns == ("e_ref", "e_min", "e_max") and energy.scale == "log"
    assert (energy.min_name, energy.max_name, energy.bounds) == ("energy_min", "energy_max", "energy_bounds")
    assert time.file_columns == ("time", "time_min", "time_max") and time.scale == "linear"
    assert time.cf_bounds == "derived" and time.columns["time"] == "time_value"  # the time column: an instant
    assert phase.coords == ("phase", "phase_min", "phase_max") and phase.unit_kind == "dimensionless"
    assert region.coords == ("x_ref", "x_min", "x_max") and region.unit_kind == "angle"
    assert region.bounds == "x_bounds"
    # phase is a dimension of the contract, right after time
    assert schema.DIMS.index("phase") == schema.DIMS.index("time") + 1 < schema.DIMS.index("energy")
    assert schema.canonical_dims(["energy", "phase", "source"]) == ["source", "phase", "energy"]


def test_the_axis_scale_gives_the_centre():
    assert schema.BINNED_AXES["energy"].midpoint(1.0, 100.0) == 10.0  # log centre
    assert schema.BINNED_AXES["phase"].midpoint(0.2, 0.45) == 0.2 + 0.5 * 0.25  # linear midpoint


# --- CF bounds driven by the schema --------------------------------------------------------------------
def every_axis() -> xr.Dataset:
    """One Dataset with every binned axis of the schema present (region, time, phase, energy)."""
    n_r, n_t, n_p = 2, 3, 4
    coords = {
        **time_coords(time_min=[59000.0, 59001.0, 59002.5], time_max=[59001.0, 59002.0, 59003.0], scale="tt"),
        **binned_coords("phase", centre=CENTRE, lo=LO, hi=HI),
        **binned_coords("region", centre=[0.1, 0.3], lo=[0.0, 0.2], hi=[0.2, 0.4], unit="deg"),
        "region": ("region", ["inner", "outer"]),
    }
    return fluxds.from_likelihood(
        np.ones((n_r, n_t, n_p, 2)),
        energy_min=[1, 3] * u.TeV,
        energy_max=[3, 10] * u.TeV,
        reference_model=PL,
        dims=("region", "time", "phase", "energy"),
        coords=coords,
    )


def test_schema_drives_the_cf_bounds():
    ds = every_axis()
    encoded = encode(ds)
    for axis in schema.BINNED_AXES.values():
        assert axis.dim in ds.dims
        bounds = encoded[axis.bounds]
        assert bounds.dims == (axis.dim, BOUNDS_DIM), axis.dim
        assert encoded[axis.centre].attrs["bounds"] == axis.bounds, axis.dim
        if axis.cf_bounds == "edges":  # the edges themselves, moved into the bounds, exactly
            assert axis.min_name not in encoded.variables
            np.testing.assert_array_equal(bounds.values[:, 0], ds[axis.min_name].values)
            np.testing.assert_array_equal(bounds.values[:, 1], ds[axis.max_name].values)
    # time: edges kept unchanged, bounds derived in the unit of the encoded time (MJD days)
    assert encoded["time"].attrs["units"] == encoded["time_bounds"].attrs["units"]
    np.testing.assert_allclose(
        encoded["time_bounds"].values[:, 0], [59000.0, 59001.0, 59002.5], rtol=0, atol=1e-9
    )
    np.testing.assert_array_equal(encoded["time_min"].values, ds["time_min"].values)
    xr.testing.assert_identical(decode(encoded), ds)


def test_an_axis_is_one_schema_entry(monkeypatch, tmp_path):
    """A binned axis the package has never heard of: one entry, and the CF bounds, resample and combine
    know it (the reason the generic code reads the schema at each call)."""
    band = schema.BinnedAxis(
        "band", "band", "band_min", "band_max", ("band", "band_min", "band_max"), "dimensionless",
        "linear", "band_bounds", ("centre of the band", "lower edge of the band", "upper edge of the band"),
    )  # fmt: skip
    monkeypatch.setitem(schema.BINNED_AXES, "band", band)
    ds = phase_curve().rename({"phase": "band", "phase_min": "band_min", "phase_max": "band_max"})
    encoded = encode(ds)
    assert encoded["band_bounds"].dims == ("band", BOUNDS_DIM)
    assert encoded["band"].attrs["bounds"] == "band_bounds"
    ds.sed.write(tmp_path / "band.nc")
    xr.testing.assert_identical(fluxds.read(tmp_path / "band.nc"), ds)
    merged = ds.sed.resample("band", group_size=2)
    np.testing.assert_array_equal(merged["band_min"].values, [0.0, 0.45])
    np.testing.assert_array_equal(merged["band_max"].values, [0.45, 1.0])
    assert float(ds.sed.combine("band")["band_max"]) == 1.0


def test_bounds_of_another_shape_are_refused(tmp_path):
    encoded = encode(phase_curve())
    wide = encoded.drop_vars("phase_bounds").assign_coords(
        phase_bounds=(("phase", BOUNDS_DIM), np.zeros((4, 2)))
    )
    decode(wide)  # the right shape decodes
    wide = encoded.drop_vars("phase_bounds").assign_coords(
        phase_bounds=(("phase", "three"), np.zeros((4, 3)))
    )
    with pytest.raises(fluxds.FormatError, match=r"'phase_bounds' has dimensions .* shape \(4, 3\)"):
        decode(wide, where="x.nc")


# --- resample, combine, variability along phase (hand computations) -----------------------------------
def _weighted(mu, sigma):
    """Minimum and 1-sigma error of a sum of parabolas ((n - mu_i) / sigma_i)**2: the inverse-variance
    weighted mean and 1 / sqrt(sum 1 / sigma_i**2)."""
    w = 1.0 / np.asarray(sigma) ** 2
    return np.sum(w * mu) / np.sum(w), 1.0 / np.sqrt(np.sum(w))


def test_resample_along_phase_keeps_and_merges_the_edges():
    out = phase_curve().sed.resample("phase", group_size=3)  # groups [0, 1, 2] and [3]
    np.testing.assert_array_equal(out["phase_min"].values, [0.0, 0.7])  # min of the members' lower edges
    np.testing.assert_array_equal(out["phase_max"].values, [0.7, 1.0])  # max of their upper edges
    # the merged bin's centre is the linear midpoint of its edges; a one-member group keeps its centre
    np.testing.assert_array_equal(out["phase"].values, [0.0 + 0.5 * 0.7, 0.9])
    norm, err = _weighted(MU[:3], SIGMA[:3])  # (4 + 8 + 1.5) / 9 = 1.5 and 1/3
    np.testing.assert_allclose(out["norm"].values[:, 0], [norm, MU[3]], rtol=1e-9)
    np.testing.assert_allclose(out["norm_err"].values[:, 0], [err, SIGMA[3]], rtol=1e-9)
    np.testing.assert_array_equal(out["n_dof"].values[:, 0], [3, 1])
    assert out["phase_min"].attrs == {"units": "", "long_name": "lower edge of the phase bin"}
    fluxds.validate(out)


def test_resample_along_phase_by_edges():
    out = phase_curve().sed.resample("phase", edges=[0.0, 0.5, 1.0])  # centres 0.1, 0.325 | 0.575, 0.9
    np.testing.assert_array_equal(out["phase_min"].values, [0.0, 0.45])  # the members' own edges
    np.testing.assert_array_equal(out["phase_max"].values, [0.45, 1.0])
    np.testing.assert_array_equal(out["phase"].values, [0.0 + 0.5 * 0.45, 0.45 + 0.5 * (1.0 - 0.45)])
    np.testing.assert_allclose(out["norm"].values[:, 0], [_weighted(MU[:2], SIGMA[:2])[0], 1.0], rtol=1e-9)


def test_resample_along_phase_without_edges_uses_the_centres():
    ds = phase_curve().drop_vars(["phase_min", "phase_max"])
    out = ds.sed.resample("phase", group_size=2)
    np.testing.assert_array_equal(
        out["phase"].values, [0.1 + 0.5 * (0.325 - 0.1), 0.575 + 0.5 * (0.9 - 0.575)]
    )
    assert "phase_min" not in out.coords


def test_resample_along_region_merges_the_distance_bins():
    prof = fluxds.read(WRITTEN / "profile_likelihood.fits")  # 8 regions, x_min/x_ref/x_max in deg
    out = prof.sed.resample("region", group_size=2)
    lo, hi = prof["x_min"].values, prof["x_max"].values
    np.testing.assert_array_equal(out["x_min"].values, lo[0::2])
    np.testing.assert_array_equal(out["x_max"].values, hi[1::2])
    np.testing.assert_array_equal(out["x_ref"].values, lo[0::2] + 0.5 * (hi[1::2] - lo[0::2]))
    assert out["x_ref"].attrs["units"] == prof["x_ref"].attrs["units"]


def test_combine_along_phase_spans_the_edges():
    out = phase_curve().sed.combine("phase")
    assert "phase" not in out.dims
    assert (float(out["phase_min"]), float(out["phase_max"])) == (0.0, 1.0)
    norm, err = _weighted(MU, SIGMA)  # 14 / 10 = 1.4 and 1 / sqrt(10)
    np.testing.assert_allclose([float(out["norm"][0]), float(out["norm_err"][0])], [norm, err], rtol=1e-9)


def test_variability_along_phase():
    ds = phase_curve()
    out = ds.sed.variability(dim="phase")
    mean = _weighted(MU, SIGMA)[0]
    ts_var = np.sum(((MU - mean) / SIGMA) ** 2)  # 0.64 + 1.44 + 0.01 + 0.81 = 2.9 for parabolas
    np.testing.assert_allclose(float(out["ts_var"][0]), ts_var, rtol=1e-7)
    assert int(out["dof"][0]) == 3
    assert (float(out["phase_min"]), float(out["phase_max"])) == (0.0, 1.0)


def test_combine_along_time_as_before():
    """time keeps its scalar edges (the rule now read from the schema)."""
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    out = lc.sed.combine("time")
    assert float(out["time_min"]) == lc["time_min"].values.min()
    assert float(out["time_max"]) == lc["time_max"].values.max()
    assert out["time_min"].attrs["units"] == lc["time_min"].attrs["units"]


# --- building and checking phase coordinates -----------------------------------------------------------
def test_binned_coords_derives_a_missing_centre():
    coords = binned_coords("phase", lo=[0.0, 0.25], hi=[0.25, 1.0])
    np.testing.assert_array_equal(coords["phase"].values, [0.125, 0.625])
    assert coords["phase"].attrs["note"] == derived_centre_note(schema.BINNED_AXES["phase"])


@pytest.mark.parametrize(
    ("lo", "hi", "match"),
    [
        ([0.0, np.nan], [0.5, 1.0], r"coordinate 'phase_min' must be finite; found nan in phase bin 1"),
        ([0.0, 0.6], [0.5, 0.5], r"phase bin 1 has phase_min=0.6 > phase_max=0.5"),
        ([0.0], [0.5, 1.0], "differ in length"),
    ],
)
def test_binned_coords_refuses_bad_bins(lo, hi, match):
    with pytest.raises(fluxds.SchemaError, match=match):
        binned_coords("phase", lo=lo, hi=hi)


def test_phase_beyond_one_and_empty_bins_are_accepted():
    coords = binned_coords("phase", lo=[-0.25, 0.5, 0.5], hi=[0.5, 0.5, 1.25])
    np.testing.assert_array_equal(coords["phase"].values, [0.125, 0.5, 0.875])


def test_validate_checks_the_edges_of_phase():
    ds = phase_curve()
    assert fluxds.validate(ds) is ds
    bad = ds.assign_coords(
        phase_max=("phase", [0.2, 0.45, 0.4, 1.0], ds["phase_max"].attrs),
        phase_min=("phase", [0.0, 0.2, 0.45, np.inf], ds["phase_min"].attrs),
    )
    with pytest.raises(fluxds.SchemaError) as info:
        fluxds.validate(bad)
    problems = info.value.problems
    assert "phase bin 2 has phase_min=0.45 > phase_max=0.4; expected phase_min <= phase_max" in problems
    assert "coordinate 'phase_min' must be finite; found inf at index 3" in problems
