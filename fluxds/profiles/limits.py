"""Upper limits and errors at any confidence level, recomputed from the stored likelihood profiles.

Each profile (``stat_scan`` over ``norm_scan``) is interpolated as :mod:`fluxds.profiles.interp`
describes; its minimum ``(norm_min, stat_min)`` is found on the interpolant within the scan. Then

- ``norm_errp = x_up - norm_min`` and ``norm_errn = norm_min - x_lo`` where the profile reaches
  ``stat_min + n_sigma**2`` above and below the minimum; ``norm_err = (norm_errp + norm_errn) / 2``
  (half the ``Δstat = n_sigma**2`` interval: exact on parabolas, and meaningful on skewed profiles,
  where the curvature at the minimum is not);
- ``norm_ul`` is where the profile reaches ``stat_ref + n_sigma_ul**2`` above the reference norm:
  ``reference="minimum"`` (gammapy's rule) uses ``norm_min``; ``reference="zero"`` uses
  ``max(norm_min, 0)``, so a negative excess gets its limit from the physical boundary (the profile
  value at zero norm) rather than from an unphysical minimum, and the limit is never below zero.

Crossings beyond the scan are extrapolated (see :mod:`fluxds.profiles.interp`) and flagged in
``norm_ul_status``/``norm_errp_status``/``norm_errn_status`` (0 inside the scan, 1 extrapolated below,
2 extrapolated above, 3 no result). Everything is one ``xr.apply_ufunc`` call: vectorised over every
dimension and lazy on dask.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.confidence import check_sidedness, n_sigma_from_ul_conf, ul_conf_from_n_sigma
from fluxds.errors import FluxdsError
from fluxds.profiles._fast import is_clean, summary_clean, upper_limit_clean
from fluxds.profiles._outside import correct_summary, correct_upper_limit
from fluxds.profiles._pieces import (
    ABOVE,
    BELOW,
    build,
    evaluate_per_bin,
    monotone_pieces,
    pieces_minimum,
    upper_crossing,
)
from fluxds.profiles._xr import SCAN, apply_kernel, scan_variables, status_attrs
from fluxds.profiles.interp import STENCIL

__all__ = ["REFERENCES", "profile_summary", "upper_limit", "recompute_ul", "recompute_errors"]

REFERENCES = ("minimum", "zero")


def _check_reference(reference: str) -> None:
    if reference not in REFERENCES:
        raise FluxdsError(f"reference={reference!r}; expected one of {', '.join(map(repr, REFERENCES))}")


def _swap(status: np.ndarray) -> np.ndarray:
    return np.where(status == BELOW, ABOVE, np.where(status == ABOVE, BELOW, status)).astype(np.int8)


def profile_summary(
    norm_scan,
    stat_scan,
    n_sigma: float = 1.0,
    n_sigma_ul: float = 2.0,
    reference: str = "minimum",
    stencil: int = STENCIL,
) -> dict[str, np.ndarray]:
    """Minimum, asymmetric errors and upper limit of every profile, in one pass (numpy).

    Parameters
    ----------
    norm_scan, stat_scan : array_like, (..., scan)
        Profiles (dimensionless norm; -2 log L); NaN marks padding.
    n_sigma : float
        The errors are where the profile is ``n_sigma**2`` above its minimum.
    n_sigma_ul : float
        The limit is where the profile is ``n_sigma_ul**2`` above its reference value.
    reference : {"minimum", "zero"}
        Reference norm of the limit (see the module docstring).
    stencil : int
        Interpolation stencil (see :func:`fluxds.profiles.interp.evaluate_profile`).

    Returns
    -------
    dict of ndarray, (...)
        ``norm``, ``stat``, ``norm_errp``, ``norm_errn``, ``norm_ul`` and the int8 ``*_status`` codes.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.0, 3.0, 7)
    >>> out = profile_summary(x, (x - 1.0) ** 2 / 0.5**2, n_sigma=1, n_sigma_ul=2)
    >>> [round(float(out[k]), 12) for k in ("norm", "norm_errp", "norm_errn", "norm_ul")]
    [1.0, 0.5, 0.5, 2.0]
    """
    _check_reference(reference)
    norm_scan, stat_scan = np.asarray(norm_scan, dtype=float), np.asarray(stat_scan, dtype=float)
    if is_clean(norm_scan, stat_scan, stencil):  # the same numbers, faster (see fluxds.profiles._fast)
        keys = ("norm", "stat", "norm_errp", "norm_errn", "norm_ul")
        keys += ("norm_errp_status", "norm_errn_status", "norm_ul_status")
        values = summary_clean(norm_scan, stat_scan, n_sigma, n_sigma_ul, reference, stencil)
        return dict(zip(keys, values, strict=True))
    p = build(norm_scan, stat_scan, stencil)
    mono = monotone_pieces(p)
    norm_min, stat_min = pieces_minimum(p, mono)
    level = stat_min + float(n_sigma) ** 2
    up, st_up = upper_crossing(p, level, norm_min, mono)
    mirrored = build(-norm_scan, stat_scan, stencil)
    lo, st_lo = upper_crossing(mirrored, level, -norm_min)
    start = norm_min if reference == "minimum" else np.maximum(norm_min, 0.0)
    stat_ref = stat_min if reference == "minimum" else evaluate_per_bin(p, start)
    ul, st_ul = upper_crossing(p, stat_ref + float(n_sigma_ul) ** 2, start, mono)
    return {
        "norm": norm_min,
        "stat": stat_min,
        "norm_errp": up - norm_min,
        "norm_errn": norm_min + lo,
        "norm_ul": ul,
        "norm_errp_status": st_up,
        "norm_errn_status": _swap(st_lo),
        "norm_ul_status": st_ul,
    }


def upper_limit(
    norm_scan, stat_scan, n_sigma_ul: float = 2.0, reference: str = "minimum", stencil: int = STENCIL
):
    """``(norm_ul, status)`` of every profile: the upper-limit part of :func:`profile_summary` alone."""
    _check_reference(reference)
    norm_scan, stat_scan = np.asarray(norm_scan, dtype=float), np.asarray(stat_scan, dtype=float)
    clean = is_clean(norm_scan, stat_scan, stencil)
    return _upper_limit(norm_scan, stat_scan, n_sigma_ul, reference, stencil, clean)


def _upper_limit(norm_scan, stat_scan, n_sigma_ul, reference, stencil, clean: bool):
    """:func:`upper_limit` on float arrays whose :func:`is_clean` is known."""
    if clean:  # the same numbers, faster (see fluxds.profiles._fast)
        return upper_limit_clean(norm_scan, stat_scan, n_sigma_ul, reference, stencil)
    p = build(norm_scan, stat_scan, stencil)
    mono = monotone_pieces(p)
    norm_min, stat_min = pieces_minimum(p, mono)
    start = norm_min if reference == "minimum" else np.maximum(norm_min, 0.0)
    stat_ref = stat_min if reference == "minimum" else evaluate_per_bin(p, start)
    return upper_crossing(p, stat_ref + float(n_sigma_ul) ** 2, start, mono)


def _ul_kernel(norm_scan, stat_scan, norm, stat, n_sigma_ul, reference, stencil):
    if norm_scan.size == 0 or stat_scan.size == 0:  # dask probes with empty arrays
        shape = np.broadcast_shapes(norm_scan.shape, stat_scan.shape)[:-1]
        return np.empty(shape), np.empty(shape, np.int8)
    _check_reference(reference)
    norm_scan, stat_scan = np.asarray(norm_scan, dtype=float), np.asarray(stat_scan, dtype=float)
    clean = is_clean(norm_scan, stat_scan, stencil)
    ul, status = _upper_limit(norm_scan, stat_scan, n_sigma_ul, reference, stencil, clean)
    # bins whose stored best fit lies outside the scan: measured from it (fluxds.profiles._outside)
    args = (n_sigma_ul, reference, stencil, clean)
    return correct_upper_limit(norm_scan, stat_scan, norm, stat, ul, status, *args)


def _err_kernel(norm_scan, stat_scan, norm, stat, n_sigma, stencil):
    if norm_scan.size == 0 or stat_scan.size == 0:
        shape = np.broadcast_shapes(norm_scan.shape, stat_scan.shape)[:-1]
        return np.empty(shape), np.empty(shape), np.empty(shape, np.int8), np.empty(shape, np.int8)
    out = profile_summary(norm_scan, stat_scan, n_sigma, 1.0, "minimum", stencil)
    out = correct_summary(norm_scan, stat_scan, norm, stat, out, n_sigma, 1.0, "minimum", stencil)
    return out["norm_errp"], out["norm_errn"], out["norm_errp_status"], out["norm_errn_status"]


def _best_fit(ds: xr.Dataset, like: xr.Variable) -> list[xr.Variable]:
    """The stored best fit ``norm``, ``stat`` (NaN where not stored), chunked like the profiles."""
    out = []
    for name in ("norm", "stat"):
        var = ds.variables[name] if name in ds else xr.Variable((), np.nan)
        out.append(var.chunk() if like.chunks is not None and var.chunks is None and var.ndim else var)
    return out


def resolve_n_sigma_ul(
    ds: xr.Dataset, n_sigma_ul: float | None, ul_conf: float | None, sidedness: str | None = None
) -> tuple[float, float]:
    """``(n_sigma_ul, ul_conf)``, exact, from the arguments or else the Dataset's attrs (default 2).

    ``ul_conf`` and ``n_sigma_ul`` are related by ``sidedness`` (default: the Dataset's
    ``ul_sidedness``, else ``"two-sided"``; see :mod:`fluxds.confidence`)."""
    side = check_sidedness(sidedness if sidedness is not None else ds.attrs.get("ul_sidedness"))
    if n_sigma_ul is not None and ul_conf is not None:
        raise FluxdsError(f"give n_sigma_ul ({n_sigma_ul}) or ul_conf ({ul_conf}), not both")
    if ul_conf is not None:
        if not 0.0 < float(ul_conf) < 1.0:
            raise FluxdsError(f"ul_conf must lie in (0, 1); found {ul_conf}")
        return n_sigma_from_ul_conf(float(ul_conf), side), float(ul_conf)
    if n_sigma_ul is None:
        if "ul_conf" in ds.attrs:
            return resolve_n_sigma_ul(ds, None, ds.attrs["ul_conf"], side)
        n_sigma_ul = ds.attrs.get("n_sigma_ul", 2.0)
    if not float(n_sigma_ul) > 0:
        raise FluxdsError(f"n_sigma_ul must be > 0; found {n_sigma_ul}")
    return float(n_sigma_ul), ul_conf_from_n_sigma(float(n_sigma_ul), side)


def recompute_ul(
    ds: xr.Dataset,
    n_sigma_ul: float | None = None,
    ul_conf: float | None = None,
    reference: str = "minimum",
    stencil: int = STENCIL,
    ul_sidedness: str | None = None,
) -> xr.Dataset:
    """A copy of ``ds`` with ``norm_ul`` recomputed from the likelihood profiles.

    Parameters
    ----------
    ds : xarray.Dataset
        With ``norm_scan`` and ``stat_scan`` (any leading dims: sources, time, energy, pixels).
    n_sigma_ul : float, optional
        The limit is where the profile rises by ``n_sigma_ul**2``.
    ul_conf : float, optional
        Or the confidence level of the limit (``0.95`` -> ``n_sigma_ul = 1.959963984540054``; see
        :mod:`fluxds.confidence`). Default: the Dataset's ``ul_conf``/``n_sigma_ul``, else 2 sigma.
    reference : {"minimum", "zero"}
        Measure the rise from the profile minimum (gammapy) or from ``max(norm_min, 0)`` (a negative
        excess then gets its limit from zero norm).
    stencil : int
        Interpolation stencil (see :func:`fluxds.profiles.interp.evaluate_profile`).
    ul_sidedness : {"two-sided", "one-sided"}, optional
        How ``ul_conf`` maps to a rise: ``"two-sided"`` (gammapy: 0.95 -> 3.84) or ``"one-sided"``
        (fermipy: 0.95 -> 2.71). Default: the Dataset's ``ul_sidedness`` (fermipy files read as
        one-sided), else two-sided. Pass the other to convert, e.g. fermipy limits to gammapy's
        convention: ``recompute_ul(ds, ul_conf=0.95, ul_sidedness="two-sided")``.

    Returns
    -------
    xarray.Dataset
        ``norm_ul`` (dimensionless) and ``norm_ul_status`` (int8, CF flags) replaced; attrs
        ``n_sigma_ul``, ``ul_conf`` (exact) and ``ul_sidedness`` set. Lazy if ``ds`` is dask-backed.

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds.construct import from_likelihood
    >>> scan = np.linspace(0.0, 3.0, 7)
    >>> from fluxds.models import PowerLaw
    >>> pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> ds = from_likelihood([1.0], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=pl,
    ...                      norm_scan=[scan], stat_scan=[(scan - 1.0) ** 2 / 0.5**2])
    >>> out = recompute_ul(ds, n_sigma_ul=5)
    >>> round(float(out.norm_ul[0]), 12), int(out.norm_ul_status[0]), out.attrs["ul_conf"]
    (3.5, 2, 0.9999994266968563)
    """
    side = check_sidedness(ul_sidedness if ul_sidedness is not None else ds.attrs.get("ul_sidedness"))
    n_ul, conf = resolve_n_sigma_ul(ds, n_sigma_ul, ul_conf, side)
    norm_scan, stat_scan = scan_variables(ds, "recompute_ul")
    ul, status = apply_kernel(
        _ul_kernel,
        [norm_scan, stat_scan, *_best_fit(ds, stat_scan)],
        [[SCAN], [SCAN], [], []],
        2,
        [float, np.int8],
        kwargs={"n_sigma_ul": n_ul, "reference": reference, "stencil": stencil},
    )
    ul.attrs = {"units": "", "long_name": schema.VARIABLES["norm_ul"].long_name}
    status.attrs = status_attrs("norm_ul")
    out = ds.assign(norm_ul=ul, norm_ul_status=status)
    out.attrs.update(n_sigma_ul=n_ul, ul_conf=conf, ul_reference=reference)
    if ul_sidedness is not None or "ul_sidedness" in ds.attrs:
        out.attrs["ul_sidedness"] = side
    return out


def recompute_errors(ds: xr.Dataset, n_sigma: float | None = None, stencil: int = STENCIL) -> xr.Dataset:
    """A copy of ``ds`` with ``norm_errp``, ``norm_errn``, ``norm_err`` recomputed from the profiles.

    Parameters
    ----------
    ds : xarray.Dataset
        With ``norm_scan`` and ``stat_scan``.
    n_sigma : float, optional
        Errors where the profile is ``n_sigma**2`` above its minimum; default the Dataset's
        ``n_sigma`` (else 1).
    stencil : int
        Interpolation stencil (see :func:`fluxds.profiles.interp.evaluate_profile`).

    Returns
    -------
    xarray.Dataset
        ``norm_errp``/``norm_errn`` measured from the profile minimum, ``norm_err`` their mean (half
        the interval), ``norm_errp_status``/``norm_errn_status`` (int8, CF flags); attr ``n_sigma``.
        ``norm`` is left as stored (:func:`fluxds.profiles.checks.check` compares it to the minimum).

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds.construct import from_likelihood
    >>> scan = np.linspace(0.0, 3.0, 7)
    >>> from fluxds.models import PowerLaw
    >>> pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> ds = from_likelihood([1.0], energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=pl,
    ...                      norm_scan=[scan], stat_scan=[(scan - 1.0) ** 2 / 0.5**2])
    >>> out = recompute_errors(ds, n_sigma=2)
    >>> float(out.norm_errp[0]), float(out.norm_errn[0]), int(out.norm_errn_status[0])
    (1.0, 1.0, 0)
    """
    n_sigma = float(ds.attrs.get("n_sigma", schema.DEFAULT_N_SIGMA) if n_sigma is None else n_sigma)
    if not n_sigma > 0:
        raise FluxdsError(f"n_sigma must be > 0; found {n_sigma}")
    norm_scan, stat_scan = scan_variables(ds, "recompute_errors")
    errp, errn, st_p, st_n = apply_kernel(
        _err_kernel,
        [norm_scan, stat_scan, *_best_fit(ds, stat_scan)],
        [[SCAN], [SCAN], [], []],
        4,
        [float, float, np.int8, np.int8],
        kwargs={"n_sigma": n_sigma, "stencil": stencil},
    )
    for name, da in (("norm_errp", errp), ("norm_errn", errn)):
        da.attrs = {"units": "", "long_name": schema.VARIABLES[name].long_name}
    err = 0.5 * (errp + errn)
    err.attrs = {"units": "", "long_name": schema.VARIABLES["norm_err"].long_name}
    st_p.attrs, st_n.attrs = status_attrs("norm_errp"), status_attrs("norm_errn")
    out = ds.assign(
        norm_err=err, norm_errp=errp, norm_errn=errn, norm_errp_status=st_p, norm_errn_status=st_n
    )
    out.attrs["n_sigma"] = n_sigma
    return out
