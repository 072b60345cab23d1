"""Issue 13, items 11, 12, 16 and 17: what the writers keep, mark or refuse.

Every expected value comes from the file itself read with astropy (headers, columns), from a hand
calculation written here, or from the model's closed form; never from fluxds's own output.
"""

from __future__ import annotations

import json
import shutil
import warnings

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from helpers import DATA, WRITTEN

import fluxds
from fluxds.errors import FormatError, PhysicsWarning
from fluxds.models import PowerLaw


# --- item 11: derived energy edges are marked in the files and shown in the repr ---
def test_derived_edges_marked_in_fits_and_ecsv_and_repr(tmp_path):
    ds = fluxds.read(WRITTEN / "fp_ctb37b_dnde_eref_only.fits", derive_edges=True)
    e_ref = np.asarray(fits.getdata(WRITTEN / "fp_ctb37b_dnde_eref_only.fits", 1)["e_ref"], dtype=float)
    # the edges are geometric midpoints (hand calculation): not measured, so they are marked
    np.testing.assert_allclose(ds["energy_min"].values[1:], np.sqrt(e_ref[1:] * e_ref[:-1]), rtol=1e-12)
    assert "energy_edges_origin" in repr(ds) and "derived from e_ref" in repr(ds)

    fits_path, ecsv_path = tmp_path / "edges.fits", tmp_path / "edges.ecsv"
    ds.sed.write(fits_path, sed_type="likelihood")
    ds.sed.write(ecsv_path, sed_type="flux")

    header = fits.getheader(fits_path, "FLUXPOINTS")
    assert header["E_EDGES"].startswith("derived from e_ref")
    comments = {header[f"TTYPE{i}"]: header.get(f"TCOMM{i}", "") for i in range(1, header["TFIELDS"] + 1)}
    assert "derived" in comments["e_min"] and "derived" in comments["e_max"]
    assert comments["e_ref"] == "" and comments["norm"] == ""  # measured columns are not marked

    table = Table.read(ecsv_path, format="ascii.ecsv")
    assert table.meta["E_EDGES"].startswith("derived from e_ref")
    assert "derived" in table["e_min"].info.description and "derived" in table["e_max"].info.description
    assert not table["flux"].info.description

    for path in (fits_path, ecsv_path):  # the mark survives the round trip, and nothing else changes
        back = fluxds.read(path)
        xr.testing.assert_identical(back, ds)
        assert back["energy_min"].attrs["note"] == ds["energy_min"].attrs["note"]


def test_derived_edges_shown_when_built_from_arrays():
    ds = fluxds.from_sed(
        "dnde",
        {"dnde": [1e-11, 2e-12, 3e-13] * u.Unit("cm-2 s-1 TeV-1")},
        energy_ref=[1, 2, 4] * u.TeV,
        derive_edges=True,
    )
    # hand calculation: inner edges at the geometric midpoints, sqrt(1*2) and sqrt(2*4) TeV
    np.testing.assert_allclose(ds["energy_max"].values[:2], [np.sqrt(2.0), np.sqrt(8.0)], rtol=1e-14)
    assert "energy_edges_origin" in repr(ds)
    measured = fluxds.from_sed(
        "dnde", {"dnde": [1e-11, 2e-12] * u.Unit("cm-2 s-1 TeV-1")}, energy_min=[1, 2] * u.TeV,
        energy_max=[2, 4] * u.TeV,
    )  # fmt: skip
    assert "energy_edges_origin" not in measured.attrs


def test_edges_marked_by_another_writer_are_noted(tmp_path):
    """A file of another tool that marks its edges with E_EDGES reads with the edges noted as derived."""
    table = Table.read(WRITTEN / "fp_dnde.fits", hdu=1)
    table.meta["E_EDGES"] = "derived from e_ref (log midpoints), not measured"
    path = tmp_path / "marked.fits"
    table.write(path)
    ds = fluxds.read(path)
    assert "derived" in ds.attrs["energy_edges_origin"]
    assert "E_EDGES" not in ds.attrs


# --- item 12: dataset labels ---
@pytest.mark.parametrize("suffix", ["fits", "ecsv"])
def test_dataset_labels_round_trip_sed(tmp_path, suffix):
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits").assign_coords(dataset=["hess-run 1"])
    path = tmp_path / f"sed.{suffix}"
    ds.sed.write(path)
    xr.testing.assert_identical(fluxds.read(path), ds)


