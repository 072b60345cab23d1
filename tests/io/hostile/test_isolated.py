"""Reading untrusted files in a separate process first (``isolate=``): a file on which the HDF5/netCDF C
library hangs or aborts is refused with a FormatError, and the caller survives; the child runs nothing
planted where the user stands, is capped in CPU time and memory, and its limit starts when it is ready."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import xarray as xr
from helpers import GADF, KNOWN

import fluxds
from fluxds.cli import main
from fluxds.io.guard import isolated, isolated_child

HANGS = sorted(KNOWN.glob("*.nc"))  # byte-flipped netCDF-4 files: netCDF-C and h5py loop forever on them
GOOD = GADF / "flux_points.fits"
# module names a planted file could hijack in the child: stdlib, dependencies, fluxds, the site hooks
PLANTED = ("json", "os", "numpy", "xarray", "fluxds", "h5py", "sitecustomize", "usercustomize", "site")


def _plant(folder: Path, marker: Path) -> None:
    """Python files in ``folder`` that append to ``marker`` when anything imports or runs them."""
    code = f"open({str(marker)!r}, 'a').write(__name__ + '\\n')\n"
    for name in PLANTED:
        (folder / f"{name}.py").write_text(code)
    (folder / "fluxds").mkdir()
    (folder / "fluxds" / "__init__.py").write_text(code)
    (folder / "startup.py").write_text(code)


def test_the_hang_reproducers_exist():
    assert len(HANGS) == 2


def test_a_file_that_hangs_the_c_library_is_refused_in_time():
    path = HANGS[0]
    with pytest.raises(fluxds.FormatError, match="did not finish within 2 s of CPU time") as info:
        fluxds.read(path, isolate=2)
    assert str(path) in str(info.value)


def test_a_reader_killed_by_a_signal_is_reported_by_name(monkeypatch):
    child = isolated_child.BOOTSTRAP + (
        "import signal\nos.write(settings['status'], b'ready\\n')\nos.kill(os.getpid(), signal.SIGABRT)\n"
    )
    monkeypatch.setattr(isolated, "CHILD", child)
    with pytest.raises(fluxds.FormatError, match="killed a separate Python process with SIGABRT") as info:
        isolated.probe(GOOD, 30)
    assert "flux_points.fits" in str(info.value)


def test_a_child_that_fails_before_reading_is_not_blamed_on_a_signal(monkeypatch):
    monkeypatch.setattr(isolated, "CHILD", "import sys; sys.exit(7)")
    with pytest.raises(fluxds.FormatError, match=r"failed before opening the file \(exit status 7\)"):
        isolated.probe(GOOD, 30)


def test_a_readable_file_reads_the_same_with_and_without_isolation():
    xr.testing.assert_identical(fluxds.read(GOOD, isolate=True), fluxds.read(GOOD))


def test_an_ordinary_read_error_is_the_same_error_as_without_isolation(tmp_path):
    path = tmp_path / "cut.fits"
    path.write_bytes(GOOD.read_bytes()[:5000])
    with pytest.raises(fluxds.FluxdsError) as plain:
        fluxds.read(path)
    with pytest.raises(fluxds.FluxdsError) as isolated_error:
        fluxds.read(path, isolate=30)
    assert type(isolated_error.value) is type(plain.value)
    assert str(isolated_error.value) == str(plain.value)


def test_code_planted_where_the_user_stands_or_beside_the_file_never_runs(monkeypatch, tmp_path):
    """Issue 12, security item 1: a json.py (sitecustomize.py, fluxds.py ...) beside a downloaded file
    ran in the child of ``isolate=``; PYTHONSTARTUP and PYTHONPATH=. are ignored too."""
    downloads, marker = tmp_path / "downloads", tmp_path / "marker"
    downloads.mkdir()
    _plant(downloads, marker)
    shutil.copy(GOOD, downloads / "crab.fits")
    monkeypatch.chdir(downloads)
    monkeypatch.setenv("PYTHONPATH", ".")
    monkeypatch.setenv("PYTHONSTARTUP", str(downloads / "startup.py"))
    monkeypatch.setenv("PYTHONINSPECT", "1")
    ds = fluxds.read("crab.fits", isolate=30)  # relative: the child gets it as an absolute path
    assert not marker.exists(), marker.read_text()
    xr.testing.assert_identical(ds, fluxds.read(GOOD))


def test_command_line_isolate_runs_nothing_planted_in_the_working_folder(tmp_path):
    script = Path(sysconfig.get_path("scripts")) / "fluxds"
    if not script.exists():
        pytest.skip("the fluxds console script is not installed")
    downloads, marker = tmp_path / "downloads", tmp_path / "marker"
    downloads.mkdir()
    _plant(downloads, marker)
    shutil.copy(GOOD, downloads / "crab.fits")
    done = subprocess.run(
        [str(script), "info", "crab.fits", "--isolate", "60"],
        cwd=downloads,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), marker.read_text()


def test_a_memory_error_in_the_child_is_a_refusal(monkeypatch):
    """The child's address space is capped from the read budget (1 MiB here: cap = start + 2 MiB +
    512 MiB), so a 4 GiB allocation fails there (it would succeed, untouched, without the cap); the
    MemoryError is reported, not swallowed as an ordinary read error."""
    child = isolated_child.BOOTSTRAP + (
        "import numpy, fluxds\n"
        "real = fluxds.read\n"
        "def read(path, **options):\n"
        "    if path == settings['path']:\n"
        "        numpy.empty(2**29)\n"
        "    return real(path, **options)\n"
        "fluxds.read = read\n"
        "from fluxds.io.guard.isolated_child import run_child\n"
        "run_child(settings)\n"
    )
    monkeypatch.setattr(isolated, "CHILD", child)
    with pytest.raises(fluxds.FormatError, match="ran out of memory") as info:
        fluxds.read(GOOD, isolate=30, max_bytes="1MiB")
    assert str(GOOD) in str(info.value) and "Unable to allocate" in str(info.value)


def test_the_limit_starts_when_the_child_is_ready_and_load_does_not_refuse_a_good_file():
    """Issue 12: ``isolate=5`` refused a good 5 kB FITS file on a busy machine. The child now imports
    and warms up before its CPU-time limit starts; four busy loops compete for the two cores."""
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(4)]
    try:
        ds = fluxds.read(GOOD, isolate=2)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert ds.sizes["energy"] == 24


@pytest.mark.parametrize("bad", [0, 0.0, -1, -0.5, math.nan, math.inf, -math.inf])
def test_isolate_values_that_are_no_time_limit_are_usage_errors(bad):
    with pytest.raises(ValueError, match="isolate must be a finite number of seconds > 0"):
        fluxds.read(GOOD, isolate=bad)


@pytest.mark.parametrize("bad", ["60", "yes", b"1", [5], {}])
def test_isolate_values_of_the_wrong_type_are_usage_errors(bad):
    with pytest.raises(TypeError, match="isolate must be True, False, None or a number"):
        fluxds.read(GOOD, isolate=bad)


def test_isolation_off_and_default():
    assert isolated.isolation_limit(False) is None
    assert isolated.isolation_limit(None) is None
    assert isolated.isolation_limit(True) == isolated.DEFAULT_SECONDS
    assert isolated.isolation_limit(2) == 2.0


def test_bad_probe_arguments():
    with pytest.raises(TypeError, match="JSON values"):
        isolated.probe(GOOD, 10, reference_model=object())
    with pytest.raises(ValueError, match="isolate must be a finite number of seconds > 0"):
        isolated.probe(GOOD, 0)
    with pytest.raises(ValueError, match="probe needs a time limit"):
        isolated.probe(GOOD, False)


@pytest.mark.parametrize("bad", [0, -1, math.nan, math.inf])
def test_batch_and_concat_refuse_a_bad_isolate_before_converting(tmp_path, bad):
    with pytest.raises(ValueError, match="isolate"):
        fluxds.batch([GOOD], tmp_path / "out", isolate=bad, progress=False)
    with pytest.raises(ValueError, match="isolate"):
        fluxds.concat_files([GOOD], tmp_path / "all.nc", isolate=bad, progress=False)
    assert not (tmp_path / "all.nc").exists()
    assert not list((tmp_path / "out").glob("*")) if (tmp_path / "out").exists() else True


def test_batch_reports_the_hanging_input_and_converts_the_others(tmp_path):
    good = tmp_path / "good.fits"
    shutil.copy(GOOD, good)
    result = fluxds.batch([good, HANGS[0]], tmp_path / "out", isolate=2, progress=False)
    assert [p.name for p in result.written] == ["good.nc"]
    assert list(result.failed) == [HANGS[0]]
    assert "did not finish within 2 s of CPU time" in result.failed[HANGS[0]]
    written = fluxds.read(tmp_path / "out" / "good.nc")
    for name in [k for k in written.attrs if k.startswith("fluxds_batch_")]:  # provenance of batch
        del written.attrs[name]
    xr.testing.assert_identical(written, fluxds.read(good))


def test_command_line_isolate(capsys):
    assert main(["info", str(HANGS[1]), "--isolate", "2"]) == 1
    err = capsys.readouterr().err
    assert HANGS[1].name in err and "did not finish within 2 s" in err
