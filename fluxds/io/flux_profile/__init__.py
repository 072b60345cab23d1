"""Spatial flux profiles (gammapy's ``FluxProfileEstimator`` tables: ``x_min``/``x_ref``/``x_max`` per
region) <-> Datasets with a ``region`` dimension; :mod:`.read`, :mod:`.write`, :mod:`.columns`. Not to
be confused with likelihood profiles (:mod:`fluxds.profiles`)."""

from __future__ import annotations

from fluxds.io.format import Format

__all__ = ["FORMATS"]

FORMATS = (
    Format(
        name="profile",
        summary="a spatial flux profile table (x_min/x_ref/x_max, one row per region)",
        containers=("fits", "ecsv"),
        reader="flux_profile.read:read",
        writer="flux_profile.write:write",
        detect_columns=lambda names: bool(names & {"x_min", "x_max", "x_ref"}),
        holds=lambda ds: "region" in ds.dims,
    ),
)
