"""Fast path of upper limits and profile summaries for clean profiles: the same arithmetic, scan first.

When every profile of a batch has all its points finite and strictly increasing in norm (the usual
case), :func:`upper_limit_clean` and :func:`summary_clean` compute what
:func:`fluxds.profiles.limits.upper_limit` and :func:`~fluxds.profiles.limits.profile_summary` compute
through :mod:`fluxds.profiles._pieces` and :mod:`fluxds.profiles.interp` (the same operations in the
same order; the crossing's Newton iteration starts at the chord's crossing, so roots agree to rounding),
but on arrays laid out ``(scan, bins)`` and in cache-sized blocks of bins: every array operation runs
over long contiguous rows instead of short trailing axes of length 4 or 5, and nothing is sorted,
padded or masked. ``limits`` uses them only when :func:`is_clean` holds; anything else takes the
general path.

The upper limit (:class:`_Screened`) builds no cubic it does not need: the minimum lies in one of the
two intervals beside the lowest scan point and the crossing in the first interval that can reach the
level, unless bounds on every other interval (their Bernstein coefficients) say otherwise; the few bins
where they do, and nothing else, go through :class:`_Clean`, which builds every interval.
"""

from __future__ import annotations

import numpy as np

from fluxds.profiles._pieces import ABOVE, BELOW, INSIDE, NO_RESULT, larger_root

__all__ = ["BLOCK_POINTS", "SCREEN_BINS", "SCREEN_MARGIN", "is_clean", "summary_clean", "upper_limit_clean"]

#: Scan points per block of bins: ``(scan, bins)`` arrays of ~117 kB, so that a block's temporaries stay
#: in a core's L2 cache (measured: 1000 x 10 bins x 11 points run ~1.5x faster than in one block) and
#: below glibc's 128 kiB ``mmap`` threshold (at exactly 128 kiB every temporary was a fresh ``mmap``: a
#: page fault per 4 kB touched).
BLOCK_POINTS = 15_000


def is_clean(x: np.ndarray, y: np.ndarray, stencil: int) -> bool:
    """Whether the fast path applies: finite points, strictly increasing norms, ``scan >= stencil``."""
    k = x.shape[-1]
    if x.shape != y.shape or k < max(stencil, 2) or x.size == 0:
        return False
    return bool(np.isfinite(y).all() and np.isfinite(x).all() and (x[..., 1:] > x[..., :-1]).all())


def _newton_slope(z: list, y: list) -> np.ndarray:
    """Slope at ``z[0]`` of the polynomial through ``(z[m], y[m])``: divided differences, node first.

    The operations and their order are those of :func:`fluxds.profiles._pieces.node_slopes`.
    """
    slope = product = None
    with np.errstate(invalid="ignore", divide="ignore"):
        for level in range(1, len(z)):
            y = [(y[m + 1] - y[m]) / (z[m + level] - z[m]) for m in range(len(y) - 1)]
            product = np.ones(z[0].shape) if product is None else product * (z[0] - z[level - 1])
            term = y[0] * product
            slope = term if slope is None else slope + term
    return slope


