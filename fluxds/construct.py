"""Build a valid fluxds Dataset from arrays: the one road into the likelihood form.

Readers turn a file into a mapping of column name -> array (or astropy Quantity) and call
:func:`from_sed`; users call it (or :func:`from_likelihood`) with their own arrays. An input of SED type
``dnde``/``e2dnde``/``flux``/``eflux`` is turned into norms once, here:

- where the input holds reference columns (``ref_dnde``, ``ref_flux``, ``ref_eflux``), the norm is the
  value divided by the stored reference of its type (the GADF rule, no re-integration);
- otherwise a reference model gives them: the one passed, or gammapy's default for SEDs without one, a
  power law of index 2 with amplitude 1e-12 cm-2 s-1 TeV-1 at 1 TeV (recorded in
  ``attrs["reference_model_origin"]``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.confidence import check_sidedness, n_sigma_from_ul_conf
from fluxds.errors import FluxdsError, MissingEnergyEdgesError, ModelError, Problems, SchemaError, UnitError
from fluxds.models import SpectralModel, Template, default_reference_model, model_to_json
from fluxds.units import format_unit
from fluxds.validate import order_problems

__all__ = [
    "from_sed",
    "from_likelihood",
    "ORIGIN_DEFAULT",
    "ORIGIN_TEMPLATE",
    "ORIGIN_GIVEN",
    "SCAN_REFERENCE_ATTR",
    "SCAN_REFERENCE_UNKNOWN",
    "require_scan_reference",
    "column_problems",
]

ORIGIN_GIVEN = "given"
ORIGIN_DEFAULT = "default: power law, index 2, 1e-12 cm-2 s-1 TeV-1 at 1 TeV (as gammapy)"
ORIGIN_TEMPLATE = "template through the stored e_ref and ref_dnde (the input held no model)"
ORIGIN_NONE = "none: the input held neither a model nor positive ref_dnde"
EDGES_DERIVED = "derived from e_ref: geometric midpoints, outer edges mirrored in log energy"
EREF_DERIVED = "derived: log-centre sqrt(e_min e_max), the input had no e_ref"
#: Dataset attribute stating that the energy edges were derived (issue 13 item 11: shown in the repr)
EDGES_ORIGIN_ATTR = "energy_edges_origin"
#: Dataset attribute saying what the likelihood profiles (``norm_scan``) are relative to; set to
#: :data:`SCAN_REFERENCE_UNKNOWN` when they came with an SED of type dnde/e2dnde/flux/eflux that stores
#: neither the norms nor the reference fluxes nor the model (issue 13 item 2): gammapy writes such files
#: with ``norm_scan`` relative to its own reference model, which the file does not keep.
SCAN_REFERENCE_ATTR = "scan_reference"
SCAN_REFERENCE_UNKNOWN = (
    "unknown: norm_scan is relative to the producer's reference model, which the input did not store; "
    "the norms are relative to another model"
)


def require_scan_reference(ds: xr.Dataset, what: str) -> None:
    """Refuse profile work on a Dataset whose profiles are relative to an unknown reference model.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset.
    what : str
        The operation, for the message (e.g. ``"recompute_ul"``).

    Raises
    ------
    SchemaError
        If ``ds.attrs["scan_reference"]`` marks the profiles as relative to an unknown model.
    """
    if str(ds.attrs.get(SCAN_REFERENCE_ATTR, "")).startswith("unknown"):
        model = ds.attrs.get("reference_model_origin", "a model chosen by the reader")
        raise SchemaError(
            f"{what}: the likelihood profiles (norm_scan, stat_scan) of this Dataset cannot be used: it was "
            f"read from an SED of type {ds.attrs.get('sed_type_init')!r} that stores norm_scan relative to "
            "the producer's reference model but neither that model nor the norms or reference fluxes "
            f"(ref_dnde/ref_flux/ref_eflux); fluxds's norms are relative to another model ({model}), so "
            "limits, errors, combined or resampled profiles and castro plots would be off by the ratio "
            "of the two models in each bin (2.5x to 1e7x on gammapy's fp_dnde.fits). Read the "
            "likelihood-type file instead (gammapy: FluxPoints.write(..., sed_type='likelihood')), or "
            "build the Dataset with fluxds.from_sed(..., reference_model=<the model of the scan>)"
        )


def _quantity(value: Any, name: str, default_unit: str | None, where: str) -> u.Quantity:
    if isinstance(value, u.Quantity):
        return value
    arr = np.asarray(value)
    if default_unit is None or default_unit == "":
        return u.Quantity(arr, u.dimensionless_unscaled, dtype=arr.dtype, copy=False)
    raise UnitError(f"{where}{name!r} is given without a unit; expected a unit like {default_unit!r}")


def _energy(value: Any, name: str, where: str) -> u.Quantity:
    q = _quantity(value, name, "TeV", where).astype(np.float64, copy=False)
    if q.unit.physical_type != "energy":
        raise UnitError(f"{where}{name!r} has unit {q.unit}, which is not an energy (expected e.g. TeV)")
    if q.ndim != 1:
        raise SchemaError(f"{where}{name!r} must be 1-D, found shape {q.shape}")
    bad = ~np.isfinite(q.value) | (q.value <= 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SchemaError(f"{where}{name!r} must be finite and > 0; found {q[i]} in bin {i}")
    return q


def _energies(energy_ref, energy_min, energy_max, derive_edges: bool, where: str, member_codes=None):
    problems = Problems(_label(where))  # issue 15 item 2: each of the three checked, all reported
    checked = {}
    for name, value in (("e_ref", energy_ref), ("e_min", energy_min), ("e_max", energy_max)):
        if value is not None:
            with problems.check():
                checked[name] = _energy(value, name, where)
    problems.raise_if_any()
    e_ref, e_min, e_max = (checked.get(name) for name in ("e_ref", "e_min", "e_max"))
    if (e_min is None) != (e_max is None):
        raise SchemaError(f"{where}energy bins need both e_min and e_max, or neither")
    notes = {}
    if e_min is not None:
        e_max = e_max.to(e_min.unit)
        if e_min.shape != e_max.shape:
            raise SchemaError(f"{where}e_min has {e_min.size} bins and e_max {e_max.size}")
        bad = e_min.value >= e_max.value
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise SchemaError(
                f"{where}e_min must be < e_max in every bin; bin {i} has e_min={e_min[i]} "
                f"and e_max={e_max[i]}"
            )
        if e_ref is None:
            e_ref = np.sqrt(e_min * e_max)
            notes["derived"] = EREF_DERIVED
        elif e_ref.shape != e_min.shape:
            raise SchemaError(f"{where}e_ref has {e_ref.size} bins and e_min {e_min.size}")
    elif e_ref is None:
        raise SchemaError(f"{where}no energies: give e_ref, or e_min and e_max")
    elif derive_edges:
        lo, hi = _log_midpoint_edges(np.log(e_ref.value), member_codes, where)
        e_min, e_max = u.Quantity(np.exp(lo), e_ref.unit), u.Quantity(np.exp(hi), e_ref.unit)
        notes["edges"] = EDGES_DERIVED
    return e_ref, e_min, e_max, notes


def _log_midpoint_edges(
    log_ref: np.ndarray, codes: np.ndarray | None, where: str
) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (log) at the midpoints between neighbouring reference energies, the outer edges mirrored;
    in a collection (``codes`` per point, see :mod:`fluxds.collection`) between neighbours of the same
    member. Vectorised over members."""
    codes = np.zeros(log_ref.size, np.int64) if codes is None else codes
    order = np.argsort(codes, kind="stable")
    x, c = log_ref[order], codes[order]
    same = c[1:] == c[:-1]
    counts = np.bincount(c)
    if log_ref.size < 2 or (counts[np.unique(c)] < 2).any() or np.any(np.diff(x)[same] <= 0):
        what = "each member's e_ref" if codes.any() else "e_ref"
        raise SchemaError(f"{where}cannot derive energy edges: {what} must hold at least 2 increasing values")
    mid = 0.5 * (x[1:] + x[:-1])
    lo, hi = np.empty_like(x), np.empty_like(x)
    first = np.concatenate([[True], ~same])  # the first point of its member
    last = np.concatenate([~same, [True]])
    lo[1:] = np.where(same, mid, np.nan)
    hi[:-1] = np.where(same, mid, np.nan)
    lo[first] = 2 * x[first] - hi[first]
    hi[last] = 2 * x[last] - lo[last]
    out_lo, out_hi = np.empty_like(x), np.empty_like(x)
    out_lo[order], out_hi[order] = lo, hi
    return out_lo, out_hi


