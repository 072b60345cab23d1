"""gammapy's flux-profile table <-> a Dataset with a ``region`` dimension: every number gammapy 2.1
computes from ``profile_likelihood.fits``/``.ecsv`` (expected.json), exact round trips, the GTI rule,
and gammapy reading the files fluxds writes."""

from __future__ import annotations

import functools
import json

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from helpers import WRITTEN

import fluxds
from fluxds.io import detect_format

RTOL = 1e-10
FILES = ["profile_likelihood.fits", "profile_likelihood.ecsv"]
DIM_NAMES = {"projected-distance": "region"}


@functools.cache
def _read(fname: str):
    return fluxds.read(WRITTEN / fname)


def _expected_file(fname: str) -> dict:
    return json.loads((WRITTEN / "expected.json").read_text())["files"][fname]


def _values(spec: dict) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in np.ravel(spec["values"])], dtype=float)


def _cases():
    for fname in FILES:
        for name in _expected_file(fname)["quantities"]:
            yield fname, name


# --- expected.json ------------------------------------------------------------------------------
@pytest.mark.parametrize(("fname", "name"), list(_cases()))
def test_quantity_matches_gammapy(expected, fname, name):
    spec = expected[fname]["quantities"][name]
    ds = _read(fname)
    if "error" in spec:  # gammapy cannot give it (norm_sensitivity, niter, n_dof): neither can we
        with pytest.raises(fluxds.FluxdsError):
            ds.sed.get(name)
        return
    da = ds.sed.get(name, unit=spec.get("unit") or None)
    dims = [DIM_NAMES.get(d, d) for d in spec["dims"]]
    assert set(da.dims) == set(dims)
    got = np.asarray(da.transpose(*dims).values, dtype=float).ravel()
    want = _values(spec)
    assert got.shape == want.shape
    if name in ("is_ul", "success"):
        np.testing.assert_array_equal(got.astype(bool), want.astype(bool))
    else:
        np.testing.assert_allclose(got, want, rtol=RTOL, atol=0, equal_nan=True)


@pytest.mark.parametrize("fname", FILES)
def test_geometry_and_meta(expected, fname):
    exp = expected[fname]
    ds = _read(fname)
    geometry = exp["geometry"]
    # gammapy keeps x_ref only (its axis is made from the x_ref nodes); fluxds keeps x_ref ...
    np.testing.assert_allclose(ds.x_ref.values, geometry["projected_distance_deg"], rtol=RTOL, atol=0)
    assert ds.x_ref.attrs["units"] == "degree"
    # ... and the numbers the estimator had in memory agree to rounding (0 stays 0)
    np.testing.assert_allclose(ds.x_ref.values, exp["in_memory_projected_distance_deg"], rtol=RTOL, atol=0)
    # ... and the real bin edges, as the file stores them: contiguous, x_ref their midpoint
    table = (
        Table.read(WRITTEN / fname, hdu="FLUXPOINTS")
        if fname.endswith("fits")
        else Table.read(WRITTEN / fname)
    )
    np.testing.assert_array_equal(ds.x_min.values, table["x_min"])
    np.testing.assert_array_equal(ds.x_max.values, table["x_max"])
    np.testing.assert_array_equal(ds.x_min.values[1:], ds.x_max.values[:-1])
    np.testing.assert_allclose(0.5 * (ds.x_min + ds.x_max).values, ds.x_ref.values, rtol=0, atol=1e-15)
    for key, coord in (
        ("energy_ref_TeV", "energy"),
        ("energy_min_TeV", "energy_min"),
        ("energy_max_TeV", "energy_max"),
    ):
        values = (ds[coord].values * u.Unit(ds[coord].attrs["units"])).to_value("TeV")
        np.testing.assert_allclose(values, geometry[key], rtol=RTOL, atol=0)
    assert ds["energy"].attrs["units"] == "keV"  # kept in the file's unit
    assert ds.sizes["energy"] == 2
    assert ds.sizes["dataset"] == len(geometry["dataset_labels"])
    meta = exp["meta"]
    assert ds.sed.sed_type_init == meta["sed_type_init"]
    assert ds.sed.n_sigma == meta["n_sigma"]
    assert ds.sed.sqrt_ts_threshold_ul == meta["sqrt_ts_threshold_ul"]
    assert meta["n_sigma_ul"] is None and ds.sed.n_sigma_ul is None  # no UL_CONF in gammapy's file
    assert exp["reference_model"]["type"] == "TemplateSpectralModel"
    assert isinstance(ds.sed.reference_model, fluxds.models.Template)
    assert set(exp["available_quantities"]) <= set(ds.sed.available_quantities)


