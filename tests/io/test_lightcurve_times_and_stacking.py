"""Issue 13, items 9, 10, 14 and 15: light curves and time axes.

- 9: a binned time series of SED type likelihood without energies or reference fluxes is refused unless
  the band and model are given or ``gammapy_defaults=True`` opts in (as ``derive_edges=True`` for SEDs);
- 10: a UTC bin whose centre falls inside a leap second reads, with its exact edges;
- 14: the netCDF ``time`` coordinate in CF units every tool parses, round-tripping to the nanosecond;
- 15: light curves stacked with ``xr.concat`` write (or are refused with a FluxdsError saying what to do).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import astropy.units as u
import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time
from helpers import GAMMAPY_DATA, SHARED, WRITTEN

import fluxds
from fluxds.io.cf.netcdf import write_netcdf
from fluxds.timeaxis import astropy_times
from fluxds.validate import validate

BTS_LIKELIHOOD = WRITTEN / "lc_1bin_bts_likelihood.ecsv"
LC_NAMES = [
    "gammapy-data/pks2155_hess_lc.fits",
    "gammapy-written/lc_likelihood.fits",
    "gammapy-written/lc_likelihood.ecsv",
    "gammapy-written/lc_flux.fits",
    "gammapy-written/lc_1bin_likelihood.fits",
    "gammapy-written/lc_1bin_bts_flux.ecsv",
    "gammapy-written/lc_1bin_bts_likelihood.ecsv",
]
# edges of the light curve with a leap second (2016-12-31T23:59:60 UTC) inside bin 1
LEAP_EDGES = [
    "2016-12-30T00:00:00",
    "2016-12-31T23:59:00",
    "2017-01-01T00:01:00",
    "2017-01-01T00:02:00",
    "2017-01-02T00:00:00",
]


def _real_lightcurves() -> list[Path]:
    """Every real light curve of tests/data and ../shared/data that fluxds reads, each content once (the
    shared copies are byte-identical today; a different one would be tested too)."""
    roots = [WRITTEN.parent] + ([SHARED] if SHARED.is_dir() else [])
    found = {}
    for path in (root / name for root in roots for name in LC_NAMES):
        if path.exists():
            found.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), path)
    return list(found.values())


def _read(path: Path) -> xr.Dataset:
    return fluxds.read(path, **({"gammapy_defaults": True} if "bts_likelihood" in path.name else {}))


def _leap_file(path: Path) -> Path:
    """A gammapy-layout light curve (gammapy 2.1's lc_likelihood.fits table) with UTC bins, written with
    astropy as gammapy writes UTC times: MJD numbers of astropy Time, no TIMESYS means UTC; bin 1 spans
    2016-12-31 23:59 to 2017-01-01 00:01 and its centre in MJD numbers is inside the leap second."""
    table = Table.read(WRITTEN / "lc_likelihood.fits", hdu="FLUXPOINTS")
    edges = Time(LEAP_EDGES, scale="utc")
    table["time_min"] = edges.mjd[:-1]
    table["time_max"] = edges.mjd[1:]
    table.meta["TIMESYS"] = "utc"
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)]).writeto(path)
    return path


# --- item 9 -------------------------------------------------------------------------------------------


def test_bts_likelihood_without_band_and_model_is_refused():
    with pytest.raises(fluxds.FormatError, match=r"gammapy_defaults=True") as info:
        fluxds.read(BTS_LIKELIHOOD)
    assert "no energies and no reference model" in str(info.value)
    assert "energy_min=, energy_max=" in str(info.value) and str(BTS_LIKELIHOOD) in str(info.value)
    with pytest.raises(fluxds.FormatError, match=r"no reference model.*gammapy_defaults=True"):
        fluxds.read(BTS_LIKELIHOOD, energy_min=1 * u.TeV, energy_max=30 * u.TeV)


def test_bts_likelihood_opt_in_takes_gammapy_defaults_and_says_so():
    ds = fluxds.read(BTS_LIKELIHOOD, gammapy_defaults=True)
    assert "placeholder" in ds.energy_min.attrs["note"]
    assert ds.attrs["reference_model_origin"].startswith("default")
    # the flux of a power law 1e-12 (E/TeV)^-2 cm-2 s-1 TeV-1 over 1-10 TeV, by hand: 1e-12 * (1 - 1/10)
    norm = Table.read(BTS_LIKELIHOOD)["norm"]
    np.testing.assert_allclose(ds.sed.flux.values[:, 0], np.asarray(norm) * 9e-13, rtol=1e-12)
    # what the assumption costs: gammapy's flux of the same light curve, made with its true band and model
    truth = json.loads((WRITTEN / "expected.json").read_text())["files"][BTS_LIKELIHOOD.name]
    want = np.ravel(truth["quantities"]["flux"]["values"]).astype(float)
    ratio = ds.sed.flux.values[:, 0] / want
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
    assert abs(ratio[0] - 4.561) < 1e-3


def test_bts_flux_type_still_reads_with_its_stored_fluxes():
    ds = fluxds.read(WRITTEN / "lc_1bin_bts_flux.ecsv")  # the fluxes are the file's: no opt-in needed
    np.testing.assert_array_equal(
        ds.sed.flux.values[:, 0], Table.read(WRITTEN / "lc_1bin_bts_flux.ecsv")["flux"]
    )


# --- item 10 ------------------------------------------------------------------------------------------


def test_leap_second_bin_reads_with_exact_edges(tmp_path):
    path = _leap_file(tmp_path / "leap.fits")
    ds = fluxds.read(path)
    stored = fits.getdata(path, "FLUXPOINTS")
    np.testing.assert_array_equal(ds.time_min.values, stored["time_min"])
    np.testing.assert_array_equal(ds.time_max.values, stored["time_max"])
    assert ds.time_min.attrs["time_scale"] == "utc"
    start, stop = astropy_times(ds)  # astropy, independently, gives back the UTC edges written
    assert list(start.isot) == [t + ".000" for t in LEAP_EDGES[:-1]]
    assert list(stop.isot) == [t + ".000" for t in LEAP_EDGES[1:]]
    # the centre is inside 23:59:60: labelled with the last nanosecond of 2016-12-31, after bin 0's label
    centre = Time((stored["time_min"][1] + stored["time_max"][1]) / 2, format="mjd", scale="utc")
    assert centre.isot.startswith("2016-12-31T23:59:60")
    assert ds.time.values[1] == np.datetime64("2016-12-31T23:59:59.999999999")
    assert np.all(np.diff(ds.time.values.astype(np.int64)) > 0)
    on_the_day = ds.sel(time="2016-12-31")  # the label keeps the UTC date of the instant
    np.testing.assert_array_equal(on_the_day.time_min.values, stored["time_min"][1:2])


@pytest.mark.parametrize("suffix", ["fits", "ecsv", "nc", "zarr"])
def test_leap_second_light_curve_round_trips_exactly(tmp_path, suffix):
    ds = fluxds.read(_leap_file(tmp_path / "leap.fits"))
    out = tmp_path / f"back.{suffix}"
    ds.sed.write(out)
    back = fluxds.read(out)
    if suffix == "ecsv":  # ECSV holds no GTI HDU; the light curve has none either
        assert "gti_start" not in ds
    xr.testing.assert_identical(back, ds)


def test_gammapy_reads_the_leap_second_bin_as_written(tmp_path):
    """gammapy 2.1 reads fluxds's copy exactly as it reads the original (both 36-37 s early: it takes the
    MJD numbers of a UTC light curve for TAI, a gammapy difference)."""
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxPoints

    original = _leap_file(tmp_path / "leap.fits")
    fluxds.read(original).sed.write(tmp_path / "back.fits")
    axes = [
        FluxPoints.read(p, format="lightcurve").geom.axes["time"] for p in (original, tmp_path / "back.fits")
    ]
    for edge in ("time_min", "time_max"):
        np.testing.assert_array_equal(getattr(axes[1], edge).utc.mjd, getattr(axes[0], edge).utc.mjd)
    offset = (Time(LEAP_EDGES[:-1], scale="utc") - axes[1].time_min.utc).to_value("s")
    np.testing.assert_allclose(offset, [36, 37, 37, 37], atol=1e-3)


# --- item 14 ------------------------------------------------------------------------------------------

# CF / UDUNITS time units: "<unit> since YYYY-MM-DD hh:mm:ss", a unit cftime knows, whole seconds
_CF_TIME = re.compile(
    r"^(days|hours|minutes|seconds|milliseconds|microseconds) since \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
)


@pytest.mark.parametrize(
    "path", _real_lightcurves(), ids=lambda p: f"{p.parent.parent.name}/{p.parent.name}/{p.name}"
)
def test_netcdf_time_units_parse_and_round_trip_exactly(tmp_path, path):
    ds = _read(path)
    for engine in ("netcdf4", "h5netcdf"):
        out = tmp_path / f"lc_{engine}.nc"
        write_netcdf(ds, out, engine=engine)
        with netCDF4.Dataset(out) as nc:
            var = nc.variables["time"]
            units, calendar, numbers = var.getncattr("units"), var.getncattr("calendar"), var[:].data
        assert units == "days since 1858-11-17 00:00:00" and numbers.dtype == np.float64, units
        assert _CF_TIME.match(units)
        parsed = cftime.num2date(numbers, units, calendar=calendar, only_use_cftime_datetimes=False)
        # the numbers are the MJDs of the labels (in the light curve's scale): to a microsecond
        mjd = (ds.time.values - np.datetime64("1858-11-17", "ns")) / np.timedelta64(1, "D")
        np.testing.assert_allclose(numbers, mjd, rtol=0, atol=1e-6 / 86400)
        assert len(parsed) == ds.sizes["time"]
        back = fluxds.read(out)
        xr.testing.assert_identical(back, ds)
        np.testing.assert_array_equal(back.time.values.view(np.int64), ds.time.values.view(np.int64))
    ds.sed.write(tmp_path / "lc.zarr")
    back = fluxds.read(tmp_path / "lc.zarr")
    xr.testing.assert_identical(back, ds)
    np.testing.assert_array_equal(back.time.values.view(np.int64), ds.time.values.view(np.int64))


def test_leap_second_light_curve_in_netcdf_has_cf_time(tmp_path):
    ds = fluxds.read(_leap_file(tmp_path / "leap.fits"))
    write_netcdf(ds, tmp_path / "leap.nc")
    with netCDF4.Dataset(tmp_path / "leap.nc") as nc:
        assert nc.variables["time"].getncattr("units") == "days since 1858-11-17 00:00:00"
    xr.testing.assert_identical(fluxds.read(tmp_path / "leap.nc"), ds)


def test_hand_set_time_labels(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "pks2155_hess_lc.fits")
    rounded = ds.assign_coords(time=ds.time.dt.round("us"))  # labels of one's own, whole microseconds
    write_netcdf(rounded, tmp_path / "us.nc")
    with netCDF4.Dataset(tmp_path / "us.nc") as nc:
        assert _CF_TIME.match(nc.variables["time"].getncattr("units"))
        assert nc.variables["time"].dtype == np.int64
    xr.testing.assert_identical(fluxds.read(tmp_path / "us.nc"), rounded)
    odd = ds.assign_coords(time=ds.time + np.timedelta64(1, "ns"))
    with pytest.raises(fluxds.FluxdsError, match=r"round them"):
        write_netcdf(odd, tmp_path / "ns.nc")


# --- item 15 ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lightcurve() -> xr.Dataset:
    return fluxds.read(WRITTEN / "lc_likelihood.fits")


def test_stacked_light_curves_with_one_gti_write(tmp_path, lightcurve):
    stacked = xr.concat([lightcurve.assign_coords(source=s) for s in ("a", "b")], dim="source")
    assert stacked.gti_start.dims == ("source", "gti")  # what xr.concat does to the GTI
    validate(stacked)
    stacked.sed.write(tmp_path / "two.fits")
    back = fluxds.read(tmp_path / "two.fits")
    assert back.source.values.tolist() == ["a", "b"]
    np.testing.assert_array_equal(back.norm.transpose(*stacked.norm.dims).values, stacked.norm.values)
    np.testing.assert_array_equal(back.gti_start.values, lightcurve.gti_start.values)
    np.testing.assert_array_equal(back.gti_stop.values, lightcurve.gti_stop.values)
    with fits.open(tmp_path / "two.fits") as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "A", "B", "GTI"]


def test_stacked_light_curves_with_different_gtis_are_refused(tmp_path, lightcurve):
    other = lightcurve.assign(gti_start=lightcurve.gti_start + 1.0, gti_stop=lightcurve.gti_stop + 1.0)
    stacked = xr.concat([lightcurve.assign_coords(source="a"), other.assign_coords(source="b")], dim="source")
    with pytest.raises(fluxds.FluxdsError, match=r"'gti_start'.*concat_sources") as info:
        stacked.sed.write(tmp_path / "two.fits")
    assert str(tmp_path / "two.fits") in str(info.value) and not (tmp_path / "two.fits").exists()
    stacked.sed.write(tmp_path / "two.nc")  # netCDF keeps a GTI per source
    xr.testing.assert_identical(fluxds.read(tmp_path / "two.nc"), stacked)


def test_light_curves_with_different_time_bins_are_refused_clearly(tmp_path, lightcurve):
    a = lightcurve.isel(time=[0, 1, 2]).assign_coords(source="a")
    b = lightcurve.isel(time=[1, 2, 3]).assign_coords(source="b")
    # outer join: 4 bins, NaN where a source has none
    stacked = xr.concat([a, b], dim="source", join="outer", coords="different", compat="equals")
    message = r"'time_min' has dims \('source', 'time'\).*one set of time bins.*join='inner'"
    with pytest.raises(fluxds.SchemaError, match=message):
        validate(stacked)
    for suffix in ("fits", "nc"):
        with pytest.raises(fluxds.FluxdsError, match=message):
            stacked.sed.write(tmp_path / f"two.{suffix}")
    shared = xr.concat([a, b], dim="source", join="inner")  # what is possible today: the common bins
    shared.sed.write(tmp_path / "shared.fits")
    assert fluxds.read(tmp_path / "shared.fits").sizes["time"] == 2
