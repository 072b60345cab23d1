"""Spectral shapes evaluated for many parameter sets at once: one spectral type, arrays of parameters.

A catalog holds thousands of sources, each with its own spectral model; their reference fluxes in every
energy bin are computed here with numpy over all sources of a type at once (no Python loop over sources).
The model classes of :mod:`fluxds.models.cutoff` and :mod:`fluxds.models.powerlaw2` evaluate through
the same functions, so a source's model object and the catalog arrays agree to rounding.

Parameters are given as a mapping ``{name: array}``, the names of the model class (``index``,
``amplitude``, ``reference`` ...), all energy-like parameters in the unit of the energies, and broadcast
with the energies by numpy's rules: parameters of shape ``(n, 1)`` and energies of shape ``(m,)`` give
``(n, m)``. Integrals are closed forms where they exist and stable (power laws), otherwise the adaptive
Gauss-Legendre quadrature in ``ln E`` of :func:`fluxds.models._integrate.integrate_log_rows` (relative
accuracy 1e-11 or better).

Examples
--------
>>> import numpy as np
>>> params = {"index": np.array([[2.0], [3.0]]), "amplitude": np.array([[1.0], [1.0]]),
...           "reference": np.array([[1.0], [1.0]])}
>>> integral("PowerLaw", np.array([1.0, 10.0]), np.array([10.0, 100.0]), params, 0).round(6)
array([[0.9    , 0.09   ],
       [0.495  , 0.00495]])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from fluxds.errors import ModelError
from fluxds.models._integrate import integrate_log_rows, powerlaw_integral

__all__ = ["SHAPES", "dnde", "integral", "exprel2"]

# Gauss-Legendre rule on [-1, 1], the one fluxds.models._integrate uses
# Taylor coefficients of (e^y - 1 - y) / y^2 = sum y^n / (n + 2)!, n = 0 .. 8 (Horner, highest first)
_EXPREL2 = tuple(1.0 / math.factorial(n + 2) for n in range(8, -1, -1))


def exprel2(y) -> np.ndarray:
    """``(exp(y) - 1 - y) / y**2``, exact to a few ulp for every ``y`` (1/2 at ``y = 0``).

    Below ``|y| = 0.1`` the Taylor series to ``y**8`` (truncation below 1e-17 relative), above it
    ``(expm1(y) - y) / y**2`` (which loses at most 1.3 digits there).

    Parameters
    ----------
    y : array_like

    Returns
    -------
    numpy.ndarray
    """
    y = np.asarray(y, dtype=float)
    small = np.abs(y) < 0.1
    ys = np.where(small, y, 0.0)
    series = np.full(y.shape, _EXPREL2[0])
    for c in _EXPREL2[1:]:
        series = series * ys + c
    yl = np.where(small, 1.0, y)
    with np.errstate(over="ignore", invalid="ignore"):
        large = (np.expm1(yl) - yl) / (yl * yl)
    return np.where(small, series, large)


# ---- dN/dE of each shape (numpy broadcasting over energies and parameters) -----------------------------
def _powerlaw(e, index, amplitude, reference):
    return amplitude * np.power(e / reference, -index)


def _logparabola(e, amplitude, reference, alpha, beta):
    x = e / reference
    with np.errstate(divide="ignore", invalid="ignore"):
        return amplitude * np.power(x, -alpha - beta * np.log(x))


def _expcutoff_3fgl(e, index, amplitude, reference, ecut):
    return amplitude * np.power(e / reference, -index) * np.exp((reference - e) / ecut)


def _superexpcutoff_3fgl(e, amplitude, reference, ecut, index_1, index_2):
    with np.errstate(over="ignore"):
        cut = np.power(reference / ecut, index_2) - np.power(e / ecut, index_2)
    return amplitude * np.power(e / reference, -index_1) * np.exp(cut)


def _superexpcutoff_4fgl(e, amplitude, reference, expfactor, index_1, index_2, mev_per_unit=1.0):
    # a (E0^b - E^b) with E in MeV = -a (E0 [MeV])^b expm1(b ln(E/E0))
    x = e / reference
    with np.errstate(over="ignore", invalid="ignore"):
        factor = expfactor * np.power(reference * mev_per_unit, index_2)
        cut = -factor * np.expm1(index_2 * np.log(x))
        return amplitude * np.power(x, -index_1) * np.exp(np.where(factor == 0, 0.0, cut))


def _superexpcutoff_4fgl_dr3(e, amplitude, reference, expfactor, index_1, index_2):
    # (d/b - G) L + d/b^2 (1 - e^{bL}) = -G L - d L^2 exprel2(b L), L = ln(E/E0): no 0/0 at b = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_x = np.log(e / reference)
        curve = expfactor * log_x * log_x * exprel2(index_2 * log_x)
        exponent = -index_1 * log_x - np.where(expfactor == 0, 0.0, curve)
        return amplitude * np.exp(exponent)


def _powerlaw2(e, amplitude, index, emin, emax):
    norm = emax * powerlaw_integral(emin, emax, emax, 1.0 - index)
    return amplitude * np.power(e / emax, -index) / norm


# ---- closed-form integrals ∫ E^moment dN/dE dE -----------------------------------------------------------
def _powerlaw_integral(lo, hi, moment, index, amplitude, reference):
    return amplitude * reference ** (1 + moment) * powerlaw_integral(lo, hi, reference, 1.0 + moment - index)


def _powerlaw2_integral(lo, hi, moment, amplitude, index, emin, emax):
    top = powerlaw_integral(lo, hi, emax, 1.0 + moment - index)
    bottom = powerlaw_integral(emin, emax, emax, 1.0 - index)
    return amplitude * emax**moment * top / bottom


@dataclass(frozen=True)
class Shape:
    """One spectral type: its parameter names, ``dnde(energy, **params)`` and, where a stable closed form
    exists, ``integral(lo, hi, moment, **params)``; ``options`` are keyword-only extras with defaults
    (``mev_per_unit`` of the 4FGL DR1 shape)."""

    params: tuple[str, ...]
    dnde: Callable[..., np.ndarray]
    integral: Callable[..., np.ndarray] | None = None
    options: tuple[str, ...] = ()


#: The spectral types by fluxds type name (the ``type`` of the model classes).
SHAPES: dict[str, Shape] = {
    "PowerLaw": Shape(("index", "amplitude", "reference"), _powerlaw, _powerlaw_integral),
    "LogParabola": Shape(("amplitude", "reference", "alpha", "beta"), _logparabola),
    "ExpCutoffPowerLaw3FGL": Shape(("index", "amplitude", "reference", "ecut"), _expcutoff_3fgl),
    "SuperExpCutoffPowerLaw3FGL": Shape(
        ("amplitude", "reference", "ecut", "index_1", "index_2"), _superexpcutoff_3fgl
    ),
    "SuperExpCutoffPowerLaw4FGL": Shape(
        ("amplitude", "reference", "expfactor", "index_1", "index_2"),
        _superexpcutoff_4fgl,
        options=("mev_per_unit",),
    ),
    "SuperExpCutoffPowerLaw4FGLDR3": Shape(
        ("amplitude", "reference", "expfactor", "index_1", "index_2"), _superexpcutoff_4fgl_dr3
    ),
    "PowerLaw2": Shape(("amplitude", "index", "emin", "emax"), _powerlaw2, _powerlaw2_integral),
}


def _shape(type_name: str) -> Shape:
    shape = SHAPES.get(type_name)
    if shape is None:
        raise ModelError(f"no array evaluation for spectral type {type_name!r}; known: {', '.join(SHAPES)}")
    return shape


def _arguments(shape: Shape, type_name: str, params: Mapping[str, object]) -> dict[str, np.ndarray]:
    missing = [p for p in shape.params if p not in params]
    if missing:
        raise ModelError(f"{type_name}: missing parameter(s) {missing}; expected {', '.join(shape.params)}")
    names = shape.params + tuple(o for o in shape.options if o in params)
    return {name: np.asarray(params[name], dtype=float) for name in names}


def dnde(type_name: str, energy, params: Mapping[str, object]) -> np.ndarray:
    """dN/dE of spectral type ``type_name`` for arrays of parameters.

    Parameters
    ----------
    type_name : str
        A key of :data:`SHAPES`.
    energy : array_like
        Energies, in the unit of the energy-like parameters.
    params : mapping of str to array_like
        The parameters by name, broadcast with ``energy``.

    Returns
    -------
    numpy.ndarray
        In the unit of ``amplitude`` (for ``PowerLaw2``: ``amplitude`` per energy unit).
    """
    shape = _shape(type_name)
    return shape.dnde(np.asarray(energy, dtype=float), **_arguments(shape, type_name, params))


def integral(type_name: str, e_min, e_max, params: Mapping[str, object], moment: int) -> np.ndarray:
    """``∫ E**moment dN/dE dE`` over ``[e_min, e_max]`` for arrays of parameters.

    Parameters
    ----------
    type_name : str
        A key of :data:`SHAPES`.
    e_min, e_max : array_like
        Bin edges (positive, finite; others give NaN), broadcast with the parameters.
    params : mapping of str to array_like
        The parameters by name.
    moment : int
        0 for the photon flux, 1 for the energy flux.

    Returns
    -------
    numpy.ndarray
        The broadcast shape of edges and parameters; unit: that of ``dnde`` times energy**(1 + moment).
    """
    shape = _shape(type_name)
    args = _arguments(shape, type_name, params)
    lo = np.asarray(e_min, dtype=float)
    hi = np.asarray(e_max, dtype=float)
    if shape.integral is not None:
        with np.errstate(all="ignore"):
            good = np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (hi > 0)
            value = shape.integral(lo, hi, moment, **args)
        return np.where(good, value, np.nan)
    names = list(args)
    arrays = np.broadcast_arrays(lo, hi, *(args[n] for n in names))
    out_shape = arrays[0].shape
    flat = [np.ascontiguousarray(a).ravel() for a in arrays]
    values = dict(zip(names, flat[2:], strict=True))

    def func(energy: np.ndarray, rows: np.ndarray) -> np.ndarray:
        kw = {n: v[rows][:, None] for n, v in values.items()}
        return shape.dnde(energy, **kw) * energy**moment

    return integrate_log_rows(func, flat[0], flat[1]).reshape(out_shape)
