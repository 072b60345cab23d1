"""The ``.sed`` accessor: a thin doorway from a Dataset to the functions that do the work.

Every quantity of :data:`fluxds.schema.QUANTITY_NAMES` is a property (``ds.sed.dnde``,
``ds.sed.flux_ul``, ``ds.sed.e2dnde_ref``, ``ds.sed.sqrt_ts`` ...), generated from that table.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import xarray as xr

from fluxds import schema
from fluxds.validate import validate

if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence

    import astropy.units as u
    from astropy.coordinates import SkyCoord

    from fluxds.models import SpectralModel
    from fluxds.plotting import GridArtists, LightCurveArtists, ProfileArtists, SedArtists

# The machinery (fluxds.convert, astropy.units, the models) is imported on first use, so that
# registering the accessor costs nothing at ``import fluxds``.

__all__ = ["SedAccessor"]

_FILTER_SUCCESS_MOVED = (
    "the .sed accessor holds no settings: xarray makes a new accessor for every new Dataset (after "
    ".isel, .sel, arithmetic ...), so a setting made on it would be lost silently. The success filter "
    "is a parameter: ds.sed.get(name, filter_success=False) (also ds.sed.quantity(name, "
    "filter_success=False), fluxds.get_quantity(ds, name, filter_success=False)); the properties "
    "(ds.sed.norm, ds.sed.dnde ...) always filter"
)


@xr.register_dataset_accessor("sed")
class SedAccessor:
    """Physics of a gamma-ray flux estimate held in an :class:`xarray.Dataset`.

    The accessor holds no state: xarray makes a new one for every new Dataset (after ``.isel``,
    ``.sel``, arithmetic ...), so every option is a parameter of a method (the success filter:
    ``ds.sed.get("norm", filter_success=False)``). Setting an attribute on it raises
    :class:`AttributeError`.

    Examples
    --------
    >>> import fluxds
    >>> ds = fluxds.read(fluxds.demo_path())
    >>> ds.sed.dnde.attrs["units"]
    'cm-2 s-1 TeV-1'
    """

    __slots__ = ("_ds",)

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SedAccessor.__slots__:
            object.__setattr__(self, name, value)
        elif name == "filter_success":
            raise AttributeError(f"ds.sed.filter_success cannot be set: {_FILTER_SUCCESS_MOVED}")
        else:
            raise AttributeError(
                f"cannot set {name!r} on the .sed accessor: it holds no state (xarray makes a new "
                "accessor for every new Dataset, so the value would be lost silently); pass options as "
                "parameters of its methods"
            )

    def __getattr__(self, name: str) -> Any:  # called only when the normal lookup fails
        if name == "filter_success":
            raise AttributeError(f"ds.sed has no attribute 'filter_success': {_FILTER_SUCCESS_MOVED}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # --- quantities -------------------------------------------------------------------------
    def get(
        self, name: str, unit: str | u.UnitBase | None = None, *, filter_success: bool = True
    ) -> xr.DataArray:
        """Any quantity by name, optionally in another unit.

        Parameters
        ----------
        name : str
            A quantity name (see :attr:`available_quantities`).
        unit : str or astropy unit, optional
            E.g. ``"TeV cm-2 s-1"`` for ``e2dnde``; default the quantity's default unit (the stored
            unit for stored variables).
        filter_success : bool
            Set ``norm``/``norm_err`` (and what derives from them: ``dnde``, ``flux_err``, ...) to NaN
            where the fit failed (``success`` False), as gammapy does; a derived ``sqrt_ts`` is then
            NaN there and ``is_ul`` True. False gives the stored numbers. The properties
            (``ds.sed.dnde`` ...) always filter. See :func:`fluxds.convert.get_quantity`.

        Returns
        -------
        xarray.DataArray
            With ``units`` and ``long_name`` attributes; lazy if the Dataset is dask-backed.
        """
        from fluxds import convert

        return convert.get_quantity(self._ds, name, unit, filter_success=filter_success)

    @property
    def available_quantities(self) -> list[str]:
        """The quantity names this Dataset can give."""
        from fluxds import convert

        return convert.available_quantities(self._ds)

    def to_sed_type(
        self, sed_type: str, *, keep_likelihood: bool = False, filter_success: bool = False
    ) -> xr.Dataset:
        """The Dataset in one SED type (``likelihood``, ``dnde``, ``e2dnde``, ``flux``, ``eflux``).

        See :func:`fluxds.convert.to_sed_type`.

        Parameters
        ----------
        sed_type : {"likelihood", "dnde", "e2dnde", "flux", "eflux"}
            The SED type (the ``sed`` argument of :func:`fluxds.convert.to_sed_type`).
        keep_likelihood : bool
            Keep the stored ``norm*`` and ``ref_*`` variables beside the converted ones (as the writers
            do).
        filter_success : bool
            Apply the success filter to ``<type>`` and ``<type>_err`` (NaN where ``success`` is False).
            Off by default, unlike :meth:`get`: a table should hold what was measured, with ``success``
            beside it.

        Returns
        -------
        xarray.Dataset
            Variables ``<sed_type><suffix>`` in the type's default units (e.g. ``dnde`` in
            ``cm-2 s-1 TeV-1``), the statistics as stored, ``sed_type`` set in the attributes.
        """
        from fluxds import convert

        return convert.to_sed_type(
            self._ds, sed_type, keep_likelihood=keep_likelihood, filter_success=filter_success
        )

    # --- units and energies (fluxds.units, fluxds.energy) ---------------------------------------
    def quantity(
        self, name: str, unit: str | u.UnitBase | None = None, *, filter_success: bool = True
    ) -> u.Quantity:
        """A quantity as an astropy ``Quantity``, for arithmetic with units.

        xarray keeps the first operand's attributes through arithmetic, so ``(ds.sed.dnde /
        ds.sed.dnde_err).attrs["units"]`` is wrongly ``cm-2 s-1 TeV-1``; Quantities carry their units::

            ratio = ds.sed.quantity("dnde") / ds.sed.quantity("dnde_err")     # dimensionless
            da = fluxds.units.from_quantity(ratio, like=ds.sed.dnde, name="snr")  # back, units ""

        See :func:`fluxds.units.to_quantity` (a dask-backed quantity is refused, not computed).

        Parameters
        ----------
        name : str
            A quantity name, as for :meth:`get`.
        unit : str or astropy unit, optional
            The unit of the Quantity; default the quantity's default unit.
        filter_success : bool
            As for :meth:`get`: NaN where ``success`` is False (default), or the stored numbers.
        """
        from fluxds.units import to_quantity

        return to_quantity(self.get(name, filter_success=filter_success), unit)

    # --- collections (points of several members with their own bins) ----------------------------
    @property
    def members(self) -> list[str]:
        """The members of a collection (sources, papers ... each with its own bins), in order of first
        appearance; empty on a single grid. See :mod:`fluxds.collection`."""
        from fluxds.collection import members

        return members(self._ds)

    def member(self, name: str, label: str | None = None) -> xr.Dataset:
        """One member of a collection as a Dataset on its own grid.

        Parameters
        ----------
        name : str
            The member (a source name, a paper ...).
        label : str, optional
            The member label (``source``, ``paper`` ...); default: the collection's.

        Returns
        -------
        xarray.Dataset
        """
        from fluxds.collection import member

        return member(self._ds, name, label)

    def select(
        self,
        *,
        source: str | Sequence[str] | None = None,
        region: Any = None,
        time: tuple[Any, Any] | None = None,
    ) -> xr.Dataset:
        """Sources by name, a sky region and a time range, on a grid or a collection.

        Parameters
        ----------
        source : str or sequence of str, optional
            Source names (a ``source`` dimension or a ``source`` member label).
        region : tuple or regions.SkyRegion, optional
            A cone ``(centre SkyCoord, radius)`` (radius an angle, or degrees) or a ``regions`` sky region;
            needs ``ra``/``dec`` (or ``glon``/``glat``) coordinates in degrees.
        time : (start, stop), optional
            ``astropy.time.Time`` or MJD (TT): the time bins inside the range.

        Returns
        -------
        xarray.Dataset

        See :func:`fluxds.collection.select`.
        """
        from fluxds.collection import select

        return select(self._ds, source=source, region=region, time=time)

    def sel_energy(
        self,
        energy: u.Quantity | slice,
        *,
        method: str | None = None,
        tolerance: u.Quantity | None = None,
        drop: bool = False,
    ) -> xr.Dataset:
        """Select along energy with Quantities in any unit (``ds.sed.sel_energy(100 * u.GeV,
        method="nearest")``); xarray's ``.sel(energy=...)`` reads numbers in the file's energy unit.

        See :func:`fluxds.energy.sel_energy`.

        Parameters
        ----------
        energy : astropy.units.Quantity or slice of Quantities
            One energy, an array of energies or ``slice(start, stop)`` (inclusive), in any energy unit.
        method : {None, "nearest", "pad", "ffill", "backfill", "bfill"}
            As :meth:`xarray.Dataset.sel` (``"nearest"``: the bin whose ``e_ref`` is closest).
        tolerance : astropy.units.Quantity, optional
            Largest distance (an energy) for an inexact match.
        drop : bool
            As :meth:`xarray.Dataset.sel`.

        Returns
        -------
        xarray.Dataset
        """
        from fluxds.energy import sel_energy

        return sel_energy(self._ds, energy, method=method, tolerance=tolerance, drop=drop)

    def to_energy_unit(self, unit: str | u.UnitBase) -> xr.Dataset:
        """The Dataset with every energy (coordinates and per-energy variables such as ``ref_dnde``) in
        ``unit``.

        See :func:`fluxds.energy.to_energy_unit`.

        Parameters
        ----------
        unit : str or astropy unit
            An energy unit (``"TeV"``, ``"GeV"``, ``u.MeV`` ...).

        Returns
        -------
        xarray.Dataset
        """
        from fluxds.energy import to_energy_unit

        return to_energy_unit(self._ds, unit)

    def compare(
        self,
        other: xr.Dataset,
        quantity: str = "dnde",
        *,
        rtol: float = 1e-3,
        join: str = "exact",
        unit: str | u.UnitBase | None = None,
    ) -> xr.Dataset:
        """One quantity of this SED and ``other`` side by side and their ratio, energy bins matched within
        ``rtol`` (or ``other`` interpolated, ``join="interp"``).

        See :func:`fluxds.energy.compare` (``other`` is its ``b``).

        Parameters
        ----------
        other : xarray.Dataset
            The fluxds Dataset to compare with.
        quantity : str
            A quantity name (``"dnde"``, ``"e2dnde"``, ``"flux_ul"`` ...), taken from both in the same unit.
        rtol : float
            Largest relative difference of two energies (``e_ref``, ``e_min``, ``e_max``) of one bin.
        join : {"exact", "inner", "interp"}
            Every bin matched (else an error), only the bins found in both, or ``other`` interpolated onto
            this SED's ``e_ref`` (see :func:`fluxds.energy.match_energies`).
        unit : str or astropy unit, optional
            Unit of both in the result; default the quantity's default unit.

        Returns
        -------
        xarray.Dataset
            ``a``, ``b`` (the quantity of each), ``ratio`` = ``a / b`` (dimensionless), ``energy_other``.
        """
        from fluxds.energy import compare

        return compare(self._ds, other, quantity, rtol=rtol, join=join, unit=unit)

    # --- metadata ---------------------------------------------------------------------------
    @property
    def sed_type_init(self) -> str | None:
        """SED type of the input this Dataset was made from."""
        return self._ds.attrs.get("sed_type_init")

    @property
    def reference_model(self):
        """The reference spectral model (a :class:`fluxds.models.SpectralModel`, a dict of them by
        source name when sources differ, or None)."""
        from fluxds.construct import reference_model_of

        return reference_model_of(self._ds)

    @property
    def n_sigma(self) -> float:
        """Number of sigma of the errors."""
        return float(self._ds.attrs.get("n_sigma", schema.DEFAULT_N_SIGMA))

    @property
    def n_sigma_ul(self) -> float | None:
        """Number of sigma of the upper limits (exact; derived from ``ul_conf`` when stored)."""
        value = self._ds.attrs.get("n_sigma_ul")
        return None if value is None else float(value)

    @property
    def ul_conf(self) -> float | None:
        """Confidence level of the upper limits."""
        from fluxds.confidence import ul_conf_of

        return ul_conf_of(self._ds.attrs)

    @property
    def sqrt_ts_threshold_ul(self) -> float:
        """sqrt(TS) below which a point is an upper limit (when ``is_ul`` is not stored)."""
        return float(self._ds.attrs.get("sqrt_ts_threshold_ul", schema.DEFAULT_SQRT_TS_THRESHOLD_UL))

    @property
    def has_edges(self) -> bool:
        """Whether the Dataset holds energy bin edges."""
        from fluxds import convert

        return convert.has_edges(self._ds)

    def validate(self) -> xr.Dataset:
        """Check the Dataset against the data-model contract; raise :class:`fluxds.SchemaError`
        listing every problem. Returns the Dataset."""
        return validate(self._ds)

    # --- sky and time --------------------------------------------------------------------------
    def get_flux_points(
        self,
        positions: SkyCoord,
        *,
        method: str = "nearest",
        names: Sequence[str] | None = None,
        off_map: str = "nan",
    ) -> xr.Dataset:
        """Flux points at one or many sky positions of a flux map (WCS or HEALPix).

        See :func:`fluxds.maps.get_flux_points`.

        Parameters
        ----------
        positions : astropy.coordinates.SkyCoord
            One position or an array of N, in any frame (transformed to the map's frame).
        method : {"nearest", "linear"}
            The pixel holding the position, or bilinear interpolation between the four nearest pixel
            centres (booleans and integers always take the nearest pixel).
        names : sequence of str, optional
            Source names, one per position; default ``pos0``, ``pos1``, ...
        off_map : {"nan", "raise"}
            Positions off the map give NaN and an ``OffMapWarning``, or raise
            :class:`fluxds.SchemaError`.

        Returns
        -------
        xarray.Dataset
            Every variable of the map at the positions, on ``(source, energy[, scan | dataset])``, with
            coordinates ``source``, ``source_lon``/``source_lat`` (deg, in the map's frame).
        """
        from fluxds.maps import get_flux_points

        return get_flux_points(self._ds, positions, method=method, names=names, off_map=off_map)

    def times(self):
        """The time bins as astropy ``Time`` objects ``(time_min, time_max)`` in the Dataset's time
        scale. See :func:`fluxds.timeaxis.astropy_times`."""
        from fluxds.timeaxis import astropy_times

        return astropy_times(self._ds)

    # --- plots ---------------------------------------------------------------------------------
    def plot(
        self,
        sed_type: str = "e2dnde",
        ax: Any = None,
        *,
        energy_power: float | None = None,
        ul: str = "show",
        energy_unit: str | u.UnitBase | None = None,
        flux_unit: str | u.UnitBase | None = None,
        model: Any = None,
        **kwargs: Any,
    ) -> SedArtists:
        """Plot the SED (points, upper-limit arrows, optional model curve); returns the artists.

        See :func:`fluxds.plotting.plot_sed`.

        Parameters
        ----------
        sed_type : {"e2dnde", "dnde", "flux", "eflux", "norm"}
            The quantity on the y axis.
        ax : matplotlib.axes.Axes, optional
            Default: the current axes.
        energy_power : float, optional
            Multiply the values by ``E_ref**energy_power`` (``E_ref`` in ``energy_unit``); the y unit
            says so.
        ul : {"show", "hide", "only"}
            Upper limits (``is_ul``) as arrows with the points, not at all, or alone.
        energy_unit : str or astropy unit, optional
            Unit of the x axis (an energy, e.g. ``"GeV"``); default the stored energy unit.
        flux_unit : str or astropy unit, optional
            Unit of the y axis (e.g. ``"erg cm-2 s-1"`` for ``e2dnde``); default the SED type's unit
            (times ``energy_unit**energy_power``).
        model : None, "reference" or fluxds.models.SpectralModel
            A model curve: smooth for ``dnde``/``e2dnde``, bin-integrated steps for ``flux``/``eflux``.
        **kwargs
            Passed to matplotlib's ``Axes.errorbar`` for the points (``color``, ``marker`` ...).

        Returns
        -------
        fluxds.plotting.SedArtists
        """
        from fluxds.plotting import plot_sed

        return plot_sed(
            self._ds,
            sed_type,
            ax=ax,
            energy_power=energy_power,
            ul=ul,
            energy_unit=energy_unit,
            flux_unit=flux_unit,
            model=model,
            **kwargs,
        )

    def plot_ts_profiles(
        self,
        sed_type: str = "dnde",
        dim: str | None = None,
        ax: Any = None,
        *,
        flux_unit: str | u.UnitBase | None = None,
        energy_unit: str | u.UnitBase | None = None,
        time_format: str = "mjd",
        vmax: float = 25.0,
        add_cbar: bool = True,
        **kwargs: Any,
    ) -> ProfileArtists:
        """Plot the likelihood profiles as a Δstat colour map (castro plot); returns the artists.

        See :func:`fluxds.plotting.plot_ts_profiles`.

        Parameters
        ----------
        sed_type : {"dnde", "e2dnde", "flux", "eflux", "norm"}
            The quantity on the y axis.
        dim : str, optional
            The x dimension (``"energy"``, ``"time"``, ``"phase"``, ``"region"``, ``"source"`` ...);
            default the one bin dimension left besides ``scan``.
        ax : matplotlib.axes.Axes, optional
            Default: the current axes.
        flux_unit : str or astropy unit, optional
            Unit of the y axis; default the SED type's unit.
        energy_unit : str or astropy unit, optional
            Unit of the x axis for ``dim="energy"``; default the stored energy unit.
        time_format : {"mjd", "iso", "met"}
            The x axis of ``dim="time"``.
        vmax : float
            Δstat (``-2 log L`` difference, dimensionless) at which the colour scale saturates (the
            scale is 0 .. vmax).
        add_cbar : bool
            Draw a colour bar.
        **kwargs
            Passed to matplotlib's ``Axes.pcolormesh`` (``cmap`` ...).

        Returns
        -------
        fluxds.plotting.ProfileArtists
        """
        from fluxds.plotting import plot_ts_profiles

        return plot_ts_profiles(
            self._ds,
            sed_type,
            dim,
            ax=ax,
            flux_unit=flux_unit,
            energy_unit=energy_unit,
            time_format=time_format,
            vmax=vmax,
            add_cbar=add_cbar,
            **kwargs,
        )

    def plot_lightcurve(
        self,
        sed_type: str = "flux",
        ax: Any = None,
        *,
        dim: str = "time",
        time_format: str = "mjd",
        energy: int | None = None,
        ul: str = "show",
        flux_unit: str | u.UnitBase | None = None,
        **kwargs: Any,
    ) -> LightCurveArtists:
        """Plot the light curve (or a phase curve, a profile along regions ...), one series per energy
        band; returns the artists.

        See :func:`fluxds.plotting.plot_lightcurve`.

        Parameters
        ----------
        sed_type : {"flux", "eflux", "dnde", "e2dnde", "norm"}
            The quantity on the y axis (linear scale).
        ax : matplotlib.axes.Axes, optional
            Default: the current axes.
        dim : str
            The x dimension: ``"time"``, ``"phase"``, ``"region"`` (by its distance ``x_ref``),
            ``"source"`` (labelled categories) or any other dimension.
        time_format : {"mjd", "iso", "met"}
            x axis of ``dim="time"``: MJD, calendar dates (in the Dataset's time scale) or seconds
            since the file's reference time.
        energy : int, optional
            Plot only the energy band of this index; default every band.
        ul : {"show", "hide", "only"}
            Upper limits (``is_ul``) as arrows with the points, not at all, or alone.
        flux_unit : str or astropy unit, optional
            Unit of the y axis (e.g. ``"cm-2 s-1"`` for ``flux``); default the SED type's unit.
        **kwargs
            Passed to matplotlib's ``Axes.errorbar`` for the points.

        Returns
        -------
        fluxds.plotting.LightCurveArtists
        """
        from fluxds.plotting import plot_lightcurve

        return plot_lightcurve(
            self._ds,
            sed_type,
            ax=ax,
            dim=dim,
            time_format=time_format,
            energy=energy,
            ul=ul,
            flux_unit=flux_unit,
            **kwargs,
        )

    def plot_grid(
        self,
        quantity: str = "dnde",
        *,
        ncols: int = 3,
        share_scale: bool = True,
        norm: str = "auto",
        fig: Any = None,
        unit: str | u.UnitBase | None = None,
        view: str = "auto",
        vmin: float | None = None,
        vmax: float | None = None,
        **kwargs: Any,
    ) -> GridArtists:
        """Plot a sky map, one panel per energy band; returns the artists.

        See :func:`fluxds.plotting.plot_grid`.

        Parameters
        ----------
        quantity : str
            Any quantity of ``ds.sed`` (``dnde``, ``flux``, ``sqrt_ts``, ``ts``, ``dnde_ul`` ...).
        ncols : int
            Panels per row.
        share_scale : bool
            One colour scale (and one colour bar) for all panels; else one per panel.
        norm : {"auto", "linear", "log", "symlog"}
            Colour scale (``"auto"``: see :func:`fluxds.plotting.grid.choose_norm`).
        fig : matplotlib.figure.Figure, optional
            Default: a new figure sized to the grid.
        unit : str or astropy unit, optional
            Unit of the quantity; default its default unit.
        view : {"auto", "mollweide", "cartesian"}
            HEALPix maps only.
        vmin, vmax : float, optional
            Limits of the colour scale, in ``unit``.
        **kwargs
            Passed to matplotlib's ``imshow``/``pcolormesh`` (``cmap`` ...).

        Returns
        -------
        fluxds.plotting.GridArtists
        """
        from fluxds.plotting import plot_grid

        return plot_grid(
            self._ds,
            quantity,
            ncols=ncols,
            share_scale=share_scale,
            norm=norm,
            fig=fig,
            unit=unit,
            view=view,
            vmin=vmin,
            vmax=vmax,
            **kwargs,
        )

    # --- end plots -----------------------------------------------------------------------------

    # --- castro fits ---------------------------------------------------------------------------
    def castro_stat(self, model: SpectralModel | Callable, *, weighting: str = "flux") -> xr.DataArray:
        """Total ``-2 log L`` of a spectral model against the likelihood profiles.

        See :func:`fluxds.profiles.castro.castro_stat`.

        Parameters
        ----------
        model : fluxds.models.SpectralModel or callable
            The model; a callable is a vectorised ``dnde(E: Quantity) -> Quantity``.
        weighting : {"flux", "eflux", "dnde"}
            How the model becomes a predicted norm: model flux in the bin / ``ref_flux``, the same with
            energy fluxes, or model ``dnde`` at ``e_ref`` / ``ref_dnde``.

        Returns
        -------
        xarray.DataArray
            ``stat`` (dimensionless ``-2 log L``) on every dimension of the profiles but ``energy`` and
            ``scan``.
        """
        from fluxds.profiles.castro import castro_stat

        return castro_stat(self._ds, model, weighting=weighting)

    def fit(
        self,
        model: SpectralModel | Callable,
        *,
        parameters: Sequence[str] | Mapping[str, Any] | None = None,
        weighting: str = "flux",
        rescale_amplitude: bool = True,
        joint: bool | Sequence[str] = False,
    ) -> xr.Dataset:
        """Fit a spectral model to the likelihood profiles (every SED of the Dataset at once).

        Without profiles, values with errors and upper limits are fitted on profiles approximated
        from them (:mod:`fluxds.profiles.from_errors`). A collection's points (every member: papers,
        instruments, sources) are fitted jointly, one parameter set for all.

        See :func:`fluxds.profiles.castro_fit.fit_castro`.

        Parameters
        ----------
        model : fluxds.models.SpectralModel or callable
            The model at its starting point, or a vectorised ``dnde(E, **params) -> Quantity``
            (``cm-2 s-1 TeV-1`` or any differential flux unit).
        parameters : sequence of str or mapping, optional
            For a fluxds model, the names of the free parameters (default: all but ``reference`` and
            an ``ExpCutoffPowerLaw``'s ``alpha``); for a callable, ``{name: start value}``.
        weighting : {"flux", "eflux", "dnde"}
            How the model becomes a predicted norm (see
            :func:`fluxds.profiles.castro.predicted_norm`).
        rescale_amplitude : bool
            Start each SED's ``amplitude`` (if free) at the model's value times the median of
            ``norm / norm_pred``, so far-off starts converge.
        joint : bool or sequence of str
            Dimensions whose SEDs share one parameter set (``True``: all but ``energy``); default one
            fit per SED.

        Returns
        -------
        xarray.Dataset
            Per SED: the free parameters (``units`` attributes) and ``<name>_err``, ``covariance``,
            ``stat``, ``n_bins``, ``success``, ``reason``.
        """
        from fluxds.profiles.castro_fit import fit_castro

        return fit_castro(
            self._ds,
            model,
            parameters=parameters,
            weighting=weighting,
            rescale_amplitude=rescale_amplitude,
            joint=joint,
        )

    def variability(self, dim: str = "time", *, combine_energy: bool = False) -> xr.Dataset:
        """Variability along ``dim`` from the profiles: TS_var, its p-value and sigma, Fvar.

        See :func:`fluxds.profiles.variability.variability`.

        Parameters
        ----------
        dim : str
            The dimension along which a constant flux is tested.
        combine_energy : bool
            Test the band (the profiles summed over energy at one common norm) instead of each energy
            bin.

        Returns
        -------
        xarray.Dataset
            ``ts_var``, ``dof``, ``p_value``, ``sigma`` (Gaussian equivalent), ``norm_const`` and, when
            ``norm``/``norm_err`` are stored, ``chi2``, ``p_value_chi2``, ``fvar``.
        """
        from fluxds.profiles.variability import variability

        return variability(self._ds, dim, combine_energy=combine_energy)

    # --- end castro fits -----------------------------------------------------------------------

    # --- likelihood profiles -------------------------------------------------------------------
    def recompute_ul(
        self,
        n_sigma_ul: float | None = None,
        ul_conf: float | None = None,
        reference: str = "minimum",
        *,
        stencil: int = 5,
        ul_sidedness: str | None = None,
    ) -> xr.Dataset:
        """Upper limits at any confidence from the profiles (``norm_ul`` + ``norm_ul_status``).

        See :func:`fluxds.profiles.limits.recompute_ul`.

        Parameters
        ----------
        n_sigma_ul : float, optional
            The limit is where the profile rises by ``n_sigma_ul**2`` (in Gaussian sigma).
        ul_conf : float, optional
            Or the confidence level of the limit (a fraction, ``0.95``). Default: the Dataset's
            ``ul_conf``/``n_sigma_ul``, else 2 sigma.
        reference : {"minimum", "zero"}
            Measure the rise from the profile minimum (gammapy) or from ``max(norm_min, 0)``.
        stencil : int
            Interpolation stencil, in scan points (see :func:`fluxds.profiles.interp.evaluate_profile`).
        ul_sidedness : {"two-sided", "one-sided"}, optional
            How ``ul_conf`` maps to a rise (gammapy: two-sided, 0.95 -> 3.84; fermipy: one-sided,
            0.95 -> 2.71); default the Dataset's ``ul_sidedness``, else two-sided.

        Returns
        -------
        xarray.Dataset
            ``norm_ul`` (dimensionless) and ``norm_ul_status`` replaced; attrs ``n_sigma_ul``,
            ``ul_conf``, ``ul_sidedness`` set.
        """
        from fluxds.profiles.limits import recompute_ul

        return recompute_ul(
            self._ds,
            n_sigma_ul=n_sigma_ul,
            ul_conf=ul_conf,
            reference=reference,
            stencil=stencil,
            ul_sidedness=ul_sidedness,
        )

    def recompute_errors(self, n_sigma: float | None = None, *, stencil: int = 5) -> xr.Dataset:
        """``norm_err``/``norm_errp``/``norm_errn`` at any ``n_sigma`` from the profiles.

        See :func:`fluxds.profiles.limits.recompute_errors`.

        Parameters
        ----------
        n_sigma : float, optional
            Errors where the profile is ``n_sigma**2`` above its minimum (in Gaussian sigma); default
            the Dataset's ``n_sigma`` (else 1).
        stencil : int
            Interpolation stencil, in scan points (see :func:`fluxds.profiles.interp.evaluate_profile`).

        Returns
        -------
        xarray.Dataset
            ``norm_errp``/``norm_errn``/``norm_err`` (dimensionless) and their status flags replaced;
            attr ``n_sigma`` set.
        """
        from fluxds.profiles.limits import recompute_errors

        return recompute_errors(self._ds, n_sigma=n_sigma, stencil=stencil)

    def ts_profile(self) -> xr.DataArray:
        """The TS profile ``stat_null - stat_scan`` (not gammapy's ``ts_scan``, ``stat_scan - stat``).

        See :func:`fluxds.profiles.significance.ts_profile`.
        """
        from fluxds.profiles.significance import ts_profile

        return ts_profile(self._ds)

    def ts_scan(self) -> xr.DataArray:
        """Deprecated alias of :meth:`ts_profile` (warns :class:`DeprecationWarning`; same values)."""
        from fluxds.profiles.significance import TS_SCAN_DEPRECATION, ts_profile

        warnings.warn(TS_SCAN_DEPRECATION, DeprecationWarning, stacklevel=2)
        return ts_profile(self._ds).rename("ts_scan")

    def check(
        self,
        *,
        ul_rtol: float = 0.01,
        norm_tol: float = 0.1,
        ts_atol: float = 0.05,
        ts_rtol: float = 0.001,
        warn: bool = True,
        stencil: int = 5,
    ) -> xr.Dataset:
        """Per-bin flags where stored numbers contradict the profiles (warns, never raises).

        See :func:`fluxds.profiles.checks.check`.

        Parameters
        ----------
        ul_rtol : float
            Relative tolerance on ``norm_ul`` (a fraction; coarse scans interpolate to ~1e-3).
        norm_tol : float
            Allowed ``|norm - norm_min|``, in units of the profile's 1-sigma error.
        ts_atol : float
            Allowed absolute ``|ts - (stat_null - stat)|`` (TS units, dimensionless).
        ts_rtol : float
            Allowed relative ``|ts - (stat_null - stat)|`` (a fraction).
        warn : bool
            Emit a ``UserWarning`` summarising the flags (never an error).
        stencil : int
            Interpolation stencil, in scan points.

        Returns
        -------
        xarray.Dataset
            ``ul_mismatch``, ``norm_offset``, ``ts_mismatch``, ``any_problem`` (bool) and diagnostics.
        """
        from fluxds.profiles.checks import check

        return check(
            self._ds,
            ul_rtol=ul_rtol,
            norm_tol=norm_tol,
            ts_atol=ts_atol,
            ts_rtol=ts_rtol,
            warn=warn,
            stencil=stencil,
        )

    def combine(
        self,
        dim: str,
        *,
        reference: str = "first",
        n_sigma: float | None = None,
        n_sigma_ul: float | None = None,
        ul_conf: float | None = None,
        ul_reference: str = "minimum",
        grid: int | str | None = None,
        stencil: int = 5,
    ) -> xr.Dataset:
        """Joint likelihood SED of all entries along ``dim`` (profiles summed).

        See :func:`fluxds.profiles.combine.combine`.

        Parameters
        ----------
        dim : str
            E.g. ``"time"`` (a light curve -> one SED), ``"source"`` (stacking), ``"instrument"``.
        reference : {"first", "mean"}
            Common reference model where the entries' reference fluxes differ.
        n_sigma : float, optional
            Errors of the result, in Gaussian sigma; default the Dataset's (else 1).
        n_sigma_ul : float, optional
            Upper limit of the result, in Gaussian sigma; default the Dataset's (else 2).
        ul_conf : float, optional
            Or the confidence level of the upper limit (a fraction, ``0.95``).
        ul_reference : {"minimum", "zero"}
            Limit rule (see :func:`fluxds.profiles.limits.recompute_ul`).
        grid : "union" or int, optional
            Common norm grid: the union of the scan points (default while it has at most 400 points)
            or that many evenly spaced norms over the union range.
        stencil : int
            Interpolation stencil, in scan points.

        Returns
        -------
        xarray.Dataset
            Without ``dim``.
        """
        from fluxds.profiles.combine import combine

        return combine(
            self._ds,
            dim,
            reference=reference,
            n_sigma=n_sigma,
            n_sigma_ul=n_sigma_ul,
            ul_conf=ul_conf,
            ul_reference=ul_reference,
            grid=grid,
            stencil=stencil,
        )

    def resample(
        self,
        dim: str = "energy",
        *,
        edges: Any = None,
        group_size: int | None = None,
        min_ts: float | None = None,
        reference: str = "first",
        n_sigma: float | None = None,
        n_sigma_ul: float | None = None,
        ul_conf: float | None = None,
        ul_reference: str = "minimum",
        grid: int | str | None = None,
        stencil: int = 5,
    ) -> xr.Dataset:
        """Merge bins along energy or time (give one of ``edges``, ``group_size``, ``min_ts``).

        See :func:`fluxds.profiles.resample.resample`.

        Parameters
        ----------
        dim : str
            The dimension whose bins are merged (``"energy"``, ``"time"``, ``"phase"`` ...; the new
            bins span their members' edges).
        edges : array_like or astropy Quantity, optional
            New bin edges: energies in the energy coordinate's unit unless a Quantity (any energy
            unit); times in the numbers of ``time_min`` (MJD); phases as numbers. Entries are assigned
            by their centre.
        group_size : int, optional
            Merge this many consecutive entries.
        min_ts : float, optional
            Grow each group until its summed TS (dimensionless) reaches this (greedy, left to right).
        reference, n_sigma, n_sigma_ul, ul_conf, ul_reference, grid, stencil
            How the profiles of a group are merged, as for :meth:`combine`.

        Returns
        -------
        xarray.Dataset
            ``dim`` with one entry per group, new coordinates, summed reference fluxes, ``n_dof``.
        """
        from fluxds.profiles.resample import resample

        return resample(
            self._ds,
            dim,
            edges=edges,
            group_size=group_size,
            min_ts=min_ts,
            reference=reference,
            n_sigma=n_sigma,
            n_sigma_ul=n_sigma_ul,
            ul_conf=ul_conf,
            ul_reference=ul_reference,
            grid=grid,
            stencil=stencil,
        )

    # --- end likelihood profiles ---------------------------------------------------------------

    # --- I/O ----------------------------------------------------------------------------------
    def write(
        self,
        path: str | os.PathLike,
        format: str | None = None,
        sed_type: str | None = None,
        overwrite: bool = False,
        fsync: bool = True,
        **options: Any,
    ) -> None:
        """Write the Dataset; the format is taken from the file name unless given.

        Parameters
        ----------
        path : str or path-like
            ``.fits``/``.fits.gz``, ``.ecsv``, ``.h5``/``.hdf5``, ``.nc``, ``.zarr``. A FITS or ECSV
            name takes the layout from the Dataset's dimensions: ``pixel`` a HEALPix map, ``lat``/``lon``
            a flux map (or a TS cube), ``phase`` a phase curve, ``time`` a light curve, ``region`` a
            flux profile, else a GADF SED table.
        format : str, optional
            Every format fluxds writes: ``"gadf-sed"``, ``"ecsv"``, ``"hdf5"``, ``"netcdf"``, ``"zarr"``,
            ``"lightcurve"``, ``"binned-time-series"``, ``"phasecurve"``, ``"flux-map"``,
            ``"healpix-map"``, ``"tscube"``, ``"profile"``, ``"fermipy-sed"``; default from the name of
            the file (and the dimensions).
        sed_type : str, optional
            SED type of the table columns; default the Dataset's ``sed_type_init`` (netCDF and zarr
            hold the likelihood form only).
        overwrite : bool
            Replace an existing file. Writes are atomic either way.
        fsync : bool
            Flush the file to disk before it takes its name (default), so that it survives a power loss
            or a system crash. ``False`` for scratch files: the write stays atomic for readers (the old
            file or the new one, never a mixture) but is not durable; for a flux map of hundreds of MB
            the ``fsync`` is often most of the write's time (``docs/performance.md``).
        **options
            Options of one format's writer (passing one to a format that does not take it is a
            :class:`TypeError`):

            - ``engine`` (``netcdf``): ``"netcdf4"`` (default) or ``"h5netcdf"``.
            - ``encoding`` (``netcdf``, ``zarr``): per-variable encoding (``{"norm": {"complevel":
              9}}``), merged key by key over fluxds's defaults.
            - ``layout`` (``lightcurve``): ``"gammapy"`` (default; one ``FLUXPOINTS`` HDU) or
              ``"gadf"`` (one ``LIGHTCURVE`` HDU per energy bin).
            - ``model_file`` (``flux-map``): also write the reference model as a gammapy model YAML,
              ``True`` (default, ``<stem>_model.yaml`` beside the file), ``False`` or a path.
        """
        from fluxds.io import write

        write(self._ds, path, format=format, sed_type=sed_type, overwrite=overwrite, fsync=fsync, **options)


def _quantity_property(name: str) -> property:
    def getter(self: SedAccessor) -> xr.DataArray:
        return self.get(name)

    getter.__doc__ = (
        f"``{name}`` as a DataArray with units, success-filtered (see :meth:`SedAccessor.get`; "
        f"``ds.sed.get({name!r}, filter_success=False)`` for the stored numbers)."
    )
    getter.__name__ = name
    return property(getter)


for _name in schema.QUANTITY_NAMES:
    if not hasattr(SedAccessor, _name):
        setattr(SedAccessor, _name, _quantity_property(_name))
