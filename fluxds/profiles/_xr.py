"""Glue between Datasets and the numpy profile kernels: fetching the scans, ``apply_ufunc``, attributes."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from fluxds.construct import require_scan_reference
from fluxds.errors import MissingQuantityError
from fluxds.profiles.interp import STATUS_MEANINGS

__all__ = ["SCAN", "scans", "scan_variables", "apply_kernel", "status_attrs", "is_lazy"]

SCAN = "scan"


def is_lazy(obj) -> bool:
    """Whether a Dataset/DataArray holds any dask array."""
    if isinstance(obj, xr.DataArray):
        return obj.chunks is not None
    return any(v.chunks is not None for v in obj.variables.values())


def _require_scans(ds: xr.Dataset, what: str) -> None:
    missing = [name for name in ("norm_scan", "stat_scan") if name not in ds]
    if missing:
        raise MissingQuantityError(
            f"{what} needs likelihood profiles; the Dataset has no {' and no '.join(missing)} "
            f"(variables found: {', '.join(sorted(map(str, ds.data_vars))) or 'none'})"
        )
    require_scan_reference(ds, what)


def scans(ds: xr.Dataset, what: str) -> tuple[xr.DataArray, xr.DataArray]:
    """``norm_scan`` and ``stat_scan`` of ``ds``, with the ``scan`` dim in one dask chunk if lazy."""
    _require_scans(ds, what)
    out = []
    for name in ("norm_scan", "stat_scan"):
        # without the non-index coordinates: chunking would make them dask arrays, and xarray would then
        # compute them to compare with the Dataset's own when the results are assigned back
        da = ds[name].reset_coords(drop=True)
        if da.chunks is not None:
            da = da.chunk({SCAN: -1})
        out.append(da)
    return out[0], out[1]


def scan_variables(ds: xr.Dataset, what: str) -> tuple[xr.Variable, xr.Variable]:
    """:func:`scans` as bare Variables (no coordinates): for results assigned back to ``ds`` itself.

    ``apply_ufunc`` on Variables and ``Dataset.assign`` of Variables skip index alignment (the
    variables of one Dataset are aligned already), a fixed ~1 ms per call on DataArrays.
    """
    _require_scans(ds, what)
    out = []
    for name in ("norm_scan", "stat_scan"):
        var = ds.variables[name]
        out.append(var.chunk({SCAN: -1}) if var.chunks is not None else var)
    return out[0], out[1]


def apply_kernel(
    func: Callable,
    args: Sequence,
    core_dims: Sequence[Sequence[str]],
    n_out: int,
    dtypes: Sequence,
    kwargs: dict | None = None,
    output_core_dims: Sequence[Sequence[str]] | None = None,
    output_sizes: dict | None = None,
):
    """``xr.apply_ufunc(..., dask="parallelized")`` of a numpy kernel returning ``n_out`` arrays."""
    output_core_dims = output_core_dims or [[] for _ in range(n_out)]
    gufunc = {"output_sizes": output_sizes} if output_sizes else {}
    return xr.apply_ufunc(
        func,
        *args,
        input_core_dims=[list(d) for d in core_dims],
        output_core_dims=[list(d) for d in output_core_dims],
        kwargs=kwargs or {},
        dask="parallelized",
        output_dtypes=list(dtypes),
        dask_gufunc_kwargs=gufunc,
        keep_attrs=True,  # keeps the coordinates' attrs; callers set the variables' attrs
    )


def status_attrs(what: str) -> dict:
    """CF flag attributes of a status variable (codes of :mod:`fluxds.profiles.interp`)."""
    return {
        "long_name": f"status of {what} from the likelihood profile",
        "flag_values": np.arange(len(STATUS_MEANINGS), dtype=np.int8),
        "flag_meanings": " ".join(STATUS_MEANINGS),
    }
