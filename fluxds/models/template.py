"""A tabulated spectrum: :class:`Template`, log-log interpolated, exact segment-wise integrals."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np

from fluxds.errors import ModelError
from fluxds.models._base import SpectralModel
from fluxds.models._integrate import log_ratio, powerlaw_integral
from fluxds.models._params import check_quantity
from fluxds.units import format_unit

__all__ = ["Template"]

# bins x segments handled per block when integrating (bounds the memory of that table)
_BLOCK = 1 << 20


class Template(SpectralModel):
    """Tabulated dN/dE, interpolated linearly in ln E - ln dnde (gammapy's TemplateSpectralModel).

    Between two nodes the model is the power law through them; below the first node and above the
    last one it is the power law of the first / last segment, extended (log-log linear
    extrapolation). A log-log interpolated power law is therefore the same power law everywhere.
    Integrals are the exact sums of the power-law segment integrals that each bin covers.

    Parameters
    ----------
    energy : astropy.units.Quantity
        Node energies, 1-D, at least 2, positive, finite and strictly increasing (a plain array is
        taken in TeV).
    values : astropy.units.Quantity
        dN/dE at the nodes, same shape, > 0 and finite, dimension of a differential flux (a plain
        array is taken in cm-2 s-1 TeV-1).

    Raises
    ------
    ModelError
        Bad node table (names the first bad node) or wrong units.

    Examples
    --------
    >>> import astropy.units as u
    >>> model = Template([1, 10] * u.TeV, [1e-12, 1e-14] * u.Unit("cm-2 s-1 TeV-1"))
    >>> model.dnde([1, 100] * u.TeV)  # the 1-10 TeV segment is a power law of index 2
    <Quantity [1.e-12, 1.e-16] 1 / (TeV s cm2)>
    """

    type = "Template"
    gammapy_type = "TemplateSpectralModel"
    param_specs = ()

    def __init__(self, energy: u.Quantity, values: u.Quantity) -> None:
        self._init_table(energy, None, values, None)

    def _init_table(self, energy: Any, energy_unit: Any, values: Any, values_unit: Any) -> None:
        e, eunit = check_quantity(self.type, "energy", "energy", energy, energy_unit)
        v, vunit = check_quantity(self.type, "values", "dnde", values, values_unit)
        if e.ndim != 1 or e.size < 2:
            raise ModelError(f"Template 'energy' must be 1-D with at least 2 nodes, got shape {e.shape}")
        if v.shape != e.shape:
            raise ModelError(
                f"Template 'values' has shape {v.shape}, expected the shape of 'energy' {e.shape}"
            )
        bad = np.flatnonzero(~(np.isfinite(e) & (e > 0)))
        if bad.size:
            i = bad[0]
            raise ModelError(
                f"Template 'energy' node {i} is {float(e[i])!r}: energies must be positive and finite"
            )
        bad = np.flatnonzero(~(e[1:] > e[:-1]))
        if bad.size:
            i = bad[0] + 1
            raise ModelError(
                f"Template 'energy' must be strictly increasing: node {i} ({float(e[i])!r}) "
                f"is not above node {i - 1} ({float(e[i - 1])!r})"
            )
        bad = np.flatnonzero(~(np.isfinite(v) & (v > 0)))
        if bad.size:
            i = bad[0]
            raise ModelError(
                f"Template 'values' node {i} (energy {float(e[i])!r} {format_unit(eunit)}) "
                f"is {float(v[i])!r}: "
                "log interpolation needs values > 0 and finite"
            )
        self._energy, self._eunit = e.copy(), eunit
        self._values, self._dnde_unit = v.copy(), vunit
        self._params = {}
        # slope of ln dnde against ln E on each of the len-1 segments
        self._slopes = np.log(v[1:] / v[:-1]) / log_ratio(e[1:], e[:-1])

    @classmethod
    def _from_dict_data(cls, data: Mapping[str, Any]) -> Template:
        params = data.get("parameters")
        if params:
            raise ModelError(f"Template takes no parameters, got {params!r}; expected 'energy' and 'values'")
        columns = []
        for key in ("energy", "values"):
            block = data.get(key)
            if not isinstance(block, Mapping):
                raise ModelError(f"Template: missing {key!r} block; expected 'energy' and 'values'")
            numbers = block.get("values", block.get("data"))
            if numbers is None:
                raise ModelError(f"Template {key!r} block has no 'values' (or gammapy 'data') list")
            columns.append((numbers, block.get("unit", "")))
        model = cls.__new__(cls)
        model._init_table(columns[0][0], columns[0][1], columns[1][0], columns[1][1])
        return model

    def _in_energy_unit(self, unit: u.UnitBase) -> Template:
        if unit == self._eunit:
            return self
        clone = copy.copy(self)
        clone._energy = u.Quantity(self._energy, self._eunit).to_value(unit)
        clone._eunit = unit
        return clone

    @property
    def energy(self) -> u.Quantity:
        """Node energies (copy), in their own unit."""
        return u.Quantity(self._energy, self._eunit)

    @property
    def values(self) -> u.Quantity:
        """dN/dE at the nodes (copy), in their own unit."""
        return u.Quantity(self._values, self._dnde_unit)

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "Template", "energy": {"values", "unit"}, "values": {"values", "unit"}}``."""
        return {
            "type": self.type,
            "energy": {
                "values": [float(x) for x in self._energy],
                "unit": format_unit(self._eunit),
            },
            "values": {
                "values": [float(x) for x in self._values],
                "unit": format_unit(self._dnde_unit),
            },
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SpectralModel):
            return NotImplemented
        return (
            isinstance(other, Template)
            and self._eunit == other._eunit
            and self._dnde_unit == other._dnde_unit
            and np.array_equal(self._energy, other._energy)
            and np.array_equal(self._values, other._values)
        )

    def __hash__(self) -> int:
        return hash((self.type, self._energy.tobytes(), self._values.tobytes()))

    def __repr__(self) -> str:
        return (
            f"Template({self._energy.size} nodes, energy "
            f"{float(self._energy[0])!r}..{float(self._energy[-1])!r} "
            f"{format_unit(self._eunit)}, values in {format_unit(self._dnde_unit) or '(none)'})"
        )

    def _dnde_values(self, energy: np.ndarray) -> np.ndarray:
        e, v = self._energy, self._values
        energy = np.asarray(energy, dtype=float)
        seg = np.clip(np.searchsorted(e, energy, side="right") - 1, 0, e.size - 2)
        with np.errstate(all="ignore"):
            out = v[seg] * np.exp(self._slopes[seg] * np.log(energy / e[seg]))
        return np.where(energy == e[seg + 1], v[seg + 1], out)  # nodes exactly, also the last

    def _integral_values(self, lo: np.ndarray, hi: np.ndarray, moment: int) -> np.ndarray:
        e, v = self._energy, self._values
        left = e[:-1].copy()
        left[0] = 0.0  # first segment extends down to 0 ...
        right = e[1:].copy()
        right[-1] = np.inf  # ... and the last one up to infinity
        anchor, k = e[:-1], 1.0 + moment + self._slopes
        weight = v[:-1] * anchor ** (1 + moment)
        lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
        shape = lo.shape
        sign = np.where(hi >= lo, 1.0, -1.0).ravel()
        a, b = np.minimum(lo, hi).ravel(), np.maximum(lo, hi).ravel()
        total = np.empty(a.size)
        step = max(1, _BLOCK // left.size)
        for first in range(0, a.size, step):  # blocks of bins, to bound memory; not one per bin
            aa, bb = a[first : first + step, None], b[first : first + step, None]
            c, d = np.maximum(aa, left), np.minimum(bb, right)
            inside = d > c
            c, d = np.where(inside, c, anchor), np.where(inside, d, anchor)
            part = weight * powerlaw_integral(c, d, anchor, k)
            total[first : first + step] = np.where(inside, part, 0.0).sum(axis=1)
        with np.errstate(invalid="ignore"):
            valid = np.isfinite(a) & np.isfinite(b) & (a > 0)
        total = np.where(valid, sign * total, np.nan)
        return total.reshape(shape)
