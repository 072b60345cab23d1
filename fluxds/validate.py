"""Check a Dataset against the data-model contract, reporting every problem at once; and check the physics
of the numbers a file holds (:func:`check_physics`, run by :func:`fluxds.read`)."""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.errors import PhysicsWarning, SchemaError, UnitError

__all__ = ["validate", "order_problems", "binned_axis_problems", "physics_problems", "check_physics"]


_TIME = schema.BINNED_AXES["time"]


# --- order and uniqueness of coordinates (H5 hardening) ---------------------------------------------
def _as_numbers(values: np.ndarray) -> np.ndarray | None:
    values = np.asarray(values)
    if values.dtype.kind == "M":
        if np.isnat(values).any():
            return None
        return values.astype("datetime64[ns]").astype(np.int64)
    return values if values.dtype.kind in "iuf" else None


def _not_increasing(ds: xr.Dataset, name: str) -> str | None:
    """Bins in increasing order along their dimension; in a collection, within each member (the points
    of a member follow each other in increasing order, members may overlap: see :mod:`fluxds.collection`)."""
    from fluxds.collection import member_codes, member_label, not_increasing_within_members

    values = np.asarray(ds[name].values)
    numbers = _as_numbers(values)
    if numbers is None or numbers.ndim != 1 or numbers.size < 2:
        return None
    label = member_label(ds, ds[name].dims[0])
    if label is not None:
        codes = member_codes(ds[label].values)
        j = not_increasing_within_members(numbers, codes)
        if j is None:
            return None
        i = int(np.flatnonzero(codes[:j] == codes[j])[-1])
        unit = ds[name].attrs.get("units", "")
        return (
            f"coordinate {name!r} must increase strictly within each {label!r} along {ds[name].dims[0]!r}; "
            f"{label} {ds[label].values[j]!s}: found {values[i]} {unit} at index {i} then {values[j]} {unit} "
            f"at index {j}".replace("  ", " ")
        )
    bad = np.flatnonzero(~(np.diff(numbers) > 0))
    if not len(bad):
        return None
    i = int(bad[0])
    unit = ds[name].attrs.get("units", "")
    return (
        f"coordinate {name!r} must increase strictly along {ds[name].dims[0]!r}; found {values[i]} {unit} "
        f"at index {i} then {values[i + 1]} {unit} at index {i + 1}".replace("  ", " ")
    )


def order_problems(ds: xr.Dataset) -> list[str]:
    """Energies and time bins in increasing order, time bins of positive length, unique source names.

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    list of str
        One message per problem (naming the coordinate, the values found and what was expected).

    Examples
    --------
    >>> ds = xr.Dataset(coords={"energy": ("energy", [1.0, 4.0, 2.0], {"units": "TeV"})})
    >>> print(order_problems(ds)[0])  # doctest: +NORMALIZE_WHITESPACE
    coordinate 'energy' must increase strictly along 'energy'; found 4.0 TeV at index 1
    then 2.0 TeV at index 2
    """
    problems = []
    time_min, time_max = _TIME.edges
    for name in (schema.ENERGY_MIN, schema.ENERGY_MAX, schema.ENERGY, time_min, time_max):
        if name in ds.coords:
            problem = _not_increasing(ds, name)
            if problem:
                problems.append(problem)
    from fluxds.timeaxis import shared_time_bins_problem  # astropy: imported on first use, not at import

    problem = shared_time_bins_problem(ds)  # issue 13 item 15: different time bins stacked by hand
    if problem:
        problems.append(problem)
    elif time_min in ds.coords and time_max in ds.coords:
        lo, hi = _as_numbers(ds[time_min].values), _as_numbers(ds[time_max].values)
        if lo is not None and hi is not None and lo.shape == hi.shape:
            bad = np.flatnonzero(~(lo < hi))
            if len(bad):
                i = int(bad[0])
                problems.append(
                    f"time bin {i} has time_min={ds[time_min].values[i]} >= "
                    f"time_max={ds[time_max].values[i]}; expected time_min < time_max"
                )
    if "source" in ds.coords and ds["source"].dims == ("source",):  # a member label may repeat names
        names, counts = np.unique(np.asarray(ds["source"].values), return_counts=True)
        if (counts > 1).any():
            problems.append(
                f"coordinate 'source' has duplicate source names {[str(n) for n in names[counts > 1]]}; "
                "expected unique names"
            )
    return problems


