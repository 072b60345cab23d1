"""``fluxds plot``: the right plot for a file's dimensions, written to an image file."""

from __future__ import annotations

import os
from pathlib import Path

import xarray as xr

from fluxds.errors import FluxdsError
from fluxds.healpix import is_healpix_map
from fluxds.wcs import is_wcs_map

__all__ = ["KINDS", "choose_kind", "plot_file"]

KINDS = ("sed", "profiles", "lightcurve", "grid")
_DEFAULT_QUANTITY = {"sed": "e2dnde", "profiles": "dnde", "lightcurve": "flux", "grid": "dnde"}
_CURVE_DIMS = ("time", "phase")


def choose_kind(ds: xr.Dataset) -> str:
    """The plot for a Dataset's dimensions: ``grid`` for a sky map, ``lightcurve`` with a ``time`` (or
    ``phase``) dimension, ``sed`` otherwise.

    Examples
    --------
    >>> import fluxds
    >>> choose_kind(fluxds.read(fluxds.demo_path()))
    'sed'
    """
    if is_wcs_map(ds) or is_healpix_map(ds):
        return "grid"
    if _curve_dim(ds) is not None:
        return "lightcurve"
    return "sed"


def _curve_dim(ds: xr.Dataset) -> str | None:
    """The dimension a light-curve plot runs along: ``time``, else ``phase`` (a phase curve), else None."""
    return next((d for d in _CURVE_DIMS if d in ds.dims), None)


def plot_file(
    path: str | os.PathLike,
    out: str | os.PathLike,
    *,
    kind: str | None = None,
    sed_type: str | None = None,
    overwrite: bool = False,
    dpi: int = 100,
    read_options: dict | None = None,
) -> str:
    """Read ``path``, draw the plot of ``kind`` (default :func:`choose_kind`) and save it to ``out``
    atomically (the format from its suffix: ``.png``, ``.pdf``, ``.svg``). Returns the kind drawn.

    Parameters
    ----------
    sed_type : str, optional
        The quantity plotted (``likelihood`` means ``norm``); default ``e2dnde`` for an SED, ``flux`` for a
        light curve, ``dnde`` for profiles and map grids (which also take ``sqrt_ts``, ``ts`` ...).
    read_options : dict, optional
        Passed to :func:`fluxds.read` (``derive_edges``, ``units``, ``isolate``, ``columns`` ...).

    Raises
    ------
    FluxdsError
        An unknown kind, a quantity the file cannot give, an existing ``out`` without ``overwrite``.

    Examples
    --------
    >>> import tempfile, pathlib, fluxds
    >>> plot_file(fluxds.demo_path(), pathlib.Path(tempfile.mkdtemp()) / "crab.png")
    'sed'
    """
    from matplotlib.figure import Figure  # no pyplot: no backend or global figure state touched

    import fluxds
    from fluxds.io.output.atomic import atomic_path

    ds = fluxds.read(path, **(read_options or {}))
    kind = kind or choose_kind(ds)
    if kind not in KINDS:
        raise FluxdsError(f"plot kind is {kind!r}; expected one of {', '.join(KINDS)}")
    quantity = "norm" if sed_type == "likelihood" else (sed_type or _DEFAULT_QUANTITY[kind])
    suffix = Path(out).suffix.lstrip(".").lower()
    if suffix not in Figure().canvas.get_supported_filetypes():
        raise FluxdsError(f"output {str(out)!r}: unknown image format {suffix!r}; use .png, .pdf or .svg")
    if kind == "grid":
        from fluxds.plotting.grid import figure_size
        from fluxds.plotting.healpix import choose_view

        mollweide = is_healpix_map(ds) and choose_view(ds) == "mollweide"
        size = figure_size(ds.sizes.get("energy", 1), mollweide=mollweide)
        # each band its own colour scale: one shared linear scale leaves the high-energy panels empty
        fig = ds.sed.plot_grid(
            quantity, fig=Figure(figsize=size, layout="constrained"), share_scale=False
        ).fig
    else:
        fig = Figure(figsize=(6.4, 4.8), layout="constrained")
        ax = fig.add_subplot()
        method = {
            "sed": ds.sed.plot,
            "profiles": ds.sed.plot_ts_profiles,
            "lightcurve": ds.sed.plot_lightcurve,
        }
        if kind == "lightcurve" and _curve_dim(ds) is not None:
            ds.sed.plot_lightcurve(quantity, ax=ax, dim=_curve_dim(ds))
        else:
            method[kind](quantity, ax=ax)
        ax.set_title(Path(path).name, fontsize="medium")
    with atomic_path(out, overwrite=overwrite) as tmp:
        fig.savefig(tmp, format=suffix, dpi=dpi)
    return kind
