"""Issue 13, item 21: plots of real files that read wrong. The castro plot keeps a log axis when scan points
sit at flux <= 0; an SED of a long light curve gets a time colour bar (or a limited legend), not 34
legend entries; a shared colour scale of a dN/dE map grid shows every band; no upper-limit arrow starts at
a limit <= 0 (a note says so); fractional powers of energy in the axis label read TeV^1.7.

Every check is on the matplotlib objects, against numbers taken by hand from the files' columns."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import astropy.units as u
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import GADF, GAMMAPY_DATA, WRITTEN

import fluxds
from fluxds.plotting import plot_grid, plot_lightcurve, plot_sed, plot_ts_profiles

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LEQ = "\u2264"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _legend_texts(ax) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def _arrow_tops(container) -> np.ndarray:
    """The UL value (top) of each upper-limit arrow of an errorbar container."""
    if container is None:
        return np.array([])
    segments = [s for col in container.lines[2] for s in col.get_segments() if s[0, 0] == s[1, 0]]
    return np.array([max(s[:, 1]) for s in segments])


# -- castro plot: a log axis, scan points at flux <= 0 left out and said so -------------------------------


def test_castro_plot_keeps_a_log_axis_when_scans_reach_zero():
    ds = fluxds.read(GADF / "binlike.fits")  # fermipy-style linear scans, 5 bins starting at norm 0
    assert ds["ref_dnde"].attrs["units"] == "cm-2 s-1 MeV-1"  # plotted in cm-2 s-1 TeV-1: x 1e6
    norm_scan, ref = ds["norm_scan"].values, ds["ref_dnde"].values[:, None] * 1e6
    artists = plot_ts_profiles(ds, "dnde")
    assert artists.ax.get_yscale() == "log"  # HEAD: "linear" for the whole plot
    # left out, by hand: flux <= 0, or below 1e-3 of the bin's largest scan point (a 2.7e-4 norm next to
    # steps of 0.02 in bin 21); 6 points in 6 bins
    flux = norm_scan * ref
    hidden = (flux <= 0) | (flux < 1e-3 * flux.max(axis=1, keepdims=True))
    assert hidden.sum() == artists.hidden == 6 and hidden.any(axis=1).sum() == 6
    assert artists.notes == [f"6 scan points at flux {LEQ} 0 or \u2248 0 (6 bins) not shown on the log axis"]
    assert _legend_texts(artists.ax) == artists.notes
    # the cells drawn are Δstat = stat_scan - stat of the other points (by hand), the left-out ones masked
    cells = artists.mesh.get_array()[:, ::2]
    delta = (ds["stat_scan"] - ds["stat"]).values
    np.testing.assert_array_equal(cells.mask, hidden.T)
    np.testing.assert_allclose(cells.filled(np.nan)[~hidden.T], delta.T[~hidden.T], rtol=1e-12)
    # every cell edge is finite and > 0; between two shown scan points it is their geometric mean (the
    # mid-point on the log axis), and a left-out point's cell has zero height
    y_edges = artists.mesh.get_coordinates()[:, ::2, 1].T  # (energy, scan + 1)
    assert np.all(np.isfinite(y_edges)) and np.all(y_edges > 0)
    both = ~hidden[:, 1:] & ~hidden[:, :-1]
    np.testing.assert_allclose(y_edges[:, 1:-1][both], np.sqrt(flux[:, 1:] * flux[:, :-1])[both], rtol=1e-9)
    np.testing.assert_array_equal(y_edges[:, 1:][hidden], y_edges[:, :-1][hidden])
    # the axis reaches down to the smallest point shown, not to the left-out ones
    assert artists.ax.get_ylim()[0] < flux[~hidden].min() and artists.ax.get_ylim()[0] > 0


def test_castro_plot_of_a_scan_over_negative_norms():
    # gammapy's TS map scans norms from -100 to 100 per pixel: the negative half has no place on a log axis
    ds = fluxds.read(WRITTEN / "fm_ts.fits").isel(lat=5, lon=6)
    artists = plot_ts_profiles(ds, "dnde")
    assert artists.ax.get_yscale() == "log"
    flux = (ds["norm_scan"] * ds["ref_dnde"]).transpose("energy", "scan").values
    hidden = (flux <= 0) | (flux < 1e-3 * flux.max(axis=1, keepdims=True))
    assert artists.hidden == hidden.sum() > 40  # about half of the 2 x 109 points
    np.testing.assert_array_equal(artists.mesh.get_array()[:, ::2].mask, hidden.T)
    # a file whose scans are all > 0 gets no note and no legend (the plot as before)
    crab = plot_ts_profiles(fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits"), "dnde", ax=plt.figure().gca())
    assert crab.hidden == 0 and crab.notes == [] and crab.ax.get_legend() is None


# -- an SED of a light curve: a time colour bar, or a legend of at most 10 entries -------------------------


def test_sed_of_a_34_bin_light_curve_colours_by_time():
    lc = fluxds.read(GAMMAPY_DATA / "pks2155_hess_lc.fits")  # 34 time bins x 1 energy bin
    artists = plot_sed(lc, "e2dnde")
    assert len(artists.series) == lc.sizes["time"] == 34
    assert len(_legend_texts(artists.ax)) <= 10  # HEAD: 34 entries covering the plot
    # one colour bar of the bin centres in MJD (by hand from time_min/time_max, MJD numbers in TT)
    centres = (lc.time_min.values + lc.time_max.values) / 2
    norm = artists.colorbar.mappable.norm
    assert (norm.vmin, norm.vmax) == pytest.approx((centres.min(), centres.max()), abs=1e-9)
    assert artists.colorbar.ax.get_ylabel() == "Time [MJD, TT]"
    # each series in the colour of its time bin
    cmap = artists.colorbar.mappable.get_cmap()
    for series, centre in zip(artists.series, centres, strict=True):
        assert series.label is None
        colour = series.points.lines[0].get_color()
        np.testing.assert_allclose(matplotlib.colors.to_rgba(colour), cmap(norm(centre)), atol=1e-12)


def test_sed_of_many_sources_has_a_limited_legend():
    crab = fluxds.read(fluxds.demo_path())
    many = xr.concat([crab] * 12, dim=pd.Index([f"src{i}" for i in range(12)], name="source"))
    artists = plot_sed(many, "dnde")
    texts = _legend_texts(artists.ax)
    assert texts == [f"source=src{i}" for i in range(9)] + ["\u2026 and 3 more"]  # HEAD: 12 entries
    assert len(artists.series) == 12 and artists.colorbar is None  # sources: no colour scale


# -- a shared colour scale of a dN/dE grid shows every band --------------------------------------------------


@pytest.mark.parametrize(("name", "kind"), [("fm_excess_dnde", "SymLogNorm"), ("fm_hpx", "LogNorm")])
def test_grid_shared_scale_shows_every_band(name, kind):
    ds = fluxds.read(WRITTEN / f"{name}.fits")
    artists = plot_grid(ds, "dnde")  # defaults: one shared scale
    (norm,) = {id(im.norm): im.norm for im in artists.images}.values()  # one norm for every panel
    values = ds.sed.dnde.values.reshape(ds.sizes["energy"], -1)
    for band in values:  # dN/dE falls by decades band to band (fm_excess: 3.9e-8, 1.8e-9, 5.7e-11 at most)
        finite = band[np.isfinite(band)]
        assert norm.vmin <= finite.min() and norm.vmax >= finite.max()
        # each band spans 10 % of the colour map or more (HEAD, linear: 0.2 % for the highest band)
        assert float(norm(finite.max())) - float(norm(finite.min())) > 0.1
    assert type(norm).__name__ == kind
    # no overlapping colour-bar ticks inside the symlog linear range, but 0
    if kind == "SymLogNorm":
        ticks = artists.colorbars[0].get_ticks()
        assert np.all((ticks == 0) | (np.abs(ticks) >= norm.linthresh))


def test_grid_auto_scale_stays_linear_for_similar_bands():
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    norm = plot_grid(ds, "sqrt_ts").images[0].norm  # band peaks 26, 12, 4: within a factor 10
    assert type(norm).__name__ == "Normalize"
    with pytest.raises(fluxds.FluxdsError, match="norm is 'cubic'"):
        plot_grid(ds, "sqrt_ts", norm="cubic")


# -- no upper-limit arrow from a limit <= 0 ------------------------------------------------------------------


def test_no_upper_limit_arrow_starts_at_or_below_zero():
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")  # night 4, band 1: norm_ul = -0.068 (gammapy's)
    ul = (lc["norm_ul"] * lc["ref_flux"]).transpose("energy", "time").values  # by hand, cm-2 s-1
    is_ul = lc["is_ul"].transpose("energy", "time").values
    assert (is_ul & (ul <= 0)).sum() == 1
    artists = plot_lightcurve(lc, "flux")  # linear y axis; HEAD drew an arrow from -6.6e-14
    tops = np.concatenate([_arrow_tops(s.upper_limits) for s in artists.series])
    assert tops.size == (is_ul & (ul > 0)).sum() and np.all(tops > 0)
    np.testing.assert_allclose(np.sort(tops), np.sort(ul[is_ul & (ul > 0)]), rtol=1e-12)
    assert artists.notes == [f"1 upper limit {LEQ} 0 not drawn"]
    assert _legend_texts(artists.ax)[-1] == artists.notes[0]
    for sed_type in ("norm", "e2dnde"):  # the SED, on a linear and on a log axis
        sed = plot_sed(lc, sed_type, ax=plt.figure().gca())
        tops = np.concatenate([_arrow_tops(s.upper_limits) for s in sed.series])
        assert tops.size == (is_ul & (ul > 0)).sum() and np.all(tops > 0)
        assert sed.notes == [f"1 upper limit {LEQ} 0 not drawn"] and sed.notes[0] in _legend_texts(sed.ax)


# -- fractional powers of energy in the axis label -----------------------------------------------------------


def test_fractional_energy_power_label():
    fp = fluxds.read(WRITTEN / "fp_dnde.fits")
    artists = plot_sed(fp, "dnde", energy_power=2.7)
    label = artists.ax.get_ylabel()
    assert label == r"$E^{2.7}$ $dN/dE$ [$\mathrm{TeV^{1.7}\,cm^{-2}\,s^{-1}}$]"  # HEAD: TeV(17/10) / (s cm2)
    assert "17/10" not in label
    # the unit text reads back as the unit; the values are dN/dE * E^2.7 (E in TeV), by hand
    assert u.Unit(artists.unit) == u.TeV**1.7 / u.cm**2 / u.s
    keep = ~fp["is_ul"].values & np.isfinite(fp["norm"].values)
    hand = (fp["norm"] * fp["ref_dnde"]).values * fp["energy"].values ** 2.7  # ref_dnde in cm-2 s-1 TeV-1
    assert fp["energy"].attrs["units"] == "TeV" and fp["ref_dnde"].attrs["units"] == "cm-2 s-1 TeV-1"
    np.testing.assert_allclose(artists.series[0].points.lines[0].get_ydata(), hand[keep], rtol=1e-12)
    # integer powers keep fluxds's plain unit text
    assert plot_sed(fp, "dnde", energy_power=2, ax=plt.figure().gca()).ax.get_ylabel() == (
        "$E^{2}$ $dN/dE$ [TeV cm-2 s-1]"
    )
