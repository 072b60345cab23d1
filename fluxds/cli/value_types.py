"""The argparse value types of the command line: each checks one option's text and returns its value, or
raises :class:`argparse.ArgumentTypeError` saying what was expected (a usage error, exit status 2)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

__all__ = ["seconds", "workers", "scheduler", "write_format", "image", "mapping", "units"]


def seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds > 0, got {text!r}")
    return value


def workers(text: str) -> int:
    """argparse type: a number of worker processes, 1 ... MAX_WORKERS."""
    from fluxds.parallel import MAX_WORKERS

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of processes, got {text!r}") from None
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {MAX_WORKERS}, got {text!r}")
    return value


def scheduler(text: str) -> str:
    """argparse type: a scheduler address (reachability is checked when connecting)."""
    if not text.strip() or any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"expected an address such as tcp://HOST:8786, got {text!r}")
    return text


def write_format(text: str) -> str:
    """argparse type: a format fluxds writes."""
    from fluxds.io.registry import formats

    writable = [fmt.name for fmt in formats() if fmt.writer is not None]
    if text not in writable:
        raise argparse.ArgumentTypeError(
            f"unknown output format {text!r}; expected one of {', '.join(writable)}"
        )
    return text


def image(text: str) -> str:
    """argparse type: an image file name whose suffix matplotlib can write."""
    from matplotlib.figure import Figure

    suffix = Path(text).suffix.lstrip(".").lower()
    if suffix not in Figure().canvas.get_supported_filetypes():
        raise argparse.ArgumentTypeError(
            f"{text!r}: unknown image format {suffix!r}; use a name ending in .png, .pdf or .svg"
        )
    return text


def mapping(text: str) -> dict[str, str]:
    """argparse type: ``NAME=VALUE[,NAME=VALUE ...]`` -> a dict (names and values stripped)."""
    found = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,NAME=VALUE ...], got {text!r}")
        found[name.strip()] = value.strip()
    return found


def units(text: str) -> str | dict[str, str]:
    """argparse type for --units: ``gadf`` or a mapping ``column=unit,...``."""
    if text == "gadf":
        return text
    try:
        return mapping(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"invalid choice: {text!r}; expected 'gadf' or NAME=UNIT[,NAME=UNIT ...] (a unit per column)"
        ) from None
