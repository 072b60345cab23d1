"""Writes into folders that others share (issue 12, items 2, 7, 8 and 11).

- item 2: a watcher process (inotify through ctypes) plants a symbolic link to a victim file or folder
  under every name that appears in the target's folder, the moment it appears (and renames a directory
  away first): the victim is never touched, the target is always right;
- item 7: ``--overwrite`` replaces only what fluxds recognises as its own kind of output (a zarr store,
  a file of the format written), never a folder of other files, a symbolic link or a file of another
  kind;
- item 8: a flux map and its model YAML are replaced together, as gammapy reads them;
- item 11: a full disk or a file-size limit gives a ``WriteError`` naming the file and the cause.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from helpers import WRITTEN

import fluxds
from fluxds.construct import from_likelihood
from fluxds.errors import OverwriteError, WriteError
from fluxds.io.output.atomic import atomic_path, stale_temporaries
from fluxds.models import LogParabola, PowerLaw

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify, /proc: Linux")


def _sed(scale: float, n: int = 8) -> xr.Dataset:
    edges = np.geomspace(0.1, 100.0, n + 1) * u.TeV
    model = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    return from_likelihood(
        scale * np.linspace(0.5, 2.0, n),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=model,
        norm_err=np.full(n, 0.1),
    )


def _tree(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# ----------------------------------------------------------------------------------------------------
# item 2: a watcher plants symbolic links under every new name

WATCHER = textwrap.dedent(
    r"""
    import ctypes, os, struct, sys, time
    folder, victim_file, victim_dir = sys.argv[1:4]
    libc = ctypes.CDLL(None, use_errno=True)
    if os.geteuid() == 0:  # the attacker is another user of the shared folder
        os.setgid(65534)
        os.setuid(65534)
    IN_CREATE, IN_MOVED_TO, IN_ISDIR = 0x100, 0x80, 0x40000000
    fd = libc.inotify_init()
    libc.inotify_add_watch(fd, folder.encode(), IN_CREATE | IN_MOVED_TO)
    print("ready", flush=True)
    planted = set()
    while True:
        data = os.read(fd, 65536)
        offset = 0
        while offset < len(data):
            _, mask, _, size = struct.unpack_from("iIII", data, offset)
            name = data[offset + 16 : offset + 16 + size].rstrip(b"\0").decode()
            offset += 16 + size
            if name in planted or name.endswith(".moved") or not name.startswith("."):
                continue  # its own work, and the targets themselves (renamed into place)
            planted.add(name)
            path = os.path.join(folder, name)
            victim = victim_dir if ".zarr" in name else victim_file
            if mask & IN_ISDIR:  # move the directory away (if allowed), plant a link in its place
                try:
                    os.rename(path, path + ".moved")
                except OSError:
                    pass
            # plant the link the moment the name is free (the old atomic_path deleted its mkstemp file
            # and let the writer re-create it by name)
            deadline = time.monotonic() + 0.5
            while time.monotonic() < deadline:
                try:
                    os.symlink(victim, path)
                    break
                except FileExistsError:
                    pass
                except OSError:
                    break
    """
)


@pytest.fixture
def shared_folder():
    """A folder every user may write in, outside pytest's private tree (so that another user reaches it)."""
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="fluxds-shared-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@linux_only
@pytest.mark.parametrize(
    ("fmt", "mode"),
    [
        ("nc-netcdf4", 0o1777),
        ("nc-h5netcdf", 0o1777),
        ("fits", 0o1777),
        ("zarr", 0o1777),
        ("nc-netcdf4", 0o777),
    ],
    ids=["netcdf4", "h5netcdf", "fits", "zarr", "netcdf4-no-sticky-bit"],
)
def test_planted_symlinks_never_redirect_a_write(tmp_path, shared_folder, fmt, mode):
    """The attack of issue 12, item 2: a watcher (another user, when the tests run as root) sees every new
    name in the shared folder through inotify and plants a link to a victim file (a folder, for zarr)
    under it, renaming a directory away first. Each write must put the right content under the target or
    fail with a WriteError naming it; the victim is never touched. In a folder with the sticky bit
    (like /tmp) another user cannot rename fluxds's private directory, so every write must succeed."""
    folder = shared_folder
    folder.chmod(mode)
    victim_file = tmp_path / "victim.txt"
    victim_file.write_bytes(b"the victim's data\n")
    victim_dir = tmp_path / "victim_dir"
    victim_dir.mkdir()
    (victim_dir / "thesis.tex").write_text("\\documentclass{article}")
    for p in (tmp_path, victim_dir):
        p.chmod(0o755)
    before_file, before_dir = victim_file.read_bytes(), _tree(victim_dir)
    mtime = victim_file.stat().st_mtime_ns
    suffix, _, engine = fmt.partition("-")
    target = folder / f"sed.{suffix}"
    options = {"engine": engine} if engine else {}
    versions = [_sed(1.0), _sed(2.0)]
    watcher = subprocess.Popen(
        [sys.executable, "-I", "-c", WATCHER, str(folder), str(victim_file), str(victim_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    refused = []
    try:
        assert watcher.stdout.readline().strip() == "ready"
        for i in range(24):
            try:
                fluxds.write(versions[i % 2], target, overwrite=True, **options)
            except WriteError as exc:  # the watcher renamed each private directory away: never redirected
                assert str(exc).startswith(f"{target}: could not make a private temporary directory")
                refused.append(i)
                continue
            assert not target.is_symlink()
            xr.testing.assert_identical(fluxds.read(target), versions[i % 2])
            time.sleep(0.01)  # let the watcher act on what it saw
    finally:
        watcher.kill()
        watcher.wait()
    assert victim_file.read_bytes() == before_file and victim_file.stat().st_mtime_ns == mtime
    assert _tree(victim_dir) == before_dir
    assert [p for p in folder.iterdir() if p.is_symlink()], "no link planted: the attack did not run"
    if os.geteuid() == 0 and mode & 0o1000:
        assert not refused  # another user cannot rename entries of a sticky folder


def test_private_directory_is_private_and_reached_by_descriptor(tmp_path):
    target = tmp_path / "a.fits"
    with atomic_path(target) as tmp:
        (private,) = stale_temporaries(target)  # the temporary lives in a fresh private directory
        assert private.is_dir() and (private.stat().st_mode & 0o777) == 0o700
        if sys.platform.startswith("linux"):
            assert str(tmp).startswith("/proc/self/fd/")
        tmp.write_bytes(b"SIMPLE  = T")
    assert target.read_bytes() == b"SIMPLE  = T"
    assert [p.name for p in tmp_path.iterdir()] == ["a.fits"]


@linux_only
def test_private_directory_swapped_for_a_link_mid_write(tmp_path):
    """Renaming the private directory away and planting a link in its place redirects nothing."""
    victim = tmp_path / "victim"
    victim.mkdir()
    target = tmp_path / "out.fits"
    with atomic_path(target) as tmp:
        (private,) = stale_temporaries(target)
        private.rename(tmp_path / "moved")
        private.symlink_to(victim)
        tmp.write_bytes(b"SIMPLE  = new")
    assert list(victim.iterdir()) == []
    assert target.read_bytes() == b"SIMPLE  = new" and not target.is_symlink()


def test_overwrite_refuses_a_symlinked_target(tmp_path):
    victim = tmp_path / "victim.fits"
    fluxds.write(_sed(1.0), victim)
    before = victim.read_bytes()
    link = tmp_path / "sed.fits"
    link.symlink_to(victim)
    with pytest.raises(OverwriteError, match=r"sed\.fits: is a symbolic link"):
        fluxds.write(_sed(2.0), link, overwrite=True)
    assert victim.read_bytes() == before and link.is_symlink()
    dangling = tmp_path / "dangling.nc"
    dangling.symlink_to(tmp_path / "nowhere.nc")
    with pytest.raises(OverwriteError, match="exists"):  # a dangling link is an entry too
        fluxds.write(_sed(2.0), dangling)
    assert not (tmp_path / "nowhere.nc").exists()


# ----------------------------------------------------------------------------------------------------
# item 7: overwrite only what fluxds recognises as its own kind of output


def _thesis(folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    (folder / "thesis.tex").write_text("\\documentclass{article}")
    (folder / "figures").mkdir()
    (folder / "figures" / "crab.pdf").write_bytes(b"%PDF-1.5")
    return _tree(folder)


def test_zarr_overwrite_refuses_an_ordinary_folder(tmp_path, capsys):
    """``convert ... --format zarr --overwrite`` onto a folder of other files deleted it."""
    from fluxds.cli import main

    out = tmp_path / "out"
    before = _thesis(out)
    source = tmp_path / "in.fits"
    fluxds.write(_sed(1.0), source)
    with pytest.raises(OverwriteError, match=r"out: is a directory but not a zarr store.*thesis\.tex"):
        fluxds.write(_sed(1.0), out, format="zarr", overwrite=True)
    assert main(["convert", str(source), str(out), "--format", "zarr", "--overwrite"]) != 0
    assert str(out) in capsys.readouterr().err
    assert _tree(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.fits", "out"]


def test_zarr_overwrite_replaces_a_zarr_store_but_not_a_doctored_one(tmp_path):
    pytest.importorskip("zarr")
    store = tmp_path / "s.zarr"
    fluxds.write(_sed(1.0), store)
    fluxds.write(_sed(2.0), store, overwrite=True)  # a store fluxds wrote: replaced
    xr.testing.assert_identical(fluxds.read(store), _sed(2.0))
    (store / "notes.txt").write_text("mine")
    with pytest.raises(OverwriteError, match=r"s\.zarr: is not a zarr store fluxds wrote.*notes\.txt"):
        fluxds.write(_sed(1.0), store, overwrite=True)
    assert (store / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("existing", "fmt", "match"),
    [
        ("folder", "fits", "is a directory"),
        ("tex", "fits", "is not a file fluxds writes"),
        ("tex", "nc", "is not a file fluxds writes"),
        ("fits", "zarr", "is a file, and this write makes a directory"),
        ("hdf5", "fits", "holds HDF5 data, and this write makes FITS"),
    ],
)
def test_overwrite_refuses_other_kinds(tmp_path, existing, fmt, match):
    if fmt == "zarr":
        pytest.importorskip("zarr")
    target = tmp_path / f"out.{fmt}"
    if existing == "folder":
        before = _thesis(target)
    else:
        if existing == "tex":
            target.write_text("\\documentclass{article}")
        else:
            fluxds.write(_sed(1.0), target, format="netcdf" if existing == "hdf5" else "gadf-sed")
        before = target.read_bytes()
    with pytest.raises(OverwriteError, match=match) as info:
        formats = {"nc": "netcdf", "fits": "gadf-sed", "zarr": "zarr"}
        fluxds.write(_sed(2.0), target, format=formats[fmt], overwrite=True)
    assert str(target) in str(info.value)
    assert (_tree(target) if existing == "folder" else target.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary left


def test_overwrite_of_an_empty_file_and_of_the_same_format(tmp_path):
    target = tmp_path / "out.fits"
    target.touch()  # nothing to lose
    fluxds.write(_sed(1.0), target, overwrite=True)
    fluxds.write(_sed(2.0), target, overwrite=True)
    xr.testing.assert_identical(fluxds.read(target), _sed(2.0))


def test_a_target_swapped_for_a_folder_during_the_write_is_put_back(tmp_path):
    """The check is repeated on what the exchange swapped out: a folder that took the name meanwhile is
    swapped back, whole."""
    target = tmp_path / "out.fits"
    fluxds.write(_sed(1.0), target)
    with pytest.raises(OverwriteError, match="not a zarr store|is a directory"):
        with atomic_path(target, overwrite=True) as tmp:
            fluxds.write(_sed(2.0), tmp, format="gadf-sed")
            target.unlink()
            before = _thesis(target)
    assert _tree(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.fits"]


# ----------------------------------------------------------------------------------------------------
# item 8: a flux map and its model YAML are replaced together


def _map(amplitude: float) -> xr.Dataset:
    ds = fluxds.read(WRITTEN / "fm_ts.fits")
    model = LogParabola(
        amplitude=amplitude * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV, alpha=2.3, beta=0.1
    )
    from fluxds.models import model_to_json

    return ds.assign_attrs(reference_model=model_to_json(model))


def _yaml_amplitude(path: Path) -> float:
    import yaml

    doc = yaml.safe_load(path.read_text())
    params = {p["name"]: p["value"] for p in doc["components"][0]["spectral"]["parameters"]}
    return params["amplitude"]


def _pair(folder: Path, name: str = "m.fits") -> tuple[str, float]:
    keyword = fits.getheader(folder / name)["MODEL"]
    return keyword, _yaml_amplitude(folder / keyword)


def test_failed_overwrite_leaves_the_old_pair(tmp_path, monkeypatch):
    target = tmp_path / "m.fits"
    fluxds.write(_map(1e-11), target)
    keyword, amplitude = _pair(tmp_path)
    assert (keyword, amplitude) == ("m_model.yaml", 1e-11)
    before = sorted(p.name for p in tmp_path.iterdir())
    old_bytes = target.read_bytes()

    def disk_full(hdus, path, *args, **kwargs):  # the YAML is written by then
        assert any(p.name.startswith("m_model-") for p in tmp_path.iterdir())
        Path(path).write_bytes(b"SIMPLE  = half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("fluxds.io.wcs_map.write.write_fits", disk_full)  # the flux map's FITS writer
    with pytest.raises(WriteError, match=r"m\.fits: cannot write: the file system is full") as info:
        fluxds.write(_map(5e-11), target, overwrite=True)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no stray YAML, no temporary
    assert target.read_bytes() == old_bytes and _pair(tmp_path) == (keyword, amplitude)


def test_refused_write_creates_no_yaml(tmp_path):
    target = tmp_path / "m.fits"
    fluxds.write(_map(1e-11), target)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(OverwriteError, match="exists"):
        fluxds.write(_map(5e-11), target)
    (tmp_path / "x.fits").write_text("\\documentclass{article}")
    with pytest.raises(OverwriteError, match="not a file fluxds writes"):
        fluxds.write(_map(5e-11), tmp_path / "x.fits", overwrite=True)
    before["x.fits"] = (tmp_path / "x.fits").read_bytes()
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_successful_overwrite_gammapy_reads_the_new_model(tmp_path, monkeypatch):
    pytest.importorskip("gammapy")
    from gammapy.estimators import FluxMaps

    monkeypatch.chdir(tmp_path)  # gammapy opens MODEL relative to the current directory
    target = tmp_path / "m.fits"
    for amplitude in (1e-11, 5e-11, 7e-11):
        fluxds.write(_map(amplitude), target, overwrite=True)
        keyword, written = _pair(tmp_path)
        assert written == amplitude
        fm = FluxMaps.read("m.fits")
        assert fm.reference_model.spectral_model.amplitude.value == pytest.approx(amplitude)
        # the old YAML (fluxds wrote it, the old file named it) is gone; nothing else is left
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m.fits", keyword])
    fluxds.read(target)  # and fluxds reads it too


def test_old_yaml_not_written_by_fluxds_is_kept(tmp_path):
    target = tmp_path / "m.fits"
    fluxds.write(_map(1e-11), target)
    mine = (tmp_path / "m_model.yaml").read_text().replace("creator: fluxds", "creator: me")
    (tmp_path / "m_model.yaml").write_text(mine)
    fluxds.write(_map(5e-11), target, overwrite=True)
    assert (tmp_path / "m_model.yaml").read_text() == mine
    assert _pair(tmp_path)[1] == 5e-11


# ----------------------------------------------------------------------------------------------------
# item 11: disk full, file-size limit

FSIZE_CHILD = textwrap.dedent(
    r"""
    import json, os, resource, signal, sys, warnings
    import numpy as np, astropy.units as u
    import fluxds
    from fluxds.construct import from_likelihood
    from fluxds.models import PowerLaw

    warnings.simplefilter("ignore")
    path, engine = sys.argv[1], sys.argv[2]
    options = {"engine": engine} if engine else {}
    def sed(scale, n):
        edges = np.geomspace(0.1, 100.0, n + 1) * u.TeV
        model = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
        rng = np.random.default_rng(1)
        return from_likelihood(scale * rng.uniform(0.5, 2, n), energy_min=edges[:-1], energy_max=edges[1:],
                               reference_model=model, norm_err=rng.uniform(0.1, 0.2, n))
    fluxds.write(sed(1.0, 20), path, **options)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, resource.RLIM_INFINITY))
    try:
        fluxds.write(sed(2.0, 20_000), path, overwrite=True, **options)
        print(json.dumps(["written", None, ""]))
    except Exception as exc:
        print(json.dumps([type(exc).__name__, getattr(exc, "errno", None), str(exc)]))
    """
)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="RLIMIT_FSIZE: POSIX")
def test_file_size_limit_gives_write_errors_naming_the_file(tmp_path):
    """RLIMIT_FSIZE (60 kB) in a child per format, SIGXFSZ ignored: every writer fails with EFBIG, deep in
    astropy, netCDF-C, h5py (HDF5 tables) and zarr; each failure is a WriteError naming the file and the
    cause, and the old file survives.

    h5netcdf is left out: after its failed write the WriteError is raised right, but the process then
    dies (SIGSEGV) when the h5netcdf file object left over is garbage-collected (its close() flushes
    attributes into the broken HDF5 file; h5py 3.16, h5netcdf, 2026-12-04). The ENOSPC test below covers
    its error message."""
    import json

    cases = {"a.fits": "", "b.nc": "netcdf4", "d.zarr": "", "e.h5": ""}
    children = {
        name: subprocess.Popen(
            [sys.executable, "-c", FSIZE_CHILD, str(tmp_path / name), engine],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, engine in cases.items()
    }
    for name, child in children.items():
        out, err = child.communicate(timeout=300)
        assert child.returncode == 0, (name, err[-3000:])
        kind, code, message = json.loads(out.strip().splitlines()[-1])
        assert kind == "WriteError", (name, kind, message)
        assert code == errno.EFBIG, (name, message)
        assert message.startswith(f"{tmp_path / name}: cannot write: the file would pass the file-size limit")
        assert "ulimit -f: 60000 bytes" in message
        xr.testing.assert_identical(fluxds.read(tmp_path / name), _sed_child(1.0, 20))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cases)  # no temporary left


def _sed_child(scale: float, n: int) -> xr.Dataset:
    edges = np.geomspace(0.1, 100.0, n + 1) * u.TeV
    model = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    rng = np.random.default_rng(1)
    return from_likelihood(
        scale * rng.uniform(0.5, 2, n),
        energy_min=edges[:-1],
        energy_max=edges[1:],
        reference_model=model,
        norm_err=rng.uniform(0.1, 0.2, n),
    )


@pytest.mark.parametrize("fmt", ["fits", "netcdf4", "h5netcdf", "zarr"])
def test_disk_full_is_a_write_error_naming_the_file(tmp_path, monkeypatch, fmt):
    """ENOSPC simulated where each library meets it: a raw OSError (astropy, zarr), h5py's OSError with
    the errno only in its text (h5netcdf), netCDF-C's ``RuntimeError: NetCDF: HDF error`` with no errno
    at all (told from the free space left, here reported as 12 kB)."""
    if fmt == "zarr":
        pytest.importorskip("zarr")
    suffix = {"fits": "fits", "zarr": "zarr"}.get(fmt, "nc")
    target = tmp_path / f"out.{suffix}"
    options = {"engine": fmt} if suffix == "nc" else {}
    fluxds.write(_sed(1.0), target, **options)
    before = _tree(target) if suffix == "zarr" else target.read_bytes()
    enospc = os.strerror(errno.ENOSPC)
    if fmt == "fits":

        def fail(self, fileobj, *args, **kwargs):
            Path(fileobj).write_bytes(b"SIMPLE  = half")
            raise OSError(errno.ENOSPC, enospc)

        monkeypatch.setattr(fits.HDUList, "writeto", fail)
    else:

        def fail(self, store, *args, **kwargs):
            Path(store).write_bytes(b"half")
            if fmt == "netcdf4":
                raise RuntimeError("NetCDF: HDF error")
            if fmt == "h5netcdf":
                raise OSError(
                    f"[Errno 28] Can't write data (file write failed: errno = 28, error message = '{enospc}')"
                )
            raise OSError(errno.ENOSPC, enospc, str(store))

        monkeypatch.setattr(xr.Dataset, "to_zarr" if fmt == "zarr" else "to_netcdf", fail)
        real = os.statvfs

        class Full:
            def __init__(self, path):
                vfs = real(path)
                self.f_frsize, self.f_bavail = vfs.f_frsize, 12_000 // vfs.f_frsize

        if fmt == "netcdf4":
            monkeypatch.setattr(os, "statvfs", Full)
    with pytest.raises(WriteError) as info:
        fluxds.write(_sed(2.0), target, overwrite=True, **options)
    monkeypatch.undo()
    message = str(info.value)
    assert message.startswith(f"{target}: cannot write: the file system is full (No space left on device")
    assert info.value.errno == errno.ENOSPC and isinstance(info.value, OSError)
    assert "/proc/self/fd" not in message
    assert (_tree(target) if suffix == "zarr" else target.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_write_error_pickles_and_is_an_oserror():
    import pickle

    exc = WriteError("x.nc: cannot write: disk full", errno=errno.ENOSPC)
    assert str(exc) == "x.nc: cannot write: disk full" and exc.errno == errno.ENOSPC
    back = pickle.loads(pickle.dumps(exc))
    assert str(back) == str(exc) and isinstance(back, fluxds.FluxdsError)


def test_a_map_name_the_model_keyword_cannot_hold_leaves_nothing(tmp_path):
    """A flux map named with bytes that are not ASCII: the MODEL keyword cannot name its YAML; the write
    is a FormatError naming the target, and no YAML is left behind (it used to be a raw ValueError after
    the YAML was written)."""
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    name = os.fsdecode(b"a b\x80.fits")
    with pytest.raises(fluxds.FormatError, match="MODEL"):
        ds.sed.write(tmp_path / name)
    assert os.listdir(tmp_path) == []
