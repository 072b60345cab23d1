"""Light curves: GADF light-curve tables (``time_min``/``time_max``, FITS or ECSV, one table per source
or per energy band) and astropy ``BinnedTimeSeries`` tables <-> Datasets with a ``time`` dimension; and
phase curves (``phase_min``/``phase_max``) <-> Datasets with a ``phase`` dimension;
:mod:`.files` (read/write), :mod:`.table`, :mod:`.gadf`, :mod:`.bts`, :mod:`.phase`, :mod:`.keys`."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]

FORMATS = (
    Format(
        name="phasecurve",
        summary="a phase-curve table (phase_min/phase_max, one row per phase bin, energies per row)",
        containers=("fits", "ecsv"),
        reader="lightcurve.files:read_phasecurve",
        writer="lightcurve.files:write_phasecurve",
        detect_columns=lambda names: bool(names & {"phase_min", "phase_max", "phase"}),
        holds=lambda ds: "phase" in ds.dims,
    ),
    Format(
        name="binned-time-series",
        summary="an astropy BinnedTimeSeries table (time_bin_start, time_bin_size)",
        containers=("fits", "ecsv"),
        reader="lightcurve.files:read_binned_time_series",
        writer="lightcurve.files:write_binned_time_series",
        detect_columns=lambda names: "time_bin_start" in names,
    ),
    Format(
        name="lightcurve",
        summary="a GADF light-curve table (time_min/time_max, one row per time bin)",
        containers=("fits", "ecsv"),
        reader="lightcurve.files:read",
        writer="lightcurve.files:write",
        detect_columns=lambda names: bool(names & {"time_min", "time_max", "time"}),
        holds=lambda ds: "time" in ds.dims,
    ),
)
