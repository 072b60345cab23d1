"""Profiles interpolated once, evaluated many times: the :class:`Interpolant`.

:func:`fluxds.profiles.interp.evaluate_profile` builds the interpolant of every profile (node slopes,
cubic coefficients) and evaluates it once. Fits and minimisations evaluate the same profiles at many
norms; an :class:`Interpolant` keeps the built pieces so that each evaluation only locates the
queries' intervals and evaluates their cubics. Results are identical to ``evaluate_profile``.
"""

from __future__ import annotations

import numpy as np

from fluxds.profiles._pieces import Pieces, build, evaluate_pieces, pieces_minimum
from fluxds.profiles.interp import STENCIL

__all__ = ["Interpolant"]


class Interpolant:
    """The interpolated likelihood profiles of many bins, ready for repeated evaluation.

    Parameters
    ----------
    norm_scan, stat_scan : array_like, (..., scan)
        Scanned norms (dimensionless) and the statistic there (-2 log L); NaN marks padding; any
        order of points (see :mod:`fluxds.profiles.interp` for the method).
    stencil : int
        Points per node-slope polynomial: 5 (default) or 3.

    Attributes
    ----------
    shape : tuple of int
        The leading dims ``(...)`` of the profiles.

    Examples
    --------
    >>> import numpy as np
    >>> norm_scan = np.array([[0.0, 1.0, 2.0, 3.0]])
    >>> f = Interpolant(norm_scan, (norm_scan - 1.5) ** 2)
    >>> stat, status = f([0.25, 4.0])  # as evaluate_profile(norm_scan, stat_scan, [0.25, 4.0])
    >>> np.round(stat, 12), status
    (array([1.5625, 6.25  ]), array([0, 2], dtype=int8))
    >>> np.round(f(np.array([[0.5, 1.5, 2.5]]))[0], 12)  # several query points per bin
    array([[1., 0., 1.]])
    """

    def __init__(self, norm_scan, stat_scan, *, stencil: int = STENCIL) -> None:
        self.pieces: Pieces = build(norm_scan, np.asarray(stat_scan, dtype=float), stencil)
        self.shape: tuple[int, ...] = self.pieces.n.shape

    def __call__(self, norm, points: bool | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(stat, status)`` at ``norm``, exactly as :func:`fluxds.profiles.interp.evaluate_profile`.

        Parameters
        ----------
        norm : array_like
            Broadcastable to the leading dims (one norm per bin), or with one extra trailing axis of
            query points.
        points : bool, optional
            Whether the last axis of ``norm`` holds query points; default when ``norm`` has one more
            dimension than :attr:`shape`.

        Returns
        -------
        stat : ndarray
            Interpolated statistic (-2 log L).
        status : ndarray of int8
            ``0`` inside the scan, ``1`` extrapolated below, ``2`` extrapolated above, ``3`` no result.
        """
        norm = np.asarray(norm, dtype=float)
        if points is None:
            points = norm.ndim == len(self.shape) + 1 and norm.ndim > 0
        return evaluate_pieces(self.pieces, norm, bool(points))

    def take(self, rows) -> Interpolant:
        """The profiles ``rows`` (an index or slice along the first leading dim), without rebuilding.

        Examples
        --------
        >>> import numpy as np
        >>> x = np.linspace(0.0, 2.0, 5) + np.array([[0.0], [1.0]])
        >>> f = Interpolant(x, (x - 1.5) ** 2)
        >>> np.round(f.take([1])(np.array([2.0]))[0], 12)  # the second profile, at norm 2
        array([0.25])
        """
        p = self.pieces
        fields = {k: v[rows] for k, v in vars(p).items() if k != "coef"}
        new = object.__new__(Interpolant)
        new.pieces = Pieces(coef=p.coef[:, rows], **fields)
        new.shape = new.pieces.n.shape
        return new

    def minimum(self) -> tuple[np.ndarray, np.ndarray]:
        """``(norm_min, stat_min)`` of each profile within its scan (as :func:`interp.profile_minimum`).

        Examples
        --------
        >>> import numpy as np
        >>> x = np.linspace(0.0, 3.0, 7)
        >>> norm_min, stat_min = Interpolant(x, 4.0 * (x - 0.3) ** 2 + 7.0).minimum()
        >>> round(float(norm_min), 12), round(float(stat_min), 12)
        (0.3, 7.0)
        """
        return pieces_minimum(self.pieces)
