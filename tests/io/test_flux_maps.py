"""WCS flux maps: gammapy's flux-map FITS and the GADF WCS cube, the WCS travelling with the data,
every number of expected.json, exact round trips, lazy reads, the MODEL keyword."""

from __future__ import annotations

import functools
import json
import shutil

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.wcs import WCS
from helpers import GADF, WRITTEN

import fluxds
from fluxds.io.wcs_map.read import read, write
from fluxds.models import LogParabola
from fluxds.wcs import assign_wcs, header_of, wcs_of, world_coordinates

FM_FILES = ["fm_excess.fits", "fm_excess_dnde.fits", "fm_excess_flux.fits", "fm_ts.fits"]
CCUBE = GADF / "wcs_ccube.fits"
SED_TYPES = {
    "fm_excess.fits": "likelihood",
    "fm_excess_dnde.fits": "dnde",
    "fm_excess_flux.fits": "flux",
    "fm_ts.fits": "likelihood",
}


@functools.cache
def _read(fname: str) -> xr.Dataset:
    return fluxds.read(WRITTEN / fname)


def _values(spec: dict) -> np.ndarray:
    return np.array(spec["values"], dtype=float)  # null -> nan


def _at_pixels(ds: xr.Dataset, pixels: dict) -> xr.Dataset:
    iy, ix = np.array(pixels["index_lat_lon"]).T
    return ds.isel(lat=xr.DataArray(iy, dims="p"), lon=xr.DataArray(ix, dims="p"))


def _cases():
    files = json.loads((WRITTEN / "expected.json").read_text())["files"]
    return [(f, q) for f in FM_FILES for q in files[f]["quantities"]]


@pytest.mark.parametrize(("fname", "name"), _cases())
def test_quantity_matches_gammapy(expected, fname, name):
    """expected.json gives each quantity as [energy][pixel] (stat_scan: [energy][scan][pixel]) at the
    pixels listed under ``pixels``."""
    spec = expected[fname]["quantities"][name]
    at = _at_pixels(_read(fname), expected[fname]["pixels"])
    if "error" in spec:
        with pytest.raises(fluxds.FluxdsError):
            at.sed.get(name)
        return
    if name == "dnde_scan_values":  # gammapy's per-pixel scan grid: norm_scan * ref_dnde
        got = (at.norm_scan * at.ref_dnde).transpose("energy", "scan", "p").values
    else:
        da = at.sed.get(name, unit=spec.get("unit") or None)
        got = da.transpose("energy", *[d for d in da.dims if d not in ("energy", "p")], "p").values
    want = _values(spec)
    assert got.shape == want.shape
    if got.dtype == bool:
        np.testing.assert_array_equal(got, want.astype(bool))
    else:
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=0, equal_nan=True)


@pytest.mark.parametrize("fname", FM_FILES)
def test_geometry_and_model_match_gammapy(expected, fname):
    exp = expected[fname]
    ds = _read(fname)
    assert (ds.sizes["energy"], ds.sizes["lat"], ds.sizes["lon"]) == tuple(exp["geometry"]["data_shape"])
    for key, coord in (("energy_ref_TeV", "energy"), ("energy_min_TeV", "energy_min")):
        values = (ds[coord].values * u.Unit(ds[coord].attrs["units"])).to_value("TeV")
        np.testing.assert_allclose(values, exp["geometry"][key], rtol=1e-10)
    at = _at_pixels(ds, exp["pixels"])
    lon_diff = (at.lon.values - np.array(exp["pixels"]["lon_deg"]) + 180) % 360 - 180
    np.testing.assert_allclose(lon_diff, 0, atol=1e-10)
    np.testing.assert_allclose(at.lat.values, exp["pixels"]["lat_deg"], rtol=0, atol=1e-10)
    assert ds.wcs.attrs["frame"] == exp["pixels"]["frame"]
    params = exp["reference_model"]["parameters"]
    model = ds.sed.reference_model
    assert model.gammapy_type == exp["reference_model"]["type"]
    for name, p in params.items():
        assert u.Quantity(getattr(model, name)).to_value(p["unit"] or "") == pytest.approx(
            p["value"], rel=1e-12
        )
    # gammapy says "likelihood" for every file; fluxds keeps the SED type the file was written in
    assert ds.attrs["sed_type_init"] == SED_TYPES[fname]
    assert ("gti_start" in ds) == exp["has_gti"]


