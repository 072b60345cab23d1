"""The castro-fit objective of many SEDs as numpy arrays, and its finite-difference derivatives.

Used by :func:`fluxds.profiles.castro_fit.fit_castro`; see that module for the method.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds.models import SpectralModel
from fluxds.profiles.castro import (
    MOMENTS,
    energy_edges,
    gauss_legendre_bins,
    profile_arrays,
    reference_of,
    units_of,
    valid_profiles,
)
from fluxds.profiles.interpolant import Interpolant

__all__ = ["Problem", "derivatives"]

# finite-difference steps in the scaled parameters (each parameter divided by its start value)
_GRAD_STEP = 1e-6
_HESS_STEP = 1e-4


class Problem:
    """The objective of every SED as numpy arrays: ``stat(theta)`` for ``theta`` of shape ``(n, p, ...)``."""

    def __init__(self, ds, model, names, start, weighting):
        norm_scan, stat_scan = profile_arrays(ds)
        ref = reference_of(ds, weighting)
        cells = [d for d in xr.broadcast(norm_scan, stat_scan)[1].dims if d not in ("energy", "scan")]
        cells += [d for d in ref.dims if d not in cells and d != "energy"]
        template = xr.broadcast(stat_scan.isel(scan=0, drop=True), ref)[0].transpose(*cells, "energy")
        self.cell_dims = tuple(cells)
        self.cell_coords = {d: template[d] for d in cells if d in template.coords}
        self.cell_shape = tuple(template.sizes[d] for d in cells)
        n_e = ds.sizes["energy"]
        shape3 = self.cell_shape + (n_e, ds.sizes["scan"])
        order = (*cells, "energy", "scan")
        self.norm_scan = np.broadcast_to(
            norm_scan.transpose(*[d for d in order if d in norm_scan.dims]).values.reshape(
                [ds.sizes[d] if d in norm_scan.dims else 1 for d in order]
            ),
            shape3,
        ).reshape(-1, n_e, shape3[-1])
        self.stat_scan = np.broadcast_to(
            stat_scan.transpose(*[d for d in order if d in stat_scan.dims]).values.reshape(
                [ds.sizes[d] if d in stat_scan.dims else 1 for d in order]
            ),
            shape3,
        ).reshape(-1, n_e, shape3[-1])
        ref_values = xr.broadcast(ref, template)[0].transpose(*cells, "energy").values.reshape(-1, n_e)
        self.valid = valid_profiles(self.norm_scan, self.stat_scan)  # padding (NaN in both) aside
        self.model, self.names, self.start, self.weighting = model, list(names), start, weighting
        self._energies(ds, ref, ref_values)

    def _energies(self, ds, ref, ref_values):
        ref_unit = units_of(ref, ref.name)
        if self.weighting == "dnde":
            e_unit = units_of(ds["energy"], "energy")
            self.energy = ds["energy"].values[:, None] * e_unit
            self.weight = np.ones((ds.sizes["energy"], 1))
            out_unit = u.dimensionless_unscaled
        else:
            lo, hi = energy_edges(ds)
            moment = MOMENTS[self.weighting]
            energy, self.weight = gauss_legendre_bins(lo.value, hi.to_value(lo.unit), moment=moment)
            self.energy = energy * lo.unit
            out_unit = lo.unit ** (1 + moment)
        self.out_unit, self.ref = out_unit, ref_values * ref_unit

    def interpolant(self, rows=slice(None)) -> Interpolant:
        """The profiles of the SEDs ``rows``, interpolated once (kept for the last ``rows`` asked)."""
        key = None if isinstance(rows, slice) and rows == slice(None) else np.asarray(rows).tobytes()
        if getattr(self, "_interp_key", ()) != key:
            if getattr(self, "_interp_all", None) is None:
                self._interp_all = Interpolant(self.norm_scan, self.stat_scan)
            self._interp = self._interp_all if key is None else self._interp_all.take(rows)
            self._interp_key = key
        return self._interp

    def dnde(self, params: Mapping[str, Any]) -> u.Quantity:
        """dN/dE at the quadrature nodes, parameters broadcasting as ``(..., 1, 1)``."""
        if isinstance(self.model, SpectralModel):
            clone = copy.copy(self.model)
            clone._params = dict(self.model._params)  # array values: models evaluate element-wise
            for name, value in params.items():
                unit = self.model._params[name][1]
                clone._params[name] = (u.Quantity(value, unit).to_value(unit), unit)
            return clone.dnde(self.energy)
        return u.Quantity(self.model(self.energy, **params))

    def norm_pred(self, theta: np.ndarray, scale: np.ndarray, rows=slice(None)) -> np.ndarray:
        """Predicted norms, ``theta`` of shape ``(n, p, k)`` -> ``(n, energy, k)``."""
        values = theta * scale[:, :, None]
        params = {}
        for j, name in enumerate(self.names):
            start = self.start[name]
            params[name] = values[:, j, :, None, None] * (start.unit if isinstance(start, u.Quantity) else 1)
        dnde = self.dnde(params)  # (n, k, energy, nodes)
        integral = np.sum(dnde.value * self.weight, axis=-1) * (dnde.unit * self.out_unit)
        pred = (integral / self.ref[rows][:, None, :]).to_value(u.dimensionless_unscaled)
        return np.moveaxis(pred, 1, -1)

    def stat(self, theta: np.ndarray, scale: np.ndarray, rows=slice(None)) -> np.ndarray:
        """The objective of each SED, ``(n, k)``, at ``k`` parameter sets per SED."""
        pred = self.norm_pred(theta, scale[rows], rows)
        value, _ = self.interpolant(rows)(pred, points=True)
        return np.where(self.valid[rows][..., None], value, 0.0).sum(axis=1)


def _stencil(p: int) -> np.ndarray:
    """Offsets ``(p, k)``: centre, ``±g e_j`` (gradient), ``±e_j`` and ``±e_j ± e_l`` (Hessian)."""
    eye = np.eye(p)
    cols = [np.zeros(p)]
    cols += [sign * _GRAD_STEP / _HESS_STEP * eye[j] for j in range(p) for sign in (1, -1)]
    cols += [sign * eye[j] for j in range(p) for sign in (1, -1)]
    for j in range(p):
        for m in range(j + 1, p):
            cols += [eye[j] + eye[m], eye[j] - eye[m], -eye[j] + eye[m], -eye[j] - eye[m]]
    return np.stack(cols, axis=1)


def derivatives(problem: Problem, theta: np.ndarray, scale: np.ndarray, rows=slice(None)):
    """Value ``(n,)``, gradient ``(n, p)`` and Hessian ``(n, p, p)`` per SED, by finite differences.

    One evaluation of all SEDs at all offsets of :func:`_stencil` (in the scaled parameters): central
    differences with a small step for the gradient (accurate optimum) and a larger one for the Hessian
    (little rounding noise).
    """
    n, p = theta.shape
    h = _HESS_STEP
    f = problem.stat(theta[:, :, None] + h * _stencil(p)[None], scale, rows)
    grad = (f[:, 1 : 2 * p + 1 : 2] - f[:, 2 : 2 * p + 2 : 2]) / (2 * _GRAD_STEP)
    plus, minus = f[:, 2 * p + 1 : 4 * p + 1 : 2], f[:, 2 * p + 2 : 4 * p + 2 : 2]
    hess = np.zeros((n, p, p))
    hess[:, np.arange(p), np.arange(p)] = (plus + minus - 2 * f[:, :1]) / h**2
    k = 4 * p + 1
    for j in range(p):
        for m in range(j + 1, p):
            pp, pm, mp, mm = f[:, k], f[:, k + 1], f[:, k + 2], f[:, k + 3]
            hess[:, j, m] = hess[:, m, j] = (pp - pm - mp + mm) / (4 * h * h)
            k += 4
    return f[:, 0], grad, hess
