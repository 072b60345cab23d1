"""Plots: the artists drawn, checked against gammapy's numbers (expected.json), hand calculations and the
raw variables of the files; never against pixels.

The last section (issue 13, item 21): plots of real files that read wrong. The castro plot keeps a log
axis when scan points sit at flux <= 0; an SED of a long light curve gets a time colour bar (or a limited
legend), not 34 legend entries; a shared colour scale of a dN/dE map grid shows every band; no upper-
limit arrow starts at a limit <= 0 (a note says so); fractional powers of energy in the axis label read
TeV^1.7.

Every check is on the matplotlib objects, against numbers taken by hand from the files' columns.
"""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import subprocess
import sys

import astropy.units as u
import matplotlib
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from helpers import GADF, GAMMAPY_DATA, WRITTEN

import fluxds
from fluxds.cli import main
from fluxds.models import PowerLaw
from fluxds.plotting import plot_grid, plot_lightcurve, plot_sed, plot_ts_profiles

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ERG_TO_TEV = 1 / 1.602176634  # 1 erg = 1e7 J/1.602176634e-19 J/eV = 0.6241509... TeV


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def fp():
    return fluxds.read(WRITTEN / "fp_likelihood.fits")


@pytest.fixture(scope="module")
def lc():
    return fluxds.read(WRITTEN / "lc_likelihood.fits")


def _arrows(container) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, top (the UL value) and bottom (the arrow head) of each upper-limit arrow of an errorbar."""
    (carets,) = [line for line in container.lines[1] if line.get_marker() == matplotlib.lines.CARETDOWNBASE]
    segments = [s for col in container.lines[2] for s in col.get_segments() if s[0, 0] == s[1, 0]]
    tops = np.array([max(s[:, 1]) for s in segments])
    return np.asarray(carets.get_xdata(), float), tops, np.asarray(carets.get_ydata(), float)


def _vertical_bars(container) -> np.ndarray:
    """(n, 2) lower/upper ends of the vertical error bars of an errorbar container."""
    segs = [s for col in container.lines[2] for s in col.get_segments() if s[0, 0] == s[1, 0]]
    return np.array([sorted(s[:, 1]) for s in segs])


def test_import_fluxds_does_not_import_matplotlib():
    code = "import sys, fluxds, fluxds.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_sed_points_and_upper_limits_are_gammapys(fp, expected):
    """y data = gammapy's e2dnde, arrows start at gammapy's e2dnde_ul, one per is_ul point."""
    q = expected["fp_likelihood.fits"]["quantities"]
    is_ul = np.array(q["is_ul"]["values"])
    artists = plot_sed(fp, "e2dnde")
    series = artists.series[0]
    x, y = (np.asarray(a, float) for a in series.points.lines[0].get_data())
    np.testing.assert_allclose(y, np.array(q["e2dnde"]["values"])[~is_ul], rtol=1e-12)
    energy = np.array(expected["fp_likelihood.fits"]["geometry"]["energy_ref_TeV"])
    np.testing.assert_allclose(x, energy[~is_ul], rtol=1e-12)
    ax_, tops, heads = _arrows(series.upper_limits)
    assert len(ax_) == int(fp.sed.is_ul.sum()) == is_ul.sum() == 3
    np.testing.assert_allclose(tops, np.array(q["e2dnde_ul"]["values"])[is_ul], rtol=1e-12)
    assert np.all(heads < tops)  # arrows point down from the UL
    # asymmetric y errors: y - errn .. y + errp
    bars = _vertical_bars(series.points)
    lo = y - np.array(q["e2dnde_errn"]["values"])[~is_ul]
    hi = y + np.array(q["e2dnde_errp"]["values"])[~is_ul]
    np.testing.assert_allclose(bars, np.stack([lo, hi], axis=1), rtol=1e-12)


def test_sed_x_error_bars_are_bin_edges(fp, expected):
    geometry = expected["fp_likelihood.fits"]["geometry"]
    series = plot_sed(fp, "flux", ul="hide").series[0]
    segs = [s for col in series.points.lines[2] for s in col.get_segments() if s[0, 1] == s[1, 1]]
    edges = np.array([sorted(s[:, 0]) for s in segs])
    keep = ~np.array(expected["fp_likelihood.fits"]["quantities"]["is_ul"]["values"])
    np.testing.assert_allclose(edges[:, 0], np.array(geometry["energy_min_TeV"])[keep], rtol=1e-12)
    np.testing.assert_allclose(edges[:, 1], np.array(geometry["energy_max_TeV"])[keep], rtol=1e-12)
    assert series.upper_limits is None


def test_sed_labels_carry_units(fp):
    artists = plot_sed(fp, "dnde", energy_unit="GeV")
    assert artists.ax.get_xlabel() == "Energy [GeV]"
    assert "[cm-2 s-1 TeV-1]" in artists.ax.get_ylabel()
    assert artists.ax.get_xscale() == artists.ax.get_yscale() == "log"
    x = artists.series[0].points.lines[0].get_xdata()
    np.testing.assert_allclose(x, 1000 * fp.energy.values[~fp.is_ul.values], rtol=1e-12)


def test_sed_energy_power(fp, expected):
    """dnde * E^2 in TeV cm-2 s-1 is gammapy's e2dnde (erg cm-2 s-1) converted by hand."""
    q = expected["fp_likelihood.fits"]["quantities"]
    keep = ~np.array(q["is_ul"]["values"])
    artists = plot_sed(fp, "dnde", energy_power=2, ul="hide")
    y = artists.series[0].points.lines[0].get_ydata()
    np.testing.assert_allclose(y, np.array(q["e2dnde"]["values"])[keep] * ERG_TO_TEV, rtol=1e-9)
    assert artists.ax.get_ylabel() == "$E^{2}$ $dN/dE$ [TeV cm-2 s-1]"
    artists = plot_sed(fp, "dnde", energy_power=2, ul="hide", flux_unit="erg cm-2 s-1", ax=plt.figure().gca())
    y = artists.series[0].points.lines[0].get_ydata()
    np.testing.assert_allclose(y, np.array(q["e2dnde"]["values"])[keep], rtol=1e-9)


