"""The text of ``fluxds info``: a summary of a fluxds Dataset, every value from the file escaped."""

from __future__ import annotations

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.cli.printing import escaped
from fluxds.collection import member_label

__all__ = ["info_text"]


def info_text(ds: xr.Dataset, path: str = "") -> str:
    """A summary of a fluxds Dataset: dims and sizes, SED types available, energy range, sources (the
    members of a collection with their point counts), time range, attributes of the contract."""
    quantities = ds.sed.available_quantities
    sed_type_init = ds.sed.sed_type_init
    types = [t for t in schema.FILE_SED_TYPES if (t if t != "likelihood" else "norm") in quantities]
    energy = ds[schema.ENERGY]
    lo = ds[schema.ENERGY_MIN] if schema.ENERGY_MIN in ds.coords else energy
    hi = ds[schema.ENERGY_MAX] if schema.ENERGY_MAX in ds.coords else energy
    lines = [
        f"file:          {escaped(path)}" if path else None,
        f"dims:          {', '.join(f'{escaped(k)}={v}' for k, v in ds.sizes.items())}",
        f"SED types:     {', '.join(types)} (input: {escaped(sed_type_init or 'SED_TYPE keyword absent')})",
        f"energy range:  {float(lo.min()):.6g} - {float(hi.max()):.6g} {escaped(energy.attrs.get('units'))}"
        f" ({ds.sizes[schema.ENERGY]} bins{'' if ds.sed.has_edges else ', reference energies only'})",
    ]
    label = member_label(ds)  # a collection: its members with their point counts instead
    if "source" in ds.coords and label != "source":
        lines.append(f"sources:       {', '.join(map(escaped, np.atleast_1d(ds['source'].values)))}")
    if label is not None:
        from fluxds.cli.catalog_info import members_line

        lines.append(members_line(ds, label))
    if "time_min" in ds.coords or "time_min" in ds.data_vars:
        lines.append(_time_bins_line(ds))
    if "gti_start" in ds:
        attrs = ds["gti_start"].attrs
        lines.append(
            f"time range:    {float(ds['gti_start'].min()):.10g} - {float(ds['gti_stop'].max()):.10g}"
            f" {escaped(attrs.get('units'))}"
            f" since MJD {escaped(attrs.get('mjdrefi', 0) + attrs.get('mjdreff', 0))}"
            f" ({escaped(attrs.get('time_scale'))}), {ds.sizes['gti']} GTI"
        )
    for key in ("n_sigma", "n_sigma_ul", "ul_conf", "sqrt_ts_threshold_ul"):
        if key in ds.attrs:
            lines.append(f"{key + ':':22s}{escaped(ds.attrs[key])}")
    model = ds.sed.reference_model
    if isinstance(model, dict):  # one model per source
        name = f"one per source ({', '.join(sorted({type(m).__name__ for m in model.values()}))})"
    else:
        name = type(model).__name__ if model is not None else None
    lines.append(f"reference:     {name} ({escaped(_reference_reason(ds, model))})")
    lines.append(f"quantities:    {', '.join(map(escaped, quantities))}")
    return "\n".join(line for line in lines if line is not None)


def _time_bins_line(ds: xr.Dataset) -> str:
    """The time bins of a light curve: how many, the first and the last, as ISO dates in the Dataset's own
    time scale (named): ``34 bins (tt), first 2006-07-29 20:31:05.184 - 2006-07-29 20:41:05.184, ...``."""
    start, stop = ds.sed.times()
    start, stop = np.atleast_1d(start), np.atleast_1d(stop)
    first = f"{start[0].iso} - {stop[0].iso}"
    last = f"{start[-1].iso} - {stop[-1].iso}"
    return f"time bins:     {len(start)} bins ({escaped(start.scale)}), first {first}, last {last}"


def _reference_reason(ds: xr.Dataset, model: object) -> object:
    """Where the reference model comes from; without one, why not, from what the Dataset holds (a
    ``ref_dnde`` at a single energy, not positive, or varying along another dimension gives no template)."""
    origin = ds.attrs.get("reference_model_origin")
    if model is not None:
        return origin if origin else "recorded in the Dataset"
    ref = ds.get("ref_dnde")
    if ref is not None:
        if ref.dims != (schema.ENERGY,):
            return f"none: ref_dnde varies along {', '.join(d for d in ref.dims if d != schema.ENERGY)}"
        if ref.size < 2:
            return (
                "none: ref_dnde is given at a single energy, which fixes no spectral shape (the stored "
                "ref_* columns still give the fluxes of the bin)"
            )
        if not bool((ref > 0).all()):
            return "none: ref_dnde is not positive at every energy, so no log-log template goes through it"
    return origin if origin else "none: the Dataset records no reference model"
