"""Limits and errors of profiles whose minimum lies outside the scan, measured from the stored minimum.

A fit can find its best norm outside the scanned range: gammapy scans norms 0.2-5 around the best fit,
and a bin with few or no counts has its best fit at a norm near or below zero. The scan then only shows
the profile still falling at its lower end; its minimum within the scan is that end, not the best fit.
Limits measured from that end come out too high (the rise is counted from a level above the true
minimum). Where the file stores the best fit (``norm``, ``stat``), this module measures from it.

**Which bins.** A bin whose stored ``norm`` lies outside its scan (below the first or above the last
scan point) and whose stored ``stat`` lies below the interpolated profile's minimum within the scan.
Everything else keeps the interpolated minimum (where the two agree to rounding).

**Between the stored minimum and the scan** (and beyond the minimum, away from the scan) the profile is
taken as the parabola with its vertex at the stored minimum ``(norm, stat)`` through the nearest scan
end ``(e, y_e)``: ``stat + (y_e - stat) * ((x - norm) / (e - norm))**2``. A crossing beyond that scan end
is found on the interpolant as usual.

**Status.** Every result of such a bin is measured from a minimum outside the scan, so none is
``inside_scan``: it is ``extrapolated_below_scan`` (1) where the stored minimum lies below the scan and
``extrapolated_above_scan`` (2) where it lies above, unless the crossing itself lies beyond the other
end of the scan (then that end's code) or none exists (3).
"""

from __future__ import annotations

import numpy as np

from fluxds.profiles._pieces import ABOVE, BELOW, INSIDE, NO_RESULT, build
from fluxds.profiles.interp import profile_crossing, profile_minimum

__all__ = ["outside_side", "correct_summary", "correct_upper_limit"]


def outside_side(
    norm_scan: np.ndarray, stat_scan: np.ndarray, norm, stat, stencil: int, clean: bool = False
) -> np.ndarray:
    """Per bin: ``BELOW``/``ABOVE`` where the stored minimum lies below/above the scan, else ``INSIDE``.

    Parameters
    ----------
    norm_scan, stat_scan : ndarray, (..., scan)
        The profiles (dimensionless norm; -2 log L).
    norm, stat : array_like, broadcastable to (...)
        The stored best fit (NaN: not stored).
    stencil : int
        Interpolation stencil.
    clean : bool
        Whether every point is finite and the norms increase along the scan (then the scan range is
        its first and last point; the result is the same).

    Returns
    -------
    ndarray of int8, (...)
    """
    lead = stat_scan.shape[:-1]
    norm = np.broadcast_to(np.asarray(norm, dtype=float), lead)
    stat = np.broadcast_to(np.asarray(stat, dtype=float), lead)
    side = np.zeros(lead, dtype=np.int8)
    stored = np.isfinite(norm) & np.isfinite(stat)
    if not stored.any():  # no best fit stored (e.g. a file without ``stat``): nothing to measure from
        return side
    with np.errstate(invalid="ignore"):
        if clean:
            lo, hi, low = norm_scan[..., 0], norm_scan[..., -1], np.min(stat_scan, axis=-1)
        else:
            valid = np.isfinite(norm_scan) & np.isfinite(stat_scan)
            lo = np.min(np.where(valid, norm_scan, np.inf), axis=-1)
            hi = np.max(np.where(valid, norm_scan, -np.inf), axis=-1)
            low = np.min(np.where(valid, stat_scan, np.inf), axis=-1)
        # cheap pre-selection (the interpolant's minimum is at most the smallest scan value)
        candidate = stored & ((norm < lo) | (norm > hi)) & (stat < low)
    if not candidate.any():
        return side
    _, stat_min = profile_minimum(norm_scan[candidate], stat_scan[candidate], stencil=stencil)
    ok = stat[candidate] < stat_min  # False where there is no minimum (NaN: fewer than two points)
    side[candidate] = np.where(ok, np.where(norm[candidate] < lo[candidate], BELOW, ABOVE), INSIDE)
    return side


def _frame(norm_scan, stat_scan, side, norm, stencil):
    """Pieces mirrored (norm -> -norm) where the minimum is above the scan: the scan then lies above it."""
    sign = np.where(side == BELOW, 1.0, -1.0)
    ns = sign[:, None] * norm_scan
    return build(ns, stat_scan, stencil), ns, sign, sign * norm


