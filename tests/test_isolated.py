"""Reading untrusted files in a separate process first (``isolate=``): a file on which the HDF5/netCDF C
library hangs or aborts is refused with a FormatError, and the caller survives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import xarray as xr
from conftest import GADF

import fluxds
from fluxds.cli import main
from fluxds.io import isolated

KNOWN = Path(__file__).resolve().parent.parent / "fuzz" / "known"
HANGS = sorted(KNOWN.glob("*.nc"))  # byte-flipped netCDF-4 files: netCDF-C and h5py loop forever on them


def test_the_hang_reproducers_exist():
    assert len(HANGS) == 2


def test_a_file_that_hangs_the_c_library_is_refused_in_time():
    path = HANGS[0]
    with pytest.raises(fluxds.FormatError, match="did not finish within 5 s") as info:
        fluxds.read(path, isolate=5)
    assert str(path) in str(info.value)


def test_a_reader_killed_by_a_signal_is_reported_by_name(monkeypatch, tmp_path):
    child = "import os, signal, sys\nos.kill(os.getpid(), signal.SIGABRT)\n"
    monkeypatch.setattr(isolated, "_CHILD", child)
    with pytest.raises(fluxds.FormatError, match="killed a separate Python process with SIGABRT") as info:
        isolated.probe(GADF / "flux_points.fits", 30)
    assert "flux_points.fits" in str(info.value)


def test_a_readable_file_reads_the_same_with_and_without_isolation():
    path = GADF / "flux_points.fits"
    xr.testing.assert_identical(fluxds.read(path, isolate=True), fluxds.read(path))


def test_an_ordinary_read_error_is_the_same_error_as_without_isolation(tmp_path):
    path = tmp_path / "cut.fits"
    path.write_bytes((GADF / "flux_points.fits").read_bytes()[:5000])
    with pytest.raises(fluxds.FluxdsError) as plain:
        fluxds.read(path)
    with pytest.raises(fluxds.FluxdsError) as isolated_error:
        fluxds.read(path, isolate=30)
    assert type(isolated_error.value) is type(plain.value)
    assert str(isolated_error.value) == str(plain.value)


def test_bad_isolation_arguments():
    with pytest.raises(TypeError, match="JSON values"):
        isolated.probe(GADF / "flux_points.fits", 10, reference_model=object())
    with pytest.raises(ValueError, match="> 0 s"):
        isolated.probe(GADF / "flux_points.fits", 0)


def test_batch_reports_the_hanging_input_and_converts_the_others(tmp_path):
    good = tmp_path / "good.fits"
    shutil.copy(GADF / "flux_points.fits", good)
    result = fluxds.batch([good, HANGS[0]], tmp_path / "out", isolate=5, progress=False)
    assert [p.name for p in result.written] == ["good.nc"]
    assert list(result.failed) == [HANGS[0]]
    assert "did not finish within 5 s" in result.failed[HANGS[0]]
    xr.testing.assert_identical(fluxds.read(tmp_path / "out" / "good.nc"), fluxds.read(good))


def test_command_line_isolate(capsys):
    assert main(["info", str(HANGS[1]), "--isolate", "5"]) == 1
    err = capsys.readouterr().err
    assert HANGS[1].name in err and "did not finish within 5 s" in err