# --- end of the H5 block -------------------------------------------------------------------------------


def _energy_problems(ds: xr.Dataset) -> list[str]:
    from fluxds.units import conversion_factor, parse_unit

    problems = []
    if schema.ENERGY not in ds.dims or schema.ENERGY not in ds.coords:
        return [f"no {schema.ENERGY!r} dimension with a coordinate of reference energies"]
    for name in (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX):
        if name not in ds.coords:
            continue
        coord = ds[name]
        try:
            unit = parse_unit(coord.attrs.get("units"), where=name)
        except UnitError as exc:
            problems.append(str(exc))
            continue
        if unit.physical_type != "energy":
            problems.append(f"coordinate {name!r} has units {unit!s:} which is not an energy")
        values = np.asarray(coord.values)
        if values.size and not (np.all(np.isfinite(values)) and np.all(values > 0)):
            problems.append(f"coordinate {name!r} must be finite and > 0, found {values}")
    if schema.ENERGY_MIN in ds.coords and schema.ENERGY_MAX in ds.coords:
        try:
            factor = conversion_factor(
                parse_unit(ds[schema.ENERGY_MAX].attrs.get("units")),
                parse_unit(ds[schema.ENERGY_MIN].attrs.get("units")),
            )
        except UnitError:
            factor = np.nan  # reported above
        lo = np.asarray(ds[schema.ENERGY_MIN].values)
        hi = np.asarray(ds[schema.ENERGY_MAX].values) * factor
        bad = np.flatnonzero(lo >= hi) if np.isfinite(factor) else []
        if len(bad):
            i = int(bad[0])
            problems.append(f"energy bin {i} has energy_min={lo[i]} >= energy_max={hi[i]} (in the same unit)")
    elif (schema.ENERGY_MIN in ds.coords) != (schema.ENERGY_MAX in ds.coords):
        problems.append("energy bin edges need both 'energy_min' and 'energy_max'")
    return problems


def binned_axis_problems(ds: xr.Dataset) -> list[str]:
    """The edges of the binned axes other than energy and time (which have their own, stricter checks):
    both or neither, one value per bin, finite, and ``min <= max`` in every bin. Any range is accepted
    (a phase beyond [0, 1], a wrapped bin).

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    list of str
        One message per problem.

    Examples
    --------
    >>> ds = xr.Dataset(coords={"phase_min": ("phase", [0.0, 0.5]), "phase_max": ("phase", [0.5, 0.4])})
    >>> binned_axis_problems(ds)
    ['phase bin 1 has phase_min=0.5 > phase_max=0.4; expected phase_min <= phase_max']
    """
    problems = []
    for axis in schema.BINNED_AXES.values():
        if axis.dim in (schema.ENERGY, _TIME.dim) or axis.dim not in ds.dims:
            continue
        present = [e for e in axis.edges if e in ds.coords]
        if len(present) == 1:
            problems.append(f"{axis.dim} bin edges need both {axis.min_name!r} and {axis.max_name!r}")
        numbers = {}
        for name in (axis.centre, *present):
            values = np.asarray(ds[name].values) if name in ds.coords else np.array([])
            if values.dtype.kind not in "iuf":
                continue  # a text dimension coordinate (region names), or none
            numbers[name] = values
            bad = np.flatnonzero(~np.isfinite(values))
            if len(bad):
                i = int(bad[0])
                problems.append(f"coordinate {name!r} must be finite; found {values.flat[i]} at index {i}")
        lo, hi = numbers.get(axis.min_name), numbers.get(axis.max_name)
        if lo is not None and hi is not None and lo.shape == hi.shape:
            with np.errstate(invalid="ignore"):
                bad = np.flatnonzero(lo > hi)
            if len(bad):
                i = int(bad[0])
                problems.append(
                    f"{axis.dim} bin {i} has {axis.min_name}={lo.flat[i]} > {axis.max_name}={hi.flat[i]}; "
                    f"expected {axis.min_name} <= {axis.max_name}"
                )
    return problems


