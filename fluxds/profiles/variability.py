"""Variability along time (or any dimension) from likelihood profiles: fermipy's TS_var, and Fvar.

**TS_var** (fermipy's ``ts_var``, Nolan et al. 2012, 2FGL, §3.6): the likelihood of one constant flux
for all bins against an independent flux in each bin,

    TS_var = Σ_i [ stat_i(norm_const) - min stat_i ],

where ``stat_i`` is bin ``i``'s profile (``-2 log L``) and ``norm_const`` minimises ``Σ_i stat_i``. It
is χ²-distributed with ``n - 1`` degrees of freedom (``n`` bins with a finite profile) for a constant
source; ``p_value`` is the χ² survival function and ``sigma`` its one-sided Gaussian equivalent.

**Common reference.** Each bin's norm is relative to its own reference (``ref_flux`` if stored, else
``ref_dnde``); the profiles are put on the mean reference along the dimension first
(``norm' = norm * ref_i / ref_mean``, as when combining profiles), so ``norm_const`` is relative to
``ref_mean`` (returned as ``ref``).

**Energy.** By default every energy bin is tested on its own. With ``combine_energy=True`` the test is
on the band: a bin's profile is the sum over energy of its profiles at one common norm (the reference
spectral shape with a free normalisation).

**Simpler estimates** from ``norm``/``norm_err`` (per energy bin): ``chi2`` about the inverse-variance
weighted mean, its ``p_value_chi2``, and the fractional variability
``fvar = sqrt(S² - <err²>) / <norm>`` (Vaughan et al. 2003, eq. 10; NaN where the excess variance is
negative).

Minima of summed profiles are found on all bins at once: a grid over the union of the scan ranges,
then zooming in on the best point (no Python loop over bins).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds.errors import SchemaError
from fluxds.profiles._axes import spanned_edges
from fluxds.profiles.castro import profile_arrays
from fluxds.profiles.interpolant import Interpolant

__all__ = ["variability"]

# Minimisation: a grid over the union of the scan ranges, then zooming in. The profiles are interpolated
# once (an Interpolant); each step evaluates them at all its points: the bracket of 2 grid spacings
# shrinks 8-fold per step, to ~1e-10 of the scan range after 9 steps.
_GRID = 101
_ZOOM_POINTS = 17
_ZOOM_STEPS = 9


def _bracket(x: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours of the smallest ``f`` along the last axis (NaN counts as +inf)."""
    best = np.argmin(np.where(np.isnan(f), np.inf, f), axis=-1)[..., None]
    last = x.shape[-1] - 1
    a = np.take_along_axis(x, np.clip(best - 1, 0, last), axis=-1)[..., 0]
    b = np.take_along_axis(x, np.clip(best + 1, 0, last), axis=-1)[..., 0]
    return a, b


def _summed(f: Interpolant, valid, x, k: int) -> np.ndarray:
    """``Σ`` over the last ``k`` bin axes of the profiles ``f`` at query points ``x``, shape ``(..., q)``."""
    xq = x.reshape(x.shape[:-1] + (1,) * k + x.shape[-1:])
    stat, _ = f(xq, points=True)
    stat = np.where(valid[..., None], stat, 0.0)
    return stat.sum(axis=tuple(range(-k - 1, -1)))


