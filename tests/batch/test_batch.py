"""fluxds batch: many files in parallel (threads, or a dask.distributed LocalCluster), atomic outputs,
resumable, failures reported per file."""

from __future__ import annotations

import pytest
import xarray as xr
from helpers import sed_files

import fluxds
from fluxds.cli import main
from fluxds.parallel import DIGEST_ATTR, INPUT_ATTR, OPTIONS_ATTR, content_digest


def _check_outputs(paths, out, ext=".nc"):
    """Each output is its input's Dataset, plus the record of the input it was made from."""
    for path in paths:
        output = fluxds.read(out / (path.stem + ext))
        assert output.attrs.pop(INPUT_ATTR) == str(path.absolute())
        assert output.attrs.pop(DIGEST_ATTR) == content_digest(path)
        assert output.attrs.pop(OPTIONS_ATTR).startswith('{"read_options": ')
        xr.testing.assert_identical(output, fluxds.read(path))


def test_two_hundred_files_with_two_workers(tmp_path, capsys):
    """The issue's case: 200 files on a LocalCluster of 2 worker processes; a re-run skips them all."""
    paths = sed_files(tmp_path / "in", 200)
    out = tmp_path / "out"
    result = fluxds.batch(paths, out, to="netcdf", workers=2)
    assert result.ok and len(result.written) == 200 and not result.skipped
    _check_outputs(paths[::37], out)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.stem + ".nc" for p in paths)  # no temporaries
    again = fluxds.batch(paths, out, to="netcdf", workers=2)
    assert not again.written and len(again.skipped) == 200


def test_threads_progress_and_failures(tmp_path, capsys):
    paths = sed_files(tmp_path / "in", 20)
    bad = tmp_path / "in" / "broken.fits"
    bad.write_bytes(b"SIMPLE  = this is not a FITS file")
    out = tmp_path / "out"
    result = fluxds.batch([*paths, bad], out, to="fits", sed_type="flux")
    assert len(result.written) == 20 and list(result.failed) == [bad]
    assert "broken.fits" in str(bad) and "FormatError" in result.failed[bad]
    assert "100%" in capsys.readouterr().out  # the progress bar ran to the end
    _check_outputs(paths[:3], out, ".fits")
    assert fluxds.read(out / "sed000.fits").sed.sed_type_init == "likelihood"
    assert not (out / "broken.fits").exists()


def test_cli(tmp_path, capsys):
    paths = sed_files(tmp_path / "in", 12)
    (tmp_path / "in" / "junk.fits").write_bytes(b"\x00\x01")
    args = [
        "batch",
        *map(str, paths),
        str(tmp_path / "in" / "junk.fits"),
        "--out",
        str(tmp_path / "out"),
        "--to",
        "zarr",
        "--no-progress",
    ]
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "written 12, skipped 0 (exist), failed 1" in captured.out and "junk.fits" in captured.err
    _check_outputs(paths[:2], tmp_path / "out", ".zarr")
    assert main(args) == 1  # the junk file fails again; the others are skipped
    assert "written 0, skipped 12 (exist), failed 1" in capsys.readouterr().out


def test_unknown_target(tmp_path):
    with pytest.raises(fluxds.UnknownFormatError, match="unknown batch target"):
        fluxds.batch([], tmp_path, to="parquet")


def test_sed_type_only_for_tables(tmp_path):
    with pytest.raises(fluxds.FormatError, match="likelihood form"):
        fluxds.batch([], tmp_path, to="netcdf", sed_type="flux")
