"""Published results as their publishers write them: gamma-cat's per-paper ECSV SEDs and light curves
(:mod:`.gammacat_sed`, :mod:`.gammacat_lc`, :mod:`.gammacat_table`), multi-instrument SED compilations
such as ``crab_mwl.fits`` (:mod:`.compilation`), and
the Fermi-LAT pulsar catalogs' per-pulsar files with their ``PULSAR_SED`` and ``GAMMA_LC`` tables
(:mod:`.pulsar`); :mod:`.conventions` holds what they share (unit spellings, Crab units, confidence
levels). Read only. Every assumption is written into the Dataset (``attrs["conventions"]``)."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]

_GAMMACAT_TIME = {"time", "time_min", "time_max"}


def _gammacat(meta: dict) -> bool:
    keys = {str(k).lower() for k in meta}
    if "fdsattrs" in keys:  # written by fluxds from a gamma-cat table: a GADF table, conventions applied
        return False
    return "source_id" in keys and bool(keys & {"reference_id", "data_type"})


def _gammacat_kind(meta: dict, names: set[str]) -> str | None:
    if not _gammacat(meta):
        return None
    kind = next((str(v).strip().lower() for k, v in meta.items() if str(k).lower() == "data_type"), "")
    if kind in ("sed", "lc"):
        return kind
    return "lc" if names & _GAMMACAT_TIME else "sed"


def _pulsar_fits(hdul) -> bool:
    return any(h.name.upper() == "PULSAR_SED" for h in hdul)


def _compilation_columns(names: set[str]) -> bool:
    measured = {"energy_flux", "e2dnde", "nufnu", "dnde", "flux"}
    return (
        "energy" in names and bool(names & measured) and bool(names & {"paper", "instrument", "experiment"})
    )


FORMATS = (
    Format(
        name="gammacat-sed",
        summary="a gamma-cat per-paper SED (ECSV with data_type: sed, gamma-cat's units and conventions)",
        containers=("ecsv",),
        reader="published.gammacat_sed:read_sed",
        writer=None,
        detect_meta=lambda meta, names: _gammacat_kind(meta, names) == "sed",
    ),
    Format(
        name="gammacat-lc",
        summary="a gamma-cat per-paper light curve (ECSV with data_type: lc; MJD, Crab units, thresholds)",
        containers=("ecsv",),
        reader="published.gammacat_lc:read_lightcurve",
        writer=None,
        detect_meta=lambda meta, names: _gammacat_kind(meta, names) == "lc",
    ),
    Format(
        name="sed-compilation",
        summary="an SED compiled from several papers or instruments (energy, energy_flux, paper per point)",
        containers=("fits", "ecsv"),
        reader="published.compilation:read",
        writer=None,
        detect_columns=_compilation_columns,
    ),
    Format(
        name="fermi-pulsar",
        summary="a Fermi-LAT pulsar catalog file (2PC/3PC: PULSAR_SED, GAMMA_LC pulse profile)",
        containers=("fits",),
        reader="published.pulsar:read",
        writer=None,
        detect_fits=_pulsar_fits,
    ),
)
