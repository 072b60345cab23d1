"""The exception of a command line that cannot be done as written (exit status 2)."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """The command line asks for something that cannot be done as written (exit status 2)."""
