"""The non-spatial axes of a map HDU, from and to its ``BANDS``/``EBOUNDS`` table.

gammapy (and the GADF map spec) describe the axes of a map beyond the two sky axes in a table HDU named
by the image's ``BANDSHDU`` keyword (default ``BANDS``; Fermi files use ``EBOUNDS``). Each axis is named by
a keyword ``AXCOLSi`` (``i`` = 1 for FITS axis 3, 2 for FITS axis 4, ...) listing its columns: two for an
axis with edges (``E_MIN,E_MAX``), one for an axis of nodes (``DNDE_BIN``) or labels (``DATASET``). The
table holds one row per combination of bins, in the order ``numpy.meshgrid`` (``xy`` indexing) and
``ravel`` give them: with two axes the first one runs fastest. A table without ``AXCOLS`` keywords (Fermi's
``EBOUNDS``, ``CHANNEL``/``E_MIN``/``E_MAX``) holds one energy axis.

Dimension names: the energy axis (columns ``E_MIN``/``E_MAX`` or ``ENERGY``) is ``energy``; gammapy's
likelihood-scan axis ``DNDE_BIN`` (and ``SCAN``, ``NORM``) is ``scan``; any other axis keeps its name in
lower case (``DATASET`` -> ``dataset``).

The energies and the per-energy columns (``REF_DNDE`` ...) of such a table are read by the one pair of
helpers :func:`energy_bounds` and :func:`per_energy_columns`, for WCS maps, HEALPix maps and TS cubes
alike (energy column names: :data:`fluxds.io.vocabulary.ENERGY_COLUMN_ALIASES`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.io import fits

from fluxds.errors import FormatError, Problems
from fluxds.io.vocabulary import BANDS_AXIS_COLUMNS, ENERGY_COLUMN_ALIASES, canonical_column, energy_columns
from fluxds.units import format_unit, parse_unit

__all__ = ["Axis", "read_axes", "bands_hdu", "SCAN_AXIS_NAMES", "energy_bounds", "per_energy_columns"]

SCAN_AXIS_NAMES = {"dnde_bin": "scan", "scan": "scan", "norm": "scan"}
#: the unit of energy columns without one in an ``EBOUNDS`` table (the Fermi and GADF TS-cube convention)
EBOUNDS_UNIT = "keV"
_INTERP = {"energy": "log", "scan": "lin"}


@dataclass
class Axis:
    """One non-spatial axis of a map.

    Attributes
    ----------
    dim : str
        The Dataset dimension (``energy``, ``scan``, ``dataset`` ...).
    size : int
        Number of bins.
    values : dict
        For ``energy``: ``e_ref``/``e_min``/``e_max`` Quantities (those present); for a label axis:
        ``labels`` (str array); for a node axis: ``center`` (and ``min``/``max`` when stored).
    file_name : str
        The column stem in the file (``ENERGY``, ``DNDE_BIN``, ``DATASET`` ...).
    """

    dim: str
    size: int
    values: dict = field(default_factory=dict)
    file_name: str = ""


def _row_grid(sizes: list[int]) -> tuple[np.ndarray, ...]:
    """Per table row, the bin index of each axis (meshgrid ``xy`` order: axes 1 and 2 swapped)."""
    if len(sizes) == 1:
        return (np.arange(sizes[0]),)
    shape = [sizes[1], sizes[0], *sizes[2:]]
    grid = np.unravel_index(np.arange(int(np.prod(shape))), shape)
    return (grid[1], grid[0], *grid[2:])


def _column(table: fits.FITS_rec, hdu: fits.BinTableHDU, name: str, where: str):
    names = {n.upper(): n for n in hdu.columns.names}
    if name not in names:
        raise FormatError(f"{where}: column {name!r} is missing; columns: {hdu.columns.names}")
    col = hdu.columns[names[name]]
    data = np.asarray(table[names[name]])
    if data.dtype.kind in "SU":
        return np.char.strip(data.astype(str))
    data = data.astype(data.dtype.newbyteorder("="), copy=False)
    if not col.unit:
        return data
    return u.Quantity(data, parse_unit(col.unit, where=f"{where}, column {name!r}"), copy=False)


def _table_columns(table) -> dict[str, tuple[np.ndarray, object]]:
    """Column name -> (values, unit or None) of a FITS table HDU or an astropy Table."""
    if isinstance(table, fits.BinTableHDU):
        data = table.data
        return {
            col.name: (np.asarray(data[col.name]) if data is not None else np.zeros(0), col.unit or None)
            for col in table.columns
        }
    return {name: (np.asarray(table[name]), table[name].unit or None) for name in table.colnames}


def energy_bounds(
    table, where: str, *, rows: np.ndarray | None = None, default_unit: str | None = None
) -> dict[str, u.Quantity]:
    """The energies of a ``BANDS``/``EBOUNDS`` table: the one reader of them (WCS and HEALPix maps, TS cubes).

    Parameters
    ----------
    table : astropy.io.fits.BinTableHDU or astropy.table.Table
    where : str
        The file and HDU, for messages.
    rows : ndarray, optional
        The rows of the energy axis (a table of several axes holds one row per combination of bins).
    default_unit : str, optional
        The unit of energy columns without one; default :data:`EBOUNDS_UNIT` (keV) for a table HDU named
        ``EBOUNDS``, else none: such a column is refused.

    Returns
    -------
    dict
        ``e_ref``/``e_min``/``e_max`` -> float64 Quantity, those present (the names:
        :func:`fluxds.io.vocabulary.energy_columns`).

    Raises
    ------
    FormatError
        Every bad energy column at once (no unit, not an energy, not numbers), or no energy column.
    """
    columns = _table_columns(table)
    if default_unit is None and str(getattr(table, "name", "")).upper() == "EBOUNDS":
        default_unit = EBOUNDS_UNIT
    problems = Problems(where)
    out = {}
    for key, name in energy_columns(columns).items():
        with problems.check():
            data, given = columns[name]
            if data.dtype.kind not in "fiu":
                raise FormatError(f"{where}: column {name!r} holds {data.dtype}, expected energies (numbers)")
            given = given or default_unit
            unit = parse_unit(given, where=f"{where}, column {name!r}") if given else None
            if unit is None or unit.physical_type != "energy":
                raise FormatError(
                    f"{where}: column {name!r} must hold energies with a unit (TUNIT), found "
                    f"{unit or 'no unit'}"
                )
            values = data.astype(np.float64)
            out[key] = u.Quantity(values if rows is None else values[rows], unit, copy=False)
    if not problems and "e_ref" not in out and "e_min" not in out:
        names = "/".join(n.upper() for n in ENERGY_COLUMN_ALIASES)
        problems.add(FormatError(f"{where}: no energy columns ({names}); columns: {list(columns)}"))
    problems.raise_if_any()
    return out


def per_energy_columns(table, where: str) -> dict[str, tuple[np.ndarray, str]]:
    """The per-energy columns of a single-axis ``BANDS``/``EBOUNDS`` table (``REF_DNDE``, ``REF_FLUX`` ...:
    the reference fluxes fluxds and fermipy write there): every column that does not describe the axis
    (:data:`fluxds.io.vocabulary.BANDS_AXIS_COLUMNS`), by its fluxds name (``REF_DFDE`` -> ``ref_dnde``).

    Parameters
    ----------
    table : astropy.io.fits.BinTableHDU or astropy.table.Table
    where : str
        The file and HDU, for messages.

    Returns
    -------
    dict
        name -> (float64 values, unit text, ``""`` for none).

    Raises
    ------
    FormatError, UnitError
        Every bad column at once: text, vectors, an unreadable unit.
    """
    problems = Problems(where)
    out = {}
    for name, (data, unit) in _table_columns(table).items():
        if name.upper() in BANDS_AXIS_COLUMNS:
            continue
        with problems.check():
            if data.dtype.kind not in "fiu":
                raise FormatError(f"{where}: column {name!r} holds text, expected numbers")
            if data.ndim != 1:
                raise FormatError(
                    f"{where}: column {name!r} holds vectors, expected one number per energy bin"
                )
            text = format_unit(parse_unit(unit, where=f"{where}, column {name!r}")) if unit else ""
            out[canonical_column(name)] = (data.astype(np.float64), text)
    problems.raise_if_any()
    return out


def read_axes(hdu: fits.BinTableHDU, sizes: list[int], *, where: str) -> list[Axis]:
    """The axes described by a bands table, for an image whose non-spatial FITS axes have ``sizes``.

    Parameters
    ----------
    hdu : astropy.io.fits.BinTableHDU
        The ``BANDS``/``EBOUNDS`` table.
    sizes : list of int
        ``NAXIS3``, ``NAXIS4``, ... of the image.
    where : str
        The file and HDU, for messages.

    Returns
    -------
    list of Axis
        In FITS order (axis 3 first).
    """
    header, table = hdu.header, hdu.data
    n_rows = 0 if table is None else len(table)
    if n_rows != int(np.prod(sizes)):
        raise FormatError(
            f"{where}: the bands table has {n_rows} rows, but the image's non-spatial axes {sizes} "
            f"need {int(np.prod(sizes))}"
        )
    if "NPIX" in [n.upper() for n in hdu.columns.names]:
        raise FormatError(
            f"{where}: maps whose pixel grid changes along the energy axis (NPIX) are not supported"
        )
    specs = [header.get(f"AXCOLS{i + 1}") for i in range(len(sizes))]
    if specs[0] is None and len(sizes) == 1:
        specs = ["E_MIN,E_MAX"]  # Fermi EBOUNDS: one energy axis
    grid = _row_grid(sizes)
    axes = []
    for k, (spec, size) in enumerate(zip(specs, sizes, strict=True)):
        if spec is None:
            raise FormatError(f"{where}: keyword AXCOLS{k + 1} is missing for image axis {k + 3}")
        names = [s.strip().upper() for s in str(spec).split(",")]
        others = [grid[j] == 0 for j in range(len(sizes)) if j != k]
        mask = np.logical_and.reduce(others) if others else np.ones(n_rows, bool)
        rows = np.flatnonzero(mask)[np.argsort(grid[k][mask], kind="stable")]
        if rows.size != size:
            raise FormatError(f"{where}: axis {names[0]} has {rows.size} rows in the table, expected {size}")
        if names[0].lower() in ENERGY_COLUMN_ALIASES:
            axes.append(Axis("energy", size, energy_bounds(hdu, where, rows=rows), "ENERGY"))
            continue
        stem = names[0].removesuffix("_MIN")
        dim = SCAN_AXIS_NAMES.get(stem.lower(), stem.lower())
        centre = _column(
            table, hdu, stem if stem in {n.upper() for n in hdu.columns.names} else names[0], where
        )
        values = {"labels" if centre.dtype.kind == "U" else "center": centre[rows]}
        if len(names) == 2:
            values["min"] = _column(table, hdu, names[0], where)[rows]
            values["max"] = _column(table, hdu, names[1], where)[rows]
        axes.append(Axis(dim, size, values, stem))
    return axes


def _unit_of(values) -> str | None:
    return format_unit(values.unit) if isinstance(values, u.Quantity) else None


def bands_hdu(name: str, axes: list[Axis], *, extra: dict | None = None) -> fits.BinTableHDU:
    """A bands table for ``axes`` (FITS order), gammapy's layout, named ``name``.

    ``extra`` maps column names to ``(values, unit)`` per row (only for a single axis: the reference
    fluxes ``REF_DNDE``/``REF_FLUX``/``REF_EFLUX`` of the shared ``BANDS`` table).
    """
    sizes = [a.size for a in axes]
    grid = _row_grid(sizes)
    cols = [fits.Column("CHANNEL", "K", array=np.arange(int(np.prod(sizes)), dtype=np.int64))]
    header = fits.Header()
    for k, (axis, index) in enumerate(zip(axes, grid, strict=True)):
        if axis.dim == "energy":
            names = [("ENERGY", "e_ref"), ("E_MIN", "e_min"), ("E_MAX", "e_max")]
            present = [(col, key) for col, key in names if key in axis.values]
            axcols = "E_MIN,E_MAX" if "e_min" in axis.values else "ENERGY"
        else:
            present = [(axis.file_name, "labels" if "labels" in axis.values else "center")]
            if "min" in axis.values:
                present += [(f"{axis.file_name}_MIN", "min"), (f"{axis.file_name}_MAX", "max")]
            axcols = ",".join(c for c, _ in present[1:]) if "min" in axis.values else axis.file_name
        for col, key in present:
            values = axis.values[key]
            data = np.asarray(getattr(values, "value", values))[index]
            if data.dtype.kind == "U":
                width = max(1, max((len(s) for s in data), default=1))
                cols.append(fits.Column(col, f"{width}A", array=data))
            else:
                cols.append(fits.Column(col, "D", unit=_unit_of(values), array=data.astype(np.float64)))
        header[f"AXCOLS{k + 1}"] = axcols
        if axis.dim in _INTERP:
            header[f"INTERP{k + 1}"] = _INTERP[axis.dim]
    for col, (values, unit) in (extra or {}).items():
        cols.append(fits.Column(col, "D", unit=unit or None, array=np.asarray(values, dtype=np.float64)))
    hdu = fits.BinTableHDU.from_columns(cols, header=header, name=name)
    return hdu
