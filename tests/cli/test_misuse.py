"""The command line misused, and files that try to misuse the terminal (issue 12, items 5 and 6 and the
"command line" paragraph).

Every misuse ends in ``fluxds: error: ...`` and exit status 2, without a traceback; everything printed has
its control characters escaped; ``batch`` never reports as written or skipped an input it did not
convert."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

import fluxds
from fluxds.cli import main
from fluxds.parallel import DIGEST_ATTR, INPUT_ATTR, BatchError, content_digest

EVIL = "\x1b]0;pwned\x07\x1b[2J"  # sets the terminal's title, then clears the screen
EVIL_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"
RAW = ("\x1b", "\x07", "\u202e")


def run(argv, capsys) -> tuple[int, str, str]:
    """``fluxds.cli.main(argv)`` in this process: (exit status, stdout, stderr); a SystemExit counts."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # main returns the status; an escaping SystemExit would be a bug too
        code = exc.code
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _sed(path: Path, source: str | None = None, overwrite: bool = False, **attrs) -> Path:
    model = fluxds.models.PowerLaw(index=2.4, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = fluxds.from_likelihood(
        np.array([1.0, 0.8, 1.2]),
        energy_min=[1, 2, 4] * u.TeV,
        energy_max=[2, 4, 8] * u.TeV,
        reference_model=model,
        norm_err=np.array([0.1, 0.1, 0.2]),
    )
    if source is not None:
        ds = ds.assign_coords(source=source)
    ds.attrs.update(attrs)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.sed.write(path, overwrite=overwrite)
    return path


@pytest.fixture
def where(tmp_path) -> dict:
    """The places the table of misuses names: {sed} a good SED file, {file} a plain file, {tmp} a folder."""
    plain = tmp_path / "plain.txt"
    plain.write_text("not a folder")
    return {"sed": str(_sed(tmp_path / "in" / "sed.fits")), "file": str(plain), "tmp": str(tmp_path)}


# (argv, a fragment of the error message); {sed}, {file}, {tmp} as in the fixture `where`
MISUSES = [
    # no or unknown command, unknown option
    ([], "required: command"),
    (["frobnicate"], "invalid choice"),
    (["info", "{sed}", "--bogus"], "unrecognized arguments: --bogus"),
    # info
    (["info"], "required: file"),
    (["info", "{tmp}/missing.fits"], "missing.fits: no such file"),
    (["info", "{sed}", "--units", "si"], "argument --units: invalid choice"),
    (["info", "{sed}", "--isolate", "-1"], "argument --isolate: must be a finite number of seconds > 0"),
    (["info", "{sed}", "--isolate", "nan"], "argument --isolate: must be a finite number of seconds > 0"),
    (["info", "{sed}", "--isolate", "inf"], "argument --isolate: must be a finite number of seconds > 0"),
    (["info", "{sed}", "--isolate", "0"], "argument --isolate: must be a finite number of seconds > 0"),
    (["info", "{sed}", "--isolate", "soon"], "argument --isolate: expected a number of seconds"),
    (["info", "{sed}", "--derive-edges=yes"], "ignored explicit argument"),
    # convert
    (["convert", "{sed}"], "required: output"),
    (["convert", "{tmp}/missing.fits", "{tmp}/o.nc"], "missing.fits: no such file"),
    (["convert", "{sed}", "{tmp}", "--overwrite"], "is a folder (and not a zarr store)"),
    (["convert", "{sed}", ".", "--overwrite"], ".: is a folder (and not a zarr store)"),
    (["convert", "{sed}", "{sed}", "--overwrite"], "is the input itself"),
    (["convert", "{sed}", "{tmp}/no/such/folder/o.nc"], "does not exist"),
    (["convert", "{sed}", "{file}/o.nc"], "plain.txt is not a folder"),
    (["convert", "{sed}", "/proc/fluxds-test.nc"], "/proc/fluxds-test.nc"),
    (["convert", "{sed}", "{tmp}/o.nc", "--sed-type", "energy"], "argument --sed-type: invalid choice"),
    (["convert", "{sed}", "{tmp}/o.nc", "--sed-type", "flux"], "hold the likelihood form"),
    (["convert", "{sed}", "{tmp}/o.nc", "--format", "parquet"], "unknown output format 'parquet'"),
    (["convert", "{sed}", "{tmp}/o.nc", "--units", "si"], "argument --units: invalid choice"),
    (["convert", "{sed}", "{tmp}/o.nc", "--isolate", "nan"], "argument --isolate: must be a finite"),
    (["convert", "{sed}", "{tmp}/o.nc", "--overwrite=yes"], "ignored explicit argument"),
    # batch
    (["batch", "--out", "{tmp}/out"], "required: INPUT"),
    (["batch", "{sed}"], "required: --out"),
    (["batch", "{sed}", "{tmp}/missing.fits", "--out", "{tmp}/out"], "1 inputs do not exist"),
    (["batch", "{sed}", "--out", "{file}"], "exists and is not a folder"),
    (["batch", "{sed}", "--out", "{file}/sub"], "is not a folder"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--to", "parquet"], "argument --to: invalid choice"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--sed-type", "energy"], "argument --sed-type: invalid"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--sed-type", "flux"], "--sed-type flux needs --to fits"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--workers", "0"], "argument --workers: must be from 1"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--workers", "-1"], "argument --workers: must be from 1"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--workers", "1.5"], "argument --workers: expected a whole"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--workers", "100000"], "argument --workers: must be from 1"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--isolate", "-1"], "argument --isolate: must be a finite"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--isolate", "nan"], "argument --isolate: must be a finite"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--isolate", "inf"], "argument --isolate: must be a finite"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--isolate", "0"], "argument --isolate: must be a finite"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--scheduler", ""], "argument --scheduler: expected an"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--scheduler", "nonsense"], "address 'nonsense' is malformed"),
    (
        [
            "batch",
            "{sed}",
            "--out",
            "{tmp}/out",
            "--scheduler",
            "tcp://127.0.0.1:9",
            "--connect-timeout",
            "0.5",
        ],
        "cannot reach the dask scheduler at 'tcp://127.0.0.1:9' within 0.5 s",
    ),
    (["batch", "{sed}", "--out", "{tmp}/out", "--connect-timeout", "nan"], "argument --connect-timeout"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--connect-timeout", "0"], "argument --connect-timeout"),
    (["batch", "{sed}", "--out", "{tmp}/out", "--combine", "energy"], "argument --combine: invalid choice"),
    (
        ["batch", "{sed}", "--out", "{tmp}/c.nc", "--combine", "source", "--sed-type", "flux"],
        "--combine writes",
    ),
    (["batch", "{sed}", "--out", "{tmp}/out", "--no-progress=yes"], "ignored explicit argument"),
    # demo
    (["demo", "--out", "{file}"], "exists and is not a folder"),
    (["demo", "--out"], "expected one argument"),
    # plot
    (["plot", "{sed}"], "required: -o/--output"),
    (["plot", "{tmp}/missing.fits", "-o", "{tmp}/p.png"], "missing.fits: no such file"),
    (["plot", "{sed}", "-o", "{tmp}/p.bogus"], "unknown image format 'bogus'"),
    (["plot", "{sed}", "-o", "{tmp}/no/such/p.png"], "does not exist"),
    (["plot", "{sed}", "-o", "{tmp}/p.png", "--kind", "pie"], "argument --kind: invalid choice"),
    (["plot", "{sed}", "-o", "{tmp}/p.png", "--sed-type", "energy"], "argument --sed-type: invalid choice"),
]