def test_sed_ul_only(fp):
    artists = plot_sed(fp, "flux", ul="only")
    assert artists.series[0].points is None
    assert len(_arrows(artists.series[0].upper_limits)[0]) == int(fp.sed.is_ul.sum())
    with pytest.raises(fluxds.FluxdsError, match="ul is 'sometimes'"):
        plot_sed(fp, "flux", ul="sometimes")


def test_sed_one_series_per_time_bin_with_legend(lc, expected):
    artists = plot_sed(lc, "dnde")
    assert len(artists.series) == lc.sizes["time"] == 4
    legend = [t.get_text() for t in artists.ax.get_legend().get_texts()]
    assert legend[0] == "time=2021-03-01T22:00"
    # gammapy's dnde (its flux/eflux of a likelihood file re-integrate a template: see test_expected_gammapy)
    flux = np.array(expected["lc_likelihood.fits"]["quantities"]["dnde"]["values"])  # (time, energy)
    is_ul = np.array(expected["lc_likelihood.fits"]["quantities"]["is_ul"]["values"])
    for i, series in enumerate(artists.series):
        plotted = series.points.lines[0].get_ydata() if series.points is not None else []
        np.testing.assert_allclose(plotted, flux[i][~is_ul[i] & (flux[i] > 0)], rtol=1e-12)


