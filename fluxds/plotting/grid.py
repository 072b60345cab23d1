"""A grid of sky maps, one panel per energy band: WCS maps on ``WCSAxes``, HEALPix maps rasterised."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import astropy.units as u
import numpy as np
import xarray as xr

from fluxds import schema
from fluxds.convert import get_quantity
from fluxds.errors import FluxdsError
from fluxds.healpix import PIXEL, is_healpix_map
from fluxds.plotting.labels import energy_band_label, quantity_label
from fluxds.wcs import LAT, LON, is_wcs_map

__all__ = ["GridArtists", "choose_norm", "figure_size", "plot_grid"]

NORMS = ("auto", "linear", "log", "symlog")
# norm="auto" with a shared scale: logarithmic when the bands' largest |values| differ by more than this
# factor (dN/dE falls by decades from band to band: a shared linear scale leaves the upper bands blank)
AUTO_LOG_SPREAD = 10.0


@dataclass
class GridArtists:
    """What :func:`plot_grid` drew.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
    axes : list
        One axes per energy band (``WCSAxes`` for WCS maps), in energy order.
    images : list
        The image artist of each panel (``AxesImage`` or ``QuadMesh``).
    colorbars : list
        One colour bar for all panels (``share_scale=True``) or one per panel.
    """

    fig: Any
    axes: list = field(default_factory=list)
    images: list = field(default_factory=list)
    colorbars: list = field(default_factory=list)


def _map_quantity(ds: xr.Dataset, quantity: str, unit) -> xr.DataArray:
    if not (is_wcs_map(ds) or is_healpix_map(ds)):
        raise FluxdsError(
            "plot_grid needs a sky map (dims 'lat'/'lon' with a 'wcs' coordinate, or 'pixel' with a "
            f"'healpix' coordinate); the Dataset has dims {dict(ds.sizes)}"
        )
    da = get_quantity(ds, quantity, unit)
    spatial = (LAT, LON) if is_wcs_map(ds) else (PIXEL,)
    extra = [d for d in da.dims if d not in (schema.ENERGY, *spatial)]
    big = [d for d in extra if da.sizes[d] > 1]
    if big:
        raise FluxdsError(
            f"{quantity!r} has dims {dict(da.sizes)}; a map grid has one panel per energy band: select one "
            f"value of {big} first (e.g. ds.isel({big[0]}=0))"
        )
    da = da.isel({d: 0 for d in extra})
    if schema.ENERGY not in da.dims:
        da = da.expand_dims(schema.ENERGY)
    return da.transpose(schema.ENERGY, *spatial)


def _band_peaks(values: np.ndarray) -> np.ndarray:
    """The largest finite ``|value|`` of each band (first axis) of a ``(band, ...)`` array (a 2-D image is
    one band); 0 for a band without finite values."""
    flat = values.reshape(values.shape[0] if values.ndim > 2 else 1, -1)
    return np.max(np.where(np.isfinite(flat), np.abs(flat), 0.0), axis=1)


def choose_norm(values: np.ndarray, norm: str, share_scale: bool) -> str:
    """The colour scale ``norm="auto"`` stands for: with one scale shared by bands (``values`` is
    ``(band, ...)``) whose largest ``|value|`` differ by more than ``AUTO_LOG_SPREAD``, ``"log"`` (every
    finite value > 0) or ``"symlog"`` (values <= 0 too, as dN/dE maps with negative excesses have);
    otherwise ``"linear"``. Any other ``norm`` is returned as it is.

    Examples
    --------
    >>> choose_norm(np.array([[[1e-9, -1e-12]], [[1e-11, 2e-12]]]), "auto", share_scale=True)
    'symlog'
    >>> choose_norm(np.array([[[1.0, 2.0]], [[3.0, 4.0]]]), "auto", share_scale=True)
    'linear'
    """
    if norm not in NORMS:
        raise FluxdsError(f"norm is {norm!r}; expected one of {', '.join(map(repr, NORMS))}")
    if norm != "auto":
        return norm
    peaks = _band_peaks(values)
    peaks = peaks[peaks > 0]
    if not share_scale or peaks.size < 2 or peaks.max() <= AUTO_LOG_SPREAD * peaks.min():
        return "linear"
    finite = values[np.isfinite(values)]
    return "log" if bool(np.all(finite > 0)) else "symlog"


def _norm(values: np.ndarray, norm: str, vmin, vmax):
    """The colour normalisation of ``values`` (every band of a shared scale, or one panel): its limits
    cover every finite value (every value > 0 for ``"log"``) unless ``vmin``/``vmax`` are given. For
    ``"symlog"`` the linear range around 0 is the median ``|value|`` of the faintest band (its noise),
    so that each band's structure shows on the logarithmic part."""
    from matplotlib.colors import LogNorm, Normalize, SymLogNorm

    finite = values[np.isfinite(values) & ((values > 0) if norm == "log" else True)]
    lo = vmin if vmin is not None else (float(finite.min()) if finite.size else None)
    hi = vmax if vmax is not None else (float(finite.max()) if finite.size else None)
    if norm == "symlog":
        bands = values.reshape(values.shape[0] if values.ndim > 2 else 1, -1)
        peaks = _band_peaks(values)
        faintest = bands[int(np.argmin(np.where(peaks > 0, peaks, np.inf)))]
        typical = np.abs(faintest[np.isfinite(faintest) & (faintest != 0)])
        linthresh = float(np.median(typical)) if typical.size else 1.0
        return SymLogNorm(linthresh, linscale=0.5, vmin=lo, vmax=hi, base=10)
    return (LogNorm if norm == "log" else Normalize)(vmin=lo, vmax=hi)