@pytest.mark.parametrize(("argv", "fragment"), MISUSES, ids=[" ".join(a) or "(none)" for a, _ in MISUSES])
def test_misuse_is_a_usage_error(argv, fragment, where, capsys, monkeypatch):
    """Each misuse: exit status 2, ``fluxds: error:`` and the reason on stderr, no traceback, nothing
    written."""
    monkeypatch.chdir(where["tmp"])
    before = sorted(p.name for p in Path(where["tmp"]).iterdir())
    code, out, err = run([a.format(**where) for a in argv], capsys)
    assert code == 2, (code, out, err)
    assert "fluxds: error:" in err and fragment in err, err
    assert "Traceback" not in err + out
    assert sorted(p.name for p in Path(where["tmp"]).iterdir()) == before


def test_batch_api_refuses_bad_workers_and_time_limits(tmp_path):
    sed = _sed(tmp_path / "in" / "sed.fits")
    for options in ({"workers": 0}, {"workers": -1}, {"isolate": float("nan")}, {"isolate": 0}):
        with pytest.raises(BatchError):
            fluxds.batch([sed], tmp_path / "out", progress=False, **options)
    with pytest.raises(BatchError, match="not a folder"):
        fluxds.batch([sed], sed, progress=False)


def test_info_escapes_terminal_controls(tmp_path, capsys):
    """Item 5: a FITS SED whose source name and attributes hold an escape sequence (set the title, clear
    the screen): ``info`` shows it escaped, never raw."""
    path = _sed(
        tmp_path / f"crab{EVIL}.fits", source=f"Crab{EVIL}\u202e", reference_model_origin=f"fit{EVIL}"
    )
    ds = fluxds.read(path)
    assert EVIL in str(ds["source"].values)  # the attack reaches the Dataset as written
    assert EVIL in ds.attrs["reference_model_origin"]
    code, out, err = run(["info", path], capsys)
    assert code == 0, err
    assert not any(c in out + err for c in RAW)
    assert f"sources:       Crab{EVIL_SHOWN}\\u202e" in out
    assert f"file:          {tmp_path}/crab{EVIL_SHOWN}.fits" in out
    assert f"reference:     PowerLaw (fit{EVIL_SHOWN})" in out


