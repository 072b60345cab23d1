"""The numpy core of fluxds.profiles.interp against analytic parabolas and a hand-built blend."""

from __future__ import annotations

import numpy as np
import pytest

from fluxds.profiles.interp import evaluate_profile, profile_crossing, profile_minimum


def _random_parabolas(rng, shape=(7, 5), n_scan=12, pad=3):
    """Per-bin random grids (shuffled, NaN-padded) of parabolas stat = c + (x - mu)**2 / sigma**2."""
    mu = rng.uniform(-1.0, 3.0, shape)
    sigma = rng.uniform(0.2, 2.0, shape)
    c = rng.uniform(-50.0, 50.0, shape)
    lo = mu - rng.uniform(0.5, 3.0, shape) * sigma
    hi = mu + rng.uniform(0.5, 3.0, shape) * sigma
    u = np.sort(rng.uniform(0, 1, shape + (n_scan,)), axis=-1)
    u[..., 0], u[..., -1] = 0.0, 1.0
    x = lo[..., None] + (hi - lo)[..., None] * u
    stat = c[..., None] + (x - mu[..., None]) ** 2 / sigma[..., None] ** 2
    perm = rng.permuted(np.broadcast_to(np.arange(n_scan), x.shape), axis=-1)
    x = np.take_along_axis(x, perm, -1)
    stat = np.take_along_axis(stat, perm, -1)
    # NaN padding of a random number of points in some bins (in either array)
    npad = rng.integers(0, pad + 1, shape)
    padmask = np.arange(n_scan) >= (n_scan - npad[..., None])
    x = np.where(padmask & (rng.uniform(size=padmask.shape) < 0.5), np.nan, x)
    stat = np.where(padmask & np.isfinite(x), np.nan, stat)
    return x, stat, mu, sigma, c, lo, hi


@pytest.mark.parametrize("seed", range(5))
def test_exact_on_parabolas(seed):
    rng = np.random.default_rng(seed)
    x, stat, mu, sigma, c, lo, hi = _random_parabolas(rng)
    # evaluation at many query points, inside and beyond the scan
    q = np.linspace(-4.0, 6.0, 41)
    got, status = evaluate_profile(x, stat, np.broadcast_to(q, mu.shape + q.shape))
    want = c[..., None] + (q - mu[..., None]) ** 2 / sigma[..., None] ** 2
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * np.abs(want).max())
    lo_valid = np.nanmin(np.where(np.isfinite(stat), x, np.nan), axis=-1)
    hi_valid = np.nanmax(np.where(np.isfinite(stat), x, np.nan), axis=-1)
    np.testing.assert_array_equal(status == 1, q < lo_valid[..., None])
    np.testing.assert_array_equal(status == 2, q > hi_valid[..., None])

    norm_min, stat_min = profile_minimum(x, stat)
    inside = (mu >= lo_valid) & (mu <= hi_valid)
    np.testing.assert_allclose(norm_min[inside], mu[inside], atol=1e-9)
    np.testing.assert_allclose(stat_min[inside], c[inside], atol=1e-9)

    for n_sigma in (1.0, 1.959963984540054, 3.0):
        up, st_up = profile_crossing(x, stat, stat_min + n_sigma**2, side="upper")
        dn, st_dn = profile_crossing(x, stat, stat_min + n_sigma**2, side="lower")
        np.testing.assert_allclose(up[inside], (mu + n_sigma * sigma)[inside], rtol=0, atol=1e-9)
        np.testing.assert_allclose(dn[inside], (mu - n_sigma * sigma)[inside], rtol=0, atol=1e-9)
        # status says whether the crossing was beyond the scan
        np.testing.assert_array_equal((st_up == 2)[inside], (mu + n_sigma * sigma > hi_valid)[inside])
        np.testing.assert_array_equal((st_dn == 1)[inside], (mu - n_sigma * sigma < lo_valid)[inside])
        assert np.all(st_up[inside] != 3) and np.all(st_dn[inside] != 3)


def test_crossing_from_start_and_levels_per_bin():
    x = np.linspace(-2.0, 4.0, 13)
    stat = (x - 1.0) ** 2
    # from start = 0 (left of the minimum) the upper crossing of level 4 is at 3; lower from 2 is -1
    up, st = profile_crossing(x, stat, 4.0, side="upper", start=0.0)
    assert up == pytest.approx(3.0, abs=1e-12) and st == 0
    dn, st = profile_crossing(x, stat, np.array([4.0, 9.0]), side="lower", start=2.0)
    np.testing.assert_allclose(dn, [-1.0, -2.0], atol=1e-12)
    # already above the level at start: start itself
    up, st = profile_crossing(x, stat, 1.0, side="upper", start=3.5)
    assert up == 3.5 and st == 0
    # start below the scan: crossing in the lower extrapolation (parabola continues)
    x = np.linspace(2.5, 4.0, 7)
    up, st = profile_crossing(x, (x - 1.0) ** 2, 2.0, side="upper", start=0.0)
    assert up == pytest.approx(1.0 + np.sqrt(2.0), abs=1e-12) and st == 1