def test_scan_stays_per_pixel():
    ds = _read("fm_ts.fits")
    assert ds.norm_scan.dims == ("energy", "lat", "lon", "scan") == ds.stat_scan.dims
    grid = ds.norm_scan.isel(energy=0).values.reshape(-1, ds.sizes["scan"])
    assert len({tuple(row) for row in grid}) > 10  # another scan grid in (almost) every pixel
    # the scan minimum sits at the fitted norm (within the grid spacing) where the fit converged
    best = ds.norm_scan.isel(scan=ds.stat_scan.argmin("scan")).drop_vars(["ix", "iy"], errors="ignore")
    near = np.abs(best - ds.norm) <= 0.1 * np.abs(ds.norm) + 0.05
    assert float(near.where(ds.success).mean()) > 0.9


@pytest.mark.parametrize("fname", [*FM_FILES, "ccube"])
def test_roundtrip_identical(tmp_path, fname):
    src = CCUBE if fname == "ccube" else WRITTEN / fname
    ds = fluxds.read(src)
    ds.sed.write(tmp_path / "a.fits")
    back = fluxds.read(tmp_path / "a.fits")
    xr.testing.assert_identical(back, ds)
    assert back.wcs.attrs["header"] == ds.wcs.attrs["header"]
    back.sed.write(tmp_path / "b.fits")
    xr.testing.assert_identical(fluxds.read(tmp_path / "b.fits"), back)
    lazy = read(tmp_path / "a.fits", chunks={"lat": 4})
    xr.testing.assert_identical(lazy.compute(), ds)


@pytest.mark.parametrize("fname", FM_FILES)
def test_chunks_give_dask_without_reading(fname):
    lazy = read(WRITTEN / fname, chunks={"lat": 5, "lon": 7})
    for name in ("norm", "norm_err", "ts", "is_ul"):
        assert hasattr(lazy[name].data, "dask"), name
    assert lazy.norm.data.chunks[1][0] == 5 and lazy.norm.data.chunks[2][0] == 7
    assert hasattr(lazy.sed.dnde.data, "dask")  # conversions stay lazy
    xr.testing.assert_identical(lazy.compute(), _read(fname))


def test_ccube_is_a_counts_map():
    ds = fluxds.read(CCUBE)
    assert list(ds.data_vars) == ["counts"]
    assert ds.counts.dims == ("energy", "lat", "lon") and float(ds.counts.sum()) == 390.0
    np.testing.assert_allclose(
        ds.energy_min.values, [1e6, 1778279.41003892, 3162277.66016838, 5623413.25190349]
    )
    assert ds.energy.attrs["units"] == "keV" and "note" in ds.energy.attrs  # log centres, derived
    # CAR with CRVAL2 = 57.9 deg is oblique: no 1-D lon/lat, 2-D sky coordinates instead
    assert "lon" not in ds.coords and ds.sky_lon.dims == ("lat", "lon")
    lon, lat = wcs_of(ds).pixel_to_world_values(4.5, 4.5)
    assert (float(lon), float(lat)) == pytest.approx((260.05167, 57.91528))
    with pytest.raises(fluxds.SchemaError, match="norm"):
        ds.sed.validate()