@pytest.mark.parametrize("suffix", ["fits", "ecsv"])
def test_dataset_labels_round_trip_light_curve(tmp_path, suffix):
    labels = ["night-1", "night 2", "O'Brien", "ünïcode"]
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits").assign_coords(dataset=labels)
    path = tmp_path / f"lc.{suffix}"
    lc.sed.write(path)
    back = fluxds.read(path)
    xr.testing.assert_identical(back, lc)
    assert back["dataset"].values.tolist() == labels
    if suffix == "fits":  # one readable keyword per label, as TTYPEn
        header = fits.getheader(path, 1)
        assert header["DSET1"] == "night-1" and header["DSET2"] == "night 2"


def test_dataset_label_keywords_must_match_the_axis(tmp_path):
    table = Table.read(WRITTEN / "fp_likelihood.fits", hdu=1)  # counts: one dataset
    table.meta["DSET1"], table.meta["DSET2"] = "a", "b"
    path = tmp_path / "bad.fits"
    table.write(path)
    with pytest.raises(FormatError, match="DSET1"):
        fluxds.read(path)


# --- item 16: refuse what a format cannot hold; reference models of stacked SEDs ---
def test_flux_map_to_ecsv_is_refused(tmp_path):
    fm = fluxds.read(WRITTEN / "fm_ts.fits")
    path = tmp_path / "map.ecsv"
    with pytest.raises(FormatError) as info:
        fm.sed.write(path)
    message = str(info.value)
    assert str(path) in message and "ECSV" in message and "flux map" in message
    assert not path.exists()
    with pytest.raises(FormatError, match="netCDF file cannot hold"):
        fm.sed.write(tmp_path / "map.nc", format="flux-map")


