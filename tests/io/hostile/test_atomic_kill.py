"""Writes that cannot corrupt: a writing process SIGKILLed at random moments never damages the old file.

A forked child rewrites a target (several MB) in a loop with ``overwrite=True``; the parent kills it with
SIGKILL after a random (seeded) delay spread over a few write durations, while polling the target. Every
time, before and after the kill, the target must hold exactly the old content or exactly the new
content (compared with bytes written independently, in the parent, to other paths), and read back with
``fluxds.read`` as the Dataset that was written; nothing but the target and dot-file temporaries
``.<name>.*.tmp`` may ever appear in the directory.

``FLUXDS_KILLS=100 python -m pytest -q tests/io/hostile/test_atomic_kill.py -p no:cacheprovider -s`` runs
100 kills for every format and prints the outcomes (the default is 100 for FITS and 15-30 for the others,
to stay under a minute on a busy machine). The kill test carries the ``campaign`` marker.
"""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import xarray as xr

import fluxds
from fluxds.construct import from_likelihood
from fluxds.io.output.atomic import atomic_path, remove_stale_temporaries, stale_temporaries
from fluxds.models import PowerLaw

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

KILLS = {"fits": 100, "nc": 30, "h5": 15, "zarr": 15, "zarr-atomic_path": 15}
N_ENERGY = 3000  # ~1.2 MB per file: a write lasts some 40 ms, long enough to be hit mid-way


def _dataset(scale: float) -> xr.Dataset:
    rng = np.random.default_rng(7)
    edges = np.geomspace(0.1, 100.0, N_ENERGY + 1) * u.TeV
    model = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    return from_likelihood(
        scale * rng.uniform(0.5, 2.0, N_ENERGY),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=model,
        norm_err=rng.uniform(0.1, 0.2, N_ENERGY),
        ts=rng.uniform(0.0, 50.0, N_ENERGY),
        norm_scan=np.tile(np.linspace(0.0, 5.0, 11), (N_ENERGY, 1)),
        stat_scan=rng.uniform(0.0, 10.0, (N_ENERGY, 11)),
    )


def _tree_digest(path: Path) -> str:
    """Hash of a directory tree read through a descriptor of its top directory, so that the whole walk
    sees one generation of the store even if the name is swapped meanwhile (a path-by-path walk could
    mix two generations); retried if the name was swapped during the walk (the generation walked is then
    being retired, and removed)."""
    for _ in range(100):
        top = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            entries = []
            for dirpath, _dirs, files, dirfd in os.fwalk(".", dir_fd=top):
                for name in files:
                    fd = os.open(name, os.O_RDONLY, dir_fd=dirfd)
                    with os.fdopen(fd, "rb") as handle:
                        entries.append((f"{dirpath}/{name}", handle.read()))
            if os.stat(path).st_ino != os.fstat(top).st_ino:
                continue  # swapped during the walk: this generation is being retired, read the new one
            h = hashlib.sha256()
            for name, data in sorted(entries):
                h.update(name.encode() + b"\0" + data)
            return h.hexdigest()
        except FileNotFoundError:
            continue
        finally:
            os.close(top)
    raise AssertionError(f"{path}: could not read one generation of the store")


def _digest(path: Path) -> str | None:
    """Content hash of a file, or of a directory tree (names and bytes); None if absent."""
    try:
        if path.is_dir():
            return _tree_digest(path)
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def _foreign(directory: Path, target: Path) -> list[str]:
    """Names in ``directory`` other than the target and its temporaries."""
    allowed = {target.name} | {p.name for p in stale_temporaries(target)}
    return sorted(p.name for p in directory.iterdir() if p.name not in allowed)


def _zarr_through_atomic_path(ds: xr.Dataset, target: Path, overwrite: bool = False) -> None:
    from fluxds.io.cf.encoding import encode

    with atomic_path(target, overwrite=overwrite) as tmp:
        encode(ds).to_zarr(tmp, mode="w", consolidated=True)


def _writer(write, ds: xr.Dataset, target: Path, ready_fd: int) -> None:
    """The child: write ``ds`` to ``target`` again and again until killed."""
    try:
        os.write(ready_fd, b"1")
        while True:
            write(ds, target, overwrite=True)
    finally:
        os._exit(0)


