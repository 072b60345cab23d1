"""Batch conversion of many files in parallel with dask: threads by default, a ``dask.distributed``
cluster when given a scheduler address or a number of worker processes.

Each input becomes one output in ``out_dir`` (same stem, the extension of the target format), written
atomically by fluxds's writers. Output names must be unique: inputs whose outputs would have the same name
(``a/crab.fits``, ``b/crab.fits``, ``a/crab.ecsv``; compared without case, for case-insensitive file
systems) are refused up front with a :class:`BatchError` listing them, before anything is written.

Every output records the input it was made from: its absolute path (attribute ``fluxds_batch_input``), the
SHA-256 of its content (``fluxds_batch_input_sha256``; of every file inside, for a zarr store) and the options
it was converted with (``fluxds_batch_options``: ``read_options`` and ``sed_type`` as JSON text). An output
that exists already is skipped only if it records this very input with this very content and these very
options, so an interrupted run resumes where it stopped; one made from the same input whose content or options
have changed since is converted again; any other file under that name (made from another input, or not by
``batch``) is reported as failed and left alone. A record proves something only if nobody else could have
written it: an existing output (for a zarr store, every entry of its tree) that is a symbolic link, is owned
by another user or is writable by group or others (another user of a shared output folder may have planted it)
is reported as failed and left alone, and its record is never read. The temporaries a killed run left are
removed at the end; a failing input is reported with its error and does not stop the others. On a
``dask.distributed`` cluster, the tasks of a worker that dies are run again on the others (dask's own retry).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import numbers
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fluxds.errors import BatchError, FluxdsError, SchedulerError
from fluxds.io.guard.isolated import isolation_limit

__all__ = [
    "batch",
    "BatchResult",
    "TARGETS",
    "INPUT_ATTR",
    "DIGEST_ATTR",
    "OPTIONS_ATTR",
    "options_record",
    "DEFAULT_CONNECT_TIMEOUT",
    "MAX_WORKERS",
    "content_digest",
    "output_name",
    "check_workers",
    "check_seconds",
    "run_tasks",
]

_INPUT_SUFFIXES = (".fits.gz", ".fits", ".fit", ".ecsv", ".nc", ".h5", ".hdf5", ".zarr")
# target format -> (format name for fluxds.write, file extension)
TARGETS = {"netcdf": ("netcdf", ".nc"), "zarr": ("zarr", ".zarr"), "fits": (None, ".fits")}
#: attributes of every output: the absolute path of the input it was made from, and its content's SHA-256
INPUT_ATTR = "fluxds_batch_input"
DIGEST_ATTR = "fluxds_batch_input_sha256"
#: attribute of every output: the conversion options (read options, SED type) as JSON text
OPTIONS_ATTR = "fluxds_batch_options"
#: seconds to wait for a ``dask.distributed`` scheduler to answer before giving up
DEFAULT_CONNECT_TIMEOUT = 10.0
#: most worker processes a local cluster may start (a typo must not fork thousands of processes)
MAX_WORKERS = 1024
_BLOCK = 1 << 20


@dataclass
class BatchResult:
    """What a batch run did: outputs written, outputs skipped (they existed and record this very input,
    content and options), and failures by input."""

    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: dict[Path, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether no input failed."""
        return not self.failed


def output_name(source: str | os.PathLike, extension: str) -> str:
    """The name of the output of ``source``: its name without a known input suffix, plus ``extension``."""
    name = Path(source).name
    for suffix in _INPUT_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return f"{name}{extension}"


