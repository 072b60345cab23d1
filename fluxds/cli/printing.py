"""Terminal output of the command line: :func:`say` (the one way it prints), values from files escaped
completely, warnings shown through :func:`say`, and a quiet stdout once its reader has gone."""

from __future__ import annotations

import contextlib
import io
import os
import sys
import warnings

from fluxds.terminal import escape_controls

__all__ = ["say", "escaped", "show_warning", "quiet_stdout"]


def say(text: object, *, err: bool = False) -> None:
    """Print a message to stdout (``err``: stderr) with its control characters escaped (newline and tab
    kept) and every line after the first indented by two spaces (a multi-line message, such as an error
    listing problems, cannot start a line with text from elsewhere): the one way the command line prints.

    Parameters
    ----------
    text : object
        Printed as ``str(text)``; print lines that must start at the margin with one call each.
    err : bool
        To stderr instead of stdout.
    """
    stream = sys.stderr if err else sys.stdout
    first, *rest = escape_controls(str(text)).split("\n")
    stream.write("".join([first, *(f"\n  {line}" if line else "\n" for line in rest)]) + "\n")
    stream.flush()


def escaped(value: object) -> str:
    """One value from a file (a name, an attribute) for a summary line: every control character escaped,
    newlines too, so that it cannot fake a line of its own."""
    return escape_controls(str(value), keep="")


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A replacement for :func:`warnings.showwarning`: the warning printed to stderr through :func:`say`."""
    say(warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n"), err=True)


def quiet_stdout() -> None:
    """The reader of stdout has gone (``| head -1``): send what is left to /dev/null, so that the
    interpreter's final flush does not complain."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
