"""Speed paths of fluxds.profiles: the build-once Interpolant and the clean-profile upper-limit kernel.

Checked against analytic cubics and parabolas (the interpolant is exact on cubics), a hand-solved limit,
and the general code path on the same profiles (forced by NaN padding, which changes no number).
"""

from __future__ import annotations

import numpy as np
import pytest

from fluxds.profiles._fast import is_clean
from fluxds.profiles.interp import evaluate_profile, profile_minimum
from fluxds.profiles.interpolant import Interpolant
from fluxds.profiles.limits import profile_summary, upper_limit


def _cubics(rng, shape=(40, 6), n_scan=9):
    """Sorted per-bin grids of cubics ``a (x - mu)**2 + b (x - mu)**3 + c`` and their coefficients."""
    mu, a = rng.uniform(0.5, 2.0, shape), rng.uniform(1.0, 20.0, shape)
    b, c = rng.uniform(-0.5, 0.5, shape), rng.uniform(-10.0, 10.0, shape)
    x = np.sort(rng.uniform(-1.0, 4.0, shape + (n_scan,)), axis=-1)
    x[..., 0], x[..., -1] = -1.0, 4.0
    u = x - mu[..., None]
    return x, a[..., None] * u**2 + b[..., None] * u**3 + c[..., None], (mu, a, b, c)


def test_interpolant_is_exact_on_cubics_at_many_points():
    x, stat, (mu, a, b, c) = _cubics(np.random.default_rng(1))
    q = np.linspace(-0.9, 3.9, 31)
    got, status = Interpolant(x, stat)(np.broadcast_to(q, mu.shape + q.shape))
    u = q - mu[..., None]
    want = a[..., None] * u**2 + b[..., None] * u**3 + c[..., None]
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-9)
    assert (status == 0).all()


def test_interpolant_matches_evaluate_profile_everywhere():
    """Same numbers as the one-shot function, on messy profiles, one point per bin and query axes."""
    rng = np.random.default_rng(2)
    x, stat, _ = _cubics(rng)
    x = np.where(rng.uniform(size=x.shape) < 0.2, np.nan, x)  # padding
    x = np.take_along_axis(x, rng.permuted(np.broadcast_to(np.arange(9), x.shape), axis=-1), -1)
    f = Interpolant(x, stat)
    for norm, points in ((rng.uniform(-3, 6, (40, 6)), None), (rng.uniform(-3, 6, (40, 1, 5)), True)):
        got, got_status = f(norm, points=points)
        want, want_status = evaluate_profile(x, stat, norm, points=points)
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(got_status, want_status)
    sub, q = f.take(np.array([3, 7])), norm[[3, 7]]
    np.testing.assert_array_equal(sub(q, points=True)[0], evaluate_profile(x[[3, 7]], stat[[3, 7]], q)[0])
    np.testing.assert_array_equal(f.minimum()[1], profile_minimum(x, stat)[1])


@pytest.mark.parametrize("stencil", [3, 5])
@pytest.mark.parametrize("reference", ["minimum", "zero"])
def test_clean_kernel_equals_general_path(stencil, reference):
    """Skewed, non-parabolic profiles on per-bin grids: the fast kernels give the general path's numbers."""
    rng = np.random.default_rng(3)
    shape = (300, 4)
    mu, sigma = rng.uniform(-0.5, 2.0, shape), rng.uniform(0.1, 0.5, shape)
    x = np.geomspace(0.2, 5.0, 11) * rng.uniform(0.8, 1.25, shape + (1,)) - 0.3
    u = x - mu[..., None]
    stat = (u / sigma[..., None]) ** 2 + 0.3 * np.abs(u) ** 3
    assert is_clean(x, stat, stencil)
    # one NaN column forces the general path (sorting, padding) without changing any profile
    padded = np.concatenate([x, np.full(shape + (1,), np.nan)], axis=-1)
    assert not is_clean(padded, np.concatenate([stat, stat[..., :1]], -1), stencil)
    fast = upper_limit(x, stat, 6.0, reference, stencil)
    general = upper_limit(padded, np.concatenate([stat, stat[..., :1]], -1), 6.0, reference, stencil)
    np.testing.assert_allclose(fast[0], general[0], rtol=1e-12)
    np.testing.assert_array_equal(fast[1], general[1])
    assert {0, 2} <= set(np.unique(fast[1]))  # inside and beyond the scan both exercised
    fast = profile_summary(x, stat, 1.3, 6.0, reference, stencil)
    general = profile_summary(padded, np.concatenate([stat, stat[..., :1]], -1), 1.3, 6.0, reference, stencil)
    for key, value in fast.items():
        np.testing.assert_allclose(value, general[key], rtol=1e-12, atol=0, err_msg=key)
        assert value.dtype == general[key].dtype


