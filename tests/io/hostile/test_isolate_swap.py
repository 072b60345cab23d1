"""Attack review of issue 12 (item 1 / isolate=): the file the confined child checked is not the file
the caller then reads.

``fluxds.read(path, isolate=N)`` (and ``batch(..., isolate=N)``) runs ``probe(path)`` in a child, then
opens ``path`` again by name in the calling process. Whoever controls the file (it comes from elsewhere:
a shared folder, a download location) swaps it between the two opens -- an inotify watcher sees the
child's IN_CLOSE_NOWRITE and renames a crafted file over the name -- and the calling process reads a file
that no child ever vetted (one that aborts the HDF5 library, say), defeating isolate=. Here the swap is
made right after the child returns (what the watcher achieves), and the swapped-in file is a valid one
with different numbers, so that the test needs no crashing input.
"""

from __future__ import annotations

import os
import shutil

import numpy as np

import fluxds
import fluxds.io.guard.isolated as isolated


def test_read_with_isolate_reads_what_the_child_vetted(tmp_path, monkeypatch):
    vetted = tmp_path / "crab.fits"
    shutil.copy(fluxds.demo_path(), vetted)
    original = fluxds.read(vetted)
    swapped = tmp_path / "other.nc"
    fluxds.write(original.assign(norm=original.norm * 1000), swapped)
    real_probe = isolated.probe

    def probe_then_swap(path, *args, **kwargs):
        real_probe(path, *args, **kwargs)
        os.replace(swapped, vetted)  # the attacker's watcher, once the child has closed the file

    monkeypatch.setattr(isolated, "probe", probe_then_swap)
    try:
        ds = fluxds.read(vetted, isolate=60)
    except fluxds.FluxdsError as exc:  # refusing a file that changed since it was vetted is fine
        assert str(vetted) in str(exc)
        return
    np.testing.assert_allclose(ds.norm.values, original.norm.values, equal_nan=True)


def test_isolated_read_errors_name_the_users_file_not_the_copy(tmp_path):
    import pytest

    bad = tmp_path / "bad.fits"
    bad.write_bytes(fluxds.demo_path().read_bytes()[:3000])
    with pytest.raises(fluxds.FluxdsError) as caught:
        fluxds.read(bad, isolate=60)
    assert str(bad) in str(caught.value) and "fluxds-copy-" not in str(caught.value)


def test_isolate_refuses_a_file_larger_than_the_read_budget_before_copying(tmp_path):
    import pytest

    path = tmp_path / "crab.fits"
    shutil.copy(fluxds.demo_path(), path)
    with pytest.raises(fluxds.BudgetError, match=r"crab\.fits: \d+ bytes, more than the read budget"):
        fluxds.read(path, isolate=60, max_bytes=1000)


def test_isolate_reads_a_private_copy_of_a_zarr_store(tmp_path):
    import pytest

    original = fluxds.read(fluxds.demo_path())
    store = tmp_path / "crab.zarr"
    fluxds.write(original, store)
    ds = fluxds.read(store, isolate=60)
    np.testing.assert_allclose(ds.norm.values, original.norm.values, equal_nan=True)
    os.symlink("/etc/hostname", store / "planted")
    with pytest.raises(fluxds.FormatError, match=r"crab\.zarr.*'planted' is a symbolic link"):
        fluxds.read(store, isolate=60)


def test_batch_with_isolate_converts_what_the_child_vetted(tmp_path, monkeypatch):
    vetted = tmp_path / "crab.fits"
    shutil.copy(fluxds.demo_path(), vetted)
    original = fluxds.read(vetted)
    swapped = tmp_path / "other.nc"
    fluxds.write(original.assign(norm=original.norm * 1000), swapped)
    real_probe = isolated.probe

    def probe_then_swap(path, *args, **kwargs):
        real_probe(path, *args, **kwargs)
        os.replace(swapped, vetted)

    monkeypatch.setattr(isolated, "probe", probe_then_swap)
    result = fluxds.batch([vetted], tmp_path / "out", isolate=60, progress=False)
    for path in result.written:  # refusing the changed input (result.failed) is fine too
        ds = fluxds.read(path)
        np.testing.assert_allclose(ds.norm.values, original.norm.values, equal_nan=True)
    assert result.written or str(vetted) in " ".join(str(k) for k in result.failed)
