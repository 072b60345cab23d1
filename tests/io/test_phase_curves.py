"""Phase curves in files (issue 15 item 3): a ``phase`` dimension with ``phase_min``/``phase_max`` (and
``phase``) reads and writes as a table in FITS and ECSV (format ``phasecurve``, recognised by its columns)
and round-trips exactly, edges included, through FITS, ECSV, netCDF and zarr."""

from __future__ import annotations

import astropy.units as u
import netCDF4
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import Table

import fluxds
from fluxds.axes import binned_coords, derived_centre_note
from fluxds.io.detect import detect_format
from fluxds.models import PowerLaw
from fluxds.schema import BINNED_AXES

PL = PowerLaw(index=2.3, amplitude=3e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
# edges that are not short decimals in binary (1/3, 0.1 + 0.2 ...): an exact round trip keeps every bit
LO = np.array([0.0, 0.1, 1 / 3, 0.1 + 0.2 + 0.3, 0.9])
HI = np.array([0.1, 1 / 3, 0.1 + 0.2 + 0.3, 0.9, 1.0])
FORMATS = ["fits", "ecsv", "nc", "zarr"]


def phase_curve(*, sources: int = 0, centre=True, gti: bool = False) -> xr.Dataset:
    """A likelihood phase curve: 5 phase bins x 2 energy bins, scans, per-bin TS."""
    rng = np.random.default_rng(11)
    lead = (sources,) if sources else ()
    shape = (*lead, LO.size, 2)
    mu = rng.uniform(0.5, 2.0, shape)
    scan = np.broadcast_to(np.linspace(-1.0, 4.0, 11), (*shape, 11))
    coords = binned_coords("phase", centre=LO + 0.5 * (HI - LO) if centre else None, lo=LO, hi=HI)
    if sources:
        coords["source"] = [f"psr{i}" for i in range(sources)]
    ds = fluxds.from_likelihood(
        mu,
        norm_err=np.full(shape, 0.2),
        energy_min=[0.1, 1.0] * u.TeV,
        energy_max=[1.0, 10.0] * u.TeV,
        reference_model=PL,
        dims=(*(("source",) if sources else ()), "phase", "energy"),
        coords=coords,
        norm_scan=scan,
        stat_scan=((scan - mu[..., None]) / 0.2) ** 2,
        ts=rng.uniform(0, 50, shape),
        attrs={"TELESCOP": "H.E.S.S.", "pulsar": "Vela"},
    )
    if gti:
        ref = {"units": "d", "mjdrefi": 0, "mjdreff": 0.0, "time_scale": "tt"}
        ds = ds.assign(
            gti_start=("gti", [59000.0, 59010.0], {**ref, "long_name": "start of good time interval"}),
            gti_stop=("gti", [59001.0, 59011.0], {**ref, "long_name": "stop of good time interval"}),
        )
    return ds


@pytest.mark.parametrize("suffix", FORMATS)
def test_roundtrip_is_exact(tmp_path, suffix):
    ds = phase_curve()
    path = tmp_path / f"pc.{suffix}"
    ds.sed.write(path)
    back = fluxds.read(path)
    xr.testing.assert_identical(back, ds)
    for name in ("phase", "phase_min", "phase_max"):  # every bit of the edges
        assert back[name].values.tobytes() == ds[name].values.tobytes(), name


@pytest.mark.parametrize("suffix", ["fits", "ecsv"])
def test_the_table_holds_the_phase_columns(tmp_path, suffix):
    """Read back by astropy alone (no fluxds): the columns hold the numbers, one row per phase bin."""
    ds = phase_curve()
    path = tmp_path / f"pc.{suffix}"
    ds.sed.write(path, sed_type="flux")
    assert detect_format(path) == "phasecurve"
    table = Table.read(path, hdu="FLUXPOINTS") if suffix == "fits" else Table.read(path, format="ascii.ecsv")
    assert table.colnames[:3] == ["phase_min", "phase_max", "phase"]
    np.testing.assert_array_equal(table["phase_min"], LO)
    np.testing.assert_array_equal(table["phase_max"], HI)
    assert table["flux"].shape == (5, 2) and table["e_min"].shape == (5, 2)
    np.testing.assert_allclose(table["flux"], ds.sed.flux.values, rtol=1e-12)
    assert table.meta["SED_TYPE"] == "flux"
    back = fluxds.read(path)  # the likelihood form beside the flux columns: read back as written
    assert back.sed.sed_type_init == "likelihood" and back.sizes == ds.sizes
    np.testing.assert_allclose(back.sed.flux.values, ds.sed.flux.values, rtol=1e-12)


def test_sources_are_hdus_and_gti_an_hdu(tmp_path):
    ds = phase_curve(sources=2, gti=True)
    path = tmp_path / "two.fits"
    ds.sed.write(path)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "PSR0", "PSR1", "GTI"]
    back = fluxds.read(path)
    xr.testing.assert_identical(back, ds)
    one = fluxds.read(path, hdu="PSR1")
    np.testing.assert_array_equal(one["norm"].values, ds["norm"].sel(source="psr1").values)


