"""The command line: info, convert, demo; and the xarray backend doorway."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from conftest import GADF, GAMMAPY_DATA, WRITTEN

import fluxds
from fluxds.cli import main


def test_info(capsys):
    assert main(["info", str(WRITTEN / "fp_likelihood.fits")]) == 0
    out = capsys.readouterr().out
    assert "dims:          energy=6, dataset=1, scan=11, gti=1" in out
    assert "SED types:     likelihood, dnde, e2dnde, flux, eflux (input: likelihood)" in out
    assert "energy range:  0.316228 - 31.6228 TeV (6 bins)" in out
    assert "ul_conf:" in out and "0.9544997" in out


def test_info_names_missing_edges(capsys):
    assert main(["info", str(GADF / "diff_flux_points.fits")]) == 0
    out = capsys.readouterr().out
    assert "reference energies only" in out
    assert "SED types:     likelihood, dnde, e2dnde (input: dnde)" in out


def test_convert(tmp_path, capsys):
    out = tmp_path / "crab.ecsv"
    assert main(["convert", str(GAMMAPY_DATA / "crab_hess_fp.fits"), str(out), "--sed-type", "eflux"]) == 0
    back = fluxds.read(out)
    ref = fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits")
    np.testing.assert_array_equal(back.sed.eflux.values, ref.sed.eflux.values)
    # a second convert to the same path fails cleanly without --overwrite
    assert main(["convert", str(GAMMAPY_DATA / "crab_hess_fp.fits"), str(out)]) == 1
    assert "file exists; pass --overwrite" in capsys.readouterr().err
    assert main(["convert", str(GAMMAPY_DATA / "crab_hess_fp.fits"), str(out), "--overwrite"]) == 0


def test_bad_file_exit_code(tmp_path, capsys):
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"SIMPLE  = nonsense")
    assert main(["info", str(bad)]) == 1
    assert "bad.fits" in capsys.readouterr().err


def test_demo(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    for sed_type in ("norm", "dnde", "e2dnde", "flux", "eflux"):
        assert f"SED type '{sed_type}'" in out
    written = {p.name for p in (tmp_path / "demo").iterdir()}
    assert written == {"crab_flux.fits", "crab.nc", "crab_sed.png"}
    assert fits.getheader(tmp_path / "demo" / "crab_flux.fits", "FLUXPOINTS")["SED_TYPE"] == "flux"
    xr.testing.assert_identical(fluxds.read(tmp_path / "demo" / "crab.nc"), fluxds.read(fluxds.demo_path()))
    assert (tmp_path / "demo" / "crab_sed.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_console_script_is_installed():
    exe = shutil.which("fluxds")
    assert exe is not None, "the fluxds console script is not on PATH"
    result = subprocess.run([exe, "info", str(fluxds.demo_path())], capture_output=True, text=True)
    assert result.returncode == 0 and "energy=5" in result.stdout


def test_xarray_backend():
    ds = xr.open_dataset(GAMMAPY_DATA / "crab_hess_fp.fits", engine="fluxds")
    xr.testing.assert_identical(ds, fluxds.read(GAMMAPY_DATA / "crab_hess_fp.fits"))
    dropped = xr.open_dataset(GADF / "flux_points.ecsv", engine="fluxds", drop_variables=["is_ul"])
    assert "is_ul" not in dropped and "norm" in dropped


def test_ruff_clean():
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is part of the test extra: pip install -e '.[test]'")
    root = Path(__file__).parents[1]
    result = subprocess.run(
        [ruff, "check", "fluxds", "tests", "benchmarks"], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_import_is_light():
    """matplotlib and gammapy are imported only when asked for."""
    code = "import sys, fluxds; print('matplotlib' in sys.modules, 'gammapy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_convert_with_derived_edges(tmp_path, capsys):
    out = tmp_path / "flux.fits"
    source = str(GADF / "diff_flux_points.fits")
    assert main(["convert", source, str(out), "--sed-type", "flux"]) == 1
    assert "pass --derive-edges" in capsys.readouterr().err
    assert not out.exists()
    assert main(["convert", source, str(out), "--sed-type", "flux", "--derive-edges"]) == 0
    back = fluxds.read(out)
    ref = fluxds.read(GADF / "diff_flux_points.fits", derive_edges=True)
    np.testing.assert_array_equal(back.sed.flux.values, ref.sed.flux.values)
    assert "derived" in back.energy_min.attrs["note"]
    # GADF requires e_min/e_max in a flux table: the derived edges are written (and flagged)
    assert {"e_min", "e_max", "flux"} <= set(fits.getdata(out, "FLUXPOINTS").columns.names)
