"""Run ``fluxds.read`` on untrusted bytes in a separate process, bounded in time and memory.

The worker process caps its own address space (``RLIMIT_AS``) and arms an interval timer per input; the
parent also waits at most a few times the limit for an answer, then kills the worker (a hang inside C
code the timer cannot interrupt) and starts a new one. Outcomes:

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


def _serve(conn, memory_bytes: int, seconds: float) -> None:
    import warnings

    warnings.simplefilter("ignore")
    import fluxds  # noqa: F401  (imported before the address-space cap)

    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    signal.signal(signal.SIGALRM, _alarm)
    workdir = Path(tempfile.mkdtemp(prefix="fluxds-fuzz-"))
    for name, text in sidecars().items():  # the model YAML files the maps name in MODEL
        (workdir / name).write_bytes(text)
    while True:
        try:
            item = conn.recv()
        except EOFError:
            return
        if item is None:
            return
        name, data = item
        path = workdir / name
        path.write_bytes(data)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            result = classify_read(path)
        except _Timeout:
            result = ("timeout", traceback.format_exc(limit=-8))
        except Exception as exc:  # the failures the fuzzer looks for
            result = ("crash", f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=-8))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        path.unlink(missing_ok=True)
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

    Parameters
    ----------
    seconds : float
        Time limit per input.
    memory_mib : int
        Address space allowed beyond what the worker uses at start (MiB).
    """

    def __init__(self, seconds: float = 10.0, memory_mib: int = 1536):
        self.seconds = seconds
        self.memory_mib = memory_mib
        self.process = None
        self.conn = None

    def _start(self) -> None:
        _warm_up()  # the forked worker starts with every reader's imports done

        ctx = mp.get_context("fork")
        self.conn, child = ctx.Pipe()
        limit = _vm_size() + self.memory_mib * 1024**2 if self.memory_mib else 0
        self.process = ctx.Process(target=_serve, args=(child, limit, self.seconds), daemon=True)
        self.process.start()
        child.close()

    def _kill(self) -> None:
        if self.process is not None and self.process.is_alive():
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.join()
        self.process = None

    def read(self, name: str, data: bytes) -> tuple[str, str]:
        if self.process is None or not self.process.is_alive():
            self._start()
        self.conn.send((name, data))
        if not self.conn.poll(3 * self.seconds + 5):
            self._kill()
            return "hang", f"no answer within {3 * self.seconds + 5} s"
        try:
            return self.conn.recv()
        except EOFError:
            code = self.process.exitcode if self.process else None
            self._kill()
            return "died", f"worker exit code {code}"

    def close(self) -> None:
        if self.process is not None and self.process.is_alive():
            self.conn.send(None)
            self.process.join(5)
        self._kill()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