def test_clean_kernel_on_parabolas_is_analytic():
    """stat = ((x - mu) / sigma)**2: the limit is mu + n sigma inside the scan, extrapolated beyond."""
    mu, sigma = np.array([1.0, 0.3, 2.0]), np.array([0.5, 0.2, 1.5])
    x = np.linspace(-1.0, 3.0, 11) + np.zeros((3, 1))
    ul, status = upper_limit(x, ((x - mu[:, None]) / sigma[:, None]) ** 2, 2.0)
    np.testing.assert_allclose(ul, mu + 2.0 * sigma, rtol=1e-12)
    np.testing.assert_array_equal(status, [0, 0, 2])  # 2 + 3 = 5 lies beyond the scan end 3


def test_blocked_evaluation_is_exact_and_independent_of_the_block_size(monkeypatch):
    """Many queries are evaluated in blocks of the first dim: still the analytic cubics, same numbers."""
    from fluxds.profiles import _pieces

    x, stat, (mu, a, b, c) = _cubics(np.random.default_rng(4), shape=(50, 3))
    q = np.random.default_rng(5).uniform(-0.9, 3.9, (50, 1, 400))  # broadcasts over the 3 bins
    f = Interpolant(x, stat)
    monkeypatch.setattr(_pieces, "BLOCK_QUERIES", 1000)  # 60 000 queries: 50 blocks of one row
    blocked, status = f(q)
    u = q - mu[..., None]
    np.testing.assert_allclose(
        blocked, a[..., None] * u**2 + b[..., None] * u**3 + c[..., None], rtol=1e-10, atol=1e-9
    )
    monkeypatch.setattr(_pieces, "BLOCK_QUERIES", 10**9)  # one block
    np.testing.assert_array_equal(f(q)[0], blocked)
    np.testing.assert_array_equal(f(q)[1], status)


@pytest.mark.parametrize("stencil", [3, 5])
@pytest.mark.parametrize("reference", ["minimum", "zero"])
def test_screened_upper_limit_equals_general_path_on_odd_profiles(stencil, reference, monkeypatch):
    """The clean upper-limit kernel builds cubics only beside the lowest point and at the crossing, ruling
    the other intervals out by bounds: on profiles where the bounds cannot (noise wiggling between the
    points, tied minima, rounded values, flat and monotone profiles, huge offsets) it must still give the
    general path's numbers and flags, also across many small blocks."""
    from fluxds.profiles import _fast

    rng = np.random.default_rng(7)
    shape, n_scan = (60, 10), 11
    mu, sigma = rng.uniform(-0.5, 2.0, shape), rng.uniform(0.05, 0.5, shape)
    x = np.geomspace(0.2, 5.0, n_scan) * rng.uniform(0.8, 1.25, shape + (1,)) - 0.3
    q = (x - mu[..., None]) / sigma[..., None]
    stat = np.stack(
        [
            q**2 + rng.normal(0.0, 2.0, x.shape),  # wiggles between the points
            np.round(q**2, 0),  # tied and rounded values
            np.abs(np.round(np.sin(3 * x), 2)) * 5,  # several equal minima
            np.full(x.shape, 3.0),  # flat
            -2.0 * x + 1.0,  # falling: the limit beyond the scan or none
            1e6 + q**2,  # an offset far above the curvature
        ]
    )
    x = np.broadcast_to(x, stat.shape)
    assert is_clean(x, stat, stencil)
    padded = np.concatenate([x, np.full(stat.shape[:-1] + (1,), np.nan)], axis=-1)
    stat_padded = np.concatenate([stat, stat[..., :1]], axis=-1)
    general = upper_limit(padded, stat_padded, 2.5, reference, stencil)
    for block, bins in ((_fast.BLOCK_POINTS, _fast.SCREEN_BINS), (100, 70)):
        monkeypatch.setattr(_fast, "BLOCK_POINTS", block)
        monkeypatch.setattr(_fast, "SCREEN_BINS", bins)
        fast = upper_limit(x, stat, 2.5, reference, stencil)
        np.testing.assert_array_equal(fast[1], general[1])
        np.testing.assert_array_equal(np.isnan(fast[0]), np.isnan(general[0]))
        # rounding of the statistic (1e-16 of its size; the 1e6 offset leaves ~1e-10 of its curvature)
        # moves a crossing by up to that over the slope: both paths' Newton iterations land there
        tol = 1e-12 * (1.0 + np.abs(stat).max(axis=-1))
        assert np.nanmax(np.abs(fast[0] - general[0]) - tol) <= 0
    assert {0, 2, 3} <= set(np.unique(fast[1]))  # inside, beyond the scan and no result all exercised
