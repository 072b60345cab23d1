"""Light-curve times that cannot be calendar dates are refused, never wrapped (issue 12 item 9).

Every time a file gives (the reference ``MJDREFI``/``MJDREFF``/``MJDREF``, bin edges, instants, GTI bounds)
must be finite and, added to its reference, lie within ``fluxds.timeaxis.MJD_RANGE`` (MJD -66000 to
147000, 1678-03-05 to 2261-05-08, inside what ``datetime64[ns]`` holds). Before the fix ``MJDREFI = 10**6``
read as a date in 1824, ``MJDREFF = 'NaN'`` was blamed on MJDREFI, and a GTI with ``START = NaN`` was
accepted. The files here are written with astropy, in every light-curve layout that has the keyword or
column at fault.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from astropy.time import Time

import fluxds
from fluxds.timeaxis import MJD_RANGE, TimeValueError, time_coords

FLUX = u.Unit("cm-2 s-1")
REFERENCES = [10**6, 10**8, -(10**8), 10**11, -(10**15)]  # each read as a calendar date before the fix


def _gammapy(times=((0.5, 1.5), (1.5, 2.5)), **meta) -> Table:
    """gammapy's "lightcurve" table: time_min/time_max and per-row energy vectors."""
    t = Table()
    t["time_min"] = [lo for lo, _ in times] * u.d
    t["time_max"] = [hi for _, hi in times] * u.d
    t["e_min"] = np.full((len(times), 1), 1.0) * u.TeV
    t["e_max"] = np.full((len(times), 1), 10.0) * u.TeV
    t["flux"] = np.full((len(times), 1), 1e-11) * FLUX
    t.meta.update(SED_TYPE="flux", TIMESYS="tt", TIMEUNIT="d", MJDREFI=55000, MJDREFF=0.0)
    t.meta.update(meta)
    return t


def _gadf(**meta) -> Table:
    """The GADF v0.3 layout: TIME (and TIME_MIN/TIME_MAX) in seconds, the band in the header."""
    t = Table()
    t["TIME_MIN"] = [0.0, 86400.0] * u.s
    t["TIME_MAX"] = t["TIME_MIN"] + 86400 * u.s
    t["TIME"] = t["TIME_MIN"] + 43200 * u.s
    t["FLUX"] = [1e-11, 2e-11] * FLUX
    t.meta.update(E_MIN=1.0, E_MAX=10.0, TIMESYS="TT", TIMEUNIT="s", MJDREFI=55000, MJDREFF=0.0)
    t.meta.update(meta)
    return t


def _bts(**meta) -> Table:
    """A binned time series with numeric start times (FITS-style: numbers since MJDREFI + MJDREFF)."""
    t = Table()
    t["time_bin_start"] = [0.5, 1.5] * u.d
    t["time_bin_size"] = [1.0, 1.0] * u.d
    t["flux"] = [1e-11, 2e-11] * FLUX
    t.meta.update(SED_TYPE="flux", TIMESYS="TT", TIMEUNIT="d", MJDREFI=55000, MJDREFF=0.0)
    t.meta.update(meta)
    return t


LAYOUTS = {"gammapy": _gammapy, "gadf": _gadf, "bts": _bts}
CASES = [(layout, suffix) for layout in LAYOUTS for suffix in (".fits", ".ecsv")]


def _write(tmp_path, table: Table, suffix: str):
    path = tmp_path / f"lc{suffix}"
    table.write(path, format="fits" if suffix == ".fits" else "ascii.ecsv", overwrite=True)
    return path


@pytest.mark.parametrize(("layout", "suffix"), CASES)
def test_good_reference_reads(tmp_path, layout, suffix):
    ds = fluxds.read(_write(tmp_path, LAYOUTS[layout](), suffix))
    assert str(ds.time.values[0]).startswith("2009-06-1")  # MJD 55000 = 2009-06-18


@pytest.mark.parametrize(("layout", "suffix"), CASES)
@pytest.mark.parametrize("mjdrefi", REFERENCES)
def test_reference_out_of_range_is_refused(tmp_path, layout, suffix, mjdrefi):
    path = _write(tmp_path, LAYOUTS[layout](MJDREFI=mjdrefi), suffix)
    with pytest.raises(
        fluxds.FormatError,
        match=rf"lc{suffix}.*keyword MJDREFI is MJD {float(mjdrefi)!r}; fluxds accepts MJD",
    ) as info:
        fluxds.read(path)
    assert isinstance(info.value, TimeValueError) and isinstance(info.value, fluxds.SchemaError)