def _variable_problems(ds: xr.Dataset) -> list[str]:
    from fluxds.units import parse_unit

    problems = []
    for name in ("norm", "ref_dnde"):
        if name not in ds.data_vars:
            problems.append(f"required variable {name!r} is missing")
    for name, var in ds.data_vars.items():
        spec = schema.VARIABLES.get(str(name))
        if spec is None:
            continue
        if spec.dtype == "bool" and var.dtype != bool:
            problems.append(f"variable {name!r} must be boolean, found dtype {var.dtype}")
        norm_dims = set(ds["norm"].dims) if "norm" in ds.data_vars else {schema.ENERGY}
        beyond = [d for d in var.dims if d not in norm_dims]
        if spec.extra_dim and beyond and spec.extra_dim not in beyond:
            if not any(str(d).endswith("_axis") for d in beyond):
                problems.append(
                    f"variable {name!r} has dims {var.dims}: its extra dimension should be {spec.extra_dim!r}"
                )
        expected = spec.physical_unit
        if expected is None or var.dtype.kind != "f":
            continue
        try:
            unit = parse_unit(var.attrs.get("units"), where=str(name))
        except UnitError as exc:
            problems.append(str(exc))
            continue
        if not unit.is_equivalent(expected):
            problems.append(
                f"variable {name!r} has units {var.attrs.get('units')!r}, expected a unit like {spec.unit!r}"
            )
    return problems


def _attr_problems(ds: xr.Dataset) -> list[str]:
    problems = []
    sed_init = ds.attrs.get("sed_type_init")
    if sed_init is not None and sed_init not in schema.FILE_SED_TYPES:
        problems.append(f"attribute 'sed_type_init' is {sed_init!r}, expected one of {schema.FILE_SED_TYPES}")
    ul_conf = ds.attrs.get("ul_conf")
    if ul_conf is not None and not 0 < float(ul_conf) < 1:
        problems.append(f"attribute 'ul_conf' is {ul_conf}, expected a number in (0, 1)")
    for key in ("n_sigma", "n_sigma_ul", "sqrt_ts_threshold_ul"):
        value = ds.attrs.get(key)
        if value is not None and not np.isfinite(float(value)):
            problems.append(f"attribute {key!r} is {value}, expected a finite number")
    return problems


def validate(ds: xr.Dataset, *, where: str = "") -> xr.Dataset:
    """Check that ``ds`` is a valid fluxds Dataset; return it unchanged if so.

    Checks the energy dimension and coordinates (finite, positive, an energy unit, ``energy_min <
    energy_max``), the required variables (``norm``, ``ref_dnde``), the dtype and the physical dimension
    of the unit of every variable the schema knows, and the attributes of the contract.

    Parameters
    ----------
    ds : xarray.Dataset
    where : str
        What the Dataset came from, for the message.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.

    Raises
    ------
    SchemaError
        Listing every problem found.
    """
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"expected an xarray.Dataset, got {type(ds).__name__}")
    problems = _energy_problems(ds) + order_problems(ds) + binned_axis_problems(ds)
    problems += _variable_problems(ds) + _attr_problems(ds)
    if problems:
        label = f"{where}: " if where else ""
        raise SchemaError(f"{label}not a valid fluxds Dataset", problems=problems)
    model_problem = reference_model_problem(ds)
    if model_problem:
        warnings.warn(f"{where}: {model_problem}" if where else model_problem, PhysicsWarning, stacklevel=2)
    return ds


