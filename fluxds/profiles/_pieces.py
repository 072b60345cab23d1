"""The piecewise-cubic form of a likelihood profile, built once and shared by every profile function.

A profile is given as ``norm_scan``/``stat_scan`` of shape ``(..., scan)``, each bin with its own grid,
NaN-padded, in any order. :func:`build` sorts each bin's valid points and writes the interpolant (see
:mod:`fluxds.profiles.interp`) as one cubic per interval in the local variable ``t = x - s_i``::

    f(t) = c0 + c1 t + c2 t**2 + c3 t**3,   c0 = y_i,  c1 = d_i,
    c2 = (3 m - 2 d_i - d_{i+1}) / h,       c3 = (d_i + d_{i+1} - 2 m) / h**2

(cubic Hermite form) with ``h = s_{i+1} - s_i``, ``m`` the chord slope and ``d_i`` the node slopes of
:func:`node_slopes`. Beyond the scan each end continues with the parabola of the interpolant's end value,
slope and curvature if that curvature is positive, else with the straight line of the end slope.

The kernels on that form (value at one norm per bin, monotone pieces, minimum, level crossings) live
here too, so that every profile module uses the same ones; :mod:`fluxds.profiles.interp` is their public
face on ``norm_scan``/``stat_scan`` arrays.

Everything here is numpy on whole arrays: no loop over bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Pieces",
    "build",
    "cubic",
    "cubic_slope",
    "evaluate_pieces",
    "evaluate_per_bin",
    "larger_root",
    "monotone_pieces",
    "node_slopes",
    "pieces_minimum",
    "take",
    "upper_crossing",
]

INSIDE, BELOW, ABOVE, NO_RESULT = 0, 1, 2, 3
# Up to this many scan points, the interval holding a query is counted with one comparison per scan point
# into an int8 accumulator (fast: long inner loops); beyond, with one (..., K) comparison array.
_COUNT_LOOP_MAX = 100
#: Queries per block of :func:`evaluate_pieces` (its temporaries then fit a core's L2 cache).
BLOCK_QUERIES = 16_384


@dataclass
class Pieces:
    """A batch of profiles in piecewise-cubic form (all arrays ``(..., ·)``, leading dims shared).

    Attributes
    ----------
    s, y : ndarray, (..., K)
        Sorted valid scan points, NaN-padded at the end.
    n : ndarray of int, (...)
        Number of valid points per bin.
    coef : ndarray, (4, ..., K - 1)
        ``c0..c3`` of each interval in ``t = x - s_i`` (NaN for intervals past the valid points).
    h : ndarray, (..., K - 1)
        Interval widths.
    lo_slope, lo_curv, hi_slope, hi_curv : ndarray, (...)
        Slope and curvature (``a`` in ``a t**2``, 0 when the end parabola does not open upward) of the
        extrapolation below ``s_0`` and above ``s_{n-1}``.
    s_lo, y_lo, s_hi, y_hi : ndarray, (...)
        The first and last valid point of each bin.
    """

    s: np.ndarray
    y: np.ndarray
    n: np.ndarray
    coef: np.ndarray
    h: np.ndarray
    lo_slope: np.ndarray
    lo_curv: np.ndarray
    hi_slope: np.ndarray
    hi_curv: np.ndarray
    s_lo: np.ndarray
    y_lo: np.ndarray
    s_hi: np.ndarray
    y_hi: np.ndarray


def take(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[..., idx]`` along the last axis with ``idx`` of the same leading dims (indices clipped)."""
    idx = np.clip(idx, 0, a.shape[-1] - 1)
    return np.take_along_axis(a, idx, axis=-1)


