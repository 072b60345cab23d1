"""TeV source catalogs: gamma-cat's catalog FITS (per-source ``sed_*`` vector columns) and the H.E.S.S.
Galactic plane survey (HGPS, ``Flux_Points_*`` vector columns) as collections of band SEDs labelled
``source`` (:mod:`.read`); and a clear refusal for the catalogs that hold spectral models only (2HWC,
3HWC, 1LHAASO: :mod:`.models_only`). Read only."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS", "HGPS_HDU"]

#: the EXTNAME of the HGPS source table
HGPS_HDU = "HGPS_SOURCES"


def _gammacat_columns(names: set[str]) -> bool:
    return {"source_id", "sed_e_ref", "sed_dnde"} <= names


def _hgps_fits(hdul) -> bool:
    return any(h.name.upper() == HGPS_HDU for h in hdul)


def _hgps_columns(names: set[str]) -> bool:
    return {"source_name", "flux_points_energy", "flux_points_flux"} <= names


def _model_only_columns(names: set[str]) -> bool:
    hawc = "source_name" in names and {"spec0_dnde", "spec0_index"} <= names
    lhaaso = "source_name" in names and {"model_a", "n0", "e0"} <= names
    return hawc or lhaaso


FORMATS = (
    Format(
        name="gammacat-catalog",
        summary="the gamma-cat TeV catalog (FITS; per-source SED vector columns sed_e_ref, sed_dnde ...)",
        containers=("fits",),
        reader="tev_catalog.read:read_gammacat",
        writer=None,
        detect_columns=_gammacat_columns,
    ),
    Format(
        name="hgps-catalog",
        summary="the H.E.S.S. Galactic plane survey catalog (HGPS_SOURCES with Flux_Points_* vectors)",
        containers=("fits",),
        reader="tev_catalog.read:read_hgps",
        writer=None,
        detect_fits=_hgps_fits,
        detect_columns=_hgps_columns,
    ),
    Format(
        name="model-catalog",
        summary="a catalog of spectral models without flux points (2HWC, 3HWC, 1LHAASO): refused, named",
        containers=("fits", "ecsv"),
        reader="tev_catalog.models_only:read",
        writer=None,
        detect_columns=_model_only_columns,
    ),
)
