"""Run ``fluxds.read`` on untrusted bytes in a separate process, bounded in time and memory.

The worker process reads with a fixed read budget (``FLUXDS_MAX_READ_BYTES``, default 256 MiB), caps its
own address space (``RLIMIT_AS``: its start size + budget + RSS margin + 512 MiB) and arms an interval
timer per input; before each input it resets its peak RSS (``5 > /proc/self/clear_refs``) and after it
compares the peak (``VmHWM``) with the RSS before the read. The parent also waits at most a few times the
limit for an answer, then kills the worker (a hang inside C code the timer cannot interrupt) and starts a
new one; a worker is also replaced after any input that ran out of time or memory. Outcomes:

- ``ok``: a Dataset came back and passed :func:`fluxds.validate`;
- ``error``: a :class:`fluxds.FluxdsError` whose message names the file;
and the failures: ``unnamed`` (a FluxdsError not naming the file), ``crash`` (any other exception),
``memory`` (MemoryError: a huge allocation was tried, also when a reader turned it into a FluxdsError),
``over_budget`` (the read grew the RSS by more
than the budget + margin, whatever it returned), ``leak`` (the message or the Dataset shows the text of
a file outside the input: :data:`fuzz.hostile.SECRET`, a line of ``/etc/passwd``), ``escape`` (the read
opened, in Python, a file in the worker's ``outside/`` folder or one of :data:`FORBIDDEN`, seen by an
audit hook), ``accepted`` (a
Dataset read from an input that must be refused: a zarr store with a link or a FIFO),
``timeout``/``hang`` and ``died`` (the process ended: a segfault or the kernel's kill).

Inputs live in the worker's ``in/`` folder (with the model YAML files the map seeds name); ``outside/``
beside it holds the targets of hostile links (:func:`fuzz.hostile.outside_files`).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import shutil
import signal
import tempfile
import traceback
from pathlib import Path

from fuzz.hostile import SECRET, materialise, write_outside
from fuzz.seeds import sidecars

__all__ = [
    "Worker",
    "GOOD",
    "classify_read",
    "classify_bounded",
    "classify_here",
    "DEFAULT_BUDGET_MIB",
    "DEFAULT_MARGIN_MIB",
]

GOOD = ("ok", "error")
#: the worker's read budget (FLUXDS_MAX_READ_BYTES) and the RSS growth allowed above it (MiB)
DEFAULT_BUDGET_MIB = 256
DEFAULT_MARGIN_MIB = 256
_LEAKS = (SECRET, "root:x:0:0", "root:*:0:0")


class _Timeout(BaseException):
    """Raised by the timer inside the worker (a BaseException, so that no reader swallows it)."""


def _alarm(signum, frame):
    raise _Timeout


def _memory_cause(exc: BaseException) -> BaseException | None:
    """The MemoryError among the causes/contexts of ``exc`` (a reader that wrapped one), if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def classify_read(path: Path) -> tuple[str, str]:
    """Read ``path`` with fluxds and classify the outcome (in the calling process, unbounded)."""
    import fluxds

    try:
        ds = fluxds.read(path)
        fluxds.validate(ds, where=str(path))
        shown = repr(ds.attrs) + "".join(repr(v.attrs) for v in ds.variables.values())
        leaked = [text for text in _LEAKS if text in shown]
        if leaked:
            return "leak", f"the Dataset read shows {leaked[0]!r}: {shown[:300]}"
        return "ok", ""
    except fluxds.FluxdsError as exc:
        message = str(exc)
        cause = _memory_cause(exc)
        if cause is not None:  # a refusal only after trying a huge allocation: still a failure
            return "memory", f"{type(exc).__name__} from {type(cause).__name__}: {message[:500]}"
        leaked = [text for text in _LEAKS if text in message]
        if leaked:  # the message may be cut below: look at it whole here
            return "leak", f"{type(exc).__name__} shows {leaked[0]!r}: {message[:500]}"
        if path.name not in message:
            return "unnamed", f"{type(exc).__name__}: {message[:500]}"
        return "error", f"{type(exc).__name__}: {message[:200]}"
    except MemoryError:
        return "memory", traceback.format_exc(limit=-8)


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field in bytes (0 where there is no /proc)."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux); False where it cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


#: files no read may open (Python-level opens, seen by an audit hook in the worker), besides the
#: worker's outside/ folder
FORBIDDEN = ("/etc/passwd", "/dev/zero", "/proc/self/environ", "/etc/shadow")
_OPENED: list[str] = []
_WATCHED: list[str] = []