def _sed(source: str, index: float, amplitude: float) -> xr.Dataset:
    model = PowerLaw(index=index, amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    return fluxds.from_likelihood(
        [1.0, 1.2, 0.8],
        energy_min=[1, 2, 4] * u.TeV,
        energy_max=[2, 4, 8] * u.TeV,
        reference_model=model,
        norm_err=[0.1, 0.1, 0.2],
        coords={"source": source},
    )


def test_concat_of_seds_with_different_models(tmp_path):
    a, b = _sed("A", 2.0, 1e-11), _sed("B", 3.0, 2e-11)
    stacked = xr.concat([a, b], dim="source")  # xarray keeps the first model in attrs
    with pytest.warns(PhysicsWarning, match="describes the first source only"):
        stacked.sed.validate()

    joined = fluxds.concat_sources([a, b])
    with warnings.catch_warnings():
        warnings.simplefilter("error", PhysicsWarning)
        joined.sed.validate()
    models = json.loads(joined.attrs["reference_model"])["by_source"]
    assert models["A"]["parameters"]["index"]["value"] == 2.0
    assert models["B"]["parameters"]["index"]["value"] == 3.0
    # the numbers: each source's ref_dnde is its own power law at e_ref = sqrt(e_min e_max)
    e_ref = np.sqrt(np.array([1, 2, 4]) * np.array([2, 4, 8]))
    np.testing.assert_allclose(joined["ref_dnde"].sel(source="A"), 1e-11 * e_ref**-2.0, rtol=1e-12)
    np.testing.assert_allclose(joined["ref_dnde"].sel(source="B"), 2e-11 * e_ref**-3.0, rtol=1e-12)

    path = tmp_path / "two.fits"
    joined.sed.write(path)
    xr.testing.assert_identical(fluxds.read(path), joined)
    with pytest.raises(FormatError, match="no 'source' coordinate"):
        fluxds.concat_sources([a.drop_vars("source"), b])


# --- item 17: metadata kept as real keywords ---
@pytest.mark.parametrize("name", ["fp_likelihood.fits", "fm_ts.fits"])
def test_gti_creator_and_created_kept(tmp_path, name):
    original = fits.getheader(WRITTEN / name, "GTI")
    ds = fluxds.read(WRITTEN / name)
    assert ds["gti_start"].attrs["CREATOR"] == original["CREATOR"]
    path = tmp_path / "out.fits"
    ds.sed.write(path)
    written = fits.getheader(path, "GTI")
    assert written["CREATOR"] == original["CREATOR"] and written["CREATED"] == original["CREATED"]
    xr.testing.assert_identical(fluxds.read(path), ds)


def test_gti_keywords_through_ecsv(tmp_path):
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    path = tmp_path / "out.ecsv"
    ds.sed.write(path)
    back = fluxds.read(path)
    assert (
        back["gti_start"].attrs["CREATED"] == fits.getheader(WRITTEN / "fp_likelihood.fits", "GTI")["CREATED"]
    )
    xr.testing.assert_identical(back, ds)


# the header and first rows of a gamma-cat SED (2003A&A...406L...9A, tev-000138; BSD licence, see
# ../shared/data/published/gamma-cat): column descriptions and producer metadata
GAMMA_CAT_ECSV = """# %ECSV 0.9
# ---
# datatype:
# - {name: e_ref, unit: TeV, datatype: float32, description: Energy}
# - {name: dnde, unit: 1 / (cm2 s TeV), datatype: float32, description: Differential photon flux at `e_ref`}
# - {name: dnde_errn, unit: 1 / (cm2 s TeV), datatype: float32, description: Statistical negative error (1 sigma) on `dnde`}
# - {name: dnde_errp, unit: 1 / (cm2 s TeV), datatype: float32, description: Statistical positive error (1 sigma) on `dnde`}
# meta: !!omap
# - {data_type: sed}
# - {source_id: 138}
# - {reference_id: 2003A&A...406L...9A}
# - {telescope: hegra}
# schema: astropy-2.0
e_ref dnde dnde_errn dnde_errp
1.52 2.5e-11 5e-12 5e-12
2.02 8.49999e-12 1.59999e-12 1.59999e-12
2.68 4e-12 7e-13 7e-13
"""  # noqa: E501


def test_ecsv_column_descriptions_kept(tmp_path):
    source = tmp_path / "gammacat.ecsv"
    source.write_text(GAMMA_CAT_ECSV)
    original = Table.read(source, format="ascii.ecsv")
    expected = {c: original[c].info.description for c in ("e_ref", "dnde")}
    ds = fluxds.read(source)
    assert ds["energy"].attrs["description"] == expected["e_ref"]
    assert ds["norm"].attrs["description_dnde"] == expected["dnde"]

    out = tmp_path / "out.ecsv"
    ds.sed.write(out)  # as dnde, the type read
    table = Table.read(out, format="ascii.ecsv")
    for column in original.colnames:
        assert table[column].info.description == original[column].info.description
    xr.testing.assert_identical(fluxds.read(out), ds)

    out_fits = tmp_path / "out.fits"
    ds.sed.write(out_fits)  # FITS: descriptions as TCOMMn keywords (TOPCAT/STILTS convention)
    header = fits.getheader(out_fits, 1)
    comments = {header[f"TTYPE{i}"]: header.get(f"TCOMM{i}") for i in range(1, header["TFIELDS"] + 1)}
    assert comments["dnde"] == expected["dnde"] and comments["e_ref"] == "Energy"
    xr.testing.assert_identical(fluxds.read(out_fits), ds)


def test_sed_header_keywords_written_as_keywords(tmp_path):
    table = Table.read(WRITTEN / "fp_dnde.fits", hdu=1)
    table.meta["TELESCOP"], table.meta["INSTRUME"] = "HESS", "HESS-I"
    source = tmp_path / "hess.fits"
    table.write(source)
    ds = fluxds.read(source)
    out = tmp_path / "out.fits"
    ds.sed.write(out)
    header = fits.getheader(out, 1)
    assert header["TELESCOP"] == "HESS" and header["INSTRUME"] == "HESS-I"
    xr.testing.assert_identical(fluxds.read(out), ds)


def test_tscube_telescope_and_instrument_kept(tmp_path):
    name = DATA / "gadf-spec" / "tscube_lowts.fits.gz"
    original = fits.getheader(name, 0)
    ds = fluxds.read(name)
    assert ds.attrs["TELESCOP"] == original["TELESCOP"] and ds.attrs["INSTRUME"] == original["INSTRUME"]
    path = tmp_path / "cube.fits"
    ds.sed.write(path, format="tscube")
    header = fits.getheader(path, 0)
    assert header["TELESCOP"] == original["TELESCOP"] == "GLAST"
    assert header["INSTRUME"] == original["INSTRUME"] == "LAT"
    xr.testing.assert_identical(fluxds.read(path), ds)


def test_tscube_copy_keeps_keywords_after_a_second_round(tmp_path):
    """A file fluxds wrote (FDSATTRS present) still writes the keywords again."""
    first = tmp_path / "one.fits"
    shutil.copy(DATA / "gadf-spec" / "tscube_lowts.fits.gz", tmp_path / "cube.fits.gz")
    fluxds.read(tmp_path / "cube.fits.gz").sed.write(first, format="tscube")
    second = tmp_path / "two.fits"
    fluxds.read(first).sed.write(second, format="tscube")
    assert fits.getheader(second, 0)["TELESCOP"] == "GLAST"
