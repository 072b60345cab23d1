"""Attack review of issue 12 (item 8, "nothing lost"): replacing a flux map removes the model YAML its
old ``MODEL`` keyword named, even when that YAML belongs to *another* flux map.

``flux_maps_write._write_pair`` -> ``map_model.remove_replaced_model`` removes any fluxds-written YAML
the replaced file names by plain file name. A copy of ``a.fits`` saved as ``b.fits`` (or a file from
elsewhere whose ``MODEL`` names one of the user's YAMLs) names ``a_model.yaml``; overwriting ``b.fits``
deleted ``a_model.yaml``, so gammapy can no longer read the untouched ``a.fits``.
"""

from __future__ import annotations

import shutil

from astropy.io import fits
from helpers import WRITTEN

import fluxds


def test_overwriting_a_copy_keeps_the_yaml_of_the_original(tmp_path):
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    ds.sed.write(tmp_path / "a.fits")
    assert fits.getheader(tmp_path / "a.fits")["MODEL"] == "a_model.yaml"
    shutil.copy(tmp_path / "a.fits", tmp_path / "b.fits")  # b.fits names a_model.yaml too
    ds.sed.write(tmp_path / "b.fits", overwrite=True)
    assert fits.getheader(tmp_path / "a.fits")["MODEL"] == "a_model.yaml"
    assert (tmp_path / "a_model.yaml").is_file(), (
        f"a.fits (untouched) names a_model.yaml, which overwriting b.fits removed: "
        f"{sorted(p.name for p in tmp_path.iterdir())}"
    )


def test_a_received_map_naming_another_yaml_does_not_get_it_removed(tmp_path):
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    ds.sed.write(tmp_path / "mine.fits")  # the user's map and its YAML mine_model.yaml
    # a flux map from elsewhere, saved into the same folder, whose MODEL names the user's YAML
    with fits.open(WRITTEN / "fm_ts.fits") as hdul:
        hdul[0].header["MODEL"] = "mine_model.yaml"
        hdul.writeto(tmp_path / "received.fits")
    ds.sed.write(tmp_path / "received.fits", overwrite=True)
    assert (tmp_path / "mine_model.yaml").is_file()


def test_the_yaml_records_its_map_and_is_removed_with_it(tmp_path):
    """The YAML records the FITS file it was written for; replacing that file removes it (any name)."""
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    fluxds.write(ds, tmp_path / "a.fits", model_file="crab.yaml")
    assert "flux_map: a.fits\n" in (tmp_path / "crab.yaml").read_text()
    fluxds.write(ds, tmp_path / "a.fits", overwrite=True, model_file="crab.yaml")
    keyword = fits.getheader(tmp_path / "a.fits")["MODEL"]
    assert keyword.startswith("crab-")  # the name was taken by the old pair's YAML when written
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fits", keyword]


def test_a_yaml_recording_no_map_is_kept(tmp_path):
    """A YAML from a fluxds that recorded no map cannot be told to belong to the replaced file: kept."""
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    ds.sed.write(tmp_path / "a.fits")
    old = tmp_path / "a_model.yaml"
    old.write_text(old.read_text().replace("  flux_map: a.fits\n", ""))
    ds.sed.write(tmp_path / "a.fits", overwrite=True)
    assert old.is_file() and fits.getheader(tmp_path / "a.fits")["MODEL"] != "a_model.yaml"