def test_error_message_escapes_file_name(tmp_path, capsys):
    """Item 5: an error naming a file whose name holds an escape sequence shows it escaped."""
    bad = tmp_path / f"bad{EVIL}.fits"
    bad.write_bytes(b"SIMPLE  = nonsense")
    code, out, err = run(["info", bad], capsys)
    assert code == 1 and f"bad{EVIL_SHOWN}.fits" in err
    code, out, err = run(["info", tmp_path / f"gone{EVIL}.fits"], capsys)  # a usage error too
    assert code == 2 and f"gone{EVIL_SHOWN}.fits: no such file" in err
    code, out, err = run(["info", bad, "--isolate", EVIL], capsys)  # an argparse error
    assert code == 2 and EVIL_SHOWN in err
    assert not any(c in out + err for c in RAW)


def test_warnings_are_escaped(tmp_path, capsys, monkeypatch):
    read = fluxds.read

    def warning_read(path, **options):
        warnings.warn(f"suspicious value in {path}{EVIL}", RuntimeWarning, stacklevel=1)
        return read(path, **options)

    monkeypatch.setattr(fluxds, "read", warning_read)
    code, out, err = run(["info", _sed(tmp_path / "sed.fits")], capsys)
    assert code == 0 and f"RuntimeWarning: suspicious value in {tmp_path}/sed.fits{EVIL_SHOWN}" in err
    assert not any(c in out + err for c in RAW)


def _crabs(tmp_path) -> list[Path]:
    """The issue's three inputs with one stem: a/crab.fits, b/crab.fits (another source), a/crab.ecsv."""
    a = _sed(tmp_path / "a" / "crab.fits", source="Crab A")
    b = _sed(tmp_path / "b" / "crab.fits", source="Crab B")
    fluxds.write(fluxds.read(a), tmp_path / "a" / "crab.ecsv")
    return [a, b, tmp_path / "a" / "crab.ecsv"]