def _synthetic(projection: str, frame: str = "galactic") -> xr.Dataset:
    w = WCS(naxis=2)
    names = {"galactic": ("GLON", "GLAT"), "icrs": ("RA--", "DEC-")}[frame]
    w.wcs.ctype = [f"{names[0]}-{projection}", f"{names[1]}-{projection}"]
    w.wcs.crval = [83.6331234567891, 22.0144987654321] if frame == "icrs" else [0.0, 0.0]
    w.wcs.crpix = [12.5, 8.5]
    w.wcs.cdelt = [-0.1, 0.1] if projection != "AIT" else [-8.0, 8.0]
    rng = np.random.default_rng(3)
    shape = (2, 16, 24)
    model = LogParabola(amplitude=2e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV, alpha=2.3, beta=0.1)
    ds = fluxds.from_sed(
        "likelihood",
        {
            "norm": rng.normal(1, 0.2, shape),
            "norm_err": rng.uniform(0.1, 0.2, shape),
            "ts": rng.uniform(0, 30, shape),
            "is_ul": rng.random(shape) < 0.5,
            "stat_scan": rng.random((*shape, 5)),
            "norm_scan": rng.random((*shape, 5)),
        },
        dims=("energy", "lat", "lon"),
        energy_min=[0.1, 1] * u.TeV,
        energy_max=[1, 10] * u.TeV,
        reference_model=model,
    )
    return assign_wcs(ds, w)


@pytest.mark.parametrize(("projection", "frame"), [("CAR", "galactic"), ("TAN", "icrs"), ("AIT", "galactic")])
def test_synthetic_roundtrip(tmp_path, projection, frame):
    ds = _synthetic(projection, frame)
    ds.sed.write(tmp_path / "m.fits")
    back = fluxds.read(tmp_path / "m.fits")
    xr.testing.assert_identical(back, ds)
    assert header_of(back).tostring() == header_of(ds).tostring()
    assert wcs_of(back).wcs.crval[0] == wcs_of(ds).wcs.crval[0]  # all digits (wcslib prints 12)
    assert ("lon" in ds.coords) == (projection == "CAR")
    lon2d, lat2d = world_coordinates(ds)
    x, y = wcs_of(ds).world_to_pixel_values(lon2d.values[3, 5], lat2d.values[3, 5])
    assert (float(x), float(y)) == pytest.approx((5, 3), abs=1e-8)
    for name in ("flux", "e2dnde"):
        ds2 = back.copy()
        ds2.attrs = {**ds2.attrs, "sed_type_init": name}
        ds2.sed.write(tmp_path / f"{name}.fits")
        again = fluxds.read(tmp_path / f"{name}.fits")
        xr.testing.assert_identical(again, ds2)  # stored norms beside the measurements: exact


def test_sel_on_car_map():
    ds = _read("fm_excess.fits")
    assert ds.lon.values[0] == pytest.approx(0.775) and ds.lon.values[-1] == pytest.approx(-0.775)
    point = ds.sel(lon=-0.03, lat=0.02, method="nearest")
    xr.testing.assert_identical(point, ds.isel(lat=10, lon=16))
    box = ds.sel(lon=slice(0.2, -0.2), lat=slice(-0.1, 0.1))
    assert box.sizes == {"energy": 3, "lat": 4, "lon": 8}
    # a cutout keeps its sky positions: its WCS is shifted by the cutout origin
    x, y = wcs_of(box).world_to_pixel_values(box.lon.values[0], box.lat.values[0])
    assert (float(x), float(y)) == pytest.approx((0, 0), abs=1e-9)


def test_cutout_roundtrip_keeps_sky_positions(tmp_path):
    ds = _read("fm_ts.fits").isel(lat=slice(2, 8), lon=slice(3, 10))
    ds.sed.write(tmp_path / "cut.fits")
    back = fluxds.read(tmp_path / "cut.fits")
    np.testing.assert_allclose(back.lon.values, ds.lon.values, atol=1e-12)
    np.testing.assert_allclose(back.lat.values, ds.lat.values, atol=1e-12)
    assert fits.getheader(tmp_path / "cut.fits", "NORM")["CRPIX1"] == 6.5 - 3
    xr.testing.assert_equal(back.norm.drop_vars(["ix", "iy"]), ds.norm.drop_vars(["ix", "iy"]))
    with pytest.raises(fluxds.SchemaError, match="contiguous"):
        wcs_of(ds.isel(lon=[0, 2, 4]))


