"""The child's side of :func:`fluxds.io.guard.isolated.probe`: the bootstrap text the separate process runs
(``python -I -c``), and :func:`run_child`, which warms up, confines itself and reads the file.

The child imports this module, so it imports as little as it can: the standard library's ``math``, ``os``
and ``signal`` here, fluxds and ``resource`` inside the functions that need them.
"""

from __future__ import annotations

import math
import os
import signal

__all__ = ["BOOTSTRAP", "CHILD", "MEMORY_STATUS", "run_child"]

#: exit status of a child that ran out of memory (it also says so on the status pipe)
MEMORY_STATUS = 3
_RLIM_MAX = 2**62

#: the start of the child's program: load fluxds from the folder of the caller's package (and nothing else
#: from that folder); ``settings`` (the JSON of ``sys.argv[1]``) is then defined. ``python -I``: no
#: PYTHON* variables, no cwd or script folder on sys.path.
BOOTSTRAP = """
import json, os, site, sys
settings = json.loads(sys.argv[1])
for folder in settings["user_site"]:
    site.addsitedir(folder)
import importlib.util
package = settings["package"]
spec = importlib.util.spec_from_file_location(
    "fluxds", os.path.join(package, "__init__.py"), submodule_search_locations=[package]
)
module = importlib.util.module_from_spec(spec)
sys.modules["fluxds"] = module
spec.loader.exec_module(module)
"""
#: the child's program: :data:`BOOTSTRAP`, then :func:`run_child`
CHILD = BOOTSTRAP + "from fluxds.io.guard.isolated_child import run_child\nrun_child(settings)\n"


def _memory_failure(exc: BaseException) -> str | None:
    """A description of ``exc`` if it, or an exception it came from, is a failure to get memory."""
    import errno

    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, MemoryError) or (isinstance(exc, OSError) and exc.errno == errno.ENOMEM):
            return f"{type(exc).__name__}: {exc}"
        exc = exc.__cause__ or exc.__context__
    return None


def _address_space() -> int | None:
    """This process's virtual memory size (bytes), Linux only."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _confine(seconds: float, budget: int, memory_slack: int) -> None:
    """The child's limits, set once it is ready to read (see :mod:`fluxds.io.guard.isolated`)."""
    import resource

    def lower(which: int, soft: int, hard: int) -> None:
        _, current = resource.getrlimit(which)
        if current != resource.RLIM_INFINITY:
            soft, hard = min(soft, current), min(hard, current)
        try:
            resource.setrlimit(which, (min(soft, _RLIM_MAX), min(hard, _RLIM_MAX)))
        except (ValueError, OSError):  # e.g. RLIMIT_AS on macOS
            pass

    lower(resource.RLIMIT_CORE, 0, 0)
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu = math.ceil(used.ru_utime + used.ru_stime + min(seconds, 1e12)) + 1  # ITIMER_PROF's backstop
    lower(resource.RLIMIT_CPU, cpu, cpu + 1)  # SIGXCPU at the soft limit, SIGKILL one second later
    size = _address_space()
    if size is not None:
        cap = size + 2 * budget + memory_slack
        lower(resource.RLIMIT_AS, cap, cap)
    signal.setitimer(signal.ITIMER_PROF, min(seconds, 1e9))  # SIGPROF's default action ends the process


def _warm_up() -> None:
    """Import every reader and read the shipped SED, so that the read limit measures the file only."""
    import importlib
    import warnings

    import fluxds
    from fluxds.io.registry import formats

    warnings.simplefilter("ignore")
    for fmt in formats():
        try:
            importlib.import_module(f"fluxds.io.{fmt.reader.partition(':')[0]}")
        except ImportError:  # an optional reader
            pass
    for library in ("astropy.io.fits", "astropy.table", "h5py", "netCDF4", "h5netcdf", "zarr"):
        try:
            importlib.import_module(library)
        except ImportError:
            pass
    fluxds.read(fluxds.demo_path()).load()


def run_child(settings: dict) -> None:
    """The child's side of :func:`~fluxds.io.guard.isolated.probe` (runs in the separate process): warm
    up, confine, say ``ready`` on the status pipe, read, say ``done`` (or ``memory ...``) and exit.

    Parameters
    ----------
    settings : dict
        From the parent: ``path`` (absolute), ``options`` (of :func:`fluxds.read`), ``seconds`` (CPU time
        of the read, s), ``budget`` and ``memory_slack`` (bytes: the address space is capped at its size
        when ready + 2 x budget + slack), ``status`` (the descriptor of the status pipe).
    """
    import fluxds
    from fluxds import schema

    status = settings["status"]

    def say(text: str) -> None:
        os.write(status, text.encode("utf-8", errors="backslashreplace") + b"\n")

    _warm_up()
    _confine(settings["seconds"], settings["budget"], settings["memory_slack"])
    say("ready")
    try:
        dataset = fluxds.read(settings["path"], **settings["options"])
        # every value the caller's read holds is read here too; a variable with a dimension of its own
        # (unknown to the data model) stays unread in the caller's Dataset as well, so not here either
        model = set(schema.DIMS) | set(dataset["norm"].dims if "norm" in dataset.variables else ())
        for variable in dataset.variables.values():
            if all(dim in model for dim in variable.dims):
                variable.load()
    except BaseException as exc:  # noqa: BLE001 - an ordinary error is the caller's to see; memory is not
        failure = _memory_failure(exc)
        if failure is not None:
            try:
                say("memory " + failure[:300].replace("\n", " "))
            except BaseException:  # noqa: BLE001 - no memory left even for the message
                os.write(status, b"memory\n")
            os._exit(MEMORY_STATUS)
        if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit
            raise
    say("done")
    os._exit(0)
