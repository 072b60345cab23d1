"""Attack review of issue 12 (items 3/4: "no file touched outside the target"): HDF5 *external links* are
followed when a netCDF-4 / HDF5 file is read.

``hdf5_layout.check_hdf5_layout`` refuses external *storage* and virtual datasets, but walks the file with
``visititems``, which does not see links; a variable replaced by ``h5py.ExternalLink("/abs/other.h5",
"/data")`` is read from the other file by every engine (default, ``h5netcdf``, ``netcdf4``): another file's
numbers land in the Dataset (and in whatever ``convert`` writes), the other file's layout is never
checked, and a link to a FIFO blocks the read forever (observed: killed by a 40 s timeout).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import h5py
import numpy as np
import pytest

import fluxds


def _linked(tmp_path, target_file: str):
    ds = fluxds.read(fluxds.demo_path())
    path = tmp_path / "linked.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, path)
    with h5py.File(path, "a") as f:
        del f["norm"]
        f["norm"] = h5py.ExternalLink(target_file, "/data")
    return path


@pytest.mark.parametrize("engine", [None, "h5netcdf", "netcdf4"])
def test_external_link_to_another_file_is_refused(tmp_path, engine):
    secret = tmp_path / "elsewhere" / "secret.h5"
    secret.parent.mkdir()
    with h5py.File(secret, "w") as f:
        f["data"] = np.arange(5.0) + 4242
    path = _linked(tmp_path, str(secret))
    kwargs = {"engine": engine} if engine else {}
    try:
        ds = fluxds.read(path, **kwargs)
    except fluxds.FluxdsError as exc:
        assert str(path) in str(exc)
        return
    assert not np.any(ds["norm"].values >= 4242) if "norm" in ds else True, "read another file's data"
    pytest.fail(f"{path}: a file with an external link to {secret} was read")


_CHILD = textwrap.dedent(
    """
    import sys, warnings
    warnings.simplefilter("ignore")
    import fluxds
    try:
        fluxds.read(sys.argv[1])
        print("read")
    except fluxds.FluxdsError as exc:
        print("refused", exc)
    """
)


def test_external_link_to_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    path = _linked(tmp_path, str(fifo))
    try:
        run = subprocess.run(
            [sys.executable, "-c", _CHILD, str(path)], capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"reading {path} (external link to a FIFO) hung for 60 s")
    assert run.stdout.startswith("refused"), run.stdout + run.stderr


def _table_with_link(tmp_path, link) -> str:
    from astropy.table import Table

    path = tmp_path / "table.h5"
    Table({"e_ref": [1.0, 2.0], "dnde": [1e-12, 1e-13]}).write(path, path="sed", serialize_meta=False)
    with h5py.File(path, "a") as f:
        f["extra"] = link
    return str(path)


@pytest.mark.parametrize(
    "link, words",
    [
        (h5py.ExternalLink("/elsewhere/secret.h5", "/data"), "an external link to '/data' in"),
        (h5py.SoftLink("/sed"), "a soft link to '/sed'"),
    ],
)
def test_hdf5_table_with_a_link_is_refused_naming_file_and_link(tmp_path, link, words):
    path = _table_with_link(tmp_path, link)
    with pytest.raises(fluxds.FormatError, match="table.h5") as caught:
        fluxds.read(path, format="hdf5")
    assert "[extra]" in str(caught.value) and words in str(caught.value)


def test_soft_link_in_a_netcdf_group_is_refused(tmp_path):
    ds = fluxds.read(fluxds.demo_path())
    path = tmp_path / "soft.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, path)
    with h5py.File(path, "a") as f:
        f["group/alias"] = h5py.SoftLink("/norm")
    with pytest.raises(fluxds.FormatError, match=r"soft\.nc\[group/alias\]: a soft link to '/norm'"):
        fluxds.read(path)


def test_files_without_links_still_read(tmp_path):
    ds = fluxds.read(fluxds.demo_path())
    path = tmp_path / "plain.nc"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, path)
    assert "norm" in fluxds.read(path)