def test_sed_model_curves_power_law(fp):
    """Smooth dnde curve and bin-integrated flux steps of a power law, against its closed forms."""
    amplitude, index = 1e-11, 2.5
    model = PowerLaw(index=index, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    artists = plot_sed(fp, "dnde", model=model)
    (line,) = artists.model
    e = np.asarray(line.get_xdata())
    np.testing.assert_allclose(line.get_ydata(), amplitude * e**-index, rtol=1e-10)
    assert e.min() == pytest.approx(fp.energy_min.values.min()) and e.max() == pytest.approx(
        fp.energy_max.max()
    )
    artists = plot_sed(fp, "flux", model=model, ax=plt.figure().gca())
    (steps,) = artists.model
    segs = np.array(steps.get_segments())  # (bin, 2 ends, xy)
    lo, hi = fp.energy_min.values, fp.energy_max.values
    hand = amplitude / (index - 1) * (lo ** (1 - index) - hi ** (1 - index))
    np.testing.assert_allclose(segs[:, 0, 1], hand, rtol=1e-9)
    np.testing.assert_allclose(segs[:, :, 0], np.stack([lo, hi], axis=1), rtol=1e-12)


def test_sed_reference_model_and_old_dict_api():
    ds = fluxds.read(fluxds.demo_path())
    artists = plot_sed(ds, "e2dnde", model="reference")
    assert artists["points"] is artists.series[0].points  # fluxds.demo / the quickstart notebook use this
    (line,) = artists.model
    assert line.get_label() == "reference"
    # the template reference model passes through the stored reference at e_ref
    e = ds.energy.values
    ref = ds.sed.e2dnde_ref.values
    np.testing.assert_allclose(np.interp(np.log(e), np.log(line.get_xdata()), np.log(line.get_ydata())),
                               np.log(ref), atol=2e-2)  # fmt: skip


def test_profiles_mesh_is_delta_stat():
    ds = fluxds.read(fluxds.demo_path())
    artists = plot_ts_profiles(ds, "dnde")
    cells = artists.mesh.get_array()
    delta = (ds["stat_scan"] - ds["stat"]).values.T  # (scan, energy), by hand from the stored variables
    np.testing.assert_allclose(cells[:, ::2].filled(np.nan), delta, equal_nan=True)
    assert cells[:, 1::2].mask.all()  # gaps between bins
    # each cell spans its own scan point: the scan grid is geometric, so the cell centre (geometric mean of
    # its y edges) is norm_scan * ref_dnde of that bin
    corners = artists.mesh.get_coordinates()  # (scan + 1, 2 n, 2)
    y_edges = corners[:, ::2, 1]
    centres = np.sqrt(y_edges[1:] * y_edges[:-1])
    np.testing.assert_allclose(centres, (ds["norm_scan"] * ds["ref_dnde"]).values.T, rtol=1e-9)
    np.testing.assert_allclose(corners[0, ::2, 0], ds.energy_min.values)
    np.testing.assert_allclose(corners[0, 1::2, 0], ds.energy_max.values)
    assert "[cm-2 s-1 TeV-1]" in artists.ax.get_ylabel()
    assert "stat" in artists.colorbar.ax.get_ylabel()


def test_profiles_along_time_after_selection():
    lc = fluxds.read(GAMMAPY_DATA / "pks2155_hess_lc.fits")
    artists = plot_ts_profiles(lc.isel(energy=0), "flux")
    assert artists.dim == "time"
    corners = artists.mesh.get_coordinates()
    np.testing.assert_allclose(corners[0, ::2, 0], lc.time_min.values)  # MJD numbers (units d, ref 0)
    np.testing.assert_allclose(corners[0, 1::2, 0], lc.time_max.values)
    delta = (lc["stat_scan"] - lc["stat"]).isel(energy=0).values.T
    np.testing.assert_allclose(artists.mesh.get_array()[:, ::2].filled(np.nan), delta, equal_nan=True)


def test_profiles_need_one_bin_dimension(lc):
    with pytest.raises(fluxds.FluxdsError, match="select the others first"):
        plot_ts_profiles(lc)
    assert plot_ts_profiles(lc.isel(time=1), ax=plt.figure().gca()).dim == "energy"


def test_lightcurve_x_is_mjd_bin_centre(lc, expected):
    geometry = expected["lc_likelihood.fits"]["geometry"]
    centres = (np.array(geometry["time_min_mjd"]) + np.array(geometry["time_max_mjd"])) / 2
    artists = plot_lightcurve(lc, "dnde", ul="hide")
    assert len(artists.series) == lc.sizes["energy"] == 3
    q = expected["lc_likelihood.fits"]["quantities"]
    flux, is_ul = np.array(q["dnde"]["values"]), np.array(q["is_ul"]["values"])
    for band, series in enumerate(artists.series):
        keep = ~is_ul[:, band]
        x, y = series.points.lines[0].get_data()
        np.testing.assert_allclose(x, centres[keep], rtol=0, atol=1e-9)
        np.testing.assert_allclose(y, flux[keep, band], rtol=1e-12)
    assert artists.ax.get_xlabel() == "Time [MJD, TT]"
    assert artists.ax.get_ylabel() == "$dN/dE$ [cm-2 s-1 TeV-1]"
    assert [t.get_text() for t in artists.ax.get_legend().get_texts()][0] == "0.316 - 1 TeV"


def test_lightcurve_upper_limits_and_energy_band(lc):
    artists = plot_lightcurve(lc, "eflux", energy=2)
    assert len(artists.series) == 1
    x, tops, _ = _arrows(artists.series[0].upper_limits)
    is_ul = lc["is_ul"].isel(energy=2).values
    assert len(x) == is_ul.sum() > 0
    hand = (lc["norm_ul"] * lc["ref_eflux"]).isel(energy=2).values  # the GADF rule, stored columns
    np.testing.assert_allclose(tops, hand[is_ul], rtol=1e-12)
    assert artists.ax.get_ylabel() == "Energy flux [erg cm-2 s-1]"
    with pytest.raises(fluxds.FluxdsError, match="energy is 5"):
        plot_lightcurve(lc, energy=5)


def test_lightcurve_iso_and_met(lc):
    import matplotlib.dates as mdates

    keep = ~lc["is_ul"].isel(energy=0).values
    artists = plot_lightcurve(lc, ul="hide", energy=0, time_format="iso")
    x = artists.series[0].points.lines[0].get_xdata()
    np.testing.assert_allclose(x, mdates.date2num(lc.time.values[keep]), atol=1e-8)  # the datetime64 centres
    artists = plot_lightcurve(lc, ul="hide", energy=0, time_format="met", ax=plt.figure().gca())
    x = artists.series[0].points.lines[0].get_xdata()
    # the GTI reference of this file is MJD 51544 (TT): seconds since then, by hand
    hand = ((lc.time_min.values + lc.time_max.values) / 2 - 51544.0) * 86400.0
    np.testing.assert_allclose(x, hand[keep], rtol=0, atol=1e-3)
    assert "51544" in artists.ax.get_xlabel()


def test_grid_wcs_panels(expected):
    from astropy.visualization.wcsaxes import WCSAxes

    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    artists = plot_grid(ds, "dnde")
    assert len(artists.axes) == ds.sizes["energy"] == 3
    assert all(isinstance(ax, WCSAxes) for ax in artists.axes)
    for i, image in enumerate(artists.images):
        np.testing.assert_array_equal(image.get_array().filled(np.nan), ds.sed.dnde.isel(energy=i).values)
    # pixel (ix, iy) = (0, 0) at the lower left carries the lon/lat of the first row and column
    lon, lat = artists.axes[0].wcs.pixel_to_world_values(0, 0)
    assert (lon + 180) % 360 - 180 == pytest.approx(float(ds.lon[0])) and lat == pytest.approx(
        float(ds.lat[0])
    )
    assert len(artists.colorbars) == 1 and "[cm-2 s-1 TeV-1]" in artists.colorbars[0].ax.get_ylabel()
    limits = {(im.norm.vmin, im.norm.vmax) for im in artists.images}
    values = ds.sed.dnde.values
    assert limits == {(np.nanmin(values), np.nanmax(values))}
    assert [ax.get_title() for ax in artists.axes][0] == "10 - 29.1 GeV"  # 1e7 - 2.9064e7 keV


def test_grid_per_panel_scales_and_log():
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    artists = plot_grid(ds, "sqrt_ts", share_scale=False, ncols=1)
    assert len(artists.colorbars) == len(artists.axes) == 2
    for i, image in enumerate(artists.images):
        values = ds.sed.sqrt_ts.isel(energy=i).values
        assert (image.norm.vmin, image.norm.vmax) == (np.nanmin(values), np.nanmax(values))
    artists = plot_grid(ds, "flux", norm="log")
    flux = ds.sed.flux.values
    assert artists.images[0].norm.vmin == flux[flux > 0].min()


def test_grid_healpix_rasterisation_takes_pixel_values():
    from fluxds.plotting.healpix import rasterize

    ds = fluxds.read(WRITTEN / "fm_hpx.fits")
    artists = plot_grid(ds, "sqrt_ts")
    assert len(artists.axes) == ds.sizes["energy"] == 2
    lon, lat, image, view = rasterize(ds.sed.sqrt_ts)
    assert view == "cartesian"  # 56 of 3072 pixels
    # the grid point nearest each pixel centre lies inside that pixel: it shows that pixel's value
    pix_lon = (ds.sky_lon.values + 180) % 360 - 180
    i = np.abs(lat[:, None] - ds.sky_lat.values).argmin(axis=0)
    j = np.abs(lon[:, None] - pix_lon).argmin(axis=0)
    np.testing.assert_array_equal(image[:, i, j], ds.sqrt_ts.values)
    assert np.isnan(image).any()  # outside the partial-sky disk
    np.testing.assert_array_equal(artists.images[1].get_array().filled(np.nan), image[1])
    allsky = plot_grid(ds, "sqrt_ts", view="mollweide")
    assert allsky.axes[0].name == "mollweide"


def test_grid_refuses_non_maps(fp):
    with pytest.raises(fluxds.FluxdsError, match="needs a sky map"):
        plot_grid(fp)


def test_plain_xarray_facets_on_a_map():
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    grid = ds.sed.dnde.plot(col="energy")
    assert type(grid).__name__ == "FacetGrid"
    assert grid.axs.size == ds.sizes["energy"]


def test_accessor_delegates(fp, lc):
    assert fp.sed.plot("flux").series[0].points is not None
    assert fp.sed.plot_ts_profiles(ax=plt.figure().gca()).dim == "energy"
    assert len(lc.sed.plot_lightcurve(ax=plt.figure().gca()).series) == 3
    assert len(fluxds.read(WRITTEN / "fm_hpx.fits").sed.plot_grid("flux").axes) == 2


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("gammapy-data/crab_hess_fp.fits", "sed"),
        ("gammapy-written/lc_likelihood.fits", "lightcurve"),
        ("gammapy-written/fm_excess.fits", "grid"),
        ("gammapy-written/fm_hpx.fits", "grid"),
    ],
)
def test_cli_plot_writes_a_png(tmp_path, capsys, name, kind):
    out = tmp_path / "plot.png"
    assert main(["plot", str(WRITTEN.parent / name), "-o", str(out)]) == 0
    assert f"({kind} plot)" in capsys.readouterr().out
    image = plt.imread(out)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    assert main(["plot", str(WRITTEN.parent / name), "-o", str(out)]) == 1  # exists, no --overwrite
    assert "--overwrite" in capsys.readouterr().err