def _parabola_offset(p, m, sm, level):
    """``|x - m|`` where the vertex parabola through the scan end reaches ``level``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (p.s_lo - m) * np.sqrt((level - sm) / (p.y_lo - sm))


def _near(p, ns, ss, m, sm, level, start, stencil):
    """Crossing of ``level`` from ``start`` (between ``m`` and the scan) towards and into the scan."""
    x_par = m + _parabola_offset(p, m, sm, level)
    x_in, st_in = profile_crossing(ns, ss, level, "upper", start=np.maximum(start, p.s_lo), stencil=stencil)
    use_par = level <= p.y_lo
    x = np.where(use_par, x_par, x_in)
    status = np.where(use_par | (st_in == INSIDE), BELOW, st_in)
    return x, status


def _back(x, status, sign):
    """From the mirrored frame to the original: norms and below/above swapped where mirrored."""
    swapped = np.where(status == BELOW, ABOVE, np.where(status == ABOVE, BELOW, status))
    status = np.where(sign < 0, swapped, status)
    bad = ~np.isfinite(x)
    return np.where(bad, np.nan, sign * x), np.where(bad, NO_RESULT, status).astype(np.int8)


def _upper_limit_rows(ns, ss, side, m0, sm, n_sigma_ul, reference, stencil):
    """``(norm_ul, status)`` of rows with the minimum outside the scan (original frame)."""
    p, ns, sign, m = _frame(ns, ss, side, m0, stencil)
    start0 = m0 if reference == "minimum" else np.maximum(m0, 0.0)  # original frame
    start = sign * start0
    # the vertex parabola at start (start lies between the minimum and the scan, or beyond the minimum)
    with np.errstate(invalid="ignore", divide="ignore"):
        f_start = sm + (p.y_lo - sm) * ((start - m) / (p.s_lo - m)) ** 2
    level = sm + float(n_sigma_ul) ** 2 + (f_start - sm if reference == "zero" else 0.0)
    # an upper limit lies above start0: towards the scan where the minimum is below it (near side),
    # away from it where the minimum is above the scan (far side: the vertex parabola alone)
    x_near, st_near = _near(p, ns, ss, m, sm, level, start, stencil)
    x_far = m - _parabola_offset(p, m, sm, level)
    x = np.where(side == BELOW, x_near, x_far)
    status = np.where(side == BELOW, st_near, BELOW)
    return _back(x, status, sign)


def correct_upper_limit(
    norm_scan, stat_scan, norm, stat, ul, status, n_sigma_ul, reference, stencil, clean: bool = False
):
    """``(norm_ul, status)`` with the bins whose stored minimum lies outside the scan measured from it.

    ``ul``, ``status`` are the limits measured from the interpolated minimum (returned as they are
    elsewhere). With ``reference="zero"`` a bin whose scan reaches down to zero norm keeps its limit
    (it is measured from the profile at zero, inside the scan). ``clean``: see :func:`outside_side`.
    """
    norm_scan, stat_scan = np.broadcast_arrays(np.asarray(norm_scan, float), np.asarray(stat_scan, float))
    side = outside_side(norm_scan, stat_scan, norm, stat, stencil, clean)
    lead = side.shape
    if not side.any():
        return ul, status
    if reference == "zero":
        with np.errstate(invalid="ignore"):
            lo = np.min(np.where(np.isfinite(norm_scan), norm_scan, np.inf), axis=-1)
        side = np.where((side == BELOW) & (lo <= 0.0), INSIDE, side).astype(np.int8)
    rows = side != INSIDE
    if not rows.any():
        return ul, status
    m0 = np.broadcast_to(np.asarray(norm, float), lead)[rows]
    sm = np.broadcast_to(np.asarray(stat, float), lead)[rows]
    x, st = _upper_limit_rows(norm_scan[rows], stat_scan[rows], side[rows], m0, sm, n_sigma_ul, reference,
                              stencil)  # fmt: skip
    ul, status = np.array(ul, dtype=float, copy=True), np.array(status, dtype=np.int8, copy=True)
    ul[rows], status[rows] = x, st
    return ul, status


def correct_summary(norm_scan, stat_scan, norm, stat, summary: dict, n_sigma, n_sigma_ul, reference, stencil):
    """``summary`` (of :func:`fluxds.profiles.limits.profile_summary`) with the bins whose stored minimum
    lies outside the scan measured from it: ``norm``/``stat`` the stored ones, errors and limit from them.
    """
    norm_scan, stat_scan = np.broadcast_arrays(np.asarray(norm_scan, float), np.asarray(stat_scan, float))
    side = outside_side(norm_scan, stat_scan, norm, stat, stencil)
    rows = side != INSIDE
    if not rows.any():
        return summary
    lead = side.shape
    m0 = np.broadcast_to(np.asarray(norm, float), lead)[rows]
    sm = np.broadcast_to(np.asarray(stat, float), lead)[rows]
    ns, ss, sd = norm_scan[rows], stat_scan[rows], side[rows]
    p, ns_frame, sign, m = _frame(ns, ss, sd, m0, stencil)
    level = sm + float(n_sigma) ** 2
    # in the frame where the scan lies above the minimum: "near" is towards the scan, "far" away from it
    x_near, st_near = _back(*_near(p, ns_frame, ss, m, sm, level, m, stencil), sign)
    x_far, st_far = _back(m - _parabola_offset(p, m, sm, level), np.full(m.shape, BELOW), sign)
    below = sd == BELOW
    up, st_up = np.where(below, x_near, x_far), np.where(below, st_near, st_far)
    lo, st_lo = np.where(below, x_far, x_near), np.where(below, st_far, st_near)
    out = {k: np.array(v, copy=True) for k, v in summary.items()}
    out["norm"][rows], out["stat"][rows] = m0, sm
    out["norm_errp"][rows], out["norm_errn"][rows] = up - m0, m0 - lo
    out["norm_errp_status"][rows], out["norm_errn_status"][rows] = st_up, st_lo
    ul, st_ul = correct_upper_limit(
        ns, ss, m0, sm, out["norm_ul"][rows], out["norm_ul_status"][rows], n_sigma_ul, reference, stencil
    )
    out["norm_ul"][rows], out["norm_ul_status"][rows] = ul, st_ul
    return out
