"""Exact integrals of spectral shapes: power-law segments, Gaussians in ln E, adaptive quadrature.

All functions work on plain float arrays (energies already in the model's energy unit) and are
vectorised over bins: no Python loop runs over bins. The adaptive quadrature loops only over
subdivision rounds.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["log_ratio", "powerlaw_integral", "gauss_exp_integral", "integrate_log", "integrate_log_rows"]

# Gauss-Legendre rule on [-1, 1]; 20 nodes integrate smooth shapes over a decade of energy to
# ~1e-16.
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(20)
# A closed-form difference is trusted when it loses at most this factor to cancellation.
_MAX_CANCELLATION = 30.0


# scipy.special costs ~0.2 s to import: load it when a curved model is first integrated
def _special():
    import scipy.special

    return scipy.special


def exprel(x):
    return _special().exprel(x)


def erf(x):
    return _special().erf(x)


def erfcx(x):
    return _special().erfcx(x)


def log_ratio(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """``ln(hi / lo)``, accurate to a few ulp also when ``hi`` and ``lo`` are close (narrow bins).

    Parameters
    ----------
    hi, lo : array_like
        Positive numbers in the same unit (broadcast together).

    Returns
    -------
    numpy.ndarray
        Dimensionless logarithm of the ratio.
    """
    hi, lo = np.broadcast_arrays(np.asarray(hi, dtype=float), np.asarray(lo, dtype=float))
    with np.errstate(all="ignore"):
        ratio = hi / lo
        near = (ratio > 0.5) & (ratio < 2.0)
        # hi - lo is exact when the two are within a factor 2 (Sterbenz), so log1p keeps every digit
        return np.where(near, np.log1p((hi - lo) / lo), np.log(ratio))


def powerlaw_integral(lo, hi, anchor, k) -> np.ndarray:
    """``∫ exp(k t) dt`` from ``t = ln(lo/anchor)`` to ``ln(hi/anchor)``, with no cancellation.

    This is ``∫_lo^hi (E/anchor)^(k-1) dE / anchor``: the integral of a power law of index
    ``1 - k`` (times ``E^m`` when ``k = 1 + m - index``). It is written as
    ``exp(k t_start) * width * exprel(-|k width|)`` with the start chosen so that the argument of
    ``exprel`` is never positive, which is exact also for ``k == 0`` (the ``ln`` case) and stable
    near it.

    Parameters
    ----------
    lo, hi : array_like
        Bin edges (same unit as ``anchor``); ``hi < lo`` gives the negative integral.
    anchor : array_like
        Energy at which the power law is 1 (the reference energy), same unit.
    k : array_like
        ``1 + m - index``, dimensionless.

    Returns
    -------
    numpy.ndarray
        The integral in units of ``anchor`` (multiply by ``anchor**(1 + m)`` for energy units).
    """
    arrays = (np.asarray(x, dtype=float) for x in (lo, hi, anchor, k))
    lo, hi, anchor, k = np.broadcast_arrays(*arrays)
    width = log_ratio(hi, lo)
    with np.errstate(all="ignore"):
        kw = k * width
        start = np.where(kw <= 0, k * np.log(lo / anchor), k * np.log(hi / anchor))
        return np.exp(start) * width * exprel(-np.abs(kw))


def gauss_exp_integral(u1, u2, beta: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """``∫_{u1}^{u2} exp(-beta u² + k u) du`` for ``beta > 0`` in closed form, and where exact.

    With ``z = (2 beta u - k) / (2 sqrt(beta))`` the integral is
    ``sqrt(pi/beta)/2 * exp(k²/(4 beta)) * (erf(z2) - erf(z1))``. The difference of ``erf`` is never
    formed where it cancels: on one side of the peak it is written with the scaled complementary
    error function (``exp(g(u)) * erfcx(|z|)``, which also avoids overflow of ``exp(k²/4beta)``),
    across the peak as the sum ``erf(z2) + erf(-z1)``.

    Parameters
    ----------
    u1, u2 : array_like
        Limits in ``u = ln(E/E0)`` (dimensionless).
    beta : float
        Curvature, > 0.
    k : float
        Linear coefficient (dimensionless).

    Returns
    -------
    value : numpy.ndarray
        The integral (dimensionless).
    ok : numpy.ndarray of bool
        False where the closed form would lose more than ~1e-14 relative (narrow bins, tiny
        ``beta``); the caller computes those bins by quadrature.
    """
    u1, u2 = np.broadcast_arrays(np.asarray(u1, dtype=float), np.asarray(u2, dtype=float))
    sign = np.where(u2 >= u1, 1.0, -1.0)
    a, b = np.minimum(u1, u2), np.maximum(u1, u2)
    root = math.sqrt(beta)
    scale = 0.5 * math.sqrt(math.pi / beta)
    with np.errstate(all="ignore"):
        za = (2.0 * beta * a - k) / (2.0 * root)
        zb = (2.0 * beta * b - k) / (2.0 * root)
        above = za >= 0  # whole bin above the peak of the Gaussian
        across = (za < 0) & (zb > 0)
        ta = np.exp(-beta * a * a + k * a) * erfcx(np.abs(za))
        tb = np.exp(-beta * b * b + k * b) * erfcx(np.abs(zb))
        diff = np.where(above, ta - tb, tb - ta)
        middle = math.exp(min(k * k / (4.0 * beta), 700.0)) * (erf(zb) + erf(-za))
        value = scale * np.where(across, middle, diff)
        big = np.maximum(ta, tb)
        ok_side = ~across & (big <= _MAX_CANCELLATION * np.abs(diff))
        ok_across = across & (zb - za >= 1e-3) & (k * k / (4.0 * beta) < 700.0)
        ok = (ok_side | ok_across) & np.isfinite(value)
    return sign * value, ok


def _gauss(func: Callable[[np.ndarray, np.ndarray], np.ndarray], rows, start, width) -> np.ndarray:
    """Gauss-Legendre estimate of ``∫ func(E, rows) E dt`` over ``t`` in ``[start, start + width]``."""
    t = start[:, None] + (0.5 * width)[:, None] * (1.0 + _NODES)
    energy = np.exp(t)
    return 0.5 * width * ((func(energy, rows) * energy) @ _WEIGHTS)


def integrate_log(
    func: Callable[[np.ndarray], np.ndarray],
    lo,
    hi,
    *,
    rtol: float = 1e-11,
    max_rounds: int = 60,
) -> np.ndarray:
    """``∫_lo^hi func(E) dE`` for all bins at once, by adaptive Gauss-Legendre quadrature in ln E.

    One integrand for every bin: :func:`integrate_log_rows` (which says how) with ``func`` ignoring the
    rows.

    Parameters
    ----------
    func : callable
        Vectorised integrand; takes energies (any array shape, model energy unit), returns floats.
    lo, hi : array_like
        Bin edges, positive and finite (broadcast together), in the model energy unit. Bins with
        non-positive or non-finite edges give NaN; ``hi < lo`` gives the negative integral.
    rtol : float
        Relative tolerance of the accepted estimate.
    max_rounds : int
        Largest number of subdivision rounds.

    Returns
    -------
    numpy.ndarray
        The integrals, shape of the broadcast edges, in ``func`` units times energy units.
    """
    lo, hi = np.broadcast_arrays(np.asarray(lo, dtype=float), np.asarray(hi, dtype=float))
    values = integrate_log_rows(lambda energy, rows: func(energy), lo, hi, rtol=rtol, max_rounds=max_rounds)
    return values.reshape(lo.shape)


def integrate_log_rows(
    func: Callable[[np.ndarray, np.ndarray], np.ndarray],
    lo,
    hi,
    *,
    rtol: float = 1e-11,
    max_rounds: int = 60,
) -> np.ndarray:
    """``∫_lo^hi func(E) dE`` for many bins at once, each bin with its own integrand if need be.

    Adaptive Gauss-Legendre quadrature in ``ln E``: each bin is first integrated with one 20-node rule
    and with the rule on its two halves. Intervals whose two estimates agree to ``rtol`` (relative to the
    interval, or to its share of the whole bin) keep the finer estimate; the others are split in two for
    the next round. All intervals of all bins are handled together in each round; the number of rounds
    is bounded by ``max_rounds`` (a ``RuntimeWarning`` is issued if some interval has not converged by
    then). ``func(E, rows)`` is told which bin each row of ``E`` belongs to (``rows`` indexes the flat
    ``lo``/``hi``), so that it can take each bin's parameters.

    Parameters
    ----------
    func : callable
        ``func(energy, rows)``: ``energy`` of shape ``(k, 20)`` (model energy unit), ``rows`` of shape
        ``(k,)``; returns the integrand, shape ``(k, 20)``.
    lo, hi : array_like
        Bin edges (raveled), positive and finite; others give NaN; ``hi < lo`` gives the negative
        integral.
    rtol : float
        Relative tolerance of the accepted estimate.
    max_rounds : int
        Largest number of subdivision rounds.

    Returns
    -------
    numpy.ndarray
        The integrals, 1-D (the raveled edges), in ``func`` units times energy units.
    """
    lo = np.asarray(lo, dtype=float).ravel()
    hi = np.asarray(hi, dtype=float).ravel()
    total = np.full(lo.size, np.nan)
    with np.errstate(all="ignore"):
        good = np.isfinite(lo) & np.isfinite(hi) & (lo > 0) & (hi > 0)
    owner = np.flatnonzero(good)
    total[owner] = 0.0
    start = np.log(lo[owner])
    width = log_ratio(hi[owner], lo[owner])
    with np.errstate(all="ignore"):
        whole = _gauss(func, owner, start, width)
        scale = np.abs(whole)  # size of each bin's integral, for intervals where the integrand is tiny
        share = np.ones(owner.size)
        for _ in range(max_rounds):
            if owner.size == 0:
                break
            half = 0.5 * width
            left = _gauss(func, owner, start, half)
            right = _gauss(func, owner, start + half, half)
            halves = left + right
            done = ~(np.abs(halves - whole) > rtol * np.maximum(np.abs(halves), scale * share))  # NaN: stop
            np.add.at(total, owner[done], halves[done])
            todo = ~done
            owner = np.concatenate([owner[todo], owner[todo]])
            start = np.concatenate([start[todo], start[todo] + half[todo]])
            width = np.concatenate([half[todo], half[todo]])
            whole = np.concatenate([left[todo], right[todo]])
            scale = np.concatenate([scale[todo], scale[todo]])
            share = np.concatenate([0.5 * share[todo], 0.5 * share[todo]])
    if owner.size:
        warnings.warn(
            f"adaptive quadrature did not reach rtol={rtol} in {max_rounds} rounds for "
            f"{np.unique(owner).size} bin(s); their result is the best estimate",
            RuntimeWarning,
            stacklevel=3,
        )
        np.add.at(total, owner, whole)
    return total