def test_stencil3_is_the_parabola_blend_and_c1():
    """On a non-parabolic profile the interpolant is the linear-weight blend of the two local parabolas."""
    x = np.array([0.0, 0.4, 1.1, 1.5, 2.7, 3.0])
    y = np.exp(x) - 2.0 * x  # any smooth curve

    def parabola(i, xq):  # Lagrange parabola through points i, i+1, i+2
        xs, ys = x[i : i + 3], y[i : i + 3]
        return sum(
            ys[j] * np.prod([(xq - xs[k]) / (xs[j] - xs[k]) for k in range(3) if k != j], axis=0)
            for j in range(3)
        )

    i = 2  # interval [1.1, 1.5]: blend of parabolas (1, 2, 3) and (2, 3, 4)
    xq = np.linspace(x[i], x[i + 1], 9)
    w = (xq - x[i]) / (x[i + 1] - x[i])
    want = (1 - w) * parabola(i - 1, xq) + w * parabola(i, xq)
    got, status = evaluate_profile(x, y, xq, stencil=3)
    np.testing.assert_allclose(got, want, rtol=1e-13)
    assert np.all(status == 0)
    # first interval: the single parabola through 0, 1, 2
    xq0 = np.linspace(x[0], x[1], 5)
    np.testing.assert_allclose(evaluate_profile(x, y, xq0, stencil=3)[0], parabola(0, xq0), rtol=1e-13)
    # C1 at the inner nodes: one-sided difference quotients agree
    eps = 1e-6
    for node in x[1:-1]:
        left = (evaluate_profile(x, y, node)[0] - evaluate_profile(x, y, node - eps)[0]) / eps
        right = (evaluate_profile(x, y, node + eps)[0] - evaluate_profile(x, y, node)[0]) / eps
        assert left == pytest.approx(right, rel=1e-4, abs=1e-4)


def test_extrapolation_rules():
    # upper end bends down (concave last parabola): continue with the straight line of the end slope
    x = np.array([0.0, 1.0, 2.0, 3.0])
    y = np.array([0.0, 1.0, 1.8, 2.4])  # last parabola concave; end slope 0.5 (by its derivative)
    slope_end = (2.4 - 1.8) + (2.4 - 2 * 1.8 + 1.0) / 2  # derivative of the last parabola at x=3
    got, status = evaluate_profile(x, y, 5.0)
    assert got == pytest.approx(2.4 + 2.0 * slope_end, abs=1e-12) and status == 2
    up, st = profile_crossing(x, y, 4.0, start=0.0)
    assert up == pytest.approx(3.0 + (4.0 - 2.4) / slope_end, abs=1e-12) and st == 2
    # a profile falling at the end never reaches the level: NaN and status 3
    y_fall = np.array([0.0, -0.5, -1.5, -3.0])  # falling and concave at the end
    up, st = profile_crossing(x, y_fall, 1.0, start=0.0)
    assert np.isnan(up) and st == 3


def test_two_points_and_empty_bins():
    x = np.array([[0.0, 2.0, np.nan], [np.nan, np.nan, np.nan], [1.0, np.nan, np.nan]])
    y = np.array([[1.0, 5.0, np.nan], [np.nan] * 3, [3.0, np.nan, np.nan]])
    val, status = evaluate_profile(x, y, 1.0)
    assert val[0] == pytest.approx(3.0) and status[0] == 0  # straight line
    assert np.isnan(val[1:]).all() and (status[1:] == 3).all()
    up, st = profile_crossing(x, y, 4.0, start=0.0)
    assert up[0] == pytest.approx(1.5) and st[0] == 0
    assert np.isnan(up[1:]).all() and (st[1:] == 3).all()


def test_non_parabolic_crossing_is_a_root_of_the_interpolant():
    rng = np.random.default_rng(3)
    x = np.sort(rng.uniform(0, 5, (50, 9)), axis=-1)
    y = np.abs(x - 2.0) ** 1.5 * rng.uniform(1, 3, (50, 1))
    level = rng.uniform(0.5, 3.0, 50)
    up, st = profile_crossing(x, y, level)
    val, _ = evaluate_profile(x, y, up)
    np.testing.assert_allclose(val, level, atol=1e-10)
    # and the interpolant stays below the level between the minimum and the crossing
    nmin, _ = profile_minimum(x, y)
    grid = nmin[:, None] + (up - nmin)[:, None] * np.linspace(0, 1, 200)[None, :-1]
    assert np.all(evaluate_profile(x, y, grid)[0] < level[:, None] + 1e-12)


def test_default_stencil_is_exact_on_cubics():
    """Five-point node slopes make the interpolant exact on any cubic (a parabola is a special case)."""
    rng = np.random.default_rng(11)
    x = np.sort(rng.uniform(-2, 3, (20, 8)), axis=-1)
    coef = rng.normal(size=(4, 20, 1))
    y = coef[0] + coef[1] * x + coef[2] * x**2 + coef[3] * x**3
    q = np.linspace(x[:, :1], x[:, -1:], 15, axis=-1)[..., 0]
    want = coef[0] + coef[1] * q + coef[2] * q**2 + coef[3] * q**3
    got, status = evaluate_profile(x, y, q)
    np.testing.assert_allclose(got, want, atol=1e-9)
    assert np.all(status == 0)


def test_repeated_norms_are_dropped():
    x = np.array([0.0, 1.0, 1.0, 2.0, 3.0, 4.0])
    y = (x - 2.0) ** 2
    val, status = evaluate_profile(x, y, 2.5)
    assert val == pytest.approx(0.25, abs=1e-12) and status == 0
    assert profile_minimum(x, y)[0] == pytest.approx(2.0, abs=1e-12)