def _reference_model(sed: str, given, data, e_ref) -> tuple[SpectralModel | None, str]:
    if given is not None:
        if not isinstance(given, SpectralModel):
            raise ModelError(f"reference_model must be a fluxds SpectralModel, not {type(given)}")
        return given, ORIGIN_GIVEN
    ref_dnde = data.get("ref_dnde")
    if ref_dnde is not None and np.ndim(ref_dnde) == 1:
        try:
            return Template(energy=e_ref, values=ref_dnde), ORIGIN_TEMPLATE
        except ModelError:
            pass  # e.g. a non-positive ref_dnde: no log-log template through it
    if sed != schema.LIKELIHOOD and ref_dnde is None:
        return default_reference_model(), ORIGIN_DEFAULT
    return None, ORIGIN_NONE


def _references(model, data, e_ref, e_min, e_max, where: str) -> dict[str, u.Quantity]:
    refs = {}
    for name in ("ref_dnde", "ref_flux", "ref_eflux"):
        if name in data:
            unit = schema.VARIABLES[name].physical_unit
            refs[name] = _checked_unit(
                _quantity(data[name], name, schema.VARIABLES[name].unit, where), name, unit, where
            )
    if model is None:
        return refs
    if "ref_dnde" not in refs:
        refs["ref_dnde"] = model.dnde(e_ref)
    if e_min is not None:
        if "ref_flux" not in refs:
            refs["ref_flux"] = model.flux(e_min, e_max)
        if "ref_eflux" not in refs:
            refs["ref_eflux"] = model.eflux(e_min, e_max)
    return refs


