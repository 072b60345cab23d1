"""The read budget: how many bytes one read may materialise.

A hostile file can declare sizes it does not hold (an unwritten netCDF variable of 2e8 elements, a zarr
array of a billion chunks, a HEALPix map at NSIDE 65536, YAML anchors that expand a thousandfold). Every
reader checks what a file *declares* against this budget **before** it allocates, and refuses with a
:class:`BudgetError` (a :class:`~fluxds.errors.FormatError`) naming the file, the variable, the size asked
for and the budget, and saying how to raise it.

The budget is, in order of precedence:

1. the ``max_bytes=`` argument of :func:`fluxds.read` / :func:`fluxds.open_dataset` (for that call);
2. :func:`set_read_budget` (for the process);
3. the ``FLUXDS_MAX_READ_BYTES`` environment variable (bytes, or a size such as ``512MiB``, ``4GB``);
4. the default: half of this machine's physical memory (:func:`default_read_budget`).

**The budget is for the whole read**, not for each variable: :func:`budget_scope` (which
:func:`fluxds.read` enters for every read) opens a ledger, and :func:`charge` adds what each part of the
read materialises (an HDU, a table, a decompressed image) to its running total, refusing the read once the
total passes the budget, before that part is allocated. Fifteen images of 64 MiB each are refused, under a
256 MiB budget, before the fifth is decompressed. :func:`check_allocation` checks one size on its own (a
variable, or a whole read that a reader sums itself).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator

from fluxds.errors import BudgetError, FormatError

__all__ = [
    "ENVIRONMENT_VARIABLE",
    "default_read_budget",
    "read_budget",
    "set_read_budget",
    "budget_scope",
    "check_allocation",
    "charge",
    "charged",
    "parse_size",
]

#: the environment variable that sets the read budget (bytes, or a size with a unit: ``512MiB``)
ENVIRONMENT_VARIABLE = "FLUXDS_MAX_READ_BYTES"

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)\s*([a-zA-Z]*)\s*$")

_process_budget: list[int | None] = [None]
_scoped_budget: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "fluxds_read_budget", default=None
)


class _Ledger:
    """What one read has materialised so far (bytes), and the parts already counted."""

    __slots__ = ("total", "keys")

    def __init__(self) -> None:
        self.total = 0
        self.keys: set = set()


_ledger: contextvars.ContextVar[_Ledger | None] = contextvars.ContextVar("fluxds_read_ledger", default=None)


def parse_size(text: str | int | float, what: str = "a size") -> int:
    """A size in bytes from an integer or a text such as ``"1MiB"``, ``"2.5 GB"``, ``"1e9"``.

    Parameters
    ----------
    text : str, int or float
        The size: a number of bytes, optionally with a unit (B, kB, KiB, MB, MiB, GB, GiB, TB, TiB).
    what : str
        What the size is, for the message.

    Returns
    -------
    int
        Bytes, > 0.

    Raises
    ------
    ValueError
        If the text is not a positive size.

    Examples
    --------
    >>> parse_size("1MiB"), parse_size("2 GB"), parse_size(4096)
    (1048576, 2000000000, 4096)
    """
    if isinstance(text, bool):
        raise ValueError(f"{what} must be a number of bytes, found {text!r}")
    if isinstance(text, (int, float)):
        number, unit = float(text), ""
    else:
        match = _SIZE.match(str(text))
        if not match or match.group(2).lower() not in _UNITS:
            raise ValueError(
                f"{what} must be a number of bytes or a size such as '512MiB' or '4GB', found {text!r}"
            )
        number, unit = float(match.group(1)), match.group(2).lower()
    nbytes = number * _UNITS[unit]
    if not (nbytes >= 1 and nbytes < 2**63):
        raise ValueError(f"{what} must be at least 1 byte and finite, found {text!r}")
    return int(nbytes)


def default_read_budget() -> int:
    """Half of this machine's physical memory (bytes): the budget when none is set.

    Examples
    --------
    >>> default_read_budget() > 0
    True
    """
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: a conservative 8 GiB machine
        total = 8 * 1024**3
    return max(int(total) // 2, 1)


def read_budget() -> int:
    """The read budget in force here (bytes): scope, then process, then environment, then default.

    Examples
    --------
    >>> with budget_scope(1000):
    ...     read_budget()
    1000
    """
    scoped = _scoped_budget.get()
    if scoped is not None:
        return scoped
    if _process_budget[0] is not None:
        return _process_budget[0]
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text:
        try:
            return parse_size(text, ENVIRONMENT_VARIABLE)
        except ValueError as exc:
            raise FormatError(f"{exc} (the environment variable {ENVIRONMENT_VARIABLE})") from None
    return default_read_budget()


def set_read_budget(nbytes: int | str | None) -> int | None:
    """Set the read budget of this process; return the previous setting (``None``: not set).

    Parameters
    ----------
    nbytes : int, str or None
        Bytes, or a size such as ``"8GiB"``; ``None`` goes back to the environment variable or the
        default.

    Returns
    -------
    int or None
        The previous process-wide setting.

    Examples
    --------
    >>> old = set_read_budget("1MiB")
    >>> read_budget()
    1048576
    >>> _ = set_read_budget(old)
    """
    new = None if nbytes is None else parse_size(nbytes, "the read budget")
    old, _process_budget[0] = _process_budget[0], new
    return old


@contextlib.contextmanager
def budget_scope(nbytes: int | str | None) -> Iterator[int]:
    """One read: its budget, and a new ledger of what it has materialised (this thread/context only).

    :func:`fluxds.read` enters it for every read; :func:`charge` adds to the ledger it opens. A scope
    entered inside another starts a ledger of its own (a read inside a read counts on its own).

    Parameters
    ----------
    nbytes : int, str or None
        Bytes, or a size such as ``"8GiB"``; ``None`` keeps the budget in force.

    Yields
    ------
    int
        The budget in force inside the block (bytes).

    Examples
    --------
    >>> with budget_scope("1MiB") as budget:
    ...     charge(1000, path="a.fits", variable="HDU NORM")
    ...     budget, charged()
    (1048576, 1000)
    """
    budget_token = None if nbytes is None else _scoped_budget.set(parse_size(nbytes, "max_bytes"))
    ledger_token = _ledger.set(_Ledger())
    try:
        yield read_budget()
    finally:
        _ledger.reset(ledger_token)
        if budget_token is not None:
            _scoped_budget.reset(budget_token)


def charged() -> int:
    """Bytes charged so far to the read in progress (:func:`charge`); 0 outside :func:`budget_scope`.

    Examples
    --------
    >>> charged()
    0
    """
    ledger = _ledger.get()
    return 0 if ledger is None else ledger.total


def charge(
    nbytes: int | float,
    *,
    path: str | os.PathLike,
    variable: str,
    what: str = "",
    key: object = None,
) -> None:
    """Add what one part of a read materialises to the read's running total; refuse the read, before
    that part is allocated, once the total passes the budget.

    The total is that of the :func:`budget_scope` in force (:func:`fluxds.read` opens one for every
    read). Outside any scope there is no running total and ``nbytes`` is checked on its own, as by
    :func:`check_allocation`. A refused part is not added to the total.

    Parameters
    ----------
    nbytes : int or float
        Bytes the part would materialise, from what the file declares (Python integers: they never
        overflow).
    path : str or path-like
        The file, for the message.
    variable : str
        The variable, column, HDU or table the part is, for the message.
    what : str, optional
        How the size was found (``"reading a tile-compressed image of 2 x 4096 x 1024 pixels"``).
    key : hashable, optional
        Identifies the part: a part charged again under the same key (a bands table shared by several
        images and checked for each) is counted once. ``None``: always counted.

    Raises
    ------
    BudgetError
        If ``nbytes``, or the read's total with it, exceeds :func:`read_budget`; naming the file, the
        variable, the size, the total so far, the budget and how to raise it.

    Examples
    --------
    >>> with budget_scope(100 * 1024**2):
    ...     charge(64 * 1024**2, path="map.fits", variable="HDU NORM")
    ...     charge(64 * 1024**2, path="map.fits", variable="HDU NORM_ERR")
    Traceback (most recent call last):
    ...
    fluxds.errors.BudgetError: map.fits: variable 'HDU NORM_ERR': reading it needs 67108864 bytes ...
    """
    ledger = _ledger.get()
    if ledger is None:
        check_allocation(nbytes, path=path, variable=variable, what=what)
        return
    if key is not None and key in ledger.keys:
        return
    if ledger.total == 0 or nbytes != nbytes:
        check_allocation(nbytes, path=path, variable=variable, what=what)
    total = ledger.total + nbytes
    budget = read_budget()
    if total > budget:
        detail = f"{what} needs" if what else "reading it needs"
        raise BudgetError(
            f"{path}: variable {variable!r}: {detail} {_human(nbytes)}, which brings this read to "
            f"{_human(total)} (after {_human(ledger.total)} already read), more than the read budget of "
            f"{_human(budget)} for the whole read; {_RAISE}"
        )
    ledger.total = total
    if key is not None:
        ledger.keys.add(key)


def check_allocation(nbytes: int | float, *, path: str | os.PathLike, variable: str, what: str = "") -> None:
    """Refuse, before allocating, a read that would materialise more than the budget.

    Parameters
    ----------
    nbytes : int or float
        Bytes the read would materialise, computed from what the file declares (shape x item size,
        chunk count x chunk size, pixels x bytes per pixel, ...). Python integers never overflow: compute
        it with them, not with fixed-width NumPy integers.
    path : str or path-like
        The file, for the message.
    variable : str
        The variable, column, HDU or table the size belongs to, for the message.
    what : str, optional
        How the size was found (``"declared shape (200000000,) of float64"``), for the message.

    Raises
    ------
    BudgetError
        If ``nbytes`` exceeds :func:`read_budget`.

    Examples
    --------
    >>> check_allocation(800, path="a.nc", variable="norm")
    >>> with budget_scope(100):
    ...     check_allocation(800, path="a.nc", variable="norm", what="shape (100,) of float64")
    Traceback (most recent call last):
    ...
    fluxds.errors.BudgetError: a.nc: variable 'norm': shape (100,) of float64 needs 800 bytes, ...
    """
    budget = read_budget()
    if nbytes != nbytes or nbytes > budget:  # NaN counts as too large
        detail = f"{what} needs" if what else "reading it needs"
        raise BudgetError(
            f"{path}: variable {variable!r}: {detail} {_human(nbytes)}, more than the read budget of "
            f"{_human(budget)}; {_RAISE}"
        )


_RAISE = (
    "if you trust the file, raise the budget with fluxds.read(..., max_bytes=...), "
    f"fluxds.io.guard.budget.set_read_budget(...) or the environment variable {ENVIRONMENT_VARIABLE}"
)


def _human(nbytes: int | float) -> str:
    if nbytes != nbytes:
        return "an undefined number of bytes"
    if nbytes < 1024:
        return f"{int(nbytes)} bytes"
    for unit, size in (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes >= size:
            return f"{int(nbytes)} bytes ({nbytes / size:.3g} {unit})"
    return f"{int(nbytes)} bytes"
