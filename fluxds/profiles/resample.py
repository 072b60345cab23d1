"""Merging neighbouring bins along energy, time or any binned axis by summing their likelihood profiles.

Groups of consecutive entries along ``dim`` are chosen by ``edges`` (entries whose centre lies in
``[edges[g], edges[g+1])``), ``group_size`` (``k`` consecutive entries, the last group possibly
smaller) or ``min_ts`` (greedy: each group grows until the TS of its summed profile reaches
``min_ts``; a remainder below it joins the previous group). Each group becomes one bin whose profile is
the sum of the members' profiles (:mod:`fluxds.profiles.combine`), with ``n_dof`` the number of
members. Everything along other dimensions (sources, a second energy axis of a multi-energy light
curve ...) is carried along: the merge is one vectorised, dask-lazy operation.

**Along energy** the bins share one reference model, so their norms are one parameter and the profiles
are summed at equal norm; ``ref_flux``, ``ref_eflux`` and ``ref_npred`` are summed, the new edges span
the group, the new reference energy is ``sqrt(e_min * e_max)`` and ``ref_dnde`` is the reference model
there (without a stored model: the power law through the first and last member's ``ref_dnde``; a
one-member group keeps its ``e_ref`` and ``ref_dnde``).

**Along time** the energy axis is unchanged; the references are the first member's (norm axes rescaled
where the references differ, see :mod:`fluxds.profiles.combine`); the new bin spans ``time_min`` of the
first to ``time_max`` of the last member.

**Along any other binned axis** of :data:`fluxds.schema.BINNED_AXES` (``phase``, the ``region`` distance
``x_ref``) the references are merged as along time, and the new bin spans its members' edges, with its
centre at their linear midpoint (a one-member group keeps its centre; :mod:`fluxds.profiles._axes`).
Along a dimension that is not a binned axis (``source``) no coordinate along it survives.

gammapy's ``FluxPoints.resample_axis`` takes the curvature from ``scipy.optimize.minimize``'s
``hess_inv``, which is not the inverse Hessian of the profile (L-BFGS-B's approximation), so its
``norm_err`` is 1.0 on clean parabolas and about 1/sqrt(2) of the truth on real profiles; here the
errors come from the ``Δstat = n_sigma**2`` crossings of the summed profile (``docs/gammapy_differences.md``).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.collection import refuse_collection
from fluxds.construct import require_scan_reference
from fluxds.errors import FluxdsError, SchemaError
from fluxds.profiles._axes import group_centres, merged_coords
from fluxds.profiles._pieces import build, pieces_minimum
from fluxds.profiles._sum import common_grid
from fluxds.profiles.combine import merge_members
from fluxds.profiles.interp import STENCIL, evaluate_profile

__all__ = ["resample", "group_labels"]

_MEMBER = "_member"
_EDGE_COORDS = tuple(name for axis in schema.BINNED_AXES.values() for name in axis.coords if name != axis.dim)


def _groups_from_labels(labels: np.ndarray) -> list[np.ndarray]:
    labels = np.asarray(labels)
    keep = labels >= 0
    return [np.flatnonzero(labels == g) for g in np.unique(labels[keep])]


def _centres(ds: xr.Dataset, dim: str) -> tuple[np.ndarray, str | None]:
    """The numbers compared with ``edges=`` and the coordinate whose unit they are in."""
    found = group_centres(ds, dim)
    if found is not None:
        return found
    if dim not in ds.coords:
        raise SchemaError(f"resample by edges needs a coordinate on {dim!r}; the Dataset has none")
    return np.asarray(ds[dim].values), dim


def _min_ts_groups(ds: xr.Dataset, dim: str, min_ts: float, stencil: int) -> list[np.ndarray]:
    """Greedy grouping on the TS of the summed profiles (computes the profiles: the groups set the shape)."""
    if "stat_null" not in ds:
        raise SchemaError("resample(min_ts=...) needs 'stat_null' to compute the TS of merged bins")
    stat_scan = ds["stat_scan"]
    extra = [d for d in stat_scan.dims if d not in (dim, "scan") and stat_scan.sizes[d] > 1]
    if extra:
        raise SchemaError(
            f"resample(min_ts=...) chooses one grouping for the whole Dataset; stat_scan also varies "
            f"along {extra}: select one entry of those first, or use edges=/group_size="
        )
    other = [d for d in stat_scan.dims if d not in (dim, "scan")]
    stat = stat_scan.isel({d: 0 for d in other}).transpose(dim, "scan").values
    norm = (
        xr.broadcast(ds["norm_scan"], stat_scan)[0].isel({d: 0 for d in other}).transpose(dim, "scan").values
    )
    null = xr.broadcast(ds["stat_null"], ds["norm"])[0]
    null = null.isel({d: 0 for d in null.dims if d != dim}).values
    valid = np.isfinite(norm) & np.isfinite(stat)
    grid = common_grid(norm[None], valid[None], norm.size)[0]
    values = evaluate_profile(
        norm, np.where(valid, stat, np.nan), np.broadcast_to(grid, (len(stat), grid.size))
    )[0]
    cum = np.concatenate([np.zeros((1, grid.size)), np.cumsum(values, axis=0)])
    cum_null = np.concatenate([[0.0], np.cumsum(null)])
    n = len(stat)
    groups, start = [], 0
    while start < n:  # one iteration per output group, each vectorised over the candidate ends
        ends = np.arange(start + 1, n + 1)
        summed = cum[ends] - cum[start]
        p = build(np.broadcast_to(grid, summed.shape), summed, stencil)
        ts = (cum_null[ends] - cum_null[start]) - pieces_minimum(p)[1]
        ok = np.flatnonzero(ts >= min_ts)
        if ok.size == 0:
            if groups:
                groups[-1] = np.arange(groups[-1][0], n)
            else:
                groups.append(np.arange(start, n))
            break
        groups.append(np.arange(start, ends[ok[0]]))
        start = ends[ok[0]]
    return groups


def group_labels(
    ds: xr.Dataset,
    dim: str,
    edges=None,
    group_size: int | None = None,
    min_ts: float | None = None,
    stencil: int = STENCIL,
) -> list[np.ndarray]:
    """The groups of entry indices along ``dim`` (see the module docstring for the three rules)."""
    given = [
        name
        for name, v in (("edges", edges), ("group_size", group_size), ("min_ts", min_ts))
        if v is not None
    ]
    if len(given) != 1:
        raise FluxdsError(
            f"resample needs exactly one of edges=, group_size=, min_ts=; got {given or 'none'}"
        )
    n = ds.sizes[dim]
    if group_size is not None:
        if int(group_size) < 1:
            raise FluxdsError(f"group_size must be >= 1; found {group_size}")
        return _groups_from_labels(np.arange(n) // int(group_size))
    if min_ts is not None:
        return _min_ts_groups(ds, dim, float(min_ts), stencil)
    centres, unit_of = _centres(ds, dim)
    if hasattr(edges, "unit") and dim == schema.ENERGY:
        edges = edges.to_value(ds[schema.ENERGY].attrs.get("units", "TeV"))
    elif hasattr(edges, "unit") and unit_of is not None and "units" in ds[unit_of].attrs:
        edges = edges.to_value(ds[unit_of].attrs["units"])
    edges = np.asarray(edges)
    labels = np.searchsorted(edges, centres, side="right") - 1
    labels[(labels < 0) | (labels >= len(edges) - 1)] = -1
    groups = _groups_from_labels(labels)
    if not groups:
        raise FluxdsError(f"resample: no entry of {dim!r} lies within the edges {edges.tolist()}")
    return groups


def _ref_dnde(ds: xr.Dataset, gathered: xr.Dataset, mask: xr.DataArray, e_ref: np.ndarray):
    """``ref_dnde`` at the new reference energies: the model, else a power law through the members."""
    import astropy.units as u

    from fluxds.construct import reference_model_of
    from fluxds.models import SpectralModel

    ref = gathered["ref_dnde"]
    model = reference_model_of(ds)
    unit = ds["ref_dnde"].attrs.get("units", schema.VARIABLES["ref_dnde"].unit)
    e_unit = ds[schema.ENERGY].attrs.get("units", "TeV")
    if isinstance(model, SpectralModel) and schema.ENERGY in ref.dims and ref.ndim == 2:
        values = model.dnde(e_ref * u.Unit(e_unit)).to_value(unit)
        return xr.DataArray(values, dims=(schema.ENERGY,), attrs=dict(ds["ref_dnde"].attrs))
    last = mask.sum(_MEMBER) - 1
    e = gathered[schema.ENERGY]
    r_a, r_b = ref.isel({_MEMBER: 0}), ref.isel({_MEMBER: last})
    e_a, e_b = e.isel({_MEMBER: 0}), e.isel({_MEMBER: last})
    e_new = xr.DataArray(e_ref, dims=(schema.ENERGY,))
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.log(r_b / r_a) / np.log(e_b / e_a)
    out = (r_a * (e_new / e_a) ** slope.fillna(0.0)).where(last > 0, r_a)
    out.attrs = dict(ds["ref_dnde"].attrs)
    return out.drop_vars([c for c in out.coords], errors="ignore")


def resample(
    ds: xr.Dataset,
    dim: str = schema.ENERGY,
    edges=None,
    group_size: int | None = None,
    min_ts: float | None = None,
    **kwargs,
) -> xr.Dataset:
    """Merge groups of bins along ``dim`` (energy, time, phase ...) into single bins, their profiles summed.

    Parameters
    ----------
    ds : xarray.Dataset
        A likelihood SED or light curve with ``norm_scan``/``stat_scan``.
    dim : str
        ``"energy"``, ``"time"``, another binned axis (``"phase"``, ``"region"``), or any dimension.
    edges : array_like or astropy Quantity, optional
        New bin edges (energy in the coordinate's unit unless a Quantity; time in ``time_min``'s
        numbers; phase in phase; region in ``x_ref``'s unit). Entries are assigned by their centre.
    group_size : int, optional
        Merge this many consecutive entries.
    min_ts : float, optional
        Grow each group until its summed TS reaches this (greedy, left to right).
    **kwargs
        ``n_sigma``, ``n_sigma_ul``, ``ul_conf``, ``ul_reference``, ``reference``, ``grid``,
        ``stencil`` as in :func:`fluxds.profiles.combine.combine`.

    Returns
    -------
    xarray.Dataset
        ``dim`` with one entry per group, new coordinates, summed reference fluxes, ``n_dof``.

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds.construct import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> e = np.geomspace(1, 16, 5)
    >>> mu, sigma = np.array([1.0, 2.0, 1.5, 0.5]), np.array([0.5, 0.5, 1.0, 1.0])
    >>> scan = np.broadcast_to(np.linspace(-2.0, 5.0, 15), (4, 15))
    >>> ds = from_likelihood(mu, energy_min=e[:-1] * u.TeV, energy_max=e[1:] * u.TeV, reference_model=pl,
    ...                      norm_scan=scan, stat_scan=((scan - mu[:, None]) / sigma[:, None]) ** 2)
    >>> out = resample(ds, "energy", group_size=2)
    >>> out.norm.values.round(12), out.norm_err.values.round(12), out.energy_max.values
    (array([1.5, 1. ]), array([0.35355339, 0.70710678]), array([ 4., 16.]))
    """
    if dim not in ds.dims:
        raise SchemaError(
            f"resample: the Dataset has no dimension {dim!r} (dims: {', '.join(map(str, ds.dims))})"
        )
    refuse_collection(ds, dim, "resample")
    edge_coords = [c for c in _EDGE_COORDS if c in ds.coords and ds[c].chunks is not None]
    if edge_coords:  # the new labels need the 1-D bin edges: one small compute, the data stay lazy
        ds = ds.assign_coords(xr.Dataset({c: ds[c].variable for c in edge_coords}).compute().variables)
    require_scan_reference(ds, "resample")
    groups = group_labels(ds, dim, edges, group_size, min_ts, kwargs.get("stencil", STENCIL))
    width = max(len(g) for g in groups)
    table = np.full((len(groups), width), -1)
    for g, members in enumerate(groups):  # a handful of index lists, not data
        table[g, : len(members)] = members
    idx = xr.DataArray(np.maximum(table, 0), dims=(dim, _MEMBER))
    mask = xr.DataArray(table >= 0, dims=(dim, _MEMBER))
    gathered = ds.isel({dim: idx})
    gathered = gathered.drop_vars(
        [c for c in gathered.coords if dim in gathered[c].dims and _MEMBER not in gathered[c].dims]
    )
    out = merge_members(gathered, _MEMBER, mask, sum_references=(dim == schema.ENERGY), **kwargs)
    axis = schema.binned_axis(dim)
    if axis is not None and axis.cf_bounds == "edges":  # energy, phase, region: the schema's rules
        out = out.assign_coords(merged_coords(ds, axis, table))
    if dim == schema.ENERGY:
        if "ref_dnde" in ds:
            out["ref_dnde"] = _ref_dnde(ds, gathered, mask, np.asarray(out[schema.ENERGY].values))
        for name, pick in (("ref_dnde_e_min", 0), ("ref_dnde_e_max", -1)):
            if name in ds:
                pos = 0 if pick == 0 else mask.sum(_MEMBER) - 1
                out[name] = (
                    gathered[name]
                    .isel({_MEMBER: pos})
                    .drop_vars(list(gathered[name].coords), errors="ignore")
                )
    elif axis is not None and axis.unit_kind == "time" and axis.min_name in ds.coords:
        from fluxds.timeaxis import time_coords

        t_min = np.array([ds[axis.min_name].values[g].min() for g in groups])
        t_max = np.array([ds[axis.max_name].values[g].max() for g in groups])
        attrs = ds[axis.min_name].attrs
        coords = time_coords(
            time_min=t_min,
            time_max=t_max,
            unit=attrs.get("units", "d"),
            mjdrefi=attrs.get("mjdrefi", 0),
            mjdreff=attrs.get("mjdreff", 0.0),
            scale=attrs.get("time_scale", "tt"),
        )
        out = out.assign_coords(coords)
    out = out.transpose(*schema.canonical_dims(out.dims))
    out.attrs["resampled_along"] = dim
    return out