def _label(where: str) -> str:
    """The file (and HDU) of a message prefix ``"file[HDU]: "``."""
    return where[:-2] if where.endswith(": ") else where


def _unit_problems(kind: schema.SedType, data: Mapping[str, Any], where: str) -> list[FluxdsError]:
    """The unit of each column checked on its own, as :func:`_norms`, :func:`_references` and
    :func:`_variable` check it later: the measurements of the SED type against its unit, the variables of
    the data model against theirs (a plain array where a unit is needed, a unit of another dimension)."""
    found = []
    for name, value in data.items():
        split = schema.split_measurement(name)
        spec = schema.VARIABLES.get(name)
        try:
            if kind.name != "norm" and split is not None and split[0] == kind.name:
                _checked_unit(_quantity(value, name, kind.unit, where), name, kind.physical_unit, where)
            elif spec is not None:
                q = _quantity(value, name, spec.unit if spec.unit else "", where)
                if spec.physical_unit is not None:
                    _checked_unit(q, name, spec.physical_unit, where)
        except FluxdsError as exc:
            found.append(exc)
    return found


def column_problems(sed_type: str, data: Mapping[str, Any], *, where: str = "") -> list[FluxdsError]:
    """What :func:`from_sed` would refuse in each column on its own, without building anything: the
    energies (``e_ref``, ``e_min``, ``e_max`` among ``data``: an energy unit, 1-D, finite and > 0) and the
    unit of every other column. For a reader that cannot build a Dataset from a file (a column missing or
    unreadable) and reports all its problems at once (issue 15 item 2).

    Parameters
    ----------
    sed_type : str
        The SED type of ``data``.
    data : mapping
        Column name -> array or Quantity (GADF names).
    where : str
        The file (and HDU), for messages.

    Returns
    -------
    list of FluxdsError
        One per bad column, each as :func:`from_sed` raises it.
    """
    where = f"{where}: " if where and not where.endswith(": ") else where
    kind = schema.sed_type(sed_type)
    found = []
    energies = tuple(schema.ENERGY_COLUMNS)
    for name in energies:
        if data.get(name) is not None:
            try:
                _energy(data[name], name, where)
            except FluxdsError as exc:
                found.append(exc)
    return found + _unit_problems(kind, {k: v for k, v in data.items() if k not in energies}, where)


def _checked_unit(q: u.Quantity, name: str, expected: u.UnitBase | None, where: str) -> u.Quantity:
    if expected is None or q.unit.is_equivalent(expected):
        return q
    raise UnitError(
        f"{where}{name!r} has unit {format_unit(q.unit) or 'dimensionless'!r}, which is not a "
        f"{expected.physical_type} (expected a unit like {format_unit(expected) or 'dimensionless'!r})"
    )