@pytest.mark.parametrize("fname", FILES)
def test_region_dimension(fname):
    ds = _read(fname)
    assert ds.norm.dims == ("region", "energy")
    assert ds.stat_scan.dims == ("region", "energy", "scan")
    assert ds.counts.dims == ("region", "energy", "dataset")
    # names generated where the file has none
    assert ds.region.values.tolist() == [f"region{i}" for i in range(8)]
    assert "region_shape" not in ds.coords  # gammapy's file does not say which shapes
    # one reference model and one scan grid: stored once, not per region
    for name in ("ref_dnde", "ref_flux", "ref_eflux"):
        assert ds[name].dims == ("energy",)
    assert ds.norm_scan.dims == ("energy", "scan")
    # label selection along the profile
    one = ds.sel(region="region3")
    assert float(one.norm.isel(energy=0)) == pytest.approx(11.855320014331872, rel=1e-15)
    assert detect_format(WRITTEN / fname) == "profile"
    fluxds.validate(ds)


def test_gti_deduplicated_from_gammapy_file():
    """gammapy repeats the dataset GTI once per region (8 identical rows): an interval listed twice is
    the same interval, so the reader keeps one; gammapy's own sum of durations is then 8 x too long."""
    with fits.open(WRITTEN / "profile_likelihood.fits") as hdul:
        start, stop = hdul["GTI"].data["START"], hdul["GTI"].data["STOP"]
        assert len(start) == 8 and len(set(start)) == 1 and len(set(stop)) == 1
    ds = _read("profile_likelihood.fits")
    assert ds.sizes["gti"] == 1
    np.testing.assert_array_equal(ds.gti_start.values, start[:1])
    np.testing.assert_array_equal(ds.gti_stop.values, stop[:1])
    assert ds.gti_start.attrs["mjdrefi"] == 51544 and ds.gti_start.attrs["time_scale"] == "tt"
    assert "gti_start" not in _read("profile_likelihood.ecsv")  # gammapy's ECSV holds no GTI


def test_gti_of_fluxds_file_kept_row_for_row(tmp_path):
    """A file fluxds wrote keeps its GTI as written, duplicates included: the round trip is exact."""
    ds = _read("profile_likelihood.fits")
    doubled = xr.concat([ds[["gti_start", "gti_stop"]]] * 3, dim="gti")
    ds3 = ds.drop_vars(["gti_start", "gti_stop"]).merge(doubled)
    assert ds3.sizes["gti"] == 3
    for ext in ("fits", "ecsv"):
        path = tmp_path / f"gti3.{ext}"
        ds3.sed.write(path)
        xr.testing.assert_identical(fluxds.read(path), ds3)


# --- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("fname", FILES)
@pytest.mark.parametrize("ext", ["fits", "ecsv"])
def test_roundtrip_identical(tmp_path, fname, ext):
    ds = _read(fname)
    path = tmp_path / f"out.{ext}"
    ds.sed.write(path)
    assert detect_format(path) == "profile"
    back = fluxds.read(path)
    xr.testing.assert_identical(back, ds)
    path2 = tmp_path / f"again.{ext}"
    back.sed.write(path2)
    xr.testing.assert_identical(fluxds.read(path2), back)


@pytest.mark.parametrize("sed_type", ["dnde", "e2dnde", "flux", "eflux"])
def test_roundtrip_every_sed_type(tmp_path, sed_type):
    ds = _read("profile_likelihood.fits")
    path = tmp_path / f"out_{sed_type}.fits"
    ds.sed.write(path, sed_type=sed_type)
    table = Table.read(path, hdu="FLUXPOINTS")
    assert table.meta["SED_TYPE"] == sed_type
    assert table[sed_type].shape == (8, 2)
    np.testing.assert_allclose(
        table[sed_type].quantity.to_value(ds.sed.get(sed_type).attrs["units"]),
        ds.sed.get(sed_type).values,
        rtol=1e-15,
        atol=0,
    )
    xr.testing.assert_identical(fluxds.read(path), ds)


def test_names_shapes_and_region_dependent_reference_roundtrip(tmp_path):
    ds = _read("profile_likelihood.fits")
    shapes = [f"galactic;box({x},0,0.25,1,0)" for x in ds.x_ref.values]
    named = ds.assign_coords(
        region=("region", [f"slice {i}" for i in range(8)], {"long_name": "region name"}),
        region_shape=("region", np.array(shapes), {"long_name": "region"}),
    )
    # a reference that differs per region (not gammapy's case) is written per row and kept per row
    scaled = named.ref_dnde * xr.DataArray(np.linspace(1, 2, 8), dims="region")
    named["ref_dnde"] = scaled.transpose("region", "energy").assign_attrs(named.ref_dnde.attrs)
    named.attrs.pop("reference_model")
    for ext in ("fits", "ecsv"):
        path = tmp_path / f"named.{ext}"
        named.sed.write(path)
        back = fluxds.read(path)
        xr.testing.assert_identical(back, named)
        assert back.ref_dnde.dims == ("region", "energy")
        assert back.region_shape.values[3] == shapes[3]