def test_model_found_beside_the_file_from_another_cwd(tmp_path, monkeypatch):
    folder = tmp_path / "maps"
    folder.mkdir()
    for name in ("fm_excess.fits", "fm_excess_model.yaml"):
        shutil.copy(WRITTEN / name, folder / name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    ds = fluxds.read(folder / "fm_excess.fits")  # gammapy would look in ./fm_excess_model.yaml and fail
    xr.testing.assert_identical(ds, _read("fm_excess.fits"))
    (folder / "fm_excess_model.yaml").unlink()
    with pytest.raises(fluxds.FormatError) as info:
        fluxds.read(folder / "fm_excess.fits")
    message = str(info.value)
    # only beside the map is searched (issue 12, item 4), never the current directory
    assert str(folder / "fm_excess_model.yaml") in message and "never in the current directory" in message
    shutil.copy(WRITTEN / "fm_excess_model.yaml", elsewhere / "fm_excess_model.yaml")
    with pytest.raises(fluxds.FormatError, match="only beside the map file"):
        fluxds.read(folder / "fm_excess.fits")


def test_written_files_embed_the_model(tmp_path, monkeypatch):
    ds = _read("fm_ts.fits")
    ds.sed.write(tmp_path / "ts.fits")
    assert fits.getheader(tmp_path / "ts.fits")["MODEL"] == "ts_model.yaml"
    (tmp_path / "ts_model.yaml").unlink()
    monkeypatch.chdir(WRITTEN.parent)
    xr.testing.assert_identical(fluxds.read(tmp_path / "ts.fits"), ds)
    write(ds, tmp_path / "nomodel.fits", model_file=False)
    assert "MODEL" not in fits.getheader(tmp_path / "nomodel.fits")
    with pytest.raises(fluxds.OverwriteError):
        ds.sed.write(tmp_path / "nomodel.fits")


def test_gammapy_reads_what_fluxds_writes(tmp_path, monkeypatch):
    pytest.importorskip("gammapy")
    from astropy.coordinates import SkyCoord
    from gammapy.estimators import FluxMaps

    monkeypatch.chdir(tmp_path)  # gammapy opens MODEL relative to the current directory
    for fname, sed_type in (("fm_ts.fits", "likelihood"), ("fm_excess.fits", "dnde")):
        ds = _read(fname)
        ds.sed.write(f"out_{fname}", sed_type=sed_type)
        fm = FluxMaps.read(f"out_{fname}")
        np.testing.assert_allclose(fm.dnde.data, ds.sed.dnde.values, rtol=1e-12, equal_nan=True)
        if "stat_scan" in ds:
            np.testing.assert_array_equal(
                fm.stat_scan.data, ds.stat_scan.transpose("energy", "scan", ...).values
            )
            fm.get_flux_points(SkyCoord(0, 0, unit="deg", frame="galactic"))  # NORM_SCAN is no image


def test_bad_files_raise_fluxds_errors(tmp_path):
    hdul = fits.open(WRITTEN / "fm_excess.fits")
    hdul["NORM"].header["CTYPE1"] = "ENERGY"
    hdul.writeto(tmp_path / "bad_ctype.fits")
    with pytest.raises(fluxds.FormatError, match="CTYPE1"):
        read(tmp_path / "bad_ctype.fits")
    hdul = fits.open(WRITTEN / "fm_excess.fits")
    hdul["NORM"].header["BANDSHDU"] = "NOPE"
    hdul.writeto(tmp_path / "bad_bands.fits")
    with pytest.raises(fluxds.FormatError, match="NOPE"):
        read(tmp_path / "bad_bands.fits")
    hdul = fits.open(WRITTEN / "fm_excess.fits")
    hdul[0].header["SED_TYPE"] = "banana"
    hdul.writeto(tmp_path / "bad_sed.fits")
    with pytest.raises(fluxds.FormatError, match="banana"):
        read(tmp_path / "bad_sed.fits")
    with pytest.raises(fluxds.FormatError, match="WCS maps"):
        write(fluxds.read(WRITTEN / "fp_likelihood.fits"), tmp_path / "x.fits")


@pytest.mark.parametrize("sed_type", ["e2dnde", "eflux"])
def test_other_sed_types_written_by_gammapy(tmp_path, monkeypatch, sed_type):
    """The conversions of the types without a file in the shared data (e2dnde: the reference times
    e_ref**2; eflux: the integrated reference), on maps gammapy writes."""
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxMaps

    for name in ("fm_excess.fits", "fm_excess_model.yaml"):
        shutil.copy(WRITTEN / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    fm = FluxMaps.read("fm_excess.fits")
    fm.write(f"g_{sed_type}.fits", sed_type=sed_type)
    ds = fluxds.read(tmp_path / f"g_{sed_type}.fits")
    assert ds.attrs["sed_type_init"] == sed_type and "norm" in ds
    reference = _read("fm_excess.fits")
    for name in ("norm", "norm_err", "norm_ul"):
        np.testing.assert_allclose(ds[name].values, reference[name].values, rtol=1e-12, equal_nan=True)
    stored = fits.open(tmp_path / f"g_{sed_type}.fits")[sed_type.upper()]
    got = ds.sed.get(sed_type, unit=stored.header["BUNIT"]).values
    np.testing.assert_allclose(got, stored.data, rtol=1e-12, equal_nan=True)


def test_bands_tables_sharing_one_name(tmp_path):
    """gammapy's ``to_hdulist(hdu_bands="BANDS")`` writes a table named BANDS after every image (the
    scan's one with other axes); gammapy cannot read that back, fluxds takes the one after each image."""
    hdul = fits.open(WRITTEN / "fm_ts.fits")
    for hdu in hdul[1:]:
        if hdu.name.endswith("_BANDS"):
            hdu.name = "BANDS"
        elif hdu.is_image:
            hdu.header["BANDSHDU"] = "BANDS"
    hdul.writeto(tmp_path / "shared.fits")
    shutil.copy(WRITTEN / "fm_ts_model.yaml", tmp_path)
    assert [h.name for h in fits.open(tmp_path / "shared.fits")].count("BANDS") == 17
    xr.testing.assert_identical(fluxds.read(tmp_path / "shared.fits"), _read("fm_ts.fits"))


def test_dataset_axis_roundtrip(tmp_path):
    """Per-dataset maps (counts/npred on a trailing ``dataset`` dim with labels): a label axis in their
    own bands table (``AXCOLS1 = 'DATASET'``)."""
    rng = np.random.default_rng(0)
    ds = fluxds.from_sed(
        "likelihood",
        {"norm": rng.random((2, 8, 10)), "counts": rng.poisson(3, (2, 8, 10, 3)).astype(float)},
        dims=("energy", "lat", "lon"),
        energy_min=[1, 3] * u.TeV,
        energy_max=[3, 10] * u.TeV,
        reference_model=LogParabola(
            amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV, alpha=2.0, beta=0.2
        ),
        coords={"dataset": ("dataset", ["obs1", "obs2", "obs3"])},
    )
    ds = assign_wcs(ds, _synthetic("TAN", "icrs").wcs.attrs["header"])
    ds.sed.write(tmp_path / "d.fits")
    assert fits.getheader(tmp_path / "d.fits", "COUNTS_BANDS")["AXCOLS1"] == "DATASET"
    back = fluxds.read(tmp_path / "d.fits")
    xr.testing.assert_identical(back, ds)
    assert back.counts.dims == ("energy", "lat", "lon", "dataset")
