"""The "castro" likelihood: a spectral model tested against the per-bin likelihood profiles of an SED.

Each energy bin of a likelihood SED holds a profile ``stat_scan(norm_scan)`` (``-2 log L`` against
the norm relative to the reference model). A spectral model predicts one norm per bin; the total
``-2 log L`` of the model is the sum over energy bins of each profile evaluated there
(:func:`fluxds.profiles.interp.evaluate_profile`). This module gives the predicted norms and that sum;
:mod:`fluxds.profiles.castro_fit` fits model parameters with it.
"""

from __future__ import annotations

from collections.abc import Callable

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds.construct import require_scan_reference
from fluxds.errors import MissingEnergyEdgesError, MissingQuantityError, ModelError, SchemaError
from fluxds.models import SpectralModel
from fluxds.units import parse_unit

__all__ = ["WEIGHTINGS", "predicted_norm", "castro_stat", "gauss_legendre_bins", "valid_profiles"]

#: How a model's prediction in a bin becomes a norm: the model's integral over the bin (``flux``:
#: photon flux, ``eflux``: energy flux) or its ``dnde`` at the bin's reference energy (``dnde``, what
#: gammapy's ``FluxPointsDataset`` does), divided by the same quantity of the reference model.
WEIGHTINGS: dict[str, str] = {"flux": "ref_flux", "eflux": "ref_eflux", "dnde": "ref_dnde"}
#: The power of E in the bin integral of each integrating weighting: 0 for ``flux``, 1 for ``eflux``.
MOMENTS: dict[str, int] = {"flux": 0, "eflux": 1}

# Gauss-Legendre rule in ln E for callables: 24 nodes integrate smooth spectra over a decade-wide bin
# to ~1e-15 relative (a kink inside a bin, as the break of a broken power law, to ~1e-4 only).
N_NODES = 24


def gauss_legendre_bins(e_min: np.ndarray, e_max: np.ndarray, moment: int = 0, n: int = N_NODES):
    """Nodes and weights to integrate ``E**moment * f(E)`` over every bin at once, in ln E.

    Parameters
    ----------
    e_min, e_max : numpy.ndarray
        Bin edges, shape ``(n_energy,)``, one energy unit.
    moment : int
        0 for a photon flux, 1 for an energy flux.
    n : int
        Number of nodes per bin.

    Returns
    -------
    energy, weight : numpy.ndarray
        Shape ``(n_energy, n)``: ``sum(f(energy) * weight, axis=-1)`` is ``∫ E**moment f(E) dE`` in
        ``unit(f) * unit(E)**(1 + moment)``.

    Examples
    --------
    >>> import numpy as np
    >>> e, w = gauss_legendre_bins(np.array([1.0]), np.array([10.0]))
    >>> round(float(np.sum(e**-2 * w)), 12)  # ∫ E^-2 dE from 1 to 10
    0.9
    """
    x, wx = np.polynomial.legendre.leggauss(n)
    t0, t1 = np.log(np.asarray(e_min, float)), np.log(np.asarray(e_max, float))
    half = 0.5 * (t1 - t0)[..., None]
    energy = np.exp(0.5 * (t0 + t1)[..., None] + half * x)
    return energy, half * wx * energy ** (1 + moment)


def units_of(da: xr.DataArray, name: str) -> u.UnitBase:
    """The unit of a variable or coordinate, from its ``units`` attribute (dimensionless without one).

    Parameters
    ----------
    da : xarray.DataArray
        The variable or coordinate.
    name : str
        Its name, for the error message.

    Returns
    -------
    astropy.units.UnitBase

    Raises
    ------
    UnitError
        The ``units`` attribute is not a unit (see :func:`fluxds.units.parse_unit`).
    """
    return parse_unit(da.attrs.get("units", ""), where=f"variable {name!r}")


def energy_edges(ds: xr.Dataset) -> tuple[u.Quantity, u.Quantity]:
    """The energy bin edges of a Dataset, for the castro likelihood's integrating weightings.

    Parameters
    ----------
    ds : xarray.Dataset
        With the coordinates ``energy_min`` and ``energy_max``.

    Returns
    -------
    lo, hi : astropy.units.Quantity
        The lower and upper bin edges, shape ``(energy,)``, each in the unit of its coordinate.

    Raises
    ------
    MissingEnergyEdgesError
        ``ds`` has no bin edges (only ``weighting="dnde"`` works without them).
    """
    if "energy_min" not in ds.coords or "energy_max" not in ds.coords:
        raise MissingEnergyEdgesError(
            "castro likelihood with weighting 'flux'/'eflux' needs the energy bin edges "
            "(coordinates 'energy_min', 'energy_max'); this Dataset has none: use weighting='dnde'"
        )
    lo, hi = ds["energy_min"], ds["energy_max"]
    return lo.values * units_of(lo, "energy_min"), hi.values * units_of(hi, "energy_max")


