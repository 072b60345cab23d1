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
    import astropy.units as u

# The machinery (fluxds.convert, astropy.units, the models) is imported on first use, so that
# registering the accessor costs nothing at ``import fluxds``.

__all__ = ["SedAccessor"]


@xr.register_dataset_accessor("sed")
class SedAccessor:
    """Physics of a gamma-ray flux estimate held in an :class:`xarray.Dataset`.

    Attributes
    ----------
    filter_success : bool
        Whether ``norm``/``norm_err`` (and the quantities derived from them) are NaN where the fit
        failed (``success`` False). Default True, as gammapy; set it to False on this accessor to see
        the stored numbers.

    Examples
    --------
    >>> import fluxds
    >>> ds = fluxds.read(fluxds.demo_path())
    >>> ds.sed.dnde.attrs["units"]
    'cm-2 s-1 TeV-1'
    """

    def __init__(self, ds: xr.Dataset):
        self._ds = ds
        self.filter_success = True

    # --- quantities -------------------------------------------------------------------------
    def get(self, name: str, unit: str | u.UnitBase | None = None) -> xr.DataArray:
        """Any quantity by name, optionally in another unit.

        Parameters
        ----------
        name : str
            A quantity name (see :attr:`available_quantities`).
        unit : str or astropy unit, optional
            E.g. ``"TeV cm-2 s-1"`` for ``e2dnde``.

        Returns
        -------
        xarray.DataArray
            With ``units`` and ``long_name`` attributes; lazy if the Dataset is dask-backed.
        """
        from fluxds import convert

        return convert.get_quantity(self._ds, name, unit, filter_success=self.filter_success)

    @property
    def available_quantities(self) -> list[str]:
        """The quantity names this Dataset can give."""
        from fluxds import convert

        return convert.available_quantities(self._ds)

    def to_sed_type(self, sed_type: str, **kwargs: Any) -> xr.Dataset:
        """The Dataset in one SED type (``likelihood``, ``dnde``, ``e2dnde``, ``flux``, ``eflux``).

        See :func:`fluxds.convert.to_sed_type`.
        """
        from fluxds import convert

        return convert.to_sed_type(self._ds, sed_type, **kwargs)

    # --- units and energies (fluxds.units, fluxds.energy) ---------------------------------------
    def quantity(self, name: str, unit: str | u.UnitBase | None = None) -> u.Quantity:
        """A quantity as an astropy ``Quantity``, for arithmetic with units.

        xarray keeps the first operand's attributes through arithmetic, so ``(ds.sed.dnde /
        ds.sed.dnde_err).attrs["units"]`` is wrongly ``cm-2 s-1 TeV-1``; Quantities carry their units::

            ratio = ds.sed.quantity("dnde") / ds.sed.quantity("dnde_err")     # dimensionless
            da = fluxds.units.from_quantity(ratio, like=ds.sed.dnde, name="snr")  # back, units ""

        See :func:`fluxds.units.to_quantity` (a dask-backed quantity is refused, not computed).
        """
        from fluxds.units import to_quantity

        return to_quantity(self.get(name), unit)

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
        """
        from fluxds.energy import sel_energy

        return sel_energy(self._ds, energy, method=method, tolerance=tolerance, drop=drop)

    def to_energy_unit(self, unit: str | u.UnitBase) -> xr.Dataset:
        """The Dataset with every energy (coordinates and per-energy variables such as ``ref_dnde``) in
        ``unit``. See :func:`fluxds.energy.to_energy_unit`."""
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
        ``rtol`` (or ``other`` interpolated, ``join="interp"``). See :func:`fluxds.energy.compare`."""
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
        from fluxds.confidence import ul_conf_from_n_sigma

        if "ul_conf" in self._ds.attrs:
            return float(self._ds.attrs["ul_conf"])
        n = self.n_sigma_ul
        return None if n is None else ul_conf_from_n_sigma(n)

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
    def get_flux_points(self, positions, **kwargs: Any) -> xr.Dataset:
        """Flux points at one or many sky positions of a flux map (WCS or HEALPix).

        See :func:`fluxds.maps.get_flux_points`.
        """
        from fluxds.maps import get_flux_points

        return get_flux_points(self._ds, positions, **kwargs)

    def times(self):
        """The time bins as astropy ``Time`` objects ``(time_min, time_max)`` in the Dataset's time
        scale. See :func:`fluxds.timeaxis.astropy_times`."""
        from fluxds.timeaxis import astropy_times

        return astropy_times(self._ds)

    # --- plots ---------------------------------------------------------------------------------
    def plot(self, sed_type: str = "e2dnde", ax: Any = None, **kwargs: Any):
        """Plot the SED (points, upper-limit arrows, optional model curve); returns the artists.

        See :func:`fluxds.plotting.plot_sed` (``energy_power``, ``ul``, ``energy_unit``, ``flux_unit``,
        ``model``).
        """
        from fluxds.plotting import plot_sed

        return plot_sed(self._ds, sed_type, ax=ax, **kwargs)

    def plot_ts_profiles(self, sed_type: str = "dnde", dim: str | None = None, ax: Any = None, **kwargs: Any):
        """Plot the likelihood profiles as a Δstat colour map (castro plot); returns the artists.

        See :func:`fluxds.plotting.plot_ts_profiles`.
        """
        from fluxds.plotting import plot_ts_profiles

        return plot_ts_profiles(self._ds, sed_type, dim, ax=ax, **kwargs)

    def plot_lightcurve(self, sed_type: str = "flux", ax: Any = None, **kwargs: Any):
        """Plot the light curve (``time_format``, ``energy``, ``ul``); returns the artists.

        See :func:`fluxds.plotting.plot_lightcurve`.
        """
        from fluxds.plotting import plot_lightcurve

        return plot_lightcurve(self._ds, sed_type, ax=ax, **kwargs)

    def plot_grid(self, quantity: str = "dnde", **kwargs: Any):
        """Plot a sky map, one panel per energy band (``ncols``, ``share_scale``, ``norm``, ``fig``);
        returns the artists.

        See :func:`fluxds.plotting.plot_grid`.
        """
        from fluxds.plotting import plot_grid

        return plot_grid(self._ds, quantity, **kwargs)

    # --- end plots -----------------------------------------------------------------------------

    # --- castro fits ---------------------------------------------------------------------------
    def castro_stat(self, model, *, weighting: str = "flux") -> xr.DataArray:
        """Total ``-2 log L`` of a spectral model against the likelihood profiles.

        See :func:`fluxds.profiles.castro.castro_stat`.
        """
        from fluxds.profiles.castro import castro_stat

        return castro_stat(self._ds, model, weighting=weighting)

    def fit(self, model, **kwargs: Any) -> xr.Dataset:
        """Fit a spectral model to the likelihood profiles (every SED of the Dataset at once).

        See :func:`fluxds.profiles.castro_fit.fit_castro`.
        """
        from fluxds.profiles.castro_fit import fit_castro

        return fit_castro(self._ds, model, **kwargs)

    def variability(self, dim: str = "time", **kwargs: Any) -> xr.Dataset:
        """Variability along ``dim`` from the profiles: TS_var, its p-value and sigma, Fvar.

        See :func:`fluxds.profiles.variability.variability`.
        """
        from fluxds.profiles.variability import variability

        return variability(self._ds, dim, **kwargs)

    # --- end castro fits -----------------------------------------------------------------------

    # --- likelihood profiles -------------------------------------------------------------------
    def recompute_ul(
        self,
        n_sigma_ul: float | None = None,
        ul_conf: float | None = None,
        reference: str = "minimum",
        **kwargs: Any,
    ) -> xr.Dataset:
        """Upper limits at any confidence from the profiles (``norm_ul`` + ``norm_ul_status``).

        See :func:`fluxds.profiles.limits.recompute_ul`.
        """
        from fluxds.profiles.limits import recompute_ul

        return recompute_ul(self._ds, n_sigma_ul=n_sigma_ul, ul_conf=ul_conf, reference=reference, **kwargs)

    def recompute_errors(self, n_sigma: float | None = None, **kwargs: Any) -> xr.Dataset:
        """``norm_err``/``norm_errp``/``norm_errn`` at any ``n_sigma`` from the profiles.

        See :func:`fluxds.profiles.limits.recompute_errors`.
        """
        from fluxds.profiles.limits import recompute_errors

        return recompute_errors(self._ds, n_sigma=n_sigma, **kwargs)

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

    def check(self, **kwargs: Any) -> xr.Dataset:
        """Per-bin flags where stored numbers contradict the profiles (warns, never raises).

        See :func:`fluxds.profiles.checks.check`.
        """
        from fluxds.profiles.checks import check

        return check(self._ds, **kwargs)

    def combine(self, dim: str, **kwargs: Any) -> xr.Dataset:
        """Joint likelihood SED of all entries along ``dim`` (profiles summed).

        See :func:`fluxds.profiles.combine.combine`.
        """
        from fluxds.profiles.combine import combine

        return combine(self._ds, dim, **kwargs)

    def resample(self, dim: str = "energy", **kwargs: Any) -> xr.Dataset:
        """Merge bins along energy or time (``edges=``, ``group_size=`` or ``min_ts=``).

        See :func:`fluxds.profiles.resample.resample`.
        """
        from fluxds.profiles.resample import resample

        return resample(self._ds, dim, **kwargs)

    # --- end likelihood profiles ---------------------------------------------------------------

    # --- I/O ----------------------------------------------------------------------------------
    def write(
        self,
        path,
        format: str | None = None,
        sed_type: str | None = None,
        overwrite: bool = False,
    ) -> None:
        """Write the Dataset; the format is taken from the file name unless given.

        Parameters
        ----------
        path : str or path-like
            ``.fits``/``.fits.gz`` (GADF SED table), ``.ecsv``, ``.h5``/``.hdf5``, ``.nc``.
        format : str, optional
            ``"gadf-sed"`` (FITS), ``"ecsv"``, ``"hdf5"``, ``"netcdf"``.
        sed_type : str, optional
            SED type of the table columns; default the Dataset's ``sed_type_init``.
        overwrite : bool
            Replace an existing file. Writes are atomic either way.
        """
        from fluxds.io import write

        write(self._ds, path, format=format, sed_type=sed_type, overwrite=overwrite)


def _quantity_property(name: str) -> property:
    def getter(self: SedAccessor) -> xr.DataArray:
        return self.get(name)

    getter.__doc__ = f"``{name}`` as a DataArray with units (see :meth:`SedAccessor.get`)."
    getter.__name__ = name
    return property(getter)


for _name in schema.QUANTITY_NAMES:
    if not hasattr(SedAccessor, _name):
        setattr(SedAccessor, _name, _quantity_property(_name))