def _along_energy(ref: u.Quantity, dims: tuple[str, ...]) -> u.Quantity:
    """A per-energy reference (1-D, or already shaped like ``dims``) shaped to broadcast against
    arrays on ``dims``, wherever ``energy`` sits among them."""
    if ref.ndim != 1 or len(dims) == 1:
        return ref
    shape = [1] * len(dims)
    shape[dims.index(schema.ENERGY)] = ref.size
    return ref.reshape(shape)


def _norms(sed: str, data, refs, e_ref, dims: tuple[str, ...], where: str) -> dict[str, u.Quantity]:
    """norm<suffix> = <sed><suffix> / reference of the type (dimensionless).

    Where the input also holds the norms themselves (a file with several representations, as fluxds
    writes them), the stored norms are used, after checking that the two representations agree.
    """
    kind = schema.sed_type(sed)
    stem = kind.name
    stored = {
        f"norm{s}": _quantity(data[f"norm{s}"], f"norm{s}", "", where)
        for s in schema.MEASUREMENT_SUFFIXES
        if f"norm{s}" in data
    }
    present = [s for s in schema.MEASUREMENT_SUFFIXES if f"{stem}{s}" in data]
    if stem == "norm":
        return stored
    if kind.reference not in refs:
        raise MissingEnergyEdgesError(
            f"{where}an SED of type {sed!r} needs energy bin edges (e_min, e_max) to be "
            "converted; the input has reference energies only"
        )
    ref = refs[kind.reference]
    if kind.energy_power:
        ref = ref * _along_energy(e_ref, dims if ref.ndim > 1 else (schema.ENERGY,)) ** kind.energy_power
    ref = _along_energy(ref, dims)
    norms = {}
    for s in present:
        name = f"{stem}{s}"
        value = _checked_unit(_quantity(data[name], name, kind.unit, where), name, kind.physical_unit, where)
        try:
            norms[f"norm{s}"] = (value / ref).to(u.dimensionless_unscaled)
        except ValueError:  # shapes that do not broadcast
            raise SchemaError(
                f"{where}{name!r} has shape {np.shape(value)}; expected dims {dims} (shape "
                f"{np.broadcast_shapes(ref.shape)}, one number per bin)"
            ) from None
        if f"norm{s}" in stored:
            _check_agree(value, stored[f"norm{s}"], ref, name, f"norm{s}", where)
    norms.update(stored)
    return norms


def _check_agree(
    value: u.Quantity, stored: u.Quantity, ref: u.Quantity, name: str, norm_name: str, where: str
) -> None:
    """Two representations of one measurement must agree: the column against the stored norm times the
    reference, compared in the column's own numbers (rtol 1e-9; values that under- or overflow to
    zero or infinity agree with what rounds to them)."""
    a = np.asarray(value.value, dtype=float)
    b = np.asarray((stored * ref).to_value(value.unit), dtype=float)
    both = np.isfinite(a) & np.isfinite(b)
    floor = np.finfo(float).tiny / 1e-9  # below this, products of normal numbers lose their digits
    differ = (both & ~np.isclose(a, b, rtol=1e-9, atol=floor)) | (np.isfinite(a) != np.isfinite(b))
    ref_value = np.broadcast_to(np.asarray(ref.value, dtype=float), a.shape)
    bad = differ & np.isfinite(ref_value) & (ref_value != 0)
    if bad.any():
        i = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
        raise SchemaError(
            f"{where}columns {name!r} and {norm_name!r} (with the reference) disagree: at index "
            f"{tuple(int(k) for k in i)} {name} = {float(a[i])!r} but {norm_name} x reference = "
            f"{float(b[i])!r}"
        )