def reference_model_problem(ds: xr.Dataset) -> str | None:
    """Whether the ``reference_model`` attribute cannot describe every source (issue 13 item 16).

    One model (not a ``{"by_source": ...}`` mapping) gives the same ``ref_dnde`` to every source; if the
    stored ``ref_dnde`` differs along ``source`` (SEDs made with different models, stacked with
    ``xr.concat``, whose default ``combine_attrs="override"`` keeps the first Dataset's attributes), the
    attribute describes the first source only. The numbers (``ref_*`` per source) stay right; the model
    attribute (used by fits, plots of the model and the files' metadata) does not. A dask-backed
    ``ref_dnde`` is not computed for this check.

    Returns
    -------
    str or None
        What is wrong and how to fix it, or None.
    """
    text = ds.attrs.get("reference_model")
    ref = ds.get("ref_dnde")
    if not text or '"by_source"' in str(text) or ref is None or "source" not in ref.dims or ref.chunks:
        return None
    values = np.asarray(ref.transpose("source", ...).values, dtype=float)
    if values.shape[0] < 2 or np.allclose(values, values[:1], rtol=1e-12, atol=0.0, equal_nan=True):
        return None
    return (
        "the attribute 'reference_model' holds one model, but 'ref_dnde' differs between sources: it "
        "describes the first source only (xr.concat keeps the first Dataset's attributes). Stack SEDs "
        "with fluxds.concat_sources(datasets), which keeps each source's model, or drop the attribute"
    )


# --- physics of the numbers read (issue 12 item 10) ----------------------------------------------------


#: suffixes of the uncertainties: magnitudes, never negative
_ERROR_SUFFIXES = ("_err", "_errp", "_errn", "_errsys", "_errsysp", "_errsysn")
#: the reference model's fluxes and counts in each bin: a photon spectrum is never negative
_REFERENCES = ("ref_dnde", "ref_dnde_e_min", "ref_dnde_e_max", "ref_flux", "ref_eflux", "ref_npred")
#: relative slack of the "e_ref inside its bin" rule: far above the rounding of a unit conversion
_E_REF_SLACK = 1e-6


def _in_memory(var: xr.DataArray) -> bool:
    """A float variable whose values are in memory (a dask-backed one is not computed for a check)."""
    return var.chunks is None and var.dtype.kind == "f"


def _position(var: xr.DataArray, flat: int) -> str:
    """Where element ``flat`` of ``var`` is: ``energy bin 1``, ``time bin 3, energy bin 0``, with the
    source name when there is a ``source`` coordinate."""
    index = np.unravel_index(flat, var.shape) if var.ndim else ()
    parts = []
    for dim, i in zip(var.dims, index, strict=True):
        if dim == "source" and "source" in var.coords and var["source"].ndim == 1:
            parts.append(f"source {str(var['source'].values[i])!r}")
        else:
            parts.append(f"{dim} {'bin ' if dim in ('energy', 'time') else 'index '}{int(i)}")
    return ", ".join(parts) or "the only element"


def _name_in_file(ds: xr.Dataset, name: str) -> str:
    """``'norm_err'``, and for an SED read as another SED type what the file held: ``'norm_err' (dnde_err /
    ref_dnde: the SED type read was dnde)``."""
    sed = ds.attrs.get("sed_type_init")
    if name.startswith("norm") and sed in schema.FILE_SED_TYPES and sed != schema.LIKELIHOOD:
        return f"{name!r} ({sed}{name[4:]} / ref_{sed}: the SED type read was {sed})"
    return repr(name)


def _first(mask: np.ndarray) -> tuple[int, int]:
    flat = np.flatnonzero(mask)
    return int(flat.size), int(flat[0]) if flat.size else -1