def reference_of(ds: xr.Dataset, weighting: str) -> xr.DataArray:
    """The reference-model quantity the norms of ``ds`` are relative to, for ``weighting``."""
    if weighting not in WEIGHTINGS:
        raise ModelError(f"weighting {weighting!r} is unknown; expected one of {sorted(WEIGHTINGS)}")
    name = WEIGHTINGS[weighting]
    if name not in ds:
        raise MissingQuantityError(
            f"castro likelihood with weighting {weighting!r} needs the variable {name!r}, "
            f"which the Dataset does not hold (it has {sorted(ds.data_vars)})"
        )
    return ds[name]


def model_integral(ds: xr.Dataset, model: SpectralModel | Callable, weighting: str) -> u.Quantity:
    """The model's ``flux``/``eflux`` over each bin (or ``dnde`` at ``e_ref``), shape ``(energy,)``.

    Exact integrals for a :class:`fluxds.models.SpectralModel`; Gauss-Legendre quadrature in ln E
    (:func:`gauss_legendre_bins`) for a callable ``dnde(E)``.
    """
    if weighting == "dnde":
        e_ref = ds["energy"].values * units_of(ds["energy"], "energy")
        return model.dnde(e_ref) if isinstance(model, SpectralModel) else u.Quantity(model(e_ref))
    lo, hi = energy_edges(ds)
    if isinstance(model, SpectralModel):
        return model.flux(lo, hi) if weighting == "flux" else model.eflux(lo, hi)
    if not callable(model):
        raise ModelError(f"model must be a fluxds SpectralModel or a callable dnde(E), got {model!r}")
    moment = MOMENTS[weighting]
    energy, weight = gauss_legendre_bins(lo.value, hi.to_value(lo.unit), moment=moment)
    dnde = u.Quantity(model(energy * lo.unit))
    return np.sum(dnde.value * weight, axis=-1) * (dnde.unit * lo.unit ** (1 + moment))


def predicted_norm(
    ds: xr.Dataset, model: SpectralModel | Callable, *, weighting: str = "flux"
) -> xr.DataArray:
    """The norm a spectral model predicts in each energy bin, relative to the Dataset's reference.

    ``norm_pred = model_flux / ref_flux`` (``weighting="flux"``: integrals over the bin),
    ``model_eflux / ref_eflux`` (``"eflux"``) or ``model_dnde(e_ref) / ref_dnde`` (``"dnde"``).

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset in likelihood form (with bin edges for ``flux``/``eflux``).
    model : fluxds.models.SpectralModel or callable
        A fluxds model (exact integrals) or any vectorised ``dnde(E: Quantity) -> Quantity``
        (integrated by Gauss-Legendre quadrature in ln E, 24 nodes per bin).
    weighting : {"flux", "eflux", "dnde"}
        Which reference quantity the prediction is compared with.

    Returns
    -------
    xarray.DataArray
        Dimensionless, on the dimensions of the reference variable (``energy`` and any other
        dimension along which the reference varies, e.g. ``source``).

    Examples
    --------
    >>> import astropy.units as u
    >>> from fluxds import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> ref = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> ds = from_likelihood([1.0, 1.0], energy_min=[1, 10] * u.TeV, energy_max=[10, 100] * u.TeV,
    ...                      reference_model=ref)
    >>> twice = PowerLaw(index=2, amplitude=2e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> predicted_norm(ds, twice).values
    array([2., 2.])
    """
    ref = reference_of(ds, weighting)
    value = model_integral(ds, model, weighting)
    try:
        factor = value.to_value(units_of(ref, ref.name))
    except u.UnitConversionError:
        raise ModelError(
            f"the model gives {value.unit} but {ref.name!r} is in {ref.attrs.get('units')!r}: "
            "expected the same physical dimension (is dnde(E) a differential flux?)"
        ) from None
    factor = np.broadcast_to(np.asarray(factor, dtype=float), (ds.sizes["energy"],))
    pred = xr.DataArray(factor, dims=("energy",)) / ref
    pred.name = "norm_pred"
    pred.attrs = {"units": "", "long_name": f"norm predicted by the model ({weighting} weighting)"}
    return pred


