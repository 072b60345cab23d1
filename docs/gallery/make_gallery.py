"""Make the plot gallery of the docs: one PNG per plot kind in ``docs/_static/gallery/``.

Run ``python docs/gallery/make_gallery.py`` (the Sphinx build runs it at start, see
``docs/_ext/fluxds_gallery.py``). Each block between ``# [name]`` and ``# [/name]`` is shown on the
gallery page beside the image it makes, so the page shows the very code that drew it.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # fluxds itself, also when it is not installed

import fluxds  # noqa: E402

DATA = ROOT / "tests" / "data"
OUT = ROOT / "docs" / "_static" / "gallery"
DPI = 80


def sed() -> plt.Figure:
    # [sed]
    ds = fluxds.read(DATA / "gammapy-written" / "fp_likelihood.fits")
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ds.sed.plot("e2dnde", ax=ax)  # points with asymmetric errors, upper limits as arrows
    ax.set_title("SED: e2dnde with upper limits (is_ul)")
    # [/sed]
    return fig


def sed_flux() -> plt.Figure:
    # [sed_flux]
    import astropy.units as u

    from fluxds.models import PowerLaw

    ds = fluxds.read(fluxds.demo_path())  # H.E.S.S. Crab
    model = PowerLaw(index=2.6, amplitude=3.5e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ds.sed.plot("flux", ax=ax, model=model)  # the model integrated over each bin: steps
    ax.set_title("SED: integral flux per bin and a power law")
    # [/sed_flux]
    return fig


def sed_series() -> plt.Figure:
    # [sed_series]
    lc = fluxds.read(DATA / "gammapy-written" / "lc_likelihood.fits")
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    lc.sed.plot("dnde", ax=ax, energy_power=2, energy_unit="TeV")  # one series per time bin
    ax.set_title("SED per time bin, dN/dE times E^2")
    # [/sed_series]
    return fig


def profiles() -> plt.Figure:
    # [profiles]
    ds = fluxds.read(fluxds.demo_path())
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    ds.sed.plot_ts_profiles("e2dnde", ax=ax)
    ds.sed.plot("e2dnde", ax=ax, color="red")  # the best fits on top
    ax.set_title("Likelihood profiles (castro plot) along energy")
    # [/profiles]
    return fig


def profiles_time() -> plt.Figure:
    # [profiles_time]
    lc = fluxds.read(DATA / "gammapy-data" / "pks2155_hess_lc.fits")
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    lc.isel(energy=0).sed.plot_ts_profiles("flux", ax=ax, time_format="iso")
    ax.set_title("Likelihood profiles along time: PKS 2155-304 flare")
    # [/profiles_time]
    return fig


def lightcurve() -> plt.Figure:
    # [lightcurve]
    lc = fluxds.read(DATA / "gammapy-written" / "lc_likelihood.fits")
    fig, ax = plt.subplots(figsize=(6, 4.2), layout="constrained")
    lc.sed.plot_lightcurve("flux", ax=ax, time_format="mjd")  # one line per energy band
    ax.set_title("Light curve, three energy bands")
    # [/lightcurve]
    return fig


def lightcurve_iso() -> plt.Figure:
    # [lightcurve_iso]
    lc = fluxds.read(DATA / "gammapy-data" / "pks2155_hess_lc.fits")
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    lc.sed.plot_lightcurve("flux", ax=ax, time_format="iso")
    ax.set_title("PKS 2155-304 flare, 2006-07-29 (H.E.S.S.)")
    # [/lightcurve_iso]
    return fig


def grid_wcs() -> plt.Figure:
    # [grid_wcs]
    maps = fluxds.read(DATA / "gammapy-written" / "fm_excess.fits")
    artists = maps.sed.plot_grid("sqrt_ts", share_scale=False)  # one colour scale per band
    # [/grid_wcs]
    return artists.fig


def grid_wcs_log() -> plt.Figure:
    # [grid_wcs_log]
    maps = fluxds.read(DATA / "gammapy-written" / "fm_ts.fits")
    artists = maps.sed.plot_grid("flux_ul", norm="log")  # shared log scale, one colour bar
    # [/grid_wcs_log]
    return artists.fig


def grid_healpix() -> plt.Figure:
    # [grid_healpix]
    maps = fluxds.read(DATA / "gammapy-written" / "fm_hpx.fits")  # partial-sky HEALPix, nside 16
    artists = maps.sed.plot_grid("flux", norm="log")  # cartesian view around the pixels held
    # [/grid_healpix]
    return artists.fig


def grid_allsky() -> plt.Figure:
    # [grid_allsky]
    import astropy.units as u
    import numpy as np

    from fluxds.healpix import assign_healpix, healpix_coords

    nside = 8  # a made-up all-sky map: a bright band along the Galactic plane
    lat = healpix_coords(nside, order="ring", frame="galactic")["sky_lat"].values
    dnde = 1e-12 * np.exp(-0.5 * (lat / 10) ** 2) * np.array([[1.0], [0.1]])
    ds = fluxds.from_sed("dnde", {"dnde": dnde * u.Unit("cm-2 s-1 TeV-1")}, dims=("energy", "pixel"),
                         energy_min=[0.1, 1] * u.TeV, energy_max=[1, 10] * u.TeV)  # fmt: skip
    ds = assign_healpix(ds, nside=nside, order="ring", frame="galactic")
    artists = ds.sed.plot_grid("dnde", share_scale=False)  # all-sky: Mollweide view
    # [/grid_allsky]
    return artists.fig


MAKERS = {
    "sed": sed,
    "sed_flux": sed_flux,
    "sed_series": sed_series,
    "profiles": profiles,
    "profiles_time": profiles_time,
    "lightcurve": lightcurve,
    "lightcurve_iso": lightcurve_iso,
    "grid_wcs": grid_wcs,
    "grid_wcs_log": grid_wcs_log,
    "grid_healpix": grid_healpix,
    "grid_allsky": grid_allsky,
}


def make_gallery(out: Path = OUT) -> list[Path]:
    """Draw every gallery plot into ``out`` (PNG, dpi 80); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, maker in MAKERS.items():
            fig = maker()
            path = out / f"{name}.png"
            fig.savefig(path, dpi=DPI, metadata={"Software": None})
            plt.close(fig)
            paths.append(path)
    return paths


if __name__ == "__main__":
    for p in make_gallery():
        print(f"wrote {p.relative_to(ROOT)}")
