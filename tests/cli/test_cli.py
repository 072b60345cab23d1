"""The command line: info, convert, demo; and the xarray backend doorway.

The last section (issue 13 item 22): the read options (``--units``, ``--derive-edges``, ``--isolate``,
``--columns``) on ``info``, ``convert``, ``plot`` and ``batch`` alike; ``columns=`` naming a column the
file lacks is a FluxdsError; ``fluxds info`` shows a light curve's time bins, the reason a reference
model is missing, "SED_TYPE keyword absent", and exits quietly on a closed pipe. Expected numbers come
from the files themselves (numpy / astropy), not from fluxds.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.time import Time
from helpers import GADF, GAMMAPY_DATA, ROOT, WRITTEN

import fluxds
from fluxds.cli import info_text, main


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
    result = subprocess.run(
        [ruff, "check", "fluxds", "tests", "benchmarks"], cwd=ROOT, capture_output=True, text=True
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


# --- read options on every subcommand alike; what info shows (issue 13 item 22) ----------------------
TXT = GAMMAPY_DATA / "tests-spectrum-flux_points_ctb_37b.txt"
COLUMNS = "E=e_ref,Differential_Flux=dnde,lower_error=dnde_errn,upper_error=dnde_errp"
_FLUX = "cm-2 s-1 TeV-1"
UNITS = f"e_ref=TeV,dnde={_FLUX},dnde_errn={_FLUX},dnde_errp={_FLUX}"
EREF_ONLY = GADF / "diff_flux_points.fits"
SUBCOMMANDS = ["info", "convert", "plot", "batch", "batch-combine"]


def _command(sub: str, path, tmp_path, *options: str) -> tuple[list[str], object]:
    """The argv of ``sub`` on ``path``, and where its output goes (None for info)."""
    if sub == "info":
        return ["info", str(path), *options], None
    if sub == "convert":
        out = tmp_path / "out.fits"
        return ["convert", str(path), str(out), *options], out
    if sub == "plot":
        out = tmp_path / "out.png"
        return ["plot", str(path), "-o", str(out), *options], out
    if sub == "batch":
        out = tmp_path / "batch"
        return ["batch", str(path), "--out", str(out), "--to", "fits", "--no-progress", *options], out
    out = tmp_path / "combined.nc"
    return ["batch", str(path), "--out", str(out), "--combine", "source", "--no-progress", *options], out


def _written(sub: str, out):
    if sub == "batch":
        (out,) = list(out.iterdir())
    return fluxds.read(out)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_columns_and_units_mapping(sub, tmp_path, capsys):
    """A plain-text SED: its column names mapped and its units given on the command line."""
    expected = np.loadtxt(TXT, skiprows=2)  # E, Differential_Flux, lower_error, upper_error
    argv, out = _command(sub, TXT, tmp_path, "--columns", COLUMNS, "--units", UNITS)
    assert main(argv) == 0, capsys.readouterr().err
    if sub == "info":
        text = capsys.readouterr().out
        assert f"energy range:  {expected[0, 0]:.6g} - {expected[-1, 0]:.6g} TeV" in text
    elif sub == "plot":
        assert out.stat().st_size > 0
    else:
        ds = _written(sub, out)
        np.testing.assert_allclose(ds["energy"].values, expected[:, 0], rtol=1e-15)
        dnde = ds.sed.to_sed_type("dnde")["dnde"].squeeze().values
        np.testing.assert_allclose(dnde, expected[:, 1], rtol=1e-12)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_derive_edges(sub, tmp_path, capsys):
    """An e_ref-only SED: ``--derive-edges`` gives edges at the geometric midpoints (and flux needs them)."""
    with fits.open(EREF_ONLY) as hdul:
        e_ref = np.asarray(hdul[1].data["e_ref"], dtype=float)
    mid = np.sqrt(e_ref[1:] * e_ref[:-1])
    extra = {
        "convert": ["--sed-type", "flux"],
        "plot": ["--sed-type", "flux"],
        "batch": ["--sed-type", "flux"],
    }
    argv, out = _command(sub, EREF_ONLY, tmp_path, "--derive-edges", *extra.get(sub, []))
    assert main(argv) == 0, capsys.readouterr().err
    if sub == "info":
        text = capsys.readouterr().out
        assert "reference energies only" not in text
        assert f"energy range:  {e_ref[0] ** 2 / mid[0]:.6g} - " in text
    elif sub == "plot":
        assert out.stat().st_size > 0
    else:
        ds = _written(sub, out)
        np.testing.assert_allclose(ds["energy_min"].values[1:], mid, rtol=1e-12)
        np.testing.assert_allclose(ds["energy_max"].values[:-1], mid, rtol=1e-12)


@pytest.mark.parametrize("sub", SUBCOMMANDS)
@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--isolate", "0", "finite number of seconds > 0"),
        ("--units", "nonsense", "invalid choice: 'nonsense'; expected 'gadf' or NAME=UNIT"),
        ("--columns", "E", "expected NAME=VALUE"),
    ],
)
def test_every_read_option_is_known_and_checked(sub, option, value, message, tmp_path, capsys):
    """Each option exists on each subcommand and its value is checked there (usage error, exit 2)."""
    argv, _ = _command(sub, EREF_ONLY, tmp_path, option, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "unrecognized arguments" not in err


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_isolate_reaches_the_read(sub, tmp_path, monkeypatch, capsys):
    """``--isolate`` makes every subcommand probe the input in a confined process first (the probe is
    recorded here instead of run: the confined read itself is tested in io/hostile/test_isolated.py)."""
    import fluxds.io.guard.isolated

    calls = []
    monkeypatch.setattr(
        fluxds.io.guard.isolated, "probe", lambda path, seconds, **kw: calls.append((path, seconds))
    )
    argv, _ = _command(sub, WRITTEN / "fp_likelihood.fits", tmp_path, "--isolate", "30")
    assert main(argv) == 0, capsys.readouterr().err
    assert calls and all(seconds == 30.0 for _, seconds in calls)
    assert all(str(path).endswith("fp_likelihood.fits") for path, _ in calls)


def test_columns_naming_a_column_the_file_lacks_is_a_fluxds_error(capsys):
    path = GADF / "flux_points.fits"  # every table reader takes columns= (issue 14)
    with pytest.raises(fluxds.FluxdsError, match=r"flux_points\.fits: columns= names the column 'a'"):
        fluxds.read(path, columns={"a": "b"})  # HEAD: a raw TypeError (unexpected keyword argument)
    assert main(["info", str(path), "--columns", "a=b"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fluxds: error:") and "'a'" in err


def test_info_shows_time_bins(capsys):
    path = WRITTEN / "lc_flux.fits"
    with fits.open(path) as hdul:
        header, data = hdul[1].header, hdul[1].data
        scale = header["TIMESYS"].lower()
        ref = header["MJDREFI"] + header["MJDREFF"]
        start = Time(ref + data["time_min"], format="mjd", scale=scale)
        stop = Time(ref + data["time_max"], format="mjd", scale=scale)
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        f"time bins:     {len(start)} bins ({scale}), first {start[0].iso} - {stop[0].iso}, "
        f"last {start[-1].iso} - {stop[-1].iso}"
    ) in out


def test_info_gives_the_reason_a_reference_model_is_missing(capsys):
    """A one-bin light curve holds ref_dnde at one energy: it has ref_dnde, positive, but no shape."""
    path = GAMMAPY_DATA / "pks2155_hess_lc.fits"
    with fits.open(path) as hdul:
        ref_dnde = np.asarray(hdul[1].data["ref_dnde"])
    assert ref_dnde.shape[1:] == (1,) and (ref_dnde > 0).all()  # the premise, from the file
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "reference:     None (none: ref_dnde is given at a single energy" in out
    assert "neither a model nor positive ref_dnde" not in out


@pytest.mark.parametrize("value", [None, ""])
def test_info_says_sed_type_keyword_absent(value):
    ds = fluxds.read(WRITTEN / "fp_likelihood.fits")
    if value is None:
        del ds.attrs["sed_type_init"]
    else:
        ds.attrs["sed_type_init"] = value
    assert "(input: SED_TYPE keyword absent)" in info_text(ds)


class _ClosedPipe(io.TextIOBase):
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def fileno(self):
        raise io.UnsupportedOperation("no file descriptor")


def test_info_exits_quietly_on_a_closed_pipe(monkeypatch, capsys):
    """``fluxds info X | head -1`` (already so on HEAD: kept by this test)."""
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["info", str(WRITTEN / "fp_likelihood.fits")]) == 141
    assert capsys.readouterr().err == ""


def test_no_fsync_on_convert_and_batch(tmp_path, monkeypatch, capsys):
    """``--no-fsync``: the outputs are written (and read back equal) without a single fsync."""
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    source = WRITTEN / "fp_likelihood.fits"
    assert main(["convert", str(source), str(tmp_path / "a.nc"), "--no-fsync"]) == 0
    argv = ["batch", str(source), "--out", str(tmp_path / "many"), "--no-fsync", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    assert not synced
    xr.testing.assert_identical(fluxds.read(tmp_path / "a.nc"), fluxds.read(source))
    made = fluxds.read(tmp_path / "many" / "fp_likelihood.nc")
    made.attrs = {k: v for k, v in made.attrs.items() if not k.startswith("fluxds_batch_")}
    xr.testing.assert_identical(made, fluxds.read(source))
    assert main(["convert", str(source), str(tmp_path / "b.nc")]) == 0
    assert synced  # without the option: durable
    combine = ["batch", str(source), "--out", str(tmp_path / "c.nc"), "--combine", "source", "--no-fsync"]
    assert main(combine) == 2
    assert "--no-fsync applies to one output per input" in capsys.readouterr().err