def profile_arrays(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    """``norm_scan`` and ``stat_scan`` of ``ds``; a :class:`SchemaError` if there are none."""
    missing = [name for name in ("norm_scan", "stat_scan") if name not in ds]
    if missing:
        raise SchemaError(
            f"the castro likelihood needs the likelihood profiles, but variable(s) {missing} are "
            "missing: expected 'stat_scan' and 'norm_scan' on dims (..., energy, scan)"
        )
    require_scan_reference(ds, "the castro likelihood")
    return ds["norm_scan"], ds["stat_scan"]


def stat_at(ds: xr.Dataset, norm: xr.DataArray) -> tuple[xr.DataArray, xr.DataArray]:
    """Each bin's profile evaluated at ``norm`` (any dims broadcasting against the profiles).

    Returns ``(stat, status)`` of :func:`fluxds.profiles.interp.evaluate_profile`; lazy on dask.
    """
    from fluxds.profiles.interp import evaluate_profile

    norm_scan, stat_scan = profile_arrays(ds)
    return xr.apply_ufunc(
        evaluate_profile,
        norm_scan,
        stat_scan,
        norm,
        input_core_dims=[["scan"], ["scan"], []],
        output_core_dims=[[], []],
        dask="parallelized",
        output_dtypes=[float, np.int8],
    )


def valid_bins(ds: xr.Dataset) -> xr.DataArray:
    """Bins whose profile is finite at every scan point, padding aside (the others are left out of every
    sum); see :func:`valid_profiles`."""
    norm_scan, stat_scan = profile_arrays(ds)
    return xr.apply_ufunc(
        valid_profiles,
        norm_scan,
        stat_scan,
        input_core_dims=[["scan"], ["scan"]],
        dask="parallelized",
        output_dtypes=[bool],
    )


def valid_profiles(norm_scan: np.ndarray, stat_scan: np.ndarray) -> np.ndarray:
    """Per profile (last axis: the scan): whether the castro likelihood uses it. Every scan point finite;
    scan points where *both* arrays are NaN are padding (a shorter profile among longer ones: a
    collection's members, :func:`fluxds.profiles.from_errors.profiles_from_errors`), allowed where at
    least two points remain. A point where only one of the two is NaN (a failed evaluation) leaves the
    bin out, as does a profile of padding only.

    Examples
    --------
    >>> nan = float("nan")
    >>> valid_profiles(np.array([[0, 1, 2.0], [0, 1, nan], [0, 1, 2.0]]),
    ...                np.array([[1, 0, 1.0], [1, 0, nan], [1, 0, nan]])).tolist()
    [True, True, False]
    """
    fn, fs = np.isfinite(norm_scan), np.isfinite(stat_scan)
    both = fn & fs
    return ~(fn ^ fs).any(axis=-1) & (both.all(axis=-1) | (both.sum(axis=-1) >= 2))


def castro_stat(ds: xr.Dataset, model: SpectralModel | Callable, *, weighting: str = "flux") -> xr.DataArray:
    """Total ``-2 log L`` of a spectral model against the likelihood profiles of an SED.

    Per energy bin, the model's predicted norm (:func:`predicted_norm`) is looked up on the bin's
    profile (:func:`fluxds.profiles.interp.evaluate_profile`); the result is the sum over energy.
    Bins whose profile is not finite everywhere (no data) are left out.

    Parameters
    ----------
    ds : xarray.Dataset
        Likelihood SED with ``stat_scan``/``norm_scan`` on dims ``(..., energy, scan)``.
    model : fluxds.models.SpectralModel or callable
        The model; a callable is a vectorised ``dnde(E: Quantity) -> Quantity``.
    weighting : {"flux", "eflux", "dnde"}
        ``"flux"`` (default): predicted norm = model flux in the bin / ``ref_flux``;
        ``"eflux"``: with energy fluxes; ``"dnde"``: model ``dnde`` at ``e_ref`` / ``ref_dnde``.

    Returns
    -------
    xarray.DataArray
        ``stat`` (dimensionless ``-2 log L``) on every dimension of the profiles but ``energy`` and
        ``scan`` (e.g. ``source``, ``time``); lazy on a dask-backed Dataset.

    Examples
    --------
    >>> import numpy as np, astropy.units as u
    >>> from fluxds import from_likelihood
    >>> from fluxds.models import PowerLaw
    >>> ref = PowerLaw(index=2, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> scan = np.linspace(0, 2, 21)
    >>> ds = from_likelihood([1.0, 1.0], energy_min=[1, 10] * u.TeV, energy_max=[10, 100] * u.TeV,
    ...                      reference_model=ref, norm_scan=[scan, scan],
    ...                      stat_scan=[(scan - 1) ** 2 / 0.1**2, (scan - 1) ** 2 / 0.2**2])
    >>> twice = PowerLaw(index=2, amplitude=1.1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    >>> round(float(castro_stat(ds, twice)), 9)  # 0.1**2 / 0.1**2 + 0.1**2 / 0.2**2
    1.25
    """
    pred = predicted_norm(ds, model, weighting=weighting)
    stat, _ = stat_at(ds, pred)
    total = stat.where(valid_bins(ds), 0.0).sum("energy", skipna=False)
    total.name = "stat"
    total.attrs = {"units": "", "long_name": f"-2 log L of the model ({weighting} weighting)"}
    return total
