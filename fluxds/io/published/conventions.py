"""What published tables write that fluxds reads by convention: unit spellings, percent confidence levels,
the "Crab unit", missing values, and the attributes that say what was assumed.

Every assumption a reader of :mod:`fluxds.io.published` makes is written into the Dataset it returns
(``attrs["conventions"]``, one sentence a line, and ``note`` attributes on coordinates), so that nothing
is converted silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np

from fluxds.errors import FormatError, UnitError
from fluxds.io.keywords import jsonable
from fluxds.units import parse_unit

__all__ = [
    "CRAB",
    "CRAB_NOTE",
    "UNIT_ALIASES",
    "unit_text",
    "parse_published_unit",
    "is_crab",
    "fraction_ul_conf",
    "attrs_from_meta",
    "lower_meta",
    "first_duplicate",
    "conventions_text",
]

#: the spelling published tables use for "fraction of the Crab nebula's flux"
CRAB = "crab"
#: why fluxds keeps fluxes in Crab units dimensionless (read in gamma-cat's documentation and issues)
CRAB_NOTE = (
    "values in Crab units, kept dimensionless (norm = flux / Crab flux): each paper normalises to its own "
    "measurement of the Crab nebula above its own energy threshold, and the file states neither (gamma-cat's "
    "light-curve format says 'integral flux in Crab' without naming a Crab spectrum, gamma-cat issue #50); "
    "no conversion to cm-2 s-1 is made. Not astropy's OGIP 'Crab', an X-ray flux unit"
)
#: unit spellings of published tables that astropy does not read, and what they mean. ``MJD`` is a time
#: stamp (days since MJD 0), handled by the light-curve reader; here it is the unit of its numbers.
UNIT_ALIASES = {
    "mjd": "d",
    "days": "d",
    "day": "d",
    "hours": "h",
    "hrs": "h",
    "hr": "h",
    "mins": "min",
    "minutes": "min",
    "sec": "s",
    "secs": "s",
    "seconds": "s",
}


def unit_text(column) -> str | None:
    """The unit of a table column as written (``None`` when it has none)."""
    unit = getattr(column, "unit", None)
    if unit is None:
        return None
    text = unit.to_string() if isinstance(unit, u.UnitBase) else str(unit)
    return text.strip() or None


def is_crab(text: str | None) -> bool:
    """Whether a unit string is the Crab unit (``Crab``, ``crab``, ``Crab units``, ``C.U.``)."""
    if text is None:
        return False
    return text.strip().lower().replace(".", "") in ("crab", "crab units", "crab unit", "cu")


def parse_published_unit(text: str | u.UnitBase | None, *, where: str, column: str) -> u.UnitBase | None:
    """A unit as a published table writes it: astropy's reading, with :data:`UNIT_ALIASES` (``MJD``,
    ``days`` ...); ``None`` for no unit. The Crab unit is refused here: callers test :func:`is_crab`
    first.

    Raises
    ------
    FormatError
        A unit that is neither astropy's nor an alias, naming the file and the column.
    """
    if text is None:
        return None
    if isinstance(text, u.UnitBase) and not isinstance(text, u.UnrecognizedUnit):
        return parse_unit(text, where=f"{where}, column {column!r}")  # a unit astropy read from the file
    text = text.to_string() if isinstance(text, u.UnitBase) else str(text)
    if is_crab(text):
        raise FormatError(f"{where}: column {column!r}: the Crab unit is not a physical unit")
    alias = UNIT_ALIASES.get(text.strip().lower())
    try:
        return parse_unit(alias or text, where=f"{where}, column {column!r}")
    except UnitError as exc:
        raise FormatError(str(exc)) from None


def fraction_ul_conf(value: Any, where: str) -> tuple[float | None, str | None]:
    """A published upper-limit confidence level as a fraction in (0, 1), and a note when it was not one.

    ``0.95`` stays; ``95`` or ``"95%"`` (percent, as some gamma-cat files write) becomes 0.95; gamma-cat's
    own ``"1 sigma"`` becomes 0.84 (its processing script's reading, ``gammacat/sed.py``); ``"3 sigma"``
    becomes the one-sided fraction of 3 Gaussian sigma.

    Returns
    -------
    (float or None, str or None)
    """
    if value is None:
        return None, None
    text = str(value).strip().lower()
    if text.endswith("sigma"):
        from scipy.stats import norm

        try:
            n = float(text[:-5].strip())
        except ValueError:
            raise FormatError(
                f"{where}: UL_CONF is {value!r}; expected a fraction, a percent or 'N sigma'"
            ) from None
        conf = 0.84 if n == 1 else float(norm.cdf(n))
        return (
            conf,
            f"UL_CONF {value!r} read as {conf:.4g} (one-sided Gaussian fraction; gamma-cat reads 1 sigma "
            "as 0.84)",
        )
    percent = text.endswith("%")
    try:
        number = float(text.rstrip("%").strip())
    except ValueError:
        raise FormatError(
            f"{where}: UL_CONF is {value!r}; expected a fraction in (0, 1) or a percent"
        ) from None
    if percent or 1 < number < 100:
        return number / 100, f"UL_CONF {value!r} is a percent: read as {number / 100:g}"
    if not 0 < number < 1:
        raise FormatError(f"{where}: UL_CONF is {value!r}; expected a fraction in (0, 1) or a percent")
    return number, None


def lower_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A table's meta with lower-case keys (the first spelling wins)."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        out.setdefault(str(key).lower(), value)
    return out


def attrs_from_meta(meta: Mapping[str, Any], skip: set[str] = frozenset()) -> dict[str, Any]:
    """A table's meta as Dataset attributes: text and numbers as they are, anything else (lists, mappings
    such as gamma-cat's ``mjd: {min, max}``) as JSON text; keys in ``skip`` (lower-case) left out."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if str(key).lower() in skip:
            continue
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[str(key)] = value
        else:
            out[str(key)] = json.dumps(jsonable(value), default=str)
    return out


def first_duplicate(values: np.ndarray) -> tuple[int, int] | None:
    """The first two positions (in the given order) holding the same value, or None."""
    order = np.argsort(values, kind="stable")
    same = np.flatnonzero(np.diff(values[order]) == 0)
    if not same.size:
        return None
    pairs = sorted((int(order[i]), int(order[i + 1])) for i in same)
    return min(pairs, key=lambda p: p[1])


def conventions_text(sentences: list[str]) -> str:
    """The conventions a reader applied, one sentence a line: ``attrs["conventions"]`` (a text, so that every
    writer keeps it as it is)."""
    return "\n".join(sentences)