def _variable(name: str, value, dims: Sequence[str], n_energy: int, where: str) -> xr.Variable:
    spec = schema.VARIABLES.get(name)
    q = _quantity(value, name, spec.unit if spec else "", where)
    if spec is not None and spec.physical_unit is not None:
        q = _checked_unit(q, name, spec.physical_unit, where)
    arr = np.asarray(q.value)
    if spec is not None and spec.dtype == "bool":
        arr = arr.astype(bool)
    var_dims = list(dims)
    if arr.ndim == len(dims) + 1:
        var_dims.append(spec.extra_dim if spec and spec.extra_dim else f"{name}_axis")
    if arr.ndim != len(var_dims) or arr.shape[var_dims.index(schema.ENERGY)] != n_energy:
        raise SchemaError(
            f"{where}{name!r} has shape {arr.shape}; expected dims {tuple(var_dims)} "
            f"with {n_energy} energy bins"
        )
    attrs = {"long_name": spec.long_name if spec else name}
    if not (spec is not None and spec.unit is None) and arr.dtype.kind == "f":
        attrs["units"] = format_unit(q.unit)
    return xr.Variable(var_dims, arr, attrs)


def _ul_attrs(ul_conf, n_sigma_ul, where: str = "", sidedness: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    side = check_sidedness(sidedness, where)
    if ul_conf is not None:
        ul_conf = float(ul_conf)
        if not 0.0 < ul_conf < 1.0:
            raise SchemaError(f"{where}UL_CONF must lie in (0, 1); found {ul_conf}")
        out["ul_conf"] = ul_conf
        out["n_sigma_ul"] = n_sigma_from_ul_conf(ul_conf, side)
    elif n_sigma_ul is not None:
        out["n_sigma_ul"] = float(n_sigma_ul)
    if out and sidedness is not None:
        out["ul_sidedness"] = side
    return out


def from_sed(
    sed_type: str,
    data: Mapping[str, Any],
    *,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model: SpectralModel | None = None,
    dims: Sequence[str] = ("energy",),
    coords: Mapping[str, Any] | None = None,
    attrs: Mapping[str, Any] | None = None,
    n_sigma: float | None = None,
    n_sigma_ul: float | None = None,
    ul_conf: float | None = None,
    sqrt_ts_threshold_ul: float | None = None,
    derive_edges: bool = False,
    where: str = "",
    ul_sidedness: str | None = None,
) -> xr.Dataset:
    """Build a fluxds Dataset (likelihood form) from the columns of an SED of any type.

    Parameters
    ----------
    sed_type : {"likelihood", "dnde", "e2dnde", "flux", "eflux"}
        The SED type of ``data``.
    data : mapping of str to array or astropy Quantity
        GADF names: ``dnde``, ``dnde_err``, ``dnde_errp``, ``dnde_errn``, ``dnde_ul`` ... (or ``norm*``
        with ``ref_dnde``/``ref_flux``/``ref_eflux`` for ``likelihood``), and any of ``ts``,
        ``sqrt_ts``, ``stat``, ``stat_null``, ``stat_scan``, ``norm_scan``, ``is_ul``, ``success``,
        ``counts``, ``npred``, ``npred_excess`` ... Quantities with units for physical quantities;
        plain arrays for dimensionless ones. Shape ``dims`` (plus a trailing ``scan``/``dataset``
        axis for profiles and per-dataset counts). Unknown names are kept as they are.
    energy_ref, energy_min, energy_max : astropy Quantity, optional
        Reference energies and bin edges (1-D, any energy unit, kept in that unit). Without
        ``energy_ref`` the log-centre of the edges is used (and marked on the coordinate).
    reference_model : fluxds.models.SpectralModel, optional
        The reference model. Default: for ``likelihood``, a template through ``e_ref``/``ref_dnde``;
        for other types, a power law of index 2 (gammapy's default).
    dims : sequence of str
        The dimensions of the measurement arrays; must contain ``"energy"``.
    coords : mapping, optional
        Further coordinates (e.g. ``{"source": "Crab"}`` for a scalar source name).
    attrs : mapping, optional
        Further attributes (instrument, target, creator ...).
    n_sigma, n_sigma_ul, ul_conf, sqrt_ts_threshold_ul : float, optional
        The error and upper-limit conventions; ``ul_conf`` is kept exactly and ``n_sigma_ul`` derived
        from it without rounding.
    derive_edges : bool
        For an SED with ``e_ref`` only: derive bin edges (geometric midpoints) so that ``flux``/``eflux``
        can be given; the assumption is recorded on the ``energy_min`` coordinate.
    where : str
        Prefix for error messages (the file and HDU being read).
    ul_sidedness : {"two-sided", "one-sided"}, optional
        How ``ul_conf`` and ``n_sigma_ul`` relate (see :mod:`fluxds.confidence`): ``"two-sided"``
        (gammapy's reading, the default: 0.95 -> 1.96 sigma) or ``"one-sided"`` (fermipy's: 0.95 ->
        1.645 sigma). Recorded in ``attrs["ul_sidedness"]`` when the SED has an upper-limit convention.

    Returns
    -------
    xarray.Dataset
        A valid fluxds Dataset. Profiles (``norm_scan``) given with an SED of type
        dnde/e2dnde/flux/eflux, without norms, reference fluxes or a ``reference_model``, are marked
        ``attrs["scan_reference"]`` unknown: profile work on them is refused
        (:func:`require_scan_reference`).

    Examples
    --------
    >>> import astropy.units as u
    >>> ds = from_sed("dnde", {"dnde": [1e-11, 2e-12] * u.Unit("cm-2 s-1 TeV-1")},
    ...               energy_min=[1, 2] * u.TeV, energy_max=[2, 4] * u.TeV)
    >>> float(ds.sed.dnde[0])
    1e-11
    """
    where = f"{where}: " if where and not where.endswith(": ") else where
    kind = schema.sed_type(sed_type)
    sed = schema.LIKELIHOOD if kind.name == "norm" else kind.name
    dims = tuple(dims)
    if schema.ENERGY not in dims:
        raise SchemaError(f"{where}dims must contain 'energy', found {dims}")
    data = dict(data)
    labels = _member_labels(coords, dims)
    problems = Problems(_label(where))  # issue 15 item 2: energies, the SED type's column, units at once
    energies = None
    with problems.check():
        energies = _energies(energy_ref, energy_min, energy_max, derive_edges, where, labels)
    if not any(k.startswith(kind.name) and schema.split_measurement(k) for k in data):
        problems.add(
            SchemaError(
                f"{where}an SED of type {sed!r} needs a {kind.name!r} column; found: "
                f"{', '.join(data) or 'none'}"
            )
        )
    problems.extend(_unit_problems(kind, data, where))
    problems.raise_if_any()
    e_ref, e_min, e_max, notes = energies
    n_energy = e_ref.size
    model, origin = _reference_model(sed, reference_model, data, e_ref)
    refs = _references(model, data, e_ref, e_min, e_max, where)
    if "ref_dnde" not in refs:
        raise SchemaError(f"{where}a likelihood SED needs a 'ref_dnde' column or a reference model")
    norms = _norms(sed, data, refs, e_ref, dims, where)
    measured = {f"{stem}{s}" for stem in (kind.name, "norm") for s in schema.MEASUREMENT_SUFFIXES}
    rest = {k: v for k, v in data.items() if k not in measured and k not in refs}

    variables = {}
    for name, value in {**norms, **refs, **rest}.items():
        # references evaluated from the model depend on energy only
        var_dims = dims if name in data or name in norms else (schema.ENERGY,)
        variables[name] = _variable(name, value, var_dims, n_energy, where)
    energy_coords = {
        schema.ENERGY: _energy_coord(e_ref, schema.ENERGY, notes.get("derived")),
    }
    if e_min is not None:
        energy_coords[schema.ENERGY_MIN] = _energy_coord(e_min, schema.ENERGY_MIN, notes.get("edges"))
        energy_coords[schema.ENERGY_MAX] = _energy_coord(e_max, schema.ENERGY_MAX, notes.get("edges"))
    try:
        ds = xr.Dataset(variables, coords={**energy_coords, **(coords or {})})
    except ValueError as exc:  # sizes that disagree along a dimension other than energy
        raise SchemaError(f"{where}the arrays do not fit together: {exc}") from None
    ds = ds.transpose(*schema.canonical_dims(ds.dims))
    problems = order_problems(ds)
    if problems:
        raise SchemaError(f"{where}energies, time bins or source names out of order", problems=problems)
    ds.attrs.update(attrs or {})
    ds.attrs["sed_type_init"] = sed
    ds.attrs["n_sigma"] = float(n_sigma if n_sigma is not None else schema.DEFAULT_N_SIGMA)
    ds.attrs.update(_ul_attrs(ul_conf, n_sigma_ul, where, ul_sidedness))
    ds.attrs["sqrt_ts_threshold_ul"] = float(
        sqrt_ts_threshold_ul if sqrt_ts_threshold_ul is not None else schema.DEFAULT_SQRT_TS_THRESHOLD_UL
    )
    if model is not None:
        ds.attrs["reference_model"] = model_to_json(model)
    ds.attrs["reference_model_origin"] = origin
    if notes.get("edges"):  # issue 13 item 11: the assumption shows where the Dataset prints
        ds.attrs[EDGES_ORIGIN_ATTR] = EDGES_DERIVED
    if (
        "norm_scan" in data
        and sed != schema.LIKELIHOOD
        and origin in (ORIGIN_DEFAULT, ORIGIN_TEMPLATE)
        and not any(name.startswith("norm") and name != "norm_scan" for name in data)
        and not any(name in data for name in ("ref_flux", "ref_eflux"))
    ):
        ds.attrs[SCAN_REFERENCE_ATTR] = SCAN_REFERENCE_UNKNOWN
    return ds


def _member_labels(coords: Mapping[str, Any] | None, dims: Sequence[str]) -> np.ndarray | None:
    """The member codes of a collection given to :func:`from_sed`: a 1-D text coordinate along ``energy``
    among ``coords`` (``{"paper": ("energy", names)}``), or None."""
    from fluxds.collection import member_codes

    for value in (coords or {}).values():
        if isinstance(value, tuple) and len(value) >= 2 and value[0] in (schema.ENERGY, (schema.ENERGY,)):
            values = np.asarray(value[1])
            if values.ndim == 1 and values.dtype.kind in "USO":
                return member_codes(values)
    return None


def _energy_coord(q: u.Quantity, name: str, note: str | None) -> xr.Variable:
    attrs = {"units": format_unit(q.unit), "long_name": schema.ENERGY_LONG_NAMES[name]}
    if note:
        attrs["note"] = note
    return xr.Variable((schema.ENERGY,), np.asarray(q.value, dtype=np.float64), attrs)


def from_likelihood(
    norm,
    *,
    energy_ref=None,
    energy_min=None,
    energy_max=None,
    reference_model: SpectralModel | None = None,
    **kwargs: Any,
) -> xr.Dataset:
    """Build a fluxds Dataset from norms and a reference model (or stored reference fluxes).

    Parameters
    ----------
    norm : array_like
        Best-fit norms, shape ``dims``.
    energy_ref, energy_min, energy_max : astropy Quantity, optional
        Energies, as in :func:`from_sed`.
    reference_model : fluxds.models.SpectralModel, optional
        Gives ``ref_dnde``/``ref_flux``/``ref_eflux`` where they are not passed.
    **kwargs
        Further columns (``norm_err=``, ``norm_ul=``, ``ts=``, ``stat_scan=``, ``ref_flux=`` ...) and the
        keyword arguments of :func:`from_sed` (``dims``, ``coords``, ``attrs``, ``n_sigma_ul`` ...).

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import astropy.units as u
    >>> from fluxds.models import PowerLaw
    >>> pl = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> ds = from_likelihood([1.0, 0.5], energy_min=[1, 3] * u.TeV, energy_max=[3, 10] * u.TeV,
    ...                      reference_model=pl, norm_err=[0.1, 0.2])
    >>> ds.sed.flux.attrs["units"]
    'cm-2 s-1'
    """
    options = {
        k: kwargs.pop(k)
        for k in list(kwargs)
        if k
        in {
            "dims",
            "coords",
            "attrs",
            "n_sigma",
            "n_sigma_ul",
            "ul_conf",
            "sqrt_ts_threshold_ul",
            "derive_edges",
            "where",
        }
    }
    return from_sed(
        schema.LIKELIHOOD,
        {"norm": norm, **kwargs},
        energy_ref=energy_ref,
        energy_min=energy_min,
        energy_max=energy_max,
        reference_model=reference_model,
        **options,
    )


def reference_model_of(ds: xr.Dataset) -> SpectralModel | dict | None:
    """The reference model recorded in ``ds.attrs["reference_model"]`` (a dict by source when the
    sources have different models), or ``None``."""
    from fluxds.models import model_from_dict

    text = ds.attrs.get("reference_model")
    if not text:
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(f"attribute 'reference_model' is not valid JSON: {exc}") from None
    if isinstance(obj, dict) and "by_source" in obj:
        return {name: model_from_dict(d) for name, d in obj["by_source"].items()}
    return model_from_dict(obj)
