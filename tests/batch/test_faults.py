"""Faults in batch work: a dask.distributed worker killed mid-run, a corrupt input among good ones, a run
killed and re-run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import xarray as xr
from helpers import sed_files

import fluxds


def _outputs_equal(out_a, out_b, names) -> None:
    for name in names:
        xr.testing.assert_identical(fluxds.read(out_a / name), fluxds.read(out_b / name))


def test_worker_killed_mid_run_gives_the_same_outputs(tmp_path):
    """A LocalCluster of 2 worker processes; one is SIGKILLed once the first outputs appear. dask
    reschedules its tasks; every output is there, identical to a clean threaded run's, and no temporary
    is left in the output folder."""
    distributed = pytest.importorskip("distributed", reason="dask.distributed is part of the test extra")
    paths = sed_files(tmp_path / "in", 120)
    clean = tmp_path / "clean"
    assert fluxds.batch(paths, clean, to="netcdf", progress=False).ok

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    try:
        pids = list(client.run(os.getpid).values())
        out = tmp_path / "out"
        killed = []

        def kill_one_when_started() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if out.exists() and sum(1 for p in out.iterdir() if p.suffix == ".nc") >= 10:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
                    return
                time.sleep(0.01)

        killer = threading.Thread(target=kill_one_when_started)
        killer.start()
        result = fluxds.batch(paths, out, to="netcdf", scheduler=cluster.scheduler_address, progress=False)
        killer.join()
    finally:
        client.close()
        cluster.close()
    assert killed, "the worker was not killed: the run ended before 10 outputs appeared"
    assert result.ok and len(result.written) == 120
    names = sorted(p.stem + ".nc" for p in paths)
    assert sorted(p.name for p in out.iterdir()) == names  # no temporaries, nothing missing
    _outputs_equal(out, clean, names)


def test_corrupt_input_reported_others_complete(tmp_path, capsys):
    paths = sed_files(tmp_path / "in", 20)
    corrupt = tmp_path / "in" / "sed005.fits"
    data = bytearray(corrupt.read_bytes())
    data[2880 + 100 : 2880 + 400] = b"\xff" * 300  # damage the table header of the SED HDU
    corrupt.write_bytes(bytes(data))
    from fluxds.cli import main

    code = main(["batch", *map(str, paths), "--out", str(tmp_path / "out"), "--no-progress"])
    captured = capsys.readouterr()
    assert code == 1
    assert "written 19, skipped 0 (exist), failed 1" in captured.out
    assert "sed005.fits" in captured.err
    assert not (tmp_path / "out" / "sed005.nc").exists()
    assert len(list((tmp_path / "out").iterdir())) == 19


def test_rerun_after_kill_does_only_what_is_missing(tmp_path):
    """`fluxds batch` in a subprocess, SIGKILLed after some outputs are written; the re-run writes exactly
    the missing ones, skips the rest, and every output reads back equal to a clean conversion."""
    paths = sed_files(tmp_path / "in", 150)
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "fluxds.cli",
        "batch",
        *map(str, paths),
        "--out",
        str(out),
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    done = 0
    while time.monotonic() < deadline and process.poll() is None:
        done = sum(1 for p in out.iterdir() if p.suffix == ".nc") if out.exists() else 0
        if done >= 20:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.wait()
    if process.returncode != -signal.SIGKILL:
        pytest.fail(f"the batch finished before it could be killed (return code {process.returncode})")
    before = {p.name for p in out.iterdir() if p.suffix == ".nc"}
    assert 20 <= len(before) < 150
    result = fluxds.batch(paths, out, to="netcdf", progress=False)
    assert result.ok
    assert {p.name for p in result.skipped} == before
    assert len(result.written) == 150 - len(before)
    names = sorted(p.stem + ".nc" for p in paths)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == names
    for path in paths[::25]:  # an output is its input plus the record of that input (fluxds.parallel)
        made = fluxds.read(out / (path.stem + ".nc"))
        made.attrs = {k: v for k, v in made.attrs.items() if not k.startswith("fluxds_batch_")}
        xr.testing.assert_identical(made, fluxds.read(path))
    # the temporaries of the killed run's unfinished writes were cleaned by the re-run
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert np.all([fluxds.read(out / n).sizes["energy"] == 4 for n in names[:3]])
