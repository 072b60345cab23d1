"""Confidence levels and numbers of sigma, converted without rounding.

An upper limit at ``n`` sigma from a likelihood profile is where the profile has risen by ``n**2``.
Its confidence level depends on the convention (:data:`UL_SIDEDNESS`, issue 13 item 4): gammapy's
(``"two-sided"``, the default) is the probability of a chi-square variable with one degree of freedom
below ``n**2``, ``ul_conf = erf(n / sqrt(2))``; fermipy's (``"one-sided"``) is the probability of a
normal variable below ``n``, ``ul_conf = Phi(n)``. gammapy rounds ``n`` to 0.1 when reading ``UL_CONF``
(0.95 becomes 2.0 sigma instead of 1.959964); fluxds keeps both numbers exact.

The one implementation of these conversions: :func:`fluxds.profiles.significance.n_sigma_to_conf` and
:func:`~fluxds.profiles.significance.conf_to_n_sigma` (``sided="one"``/``"two"``) call the functions here,
which take numbers (and give floats), numpy arrays and DataArrays (lazy ones stay lazy: ufuncs only).
"""

from __future__ import annotations

import numpy as np

__all__ = ["UL_SIDEDNESS", "check_sidedness", "n_sigma_from_ul_conf", "ul_conf_from_n_sigma", "ul_conf_of"]

#: How a confidence level maps to a profile rise (issue 13 item 4). ``"two-sided"``: ``ul_conf`` is
#: the probability of the two-sided interval, ``ul_conf = erf(n / sqrt(2))`` (gammapy 2.1 reads
#: ``UL_CONF`` so: 0.95 -> 1.959964 sigma, a rise of 3.841). ``"one-sided"``: ``ul_conf`` is the
#: probability below the upper limit, ``ul_conf = Phi(n) = (1 + erf(n / sqrt(2))) / 2`` (fermipy's
#: ``onesided_cl_to_dlnl``: 0.95 -> 1.644854 sigma, a rise of 2.706). A Dataset without the attribute
#: ``ul_sidedness`` follows ``"two-sided"``.
UL_SIDEDNESS = ("two-sided", "one-sided")


def check_sidedness(sidedness: str | None, where: str = "") -> str:
    """``sidedness`` checked against :data:`UL_SIDEDNESS` (None -> ``"two-sided"``).

    Parameters
    ----------
    sidedness : str or None
        ``"two-sided"`` or ``"one-sided"``.
    where : str
        Prefix for the error message.

    Returns
    -------
    str
    """
    from fluxds.errors import SchemaError

    side = "two-sided" if sidedness is None else str(sidedness)
    if side not in UL_SIDEDNESS:
        raise SchemaError(f"{where}ul_sidedness is {sidedness!r}; expected one of {', '.join(UL_SIDEDNESS)}")
    return side


def _like(value, given):
    """``value`` as a Python float where ``given`` is a number; an array or DataArray as it is."""
    return float(value) if isinstance(given, (int, float, np.number)) else value


def n_sigma_from_ul_conf(ul_conf: float, sidedness: str = "two-sided") -> float:
    """Number of sigma of an upper limit at confidence ``ul_conf`` (0.95 -> 1.959963984540054;
    one-sided: 0.95 -> 1.6448536269514722).

    Parameters
    ----------
    ul_conf : float, ndarray or DataArray
        Confidence level, in (0, 1).
    sidedness : {"two-sided", "one-sided"}
        See :data:`UL_SIDEDNESS`.

    Returns
    -------
    float (ndarray, DataArray for such an input)
    """
    from scipy import special

    if check_sidedness(sidedness) == "one-sided":
        return _like(special.ndtri(ul_conf), ul_conf)  # = -ndtri(1 - ul_conf) for ul_conf >= 0.5, bit for bit
    return _like(-special.ndtri(0.5 * (1.0 - ul_conf)), ul_conf)  # 1 - ul_conf is exact here


def ul_conf_from_n_sigma(n_sigma: float, sidedness: str = "two-sided") -> float:
    """Confidence level of an upper limit at ``n_sigma`` (2 -> 0.9544997361036416; one-sided: 2 ->
    0.9772498680518208).

    Parameters
    ----------
    n_sigma : float, ndarray or DataArray
        Number of sigma, > 0.
    sidedness : {"two-sided", "one-sided"}
        See :data:`UL_SIDEDNESS`.

    Returns
    -------
    float (ndarray, DataArray for such an input)
    """
    from scipy import special

    if check_sidedness(sidedness) == "one-sided":
        return _like(special.ndtr(n_sigma), n_sigma)
    return _like(special.erf(n_sigma / np.sqrt(2.0)), n_sigma)


def ul_conf_of(attrs) -> float | None:
    """The upper limits' confidence level of a Dataset's attributes: ``ul_conf`` as stored, else from
    ``n_sigma_ul`` (with ``ul_sidedness``), else None. What ``ds.sed.ul_conf`` gives and the writers store
    as ``UL_CONF``.

    Parameters
    ----------
    attrs : mapping
        ``ds.attrs``.

    Returns
    -------
    float or None
    """
    if attrs.get("ul_conf") is not None:
        return float(attrs["ul_conf"])
    if attrs.get("n_sigma_ul") is None:
        return None
    return ul_conf_from_n_sigma(float(attrs["n_sigma_ul"]), check_sidedness(attrs.get("ul_sidedness")))