def content_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's content; of a folder (a zarr store): of the relative path and content of
    every regular file inside, in sorted order (a symbolic link counts by its target text, unfollowed).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    str
        64 hexadecimal digits.

    Raises
    ------
    FormatError
        ``path`` is neither a regular file nor a folder (a FIFO, a device).
    """
    digest = hashlib.sha256()
    root = Path(path)
    if root.is_dir() and not root.is_symlink():
        for folder, dirs, files in os.walk(root):  # os.walk does not enter linked folders
            dirs.sort()
            for name in sorted(files):
                entry = Path(folder, name)
                digest.update(os.fsencode(entry.relative_to(root)) + b"\0")
                if entry.is_symlink():
                    digest.update(b"link:" + os.fsencode(os.readlink(entry)) + b"\0")
                elif entry.is_file():
                    _update_from_file(digest, entry)
    elif root.is_file():
        _update_from_file(digest, root)
    else:  # a FIFO would block, a device never end
        from fluxds.errors import FormatError

        raise FormatError(f"{path}: not a regular file or folder")
    return digest.hexdigest()


def _update_from_file(digest, path: Path) -> None:
    with open(path, "rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)


def _state(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def _not_yours(target: str) -> str | None:
    """Why the existing output ``target`` cannot be taken as written by this user, or None.

    It, or for a zarr store any entry of its tree (links are not followed), is a symbolic link, is owned
    by another user than this process's effective one, or is writable by group or others: someone else
    may have written it, so its record of an input proves nothing.

    Raises
    ------
    OSError
        An entry cannot be examined (it vanished, a folder cannot be listed).
    """
    uid = os.geteuid()
    pending = [target]
    while pending:
        path = pending.pop()
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            return f"{path} is a symbolic link"
        if info.st_uid != uid:
            return f"{path} is owned by another user (uid {info.st_uid})"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"{path} is writable by group or others (mode {stat.S_IMODE(info.st_mode):o})"
        if stat.S_ISDIR(info.st_mode):
            with os.scandir(path) as entries:
                pending.extend(entry.path for entry in entries)
    return None


class _NoExactSpelling(TypeError):
    """A read option whose value has no exact text (an arbitrary object)."""


def _exact_json(value: object) -> object:
    """JSON for the values ``json`` does not know, spelled exactly (``default=`` of ``json.dumps``):
    Quantities and arrays by all their numbers (``tolist``: floats as Python writes them, exactly), units
    by name, numpy scalars as numbers, models by their ``to_dict``; anything else has no exact spelling."""
    import numpy as np

    if hasattr(value, "unit") and hasattr(value, "value") and hasattr(value, "to_value"):  # a Quantity
        return {"quantity": np.asarray(value.value).tolist(), "unit": value.unit.to_string()}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype)}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "to_string") and type(value).__module__.startswith("astropy.units"):
        return {"unit": value.to_string()}
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and type(value).__module__.startswith("fluxds."):
        return {"model": type(value).__name__, "parameters": to_dict()}
    raise _NoExactSpelling(type(value).__name__)


def options_record(read_options: dict | None, sed_type: str | None) -> str:
    """The conversion options as the text an output records (:data:`OPTIONS_ATTR`): canonical JSON, keys
    sorted, Quantities, arrays, units and models spelled exactly (all their numbers, not their ``repr``,
    which rounds and summarises), so that equal options give equal text and different ones different
    text. Options with no exact spelling (an arbitrary object) give a text no later run can give: their
    outputs are converted again rather than wrongly taken as up to date.

    Parameters
    ----------
    read_options : dict or None
        The options of :func:`fluxds.read`.
    sed_type : str or None
        The SED type of the outputs.

    Returns
    -------
    str
    """
    import json
    import uuid

    options = {"read_options": read_options or {}, "sed_type": sed_type}
    try:
        return json.dumps(options, sort_keys=True, default=_exact_json)
    except TypeError:  # no exact spelling, or keys json cannot sort: never equal to a recorded text
        return json.dumps({"unrecordable": uuid.uuid4().hex, "sed_type": sed_type})


def _recorded_input(target: str) -> tuple[str, str, str | None] | None:
    """The (input path, content digest, options) an existing output records (options None for an output of
    a fluxds that did not record them); None if it records no input, is not a file fluxds reads, or was
    replaced while being read.

    Call it only on an output that :func:`_not_yours` accepts (the record is read with :func:`fluxds.read`,
    fluxds's reader for untrusted files).
    """
    import fluxds
    from fluxds.io.output.locks import lock_for

    try:
        before = os.lstat(target)
        with lock_for(target):
            attrs = fluxds.read(target).attrs
        after = os.lstat(target)
    except Exception:  # noqa: BLE001 - anything unreadable records nothing
        return None
    if (before.st_dev, before.st_ino, before.st_ctime_ns) != (after.st_dev, after.st_ino, after.st_ctime_ns):
        return None  # renamed, replaced or changed meanwhile: what was read may not be this file
    source, digest, options = attrs.get(INPUT_ATTR), attrs.get(DIGEST_ATTR), attrs.get(OPTIONS_ATTR)
    if not (isinstance(source, str) and isinstance(digest, str)):
        return None
    return source, digest, options if isinstance(options, str) else None


def _up_to_date(source: str, target: str, options: str) -> bool:
    """Whether ``target`` exists (not as a link), is this user's own (:func:`_not_yours`) and records
    ``source`` with its present content and these conversion ``options`` (:func:`options_record`)."""
    if not os.path.lexists(target) or os.path.islink(target):
        return False
    try:
        if _not_yours(target) is not None:
            return False  # reported as failed by _convert_one
        return _recorded_input(target) == (source, content_digest(source), options)
    except (OSError, FluxdsError):
        return False


def _convert_one(
    source: str,
    target: str,
    fmt: str | None,
    sed_type: str | None,
    isolate: float | None = None,
    existed: bool = False,
    read_options: dict | None = None,
    options: str | None = None,
    fsync: bool = True,
) -> tuple[str, str]:
    """Read one input and write one output, recording the input's path and digest in it; never raises
    (the error is returned, per file). Returns ("written" | "skipped" | "failed", message)."""
    import fluxds
    from fluxds.io.output.locks import lock_for

    options = options_record(read_options, sed_type) if options is None else options
    try:
        before = _state(source)
        digest = content_digest(source)
        overwrite = False
        if os.path.lexists(target):
            if os.path.islink(target):
                return "failed", f"{target} exists and is a symbolic link; not replaced"
            why = _not_yours(target)
            if why is not None:  # its record proves nothing, and it is not ours to replace
                return "failed", (
                    f"{target} exists and was not written by you ({why}): left alone (remove it or choose "
                    "another output folder)"
                )
            recorded = _recorded_input(target)
            if recorded == (source, digest, options):
                # existed before the run: up to date. Else written by an earlier attempt of this very
                # task, on a worker that died before reporting it (dask then runs the task again).
                return ("skipped" if existed else "written"), ""
            if recorded is None or recorded[0] != source:
                made_from = f"was made from {recorded[0]}" if recorded else "records no batch input"
                return "failed", (
                    f"{target} exists and {made_from}, not from this input; left alone (remove it or "
                    "choose another output folder)"
                )
            overwrite = True  # made from this input, whose content or options changed since: convert again
        with contextlib.ExitStack() as copies:
            read_from = source
            if isolate is not None:  # outside the netCDF lock: the probe runs in its own process
                from fluxds.io.guard.isolated import vetted_copy

                # the child and this read see the same private copy, whatever happens to source meanwhile
                read_from = copies.enter_context(vetted_copy(source, isolate, **(read_options or {})))
            with lock_for(read_from):
                ds = fluxds.read(read_from, **(read_options or {}))
                if isolate is not None:
                    ds = ds.load()  # before the copy goes
                if _state(source) != before:
                    return "failed", f"{source} changed while it was being read; not converted"
        ds = ds.assign_attrs({INPUT_ATTR: source, DIGEST_ATTR: digest, OPTIONS_ATTR: options})
        with lock_for(target):  # named .nc/.h5: the netCDF-C/HDF5 libraries are not thread-safe
            fluxds.write(ds, target, format=fmt, sed_type=sed_type, overwrite=overwrite, fsync=fsync)
        return "written", ""
    except Exception as exc:  # noqa: BLE001 - reported per file; a bad file must not stop the batch
        return "failed", f"{type(exc).__name__}: {exc}"


def check_workers(workers: object) -> None:
    """Refuse a number of local worker processes that is not an integer in 1 ... :data:`MAX_WORKERS`
    (0 or fewer would wait forever for a worker).

    Raises
    ------
    BatchError
    """
    if workers is None:
        return
    if (
        isinstance(workers, bool)
        or not isinstance(workers, numbers.Integral)
        or not 1 <= workers <= MAX_WORKERS
    ):
        raise BatchError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {workers!r}")


def check_seconds(value: object, what: str) -> None:
    """Refuse a time limit that is not a finite number of seconds > 0.

    Raises
    ------
    BatchError
    """
    if value is None or value is True:
        return
    if not isinstance(value, numbers.Real) or not (math.isfinite(value) and value > 0):
        raise BatchError(f"{what} must be a finite number of seconds > 0, got {value!r}")


def batch(
    inputs: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    *,
    to: str = "netcdf",
    sed_type: str | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    isolate: bool | float | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_options: dict | None = None,
    fsync: bool = True,
) -> BatchResult:
    """Convert many files in parallel.

    Parameters
    ----------
    inputs : iterable of paths
        Any files :func:`fluxds.read` reads (an input given twice is converted once).
    out_dir : path
        Where the outputs go (created); one output per input, named after it; the names must not collide.
    to : {"netcdf", "zarr", "fits"}
        Target format (``fits``: the layout that holds the Dataset, e.g. a GADF SED table).
    sed_type : str, optional
        SED type of the outputs (FITS tables: that type's columns; netCDF/zarr: ``likelihood`` only).
    scheduler : str, optional
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers : int, optional
        Start a local ``dask.distributed`` cluster of this many worker processes, 1 to
        :data:`MAX_WORKERS` (without ``scheduler`` and ``workers``: dask's threaded scheduler).
    progress : bool
        Show a progress bar.
    isolate : float, optional
        For inputs from elsewhere: read each first in a separate process with this time limit (s, finite,
        > 0), and report it as failed if that process is killed or runs out of time (a damaged
        HDF5/netCDF file can abort or hang the C library, which would take the worker down); see
        :func:`fluxds.io.guard.isolated.probe`.
    connect_timeout : float
        Seconds to wait for ``scheduler`` to answer (default :data:`DEFAULT_CONNECT_TIMEOUT`).
    read_options : dict, optional
        Passed to :func:`fluxds.read` for every input (``derive_edges``, ``units``, ``columns`` ...).
    fsync : bool
        Flush each output to disk before it takes its name (default). ``False`` for scratch outputs: still
        atomic, not durable across a power loss (see :meth:`fluxds.SedAccessor.write`).

    Returns
    -------
    BatchResult
        ``written``: outputs made by this run; ``skipped``: outputs that existed and record this very
        input, content and options; ``failed``: errors by input (including an output name taken by a file made
        from another input, or by one that another user could have written: owned by another user,
        writable by group or others, or a symbolic link).

    Raises
    ------
    BatchError
        Before anything is converted: output names that collide (all listed), ``out_dir`` not a folder or
        not creatable, a bad ``workers``, ``isolate`` or ``connect_timeout``.
    SchedulerError
        ``scheduler`` cannot be reached within ``connect_timeout`` (or is malformed).
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
    check_workers(workers)
    try:
        isolate = isolation_limit(isolate)  # False/None: off; True: the default; else seconds > 0
    except (TypeError, ValueError) as exc:
        raise BatchError(str(exc)) from None
    check_seconds(connect_timeout, "connect_timeout")
    jobs = _plan(inputs, Path(out_dir), extension)
    if scheduler is not None and jobs:  # fail fast, before anything is written
        _connect(scheduler, connect_timeout).close()
    _make_folder(Path(out_dir))
    result = BatchResult()
    planned, jobs = jobs, []
    options = options_record(read_options, sed_type)
    for source, target in planned:  # up to date: skipped here, without starting any worker
        if _up_to_date(str(source), str(target), options):
            result.skipped.append(target)
        else:
            jobs.append((source, target))
    existed = [os.path.lexists(target) for _, target in jobs]
    tasks = [
        dask.delayed(_convert_one)(str(s), str(t), fmt, sed_type, isolate, e, read_options, options, fsync)
        for (s, t), e in zip(jobs, existed, strict=True)
    ]
    outcomes = run_tasks(
        tasks, scheduler=scheduler, workers=workers, progress=progress, connect_timeout=connect_timeout
    )
    for (source, target), (status, message) in zip(jobs, outcomes, strict=True):
        if status == "written":
            result.written.append(target)
        elif status == "skipped":
            result.skipped.append(target)
        else:
            result.failed[source] = message
    _remove_leftovers([target for _, target in planned])
    return result


def _plan(inputs: Iterable[str | os.PathLike], out: Path, extension: str) -> list[tuple[Path, Path]]:
    """(absolute input, output) pairs; an input given twice once; refuses outputs whose names collide."""
    jobs: dict[Path, Path] = {}
    for source in inputs:
        absolute = Path(os.path.abspath(source))
        jobs.setdefault(absolute, out / output_name(absolute, extension))
    by_name: dict[str, list[Path]] = {}
    for source, target in jobs.items():
        by_name.setdefault(target.name.casefold(), []).append(source)
    clashes = {name: sources for name, sources in by_name.items() if len(sources) > 1}
    if clashes:
        raise BatchError(
            f"{sum(map(len, clashes.values()))} inputs would have the same output name in {out} (names are "
            "compared without case); rename or convert them in separate runs into separate folders; "
            "nothing converted",
            problems=[
                f"{jobs[sources[0]].name} <- {', '.join(map(str, sources))}" for sources in clashes.values()
            ],
        )
    return list(jobs.items())


def _make_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise BatchError(f"output folder {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BatchError(f"output folder {out} cannot be created: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise BatchError(f"output folder {out} is not writable")


def _remove_leftovers(targets: list[Path]) -> None:
    """Remove the temporaries that writers of these outputs killed in an earlier run (or a worker killed in
    this one) left beside them: every task of this run has ended, so none is being written. (Two batch
    runs into the same folder at once are not supported.)"""
    from fluxds.io.output.atomic import remove_stale_temporaries

    for target in targets:
        remove_stale_temporaries(target, older_than=0.0)


def run_tasks(
    tasks: list,
    *,
    scheduler: str | None,
    workers: int | None,
    progress: bool,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> list:
    """Compute dask delayed tasks as :func:`batch` does, and return their results in order.

    Parameters
    ----------
    tasks : list of dask.delayed.Delayed
        The tasks (an empty list returns at once, without starting anything).
    scheduler : str or None
        Address of a running ``dask.distributed`` scheduler (``tcp://host:8786``).
    workers : int or None
        Start a local ``dask.distributed`` cluster of this many single-threaded worker processes, 1 to
        :data:`MAX_WORKERS` (closed at the end). Without ``scheduler`` and ``workers``: dask's threaded
        scheduler.
    progress : bool
        Show a progress bar (dask's for threads, ``distributed``'s on a cluster).
    connect_timeout : float
        Seconds to wait for ``scheduler`` to answer.

    Returns
    -------
    list
        The result of each task, in the order of ``tasks``.

    Raises
    ------
    BatchError
        A bad ``workers`` (see :func:`check_workers`).
    SchedulerError
        ``scheduler`` cannot be reached within ``connect_timeout`` (or is malformed).
    """
    import dask

    check_workers(workers)
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
        client = Client(cluster)
    else:
        client = _connect(scheduler, connect_timeout)
    try:
        futures = client.compute(tasks)
        if progress:
            show_progress(futures)
        return client.gather(futures)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _connect(scheduler: str, timeout: float):
    """A client of the scheduler at ``scheduler``, or :class:`SchedulerError` within ``timeout`` s."""
    from dask.distributed import Client

    try:
        return Client(scheduler, timeout=timeout)
    except ValueError as exc:
        raise SchedulerError(
            f"dask scheduler address {scheduler!r} is malformed ({exc}); expected tcp://HOST:PORT"
        ) from None
    except Exception as exc:  # noqa: BLE001 - distributed raises OSError, TimeoutError ...
        raise SchedulerError(
            f"cannot reach the dask scheduler at {scheduler!r} within {timeout:g} s "
            f"({type(exc).__name__}: {exc}); is it running and is the address tcp://HOST:PORT?"
        ) from None
