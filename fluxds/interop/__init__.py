"""gammapy interop: ``FluxPoints``/``FluxMaps`` <-> fluxds Datasets, through gammapy's in-memory maps.

gammapy is an optional dependency (``pip install fluxds[gammapy]``): it is imported when one of these
functions is called, never when fluxds is imported. See ``docs/profiles_and_interop.md``.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from fluxds.errors import FluxdsError, SchemaError

__all__ = ["from_gammapy", "to_gammapy", "GammapyMissingError"]


class GammapyMissingError(FluxdsError, ImportError):
    """gammapy is not installed (``pip install fluxds[gammapy]``)."""


def _require_gammapy(what: str):
    try:
        import gammapy
    except ImportError as exc:
        raise GammapyMissingError(
            f"{what} needs gammapy, which is not installed ({exc}); install it with "
            "'pip install fluxds[gammapy]' (or 'pip install gammapy')"
        ) from None
    return gammapy


def from_gammapy(obj: Any, *, regions=None) -> xr.Dataset:
    """A fluxds Dataset from a gammapy ``FluxPoints`` or ``FluxMaps`` object.

    Parameters
    ----------
    obj : gammapy.estimators.FluxPoints or gammapy.estimators.FluxMaps
        An SED (energy axis), a light curve (energy and time axes), a flux profile (energy and
        projected-distance axes), or a flux map on a WCS or HEALPix geometry.
    regions : list of regions.SkyRegion or str, optional
        For a profile: the regions of the profile (e.g. ``FluxProfileEstimator.regions``), kept as DS9
        text in the ``region_shape`` coordinate (gammapy's object does not hold them).

    Returns
    -------
    xarray.Dataset
        The likelihood form: every map gammapy holds (``norm*``, ``ts``, ``sqrt_ts``, ``stat*``,
        ``stat_scan`` with ``norm_scan``, ``counts``/``npred*`` with a ``dataset`` dimension,
        ``is_ul``, ``success``, ``niter`` ...), ``ref_dnde``/``ref_flux``/``ref_eflux`` as gammapy
        evaluates its reference model, the GTI, and ``n_sigma``, ``n_sigma_ul``,
        ``sqrt_ts_threshold_ul``, ``sed_type_init`` (and ``ul_conf`` from ``meta["UL_CONF"]``).

    Raises
    ------
    GammapyMissingError
        If gammapy is not installed.
    SchemaError
        If ``obj`` is not a gammapy flux estimate, or has a geometry fluxds has no form for.

    Examples
    --------
    >>> import fluxds
    >>> from gammapy.estimators import FluxPoints
    >>> ds = from_gammapy(FluxPoints.read(fluxds.demo_path()))
    >>> ds.sizes["energy"]
    5
    """
    _require_gammapy("fluxds.from_gammapy")
    from gammapy.estimators import FluxMaps

    if not isinstance(obj, FluxMaps):
        raise SchemaError(
            f"from_gammapy takes a gammapy FluxPoints or FluxMaps object, got {type(obj).__name__}"
        )
    from fluxds.interop._from import dataset_from_flux_maps

    return dataset_from_flux_maps(obj, regions=regions)


def to_gammapy(ds: xr.Dataset, *, exact_reference: bool = True):
    """A gammapy ``FluxPoints`` (no sky dimensions) or ``FluxMaps`` (``lat``/``lon`` or ``pixel``) from a
    fluxds Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        A fluxds Dataset without a ``source`` dimension (select one source first). Dims ``energy``
        and any of ``time``, ``region`` (gammapy's projected-distance axis), ``lat``/``lon`` or
        ``pixel``; ``scan`` and ``dataset`` for the scans and per-dataset counts.
    exact_reference : bool
        gammapy derives every flux from its reference model. Where gammapy's evaluation of the model
        differs from the stored ``ref_dnde``/``ref_flux``/``ref_eflux`` (a template it re-integrates,
        a quadrature), the object gets a
        :class:`~fluxds.interop._models.StoredReferenceSpectralModel` that returns the stored values
        on the Dataset's bins (the GADF rule), so its ``dnde``/``flux``/``eflux`` equal
        ``ds.sed.*``. With False, the plain model is given and gammapy's numbers are its own.

    Returns
    -------
    gammapy.estimators.FluxPoints or gammapy.estimators.FluxMaps
        Likelihood form (``sed_type_init`` as in the Dataset). A dask-backed Dataset is computed:
        gammapy holds numpy arrays.

    Raises
    ------
    GammapyMissingError
        If gammapy is not installed.
    SchemaError
        For what gammapy cannot hold (a ``source`` dimension, non-contiguous energy bins, reference
        fluxes that vary along another dimension than energy ...).
    """
    _require_gammapy("fluxds.to_gammapy")
    if not isinstance(ds, xr.Dataset):
        raise SchemaError(f"to_gammapy takes an xarray.Dataset, got {type(ds).__name__}")
    from fluxds.interop._to import flux_maps_from_dataset

    return flux_maps_from_dataset(ds, exact_reference=exact_reference)
