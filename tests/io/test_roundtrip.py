"""read -> write -> read gives the same Dataset, in every SED type and format."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from helpers import GADF, GAMMAPY_DATA, WRITTEN, three_sources

import fluxds
from fluxds.io.cf.netcdf import write_netcdf

SOURCES = [
    GAMMAPY_DATA / "crab_hess_fp.fits",
    WRITTEN / "fp_likelihood.fits",
    WRITTEN / "fp_flux.fits",
    WRITTEN / "fp_ctb37b_dnde_eref_only.fits",
    GADF / "binlike.fits",
    GADF / "flux_points.fits",
    GADF / "diff_flux_points.ecsv",
]
FORMATS = {"fits": "fits", "ecsv": "ecsv", "hdf5": "h5"}
SED_TYPES = ["likelihood", "dnde", "e2dnde", "flux", "eflux"]


def assert_same(back: xr.Dataset, ds: xr.Dataset, sed_type: str) -> None:
    """Identical, except that norms of a converted SED type may differ by the rounding of
    (norm * ref) / ref: at most 2 units in the last place."""
    if sed_type == "likelihood":
        xr.testing.assert_identical(back, ds)
        return
    norms = [k for k in ds.data_vars if str(k).startswith("norm") and k != "norm_scan"]
    for name in norms:
        np.testing.assert_array_max_ulp(back[name].values, ds[name].values, maxulp=2)
        assert back[name].attrs == ds[name].attrs and back[name].dims == ds[name].dims
    xr.testing.assert_identical(back.drop_vars(norms), ds.drop_vars(norms))


def _types(ds):
    edges = ds.sed.has_edges
    return [t for t in SED_TYPES if edges or t in ("likelihood", "dnde", "e2dnde")]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_roundtrip_every_sed_type(tmp_path, source, fmt):
    ds = fluxds.read(source)
    for sed_type in _types(ds):
        path = tmp_path / f"out_{sed_type}.{FORMATS[fmt]}"
        ds.sed.write(path, sed_type=sed_type)
        back = fluxds.read(path)
        assert_same(back, ds, sed_type)
        # and a second trip changes nothing more
        path2 = tmp_path / f"again_{sed_type}.{FORMATS[fmt]}"
        back.sed.write(path2, sed_type=sed_type)
        assert_same(fluxds.read(path2), back, sed_type)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
@pytest.mark.parametrize("engine", ["netcdf4", "h5netcdf"])
def test_roundtrip_netcdf(tmp_path, source, engine):
    ds = fluxds.read(source)
    path = tmp_path / "out.nc"
    write_netcdf(ds, path, engine=engine)
    xr.testing.assert_identical(fluxds.read(path), ds)
    with xr.open_dataset(path) as plain:  # plain xarray reads it, and .sed works on it
        np.testing.assert_array_equal(plain.sed.dnde.values, ds.sed.dnde.values)


def test_written_file_has_the_columns_of_its_sed_type(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    path = tmp_path / "flux.fits"
    ds.sed.write(path, sed_type="flux")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "FLUXPOINTS", "GTI"]
        header = hdul["FLUXPOINTS"].header
        names = hdul["FLUXPOINTS"].columns.names
        assert header["SED_TYPE"] == "flux" and header["UL_CONF"] == 0.9973002
        for col in (
            "e_ref",
            "e_min",
            "e_max",
            "flux",
            "flux_err",
            "flux_errp",
            "flux_errn",
            "flux_ul",
            "ts",
            "sqrt_ts",
            "stat_scan",
            "norm_scan",
            "is_ul",
            "success",
        ):
            assert col in names
        # the likelihood form travels beside (GADF allows several representations in one SED)
        assert {"norm", "norm_err", "ref_flux", "ref_dnde", "ref_eflux"} <= set(names)
        np.testing.assert_allclose(
            hdul["FLUXPOINTS"].data["flux"], ds.sed.flux.values, rtol=0, equal_nan=True
        )
        assert hdul["GTI"].header["MJDREFI"] == 51544


def test_multi_source_fits(tmp_path):
    ds = three_sources()
    assert ds.sizes["source"] == 3
    path = tmp_path / "three.fits"
    ds.sed.write(path)
    with fits.open(path) as hdul:
        sed_hdus = [h for h in hdul[1:]]
        assert len(sed_hdus) == 3
        assert [h.header["SOURCE"] for h in sed_hdus] == list(ds.source.values)
    back = fluxds.read(path)
    xr.testing.assert_identical(back, ds)
    # per-source reference models survive, and convert per source
    models = back.sed.reference_model
    assert set(models) == set(ds.source.values)
    assert models["Vela X"].to_dict()["parameters"]["index"]["value"] == 1.8
    for name in ds.source.values:
        single = fluxds.read(path, hdu=str(name).upper())
        np.testing.assert_array_equal(single.sed.flux.values, ds.sed.flux.sel(source=name).values)


def test_multi_source_refuses_single_table_formats(tmp_path):
    ds = three_sources()
    with pytest.raises(fluxds.FormatError, match="3 sources"):
        ds.sed.write(tmp_path / "three.ecsv")
    assert not (tmp_path / "three.ecsv").exists()


def test_overwrite_is_refused_unless_asked(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    path = tmp_path / "sed.fits"
    ds.sed.write(path)
    before = path.read_bytes()
    with pytest.raises(fluxds.OverwriteError, match="exists"):
        ds.sed.write(path, sed_type="flux")
    assert path.read_bytes() == before
    ds.sed.write(path, sed_type="flux", overwrite=True)
    assert fluxds.read(path).sed.sed_type_init == "likelihood"
    assert fits.getheader(path, "FLUXPOINTS")["SED_TYPE"] == "flux"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sed.fits"]  # no temporary left


def test_failed_write_leaves_nothing(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits").expand_dims(phase=2)
    with pytest.raises(fluxds.FormatError, match="netCDF"):
        ds.sed.write(tmp_path / "bad.fits")
    assert list(tmp_path.iterdir()) == []


def test_contradicting_representations_are_refused(tmp_path):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    path = tmp_path / "flux.fits"
    ds.sed.write(path, sed_type="flux")
    with fits.open(path, mode="update") as hdul:
        hdul["FLUXPOINTS"].data["flux"][2] *= 1.5  # someone edits the flux, not the norm
    with pytest.raises(fluxds.SchemaError, match="'flux' and 'norm'.*disagree"):
        fluxds.read(path)


def test_multi_source_with_shared_reference_roundtrips_identically(tmp_path):
    """One reference model for all sources: ref_* have no source dimension, and keep none."""
    rng = np.random.default_rng(1)
    model = fluxds.models.PowerLaw(index=2.2, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        rng.normal(1, 0.2, (3, 4)),
        energy_min=[1, 2, 4] * u.TeV,
        energy_max=[2, 4, 8] * u.TeV,
        reference_model=model,
        norm_err=rng.uniform(0.1, 0.2, (3, 4)),
        dims=("energy", "source"),
        coords={"source": ["a", "b", "c", "d"]},
    )
    assert ds.norm.dims == ("source", "energy")  # the contract's order, whatever order was given
    assert ds.ref_flux.dims == ("energy",)
    for ext in ("fits",):
        path = tmp_path / f"four.{ext}"
        ds.sed.write(path, sed_type="flux")
        xr.testing.assert_identical(fluxds.read(path), ds)


@pytest.mark.parametrize("ext", ["ecsv", "h5", "fits"])
def test_scalar_source_name_survives(tmp_path, ext):
    ds = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits").assign_coords(source="Crab Nebula")
    path = tmp_path / f"crab.{ext}"
    ds.sed.write(path)
    back = fluxds.read(path)
    assert str(back.source.values) == "Crab Nebula"
    xr.testing.assert_identical(back, ds)


@pytest.mark.parametrize("names", [["Sgr A*", "east"], ["twin1", "twin2"], ["one"]])
def test_flux_points_from_a_map_keep_their_positions(tmp_path, names):
    """The SED extracted from a map keeps its sky positions (source_lon/source_lat) through the file."""
    from astropy.coordinates import SkyCoord

    fm = fluxds.read(WRITTEN / "fm_excess.fits")
    lon = [359.944, 0.2] if names[0] == "Sgr A*" else [0.1, 0.1]
    positions = SkyCoord(lon[: len(names)] * u.deg, [-0.046, 0.1][: len(names)] * u.deg, frame="galactic")
    if len(names) == 1:
        positions = positions[0]
    sed = fm.sed.get_flux_points(positions, names=names)
    path = tmp_path / "sed.fits"
    sed.sed.write(path)
    back = fluxds.read(path)
    xr.testing.assert_identical(back, sed)
    assert back["source_lon"].attrs == sed["source_lon"].attrs
