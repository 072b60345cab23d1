"""Significance helpers: TS profiles, sqrt(TS), confidence levels, p-values.

Conventions, stated once:

- ``ts = stat_null - stat`` (``stat = -2 log L``; ``stat_null`` at zero norm), so a TS profile is
  ``ts_profile = stat_null - stat_scan``: positive where a norm fits better than no source. (gammapy's
  ``ts_scan`` is another quantity, ``stat_scan - stat``; fluxds's old name ``ts_scan`` is deprecated.)
- ``sqrt_ts`` is ``sqrt(max(ts, 0))``; the signed form carries the sign of the norm (negative for a
  negative excess), as gammapy's ``sqrt_ts``.
- **One- or two-sided.** ``n_sigma -> conf`` is ``Phi(n)`` one-sided (the probability of a standard
  normal below ``n``) and ``erf(n / sqrt 2) = P(|Z| < n)`` two-sided. A limit or interval read off a
  profile at ``Δstat = n**2`` has the *two-sided* confidence (``chi2(1 dof)`` below ``n**2``): that is
  the ``UL_CONF`` convention of GADF files and gammapy (0.95 <-> 1.96 sigma).
- p-values are ``P(chi2_dof > ts)`` (Wilks), ``dof`` 1 by default.

Every function takes scalars, numpy arrays or DataArrays (lazy ones stay lazy: only ufuncs are used).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from fluxds.confidence import n_sigma_from_ul_conf, ul_conf_from_n_sigma
from fluxds.errors import FluxdsError, MissingQuantityError

__all__ = [
    "ts_profile",
    "ts_scan",
    "sqrt_ts",
    "n_sigma_to_conf",
    "conf_to_n_sigma",
    "p_value",
    "p_value_to_n_sigma",
]

_SIDES = ("one", "two")


def _check_sided(sided: str) -> None:
    if sided not in _SIDES:
        raise FluxdsError(f"sided={sided!r}; expected 'one' or 'two'")


def ts_profile(ds: xr.Dataset) -> xr.DataArray:
    """The TS profile ``stat_null - stat_scan`` of every bin: the TS of each scanned norm against no source.

    Not gammapy's ``ts_scan``, which is ``stat_scan - stat`` (the rise of the profile above its minimum):
    ``ts_profile = ts - gammapy_ts_scan`` with ``ts = stat_null - stat``. The gammapy quantity is
    ``ds.stat_scan - ds.stat``.

    Parameters
    ----------
    ds : xarray.Dataset
        With ``stat_scan`` and ``stat_null`` (``-2 log L``, dimensionless).

    Returns
    -------
    xarray.DataArray
        Named ``ts_profile``; dims of ``stat_scan`` (``..., scan``), dimensionless; lazy if ``ds`` is.

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.Dataset({"stat_scan": ("scan", [3.0, 1.0, 2.0]), "stat_null": ((), 5.0)})
    >>> ts_profile(ds).values
    array([2., 4., 3.])
    """
    missing = [name for name in ("stat_scan", "stat_null") if name not in ds]
    if missing:
        raise MissingQuantityError(f"ts_profile needs stat_scan and stat_null; the Dataset has no {missing}")
    out = ds["stat_null"] - ds["stat_scan"]
    out.attrs = {"units": "", "long_name": "test statistic along the norm scan (stat_null - stat_scan)"}
    return out.rename("ts_profile")


TS_SCAN_DEPRECATION = (
    "ts_scan is renamed ts_profile (stat_null - stat_scan, unchanged) and will be removed in the next "
    "release: gammapy's ts_scan is a different quantity, stat_scan - stat (ts_profile = ts - that)"
)


def ts_scan(ds: xr.Dataset) -> xr.DataArray:
    """Deprecated alias of :func:`ts_profile` (same values, warns :class:`DeprecationWarning`).

    Parameters
    ----------
    ds : xarray.Dataset
        With ``stat_scan`` and ``stat_null``.

    Returns
    -------
    xarray.DataArray
        :func:`ts_profile` of ``ds``, still named ``ts_scan``.
    """
    warnings.warn(TS_SCAN_DEPRECATION, DeprecationWarning, stacklevel=2)
    return ts_profile(ds).rename("ts_scan")


def sqrt_ts(ts, norm=None):
    """``sqrt(max(ts, 0))``, signed by ``norm`` when given.

    Parameters
    ----------
    ts : float, ndarray or DataArray
        Test statistic.
    norm : float, ndarray or DataArray, optional
        Best-fit norm; its sign is given to the result (0 counts as positive); NaN where ``norm`` is NaN
        (a failed fit: the sign is unknown; gammapy would give ``-sqrt(ts)``).

    Returns
    -------
    Same type as ``ts``.

    Examples
    --------
    >>> import numpy as np
    >>> sqrt_ts(np.array([9.0, 4.0, -1.0, 4.0]), norm=np.array([1.0, -2.0, 0.5, np.nan]))
    array([ 3., -2.,  0., nan])
    """
    value = np.sqrt(np.maximum(ts, 0.0))
    if norm is None:
        return value
    if isinstance(value, xr.DataArray) or isinstance(norm, xr.DataArray):
        return xr.where(norm < 0, -value, xr.where(norm >= 0, value, np.nan))
    return np.where(norm < 0, -value, np.where(norm >= 0, value, np.nan))


def n_sigma_to_conf(n_sigma, *, sided: str):
    """Confidence level of ``n_sigma``: ``Phi(n)`` (``sided="one"``) or ``erf(n/sqrt 2)`` (``"two"``).

    Parameters
    ----------
    n_sigma : float, ndarray or DataArray
    sided : {"one", "two"}
        Required: a profile limit at ``Δstat = n**2`` is ``"two"`` (see the module docstring).

    Returns
    -------
    Same type as ``n_sigma``.

    Examples
    --------
    >>> float(n_sigma_to_conf(2.0, sided="two")), float(n_sigma_to_conf(2.0, sided="one"))
    (0.9544997361036416, 0.9772498680518208)
    """
    _check_sided(sided)
    return ul_conf_from_n_sigma(n_sigma, f"{sided}-sided")  # the one implementation: fluxds.confidence


def conf_to_n_sigma(conf, *, sided: str):
    """Number of sigma of a confidence level (inverse of :func:`n_sigma_to_conf`).

    Parameters
    ----------
    conf : float, ndarray or DataArray
        In (0, 1).
    sided : {"one", "two"}

    Returns
    -------
    Same type as ``conf``.

    Examples
    --------
    >>> [round(float(conf_to_n_sigma(0.95, sided=s)), 12) for s in ("two", "one")]
    [1.95996398454, 1.644853626951]
    """
    _check_sided(sided)
    return n_sigma_from_ul_conf(conf, f"{sided}-sided")  # the one implementation: fluxds.confidence


def p_value(ts, dof=1):
    """``P(chi2_dof > ts)``: the p-value of a test statistic under Wilks' theorem.

    Parameters
    ----------
    ts : float, ndarray or DataArray
        Test statistic (negative values give 1).
    dof : int or array_like
        Degrees of freedom (1 for one free norm; ``n - 1`` for a variability test over ``n`` bins).

    Returns
    -------
    Same type as ``ts``.

    Examples
    --------
    >>> round(float(p_value(4.0)), 12), round(float(p_value(4.0, dof=2)), 12)
    (0.045500263896, 0.135335283237)
    """
    from scipy import special

    return special.chdtrc(dof, np.maximum(ts, 0.0))


def p_value_to_n_sigma(p, *, sided: str):
    """The Gaussian-equivalent significance of a p-value (``sided="two"``: ``P(|Z| > n) = p``).

    Parameters
    ----------
    p : float, ndarray or DataArray
    sided : {"one", "two"}

    Returns
    -------
    Same type as ``p``.

    Examples
    --------
    >>> round(float(p_value_to_n_sigma(p_value(25.0), sided="two")), 9)
    5.0
    """
    from scipy import special

    _check_sided(sided)
    return -special.ndtri(0.5 * p) if sided == "two" else -special.ndtri(p)  # no 1 - p: exact for tiny p
