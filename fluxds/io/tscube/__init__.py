"""TS cubes (fermipy/gttscube likelihood SED cubes: ``SCANDATA``, ``FITDATA``, ``EBOUNDS``) <-> WCS maps
with a ``scan`` dimension; :mod:`.read`, :mod:`.write`."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]


def _is_tscube_file(hdul) -> bool:
    return "SCANDATA" in {hdu.name.upper() for hdu in hdul}


def _holds(ds) -> bool:
    """A WCS map with variables on the sky pixels alone (a TS cube's ``fit_*``, ``ts_image``): the flux-map
    layout has no place for them, a TS cube's FITDATA does."""
    from fluxds import schema
    from fluxds.wcs import LAT, LON

    return (
        LAT in ds.dims
        and schema.ENERGY in ds.dims
        and any(set(var.dims) == {LAT, LON} for var in ds.data_vars.values())
    )


FORMATS = (
    Format(
        name="tscube",
        summary="a TS cube (SCANDATA/FITDATA tables over sky pixels)",
        containers=("fits",),
        reader="tscube.read:read",
        writer="tscube.write:write",
        detect_fits=_is_tscube_file,
        holds=_holds,
        lazy=True,
        fits_only=True,
    ),
)
