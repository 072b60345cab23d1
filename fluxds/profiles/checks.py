"""Consistency checks: where do the stored numbers contradict the stored likelihood profile?

Per bin, :func:`check` recomputes from the profile (:mod:`fluxds.profiles.limits`) and compares:

- ``ul_mismatch``: ``norm_ul`` is not the limit at the stated confidence (``n_sigma_ul``/``ul_conf``
  attrs): ``|norm_ul - recomputed| > ul_rtol * |recomputed|``. The diagnostic ``ul_n_sigma_found`` is
  the number of sigma at which the stored ``norm_ul`` actually lies, ``sqrt(stat(norm_ul) - stat_min)``:
  a fermipy file asked for 99 % limits but holding 95 % ones shows 1.96 everywhere;
- ``norm_offset``: the stored ``norm`` is far from the profile minimum:
  ``|norm - norm_min| > norm_tol * err`` with ``err`` the profile's half ``Δstat = 1`` interval;
- ``ts_mismatch``: ``|ts - (stat_null - stat)| > ts_atol + ts_rtol * |ts|`` (stored ``stat``, else the
  profile minimum);

Bins whose check cannot be made (the quantity is not stored, or the recomputation failed) are False.
The result is a Dataset of bool flags and float diagnostics on the bins' dims; a ``UserWarning``
summarises the counts. The summary needs the numbers, so a lazy Dataset is computed here (only the
small per-bin result, once).
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from fluxds.profiles._xr import SCAN, apply_kernel, scans
from fluxds.profiles.interp import NO_RESULT, STENCIL, evaluate_profile
from fluxds.profiles.limits import profile_summary, resolve_n_sigma_ul

__all__ = ["check"]


def _kernel(norm_scan, stat_scan, norm_ul, n_sigma_ul, stencil):
    shape = np.broadcast_shapes(norm_scan.shape, stat_scan.shape)[:-1]
    if 0 in norm_scan.shape or 0 in stat_scan.shape:
        return (np.empty(shape),) * 5
    s = profile_summary(norm_scan, stat_scan, 1.0, n_sigma_ul, "minimum", stencil)
    at_ul, _ = evaluate_profile(norm_scan, stat_scan, norm_ul, stencil=stencil)
    with np.errstate(invalid="ignore"):
        found = np.sqrt(np.maximum(at_ul - s["stat"], 0.0))
    ul = np.where(s["norm_ul_status"] == NO_RESULT, np.nan, s["norm_ul"])
    return s["norm"], s["stat"], 0.5 * (s["norm_errp"] + s["norm_errn"]), ul, found


def check(
    ds: xr.Dataset,
    ul_rtol: float = 1e-2,
    norm_tol: float = 0.1,
    ts_atol: float = 0.05,
    ts_rtol: float = 1e-3,
    warn: bool = True,
    stencil: int = STENCIL,
) -> xr.Dataset:
    """Flag bins whose stored ``norm_ul``, ``norm`` or ``ts`` contradict their likelihood profile.

    Parameters
    ----------
    ds : xarray.Dataset
        With ``norm_scan``/``stat_scan``.
    ul_rtol : float
        Relative tolerance on ``norm_ul`` (coarse scans interpolate to ~1e-3).
    norm_tol : float
        Allowed ``|norm - norm_min|`` in units of the profile's 1-sigma error.
    ts_atol, ts_rtol : float
        Allowed ``|ts - (stat_null - stat)|``.
    warn : bool
        Emit a ``UserWarning`` summarising the flags (never an error).
    stencil : int
        Interpolation stencil.

    Returns
    -------
    xarray.Dataset
        ``ul_mismatch``, ``norm_offset``, ``ts_mismatch``, ``any_problem`` (bool) and the diagnostics
        ``norm_ul_expected``, ``ul_n_sigma_found``, ``norm_min``, ``stat_min``, ``norm_offset_sigma``,
        ``ts_expected``; attrs record the tolerances and the stated ``n_sigma_ul``.

    Examples
    --------
    >>> import fluxds
    >>> ds = fluxds.read(fluxds.demo_path())
    >>> report = check(ds.assign(norm_ul=ds.norm_ul * 1.1), warn=False)
    >>> bool(report.ul_mismatch.any()), bool(report.norm_offset.any())
    (True, False)
    """
    norm_scan, stat_scan = scans(ds, "check")
    n_ul, _ = resolve_n_sigma_ul(ds, None, None)
    stored_ul = ds["norm_ul"] if "norm_ul" in ds else xr.full_like(ds["stat_scan"].isel({SCAN: 0}), np.nan)
    norm_min, stat_min, err, ul, found = apply_kernel(
        _kernel,
        [norm_scan, stat_scan, stored_ul],
        [[SCAN], [SCAN], []],
        5,
        [float] * 5,
        kwargs={"n_sigma_ul": n_ul, "stencil": stencil},
    )
    words = (
        "upper limit at the stated confidence, from the profile",
        "sigma at which the stored norm_ul lies",
        "norm at the profile minimum",
        "statistic at the profile minimum",
    )
    for da, text in zip((ul, found, norm_min, stat_min), words, strict=True):
        da.attrs = {"units": "", "long_name": text}
    out = xr.Dataset(
        {
            "norm_ul_expected": ul,
            "ul_n_sigma_found": found,
            "norm_min": norm_min,
            "stat_min": stat_min,
        }
    )
    false = xr.zeros_like(norm_min, dtype=bool)
    out["ul_mismatch"] = (
        (np.abs(ds["norm_ul"] - ul) > ul_rtol * np.abs(ul)).fillna(False) if "norm_ul" in ds else false
    )
    if "norm" in ds:
        out["norm_offset_sigma"] = np.abs(ds["norm"] - norm_min) / err
        out["norm_offset"] = (out["norm_offset_sigma"] > norm_tol).fillna(False)
    else:
        out["norm_offset"] = false
    if "ts" in ds and "stat_null" in ds:
        stat = ds["stat"] if "stat" in ds else stat_min
        out["ts_expected"] = ds["stat_null"] - stat
        out["ts_mismatch"] = (
            np.abs(ds["ts"] - out["ts_expected"]) > ts_atol + ts_rtol * np.abs(ds["ts"])
        ).fillna(False)
    else:
        out["ts_mismatch"] = false
    out["any_problem"] = out["ul_mismatch"] | out["norm_offset"] | out["ts_mismatch"]
    out.attrs = dict(
        n_sigma_ul_stated=n_ul, ul_rtol=ul_rtol, norm_tol=norm_tol, ts_atol=ts_atol, ts_rtol=ts_rtol
    )
    if warn:
        flags = ("ul_mismatch", "norm_offset", "ts_mismatch")
        counts = xr.Dataset({k: out[k].sum() for k in flags}).compute()
        total = int(out["any_problem"].size)
        bad = {k: int(counts[k]) for k in flags if int(counts[k])}
        if bad:
            words = ", ".join(f"{k}: {v} of {total} bins" for k, v in bad.items())
            hint = ""
            if "ul_mismatch" in bad:
                median = float(out["ul_n_sigma_found"].where(out["ul_mismatch"]).median().compute())
                hint = f"; the stored norm_ul lies at a median {median:.3f} sigma (stated {n_ul:.6g})"
            warnings.warn(f"stored numbers contradict the likelihood profiles: {words}{hint}", stacklevel=2)
    return out