def test_cli_plot_failures(tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["plot", str(WRITTEN / "lc_likelihood.fits"), "-o", str(out), "--kind", "profiles"]) == 1
    assert "select the others first" in capsys.readouterr().err
    # a usage error (exit 2): the command line knows the SED types
    assert main(["plot", str(WRITTEN / "fm_hpx.fits"), "-o", str(out), "--sed-type", "bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert not out.exists()
    assert main(["plot", str(GAMMAPY_DATA / "crab_hess_fp.fits"), "-o", str(out), "--kind", "profiles",
                 "--sed-type", "e2dnde"]) == 0  # fmt: skip
    assert plt.imread(out).shape[2] in (3, 4)


def test_sed_one_series_per_source():
    import pandas as pd
    import xarray as xr

    crab = fluxds.read(fluxds.demo_path())
    two = xr.concat([crab, crab.assign(norm=crab.norm * 2)], dim=pd.Index(["a", "b"], name="source"))
    artists = plot_sed(two, "dnde")
    assert [s.label for s in artists.series] == ["source=a", "source=b"]
    ya, yb = (s.points.lines[0].get_ydata() for s in artists.series)
    np.testing.assert_allclose(yb, 2 * ya, rtol=1e-12)  # the second source has twice the norm
    keep = np.isfinite(crab.norm.values)
    np.testing.assert_allclose(ya, (crab.norm * crab.ref_dnde).values[keep], rtol=1e-12)


def test_lightcurve_met_needs_a_reference():
    from fluxds.timeaxis import time_coords

    lc = fluxds.from_sed(
        "flux",
        {"flux": [[1e-11], [2e-11]] * u.Unit("cm-2 s-1")},
        energy_min=[1] * u.TeV,
        energy_max=[10] * u.TeV,
        dims=("time", "energy"),
        coords=time_coords(time_min=[59000, 59001], time_max=[59001, 59002], scale="tt"),
    )
    with pytest.raises(fluxds.FluxdsError, match="time_format='met' needs a reference time"):
        plot_lightcurve(lc, time_format="met")
    with pytest.raises(fluxds.FluxdsError, match="time_format is 'jd'"):
        plot_lightcurve(lc, time_format="jd")


# --- plots of real files that read wrong (issue 13, item 21) ------------------------------------------
LEQ = "\u2264"


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
