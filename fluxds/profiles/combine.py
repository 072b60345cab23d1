"""Joint likelihoods: sum the profiles of a dimension's entries (time bins, sources, instruments).

For every remaining bin (each energy bin, each pixel ...), the entries' profiles are interpolated
(:mod:`fluxds.profiles.interp`) onto one common norm grid and summed:
``stat_sum(norm) = sum_k stat_k(norm)``. The grid is the union of the entries' scan points (so entries
sharing a grid are summed exactly, point by point), or evenly spaced norms over the union range when the
union would exceed :data:`fluxds.profiles._sum.UNION_MAX` points. Entries are extrapolated beyond their
own scan where the union range requires it.

**Different reference models.** A norm is relative to its entry's reference model. Where the
reference fluxes differ along the dimension, each entry's norm axis is rescaled to a common reference
before summing: ``norm' = norm * ref_old / ref_new`` per bin, using ``ref_flux`` (the integral over the
bin, which is what the data constrain) or, without bin edges, ``ref_dnde``. The common reference is the
first entry's (``reference="first"``, the default) or the mean over the entries (``"mean"``).

The result is a likelihood SED of the summed profile: ``norm`` (minimum of the summed profile),
``norm_errp``/``norm_errn`` at ``Δstat = n_sigma**2``, ``norm_err`` their mean, ``norm_ul`` (see
:mod:`fluxds.profiles.limits`), ``stat``, ``stat_scan``/``norm_scan`` on the common grid, and, where
``stat_null`` is stored, ``stat_null`` (summed: the null hypothesis does not depend on the reference)
and ``ts = stat_null - stat``; ``n_dof`` counts the entries. An entry without a profile in a bin
(``stat_scan`` all NaN there) adds nothing to that bin's ``stat_null``, ``ts`` or ``n_dof``.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import FluxdsError, SchemaError
from fluxds.profiles._axes import spanned_edges
from fluxds.profiles._sum import grid_size, merge_kernel
from fluxds.profiles._xr import SCAN, apply_kernel, scans, status_attrs
from fluxds.profiles.interp import STENCIL
from fluxds.profiles.limits import REFERENCES, resolve_n_sigma_ul

__all__ = ["combine", "merge_members", "REF_VARIABLES"]

REF_VARIABLES = ("ref_dnde", "ref_dnde_e_min", "ref_dnde_e_max", "ref_flux", "ref_eflux", "ref_npred")
_SUMMED_REFS = ("ref_flux", "ref_eflux", "ref_npred")
_KEEP = ("gti_start", "gti_stop")


def _rescale_reference(ds: xr.Dataset, member: str, mask: xr.DataArray, choice: str):
    """``(ratio, new_refs)``: per-entry norm-axis factor ``ref_old / ref_new`` and the common refs."""
    if choice not in ("first", "mean"):
        raise FluxdsError(f"reference={choice!r}; expected 'first' or 'mean'")
    key = "ref_flux" if "ref_flux" in ds else ("ref_dnde" if "ref_dnde" in ds else None)
    new_refs = {}
    for name in REF_VARIABLES:
        if name not in ds:
            continue
        ref = ds[name]
        if member not in ref.dims:
            new_refs[name] = ref
        elif choice == "first":
            new_refs[name] = ref.isel({member: 0}, drop=True)
        else:
            new_refs[name] = ref.where(mask).mean(member)
        new_refs[name].attrs = dict(ref.attrs)
    if key is None or member not in ds[key].dims:
        return None, new_refs
    return ds[key] / new_refs[key], new_refs


def merge_members(
    ds: xr.Dataset,
    member: str,
    mask: xr.DataArray,
    *,
    sum_references: bool,
    reference: str = "first",
    n_sigma: float | None = None,
    n_sigma_ul: float | None = None,
    ul_conf: float | None = None,
    ul_reference: str = "minimum",
    grid: int | str | None = None,
    stencil: int = STENCIL,
) -> xr.Dataset:
    """Merge the entries along ``member`` (where ``mask``) into one likelihood SED per remaining bin.

    ``sum_references=True`` (merging energy bins of one model): the norms are shared as they are and
    ``ref_flux``/``ref_eflux``/``ref_npred`` are summed; other reference variables are left to the
    caller. ``False``: norm axes are rescaled to the common reference (see the module docstring).
    Returns a Dataset without ``member`` and without coordinates along it.
    """
    if ul_reference not in REFERENCES:
        raise FluxdsError(f"ul_reference={ul_reference!r}; expected one of {REFERENCES}")
    norm_scan, stat_scan = scans(ds, "combining profiles")
    if member not in stat_scan.dims:
        raise SchemaError(
            f"stat_scan has dims {stat_scan.dims}, without {member!r}: there is nothing to combine along it"
        )
    if sum_references:
        new_refs = {k: ds[k].where(mask, 0.0).sum(member) for k in _SUMMED_REFS if k in ds}
        for k in new_refs:
            new_refs[k].attrs = dict(ds[k].attrs)
        ratio = None
    else:
        ratio, new_refs = _rescale_reference(ds, member, mask, reference)
    if ratio is not None:
        norm_scan = norm_scan * ratio
    mask = mask.reset_coords(drop=True)
    norm_scan, _ = xr.broadcast(norm_scan.reset_coords(drop=True), stat_scan)
    if stat_scan.chunks is not None:
        norm_scan = norm_scan.chunk({member: -1, SCAN: -1})
        stat_scan = stat_scan.chunk({member: -1, SCAN: -1})
    n_sigma = float(ds.attrs.get("n_sigma", schema.DEFAULT_N_SIGMA) if n_sigma is None else n_sigma)
    n_ul, conf = resolve_n_sigma_ul(ds, n_sigma_ul, ul_conf)
    size = grid_size(ds.sizes[member], ds.sizes[SCAN], grid)
    out = apply_kernel(
        merge_kernel,
        [norm_scan, stat_scan, mask],
        [[member, SCAN], [member, SCAN], [member]],
        10,
        [float] * 7 + [np.int8] * 3,
        kwargs=dict(size=size, n_sigma=n_sigma, n_sigma_ul=n_ul, reference=ul_reference, stencil=stencil),
        output_core_dims=[["_grid"], ["_grid"]] + [[]] * 8,
        output_sizes={"_grid": size},
    )
    names = ("norm_scan", "stat_scan", "norm", "stat", "norm_errp", "norm_errn", "norm_ul")
    names += ("norm_errp_status", "norm_errn_status", "norm_ul_status")
    data = {
        name: da.rename({"_grid": SCAN}) if "_grid" in da.dims else da
        for name, da in zip(names, out, strict=True)
    }
    data["norm_err"] = 0.5 * (data["norm_errp"] + data["norm_errn"])
    # an entry counts (in stat_null, ts and n_dof) only where it has a profile: one without (all-NaN
    # stat_scan) adds nothing to the summed profile, so its stat_null must not enter the test either
    has_profile = (np.isfinite(stat_scan) & np.isfinite(norm_scan)).any(SCAN)
    counted = mask & has_profile
    if "stat_null" in ds:
        null = ds["stat_null"].reset_coords(drop=True)
        data["stat_null"] = null.where(counted, 0.0).sum(member)
        data["ts"] = data["stat_null"] - data["stat"]
    data["n_dof"] = counted.sum(member).astype(float)
    for name, da in data.items():
        spec = schema.VARIABLES[name]
        da.attrs = status_attrs(name[: -len("_status")]) if name.endswith("_status") else {}
        if not name.endswith("_status"):
            da.attrs = {"units": spec.unit or "", "long_name": spec.long_name}
    data.update(new_refs)
    data.update({k: ds[k] for k in _KEEP if k in ds and member not in ds[k].dims})
    result = xr.Dataset(data)
    result = result.drop_vars([c for c in result.coords if member in result[c].dims], errors="ignore")
    keep = {c: ds[c] for c in ds.coords if member not in ds[c].dims and set(ds[c].dims) <= set(result.dims)}
    result = result.assign_coords(keep)
    result = result.transpose(*schema.canonical_dims(result.dims))
    result.attrs = dict(ds.attrs)
    result.attrs.update(n_sigma=n_sigma, n_sigma_ul=n_ul, ul_conf=conf, ul_reference=ul_reference)
    return result


def combine(
    ds: xr.Dataset,
    dim: str,
    reference: str = "first",
    n_sigma: float | None = None,
    n_sigma_ul: float | None = None,
    ul_conf: float | None = None,
    ul_reference: str = "minimum",
    grid: int | str | None = None,
    stencil: int = STENCIL,
) -> xr.Dataset:
    """The joint likelihood SED of all entries along ``dim`` (profiles summed; see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A likelihood SED with ``norm_scan``/``stat_scan`` varying along ``dim``.
    dim : str
        E.g. ``"time"`` (a light curve -> one SED), ``"source"`` (stacking), ``"instrument"``.
    reference : {"first", "mean"}
        Common reference model where the entries' reference fluxes differ.
    n_sigma, n_sigma_ul, ul_conf : float, optional
        Errors and limit of the result; default the Dataset's attrs (1 sigma, 2 sigma).
    ul_reference : {"minimum", "zero"}
        Limit rule (see :func:`fluxds.profiles.limits.recompute_ul`).
    grid : "union" or int, optional
        Common norm grid: the union of the scan points (default while it has at most 400 points) or
        that many evenly spaced norms over the union range.
    stencil : int
        Interpolation stencil.

    Returns
    -------
    xarray.Dataset
        Without ``dim``. Along a binned axis (:data:`fluxds.schema.BINNED_AXES`: ``time``, ``phase``,
        ``energy``, ``region``) the scalar edge coordinates (``time_min``/``time_max``,
        ``phase_min``/``phase_max`` ...) span the entries.

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds.construct import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> mu, sigma = np.array([[0.8], [1.4]]), np.array([[0.2], [0.4]])
    >>> scan = np.broadcast_to(np.linspace(0.0, 3.0, 13), (2, 1, 13))
    >>> ds = from_likelihood(mu, energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=pl,
    ...                      dims=("source", "energy"), coords={"source": ["a", "b"]},
    ...                      norm_scan=scan, stat_scan=((scan - mu[..., None]) / sigma[..., None]) ** 2)
    >>> joint = combine(ds, "source")
    >>> round(float(joint.norm[0]), 12), round(float(joint.norm_err[0]), 12)  # inverse-variance mean
    (0.92, 0.1788854382)
    """
    from fluxds.collection import refuse_collection

    refuse_collection(ds, dim, "combine")
    if dim not in ds.dims:
        raise SchemaError(
            f"combine: the Dataset has no dimension {dim!r} (dims: {', '.join(map(str, ds.dims))})"
        )
    mask = xr.DataArray(np.ones(ds.sizes[dim], dtype=bool), dims=(dim,))
    out = merge_members(
        ds,
        dim,
        mask,
        sum_references=False,
        reference=reference,
        n_sigma=n_sigma,
        n_sigma_ul=n_sigma_ul,
        ul_conf=ul_conf,
        ul_reference=ul_reference,
        grid=grid,
        stencil=stencil,
    )
    out = out.assign_coords(spanned_edges(ds, dim))  # a binned axis: scalar edges spanning its entries
    out.attrs["combined_over"] = dim
    return out