def _centred_slopes(s: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    """:func:`_newton_slope` of the nodes with a centred stencil of ``w = 3`` or ``5`` points, rows
    ``w // 2 .. K - 1 - w // 2``, from chords shared between neighbouring nodes.

    Every quantity is one of ``_newton_slope``'s, up to exact sign flips (``(-a) / (-b) = a / b``,
    ``a * (-b) = -(a * b)`` in IEEE arithmetic): the slopes are the same to the last bit.
    """
    k = s.shape[0]
    h = s[1:] - s[:-1]
    m1 = (y[1:] - y[:-1]) / h  # chords of neighbouring points
    s2 = s[2:] - s[:-2]
    m2 = (y[2:] - y[:-2]) / s2  # chords over two intervals
    if w == 3:  # node i, then i - 1, i + 1
        dd2 = (m2 - m1[:-1]) / h[1:]
        return m1[:-1] + dd2 * h[:-1]
    # w == 5: node i, then i - 2, i - 1, i + 1, i + 2 (slices below: i - 2 -> [0 : k - 4], ...)
    s3, s4 = s[3:] - s[:-3], s[4:] - s[:-4]
    n = k - 4
    a0, a1, a2, a3 = m2[:n], m1[:n], m2[1 : n + 1], m1[3:]
    b0 = (a0 - a1) / h[1 : n + 1]
    b1 = (a2 - a1) / s3[:n]
    b2 = (a3 - a2) / s3[1:]
    c0 = (b1 - b0) / h[2 : n + 2]
    c1 = (b2 - b1) / s4
    e0 = (c1 - c0) / s2[2:]
    p2 = s2[:n]
    p3 = p2 * h[1 : n + 1]
    return a0 + b0 * p2 + c0 * p3 - e0 * (p3 * h[2 : n + 2])


def _slopes(s: np.ndarray, y: np.ndarray, w: int) -> np.ndarray:
    """:func:`fluxds.profiles._pieces.node_slopes` (all points valid) on ``(K, N)`` arrays.

    Nodes whose stencil is centred take their points as row slices of ``s`` and ``y`` (views, nothing
    gathered; for stencils of 3 and 5 points sharing their chords); the few nodes near the ends gather
    theirs.
    """
    k = s.shape[0]
    node = np.arange(k)
    first = np.clip(node - w // 2, 0, k - w)
    offset = node - first
    j = np.arange(w - 1)
    others = first[:, None] + j + (j >= offset[:, None])
    idx = np.concatenate([node[:, None], others], axis=1)  # (K, w): the node first, then the others
    centred = np.flatnonzero(first == node - w // 2)
    ends = np.flatnonzero(first != node - w // 2)
    d = np.empty(s.shape)
    if centred.size:
        a, b = centred[0], centred[-1] + 1
        if w in (3, 5):
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                d[a:b] = _centred_slopes(s, y, w)
        else:
            shifts = idx[a] - a
            d[a:b] = _newton_slope([s[a + m : b + m] for m in shifts], [y[a + m : b + m] for m in shifts])
    if ends.size:
        rows = idx[ends].T  # (w, n_ends)
        d[ends] = _newton_slope([s[r] for r in rows], [y[r] for r in rows])
    return d


def _ends(first: tuple, last: tuple, h_last: np.ndarray, s: np.ndarray, y: np.ndarray) -> dict:
    """The end extrapolations from the first and last intervals' coefficients (as ``_pieces.build``)."""
    hi_curv = last[2] + 3.0 * last[3] * h_last
    hi_slope = last[1] + h_last * (2.0 * last[2] + h_last * 3.0 * last[3])
    lo_curv = first[2]
    return {
        "lo_slope": first[1],
        "lo_curv": np.where(lo_curv > 0, lo_curv, 0.0),
        "hi_slope": hi_slope,
        "hi_curv": np.where(hi_curv > 0, hi_curv, 0.0),
        "s_lo": s[0],
        "y_lo": y[0],
        "s_hi": s[-1],
        "y_hi": y[-1],
    }


def _hermite(y0, y1, d0, d1, h):
    """Coefficients ``c0..c3`` of the cubic Hermite intervals (the operations of ``_pieces.build``)."""
    m = (y1 - y0) / h
    return y0, d0, (3.0 * m - 2.0 * d0 - d1) / h, (d0 + d1 - 2.0 * m) / (h * h)


def _pieces(s: np.ndarray, y: np.ndarray, w: int):
    """Coefficients ``c0..c3`` ``(K-1, N)``, interval widths and the end extrapolations."""
    with np.errstate(invalid="ignore", divide="ignore"):
        h = s[1:] - s[:-1]
        d = _slopes(s, y, w)
        coef = _hermite(y[:-1], y[1:], d[:-1], d[1:], h)
        ends = _ends([a[0] for a in coef], [a[-1] for a in coef], h[-1], s, y)
    return coef, h, ends


def _cubic(c, t):
    return c[0] + t * (c[1] + t * (c[2] + t * c[3]))


def _stationary(coef, h):
    """Zeros ``ra <= rb`` of each cubic's derivative clipped to ``[0, h]`` (``h`` where there is none)."""
    c1, c2, c3 = coef[1], coef[2], coef[3]
    with np.errstate(invalid="ignore", divide="ignore"):
        disc = c2 * c2 - 3.0 * c1 * c3
        # sqrt of a negative discriminant is NaN, as monotone_pieces' explicit NaN
        q = -(c2 + np.where(c2 >= 0, 1.0, -1.0) * np.sqrt(disc))
        r1 = q / (3.0 * c3)
        r2 = c1 / q
        r1 = np.where(np.isfinite(r1), np.clip(r1, 0.0, h), h)
        r2 = np.where(np.isfinite(r2), np.clip(r2, 0.0, h), h)
    return np.minimum(r1, r2), np.maximum(r1, r2)


def _monotone(coef, h, y_next):
    """Piece boundaries ``t`` and values ``f``, each ``(K-1, 4, N)`` (see ``_pieces.monotone_pieces``)."""
    ra, rb = _stationary(coef, h)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.stack([np.zeros_like(h), ra, rb, h], axis=1)
        f = np.stack([coef[0], _cubic(coef, ra), _cubic(coef, rb), y_next], axis=1)
    return t, f


def _take0(a: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``a[idx[j], j]`` for ``a`` of shape ``(M, N)``."""
    return a[idx, np.arange(a.shape[1])]


_NEWTON_STEPS = 60


def _solve(coef, ta, tb, fa, fb, level):
    """Root of ``cubic(coef, t) = level`` on monotone-increasing brackets ``[ta, tb]`` (``f(ta) = fa``...).

    ``_pieces._solve_piece`` (safeguarded Newton, same stopping rule), started at the chord's crossing
    instead of the bracket's middle: a few steps fewer, the same root to rounding. A bin stops at its own
    convergence: once half of them have, the rest continue alone. NaN brackets (no root sought) give NaN.
    """
    level = np.broadcast_to(level, ta.shape)
    c0, c1, c2, c3 = (np.broadcast_to(c, ta.shape) for c in coef)
    lo, hi = ta, tb
    eps, width = 4 * np.finfo(float).eps, tb - ta
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        t = ta + (level - fa) / (fb - fa) * (tb - ta)
        t = np.where((t >= lo) & (t <= hi), t, 0.5 * (lo + hi))
        out, rows = t, None  # rows: where the bins still iterating sit in ``out`` (None: all of them)
        for _ in range(_NEWTON_STEPS):
            g = _cubic((c0, c1, c2, c3), t) - level
            lo = np.where(g < 0, t, lo)
            hi = np.where(g >= 0, t, hi)
            t_new = t - g / (c1 + t * (2.0 * c2 + t * 3.0 * c3))
            t_new = np.where((t_new >= lo) & (t_new <= hi), t_new, 0.5 * (lo + hi))
            going = ~(np.abs(t_new - t) <= eps * (np.abs(t) + width)) & np.isfinite(t_new)
            t = t_new
            n_going = np.count_nonzero(going)
            if n_going == 0:
                break
            if 2 * n_going <= going.size:  # most have converged: keep iterating the others alone
                out = t if rows is None else _put(out, rows, t)
                rows = np.flatnonzero(going) if rows is None else rows[going]
                t, lo, hi, width, level = t[going], lo[going], hi[going], width[going], level[going]
                c0, c1, c2, c3 = c0[going], c1[going], c2[going], c3[going]
    return t if rows is None else _put(out, rows, t)


def _put(out: np.ndarray, rows: np.ndarray, values: np.ndarray) -> np.ndarray:
    out[rows] = values
    return out


def _evaluate(s, coef, ends, x):
    """The interpolant at one norm ``x`` ``(N,)`` per bin (``_pieces.evaluate_per_bin``, clean profiles)."""
    k = s.shape[0]
    count = np.zeros(x.shape, dtype=np.intp)
    for j in range(k):  # over the scan points, vectorised over bins
        count += s[j] <= x
    idx = np.clip(count - 1, 0, k - 2)
    t = x - _take0(s, idx)
    c = [_take0(a, idx) for a in coef]
    with np.errstate(invalid="ignore", over="ignore"):
        inside = _cubic(c, t)
        u_lo, u_hi = x - ends["s_lo"], x - ends["s_hi"]
        below = ends["y_lo"] + u_lo * (ends["lo_slope"] + u_lo * ends["lo_curv"])
        above = ends["y_hi"] + u_hi * (ends["hi_slope"] + u_hi * ends["hi_curv"])
    return np.where(x < ends["s_lo"], below, np.where(x > ends["s_hi"], above, inside))


def _blocks(func, norm_scan, stat_scan, dtypes, *args, points: int | None = None):
    """``func(x, y, *args)`` on blocks of about ``points`` (default ``BLOCK_POINTS``) scan points, outputs
    of leading shape.

    Blocking keeps each block's temporaries in the CPU cache (or bounds their memory); each block is one
    vectorised pass and the results do not depend on the block size.
    """
    lead, k = norm_scan.shape[:-1], norm_scan.shape[-1]
    x, y = norm_scan.reshape(-1, k), stat_scan.reshape(-1, k)
    n_total = x.shape[0]
    size = max((BLOCK_POINTS if points is None else points) // k, 64)
    outs = [np.empty(n_total, dtype=dtype) for dtype in dtypes]
    for i in range(0, n_total, size):  # over blocks of bins (cache blocking), a handful
        for out, part in zip(outs, func(x[i : i + size], y[i : i + size], *args), strict=True):
            out[i : i + size] = part
    return tuple(out.reshape(lead) for out in outs)


def upper_limit_clean(norm_scan, stat_scan, n_sigma_ul: float, reference: str, stencil: int):
    """``(norm_ul, status)`` exactly as ``limits.upper_limit`` for profiles passing :func:`is_clean`.

    :class:`_Screened` on every bin, then :class:`_Clean` on the few it flags (all blocks at once).
    """
    args = (n_sigma_ul, reference, stencil)
    dtypes = (float, np.int8, bool)
    points = SCREEN_BINS * norm_scan.shape[-1]
    ul, status, odd = _blocks(_ul_block, norm_scan, stat_scan, dtypes, *args, points=points)
    if odd.any():
        ul[odd], status[odd] = _blocks(
            _ul_block_full, norm_scan[odd], stat_scan[odd], (float, np.int8), *args
        )
    return ul, status


def summary_clean(norm_scan, stat_scan, n_sigma: float, n_sigma_ul: float, reference: str, stencil: int):
    """``limits.profile_summary`` for profiles passing :func:`is_clean`, as a tuple in this order:
    norm, stat, norm_errp, norm_errn, norm_ul, norm_errp_status, norm_errn_status, norm_ul_status."""
    dtypes = (float,) * 5 + (np.int8,) * 3
    return _blocks(_summary_block, norm_scan, stat_scan, dtypes, n_sigma, n_sigma_ul, reference, stencil)


def _crossing_result(found, x_scan, ends, level, start, f_start):
    """``(x, status)`` of a crossing from the one found in the scan (``found``, ``x_scan``), else beyond
    the scan ends, else ``start`` where the profile is already at ``level`` (``_pieces.upper_crossing``)."""
    u_lo = larger_root(ends["y_lo"], ends["lo_slope"], ends["lo_curv"], level)
    u_hi = larger_root(ends["y_hi"], ends["hi_slope"], ends["hi_curv"], level)
    below_scan = (start < ends["s_lo"]) & (ends["y_lo"] >= level)
    x = np.where(found, x_scan, ends["s_hi"] + u_hi)
    status = np.where(found, INSIDE, ABOVE)
    x = np.where(below_scan, ends["s_lo"] + u_lo, x)
    status = np.where(below_scan, BELOW, status)
    already = f_start >= level
    x = np.where(already, start, x)
    start_status = np.where(start > ends["s_hi"], ABOVE, np.where(start < ends["s_lo"], BELOW, INSIDE))
    start_status = np.where(np.isfinite(start), start_status, NO_RESULT)
    status = np.where(already, start_status, status)
    bad = ~np.isfinite(x) | ~np.isfinite(level) | ~np.isfinite(start)
    return np.where(bad, np.nan, x), np.where(bad, NO_RESULT, status).astype(np.int8)


class _Clean:
    """One block of clean profiles in ``(scan, bins)`` layout: points, cubics, monotone pieces."""

    def __init__(self, x: np.ndarray, y: np.ndarray, stencil: int) -> None:
        self.s, self.y = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        self.n_bins = self.s.shape[1]
        self.coef, self.h, self.ends = _pieces(self.s, self.y, min(stencil, x.shape[-1]))
        self.t, self.f = _monotone(self.coef, self.h, self.y[1:])

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        return _evaluate(self.s, self.coef, self.ends, x)

    def minimum(self) -> tuple[np.ndarray, np.ndarray]:
        """Over the monotone pieces' ends, interval-major, first smallest (as ``_pieces.pieces_minimum``)."""
        value = np.where(np.isnan(self.f), np.inf, self.f).reshape(-1, self.n_bins)
        best = np.argmin(value, axis=0)
        stat_min = _take0(value, best)
        norm_min = _take0(self.s, best // 4) + _take0(self.t.reshape(-1, self.n_bins), best)  # s_i + t
        bad = ~np.isfinite(stat_min)
        return np.where(bad, np.nan, norm_min), np.where(bad, np.nan, stat_min)

    def crossing(self, level, start, f_start=None) -> tuple[np.ndarray, np.ndarray]:
        """Where the profile rises to ``level`` at or above ``start`` (as ``_pieces.upper_crossing``)."""
        s, t, f, ends, n_bins = self.s, self.t, self.f, self.ends, self.n_bins
        f_start = self.evaluate(start) if f_start is None else f_start
        ta, tb, fa, fb = t[:, :-1], t[:, 1:], f[:, :-1], f[:, 1:]
        s_i = s[:-1, None]
        with np.errstate(invalid="ignore"):
            ta_eff = np.maximum(ta, start - s_i)
            fa = np.where(ta_eff > ta, f_start, fa)
            hit = ((s_i + tb > start) & (fa < level) & (fb >= level)).reshape(-1, n_bins)
        found = hit.any(axis=0)
        first = np.argmax(hit, axis=0)
        interval = first // 3
        piece_coef = [_take0(a, interval) for a in self.coef]
        bracket = [
            np.where(found, _take0(a.reshape(-1, n_bins), first), np.nan) for a in (ta_eff, tb, fa, fb)
        ]
        x_scan = _take0(s, interval) + _solve(piece_coef, *bracket, level)
        return _crossing_result(found, x_scan, ends, level, start, f_start)


def _ul_block_full(x: np.ndarray, y: np.ndarray, n_sigma_ul: float, reference: str, stencil: int):
    c = _Clean(x, y, stencil)
    norm_min, stat_min = c.minimum()
    start = norm_min if reference == "minimum" else np.maximum(norm_min, 0.0)
    f_start = c.evaluate(start)
    stat_ref = stat_min if reference == "minimum" else f_start
    return c.crossing(stat_ref + float(n_sigma_ul) ** 2, start, f_start)


#: Bins per block of :class:`_Screened` (which blocks its ``(scan, bins)`` work by ``BLOCK_POINTS``
#: itself): its one-value-per-bin steps (~300 array operations) then run over arrays long enough that
#: numpy's per-call cost does not dominate, with bounded memory.
SCREEN_BINS = 4096

#: Relative margin of the screens of :class:`_Screened` (of a bin's largest ``|stat|`` plus its largest
#: ``|slope| * width``): far above the rounding of a cubic's evaluation (~1e-14 of those terms), so that an
#: interval screened out cannot hold a value the full computation would pick.
SCREEN_MARGIN = 1e-9


def _first(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``mask`` ``(R, N)``: the first row that is True (0 where none) and whether any is.

    A weighted maximum over the rows (a fast reduction) instead of ``argmax`` along the first axis.
    """
    r = mask.shape[0]
    weight = np.arange(r, 0, -1, dtype=np.int8 if r < 127 else np.int32)[:, None]  # R .. 1
    top = (mask * weight).max(axis=0)
    return np.where(top > 0, r - top, 0).astype(np.intp), top > 0


class _Screened:
    """Clean profiles in ``(scan, bins)`` layout, their cubics built only where they are needed.

    The upper limit needs the cubic of the interval holding the minimum and of the one holding the
    crossing; every other interval only has to be ruled out. A cubic Hermite interval lies between the
    smallest and the largest of its Bernstein coefficients ``y_i, y_i + d_i h / 3, y_{i+1} - d_{i+1} h / 3,
    y_{i+1}``, so a few operations per interval bound it. The two intervals beside the lowest scan point
    and the first interval that may reach the level get the full treatment of :class:`_Clean` (the same
    operations on gathered values, hence the same numbers); bins where the bounds cannot rule out another
    interval (wiggles between the scan points, ties) are flagged ``odd`` for :class:`_Clean`.

    The node slopes and bounds, ``(K, N)`` arrays, are computed in cache blocks of ``BLOCK_POINTS``;
    the rest works on one value per bin, all bins at once.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, stencil: int) -> None:
        self.s, self.y = np.ascontiguousarray(x.T), np.ascontiguousarray(y.T)
        k, n = self.s.shape
        self.cols = np.arange(n)
        self.d, self.upper, self.s_right = np.empty((k, n)), np.empty((k - 1, n)), np.empty((k - 1, n))
        self.margin, self.y_min, self.low, self.odd = (
            np.empty(n),
            np.empty(n),
            np.empty(n, np.intp),
            np.empty(n, bool),
        )
        step = max(BLOCK_POINTS // k, 64)
        for i in range(0, n, step):  # over blocks of bins (cache blocking), a handful
            self._bound(slice(i, i + step), min(stencil, k))
        first, _, _, _ = self.interval(np.zeros(n, dtype=np.intp))
        last, h_last, _, _ = self.interval(np.full(n, k - 2))
        with np.errstate(invalid="ignore", over="ignore"):
            self.ends = _ends(first, last, h_last, self.s, self.y)

    def _bound(self, cols: slice, w: int) -> None:
        """Slopes, interval bounds, the lowest point and the minimum's screen of the bins ``cols``."""
        s, y = self.s[:, cols], self.y[:, cols]
        k, n = s.shape
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            d = self.d[:, cols] = _slopes(s, y, w)
            h = s[1:] - s[:-1]
            np.add(s[:-1], h, out=self.s_right[:, cols])  # as s_i + t at t = h
            third = h / 3.0
            b1 = y[:-1] + d[:-1] * third
            b2 = y[1:] - d[1:] * third
            np.maximum(np.maximum(b1, b2), np.maximum(y[:-1], y[1:]), out=self.upper[:, cols])
            lower = np.minimum(np.minimum(b1, b2), np.minimum(y[:-1], y[1:]))  # a tie too is odd
            y_min, y_max = y.min(axis=0), y.max(axis=0)
            scale = np.maximum(np.abs(y_min), np.abs(y_max))
            margin = SCREEN_MARGIN * (scale + np.abs(d).max(axis=0) * h.max(axis=0))
            low, _ = _first(y == y_min)
            # the minimum: only the intervals beside the lowest point may reach below it
            may_dip = lower <= y_min + margin
        here = np.arange(n)
        may_dip[np.maximum(low - 1, 0), here] = False
        may_dip[np.minimum(low, k - 2), here] = False
        self.odd[cols] = may_dip.any(axis=0) | ~np.isfinite(margin)
        self.margin[cols], self.y_min[cols], self.low[cols] = margin, y_min, low

    def interval(self, i: np.ndarray):
        """Coefficients, width, start and end value of interval ``i`` ``(..., N)`` of every bin."""
        n = self.s.shape[1]
        flat = i * n + self.cols
        s0, s1 = (np.take(self.s.reshape(-1), f) for f in (flat, flat + n))
        y0, y1 = (np.take(self.y.reshape(-1), f) for f in (flat, flat + n))
        d0, d1 = (np.take(self.d.reshape(-1), f) for f in (flat, flat + n))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            h = s1 - s0
            return _hermite(y0, y1, d0, d1, h), h, s0, y1

    def minimum(self) -> tuple[np.ndarray, np.ndarray]:
        """``_Clean.minimum`` on the two intervals beside the first lowest scan point (the others cannot
        reach below it; see ``_bound``)."""
        k, n = self.s.shape
        low = self.low
        coef, h, s0, y1 = self.interval(np.stack([np.maximum(low - 1, 0), np.minimum(low, k - 2)]))
        ra, rb = _stationary(coef, h)
        with np.errstate(invalid="ignore", over="ignore"):
            value = [coef[0], _cubic(coef, ra), _cubic(coef, rb), y1]  # each (2, N): before, after
        missing = np.stack([low == 0, low == k - 1])  # no interval before the first point, after the last
        value = [np.where(np.isnan(v) | missing, np.inf, v) for v in value]
        offset = [np.zeros_like(h), ra, rb, h]
        # the first smallest, interval-major (as _Clean.minimum): before's 4 values, then after's
        order = [(j, p) for j in (0, 1) for p in range(4)]
        stat_min, best = value[0][0], np.zeros(n, dtype=np.intp)
        for r, (j, p) in enumerate(order[1:], 1):
            better = value[p][j] < stat_min
            stat_min = np.where(better, value[p][j], stat_min)
            best = np.where(better, r, best)
        norm_min = np.choose(best, [s0[j] + offset[p][j] for j, p in order])  # s_i + t
        bad = ~np.isfinite(stat_min)
        return np.where(bad, np.nan, norm_min), np.where(bad, np.nan, stat_min)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """``_evaluate``: the interpolant at one norm ``x`` ``(N,)`` per bin."""
        k = self.s.shape[0]
        below = (self.s <= x).view(np.int8)
        count = np.add.reduce(below, axis=0, dtype=np.int8 if k < 127 else np.intp).astype(np.intp)
        c, _, s0, _ = self.interval(np.clip(count - 1, 0, k - 2))
        ends = self.ends
        with np.errstate(invalid="ignore", over="ignore"):
            inside = _cubic(c, x - s0)
            u_lo, u_hi = x - ends["s_lo"], x - ends["s_hi"]
            below = ends["y_lo"] + u_lo * (ends["lo_slope"] + u_lo * ends["lo_curv"])
            above = ends["y_hi"] + u_hi * (ends["hi_slope"] + u_hi * ends["hi_curv"])
        return np.where(x < ends["s_lo"], below, np.where(x > ends["s_hi"], above, inside))

    def crossing(self, level, start, f_start) -> tuple[np.ndarray, np.ndarray]:
        """``_Clean.crossing``: the first interval that may reach ``level`` above ``start``, solved."""
        with np.errstate(invalid="ignore"):
            may_reach = (self.s_right > start) & (self.upper >= level - self.margin)
        i, any_ = _first(may_reach)
        coef, h, s0, y1 = self.interval(i)
        ra, rb = _stationary(coef, h)
        with np.errstate(invalid="ignore", over="ignore"):
            t = (np.zeros_like(h), ra, rb, h)
            f = (coef[0], _cubic(coef, ra), _cubic(coef, rb), y1)
            ta_eff = [np.maximum(t[p], start - s0) for p in range(3)]
            fa = [np.where(ta_eff[p] > t[p], f_start, f[p]) for p in range(3)]
            hit = [(s0 + t[p + 1] > start) & (fa[p] < level) & (f[p + 1] >= level) for p in range(3)]
        found = hit[0] | hit[1] | hit[2]
        # the bound was loose (no piece of interval i reaches the level): the full computation decides
        self.odd |= any_ & ~found & ~(f_start >= level)
        found &= any_
        piece = np.where(hit[0], 0, np.where(hit[1], 1, 2))
        bracket = [np.where(found, np.choose(piece, v), np.nan) for v in (ta_eff, t[1:], fa, f[1:])]
        x_scan = s0 + _solve(coef, *bracket, level)
        return _crossing_result(found, x_scan, self.ends, level, start, f_start)


def _ul_block(x: np.ndarray, y: np.ndarray, n_sigma_ul: float, reference: str, stencil: int):
    """``(norm_ul, status, odd)`` of a block by :class:`_Screened` (``odd``: bins for :class:`_Clean`)."""
    c = _Screened(x, y, stencil)
    return (*_ul_of(c, n_sigma_ul, reference), c.odd)


def _ul_of(c, n_sigma_ul: float, reference: str):
    norm_min, stat_min = c.minimum()
    start = norm_min if reference == "minimum" else np.maximum(norm_min, 0.0)
    f_start = c.evaluate(start)
    stat_ref = stat_min if reference == "minimum" else f_start
    return c.crossing(stat_ref + float(n_sigma_ul) ** 2, start, f_start)


def _summary_block(x, y, n_sigma: float, n_sigma_ul: float, reference: str, stencil: int):
    c = _Clean(x, y, stencil)
    norm_min, stat_min = c.minimum()
    level = stat_min + float(n_sigma) ** 2
    up, st_up = c.crossing(level, norm_min)
    # below the minimum: the mirrored profile (norm -> -norm, the points reversed: what build() sorts to)
    lo, st_lo = _Clean(-x[:, ::-1], y[:, ::-1], stencil).crossing(level, -norm_min)
    st_lo = np.where(st_lo == BELOW, ABOVE, np.where(st_lo == ABOVE, BELOW, st_lo)).astype(np.int8)
    start = norm_min if reference == "minimum" else np.maximum(norm_min, 0.0)
    stat_ref = stat_min if reference == "minimum" else c.evaluate(start)
    ul, st_ul = c.crossing(stat_ref + float(n_sigma_ul) ** 2, start)
    return norm_min, stat_min, up - norm_min, norm_min + lo, ul, st_up, st_lo, st_ul