def cubic(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    """``c0 + c1 t + c2 t**2 + c3 t**3`` (Horner), ``coef`` of shape ``(4, ...)``."""
    return coef[0] + t * (coef[1] + t * (coef[2] + t * coef[3]))


def cubic_slope(coef: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Derivative of :func:`cubic` with respect to ``t``."""
    return coef[1] + t * (2.0 * coef[2] + t * 3.0 * coef[3])


def node_slopes(s: np.ndarray, y: np.ndarray, n: np.ndarray, stencil: int) -> np.ndarray:
    """Slope at every node: derivative of the polynomial through ``stencil`` neighbouring points.

    The stencil is centred on the node where it can be and shifted inwards at the ends of the valid
    points; bins with fewer valid points use all of them. The polynomial is taken in Newton form with
    the node first, ``p(x) = sum_k a_k prod_{m<k} (x - z_m)`` with ``z_0 = x_i``, so that
    ``p'(x_i) = sum_{k>=1} a_k prod_{1<=m<k} (x_i - z_m)``; the divided differences ``a_k`` take one
    array operation per stencil level. Loops run over the stencil (a handful of points), never over bins.
    """
    k = s.shape[-1]
    w = min(stencil, k)
    node = np.arange(k)
    m = np.minimum(n, w)[..., None, None]  # points actually used per bin
    full = bool((n == k).all())  # the usual case: one stencil table for every bin
    n_eff = np.asarray(k) if full else n
    first = np.clip(node - w // 2, 0, np.maximum(n_eff[..., None] - w, 0))  # (..., K)
    offset = node - first  # position of the node in its stencil
    j = np.arange(w - 1)
    others = first[..., None] + j + (j >= offset[..., None])  # the stencil without the node, (..., K, w-1)
    idx = np.concatenate([np.broadcast_to(node, first.shape)[..., None], others], axis=-1)
    if full:
        z, dd = s[..., idx], y[..., idx]
    else:
        flat = idx.reshape(idx.shape[:-2] + (-1,))
        z = take(s, flat).reshape(idx.shape)
        dd = take(y, flat).reshape(idx.shape)
    a = [dd[..., 0]]
    with np.errstate(invalid="ignore", divide="ignore"):
        for level in range(1, w):
            dd = (dd[..., 1:] - dd[..., :-1]) / (z[..., level:] - z[..., :-level])
            a.append(dd[..., 0])
        coef = np.stack(a[1:], axis=-1)  # a_1 .. a_{w-1}
        factors = np.concatenate([np.ones(z.shape[:-1] + (1,)), s[..., None] - z[..., 1:-1]], axis=-1)
        terms = coef * np.cumprod(factors, axis=-1)
    used = np.arange(1, w) < m  # a_k needs k + 1 valid points
    slope = np.where(used, terms, 0.0).sum(axis=-1)
    return np.where(np.isfinite(s) & (n[..., None] >= 2), slope, np.nan)


def build(norm_scan, stat_scan, stencil: int = 5) -> Pieces:
    """Sort, clean and convert profiles to the piecewise-cubic form.

    Parameters
    ----------
    norm_scan, stat_scan : array_like, (..., scan)
        The scanned norms and the statistic (-2 log L) there; NaN in either marks a missing point.
    stencil : int
        Number of points whose interpolating polynomial gives the slope at each node (5: fourth-order
        accurate; 3: the C1 blend of local parabolas).

    Returns
    -------
    Pieces
    """
    x = np.asarray(norm_scan, dtype=float)
    y = np.asarray(stat_scan, dtype=float)
    x, y = np.broadcast_arrays(x, y)
    valid = np.isfinite(x) & np.isfinite(y)
    if valid.all() and (np.diff(x, axis=-1) > 0).all():  # the usual case: nothing to sort or pad
        s = x
    else:
        order = np.argsort(np.where(valid, x, np.inf), axis=-1, kind="stable")
        s = np.where(np.take_along_axis(valid, order, -1), np.take_along_axis(x, order, -1), np.nan)
        y = np.where(np.isfinite(s), np.take_along_axis(y, order, -1), np.nan)
        repeated = np.zeros(s.shape, dtype=bool)
        repeated[..., 1:] = s[..., 1:] == s[..., :-1]  # a norm scanned twice: keep its first value
        if repeated.any():
            order = np.argsort(np.where(repeated, np.inf, np.where(np.isfinite(s), s, np.inf)), axis=-1)
            keep = np.take_along_axis(~repeated & np.isfinite(s), order, -1)
            s = np.where(keep, np.take_along_axis(s, order, -1), np.nan)
            y = np.where(keep, np.take_along_axis(y, order, -1), np.nan)
    n = np.isfinite(s).sum(axis=-1)
    k = s.shape[-1]
    if k < 2:  # no interval at all: pad to two (NaN) points so shapes stay regular
        pad = [(0, 0)] * (s.ndim - 1) + [(0, 2 - k)]
        s = np.pad(s, pad, constant_values=np.nan)
        y = np.pad(y, pad, constant_values=np.nan)

    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.diff(s, axis=-1)  # NaN past the valid points
        m = np.diff(y, axis=-1) / h
        d = node_slopes(s, y, n, stencil)
        # cubic Hermite on [s_i, s_i+1] with end slopes d_i, d_i+1, in t = x - s_i
        coef = np.stack(
            [
                y[..., :-1],
                d[..., :-1],
                (3.0 * m - 2.0 * d[..., :-1] - d[..., 1:]) / h,
                (d[..., :-1] + d[..., 1:] - 2.0 * m) / (h * h),
            ]
        )

    last = np.maximum(n - 2, 0)[..., None]
    first_coef = coef[..., 0]
    last_coef = np.stack([take(c, last)[..., 0] for c in coef])
    h_last = take(h, last)[..., 0]
    lo_curv = first_coef[2]  # half the second derivative at the ends
    hi_curv = last_coef[2] + 3.0 * last_coef[3] * h_last
    s_hi = take(s, np.maximum(n - 1, 0)[..., None])[..., 0]
    y_hi = take(y, np.maximum(n - 1, 0)[..., None])[..., 0]
    return Pieces(
        s=s,
        y=y,
        n=n,
        coef=coef,
        h=h,
        lo_slope=first_coef[1],
        lo_curv=np.where(lo_curv > 0, lo_curv, 0.0),
        hi_slope=cubic_slope(last_coef, h_last),
        hi_curv=np.where(hi_curv > 0, hi_curv, 0.0),
        s_lo=s[..., 0],
        y_lo=y[..., 0],
        s_hi=s_hi,
        y_hi=y_hi,
    )


def _interval_of(s: np.ndarray, x: np.ndarray, expand) -> np.ndarray:
    """Number of scan points ``s`` (NaN never counts) at or below ``x``, one per query."""
    k = s.shape[-1]
    if k > _COUNT_LOOP_MAX:
        # scan points first, so that ``expand`` (written for one point per bin, ``s[..., j]``) places the
        # leading dims of ``s`` against ``x`` exactly as the loop below does: (K, ...) <= x, summed over K
        return (expand(np.moveaxis(s, -1, 0)) <= x).sum(axis=0)
    count = np.zeros(x.shape, dtype=np.int8)
    below = np.empty(x.shape, dtype=bool)
    for j in range(k):  # over the scan points of one bin (vectorised over all bins and queries)
        np.less_equal(expand(s[..., j]), x, out=below)
        count += below.view(np.int8)
    return count


def _sliced(p: Pieces, rows: slice) -> Pieces:
    """The pieces of leading rows ``rows`` (views; a leading dim of length 1 broadcasts and is kept)."""
    if p.n.shape[0] == 1:
        return p
    return Pieces(**{k: (v[:, rows] if k == "coef" else v[rows]) for k, v in vars(p).items()})


def evaluate_pieces(p: Pieces, norm: np.ndarray, points: bool) -> tuple[np.ndarray, np.ndarray]:
    """The interpolant of ``p`` and the status code at ``norm`` (see :func:`interp.evaluate_profile`).

    ``norm`` broadcasts against the leading dims of ``p`` (``points=False``: one norm per bin) or, with
    ``points=True``, its last axis holds query points and the rest broadcasts against the leading dims.
    Each query gathers its interval's four coefficients by flat index (no broadcast copies of ``p``).
    Many queries are evaluated in blocks along the first dim, so that the temporaries of a block stay in
    the CPU cache (the numbers do not depend on it).
    """
    lead = p.n.shape
    shape = np.broadcast_shapes(lead + (1,) if points else lead, norm.shape)
    size = int(np.prod(shape))
    if size > 2 * BLOCK_QUERIES and len(shape) > 1 and shape[0] > 1:
        pad = len(shape) - (len(lead) + points)
        p = Pieces(**{k: v.reshape((v.shape[0],) * (k == "coef") + (1,) * pad + v.shape[k == "coef" :])
                      for k, v in vars(p).items()})  # fmt: skip
        norm = norm.reshape((1,) * (len(shape) - norm.ndim) + norm.shape)
        step = max(1, shape[0] * BLOCK_QUERIES // size)
        value, status = np.empty(shape), np.empty(shape, dtype=np.int8)
        for i in range(0, shape[0], step):  # over blocks of the first dim (cache blocking), a handful
            rows = slice(i, i + step)
            block = norm[rows] if norm.shape[0] > 1 else norm
            value[rows], status[rows] = _evaluate_block(_sliced(p, rows), block, points)
        return value, status
    return _evaluate_block(p, norm, points)


def _evaluate_block(p: Pieces, norm: np.ndarray, points: bool) -> tuple[np.ndarray, np.ndarray]:
    lead = p.n.shape
    if points:
        shape = np.broadcast_shapes(lead + (1,), norm.shape)

        def expand(a):
            return a[..., None]
    else:
        shape = np.broadcast_shapes(lead, norm.shape)

        def expand(a):
            return a

    x = np.broadcast_to(norm, shape)
    k = p.s.shape[-1]
    rows = expand(np.arange(p.n.size).reshape(lead))
    idx = _interval_of(p.s, x, expand).astype(np.intp) - 1
    idx = np.clip(idx, 0, expand(np.maximum(p.n - 2, 0)))
    flat = rows * (k - 1) + idx
    t = x - np.take(np.ascontiguousarray(p.s).reshape(-1), rows * k + idx)
    c0, c1, c2, c3 = (np.take(np.ascontiguousarray(c).reshape(-1), flat) for c in p.coef)
    s_lo, s_hi, n = expand(p.s_lo), expand(p.s_hi), expand(p.n)
    with np.errstate(invalid="ignore", over="ignore"):
        inside = c0 + t * (c1 + t * (c2 + t * c3))  # cubic(), same operation order
        u_lo, u_hi = x - s_lo, x - s_hi
        below = expand(p.y_lo) + u_lo * (expand(p.lo_slope) + u_lo * expand(p.lo_curv))
        above = expand(p.y_hi) + u_hi * (expand(p.hi_slope) + u_hi * expand(p.hi_curv))
        is_below, is_above = x < s_lo, x > s_hi
    value = np.where(is_below, below, np.where(is_above, above, inside))
    value = np.where(n >= 2, value, np.nan)
    status = np.where(is_above, ABOVE, np.where(is_below, BELOW, INSIDE)).astype(np.int8)
    status[~np.isfinite(x) | (n < 2)] = NO_RESULT
    return value, status


# --- minimum and level crossings on the piecewise form (the kernels of fluxds.profiles.interp) ---

_NEWTON_STEPS = 60


def evaluate_per_bin(p: Pieces, x: np.ndarray) -> np.ndarray:
    """The interpolant of every bin of ``p`` at one norm per bin.

    Parameters
    ----------
    p : Pieces
        Profiles in piecewise-cubic form, leading dims ``(...)``.
    x : numpy.ndarray
        One norm per bin, broadcastable to the leading dims of ``p``.

    Returns
    -------
    numpy.ndarray
        The interpolated statistic, shape of the broadcast leading dims (NaN where a bin has fewer than
        two valid points). The status codes of :func:`evaluate_pieces` are dropped.
    """
    return evaluate_pieces(p, x, points=False)[0]


def monotone_pieces(p: Pieces) -> tuple[np.ndarray, np.ndarray]:
    """Split every interval at the zeros of its derivative (closed form) into monotone pieces.

    Parameters
    ----------
    p : Pieces
        Profiles in piecewise-cubic form, leading dims ``(...)``, ``K`` scan points.

    Returns
    -------
    t : numpy.ndarray, (..., K - 1, 4)
        Piece boundaries ``0, ra, rb, h`` of each interval in ``t = x - s_i`` (``ra <= rb`` the zeros of
        the derivative clipped to ``[0, h]``); the interpolant is monotone between consecutive ones.
    f : numpy.ndarray, (..., K - 1, 4)
        The interpolant at those boundaries.
    """
    c1, c2, c3 = p.coef[1], p.coef[2], p.coef[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        # roots of c1 + 2 c2 t + 3 c3 t**2, in the cancellation-free form
        disc = c2 * c2 - 3.0 * c1 * c3
        q = -(c2 + np.where(c2 >= 0, 1.0, -1.0) * np.sqrt(np.where(disc >= 0, disc, np.nan)))
        r1 = q / (3.0 * c3)
        r2 = c1 / q
        r1 = np.where(np.isfinite(r1), np.clip(r1, 0.0, p.h), p.h)
        r2 = np.where(np.isfinite(r2), np.clip(r2, 0.0, p.h), p.h)
        ra, rb = np.minimum(r1, r2), np.maximum(r1, r2)
        zero = np.where(np.isfinite(p.h), 0.0, np.nan)
        t = np.stack([zero, ra, rb, p.h], axis=-1)
        f_inner = cubic(p.coef[..., None], t[..., 1:3])
    f = np.concatenate([p.y[..., :-1, None], f_inner, p.y[..., 1:, None]], axis=-1)
    return t, f


def _flat(a: np.ndarray) -> np.ndarray:
    return a.reshape(a.shape[:-2] + (-1,))


def pieces_minimum(
    p: Pieces, mono: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The minimum of every interpolated profile within its scan range.

    Exact for the interpolant: the smallest value over the ends of the monotone pieces (the first one
    on ties, interval-major).

    Parameters
    ----------
    p : Pieces
        Profiles in piecewise-cubic form, leading dims ``(...)``.
    mono : tuple of numpy.ndarray, optional
        The output of :func:`monotone_pieces` for ``p``, if already computed.

    Returns
    -------
    norm_min, stat_min : numpy.ndarray, (...)
        Where the minimum lies and its value; NaN where a bin has fewer than two valid points.
    """
    t, f = monotone_pieces(p) if mono is None else mono
    value = _flat(np.where(np.isnan(f), np.inf, f))
    best = np.argmin(value, axis=-1)[..., None]
    stat_min = take(value, best)[..., 0]
    norm_min = take(_flat(p.s[..., :-1, None] + t), best)[..., 0]
    bad = ~np.isfinite(stat_min)
    return np.where(bad, np.nan, norm_min), np.where(bad, np.nan, stat_min)


def larger_root(y0: np.ndarray, slope: np.ndarray, curv: np.ndarray, level: np.ndarray) -> np.ndarray:
    """The larger root ``u`` of ``y0 + slope u + curv u**2 = level``, on whole arrays.

    Used beyond the scan, where each end continues with a parabola that opens upward (``curv > 0``) or a
    straight line (``curv == 0``). The root is taken in the cancellation-free form.

    Parameters
    ----------
    y0, slope, curv, level : numpy.ndarray
        Broadcastable arrays; ``curv >= 0``.

    Returns
    -------
    numpy.ndarray
        The larger root; NaN where there is none (the parabola or line never reaches ``level`` going
        up, e.g. a line that falls or is flat).
    """
    c = y0 - level
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(slope * slope - 4.0 * curv * c)
        u = np.where(slope >= 0, -2.0 * c / (slope + root), (root - slope) / (2.0 * curv))
    ok = np.isfinite(u) & ((curv > 0) | (slope > 0))
    return np.where(ok, u, np.nan)


def _status_at(x: np.ndarray, p: Pieces) -> np.ndarray:
    status = np.full(np.shape(x), INSIDE, dtype=np.int8)
    status[x < p.s_lo] = BELOW
    status[x > p.s_hi] = ABOVE
    status[~np.isfinite(x) | (p.n < 2)] = NO_RESULT
    return status


def _solve_piece(coef, ta, tb, level):
    """Root of ``cubic(coef, t) = level`` on monotone-increasing brackets ``[ta, tb]`` (all bins at once)."""
    lo, hi = ta.copy(), tb.copy()
    t = 0.5 * (lo + hi)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for _ in range(_NEWTON_STEPS):
            g = cubic(coef, t) - level
            lo = np.where(g < 0, t, lo)
            hi = np.where(g >= 0, t, hi)
            t_new = t - g / cubic_slope(coef, t)
            t_new = np.where((t_new >= lo) & (t_new <= hi), t_new, 0.5 * (lo + hi))
            done = np.abs(t_new - t) <= 4 * np.finfo(float).eps * (np.abs(t) + (tb - ta))
            t = t_new
            if np.all(done | ~np.isfinite(t)):
                break
    return t


def upper_crossing(
    p: Pieces,
    level: np.ndarray,
    start: np.ndarray,
    mono: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Where every profile rises to ``level`` at or above ``start``.

    The first monotone piece above ``start`` that brackets ``level`` is solved with a fixed-budget
    safeguarded Newton iteration (all bins together); beyond the scan, the extrapolating parabola or
    line is solved in closed form (:func:`larger_root`). A profile already at or above ``level`` at
    ``start`` gives ``start`` itself.

    Parameters
    ----------
    p : Pieces
        Profiles in piecewise-cubic form, leading dims ``(...)``.
    level, start : numpy.ndarray, (...)
        The statistic to reach and the norm to start from, of the leading shape of ``p``.
    mono : tuple of numpy.ndarray, optional
        The output of :func:`monotone_pieces` for ``p``, if already computed.

    Returns
    -------
    norm : numpy.ndarray, (...)
        The crossing; NaN where there is none.
    status : numpy.ndarray of int8, (...)
        :data:`INSIDE`, :data:`BELOW` or :data:`ABOVE` the scan, or :data:`NO_RESULT`.
    """
    t, f = monotone_pieces(p) if mono is None else mono
    ta, tb, fa, fb = t[..., :-1], t[..., 1:], f[..., :-1], f[..., 1:]
    s_i = p.s[..., :-1, None]
    f_start = evaluate_per_bin(p, start)
    start_ = start[..., None, None]
    level_ = level[..., None, None]
    with np.errstate(invalid="ignore"):
        ta_eff = np.maximum(ta, start_ - s_i)
        fa = np.where(ta_eff > ta, f_start[..., None, None], fa)  # the piece holding start begins there
        hit = _flat((s_i + tb > start_) & (fa < level_) & (fb >= level_))
    found = hit.any(axis=-1)
    first = np.argmax(hit, axis=-1)[..., None]
    interval = first // 3
    piece_coef = np.stack([take(c, interval)[..., 0] for c in p.coef])
    t = _solve_piece(piece_coef, take(_flat(ta_eff), first)[..., 0], take(_flat(tb), first)[..., 0], level)
    x_scan = take(p.s, interval)[..., 0] + t

    u_lo = larger_root(p.y_lo, p.lo_slope, p.lo_curv, level)
    u_hi = larger_root(p.y_hi, p.hi_slope, p.hi_curv, level)
    below_scan = (start < p.s_lo) & (p.y_lo >= level)
    x = np.where(found, x_scan, p.s_hi + u_hi)
    status = np.where(found, INSIDE, ABOVE)
    x = np.where(below_scan, p.s_lo + u_lo, x)
    status = np.where(below_scan, BELOW, status)
    already = f_start >= level
    x = np.where(already, start, x)
    status = np.where(already, _status_at(start, p), status)
    bad = ~np.isfinite(x) | (p.n < 2) | ~np.isfinite(level) | ~np.isfinite(start)
    return np.where(bad, np.nan, x), np.where(bad, NO_RESULT, status).astype(np.int8)