def test_netcdf_holds_a_profile(tmp_path):
    ds = _read("profile_likelihood.fits")
    path = tmp_path / "profile.nc"
    ds.sed.write(path)
    xr.testing.assert_identical(fluxds.read(path), ds)


# --- gammapy reads what fluxds writes ----------------------------------------------------------
@pytest.mark.parametrize("ext", ["fits", "ecsv"])
@pytest.mark.parametrize("sed_type", ["likelihood", "flux"])
def test_gammapy_reads_fluxds_profile(tmp_path, ext, sed_type):
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxPoints

    ds = _read("profile_likelihood.fits")
    path = tmp_path / f"profile.{ext}"
    ds.sed.write(path, sed_type=sed_type)
    fp = FluxPoints.read(path, format="profile")
    assert fp.geom.axes.names == ["energy", "projected-distance"]
    assert fp.sed_type_init == sed_type
    axis = fp.geom.axes["projected-distance"]
    np.testing.assert_array_equal(axis.center.to_value("deg"), ds.x_ref.values)
    stem = "norm" if sed_type == "likelihood" else sed_type
    theirs = getattr(fp, stem).quantity.squeeze()  # gammapy's data order: (region, energy)
    mine = ds.sed.get(stem)
    np.testing.assert_allclose(theirs.to_value(mine.attrs["units"] or ""), mine.values, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(fp.is_ul.data.squeeze(), ds.is_ul.values)
    np.testing.assert_allclose(fp.stat_scan.data.squeeze(), ds.stat_scan.values, rtol=0, atol=0)
    np.testing.assert_allclose(fp.counts.data.squeeze(), ds.counts.values[..., 0], rtol=0, atol=0)
    if sed_type == "likelihood":  # dnde needs no integral: gammapy and fluxds agree
        np.testing.assert_allclose(
            fp.dnde.quantity.squeeze().to_value("cm-2 s-1 TeV-1"), ds.sed.dnde.values, rtol=1e-12, atol=0
        )
    if ext == "fits":
        assert len(fp.gti.table) == 1  # the deduplicated GTI
        np.testing.assert_allclose(fp.gti.met_start.to_value("s"), ds.gti_start.values, rtol=1e-15)


# --- bad input ----------------------------------------------------------------------------------
def _table():
    return Table.read(WRITTEN / "profile_likelihood.fits", hdu="FLUXPOINTS")


def test_energies_differing_between_rows_are_refused(tmp_path):
    table = _table()
    table["e_min"][3, 0] *= 1.1
    path = tmp_path / "bad.ecsv"
    table.write(path)
    with pytest.raises(fluxds.FormatError, match=r"'e_min' differs between rows \(row 3"):
        fluxds.read(path)


def test_missing_x_ref_and_wrong_unit_are_refused(tmp_path):
    table = _table()
    table["x_ref"].unit = "TeV"
    path = tmp_path / "unit.ecsv"
    table.write(path)
    with pytest.raises(fluxds.FormatError, match="column 'x_ref' has unit"):
        fluxds.read(path, format="profile")
    table.remove_column("x_ref")
    path = tmp_path / "nox.ecsv"
    table.write(path)
    with pytest.raises(fluxds.FormatError, match="needs an 'x_ref' column"):
        fluxds.read(path, format="profile")


def test_duplicate_region_names_are_refused(tmp_path):
    table = _table()
    table["region"] = ["a", "b", "c", "d", "e", "f", "g", "a"]
    path = tmp_path / "dup.ecsv"
    table.write(path)
    with pytest.raises(fluxds.FormatError, match="duplicate names"):
        fluxds.read(path)


def test_writing_needs_a_region_dimension(tmp_path):
    sed = fluxds.read(WRITTEN / "fp_likelihood.fits")
    with pytest.raises(fluxds.FormatError, match="'region' dimension"):
        sed.sed.write(tmp_path / "x.fits", format="profile")
    ds = _read("profile_likelihood.fits")
    with pytest.raises(fluxds.FormatError, match="x_ref"):
        ds.drop_vars("x_ref").sed.write(tmp_path / "y.fits")
    stacked = xr.concat([ds, ds], dim="source")
    with pytest.raises(fluxds.FormatError, match="has dims"):
        stacked.sed.write(tmp_path / "z.fits", format="profile")


def test_overwrite_refused(tmp_path):
    ds = _read("profile_likelihood.fits")
    path = tmp_path / "p.fits"
    ds.sed.write(path)
    with pytest.raises(fluxds.OverwriteError):
        ds.sed.write(path)
    ds.sed.write(path, overwrite=True)
    xr.testing.assert_identical(fluxds.read(path), ds)
