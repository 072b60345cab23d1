"""Attack review of issue 12 (item 2's fix): the temporary path ``atomic_path`` yields is
``/proc/self/fd/N/<name>.tmp``, valid in this process only. A dask-backed Dataset written while a
``dask.distributed`` client is active is written by the worker *processes*, where fd N is something else
or nothing: ``fluxds.write(fluxds.read(store, chunks={}), "o.nc")`` failed with ``WriteError ... Permission
denied`` and ``"o.zarr"`` with ``WriteError ... No such file or directory`` (before issue 12 the
temporary had a real name and both worked). Worse, were fd N a directory in the worker, the store would
land in whatever folder that is.

Now every write computes in this process (``atomic_path`` sets dask's scheduler to threads while a
client or another out-of-process scheduler is active, and restores it after).
"""

from __future__ import annotations

import threading
import warnings

import dask
import numpy as np
import pytest

import fluxds
from fluxds.errors import WriteError

pytest.importorskip("dask.distributed")
pytest.importorskip("zarr")


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as active,
    ):
        yield active


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    ds0 = fluxds.read(fluxds.demo_path())
    store = tmp_path_factory.mktemp("src") / "src.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds0, store)
    return ds0, store


@pytest.mark.parametrize("name", ["o.nc", "o.zarr"])
def test_write_dask_backed_dataset_under_a_distributed_client(client, source, tmp_path, name):
    ds0, store = source
    ds = fluxds.read(store, chunks={})
    assert hasattr(ds.norm.data, "dask")
    before = dask.config.get("scheduler", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, tmp_path / name)
    assert dask.config.get("scheduler", None) == before  # the client is the scheduler again
    back = fluxds.read(tmp_path / name)
    np.testing.assert_allclose(back.norm.values, ds0.norm.values, equal_nan=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary left


def test_concurrent_writes_restore_the_client(client, source, tmp_path):
    """Writes in several threads at once: dask's scheduler stays local until the last one ends, then the
    client is the scheduler again (a naive set/restore per write would leave "threads" behind)."""
    ds0, store = source
    before = dask.config.get("scheduler", None)
    errors = []

    def write(i):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fluxds.write(fluxds.read(store, chunks={}), tmp_path / f"o{i}.nc")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert dask.config.get("scheduler", None) == before
    for i in range(4):
        np.testing.assert_allclose(fluxds.read(tmp_path / f"o{i}.nc").norm.values, ds0.norm.values)


def test_data_persisted_on_the_cluster_is_a_write_error(client, source, tmp_path):
    """Chunks held by the cluster (.persist()) cannot be computed here: a WriteError saying what to do,
    nothing written, the client the scheduler again."""
    _, store = source
    ds = fluxds.read(store, chunks={}).persist()
    before = dask.config.get("scheduler", None)
    with warnings.catch_warnings(), pytest.raises(WriteError, match=r"persisted on a dask.distributed"):
        warnings.simplefilter("ignore")
        fluxds.write(ds, tmp_path / "o.nc")
    assert dask.config.get("scheduler", None) == before
    assert not list(tmp_path.iterdir())
    fluxds.write(ds.compute(), tmp_path / "o.nc")  # what the message advises
