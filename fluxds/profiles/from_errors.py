"""Likelihood profiles approximated from published values, errors and upper limits.

Published flux points (papers, catalogs, compilations) give a value with symmetric or asymmetric errors,
or an upper limit, but no likelihood profile (``stat_scan``). What a joint fit needs is each point's
``-2 log L`` as a function of the norm; this module builds the standard approximation of it on a
``norm_scan`` grid, so that the castro fit (:mod:`fluxds.profiles.castro_fit`), limits and plots work
on such points unchanged. Everything built here is marked as approximated (:data:`APPROXIMATED`).

**A measured point** ``n0`` with errors ``σ+`` (``norm_errp``) above and ``σ-`` (``norm_errn``) below, or
``norm_err`` for both (where ``norm_errp``/``norm_errn`` are missing or NaN), at ``n_sigma`` (the
Dataset's ``n_sigma``: errors are ``n_sigma``-sigma errors, default 1): two half-parabolas meeting at
``n0``,

    Δstat = n_sigma² ((norm - n0) / σ+)²   for norm ≥ n0,
    Δstat = n_sigma² ((norm - n0) / σ-)²   for norm < n0.

This is the "asymmetric Gaussian" every joint fit of published points uses; for symmetric errors it is
the χ² term ``((norm - n0) / σ)²``. It is exactly gammapy's ``FluxPointsDataset(stat_type="distrib")``
term for a measured point (:class:`gammapy.stats.fit_statistics.Chi2AsymmetricErrorFitStatistic`:
``((model - dnde) / scale)²`` with ``scale = dnde_errp`` where the model lies above the value,
``dnde_errn`` below, ``dnde_err`` where those are NaN), in norms instead of ``dnde`` (the same with
``weighting="dnde"``, since ``norm = dnde / ref_dnde``).

**An upper limit** ``n_ul`` (``norm_ul`` where ``is_ul``; the limit wins over a value and errors stored
beside it, as in gammapy and the GADF spec) at ``n_sigma_ul`` (from the Dataset's ``ul_conf`` or
``n_sigma_ul``, default 2): the profile of a measurement at the physical boundary zero whose
``n_sigma_ul``-sigma limit is ``n_ul``,

    Δstat = n_sigma_ul² (norm / n_ul)²,

zero at zero norm, ``n_sigma_ul²`` at the limit (2.71 for a one-sided, 3.84 for a two-sided 95 % limit),
rising without bound above. It is the profile that gives the very limit back: fluxds's
:func:`~fluxds.profiles.limits.recompute_ul` on it returns ``n_ul`` (and ``recompute_errors`` on a measured
point returns ``σ±``). Below zero norm (unphysical; a positive spectral model never predicts it) the
parabola continues. gammapy's ``distrib`` statistic models a limit differently:
``2 ln[erfc((n_ul - m) / n_ul) / erfc(1)]``, 0 at ``m = 0``, 3.70 at the limit whatever its confidence
level, and bounded (at most 5.09 however far the model lies above the limit); with this module a model
twice above a 95 % limit costs ``4 x 3.84 = 15.4``.

**Points with neither** (a value without errors, a limit flag without a limit) get NaN profiles: the
castro likelihood leaves them out (``n_bins`` counts the others).

**The grid.** ``norm = n0 ± σ± t`` for ``t`` in 0 and 24 geometric steps from 1e-4 to 8 on each side (49
points; :data:`T_GRID`): each side is a parabola, which the profile interpolant (exact on cubics) and its
end-parabola extrapolation reproduce exactly; only the kink at ``n0`` (where the two curvatures meet) is
approximated, to below 1e-8 in Δstat for ``σ+/σ- ≤ 10``. ``stat_scan`` is Δstat (zero at the minimum).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import MissingQuantityError

__all__ = ["profiles_from_errors", "APPROXIMATED", "PROFILES_ATTR", "T_GRID", "is_approximated"]

#: Steps (in units of each side's error) of the approximated profiles' grid, from the centre outwards.
T_GRID = np.concatenate([[0.0], np.geomspace(1e-4, 8.0, 24)])

#: The Dataset attribute (and the ``note`` of ``stat_scan``) marking profiles approximated here.
PROFILES_ATTR = "profiles_origin"
APPROXIMATED = (
    "approximated from values and errors (two half-parabolas) and upper limits (a parabola from zero "
    "reaching n_sigma_ul**2 at the limit): fluxds.profiles.from_errors"
)


def is_approximated(ds: xr.Dataset) -> bool:
    """Whether the profiles of ``ds`` were approximated by :func:`profiles_from_errors`."""
    return str(ds.attrs.get(PROFILES_ATTR, "")).startswith("approximated")


def _stored(ds: xr.Dataset, name: str) -> xr.DataArray | None:
    return ds[name] if name in ds.data_vars else None


def profiles_from_errors(
    ds: xr.Dataset,
    *,
    n_sigma: float | None = None,
    n_sigma_ul: float | None = None,
    ul_conf: float | None = None,
    only_missing: bool = False,
) -> xr.Dataset:
    """``ds`` with likelihood profiles (``norm_scan``, ``stat_scan``) approximated from its values, errors
    and upper limits (see the module's documentation for the shapes).

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset (any dims: a grid, a collection) with ``norm`` and ``norm_errp``/``norm_errn``
        and/or ``norm_err``, and/or ``norm_ul`` with ``is_ul`` (any SED type read: norms are what
        fluxds stores).
    n_sigma : float, optional
        What the errors are: ``n_sigma``-sigma errors; default the Dataset's ``n_sigma`` (else 1).
    n_sigma_ul, ul_conf : float, optional
        The limits' confidence; default the Dataset's ``ul_conf``/``n_sigma_ul`` (else 2 sigma), with its
        ``ul_sidedness``.
    only_missing : bool
        Keep the stored profiles where they are finite and approximate only the points whose profile is
        missing (all NaN) or that have none; the scans are NaN-padded to a common length.

    Returns
    -------
    xarray.Dataset
        With ``norm_scan`` and ``stat_scan`` on ``(..., energy, scan)`` (NaN for points with neither
        errors nor a limit), ``stat_scan`` noted as approximated, and ``attrs["profiles_origin"]``
        (:data:`APPROXIMATED`; with ``only_missing``, how many points it applies to).

    Raises
    ------
    MissingQuantityError
        The Dataset holds neither errors nor upper limits.

    Examples
    --------
    >>> import astropy.units as u
    >>> from fluxds import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> ref = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> ds = from_likelihood([2.0, 0.5], energy_min=[1, 3] * u.TeV, energy_max=[3, 10] * u.TeV,
    ...                      reference_model=ref, norm_errp=[0.2, 0.1], norm_errn=[0.1, 0.1],
    ...                      norm_ul=[float("nan"), 1.0], is_ul=[False, True], ul_conf=0.95)
    >>> out = profiles_from_errors(ds)
    >>> from fluxds.profiles import evaluate_profile
    >>> stat, _ = evaluate_profile(out.norm_scan.values, out.stat_scan.values, [2.4, 1.0])
    >>> [round(float(s), 6) for s in stat]  # (0.4 / 0.2)**2 above the value; 1.959964**2 at the limit
    [4.0, 3.841459]
    """
    from fluxds.convert import get_quantity
    from fluxds.profiles.limits import resolve_n_sigma_ul

    n_sig = float(ds.attrs.get("n_sigma", schema.DEFAULT_N_SIGMA) if n_sigma is None else n_sigma)
    n_ul, _ = resolve_n_sigma_ul(ds, n_sigma_ul, ul_conf)
    norm, err = _stored(ds, "norm"), _stored(ds, "norm_err")
    errp, errn = _stored(ds, "norm_errp"), _stored(ds, "norm_errn")
    limit = _stored(ds, "norm_ul")
    if all(v is None for v in (err, errp, errn, limit)) or (norm is None and limit is None):
        raise MissingQuantityError(
            "approximating likelihood profiles needs values with errors (norm with norm_err, or "
            "norm_errp/norm_errn) or upper limits (norm_ul); this Dataset has "
            f"{sorted(ds.data_vars)}"
        )
    nan = xr.full_like(ds["norm"] if norm is not None else limit, np.nan, dtype=float)
    err = nan if err is None else err
    above = err if errp is None else errp.where(np.isfinite(errp), err)
    below = err if errn is None else errn.where(np.isfinite(errn), err)
    if limit is not None:
        is_ul = get_quantity(ds, "is_ul").astype(bool) & np.isfinite(limit) & (limit > 0)
    else:
        is_ul = xr.zeros_like(nan, dtype=bool)
    value = nan if norm is None else norm
    measured = ~is_ul & np.isfinite(value) & (above > 0) & (below > 0) & np.isfinite(above + below)
    t = xr.DataArray(np.concatenate([-T_GRID[:0:-1], T_GRID]), dims="scan")
    width = xr.where(t < 0, below, above)
    centre = xr.where(is_ul, 0.0, value)
    width = xr.where(is_ul, limit if limit is not None else nan, width)
    norm_scan = (centre + width * t).where(measured | is_ul)
    stat_scan = (xr.where(is_ul, n_ul, n_sig) * t) ** 2
    stat_scan = stat_scan.where(measured | is_ul)
    norm_scan, stat_scan = xr.broadcast(norm_scan, stat_scan)
    dims = (*schema.canonical_dims([d for d in norm_scan.dims if d != "scan"]), "scan")
    norm_scan, stat_scan = norm_scan.transpose(*dims), stat_scan.transpose(*dims)
    note = APPROXIMATED
    if only_missing and "stat_scan" in ds.data_vars and "norm_scan" in ds.data_vars:
        norm_scan, stat_scan, count = _fill_missing(ds, norm_scan, stat_scan)
        note = f"{APPROXIMATED}; for the {count} point(s) without a stored profile"
    norm_scan.attrs = {"units": "", "long_name": schema.VARIABLES["norm_scan"].long_name}
    stat_scan.attrs = {"units": "", "long_name": schema.VARIABLES["stat_scan"].long_name, "note": note}
    out = ds.assign(norm_scan=norm_scan.variable, stat_scan=stat_scan.variable)  # the coordinates of ds
    out.attrs[PROFILES_ATTR] = note
    return out


def _fill_missing(ds: xr.Dataset, norm_scan: xr.DataArray, stat_scan: xr.DataArray):
    """The stored profiles, with the approximated ones where a point has no finite profile value."""
    stored_n, stored_s = ds["norm_scan"], ds["stat_scan"]
    have = (np.isfinite(stored_n) & np.isfinite(stored_s)).any("scan")
    size = max(stored_n.sizes["scan"], norm_scan.sizes["scan"])

    def padded(da):
        extra = size - da.sizes["scan"]
        return da.pad(scan=(0, extra)) if extra else da

    new_n = xr.where(have, padded(stored_n), padded(norm_scan))
    new_s = xr.where(have, padded(stored_s), padded(stat_scan))
    approximated = ~have & np.isfinite(norm_scan).any("scan")
    dims = (*schema.canonical_dims([d for d in new_n.dims if d != "scan"]), "scan")
    return new_n.transpose(*dims), new_s.transpose(*dims), int(approximated.sum())
