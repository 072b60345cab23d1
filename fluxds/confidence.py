"""Confidence levels and numbers of sigma, converted without rounding.

A one-sided upper limit at ``n`` sigma from a likelihood profile is where the profile has risen by
``n**2``; its confidence level is the probability of a chi-square variable with one degree of freedom
below ``n**2``: ``ul_conf = erf(n / sqrt(2))``. gammapy rounds ``n`` to 0.1 when reading ``UL_CONF``
(0.95 becomes 2.0 sigma instead of 1.959964); fluxds keeps both numbers exact.
"""

from __future__ import annotations

import numpy as np

__all__ = ["n_sigma_from_ul_conf", "ul_conf_from_n_sigma"]


def n_sigma_from_ul_conf(ul_conf: float) -> float:
    """Number of sigma of an upper limit at confidence ``ul_conf`` (0.95 -> 1.959963984540054).

    Parameters
    ----------
    ul_conf : float
        Confidence level, in (0, 1).

    Returns
    -------
    float
    """
    from scipy import special

    return float(-special.ndtri(0.5 * (1.0 - ul_conf)))  # 1 - ul_conf is exact here


def ul_conf_from_n_sigma(n_sigma: float) -> float:
    """Confidence level of an upper limit at ``n_sigma`` (2 -> 0.9544997361036416).

    Parameters
    ----------
    n_sigma : float
        Number of sigma, > 0.

    Returns
    -------
    float
    """
    from scipy import special

    return float(special.erf(n_sigma / np.sqrt(2.0)))
