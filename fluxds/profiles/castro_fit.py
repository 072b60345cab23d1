"""Fit spectral-model parameters to the likelihood profiles of an SED (the "castro" fit).

**What is fitted.** The objective of one SED is :func:`fluxds.profiles.castro.castro_stat`: the sum
over valid energy bins of each bin's profile at the model's predicted norm. Every SED of the Dataset
(each combination of the dimensions other than ``energy``/``scan``: sources, time bins, ...) gets its
own parameters.

**How, for many SEDs at once.** The SEDs are independent, so the total of their objectives is
separable and its Hessian block-diagonal. One :func:`scipy.optimize.minimize` call (``trust-ncg``)
minimises the total over all parameters of all SEDs; every evaluation is one vectorised pass: the
value, the gradient (central differences) and the block-diagonal Hessian (second differences) come
from a single call of :func:`fluxds.profiles.interp.evaluate_profile` on all SEDs and all perturbed
parameter sets (``1 + 4 p + 2 p (p - 1)`` of them for ``p`` free parameters), since perturbing a
parameter of every SED at once changes each SED's objective by its own partial derivative only. No
Python loop runs over SEDs or bins.

**Errors.** ``covariance = 2 inv(H)``, with ``H`` the Hessian of ``stat = -2 log L`` at the best fit
(the Fisher matrix is ``H / 2``), per SED.

**Free parameters by default.** Every parameter but those of :data:`FIXED_BY_DEFAULT`: ``reference``
(degenerate with ``amplitude``) and the cutoff sharpness ``alpha`` of
:class:`~fluxds.models.ExpCutoffPowerLaw`
(gammapy's default too: ``alpha`` is nearly degenerate with ``index`` and ``lambda_`` on a few bins, and
published cutoff fits hold it at 1). Free them with ``parameters=[...]``.

**Why a fit failed.** ``success`` is False, and ``reason`` says why, where an SED has fewer valid bins
(finite profiles) than free parameters, where the objective is not finite at the start point, where the
optimizer stopped before converging, or where the Hessian is singular or not positive (a parameter
the profiles do not constrain: NaN errors). When no SED can be fitted at all, :class:`FitError` is raised.

**Published points without profiles.** A Dataset without ``stat_scan``/``norm_scan`` (values with
errors, upper limits: papers, catalogs) is fitted on profiles approximated from them
(:func:`fluxds.profiles.from_errors.profiles_from_errors`: two half-parabolas per value, a parabola from
zero per upper limit); the result's ``profiles`` attribute says so. On a collection, the members that
have no profile get the approximation and the others keep theirs. A Dataset whose profiles are stored
is fitted on them, as always.

**Joint fits.** Every SED along the dimensions other than ``energy`` gets its own parameters, unless
``joint`` names dimensions whose SEDs share one parameter set (``joint=True``: all of them): their points
are then put one after the other along ``energy`` (:func:`fluxds.collection.collection_from_grid`) and
fitted together. A collection (:mod:`fluxds.collection`: papers, instruments or sources whose points
lie along ``energy``) has only ``energy``: a plain fit of it is already joint, every point of every
member sharing one parameter set, and ``stat`` is the sum over all of them.

**Integration.** Inside the fit, bin integrals use a 24-node Gauss-Legendre rule in ln E
(:func:`fluxds.profiles.castro.gauss_legendre_bins`, ~1e-15 for smooth spectra), so that every
parameter may be an array over SEDs; ``weighting="dnde"`` needs no integral.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds.errors import FitError, FluxdsError, ModelError, SchemaError
from fluxds.models import SpectralModel
from fluxds.profiles._castro_objective import Problem, derivatives
from fluxds.units import format_unit

__all__ = ["fit_castro", "best_fit_model", "FIXED_BY_DEFAULT"]

# Parameters not fitted unless named in ``parameters=``: for every model, and per model type.
FIXED_BY_DEFAULT: dict[str, tuple[str, ...]] = {"*": ("reference",), "ExpCutoffPowerLaw": ("alpha",)}


def _free_names(model, parameters) -> tuple[list[str], dict[str, Any]]:
    if isinstance(model, SpectralModel):
        all_params = model.parameters
        if parameters is None:
            fixed = FIXED_BY_DEFAULT["*"] + FIXED_BY_DEFAULT.get(model.type, ())
            names = [n for n in all_params if n not in fixed]
        else:
            names = list(parameters)
        unknown = [n for n in names if n not in all_params]
        if unknown:
            raise ModelError(
                f"{model.type} has no parameter(s) {unknown}; expected some of {list(all_params)}"
            )
        start = {
            n: model.parameters[n] if all_params[n].unit != u.one else float(all_params[n].value)
            for n in names
        }
        return names, start
    if not callable(model) or not isinstance(parameters, Mapping) or not parameters:
        raise ModelError(
            "a callable model needs parameters={name: start value} (floats or Quantities), "
            f"got model={model!r}, parameters={parameters!r}"
        )
    return list(parameters), dict(parameters)


def fit_castro(
    ds: xr.Dataset,
    model: SpectralModel | Callable,
    *,
    parameters: Sequence[str] | Mapping[str, Any] | None = None,
    weighting: str = "flux",
    rescale_amplitude: bool = True,
    joint: bool | Sequence[str] = False,
) -> xr.Dataset:
    """Fit a spectral model to the likelihood profiles of an SED (every SED of the Dataset at once).

    Parameters
    ----------
    ds : xarray.Dataset
        Likelihood SED with ``stat_scan``/``norm_scan`` (``..., energy, scan``); any other dimensions
        (``source``, ``time`` ...) give independent fits. The profiles are read into memory. Without
        profiles, values with errors and upper limits are fitted on profiles approximated from them
        (:mod:`fluxds.profiles.from_errors`). A collection's points (all members) are fitted jointly.
    model : fluxds.models.SpectralModel or callable
        The model at its starting point, or a vectorised ``dnde(E, **params) -> Quantity``.
    parameters : sequence of str or mapping, optional
        For a fluxds model, the names of the free parameters (default: all but those of
        :data:`FIXED_BY_DEFAULT`: ``reference``, degenerate with ``amplitude``, and ``alpha`` of an
        ``ExpCutoffPowerLaw``); the others stay at the model's values. For a callable,
        ``{name: start value}`` (all free).
    weighting : {"flux", "eflux", "dnde"}
        How the model becomes a predicted norm (see :func:`fluxds.profiles.castro.predicted_norm`).
    rescale_amplitude : bool
        Start each SED's ``amplitude`` (if free) at the model's value times the median of
        ``norm / norm_pred`` over its bins (when ``norm`` is stored), so far-off starts converge.
    joint : bool or sequence of str
        Dimensions (other than ``energy``) whose SEDs share one parameter set, fitted together;
        ``True``: all of them (one fit of every point); ``False`` (default): one fit per SED.

    Returns
    -------
    xarray.Dataset
        On the SED dimensions (those not ``joint``): one variable per free parameter (``units``
        attribute) and ``<name>_err``, ``covariance`` (dims ``param``, ``param_other``), ``stat``
        (``-2 log L`` at the best fit), ``n_bins`` (valid energy bins), ``success``, ``reason`` (text:
        why ``success`` is False, ``""`` where it is True). Attributes: ``model`` (the start model as
        JSON, or its repr), ``weighting``, ``optimizer`` (scipy's message), ``profiles`` (where the
        profiles came from: ``"stored"``, or approximated from errors), ``joint`` (the dimensions fitted
        jointly, JSON).

    Raises
    ------
    FitError
        No SED has as many valid energy bins as free parameters (nothing can be fitted).

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> unit = u.Unit("cm-2 s-1 TeV-1")
    >>> truth = PowerLaw(index=2.5, amplitude=3e-12 * unit, reference=1 * u.TeV)
    >>> ref = PowerLaw(index=2, amplitude=1e-12 * unit, reference=1 * u.TeV)
    >>> e = np.geomspace(0.5, 50, 7) * u.TeV
    >>> norm = (truth.flux(e[:-1], e[1:]) / ref.flux(e[:-1], e[1:])).value
    >>> scan = norm[:, None] * np.linspace(0.5, 1.5, 11)
    >>> stat_scan = (scan - norm[:, None]) ** 2 / (0.1 * norm[:, None]) ** 2  # 10 % errors
    >>> ds = from_likelihood(norm, energy_min=e[:-1], energy_max=e[1:], reference_model=ref,
    ...                      norm_scan=scan, stat_scan=stat_scan)
    >>> fit = fit_castro(ds, ref)
    >>> round(float(fit["index"]), 6), bool(fit["success"])
    (2.5, True)
    """
    from scipy.optimize import minimize

    ds, origin = _with_profiles(ds)
    ds, shared = _joint(ds, joint)
    names, start = _free_names(model, parameters)
    problem = Problem(ds, model, names, start, weighting)
    n, p = int(np.prod(problem.cell_shape, dtype=int)), len(names)
    x0 = np.array([[np.asarray(u.Quantity(start[nm]).value, float) for nm in names]] * n)
    scale = np.where(x0 != 0, np.abs(x0), 1.0)  # every parameter in units of its start value
    x0 = x0 / scale
    if "amplitude" in names:
        j = names.index("amplitude")
        if rescale_amplitude and "norm" in ds:
            scale[:, j] *= _amplitude_factor(ds, problem, x0, scale)
    n_bins = problem.valid.sum(axis=1)
    reason = np.full(n, "", dtype=object)
    few = n_bins < p  # SEDs with fewer valid bins than parameters are not fitted
    reason[few] = np.char.add(  # no Python loop over SEDs
        n_bins[few].astype(str), f" valid energy bin(s) (finite profiles) for {p} free parameter(s) {names}"
    )
    if few.all():
        raise FitError(
            f"fit of {_model_name(model)}: no SED has as many valid energy bins (finite stat_scan/norm_scan) "
            f"as free parameters ({p}: {names}); valid bins per SED: {np.unique(n_bins).tolist()}. "
            "Fix some parameters (parameters=[...]) or merge fewer bins"
        )
    rows = np.flatnonzero(~few)
    cache: dict[bytes, tuple] = {}

    def evaluate(x):
        key = x.tobytes()
        if key not in cache:
            cache.clear()
            cache[key] = derivatives(problem, x.reshape(-1, p), scale, rows)
        return cache[key]

    def fun(x):
        return float(evaluate(x)[0].sum())

    def jac(x):
        return evaluate(x)[1].ravel()

    def hessp(x, v):
        return np.einsum("nij,nj->ni", evaluate(x)[2], v.reshape(-1, p)).ravel()

    best = np.full((n, p), np.nan)
    hess = np.full((n, p, p), np.nan)
    stat = np.full(n, np.nan)
    message = "no SED has enough valid bins"
    ok = np.zeros(n, dtype=bool)
    start_stat = derivatives(problem, x0[rows], scale, rows)[0]
    bad_start = rows[~np.isfinite(start_stat)]
    reason[bad_start] = (
        "the objective is not finite at the start point (the model gives non-finite or negative "
        "predicted norms, or the profiles are not finite there)"
    )
    rows = rows[np.isfinite(start_stat)]
    gtol = 1e-7 * np.sqrt(max(rows.size, 1))
    if rows.size:
        res = minimize(
            fun,
            x0[rows].ravel(),
            jac=jac,
            hessp=hessp,
            method="trust-ncg",
            options={"gtol": gtol, "maxiter": 500},
        )
        best[rows] = res.x.reshape(-1, p)
        value, grad, h = derivatives(problem, best[rows], scale, rows)
        stat[rows], hess[rows] = value, h
        message = str(res.message)
        ok[rows] = np.abs(grad).max(axis=1) < 1e-3  # per SED; the Hessian is checked in _result
        reason[rows[~ok[rows]]] = f"the gradient is not zero at the end (optimizer: {message})"
        if res.status == 1:  # out of iterations: an SED whose own gradient is above the tolerance is not done
            stopped = rows[np.linalg.norm(grad, axis=1) > gtol]
            ok[stopped] = False
            reason[stopped] = f"the optimizer stopped before converging: {message}"
    out = _result(problem, best, hess, scale, stat, n_bins, ok, message, model, reason)
    out.attrs.update(profiles=origin, joint=json.dumps(shared))
    return out


#: the variables a castro fit reads (a joint fit flattens only these)
_FIT_VARIABLES = ("norm", "norm_scan", "stat_scan", "ref_dnde", "ref_flux", "ref_eflux")


def _with_profiles(ds: xr.Dataset) -> tuple[xr.Dataset, str]:
    """``ds`` with profiles to fit, and where they come from: stored; approximated from values and errors
    where there are none; on a collection, approximated for the points of members without any."""
    from fluxds.collection import is_collection
    from fluxds.profiles.from_errors import profiles_from_errors

    if "stat_scan" not in ds.data_vars or "norm_scan" not in ds.data_vars:
        try:
            out = profiles_from_errors(ds)
        except FluxdsError as exc:
            raise SchemaError(
                "the castro fit needs likelihood profiles ('stat_scan' and 'norm_scan' on dims (..., "
                f"energy, scan)), or values with errors or upper limits to approximate them: {exc}"
            ) from None
        return out, out.attrs["profiles_origin"]
    if is_collection(ds) and any(v in ds.data_vars for v in ("norm_err", "norm_errp", "norm_ul")):
        have = (np.isfinite(ds["norm_scan"]) & np.isfinite(ds["stat_scan"])).any("scan")
        if not bool(have.all()):
            out = profiles_from_errors(ds, only_missing=True)
            return out, out.attrs["profiles_origin"]
    return ds, "stored"


def _joint(ds: xr.Dataset, joint: bool | Sequence[str]) -> tuple[xr.Dataset, list[str]]:
    """``ds`` with the SEDs along the ``joint`` dimensions put one after the other along ``energy`` (one
    parameter set for all of them), and those dimensions."""
    from fluxds.collection import collection_from_grid

    profile_dims = [d for d in ds["stat_scan"].dims if d not in ("energy", "scan")]
    if joint is True:
        dims = profile_dims
    elif joint is False or joint is None:
        return ds, []
    else:
        dims = [joint] if isinstance(joint, str) else list(joint)
        unknown = [d for d in dims if d not in ds.dims or d in ("energy", "scan")]
        if unknown:
            raise FluxdsError(
                f"joint={joint!r}: {unknown} are not dimensions of the SEDs to fit jointly; the Dataset "
                f"has {[d for d in ds.dims if d not in ('energy', 'scan')]}"
            )
    dims = [d for d in dims if d in ds.dims]
    if not dims:
        return ds, []
    flat = ds[[v for v in _FIT_VARIABLES if v in ds.data_vars]]
    for dim in dims:
        flat = collection_from_grid(flat, dim, "energy")
    return flat, dims


def _model_name(model) -> str:
    return model.type if isinstance(model, SpectralModel) else repr(model)


def _amplitude_factor(ds, problem: Problem, x0, scale) -> np.ndarray:
    """Median over bins of ``norm / norm_pred`` at the start point, per SED (1 where undefined)."""
    pred = problem.norm_pred(x0[:, :, None], scale)[..., 0]
    norm = xr.broadcast(ds["norm"], xr.DataArray(np.empty(problem.cell_shape), dims=problem.cell_dims))[0]
    norm = norm.transpose(*problem.cell_dims, "energy").values.reshape(pred.shape)
    with np.errstate(all="ignore"):
        ratio = np.where(problem.valid & (norm > 0) & (pred > 0), norm / pred, np.nan)
    factor = np.nanmedian(np.where(np.isnan(ratio).all(axis=1, keepdims=True), 1.0, ratio), axis=1)
    return np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)


def _result(problem, best, hess, scale, stat, n_bins, ok, message, model, reason) -> xr.Dataset:
    names = problem.names
    # a singular or undefined block (an SED not fitted, a degenerate parameter) gives NaN, alone
    finite = np.isfinite(hess).all(axis=(1, 2))
    det = np.linalg.det(np.where(finite[:, None, None], hess, 1.0))
    bad = ~finite | ~(np.abs(det) > 0)
    cov_scaled = 2.0 * np.linalg.inv(np.where(bad[:, None, None], np.eye(hess.shape[-1]), hess))
    cov_scaled[bad] = np.nan
    cov = cov_scaled * scale[:, :, None] * scale[:, None, :]
    var = np.diagonal(cov, axis1=1, axis2=2)
    unconstrained = ok & ~(np.isfinite(var).all(axis=1) & (var > 0).all(axis=1))
    reason[unconstrained] = (
        "the Hessian of the objective is singular or not positive at the best fit: a free parameter is "
        "not constrained by the profiles (fix it, or free fewer parameters)"
    )
    ok = ok & ~unconstrained
    values = best * scale
    dims, shape = problem.cell_dims, problem.cell_shape
    out = xr.Dataset(coords=problem.cell_coords)
    for j, name in enumerate(names):
        start = problem.start[name]
        unit = format_unit(start.unit) if isinstance(start, u.Quantity) else ""
        out[name] = xr.DataArray(values[:, j].reshape(shape), dims=dims, attrs={"units": unit})
        out[f"{name}_err"] = xr.DataArray(np.sqrt(var[:, j]).reshape(shape), dims=dims, attrs={"units": unit})
    out["covariance"] = xr.DataArray(
        cov.reshape(shape + (len(names),) * 2),
        dims=(*dims, "param", "param_other"),
        coords={"param": names, "param_other": names},
        attrs={"long_name": "covariance = 2 inv(Hessian of -2 log L); units those of the parameters"},
    )
    out["stat"] = xr.DataArray(stat.reshape(shape), dims=dims, attrs={"units": "", "long_name": "-2 log L"})
    out["n_bins"] = xr.DataArray(n_bins.reshape(shape), dims=dims, attrs={"long_name": "valid energy bins"})
    out["success"] = xr.DataArray(ok.reshape(shape), dims=dims)
    reason[ok] = ""
    out["reason"] = xr.DataArray(
        reason.astype(str).reshape(shape), dims=dims, attrs={"long_name": "why the fit failed"}
    )
    out.attrs = {
        "model": json.dumps(model.to_dict()) if isinstance(model, SpectralModel) else repr(model),
        "weighting": problem.weighting,
        "optimizer": f"scipy.optimize.minimize(method='trust-ncg'): {message}",
    }
    return out


def best_fit_model(fit: xr.Dataset) -> SpectralModel:
    """The fluxds model at the best fit of one SED (select it first, e.g. ``fit.sel(source="Crab")``).

    Parameters
    ----------
    fit : xarray.Dataset
        A result of :func:`fit_castro` for a fluxds model, reduced to scalars.

    Returns
    -------
    fluxds.models.SpectralModel
        The start model with the fitted parameters set.

    Examples
    --------
    >>> import json, astropy.units as u, xarray as xr
    >>> from fluxds.models import PowerLaw
    >>> start = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> fit = xr.Dataset({"index": 2.5}, attrs={"model": json.dumps(start.to_dict())})
    >>> best_fit_model(fit)
    PowerLaw(index=2.5, amplitude=1e-12 cm-2 s-1 TeV-1, reference=1.0 TeV)
    """
    from fluxds.models import model_from_dict

    try:
        data = json.loads(fit.attrs["model"])
    except (KeyError, json.JSONDecodeError):
        raise FluxdsError(
            f"best_fit_model: attribute 'model' is {fit.attrs.get('model')!r}; expected the JSON of a "
            "fluxds model (a callable model has none: call it with the fitted values)"
        ) from None
    params = data["parameters"]
    for name in params:
        if name in fit:
            if fit[name].ndim:
                raise FluxdsError(f"best_fit_model: {name!r} has dims {fit[name].dims}; select one SED first")
            value = float(fit[name])
            entry = params[name]
            params[name] = {**entry, "value": value} if isinstance(entry, Mapping) else value
    return model_from_dict(data)
