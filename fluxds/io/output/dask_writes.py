"""dask computes every write in this process: the temporary :func:`fluxds.io.output.atomic.atomic_path`
gives is reachable from this process only, so while a ``dask.distributed`` client (or another scheduler
computing in other processes) is active, dask's scheduler is set to this process's threads for the
duration of the write (dask's configuration is global: other threads of the process compute locally
meanwhile too), then restored."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

__all__ = ["LOCAL_SCHEDULERS", "computes_elsewhere", "dask_in_this_process"]

#: the names of dask's schedulers that compute in this process
LOCAL_SCHEDULERS = {"sync", "synchronous", "single-threaded", "threads", "threading"}
_dask_lock = threading.Lock()
_dask_users = 0  # writes running with dask's scheduler set to this process's threads
_dask_setting: contextlib.AbstractContextManager | None = None


def computes_elsewhere(dask) -> bool:
    """Whether dask would compute outside this process: a ``dask.distributed`` client (or a task of a
    worker, whose compute goes to the cluster), the multiprocessing scheduler or a process pool."""
    chosen = dask.config.get("scheduler", None)
    if chosen is None:
        distributed = sys.modules.get("distributed")
        if distributed is None:
            return False  # no client can exist
        with contextlib.suppress(ValueError):
            distributed.get_worker()
            return True
        try:
            distributed.Client.current(allow_global=True)
        except ValueError:
            return False
        return True
    if isinstance(chosen, str):
        return chosen.lower() not in LOCAL_SCHEDULERS
    import concurrent.futures

    if isinstance(chosen, concurrent.futures.ProcessPoolExecutor):
        return True
    multiprocessing = sys.modules.get("dask.multiprocessing")
    if multiprocessing is not None and chosen is multiprocessing.get:
        return True
    distributed = sys.modules.get("distributed")
    if distributed is not None and (
        isinstance(chosen, distributed.Client)
        or isinstance(getattr(chosen, "__self__", None), distributed.Client)
    ):
        return True
    return False  # the threaded or synchronous scheduler, a thread pool, or a caller's own function here


@contextlib.contextmanager
def dask_in_this_process() -> Iterator[None]:
    """dask computes in this process's threads inside: the path
    :func:`~fluxds.io.output.atomic.atomic_path` yields is valid in this process only, and a worker of a
    cluster handed it would write nowhere (or somewhere else).

    dask's configuration is global: it is set (``scheduler="threads"``) by the first of the writes running
    at once that needs it and restored by the last, under a lock; left as it is when dask already computes
    here (its default without a client, the threaded and synchronous schedulers) or is not imported.
    """
    global _dask_users, _dask_setting
    dask = sys.modules.get("dask")
    if dask is None or not hasattr(dask, "config"):  # no dask array can exist
        yield
        return
    with _dask_lock:
        joined = _dask_users > 0 or computes_elsewhere(dask)
        if joined:
            if _dask_users == 0:
                _dask_setting = dask.config.set(scheduler="threads")
            _dask_users += 1
    try:
        yield
    finally:
        if joined:
            with _dask_lock:
                _dask_users -= 1
                if _dask_users == 0 and _dask_setting is not None:
                    _dask_setting.__exit__(None, None, None)
                    _dask_setting = None
