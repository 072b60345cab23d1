"""Plots of fluxds Datasets: SEDs, likelihood profiles (castro plots), light curves and sky-map grids.

matplotlib is imported only inside the functions, when a plot is asked for (importing fluxds does not
import it). Every function takes ``ax=`` (``fig=`` for :func:`plot_grid`) and returns the artists it
drew as a small dataclass. The ``ds.sed.plot*`` methods of the accessor call these functions.

- :func:`plot_sed` (``ds.sed.plot()``): SED points, upper-limit arrows, a model curve;
- :func:`plot_ts_profiles` (``ds.sed.plot_ts_profiles()``): the Δstat colour map ("castro" plot);
- :func:`plot_lightcurve` (``ds.sed.plot_lightcurve()``): flux versus time, one line per energy band;
- :func:`plot_grid` (``ds.sed.plot_grid()``): one sky panel per energy band (WCS or HEALPix).
"""

from __future__ import annotations

from fluxds.plotting._points import SeriesArtists
from fluxds.plotting.grid import GridArtists, plot_grid
from fluxds.plotting.lightcurve import LightCurveArtists, plot_lightcurve
from fluxds.plotting.profiles import ProfileArtists, delta_stat, plot_ts_profiles
from fluxds.plotting.sed import SedArtists, plot_sed

__all__ = [
    "GridArtists",
    "LightCurveArtists",
    "ProfileArtists",
    "SedArtists",
    "SeriesArtists",
    "delta_stat",
    "plot_grid",
    "plot_lightcurve",
    "plot_sed",
    "plot_ts_profiles",
]