def _audit(event: str, args: tuple) -> None:
    if event != "open" or not _WATCHED or not args or not isinstance(args[0], (str, bytes, os.PathLike)):
        return
    try:
        real = os.path.realpath(os.fsdecode(args[0]))
    except (OSError, ValueError, TypeError):
        return
    if real in FORBIDDEN or real.startswith(_WATCHED[0]) or real.startswith("/proc/") and "environ" in real:
        _OPENED.append(real)


def watch_outside(outside: Path) -> None:
    """Record, in this process, every Python-level open of a file in ``outside`` or of :data:`FORBIDDEN`
    (``sys.addaudithook``; once per process)."""
    import sys

    if not _WATCHED:
        _WATCHED.append(os.path.realpath(outside) + os.sep)
        sys.addaudithook(_audit)


def classify_bounded(path: Path, seconds: float, limit_bytes: int) -> tuple[str, str]:
    """:func:`classify_read` under an interval timer, with the RSS growth of the read checked against
    ``limit_bytes`` (the read budget + margin): ``over_budget`` if it grew more, whatever it returned."""
    _OPENED.clear()
    resettable = _reset_peak()
    before = _status("VmRSS") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        result = classify_read(path)
    except _Timeout:
        result = ("timeout", traceback.format_exc(limit=-8))
    except Exception as exc:  # the failures the fuzzer looks for
        result = ("crash", f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=-8))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    leaked = [text for text in _LEAKS if text in result[1]]
    if leaked and result[0] in GOOD:
        result = ("leak", f"the outcome shows {leaked[0]!r}: {result[1][:500]}")
    if _OPENED:
        opened = sorted(set(_OPENED))
        _OPENED.clear()
        result = (
            "escape",
            f"the read opened {opened} outside the input, then ended as {result[0]}: {result[1][:500]}",
        )
    peak = _status("VmHWM") if resettable else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    grown = peak - before
    if limit_bytes and grown > limit_bytes and result[0] in GOOD + ("unnamed", "crash", "leak"):
        result = (
            "over_budget",
            f"the read grew the RSS by {grown / 2**20:.0f} MiB (more than the {limit_bytes / 2**20:.0f} MiB"
            f" allowed: read budget + margin, or less for a junk variable), then ended as {result[0]}:"
            f" {result[1][:500]}",
        )
    return result


def classify_here(path: Path, seconds: float, budget_mib: int, margin_mib: int) -> tuple[str, str]:
    """:func:`classify_bounded` in this process, with the worker's read budget (a replay; the input's
    outside/ folder is its sibling)."""
    os.environ["FLUXDS_MAX_READ_BYTES"] = str(budget_mib * 2**20)
    watch_outside(path.parent / "outside")
    signal.signal(signal.SIGALRM, _alarm)
    return classify_bounded(path, seconds, (budget_mib + margin_mib) * 2**20 if margin_mib else 0)


def _serve(conn, workdir: str, memory_bytes: int, seconds: float, budget: int, limit: int) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import dask

    import fluxds  # noqa: F401  (imported before the address-space cap)

    # the worker is forked: the threads of a dask pool the parent had started do not exist here, and
    # dask's threaded scheduler would wait for them forever
    dask.config.set(scheduler="synchronous")

    os.environ["FLUXDS_MAX_READ_BYTES"] = str(budget)
    os.environ["FLUXDS_FUZZ_MARKER"] = SECRET  # so that /proc/self/environ, if shown, shows it
    watch_outside(Path(workdir).parent / "outside")
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGALRM, _alarm)
    while True:
        try:
            name = conn.recv()
        except EOFError:
            return
        if name is None:
            return
        name, own_limit = name if isinstance(name, tuple) else (name, None)
        conn.send(classify_bounded(Path(workdir) / name, seconds, limit if own_limit is None else own_limit))


def _vm_size() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


_WARM: list[bool] = []


