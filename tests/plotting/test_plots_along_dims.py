"""The light-curve and castro plots along ``phase``, ``region`` and ``source`` as along ``time`` (issue 15
item 3): checked on the matplotlib artists (points, error bars, mesh corners, tick labels), against the
coordinates of the Datasets."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import astropy.units as u
import matplotlib
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN

import fluxds
from fluxds.axes import binned_coords
from fluxds.models import PowerLaw
from fluxds.plotting import plot_lightcurve, plot_ts_profiles
from fluxds.plotting.lightcurve import DODGE

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PL = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
LO = np.array([0.0, 0.1, 0.25, 0.5, 0.8])
HI = np.array([0.1, 0.25, 0.5, 0.8, 1.0])
CENTRE = LO + 0.5 * (HI - LO)
NAMES = ["Crab", "PKS 2155-304", "Mrk 421"]


@pytest.fixture(autouse=True)
def _close_figures():
    plt.close("all")  # a figure another test left open would be the current axes of the plots below
    yield
    plt.close("all")


def _scanned(mu: np.ndarray, dims, coords) -> xr.Dataset:
    scan = np.broadcast_to(np.linspace(0.0, 4.0, 9), (*mu.shape, 9))
    return fluxds.from_likelihood(
        mu,
        norm_err=0.1 * mu,
        energy_min=[1, 3] * u.TeV,
        energy_max=[3, 10] * u.TeV,
        reference_model=PL,
        dims=dims,
        coords=coords,
        norm_scan=scan,
        stat_scan=((scan - mu[..., None]) / (0.1 * mu[..., None])) ** 2,
    )


@pytest.fixture(scope="module")
def phase():
    mu = np.array([1.0, 2.0, 1.5, 0.5, 3.0])[:, None] * [1.0, 0.8]
    return _scanned(mu, ("phase", "energy"), binned_coords("phase", centre=CENTRE, lo=LO, hi=HI))


@pytest.fixture(scope="module")
def sources():
    mu = np.array([1.0, 2.0, 0.5])[:, None] * [1.0, 0.8]
    return _scanned(mu, ("source", "energy"), {"source": NAMES})


@pytest.fixture(scope="module")
def profile():
    return fluxds.read(WRITTEN / "profile_likelihood.fits")  # 8 regions along x_ref, 2 energy bins


def _x_extent(container) -> np.ndarray:
    """(lo, hi) of each horizontal error bar of an errorbar container."""
    segs = [s for col in container.lines[2] for s in col.get_segments() if s[0, 1] == s[1, 1]]
    return np.array([[min(s[:, 0]), max(s[:, 0])] for s in segs])


# --- the light-curve plot ------------------------------------------------------------------------------
def test_lightcurve_along_phase(phase):
    artists = plot_lightcurve(phase, dim="phase")
    assert len(artists.series) == 2  # one series per energy band
    for i, series in enumerate(artists.series):
        np.testing.assert_array_equal(series.points.lines[0].get_xdata(), CENTRE)
        np.testing.assert_allclose(
            series.points.lines[0].get_ydata(), phase.sed.flux.values[:, i], rtol=1e-12
        )
        np.testing.assert_allclose(_x_extent(series.points), np.stack([LO, HI], axis=1), rtol=0, atol=1e-15)
    assert artists.ax.get_xlabel() == "Phase"
    assert [t.get_text() for t in artists.ax.get_legend().get_texts()] == ["1 - 3 TeV", "3 - 10 TeV"]


def test_lightcurve_along_phase_through_the_accessor(phase):
    artists = phase.isel(energy=[1]).sed.plot_lightcurve(dim="phase", sed_type="norm")
    (series,) = artists.series
    np.testing.assert_array_equal(series.points.lines[0].get_ydata(), phase["norm"].values[:, 1])


def test_lightcurve_along_region_places_regions_by_distance(profile):
    artists = plot_lightcurve(profile, dim="region", ul="hide")
    assert artists.ax.get_xlabel() == "Projected distance [degree]"
    x_ref, lo, hi = (profile[n].values for n in ("x_ref", "x_min", "x_max"))
    for i, series in enumerate(artists.series):
        shown = ~profile["is_ul"].values[:, i] & np.isfinite(profile.sed.flux.values[:, i])
        np.testing.assert_array_equal(series.points.lines[0].get_xdata(), x_ref[shown])
        np.testing.assert_allclose(_x_extent(series.points), np.stack([lo, hi], axis=1)[shown], atol=1e-12)


def test_lightcurve_along_region_without_distances_is_categorical(profile):
    bare = profile.drop_vars(["x_ref", "x_min", "x_max"])
    artists = plot_lightcurve(bare, dim="region", ul="hide")
    labels = [t.get_text() for t in artists.ax.get_xticklabels()]
    assert labels == [str(r) for r in profile["region"].values]
    assert artists.series[0].points.lines[0].get_xdata().max() <= len(labels) - 1 + DODGE


def test_lightcurve_along_source_is_categorical(sources):
    artists = plot_lightcurve(sources, dim="source")
    assert [t.get_text() for t in artists.ax.get_xticklabels()] == NAMES
    assert artists.ax.get_xlabel() == "Source"
    x0 = artists.series[0].points.lines[0].get_xdata()
    x1 = artists.series[1].points.lines[0].get_xdata()
    np.testing.assert_allclose(x0, np.arange(3) - DODGE)  # the two bands side by side in each category
    np.testing.assert_allclose(x1, np.arange(3) + DODGE)
    assert artists.series[0].points.has_xerr is False


def test_lightcurve_needs_the_dimension(phase):
    with pytest.raises(fluxds.FluxdsError, match="along 'region' needs a 'region' dimension"):
        plot_lightcurve(phase, dim="region")
    with pytest.raises(fluxds.FluxdsError, match="a light curve needs a 'time' dimension"):
        plot_lightcurve(phase)  # the default stays time


# --- the castro plot -----------------------------------------------------------------------------------
def _corners(artists) -> np.ndarray:
    """The x corners of each bin's column: (n_bins, 2)."""
    x = artists.mesh.get_coordinates()[0, :, 0]  # lo0 hi0 lo1 hi1 ...
    return x.reshape(-1, 2)


