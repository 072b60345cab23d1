"""The parent's watch over the child of :func:`fluxds.io.guard.isolated.probe`: its status pipe
(``ready``, then ``done`` or ``memory ...``), its stderr drained and kept short, and the verdict: a
:class:`~fluxds.errors.FormatError` naming the file and what happened (a signal, a time limit, the memory
cap, a failed start)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import threading
import time

from fluxds.errors import FormatError
from fluxds.io.guard.isolated_child import MEMORY_STATUS

__all__ = ["ChildStderr", "printable", "next_line", "supervise"]


def printable(text: str, limit: int) -> str:
    """The last ``limit`` characters of ``text``, control characters escaped (they reach terminals)."""
    text = text[-limit:].strip()
    return "".join(c if c.isprintable() or c == "\n" else f"\\x{ord(c):02x}" for c in text)


class ChildStderr(threading.Thread):
    """Drains the child's stderr (an endless HDF5 error stack must neither block it nor fill a disk),
    keeping the last few kB."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.tail = stream, b""

    def run(self) -> None:
        for chunk in iter(lambda: self.stream.read1(65536), b""):
            self.tail = (self.tail + chunk)[-4096:]

    def text(self) -> str:
        """The end of what the child wrote to stderr, printable (waits up to 5 s for it to close)."""
        self.join(timeout=5)
        return printable(self.tail.decode(errors="replace"), 600)


def next_line(fd: int, buffer: bytearray, deadline: float) -> str | None:
    """The next line on the status pipe; ``None`` at end of file; TimeoutError after ``deadline``."""
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                return None
            buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode("utf-8", errors="replace")


def supervise(
    child: subprocess.Popen,
    status: int,
    stderr: ChildStderr,
    path,
    limit: float,
    budget: int,
    *,
    startup_seconds: float,
    wall: float,
    memory_slack: int,
) -> None:
    """Wait for the child to start, then to read the file; raise if it did not finish its read cleanly.

    Parameters
    ----------
    child : subprocess.Popen
        The child process.
    status : int
        The reading end of its status pipe.
    stderr : ChildStderr
        The thread draining its stderr.
    path : str or path-like
        The file, as named in the errors.
    limit : float
        The CPU time of the read (s).
    budget : int
        The read budget (bytes).
    startup_seconds : float
        The bound on the child's start-up (s of wall clock).
    wall : float
        The wall-clock backstop of the read (s).
    memory_slack : int
        The address space the child may add beyond twice the budget (bytes), named in the error.

    Raises
    ------
    FormatError
        The child did not start in time or failed before opening the file; it ran out of time (CPU or
        wall clock) or memory, was killed by a signal, or exited without a result.
    """
    buffer = bytearray()
    try:
        line = next_line(status, buffer, time.monotonic() + startup_seconds)
    except TimeoutError:
        raise FormatError(
            f"{path}: not read: the separate Python process of isolate= did not start within "
            f"{startup_seconds:g} s (the file was not opened; the machine may be overloaded)"
        ) from None
    if line != "ready":
        child.wait()
        raise FormatError(
            f"{path}: not read: the separate Python process of isolate= failed before opening the file "
            f"(exit status {child.returncode}): {stderr.text()}"
        )
    try:
        child.wait(timeout=wall)
    except subprocess.TimeoutExpired:
        raise FormatError(
            f"{path}: reading it did not finish within {wall:g} s of wall-clock time in a separate process "
            f"(without using its {limit:g} s of CPU time: the reader is blocked, e.g. on a special file "
            "or a stalled file system); not read"
        ) from None
    try:
        result = next_line(status, buffer, time.monotonic() + 1.0) or ""
    except TimeoutError:
        result = ""
    code = child.returncode
    if result.startswith("memory") or code == MEMORY_STATUS:
        detail = printable(result[len("memory") :], 300) or "MemoryError"
        raise FormatError(
            f"{path}: reading it in a separate process ran out of memory ({detail}) under its cap of "
            f"the read budget ({budget} bytes) x 2 + {memory_slack // 1024**2} MiB; not read. If you trust "
            "the file, raise the read budget (fluxds.read(..., max_bytes=...))"
        )
    if code < 0:
        name = signal.Signals(-code).name
        if -code in (signal.SIGPROF, signal.SIGXCPU):
            raise FormatError(
                f"{path}: reading it did not finish within {limit:g} s of CPU time in a separate process "
                f"({name}; a damaged file can make the HDF5/netCDF C library loop forever); not read"
            )
        if -code == signal.SIGKILL:
            raise FormatError(
                f"{path}: a separate Python process reading it was killed with SIGKILL (it reached its "
                f"CPU-time limit of {limit:g} s, or the system ran out of memory); not read"
            )
        raise FormatError(
            f"{path}: reading it killed a separate Python process with {name} (a damaged file crashes "
            f"the HDF5/netCDF C library); not read. {stderr.text()}"
        )
    if code != 0 or result != "done":
        raise FormatError(
            f"{path}: a separate Python process reading it exited with status {code} without a result: "
            f"{stderr.text()}"
        )