def warm_up() -> None:
    """Read one file of each layout once in this process (lazy imports, caches)."""
    if _WARM:
        return
    import warnings

    import fluxds
    from fuzz.seeds import DATA_DIRS

    folder = DATA_DIRS[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in (
            "fm_ts.fits",
            "fm_hpx.fits",
            "lc_likelihood.fits",
            "profile_likelihood.fits",
            "fp_likelihood.ecsv",
            "lc_1bin_bts_flux.ecsv",
        ):
            fluxds.read(folder / "gammapy-written" / name)
        fluxds.read(folder / "gadf-spec" / "tscube_lowts.fits.gz")
    _WARM.append(True)


class Worker:
    """A reader process: ``Worker().read(name, data) -> (outcome, detail)``.

    The parent writes each input into the worker's directory and sends only its name, so a send never
    blocks on a worker that stopped reading its pipe. A worker whose input ran out of time or memory is
    replaced before the next input: the interrupted reader may have left a lock held or a library in a
    half-updated state, and every later input would then time out too. An input that timed out is tried
    once more in a fresh worker, so that a moment of load on the machine is not counted as a hang.

    Parameters
    ----------
    seconds : float
        Time limit per input.
    memory_mib : int, optional
        Address space allowed beyond what the worker uses at start (MiB); default: budget + margin +
        512 MiB (thread stacks, library arenas).
    budget_mib : int
        The read budget of the worker's reads (``FLUXDS_MAX_READ_BYTES``, MiB).
    margin_mib : int
        RSS growth allowed above the budget before an input counts as ``over_budget`` (MiB); 0: no check.
    """

    #: outcomes after which the worker is replaced
    POISONED = ("timeout", "memory", "hang", "died", "over_budget")

    def __init__(
        self,
        seconds: float = 10.0,
        memory_mib: int | None = None,
        budget_mib: int = DEFAULT_BUDGET_MIB,
        margin_mib: int = DEFAULT_MARGIN_MIB,
    ):
        self.seconds = seconds
        self.budget_mib = budget_mib
        self.margin_mib = margin_mib
        self.memory_mib = budget_mib + margin_mib + 512 if memory_mib is None else memory_mib
        self.process = None
        self.conn = None
        self.restarts = 0
        self.root = Path(tempfile.mkdtemp(prefix="fluxds-fuzz-"))
        self.workdir = self.root / "in"
        self.outside = self.root / "outside"
        self.workdir.mkdir()
        self.outside.mkdir()
        write_outside(self.outside)  # link targets and MODEL targets outside the inputs' folder
        for name, text in sidecars().items():  # the model YAML files the maps name in MODEL
            (self.workdir / name).write_bytes(text)

    def _start(self) -> None:
        warm_up()  # the forked worker starts with every reader's imports done

        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        limit = _vm_size() + self.memory_mib * 1024**2 if self.memory_mib else 0
        rss_limit = (self.budget_mib + self.margin_mib) * 2**20 if self.margin_mib else 0
        self.process = ctx.Process(
            target=_serve,
            args=(child, str(self.workdir), limit, self.seconds, self.budget_mib * 2**20, rss_limit),
            daemon=True,
        )
        self.process.start()
        child.close()

    def _kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.join()
        if self.conn is not None:
            self.conn.close()
        self.process = None
        self.conn = None

    def _read_once(self, name: str, rss_limit_mib: int | None = None) -> tuple[str, str]:
        if self.process is None or not self.process.is_alive():
            self._start()
        self.conn.send((name, None if rss_limit_mib is None else rss_limit_mib * 2**20))
        wait = 3 * self.seconds + 5
        if not self.conn.poll(wait):
            result = ("hang", f"no answer within {wait} s")
        else:
            try:
                result = self.conn.recv()
            except EOFError:
                result = ("died", f"worker exit code {self.process.exitcode}")
        if result[0] in self.POISONED:
            self._kill()
            self.restarts += 1
        return result

    def read(
        self, name: str, data, must_refuse: bool = False, rss_limit_mib: int | None = None
    ) -> tuple[str, str]:
        """Read one input: ``data`` is bytes (a file) or a :data:`fuzz.hostile.Tree` (a directory);
        with ``must_refuse``, a Dataset read from it is the failure ``accepted``; ``rss_limit_mib``
        replaces budget + margin as the RSS growth allowed for this input (an unneeded junk variable
        must not be loaded at all)."""
        path = self.workdir / name
        materialise(data, path, self.outside)
        try:
            result = self._read_once(name, rss_limit_mib)
            if result[0] == "timeout":
                retried = self._read_once(name, rss_limit_mib)
                result = retried if retried[0] != "timeout" else ("timeout", retried[1] + "\n(twice)")
            if must_refuse and result[0] == "ok":
                result = ("accepted", "read as a valid Dataset, but the input must be refused")
            return result
        finally:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.conn.send(None)
            self.process.join(5)
        self._kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