@pytest.mark.parametrize(("layout", "suffix"), CASES)
def test_nan_mjdreff_names_mjdreff(tmp_path, layout, suffix):
    path = _write(tmp_path, LAYOUTS[layout](MJDREFF="NaN"), suffix)
    with pytest.raises(fluxds.FormatError, match=rf"lc{suffix}.*keyword MJDREFF is nan; expected a finite"):
        fluxds.read(path)


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
@pytest.mark.parametrize(
    ("meta", "match"),
    [
        ({"MJDREFI": "NaN"}, "keyword MJDREFI is nan; expected an integer"),
        ({"MJDREFF": 1e300}, r"keyword MJDREFF is 1e\+300: the reference MJDREFI \+ MJDREFF is MJD"),
        ({"MJDREFF": -200000.0}, r"keyword MJDREFF is -200000.0: the reference"),
        ({"MJDREF": "NaN"}, "keyword MJDREF is nan; expected a finite MJD"),
        ({"MJDREF": 1e9}, r"keyword MJDREF is MJD 1000000000.0; fluxds accepts"),
    ],
)
def test_other_bad_reference_keywords(tmp_path, suffix, meta, match):
    table = _gammapy(**meta)
    if "MJDREF" in meta:
        del table.meta["MJDREFI"], table.meta["MJDREFF"]
    with pytest.raises(TimeValueError, match=rf"lc{suffix}.*{match}"):
        fluxds.read(_write(tmp_path, table, suffix))


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
@pytest.mark.parametrize(
    ("times", "match"),
    [
        # each wrapped to a date in 1678-2262 before the fix (int64 overflow of nanoseconds)
        (
            ((1e15, 1e15 + 1), (1e15 + 2, 1e15 + 3)),
            r"column 'time_min' is 1000000000000000.0 d since MJD 55000",
        ),
        (((0.5, 1.5), (1.5, 1e300)), r"column 'time_max' is 1e\+300 d since MJD 55000.0 in row 1"),
        (((-1e6, 1.5), (1.5, 2.5)), r"column 'time_min' is -1000000.0 d since MJD 55000.0 in row 0"),
        (((0.5, np.inf), (1.5, 2.5)), r"column 'time_max' must be finite; found inf in row 0"),
    ],
)
def test_bin_edges_out_of_range_are_refused(tmp_path, suffix, times, match):
    with pytest.raises(TimeValueError, match=rf"lc{suffix}.*{match}"):
        fluxds.read(_write(tmp_path, _gammapy(times), suffix))


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_gadf_time_column_out_of_range(tmp_path, suffix):
    table = _gadf()
    table["TIME"][1] = 1e20  # seconds: 3e12 years
    with pytest.raises(
        TimeValueError, match=rf"lc{suffix}.*column 'time' is 1e\+20 s since MJD 55000.0 in row 1"
    ):
        fluxds.read(_write(tmp_path, table, suffix))


@pytest.mark.parametrize("suffix", [".fits", ".ecsv"])
def test_bts_size_overflow(tmp_path, suffix):
    table = _bts()
    table["time_bin_size"][1] = 1e308
    with pytest.raises(
        TimeValueError, match=rf"lc{suffix}.*the end of the bin, time_bin_start \+ time_bin_size"
    ):
        fluxds.read(_write(tmp_path, table, suffix))
    table["time_bin_size"][1] = np.nan
    with pytest.raises(
        TimeValueError, match=rf"lc{suffix}.*column 'time_bin_size' must be finite; found nan"
    ):
        fluxds.read(_write(tmp_path, table, suffix))


def test_bts_ecsv_time_column_out_of_range(tmp_path):
    """gammapy's binned-time-series ECSV: time_bin_start an astropy Time column, no MJDREFI."""
    t = Table()
    t["time_bin_start"] = Time([59000.0, 1e6], format="mjd", scale="tt")
    t["time_bin_size"] = [1.0, 1.0] * u.d
    t["flux"] = [1e-11, 2e-11] * FLUX
    t.meta["SED_TYPE"] = "flux"
    path = _write(tmp_path, t, ".ecsv")
    with pytest.raises(
        TimeValueError, match=r"lc\.ecsv.*column 'time_bin_start' is 1000000.0 d since MJD 0.0 in row 1"
    ):
        fluxds.read(path)
    t["time_bin_start"] = Time([59000.0, 59001.0], format="mjd", scale="tt")
    assert str(fluxds.read(_write(tmp_path, t, ".ecsv")).time.values[1]).startswith("2020-06-01")