def _titles(ds: xr.Dataset, n: int) -> list[str]:
    if schema.ENERGY_MIN not in ds.coords:
        return [""] * n
    unit = ds[schema.ENERGY].attrs.get("units", "")
    lo, hi = (np.atleast_1d(ds[c].values) for c in (schema.ENERGY_MIN, schema.ENERGY_MAX))
    return [energy_band_label(a, b, unit) for a, b in zip(lo, hi, strict=True)]


def figure_size(n_panels: int, ncols: int = 3, *, mollweide: bool = False) -> tuple[float, float]:
    """The figure size (inches) :func:`plot_grid` uses for ``n_panels`` in rows of ``ncols``.

    Examples
    --------
    >>> figure_size(3)
    (14.2, 3.8)
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = -(-n_panels // ncols)
    return (round(4.4 * ncols + 1.0, 6), round((2.6 if mollweide else 3.4) * nrows + 0.4, 6))


def plot_grid(
    ds: xr.Dataset,
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
    """Plot a sky map as a grid of panels, one per energy band, each with its colour bar (or one shared
    colour bar) labelled with the quantity and its unit.

    WCS maps are drawn on astropy ``WCSAxes`` (real sky coordinates, any projection); HEALPix maps are
    sampled on a lon/lat grid and drawn in a Mollweide (all-sky) or cartesian (partial-sky) view.

    Parameters
    ----------
    ds : xarray.Dataset
        A WCS or HEALPix map; dims other than energy and the sky must have size 1 (select first).
    quantity : str
        Any quantity of ``ds.sed`` (``dnde``, ``flux``, ``eflux``, ``sqrt_ts``, ``ts``, ``npred_excess``,
        ``dnde_ul`` ...).
    ncols : int
        Panels per row.
    share_scale : bool
        One colour scale (and one colour bar) for all panels; else one per panel.
    norm : {"auto", "linear", "log", "symlog"}
        Colour scale. ``"auto"``: linear, except for a shared scale over bands whose largest values
        differ by more than a factor ``AUTO_LOG_SPREAD`` (10), as dN/dE does from band to band: then
        ``"log"`` when every value is > 0, else ``"symlog"`` (logarithmic both sides of a linear range
        around 0, so that negative excesses keep a colour). See :func:`choose_norm`.
    fig : matplotlib.figure.Figure, optional
        Default: a new figure sized to the grid.
    unit : str or astropy unit, optional
        Unit of the quantity; default its default unit.
    view : {"auto", "mollweide", "cartesian"}
        HEALPix maps only (see :func:`fluxds.plotting.healpix.rasterize`).
    vmin, vmax : float, optional
        Limits of the colour scale.
    **kwargs
        Passed to ``imshow``/``pcolormesh`` (``cmap`` ...).

    Returns
    -------
    GridArtists

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import fluxds, numpy as np, astropy.units as u
    >>> from astropy.io import fits
    >>> from fluxds.wcs import assign_wcs
    >>> header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRPIX1": 5.5, "CRPIX2": 4.5,
    ...           "CDELT1": -0.1, "CDELT2": 0.1, "CRVAL1": 83.6, "CRVAL2": 22.0})
    >>> ds = fluxds.from_sed("dnde", {"dnde": np.ones((2, 8, 10)) * u.Unit("cm-2 s-1 TeV-1")},
    ...                      energy_min=[1, 10] * u.TeV, energy_max=[10, 100] * u.TeV,
    ...                      dims=("energy", "lat", "lon"))
    >>> artists = plot_grid(assign_wcs(ds, header), "dnde")
    >>> len(artists.axes), artists.colorbars[0].ax.get_ylabel()
    (2, '$dN/dE$ [cm-2 s-1 TeV-1]')
    """
    import matplotlib.pyplot as plt

    from fluxds.plotting.healpix import healpix_panel, rasterize
    from fluxds.plotting.maps import wcs_panel

    if ncols < 1:
        raise FluxdsError(f"ncols is {ncols!r}; expected a positive integer")
    da = _map_quantity(ds, quantity, unit)
    n = da.sizes[schema.ENERGY]
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    healpix = is_healpix_map(ds)
    if healpix:
        lon, lat, images, view = rasterize(da, view)
        frame = str(ds["healpix"].attrs.get("frame", "icrs"))
    else:
        images = np.asarray(da.values, dtype=float)
    if fig is None:
        fig = plt.figure(figsize=figure_size(n, ncols, mollweide=healpix and view == "mollweide"))
        fig.set_layout_engine("constrained")
    norm = choose_norm(images, norm, share_scale)
    shared = _norm(images, norm, vmin, vmax) if share_scale else None
    label = quantity_label(quantity, da.attrs.get("units"))
    shrink = 0.6 if healpix and view == "mollweide" else 0.85
    out = GridArtists(fig)
    for i, title in enumerate(_titles(ds, n)):  # one axes per panel (energy band)
        panel_norm = shared if shared is not None else _norm(images[i], norm, vmin, vmax)
        options = {"norm": panel_norm, **kwargs}
        if healpix:
            ax, image = healpix_panel(fig, nrows, ncols, i + 1, lon, lat, images[i], view, frame, **options)
        else:
            ax, image = wcs_panel(fig, nrows, ncols, i + 1, da.isel({schema.ENERGY: i}), **options)
        ax.set_title(title, fontsize="medium")
        out.axes.append(ax)
        out.images.append(image)
        if shared is None:
            out.colorbars.append(fig.colorbar(image, ax=ax, label=label, shrink=shrink))
    if shared is not None:
        out.colorbars.append(fig.colorbar(out.images[0], ax=out.axes, label=label, shrink=shrink))
    for colorbar in out.colorbars:
        _thin_symlog_ticks(colorbar)
    return out


def _thin_symlog_ticks(colorbar) -> None:
    """On a symlog colour bar, no ticks inside the linear range but 0 (they would overlap)."""
    from matplotlib.colors import SymLogNorm

    norm = colorbar.norm
    if isinstance(norm, SymLogNorm):
        ticks = np.asarray(colorbar.get_ticks(), dtype=float)
        keep = (ticks == 0) | (np.abs(ticks) >= norm.linthresh)
        keep &= (ticks >= norm.vmin) & (ticks <= norm.vmax)
        colorbar.set_ticks(ticks[keep])
