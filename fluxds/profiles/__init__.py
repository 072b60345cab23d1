"""Likelihood-profile science on whole Datasets: limits, errors, significance, checks, joint likelihoods,
bin merging. The numpy core is :mod:`fluxds.profiles.interp`; see ``docs/likelihood_profiles.md``.
"""

from __future__ import annotations

from fluxds.profiles.checks import check
from fluxds.profiles.combine import combine
from fluxds.profiles.interp import evaluate_profile, profile_crossing, profile_minimum
from fluxds.profiles.interpolant import Interpolant
from fluxds.profiles.limits import profile_summary, recompute_errors, recompute_ul
from fluxds.profiles.resample import resample
from fluxds.profiles.significance import (
    conf_to_n_sigma,
    n_sigma_to_conf,
    p_value,
    p_value_to_n_sigma,
    sqrt_ts,
    ts_profile,
    ts_scan,
)

__all__ = [
    "Interpolant",
    "check",
    "combine",
    "conf_to_n_sigma",
    "evaluate_profile",
    "n_sigma_to_conf",
    "p_value",
    "p_value_to_n_sigma",
    "profile_crossing",
    "profile_minimum",
    "profile_summary",
    "recompute_errors",
    "recompute_ul",
    "resample",
    "sqrt_ts",
    "ts_profile",
    "ts_scan",
]
