"""Run ``fluxds.read`` on untrusted bytes in a separate process, bounded in time and memory.

The worker process caps its own address space (``RLIMIT_AS``) and arms an interval timer per input; the
parent also waits at most a few times the limit for an answer, then kills the worker (a hang inside C
code the timer cannot interrupt) and starts a new one; a worker is also replaced after any input that
ran out of time or memory. Outcomes:

- ``ok``: a Dataset came back and passed :func:`fluxds.validate`;
- ``error``: a :class:`fluxds.FluxdsError` whose message names the file;
and the failures: ``unnamed`` (a FluxdsError not naming the file), ``crash`` (any other exception),
``memory`` (MemoryError: a huge allocation was tried), ``timeout``/``hang`` and ``died`` (the process
ended: a segfault or the kernel's kill).
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

from fuzz.seeds import sidecars

__all__ = ["Worker", "GOOD", "classify_read"]

GOOD = ("ok", "error")


class _Timeout(BaseException):
    """Raised by the timer inside the worker (a BaseException, so that no reader swallows it)."""


def _alarm(signum, frame):
    raise _Timeout


def classify_read(path: Path) -> tuple[str, str]:
    """Read ``path`` with fluxds and classify the outcome (in the calling process, unbounded)."""
    import fluxds

    try:
        ds = fluxds.read(path)
        fluxds.validate(ds, where=str(path))
        return "ok", ""
    except fluxds.FluxdsError as exc:
        message = str(exc)
        if path.name not in message:
            return "unnamed", f"{type(exc).__name__}: {message[:500]}"
        return "error", f"{type(exc).__name__}: {message[:200]}"
    except MemoryError:
        return "memory", traceback.format_exc(limit=-8)


def _serve(conn, workdir: str, memory_bytes: int, seconds: float) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import fluxds  # noqa: F401  (imported before the address-space cap)

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
        path = Path(workdir) / name
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            result = classify_read(path)
        except _Timeout:
            result = ("timeout", traceback.format_exc(limit=-8))
        except Exception as exc:  # the failures the fuzzer looks for
            result = ("crash", f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=-8))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        conn.send(result)


def _vm_size() -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


_WARM: list[bool] = []


def _warm_up() -> None:
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
    memory_mib : int
        Address space allowed beyond what the worker uses at start (MiB).
    """

    #: outcomes after which the worker is replaced
    POISONED = ("timeout", "memory", "hang", "died")

    def __init__(self, seconds: float = 10.0, memory_mib: int = 1536):
        self.seconds = seconds
        self.memory_mib = memory_mib
        self.process = None
        self.conn = None
        self.restarts = 0
        self.workdir = Path(tempfile.mkdtemp(prefix="fluxds-fuzz-"))
        for name, text in sidecars().items():  # the model YAML files the maps name in MODEL
            (self.workdir / name).write_bytes(text)

    def _start(self) -> None:
        _warm_up()  # the forked worker starts with every reader's imports done

        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        limit = _vm_size() + self.memory_mib * 1024**2 if self.memory_mib else 0
        self.process = ctx.Process(
            target=_serve, args=(child, str(self.workdir), limit, self.seconds), daemon=True
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

    def _read_once(self, name: str) -> tuple[str, str]:
        if self.process is None or not self.process.is_alive():
            self._start()
        self.conn.send(name)
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

    def read(self, name: str, data: bytes) -> tuple[str, str]:
        path = self.workdir / name
        path.write_bytes(data)
        try:
            result = self._read_once(name)
            if result[0] == "timeout":
                retried = self._read_once(name)
                result = retried if retried[0] != "timeout" else ("timeout", retried[1] + "\n(twice)")
            return result
        finally:
            path.unlink(missing_ok=True)

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.conn.send(None)
            self.process.join(5)
        self._kill()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