def _negative_problems(ds: xr.Dataset, names, what: str) -> list[str]:
    problems = []
    for name in names:
        var = ds[name]
        if not _in_memory(var):
            continue
        values = np.asarray(var.values)
        if not values.size or not np.fmin.reduce(values, axis=None) < 0:  # NaN-blind, allocates nothing
            continue
        count, first = _first(values < 0)
        if count:
            problems.append(
                f"variable {_name_in_file(ds, name)} has {count} negative value(s), first "
                f"{float(values.flat[first])!r} at {_position(var, first)}; {what}"
            )
    return problems


def _e_ref_problems(ds: xr.Dataset) -> list[str]:
    from fluxds.units import conversion_factor, parse_unit

    names = (schema.ENERGY, schema.ENERGY_MIN, schema.ENERGY_MAX)
    if not all(n in ds.coords and ds[n].ndim == 1 and ds[n].chunks is None for n in names):
        return []  # absent, or dask-backed: a check never computes
    try:
        to_ref = [
            conversion_factor(
                parse_unit(ds[n].attrs.get("units")), parse_unit(ds[names[0]].attrs.get("units"))
            )
            for n in names[1:]
        ]
    except UnitError:
        return []  # reported by validate()
    e_ref = np.asarray(ds[names[0]].values, dtype=np.float64)
    lo = np.asarray(ds[names[1]].values, dtype=np.float64) * to_ref[0]
    hi = np.asarray(ds[names[2]].values, dtype=np.float64) * to_ref[1]
    count, first = _first((e_ref < lo * (1 - _E_REF_SLACK)) | (e_ref > hi * (1 + _E_REF_SLACK)))
    if not count:
        return []
    unit = ds[names[0]].attrs.get("units", "")
    return [
        f"coordinate 'energy' (the file's e_ref) lies outside its bin in {count} bin(s), first energy bin "
        f"{first}: e_ref={float(e_ref[first])!r} {unit} not in [e_min, e_max] = "
        f"[{float(lo[first])!r}, {float(hi[first])!r}] "
        f"{unit}; the reference energy of a bin lies inside it"
    ]


def _gti_problems(ds: xr.Dataset) -> list[str]:
    if "gti_start" not in ds.data_vars or "gti_stop" not in ds.data_vars:
        return []
    if ds["gti_start"].chunks is not None or ds["gti_stop"].chunks is not None:
        return []  # a check never computes a dask-backed variable
    start = np.asarray(ds["gti_start"].values, dtype=np.float64)
    stop = np.asarray(ds["gti_stop"].values, dtype=np.float64)
    problems = []
    count, first = _first(~np.isfinite(start) | ~np.isfinite(stop))
    if count:
        problems.append(
            f"variables 'gti_start'/'gti_stop' have {count} interval(s) with a bound that is not a number "
            f"or infinite, first GTI row {first}: [{float(start[first])!r}, {float(stop[first])!r}]"
        )
    if start.shape == stop.shape:
        count, first = _first(start > stop)
        if count:
            problems.append(
                f"{count} good time interval(s) end before they start, first GTI row {first}: "
                f"gti_start={float(start[first])!r} > gti_stop={float(stop[first])!r}"
            )
    return problems


def _ul_problems(ds: xr.Dataset) -> list[str]:
    if "norm_ul" not in ds.data_vars or "norm" not in ds.data_vars:
        return []
    ul_conf = ds.attrs.get("ul_conf")
    if ul_conf is not None and float(ul_conf) < 0.5:
        return []  # a limit at less than 50 % confidence may well lie below the best fit
    if not (_in_memory(ds["norm_ul"]) and _in_memory(ds["norm"])):
        return []
    ul_var, norm_var = ds.variables["norm_ul"], ds.variables["norm"]
    if ul_var.dims == norm_var.dims:  # the usual case: numpy, no alignment (xarray's costs ms per read)
        below = np.less(np.asarray(ul_var.values), np.asarray(norm_var.values))
        if not below.any():
            return []
    ul, norm = xr.broadcast(ds["norm_ul"], ds["norm"])
    below = np.asarray((ul < norm).values)  # NaN compares False: a missing limit is no problem
    count, first = _first(below)
    if not count:
        return []
    level = "50 % or more" if ul_conf is None else f"{float(ul_conf):g}"
    return [
        f"variable {_name_in_file(ds, 'norm_ul')} lies below {_name_in_file(ds, 'norm')} in {count} bin(s), "
        f"first at {_position(ul, first)}: norm_ul={float(ul.values.flat[first])!r} < "
        f"norm={float(norm.values.flat[first])!r}; an upper limit at {level} confidence from the same "
        "likelihood lies above the best fit (the file may hold limits and values from different methods)"
    ]


