"""Attack review of issue 12 ("bounded memory", "no hang"): the *input itself* may be a special file.

A folder from elsewhere (an unpacked tarball: tar keeps symbolic links and FIFOs) holds ``crab.ecsv ->
/dev/zero`` or a FIFO ``crab.fits``. ``fluxds.read`` / ``fluxds info`` open it by name: the ECSV pre-check
(``ecsv_safe._header_and_rows``) reads /dev/zero as one endless line until memory runs out (a raw
``MemoryError`` under ``ulimit -v 3000000``, "unexpected MemoryError ... a fluxds bug" from the CLI; without
a limit it eats the machine's memory), and a FIFO blocks the read forever. zarr stores refuse such
entries (``zarr_safe``); the input path should be checked the same way (``fstat`` of a descriptor opened
with ``O_NONBLOCK``: a regular file, or a folder for zarr) before any reader runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

_CHILD = textwrap.dedent(
    """
    import resource, sys, warnings
    warnings.simplefilter("ignore")
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    import fluxds
    try:
        fluxds.read(sys.argv[1])
        print("read")
    except fluxds.FluxdsError as exc:
        print("refused", exc)
    except BaseException as exc:
        print("raw", type(exc).__name__, exc)
    """
)


def _read(path) -> str:
    try:
        run = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path} did not end within 60 s")
    return run.stdout + run.stderr


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("name", ["crab.ecsv", "crab.fits", "crab.nc"])
def test_input_linked_to_dev_zero_is_refused(tmp_path, name):
    path = tmp_path / name
    path.symlink_to("/dev/zero")
    out = _read(path)
    assert out.startswith("refused") and str(path) in out, out


@pytest.mark.parametrize("name", ["crab.fits", "crab.ecsv"])
def test_input_that_is_a_fifo_is_refused(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    out = _read(path)
    assert out.startswith("refused") and str(path) in out, out


_ENTRY_POINTS = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import fluxds
    from fluxds.io import detect_format
    from fluxds.io.cf.multi import open_mfdataset
    for name, call in [
        ("detect_format", lambda p: detect_format(p)),
        ("open_dataset", lambda p: fluxds.open_dataset(p, chunks={})),
        ("open_mfdataset", lambda p: open_mfdataset([p])),
        ("read format=", lambda p: fluxds.read(p, format="gadf-sed")),
        ("read isolate=", lambda p: fluxds.read(p, isolate=30)),
    ]:
        try:
            call(sys.argv[1])
            print(name, "read")
        except fluxds.FluxdsError as exc:
            print(name, "refused", exc)
    """
)


def test_every_entry_point_refuses_a_fifo_without_blocking(tmp_path):
    path = tmp_path / "crab.nc"
    os.mkfifo(path)
    try:
        run = subprocess.run(
            [sys.executable, "-c", _ENTRY_POINTS, str(path)], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"an entry point blocked on the FIFO {path}")
    lines = run.stdout.splitlines()
    assert len(lines) == 5, run.stdout + run.stderr
    for line in lines:
        assert " refused " in line and f"{path}: a FIFO (named pipe), not a regular file" in line, line


def test_a_users_link_to_a_regular_file_is_followed(tmp_path):
    import fluxds

    link = tmp_path / "crab.fits"
    link.symlink_to(fluxds.demo_path())
    assert "norm" in fluxds.read(link)