def test_a_table_without_the_centre_column(tmp_path):
    """A file with only the edges: the centre is derived (and noted), and not written back."""
    path = tmp_path / "edges.fits"
    phase_curve().drop_vars("phase").sed.write(path)  # edges, no centre: a file of another producer
    with fits.open(path) as hdul:
        assert "phase" not in [c.lower() for c in hdul["FLUXPOINTS"].columns.names]
    ds = fluxds.read(path)
    np.testing.assert_array_equal(ds["phase"].values, LO + 0.5 * (HI - LO))
    assert ds["phase"].attrs["note"] == derived_centre_note(BINNED_AXES["phase"])
    again = tmp_path / "again.fits"
    ds.sed.write(again)
    with fits.open(again) as hdul:
        assert "phase" not in [c.lower() for c in hdul["FLUXPOINTS"].columns.names]
    xr.testing.assert_identical(fluxds.read(again), ds)


def test_a_phase_table_from_elsewhere(tmp_path):
    """A table written by hand (upper-case columns, phases beyond [0, 1], dnde): read as a phase curve."""
    table = Table()
    table["PHASE_MIN"] = [-0.25, 0.25, 0.75]
    table["PHASE_MAX"] = [0.25, 0.75, 1.25]
    table["E_REF"] = np.full((3, 1), 1.0) * u.TeV
    table["DNDE"] = np.array([[1e-12], [2e-12], [3e-12]]) * u.Unit("cm-2 s-1 TeV-1")
    table["DNDE_ERR"] = np.array([[1e-13], [2e-13], [3e-13]]) * u.Unit("cm-2 s-1 TeV-1")
    table.meta["SED_TYPE"] = "dnde"
    path = tmp_path / "hand.ecsv"
    table.write(path, format="ascii.ecsv")
    ds = fluxds.read(path)
    assert dict(ds.sizes) == {"phase": 3, "energy": 1}
    np.testing.assert_array_equal(ds["phase"].values, [0.0, 0.5, 1.0])
    np.testing.assert_allclose(ds.sed.dnde.values[:, 0], [1e-12, 2e-12, 3e-12], rtol=1e-12)


@pytest.mark.parametrize(
    ("lo", "hi", "match"),
    [
        (
            [0.0, np.nan],
            [0.5, 1.0],
            r"bad.fits\[FLUXPOINTS\]: column 'phase_min' must be finite; found nan in row 1",
        ),
        ([0.0, 0.7], [0.5, 0.6], r"bad.fits\[FLUXPOINTS\]: row 1 has phase_min=0.7 > phase_max=0.6"),
    ],
)
def test_bad_phase_bins_are_refused(tmp_path, lo, hi, match):
    table = Table(
        {"phase_min": lo, "phase_max": hi, "e_ref": np.ones((2, 1)) * u.TeV, "norm": np.ones((2, 1))}
    )
    table["ref_dnde"] = np.ones((2, 1)) * u.Unit("cm-2 s-1 TeV-1")
    path = tmp_path / "bad.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.table_to_hdu(table)]).writeto(path)
    with fits.open(path, mode="update") as hdul:
        hdul[1].name = "FLUXPOINTS"
    with pytest.raises(fluxds.FluxdsError, match=match):
        fluxds.read(path)


def test_a_phase_dimension_without_bins_is_not_a_table(tmp_path):
    ds = phase_curve().drop_vars(["phase", "phase_min", "phase_max"])
    with pytest.raises(fluxds.FormatError, match="needs the phase bins as numbers.*write netCDF or zarr"):
        ds.sed.write(tmp_path / "x.fits")
    both = phase_curve().expand_dims(time=1)
    with pytest.raises(fluxds.FormatError, match=r"also has the binned dimension\(s\) \['time'\]"):
        both.sed.write(tmp_path / "y.fits", format="phasecurve")
    assert list(tmp_path.iterdir()) == []
    ds.sed.write(tmp_path / "x.nc")  # netCDF keeps any dimension
    xr.testing.assert_identical(fluxds.read(tmp_path / "x.nc"), ds)


def test_netcdf_gives_phase_cf_bounds(tmp_path):
    path = tmp_path / "pc.nc"
    phase_curve().sed.write(path)
    with netCDF4.Dataset(path) as nc:
        assert nc.variables["phase"].getncattr("bounds") == "phase_bounds"
        bounds = nc.variables["phase_bounds"]
        assert bounds.dimensions == ("phase", "bounds2")
        np.testing.assert_array_equal(bounds[:], np.stack([LO, HI], axis=-1))
        assert "_FillValue" not in bounds.ncattrs()
        assert nc.variables["phase"].getncattr("units") == "1"  # UDUNITS' dimensionless
        assert "phase_min" not in nc.variables  # the edges are the bounds


def test_netcdf_gives_time_cf_bounds(tmp_path):
    """A light curve's time bounds: in the time coordinate's CF unit, derived from the unchanged edges."""
    from helpers import WRITTEN

    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    path = tmp_path / "lc.nc"
    lc.sed.write(path)
    with netCDF4.Dataset(path) as nc:
        time = nc.variables["time"]
        assert time.getncattr("bounds") == "time_bounds"
        assert time.getncattr("units") == "days since 1858-11-17 00:00:00"
        bounds = nc.variables["time_bounds"][:]
        np.testing.assert_allclose(bounds[:, 0], lc["time_min"].values, rtol=0, atol=1e-8)  # MJD numbers
        np.testing.assert_allclose(bounds[:, 1], lc["time_max"].values, rtol=0, atol=1e-8)
        assert np.all((bounds[:, 0] <= time[:]) & (time[:] <= bounds[:, 1]))
        np.testing.assert_array_equal(nc.variables["time_min"][:], lc["time_min"].values)  # kept exact
    xr.testing.assert_identical(fluxds.read(path), lc)