def test_castro_along_phase(phase):
    one = phase.isel(energy=0)
    artists = plot_ts_profiles(one, "norm")  # the one bin dimension left: found without dim=
    assert artists.dim == "phase"
    assert artists.mesh.get_array().shape == (9, 2 * 5 - 1)
    np.testing.assert_array_equal(_corners(artists), np.stack([LO, HI], axis=1))
    assert artists.ax.get_xlabel() == "Phase" and artists.ax.get_xscale() == "linear"
    cells = artists.mesh.get_array()[:, ::2]  # column 2 i: bin i's delta stat along the scan
    delta = one["stat_scan"].values - one["stat_scan"].values.min(axis=-1, keepdims=True)
    np.testing.assert_allclose(cells[1:].filled(np.nan), delta.T[1:], rtol=1e-12)
    assert cells[0].mask.all() and artists.hidden == 5  # norm 0 has no place on the log axis


def test_castro_along_source(sources):
    artists = sources.isel(energy=1).sed.plot_ts_profiles(dim="source")
    assert artists.dim == "source"
    assert [t.get_text() for t in artists.ax.get_xticklabels()] == NAMES
    np.testing.assert_allclose(_corners(artists), np.stack([np.arange(3) - 0.4, np.arange(3) + 0.4], axis=1))


def test_castro_along_region(profile):
    artists = plot_ts_profiles(profile.isel(energy=0), dim="region")
    np.testing.assert_array_equal(
        _corners(artists), np.stack([profile.x_min.values, profile.x_max.values], 1)
    )
    assert artists.ax.get_xlabel() == "Projected distance [degree]"


def test_castro_along_region_from_centres_only(profile):
    bare = profile.isel(energy=0).drop_vars(["x_min", "x_max"])
    artists = plot_ts_profiles(bare, dim="region")
    x = profile["x_ref"].values
    mid = 0.5 * (x[1:] + x[:-1])  # columns meet half-way between neighbouring centres
    np.testing.assert_allclose(_corners(artists)[1:, 0], mid)
    np.testing.assert_allclose(_corners(artists)[:-1, 1], mid)


def test_castro_refuses_two_bin_dimensions(phase):
    with pytest.raises(fluxds.FluxdsError, match=r"select one bin of \['energy'\] first"):
        plot_ts_profiles(phase, dim="phase")
    with pytest.raises(fluxds.FluxdsError, match="select the others first"):
        plot_ts_profiles(phase)
    with pytest.raises(fluxds.FluxdsError, match="along 'scan' needs"):
        plot_ts_profiles(phase.isel(energy=0), dim="scan")


def test_the_plot_command_draws_a_phase_curve(tmp_path, phase):
    from fluxds.plotting.command import choose_kind, plot_file

    path = tmp_path / "pc.fits"
    phase.sed.write(path)
    assert choose_kind(fluxds.read(path)) == "lightcurve"
    assert plot_file(path, tmp_path / "pc.png") == "lightcurve"
    assert (tmp_path / "pc.png").stat().st_size > 0