@pytest.mark.campaign  # FLUXDS_KILLS=n scales it up
@pytest.mark.parametrize(
    "case",
    list(KILLS),
)
def test_sigkill_never_corrupts(tmp_path, case):
    kills = int(os.environ.get("FLUXDS_KILLS", KILLS[case]))
    suffix = case.split("-")[0]
    write = _zarr_through_atomic_path if case == "zarr-atomic_path" else fluxds.write
    old_ds, new_ds = _dataset(1.0), _dataset(2.0)
    # the two possible contents, written independently of the target
    write(old_ds, tmp_path / f"old.{suffix}")
    write(new_ds, tmp_path / f"new.{suffix}")
    old, new = _digest(tmp_path / f"old.{suffix}"), _digest(tmp_path / f"new.{suffix}")
    assert old != new
    work = tmp_path / "work"
    target = work / f"sed.{suffix}"
    start = time.perf_counter()
    write(old_ds, target)
    write_time = time.perf_counter() - start
    assert _digest(target) == old
    rng = np.random.default_rng(20261125)
    outcomes = {"old": 0, "new": 0}
    polls = killed_mid_write = 0
    for _ in range(kills):
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child never returns
            os.close(ready_r)
            _writer(write, new_ds, target, ready_w)
        os.close(ready_w)
        try:
            assert os.read(ready_r, 1) == b"1"
            deadline = time.perf_counter() + rng.uniform(0.0, 3.0 * write_time)
            while time.perf_counter() < deadline:  # a reader never sees a partial file under the name
                assert _digest(target) in (old, new), "a reader saw neither the old nor the new content"
                polls += 1
        finally:  # never leave a writer running, whatever happened
            os.close(ready_r)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        state = _digest(target)
        assert state in (old, new), "the target holds neither the old nor the new content"
        assert not _foreign(work, target)
        xr.testing.assert_identical(fluxds.read(target), old_ds if state == old else new_ds)
        outcomes["old" if state == old else "new"] += 1
        # a killed writer leaves its temporary behind (a later write does not remove it)
        left = remove_stale_temporaries(target, older_than=0)
        killed_mid_write += bool(left)
        assert all(p.name.startswith(f".{target.name}.") and p.name.endswith(".tmp") for p in left)
        if state == new:  # put the old content back, so that the next kill tests it again
            write(old_ds, target, overwrite=True)
    print(f"{case}: {kills} kills, outcomes {outcomes}, {killed_mid_write} mid-write, {polls} polls")
    assert outcomes["old"] + outcomes["new"] == kills
    # the random delays did hit the write window: many kills left a half-written temporary
    assert killed_mid_write >= kills // 10
    assert outcomes["old"] > 0
    assert sorted(p.name for p in work.iterdir()) == [target.name]


def test_existing_file_untouched_without_overwrite(tmp_path):
    target = tmp_path / "sed.fits"
    target.write_bytes(b"precious")
    with pytest.raises(fluxds.OverwriteError, match=r"sed\.fits.*overwrite=True"):
        fluxds.write(_dataset(1.0), target)
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sed.fits"]


def test_file_appearing_during_write_is_not_clobbered(tmp_path):
    target = tmp_path / "a.txt"
    with pytest.raises(fluxds.OverwriteError, match="appeared while writing"):
        with atomic_path(target) as tmp:
            tmp.write_text("new")
            target.write_text("someone else's")
    assert target.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_error_in_writer_leaves_nothing(tmp_path, kind):
    target = tmp_path / "out"
    target.write_text("SIMPLE  = old")  # a file fluxds may replace (FITS)
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target, overwrite=True) as tmp:
            if kind == "file":
                tmp.write_text("half")
            else:
                (tmp / "sub").mkdir(parents=True)
                (tmp / "sub" / "chunk").write_bytes(b"half")
            raise RuntimeError("boom")
    assert target.read_text() == "SIMPLE  = old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_directory_swapped_in_whole(tmp_path):
    target = tmp_path / "store.zarr"
    for generation in ("one", "two"):
        with atomic_path(target, overwrite=True) as tmp:  # a zarr-like store: fluxds may replace it
            (tmp / generation / "c").mkdir(parents=True)
            (tmp / "zarr.json").write_text(f'{{"node_type": "group", "attributes": {{"g": "{generation}"}}}}')
            (tmp / generation / "zarr.json").write_text('{"node_type": "array", "shape": [2]}')
        assert sorted(p.name for p in target.iterdir()) == sorted(["zarr.json", generation])
        assert generation in (target / "zarr.json").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store.zarr"]


def test_stale_temporaries_kept_by_writes_removed_by_age(tmp_path):
    target = tmp_path / "sed.fits"
    stale = tmp_path / ".sed.fits.dead1234.tmp"
    stale.write_bytes(b"half a file")
    other = tmp_path / ".other.fits.dead1234.tmp"
    other.write_bytes(b"not ours")
    with atomic_path(target) as tmp:
        tmp.write_bytes(b"complete")
    assert stale.exists()  # a later write does not remove it (it may belong to a running writer)
    assert remove_stale_temporaries(target, older_than=3600) == []
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert remove_stale_temporaries(target, older_than=3600) == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.fits.dead1234.tmp", "sed.fits"]