def minimise_summed(
    ns: np.ndarray, ss: np.ndarray, valid: np.ndarray, k: int, interpolant: Interpolant | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Minimum of the sum of profiles over their last ``k`` bin axes, within the union of scan ranges.

    Parameters
    ----------
    ns, ss : numpy.ndarray, (..., A_1 ... A_k, scan)
        Norm and stat scans (all on one common reference).
    valid : numpy.ndarray of bool, (..., A_1 ... A_k)
        Bins taking part in the sum.
    k : int
        Number of summed axes.
    interpolant : Interpolant, optional
        The profiles ``ns, ss`` already interpolated (built here if not given).

    Returns
    -------
    norm, stat : numpy.ndarray, (...)
        Where the summed profile is smallest and its value there; NaN where no bin is valid.
    """
    f = Interpolant(ns, ss) if interpolant is None else interpolant
    axes = tuple(range(-k - 1, 0))
    scan_ok = valid[..., None] & np.isfinite(ns)
    with np.errstate(invalid="ignore"):
        lo = np.min(np.where(scan_ok, ns, np.inf), axis=axes)
        hi = np.max(np.where(scan_ok, ns, -np.inf), axis=axes)
    empty = ~np.isfinite(lo) | ~np.isfinite(hi)
    lo, hi = np.where(empty, 0.0, lo), np.where(empty, 1.0, hi)
    grid = lo[..., None] + (hi - lo)[..., None] * np.linspace(0.0, 1.0, _GRID)
    values = _summed(f, valid, grid, k)
    a, b = _bracket(grid, values)
    for _ in range(_ZOOM_STEPS):  # each step: 17 points across the bracket, keep the best +- 1
        pts = a[..., None] + (b - a)[..., None] * np.linspace(0.0, 1.0, _ZOOM_POINTS)
        a, b = _bracket(pts, _summed(f, valid, pts, k))
    x = 0.5 * (a + b)
    value = _summed(f, valid, x[..., None], k)[..., 0]
    return np.where(empty, np.nan, x), np.where(empty, np.nan, value)


def _ts_var_core(ns, ss, combine_energy: bool):
    """Core dims ``(time, energy, scan)`` -> ``ts_var, n_bins, norm_const`` (with or without energy)."""
    ns, ss = np.broadcast_arrays(np.asarray(ns, float), np.asarray(ss, float))
    valid = (np.isfinite(ns) & np.isfinite(ss)).all(axis=-1)
    if combine_energy:
        f = Interpolant(ns, ss)
        _, stat_min = minimise_summed(ns, ss, valid, 1, f)  # per time bin, summed over energy: (..., T)
        norm_const, stat_const = minimise_summed(ns, ss, valid, 2, f)
        used = valid.any(axis=-1)
    else:
        # time becomes the summed axis: (..., E, T, scan)
        ns_t, ss_t = np.swapaxes(ns, -3, -2), np.swapaxes(ss, -3, -2)
        f = Interpolant(ns_t, ss_t)
        stat_min = np.swapaxes(f.minimum()[1], -2, -1)  # (..., T, E)
        norm_const, stat_const = minimise_summed(ns_t, ss_t, np.swapaxes(valid, -2, -1), 1, f)
        used = valid
    min_sum = np.where(used, stat_min, 0.0).sum(axis=-1 if combine_energy else -2)
    n_bins = used.sum(axis=-1 if combine_energy else -2)
    ts = np.maximum(stat_const - min_sum, 0.0)
    return ts, n_bins, norm_const


def _reference(ds: xr.Dataset, dim: str) -> xr.DataArray:
    for name in ("ref_flux", "ref_dnde"):
        if name in ds:
            return ds[name]
    raise SchemaError(
        f"variability needs 'ref_flux' or 'ref_dnde' to compare the bins along {dim!r}; found neither"
    )


def _simple_estimates(ds: xr.Dataset, dim: str, factor: xr.DataArray) -> dict[str, xr.DataArray]:
    """``chi2`` about the weighted mean, its p-value, and ``fvar``, from ``norm``/``norm_err``."""
    from scipy.stats import chi2 as chi2_dist

    norm, err = ds["norm"] * factor, ds["norm_err"] * factor
    ok = np.isfinite(norm) & np.isfinite(err) & (err > 0)
    norm, err = norm.where(ok), err.where(ok)
    w = 1.0 / err**2
    mean_w = (w * norm).sum(dim) / w.sum(dim)
    chi2 = (w * (norm - mean_w) ** 2).sum(dim)
    n = ok.sum(dim)
    excess = norm.var(dim, ddof=1) - (err**2).mean(dim)
    fvar = np.sqrt(excess.where(excess >= 0)) / norm.mean(dim)
    p = xr.apply_ufunc(chi2_dist.sf, chi2, n - 1, dask="parallelized", output_dtypes=[float])
    return {"chi2": chi2, "p_value_chi2": p.where(n > 1), "fvar": fvar}


def variability(ds: xr.Dataset, dim: str = "time", *, combine_energy: bool = False) -> xr.Dataset:
    """Test the bins along ``dim`` for variability: fermipy's TS_var from the profiles, and Fvar.

    Parameters
    ----------
    ds : xarray.Dataset
        Likelihood estimate with ``stat_scan``/``norm_scan`` on ``(..., dim, ..., energy, scan)``
        (a light curve: ``dim="time"``); other dimensions (``source`` ...) are tested independently.
    dim : str
        The dimension along which a constant flux is tested.
    combine_energy : bool
        Test the band (the profiles summed over energy at one common norm) instead of each bin.

    Returns
    -------
    xarray.Dataset
        ``ts_var``, ``dof`` (bins with a profile minus 1), ``p_value`` (χ² survival function),
        ``sigma`` (its one-sided Gaussian equivalent), ``norm_const`` (the best constant norm,
        relative to ``ref``, the mean reference along ``dim``), and, per energy bin when ``norm``
        and ``norm_err`` are stored, ``chi2``, ``p_value_chi2`` and ``fvar``. Along a binned axis
        with edges (``time``, ``phase`` ...), scalar edge coordinates (``time_min``/``time_max`` ...)
        give the range tested. Lazy on dask.

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds import from_likelihood
    >>> from fluxds.models import default_reference_model
    >>> norm, err = np.array([1.0, 2.0, 1.5]), np.array([0.5, 0.5, 1.0])
    >>> scan = np.linspace(-2, 5, 15)
    >>> ds = from_likelihood(norm[:, None], norm_err=err[:, None], energy_min=[1] * u.TeV,
    ...                      energy_max=[10] * u.TeV, dims=("time", "energy"),
    ...                      reference_model=default_reference_model(),
    ...                      norm_scan=np.broadcast_to(scan, (3, 1, 15)),
    ...                      stat_scan=((scan - norm[:, None]) / err[:, None])[:, None] ** 2)
    >>> result = variability(ds)
    >>> mean = np.sum(norm / err**2) / np.sum(1 / err**2)  # the χ² about the weighted mean
    >>> bool(np.isclose(result["ts_var"], np.sum(((norm - mean) / err) ** 2)))
    True
    >>> result["dof"].values  # one energy bin
    array([2])
    """
    from scipy.stats import chi2 as chi2_dist
    from scipy.stats import norm as gauss

    if dim not in ds.dims:
        raise SchemaError(
            f"variability along {dim!r}: the Dataset has no such dimension (dims {list(ds.dims)})"
        )
    norm_scan, stat_scan = xr.broadcast(*profile_arrays(ds))  # a shared grid may lack some dims
    ref = _reference(ds, dim)
    ref_mean = ref.mean(dim) if dim in ref.dims else ref
    factor = ref / ref_mean  # norm relative to ref_i -> relative to ref_mean
    norm_scan = norm_scan * factor
    core = [dim, "energy", "scan"]
    out_core = [] if combine_energy else ["energy"]
    ts, n_bins, norm_const = xr.apply_ufunc(
        _ts_var_core,
        norm_scan,
        stat_scan,
        kwargs={"combine_energy": combine_energy},
        input_core_dims=[core, core],
        output_core_dims=[out_core] * 3,
        dask="parallelized",
        output_dtypes=[float, int, float],
    )
    dof = n_bins - 1
    p_value = xr.apply_ufunc(chi2_dist.sf, ts, dof, dask="parallelized", output_dtypes=[float])
    p_value = p_value.where(dof > 0)
    out = xr.Dataset(
        {
            "ts_var": ts.assign_attrs(units="", long_name="TS_var = sum_i stat_i(norm_const) - min stat_i"),
            "dof": dof.assign_attrs(
                long_name=f"degrees of freedom: bins along {dim} with a profile, minus 1"
            ),
            "p_value": p_value.assign_attrs(units="", long_name="chi2 survival function of ts_var"),
            "sigma": xr.apply_ufunc(
                gauss.isf, p_value, dask="parallelized", output_dtypes=[float]
            ).assign_attrs(units="", long_name="one-sided Gaussian significance of p_value"),
            "norm_const": norm_const.assign_attrs(units="", long_name="best constant norm, relative to ref"),
        }
    )
    out["ref"] = ref_mean
    if not combine_energy and "norm" in ds and "norm_err" in ds:
        out.update(_simple_estimates(ds, dim, factor))
    out = out.assign_coords(spanned_edges(ds, dim))  # the range tested, on a binned axis (time, phase ...)
    out.attrs = {"dim": dim, "combine_energy": int(combine_energy), "reference_variable": ref.name}
    return out