def test_batch_refuses_colliding_output_names(tmp_path, capsys):
    """Item 6 as reported: was "written 2, failed 1", one output, and a re-run "skipped 3" with exit 0;
    now a usage error listing the three inputs, before anything is written."""
    inputs = _crabs(tmp_path)
    out = tmp_path / "out"
    for _ in range(2):  # a re-run says the same
        code, stdout, err = run(["batch", *inputs, "--out", out, "--no-progress"], capsys)
        assert code == 2 and "fluxds: error: 3 inputs would have the same output name" in err
        assert "crab.nc <- " in err and all(str(p) in err for p in inputs)
        assert "written" not in stdout and not out.exists()
    with pytest.raises(BatchError, match="same output name"):
        fluxds.batch(inputs, out, progress=False)
    # names differing only in case collide too (a case-insensitive file system keeps one)
    upper = _sed(tmp_path / "c" / "CRAB.fits")
    with pytest.raises(BatchError, match="compared without case"):
        fluxds.batch([inputs[0], upper], out, progress=False)


def test_batch_written_and_skipped_are_true_of_that_input(tmp_path, capsys):
    """Item 6: each output records the input and content it came from; a re-run skips only an output
    that matches, converts again an input that changed, and refuses a name taken by another input."""
    a, b, _ = _crabs(tmp_path)
    out = tmp_path / "out"
    code, stdout, _ = run(["batch", a, "--out", out, "--no-progress"], capsys)
    assert code == 0 and "written 1, skipped 0 (exist), failed 0" in stdout
    made = fluxds.read(out / "crab.nc")
    assert made.attrs[INPUT_ATTR] == str(a) and made.attrs[DIGEST_ATTR] == content_digest(a)
    assert str(made["source"].values) == "Crab A"
    # the same input again: skipped (true: the output is that input's)
    code, stdout, _ = run(["batch", a, a, "--out", out, "--no-progress"], capsys)
    assert code == 0 and "written 0, skipped 1 (exist), failed 0" in stdout
    # b/crab.fits into the same folder: its name is taken by a/crab.fits's output; reported, not lost
    code, stdout, err = run(["batch", b, "--out", out, "--no-progress"], capsys)
    assert code == 1 and "written 0, skipped 0 (exist), failed 1" in stdout
    assert f"was made from {a}, not from this input" in err
    assert str(fluxds.read(out / "crab.nc")["source"].values) == "Crab A"
    # a/crab.fits changed since: converted again, not skipped
    _sed(a, source="Crab A, reprocessed", overwrite=True)
    os.utime(a, ns=(1, 1))  # even with an old mtime: the content decides
    code, stdout, _ = run(["batch", a, "--out", out, "--no-progress"], capsys)
    assert code == 0 and "written 1, skipped 0 (exist), failed 0" in stdout
    assert str(fluxds.read(out / "crab.nc")["source"].values) == "Crab A, reprocessed"
    # a file under the output's name that batch did not make: left alone, reported
    (out / "crab.nc").unlink()
    fluxds.write(fluxds.read(b), out / "crab.nc")
    result = fluxds.batch([a], out, progress=False)
    assert not result.written and not result.skipped and "records no batch input" in result.failed[a]
    assert str(fluxds.read(out / "crab.nc")["source"].values) == "Crab B"


def test_end_to_end_usage_error_and_closed_pipe(tmp_path):
    """Two real processes: a misuse (workers 0, which hung) exits 2 without a traceback; ``fluxds info X |
    head -1`` (the reader gone) exits quietly."""
    sed = _sed(tmp_path / "sed.fits")
    cmd = [sys.executable, "-m", "fluxds.cli"]
    done = subprocess.run(
        [*cmd, "batch", str(sed), "--out", str(tmp_path / "o"), "--workers", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "fluxds: error: argument --workers" in done.stderr
    assert "Traceback" not in done.stderr
    reader = subprocess.Popen([*cmd, "info", str(sed)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # as `head -1` does once it has its line
    assert reader.wait(timeout=120) == 141
    assert reader.stderr.read() == b""


def test_batch_special_file_input_fails_without_hanging(tmp_path):
    """Hashing an input for its record must not block on a FIFO (or read a device without end)."""
    fifo = tmp_path / "pipe.fits"
    os.mkfifo(fifo)
    result = fluxds.batch([fifo], tmp_path / "out", progress=False)
    assert not result.written and "not a regular file" in result.failed[fifo]
