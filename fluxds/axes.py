"""Coordinates of the binned axes of :data:`fluxds.schema.BINNED_AXES` other than time (whose calendar
labels and MJD references live in :mod:`fluxds.timeaxis`): built from the numbers of a file or a user,
with the checks every reader applies.

>>> coords = binned_coords("phase", lo=[0.0, 0.5], hi=[0.5, 1.0])
>>> sorted(coords), coords["phase"].values.tolist()
(['phase', 'phase_max', 'phase_min'], [0.25, 0.75])
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import SchemaError

__all__ = ["binned_coords", "derived_centre_note"]


def derived_centre_note(axis: schema.BinnedAxis) -> str:
    """The ``note`` of a centre coordinate that :func:`binned_coords` derived from the edges."""
    how = (
        "sqrt(min * max)"
        if axis.scale == "log"
        else f"{axis.min_name} + ({axis.max_name} - {axis.min_name}) / 2"
    )
    return f"derived: {how}, the input had no {axis.file_columns[0]!r}"


def _numbers(values, name: str, prefix: str, row: str) -> np.ndarray:
    import astropy.units as u

    arr = np.asarray(u.Quantity(values).value if isinstance(values, u.Quantity) else values)
    if arr.ndim != 1 or arr.dtype.kind not in "fiu":
        raise SchemaError(
            f"{prefix}{name} must be one number per {row}; found {arr.dtype} of shape {arr.shape}"
        )
    arr = arr.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        i = int(bad[0])
        raise SchemaError(f"{prefix}{name} must be finite; found {arr[i]} in {row} {i}")
    return arr


def binned_coords(
    dim: str,
    *,
    centre=None,
    lo=None,
    hi=None,
    unit: str = "",
    where: str = "",
    what: str = "coordinate",
) -> dict[str, xr.Variable]:
    """The coordinates of a binned axis (``phase``, ``phase_min``, ``phase_max``) from numbers.

    Parameters
    ----------
    dim : str
        A dimension of :data:`fluxds.schema.BINNED_AXES` (not ``time``: see
        :func:`fluxds.timeaxis.time_coords`).
    centre, lo, hi : array_like, optional
        The bin centres and edges, 1-D numbers (Quantities are taken in their own unit): the edges both
        or neither, and at least the edges or the centres. Without centres, the centre is the midpoint of
        the edges on the axis' scale, with a ``note`` saying so (:func:`derived_centre_note`).
    unit : str
        Their unit (``""``: dimensionless, as phase).
    where : str
        The file and HDU, for messages.
    what : str
        How messages call the numbers: ``"coordinate"`` (``coordinate 'phase_min'``) or ``"column"``.

    Returns
    -------
    dict of str to xarray.Variable
        ``centre, min, max`` names of the axis (those given, and the derived centre), each on ``(dim,)``
        with ``units`` and the schema's ``long_name``. Pass them as ``coords=`` to :func:`fluxds.from_sed`.

    Raises
    ------
    SchemaError
        Not 1-D numbers, of different lengths, not finite, or ``min > max`` in a bin (naming the bin).
        Any range is accepted (a phase beyond [0, 1] too); so are bins in any order.
    """
    axis = schema.binned_axis(dim)
    if axis is None or axis.cf_bounds != "edges":
        raise SchemaError(f"{dim!r} is not a binned axis of fluxds.schema.BINNED_AXES built from numbers")
    prefix = f"{where}: " if where else ""
    label = dict(zip(axis.coords, axis.file_columns if what == "column" else axis.coords, strict=True))
    given = {n: v for n, v in zip(axis.coords, (centre, lo, hi), strict=True) if v is not None}
    row = f"{dim} bin" if what == "coordinate" else "row"
    if (axis.min_name in given) != (axis.max_name in given):
        raise SchemaError(
            f"{prefix}{what}s {label[axis.min_name]!r} and {label[axis.max_name]!r} go together"
        )
    if not given:
        raise SchemaError(
            f"{prefix}no {dim} bins: give {label[axis.min_name]!r} and {label[axis.max_name]!r}, or "
            f"{label[axis.centre]!r}"
        )
    numbers = {n: _numbers(v, f"{what} {label[n]!r}", prefix, row) for n, v in given.items()}
    if len({a.size for a in numbers.values()}) > 1:
        sizes = {label[k]: v.size for k, v in numbers.items()}
        raise SchemaError(f"{prefix}the {dim} {what}s differ in length: {sizes}")
    attrs = {n: {"units": unit, "long_name": text} for n, text in axis.long_name_of.items()}
    if axis.min_name in numbers:
        a, b = numbers[axis.min_name], numbers[axis.max_name]
        bad = np.flatnonzero(a > b)
        if bad.size:
            i = int(bad[0])
            lo_name, hi_name = label[axis.min_name], label[axis.max_name]
            raise SchemaError(
                f"{prefix}{row} {i} has {lo_name}={float(a[i])!r} > {hi_name}={float(b[i])!r}; "
                f"expected {lo_name} <= {hi_name}"
            )
        if axis.centre not in numbers:
            numbers[axis.centre] = axis.midpoint(a, b)
            attrs[axis.centre]["note"] = derived_centre_note(axis)
    return {n: xr.Variable((dim,), numbers[n], attrs[n]) for n in axis.coords if n in numbers}
