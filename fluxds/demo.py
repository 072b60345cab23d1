"""``fluxds demo``: the main job on the SED shipped with the package."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from fluxds import schema

__all__ = ["run_demo", "sed_table_text"]


def sed_table_text(ds: xr.Dataset, sed_type: str) -> str:
    """A plain-text table of one SED type: energies, value, errors, upper limits."""
    names = [f"{sed_type}{s}" for s in ("", "_err", "_errn", "_errp", "_ul")]
    columns = {n: ds.sed.get(n) for n in names if f"norm{n[len(sed_type) :]}" in ds}
    unit = next(iter(columns.values())).attrs.get("units", "")
    e_unit = ds[schema.ENERGY].attrs.get("units", "")
    head = f"{'e_ref [' + e_unit + ']':>16}" + "".join(f"{n:>14}" for n in columns)
    lines = [f"SED type {sed_type!r} [{unit or 'dimensionless'}]", head]
    for i, e in enumerate(np.asarray(ds[schema.ENERGY].values)):
        row = "".join(f"{float(c.values[i]):>14.4g}" for c in columns.values())
        lines.append(f"{e:>16.4g}" + row)
    return "\n".join(lines)


def run_demo(out: str | os.PathLike = "fluxds-demo", *, overwrite: bool = True) -> dict[str, Path]:
    """Read the shipped H.E.S.S. Crab SED, print it in every SED type, write FITS and netCDF copies and
    an SED plot.

    Parameters
    ----------
    out : str or path-like
        Output directory (created).
    overwrite : bool
        Replace earlier demo outputs.

    Returns
    -------
    dict
        Paths written: ``fits``, ``netcdf``, ``plot``.
    """
    import fluxds

    out = Path(out)
    ds = fluxds.read(fluxds.demo_path())
    print(f"Read {fluxds.demo_path().name}: {dict(ds.sizes)}; SED type {ds.sed.sed_type_init!r}")
    for sed in ("likelihood", "dnde", "e2dnde", "flux", "eflux"):
        print()
        print(sed_table_text(ds, "norm" if sed == "likelihood" else sed))
    paths = {"fits": out / "crab_flux.fits", "netcdf": out / "crab.nc", "plot": out / "crab_sed.png"}
    ds.sed.write(paths["fits"], sed_type="flux", overwrite=overwrite)
    ds.sed.write(paths["netcdf"], overwrite=overwrite)
    _plot(ds, paths["plot"])
    print()
    for kind, path in paths.items():
        print(f"wrote {kind:7s} {path}")
    return paths


def _plot(ds: xr.Dataset, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fluxds.plotting import plot_sed

    fig, ax = plt.subplots(figsize=(6, 4.5))
    plot_sed(ds, "e2dnde", ax=ax)
    ax.set_title("H.E.S.S. Crab Nebula SED (gammapy-data)")
    fig.tight_layout()
    from fluxds.io.output.atomic import atomic_path

    with atomic_path(path, overwrite=True) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