@pytest.mark.filterwarnings("ignore:ERFA function")  # UTC after the known leap seconds: "dubious year"
def test_range_edges_and_dates_beyond_2151():
    """The accepted range is inclusive; dates after 2151 used to overflow int64 nanoseconds since MJD 0 and
    wrap silently. Now they agree with astropy to the nanosecond, in every scale."""
    lo, hi = MJD_RANGE
    for scale in ("tt", "tdb", "utc"):
        coords = time_coords(time_min=[lo, hi - 1], time_max=[lo + 1, hi], scale=scale)
        assert str(coords["time"].values[0]).startswith("1678-03-05T12")
        assert str(coords["time"].values[1]).startswith("2261-05-07T12")
    with pytest.raises(TimeValueError, match=r"'time_max' is 147000.5 d since MJD 0.0 in time bin 0"):
        time_coords(time_min=[hi - 1], time_max=[hi + 0.5])
    with pytest.raises(TimeValueError, match=r"'time_min' is -66000.5 d"):
        time_coords(time_min=[lo - 0.5], time_max=[lo])
    # 2222: seconds since MJD 51910 (TT), as a GADF file stores them
    seconds = np.array([7.0e9, 7.1e9])
    coords = time_coords(
        time_value=seconds, unit="s", mjdrefi=51910, mjdreff=7.428703703703703e-4, scale="tt"
    )
    expected = (Time(51910, 7.428703703703703e-4, format="mjd", scale="tt") + seconds * u.s).datetime64
    assert np.all(np.abs((coords["time"].values - expected).astype(np.int64)) < 100)
    assert str(coords["time"].values[0]).startswith("2222-10-28T12:27:44.184")


# --- GTI tables ----------------------------------------------------------------------------------------
def _with_gti(tmp_path, start, stop, **header):
    path = _write(tmp_path, _gammapy(), ".fits")
    gti = fits.BinTableHDU.from_columns(
        [fits.Column("START", "D", unit="s", array=start), fits.Column("STOP", "D", unit="s", array=stop)],
        name="GTI",
    )
    gti.header.update({"MJDREFI": 51544, "MJDREFF": 0.0, "TIMESYS": "TT", **header})
    with fits.open(path) as hdul:
        fits.HDUList([hdul[0].copy(), hdul[1].copy(), gti]).writeto(tmp_path / "gti.fits")
    return tmp_path / "gti.fits"


def test_good_gti_reads(tmp_path):
    ds = fluxds.read(_with_gti(tmp_path, [1e8, 2e8], [1.5e8, 2.5e8]))
    assert ds.gti_start.values.tolist() == [1e8, 2e8]


@pytest.mark.parametrize(
    ("start", "stop", "header", "match"),
    [
        ([np.nan, 2e8], [1.5e8, 2.5e8], {}, r"GTI column START must be finite; found nan in row 0"),
        ([1e8, 2e8], [1.5e8, np.inf], {}, r"GTI column STOP must be finite; found inf in row 1"),
        ([1e8, 2e8], [1.5e8, 1e20], {}, r"GTI column STOP is 1e\+20 s since MJD 51544.0 in row 1"),
        ([1e8, 2e8], [1.5e8, 1.9e8], {}, r"GTI row 1 has START=200000000.0 after STOP=190000000.0"),
        *[
            ([1e8], [1.5e8], {"MJDREFI": v}, rf"GTI keyword MJDREFI is MJD {float(v)!r}; fluxds accepts")
            for v in REFERENCES
        ],
        ([1e8], [1.5e8], {"MJDREFF": "NaN"}, r"GTI keyword MJDREFF is 'NaN'; expected a number"),
    ],
)
def test_bad_gti_is_refused(tmp_path, start, stop, header, match):
    with pytest.raises(fluxds.FormatError, match=rf"gti\.fits\[GTI\]: {match}"):
        fluxds.read(_with_gti(tmp_path, start, stop, **header))


def test_nan_gti_in_ecsv_meta(tmp_path):
    """ECSV holds the GTI as JSON in the meta (how fluxds writes it); JSON allows NaN."""
    table = _gammapy()
    table.meta["GTI"] = (
        '{"start": [NaN], "stop": [1.0], "unit": "s", "mjdrefi": 51544, "mjdreff": 0.0, "timesys": "tt"}'
    )
    with pytest.raises(
        TimeValueError, match=r"lc\.ecsv.*GTI column START must be finite; found nan in row 0"
    ):
        fluxds.read(_write(tmp_path, table, ".ecsv"))
