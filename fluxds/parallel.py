"""Batch conversion of many files in parallel with dask: threads by default, a ``dask.distributed``
cluster when given a scheduler address or a number of worker processes.

Each input becomes one output in ``out_dir`` (same stem, the extension of the target format), written
atomically by fluxds's writers; outputs that exist already are skipped, so an interrupted run resumes
where it stopped (the temporaries a killed run left are removed at the end); a failing input is reported
with its error and does not stop the others. On a ``dask.distributed`` cluster, the tasks of a worker that
dies are run again on the others (dask's own retry).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["batch", "BatchResult", "TARGETS"]

_INPUT_SUFFIXES = (".fits.gz", ".fits", ".fit", ".ecsv", ".nc", ".h5", ".hdf5", ".zarr")
# target format -> (format name for fluxds.write, file extension)
TARGETS = {"netcdf": ("netcdf", ".nc"), "zarr": ("zarr", ".zarr"), "fits": (None, ".fits")}


@dataclass
class BatchResult:
    """What a batch run did: outputs written, outputs skipped (they existed), and failures by input."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether no input failed."""
        return not self.failed


def _convert_one(
    source: str, target: str, fmt: str | None, sed_type: str | None, isolate: float | None = None
) -> tuple[str, str]:
    """Read one input and write one output; never raises (the error is returned, per file)."""
    import fluxds
    from fluxds.io.locks import lock_for

    if Path(target).exists():
        # outputs that existed were skipped before the run: this one was written by an earlier attempt of
        # this very task, on a worker that died before reporting it (dask then runs the task again)
        return "written", ""
    try:
        if isolate:  # outside the netCDF lock: the probe runs in its own process
            from fluxds.io.isolated import probe

            probe(source, isolate)
        with lock_for(source):
            ds = fluxds.read(source)
        with lock_for(target):  # named .nc/.h5: the netCDF-C/HDF5 libraries are not thread-safe
            fluxds.write(ds, target, format=fmt, sed_type=sed_type)
        return "written", ""
    except Exception as exc:  # noqa: BLE001 - reported per file; a bad file must not stop the batch
        return "failed", f"{type(exc).__name__}: {exc}"


def batch(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    to: str = "netcdf",
    sed_type: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    isolate: float | None = None,
) -> BatchResult:
    """Convert many files in parallel.

    Parameters
    ----------
    inputs : iterable of paths
        Any files :func:`fluxds.read` reads.
    out_dir : path
        Where the outputs go (created); one output per input, named after it.
    to : {"netcdf", "zarr", "fits"}
        Target format (``fits``: the layout that holds the Dataset, e.g. a GADF SED table).
    sed_type : str, optional
        SED type of the outputs (FITS tables: that type's columns; netCDF/zarr: ``likelihood`` only).
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers : int, optional
        Start a local ``dask.distributed`` cluster of this many worker processes (without
        ``scheduler`` and ``workers``: dask's threaded scheduler).
    progress : bool
        Show a progress bar.
    isolate : float, optional
        For inputs from elsewhere: read each first in a separate process with this time limit (s), and
        report it as failed if that process is killed or runs out of time (a damaged HDF5/netCDF file
        can abort or hang the C library, which would take the worker down); see
        :func:`fluxds.io.isolated.probe`.

    Returns
    -------
    BatchResult
    """
    import dask

    if to not in TARGETS:
        from fluxds.errors import UnknownFormatError

        raise UnknownFormatError(f"unknown batch target {to!r}; expected one of {', '.join(TARGETS)}")
    fmt, extension = TARGETS[to]
    if fmt in ("netcdf", "zarr") and sed_type not in (None, "likelihood"):
        from fluxds.errors import FormatError

        raise FormatError(
            f"{to} holds the likelihood form; sed_type={sed_type!r} applies to FITS tables only"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = BatchResult()
    jobs = []
    for source in map(Path, inputs):
        name = source.name
        for suffix in _INPUT_SUFFIXES:
            if name.lower().endswith(suffix):
                name = name[: -len(suffix)]
                break
        target = out / f"{name}{extension}"
        if target.exists():
            result.skipped.append(target)
            continue
        jobs.append((source, target))
    tasks = [dask.delayed(_convert_one)(str(s), str(t), fmt, sed_type, isolate) for s, t in jobs]
    outcomes = _run(tasks, scheduler=scheduler, workers=workers, progress=progress)
    for (source, target), (status, message) in zip(jobs, outcomes, strict=True):
        if status == "written":
            result.written.append(target)
        else:
            result.failed[source] = message
    _remove_leftovers([target for _, target in jobs] + result.skipped)
    return result


def _remove_leftovers(targets: list[Path]) -> None:
    """Remove the temporaries that writers of these outputs killed in an earlier run (or a worker killed in
    this one) left beside them: every task of this run has ended, so none is being written. (Two batch
    runs into the same folder at once are not supported.)"""
    from fluxds.io.atomic import remove_stale_temporaries

    for target in targets:
        remove_stale_temporaries(target, older_than=0.0)


def _run(tasks: list, *, scheduler: str | None, workers: int | None, progress: bool) -> list:
    import dask

    if not tasks:
        return []
    if scheduler is None and workers is None:
        if not progress:
            return list(dask.compute(*tasks, scheduler="threads"))
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return list(dask.compute(*tasks, scheduler="threads"))
    from dask.distributed import Client, LocalCluster
    from dask.distributed import progress as show_progress

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(cluster if cluster is not None else scheduler)
    try:
        futures = client.compute(tasks)
        if progress:
            show_progress(futures)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