def physics_problems(ds: xr.Dataset) -> tuple[list[str], list[str]]:
    """Impossible and suspicious numbers in a fluxds Dataset.

    Impossible (errors): a negative uncertainty (``*_err``, ``*_errp``, ``*_errn``, ``*_errsys*``); a
    negative reference flux (``ref_dnde``, ``ref_flux``, ``ref_eflux``, ``ref_npred`` ...); a reference
    energy outside its bin (``e_ref`` not in ``[e_min, e_max]``, with a relative slack of 1e-6 for
    rounding); a good time interval with a bound that is NaN or infinite, or that ends before it starts.
    Suspicious (warnings): an upper limit below the best fit (``norm_ul < norm``) when ``ul_conf`` is at
    least 0.5. Negative norms and negative upper limits are legal (likelihood fits of a weak source) and
    not reported. Dask-backed variables are skipped (a check never computes them).

    Parameters
    ----------
    ds : xarray.Dataset

    Returns
    -------
    (list of str, list of str)
        The impossible and the suspicious findings, one message each naming the variable, the count, the
        first offending bin and its values.

    Examples
    --------
    >>> import astropy.units as u, fluxds
    >>> ds = fluxds.from_likelihood([1.0, 2.0], energy_min=[1, 2] * u.TeV, energy_max=[2, 4] * u.TeV,
    ...                             reference_model=fluxds.models.default_reference_model(),
    ...                             norm_err=[0.1, -0.2])
    >>> errors, warnings = physics_problems(ds)
    >>> print(errors[0])  # doctest: +NORMALIZE_WHITESPACE
    variable 'norm_err' has 1 negative value(s), first -0.2 at energy bin 1; an uncertainty is a
    magnitude, never negative
    """
    names = [str(n) for n in ds.data_vars]
    errors = [n for n in names if n.endswith(_ERROR_SUFFIXES)]
    impossible = _negative_problems(ds, errors, "an uncertainty is a magnitude, never negative")
    impossible += _negative_problems(
        ds,
        [n for n in _REFERENCES if n in ds.data_vars],
        "the reference model is a photon spectrum, never negative",
    )
    impossible += _e_ref_problems(ds) + _gti_problems(ds)
    return impossible, _ul_problems(ds)


def check_physics(ds: xr.Dataset, *, where: str = "", strict: bool = False) -> xr.Dataset:
    """Refuse impossible numbers, warn of suspicious ones (:func:`physics_problems`); return ``ds``.

    Parameters
    ----------
    ds : xarray.Dataset
    where : str
        The file, for messages.
    strict : bool
        Refuse suspicious numbers too, instead of warning.

    Returns
    -------
    xarray.Dataset
        ``ds`` itself.

    Raises
    ------
    SchemaError
        Listing every impossible finding (and with ``strict=True`` every suspicious one).

    Warns
    -----
    PhysicsWarning
        One per suspicious finding, naming the file and the variable.
    """
    impossible, suspicious = physics_problems(ds)
    label = f"{where}: " if where else ""
    if impossible or (strict and suspicious):
        found = impossible + ([f"{p} (an error with strict=True)" for p in suspicious] if strict else [])
        what = "impossible values" if len(found) == len(impossible) else "impossible or suspicious values"
        raise SchemaError(f"{label}{what}", problems=found)
    for problem in suspicious:
        warnings.warn(f"{label}{problem}", PhysicsWarning, stacklevel=3)
    return ds
