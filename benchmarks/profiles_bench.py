"""Upper-limit recomputation from likelihood profiles: fluxds vs bare numpy vs gammapy 2.1 (case I).

1000 sources x 10 energy bins x S scan points (S = 11 and 21), seeded, per-bin scan grids, limits at
3 sigma (issue 16's case) and 2 sigma. Prints the time of each implementation and the ratios. Not run by
pytest::

    python benchmarks/profiles_bench.py            # full sizes
    python benchmarks/profiles_bench.py --quick    # 100 sources
    python benchmarks/run.py --cases I             # the same as rows of the benchmark table

- fluxds: ``ds.sed.recompute_ul(n_sigma_ul=n)`` on the whole Dataset, ``.values`` taken (C1 piecewise
  cubics, exact minimum and crossings, status flags).
- bare numpy: the least a vectorised UL can do: argmin of the scan points, first point above
  ``stat_min + n**2`` on the right, linear interpolation between it and its left neighbour (no smooth
  interpolant, no extrapolation).
- bare numpy, same method: :func:`bare_numpy_same_ul`, fluxds's interpolant and closed-form crossing
  written as the shortest straight numpy (no xarray, no checks, no status, no extrapolation), so that
  ``fluxds/same`` is the cost of fluxds's generality and bookkeeping over its own algorithm.
- gammapy: the loop body of ``FluxPoints.recompute_ul`` (``stat_profile_ul_scipy`` on one profile; the
  method itself needs one grid for all bins), timed on ``--gammapy-profiles`` profiles and scaled to
  1000 x 10 (marked ``~``).

Before timing, every case checks its numbers: fluxds against the analytic limit, the same method against
fluxds (identical to rounding except where the profile wiggles between scan points, which it skips).
"""

from __future__ import annotations

import argparse
import time

import astropy.units as u
import numpy as np


def make(n_source: int, n_scan: int, seed: int = 0, n_sigma: float = 2.0):
    """Seeded profiles ``((x - mu) / sigma)**2 + 0.3 |x - mu|**3`` and their exact ``n_sigma`` limits."""
    from fluxds.construct import from_likelihood
    from fluxds.models import PowerLaw

    rng = np.random.default_rng(seed)
    shape = (n_source, 10)
    mu = rng.uniform(0.2, 2.0, shape)
    sigma = rng.uniform(0.1, 0.5, shape)
    scan = np.geomspace(0.2, 5.0, n_scan) * rng.uniform(0.8, 1.25, shape + (1,))
    stat = ((scan - mu[..., None]) / sigma[..., None]) ** 2 + 0.3 * np.abs(scan - mu[..., None]) ** 3
    e = np.geomspace(0.1, 100.0, 11)
    pl = PowerLaw(index=2.0, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    ds = from_likelihood(
        mu, energy_min=e[:-1] * u.TeV, energy_max=e[1:] * u.TeV, reference_model=pl,
        dims=("source", "energy"), norm_scan=scan, stat_scan=stat,
    )  # fmt: skip
    # the true limit: mu + d with (d / sigma)**2 + 0.3 d**3 = n**2 (Newton, converges from d = n sigma)
    rise = float(n_sigma) ** 2
    d = float(n_sigma) * sigma
    for _ in range(50):
        d = d - ((d / sigma) ** 2 + 0.3 * d**3 - rise) / (2 * d / sigma**2 + 0.9 * d**2)
    return ds, mu + d


def bare_numpy_ul(norm_scan: np.ndarray, stat_scan: np.ndarray, n_sigma: float = 2.0) -> np.ndarray:
    i_min = np.argmin(stat_scan, axis=-1)
    level = np.take_along_axis(stat_scan, i_min[..., None], -1) + n_sigma**2
    right = (np.arange(stat_scan.shape[-1]) > i_min[..., None]) & (stat_scan >= level)
    j = np.argmax(right, axis=-1)[..., None]
    x1, y1 = np.take_along_axis(norm_scan, j, -1), np.take_along_axis(stat_scan, j, -1)
    x0, y0 = np.take_along_axis(norm_scan, j - 1, -1), np.take_along_axis(stat_scan, j - 1, -1)
    ul = x0 + (level - y0) * (x1 - x0) / (y1 - y0)
    return np.where(right.any(-1), ul[..., 0], np.nan)


def bare_numpy_same_ul(x: np.ndarray, y: np.ndarray, n_sigma: float = 2.0) -> np.ndarray:
    """fluxds's method in the least numpy: sorted NaN-free grids of >= 5 points, no checks, no xarray.

    5-point node slopes (Newton divided differences, the node first), C1 cubic Hermite intervals, the
    minimum over the nodes and the cubics' interior stationary points, the crossing in the interval before
    the first node above the level right of the lowest node, solved in closed form (Cardano/Viete). No
    extrapolation, no status, no guard against wiggles between nodes (NaN there).
    """
    k = x.shape[-1]
    node = np.arange(k)
    first = np.clip(node - 2, 0, k - 5)[:, None]
    others = first + np.arange(4) + (np.arange(4) >= node[:, None] - first)
    idx = np.concatenate([node[:, None], others], axis=1)  # 5-point stencil, the node first
    z, dd = x[..., idx], y[..., idx]
    d, prod = 0.0, 1.0
    for lev in range(1, 5):  # Newton divided differences: slope of the stencil polynomial at the node
        dd = (dd[..., 1:] - dd[..., :-1]) / (z[..., lev:] - z[..., :-lev])
        d, prod = d + dd[..., 0] * prod, prod * (z[..., 0] - z[..., lev])
    h = np.diff(x, axis=-1)
    m = np.diff(y, axis=-1) / h
    c0, c1 = y[..., :-1], d[..., :-1]
    c2 = (3 * m - 2 * d[..., :-1] - d[..., 1:]) / h
    c3 = (d[..., :-1] + d[..., 1:] - 2 * m) / h**2
    # minimum: nodes and the interior zeros of each cubic's derivative
    with np.errstate(invalid="ignore", divide="ignore"):
        root = np.sqrt(c2**2 - 3 * c1 * c3)
        tc = np.stack([(-c2 + root) / (3 * c3), (-c2 - root) / (3 * c3)])
        tc = np.where((tc > 0) & (tc < h), tc, 0.0)
        fc = c0 + tc * (c1 + tc * (c2 + tc * c3))
    stat_min = np.minimum(np.nanmin(fc, axis=(0, -1)), y.min(axis=-1))
    level = stat_min + n_sigma**2
    # the first node above the level right of the lowest node; the crossing is in the interval before it
    i_min = np.argmin(y, axis=-1)[..., None]
    j = np.argmax((node > i_min) & (y >= level[..., None]), axis=-1)[..., None] - 1
    a, b, c = (np.take_along_axis(v, j, -1)[..., 0] for v in (c3, c2, c1))
    e = np.take_along_axis(c0, j, -1)[..., 0] - level
    # closed-form real roots of a t^3 + b t^2 + c t + e (depressed cubic, trigonometric/Cardano)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (3 * a * c - b**2) / (3 * a**2)
        q = (2 * b**3 - 9 * a * b * c + 27 * a**2 * e) / (27 * a**3)
        disc = (q / 2) ** 2 + (p / 3) ** 3
        one = np.cbrt(-q / 2 + np.sqrt(disc)) + np.cbrt(-q / 2 - np.sqrt(disc))
        r = 2 * np.sqrt(-p / 3)
        phi = np.arccos(np.clip(3 * q / (p * r), -1, 1)) / 3
        three = r * np.cos(phi - 2 * np.pi * np.arange(3).reshape((3,) + (1,) * phi.ndim) / 3)
    t = np.where(disc > 0, one, np.nan) - b / (3 * a)
    t3 = three - b / (3 * a)
    hj = np.take_along_axis(h, j, -1)[..., 0]
    t3 = np.where((t3 >= -1e-9 * hj) & (t3 <= hj * (1 + 1e-9)), t3, -np.inf).max(axis=0)
    t = np.where(disc > 0, t, np.where(np.isfinite(t3), t3, np.nan))
    return np.take_along_axis(x, j, -1)[..., 0] + t


CLOCK = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = CLOCK["wall"]


def best(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = _clock()
        func()
        times.append(_clock() - t0)
    return min(times)


def gammapy_loop(ds, n_profiles: int, n_sigma: float = 2.0):
    """gammapy's per-profile UL (the loop body of ``FluxPoints.recompute_ul``) over the first
    ``n_profiles`` profiles, as a callable; None without gammapy."""
    try:
        from gammapy.modeling.scipy import stat_profile_ul_scipy
    except ImportError:
        return None
    ns = ds.norm_scan.values.reshape(-1, ds.sizes["scan"])[:n_profiles]
    ss = ds.stat_scan.values.reshape(-1, ds.sizes["scan"])[:n_profiles]
    rise = float(n_sigma) ** 2

    def run():
        for x, y in zip(ns, ss, strict=True):
            try:
                stat_profile_ul_scipy(x, y, delta_ts=rise)
            except (ValueError, RuntimeError):
                pass

    return run


def gammapy_time(ds, n_profiles: int, n_sigma: float = 2.0) -> float | None:
    """Seconds for all profiles of ``ds`` with gammapy's per-profile UL (timed on ``n_profiles``, scaled).

    ``FluxPoints.recompute_ul`` loops over the bins calling ``stat_profile_ul_scipy`` on each; it needs
    one norm grid for all bins, so its loop body is timed here directly on the per-bin grids.
    """
    run = gammapy_loop(ds, n_profiles, n_sigma)
    if run is None:
        return None
    n_total = ds.norm_scan.size // ds.sizes["scan"]
    return best(run, 1) * n_total / min(n_profiles, n_total)


def check(ds, truth: np.ndarray, n_sigma: float) -> str:
    """Check the numbers before timing; a line on their accuracy.

    fluxds against the analytic limit (inside the scan: the C1 interpolant is within 2e-3 of it on 11
    points), bare numpy against it too, and the same method against fluxds: identical to rounding except
    the few bins where the profile wiggles between scan points (it takes the first crossing node)."""
    ns, ss = ds.norm_scan.values, ds.stat_scan.values
    out = ds.sed.recompute_ul(n_sigma_ul=n_sigma)
    inside = out.norm_ul_status.values == 0
    err_fx = np.max(np.abs(out.norm_ul.values / truth - 1)[inside])
    err_np = np.nanmax(np.abs(bare_numpy_ul(ns, ss, n_sigma) / truth - 1)[inside])
    assert inside.mean() > 0.5 and err_fx < 5e-3, (inside.mean(), err_fx)
    with np.errstate(invalid="ignore"):
        agree = np.abs(bare_numpy_same_ul(ns, ss, n_sigma) / out.norm_ul.values - 1)[inside]
    differ = np.sum(~(agree < 1e-9))
    assert np.nanmedian(agree) < 1e-12 and differ <= 0.01 * agree.size, (np.nanmedian(agree), differ)
    return (
        f"max |UL/true - 1| fluxds {err_fx:.1e}, bare numpy {err_np:.1e}; same method vs fluxds: median "
        f"|ratio - 1| {np.nanmedian(agree):.0e}, {differ} of {agree.size} differ by > 1e-9 (wiggles "
        "between nodes, which it skips)"
    )


def bench_profile_limits(
    r, n_source: int, scans: tuple[int, ...], sigmas: tuple[float, ...], gp_profiles: int
):
    """Case I of the benchmark table (``benchmarks/run.py --cases I``): one row per limit and scan size,
    fluxds against bare numpy (goal: issue 16's <= 10x), then one row against the same method."""
    from benchmarks.harness import Row

    for n_sigma in sigmas:
        for n_scan in scans:
            ds, truth = make(n_source, n_scan, n_sigma=n_sigma)
            ns, ss = ds.norm_scan.values, ds.stat_scan.values
            note = check(ds, truth, n_sigma)
            loop = gammapy_loop(ds, gp_profiles, n_sigma) if r.gammapy else None
            n_total = ns.size // n_scan
            scale = n_total / min(gp_profiles, n_total)
            name = f"{n_sigma:g} sigma, {n_source} x 10 bins x {n_scan} points"
            fluxds = r.time(lambda ds=ds, n=n_sigma: ds.sed.recompute_ul(n_sigma_ul=n).norm_ul.values)
            how = {
                "fluxds": f"ds.sed.recompute_ul(n_sigma_ul={n_sigma:g}).norm_ul.values",
                "gammapy": f"stat_profile_ul_scipy per profile (FluxPoints.recompute_ul's loop body); timed "
                f"over {min(gp_profiles, n_total)} profiles, scaled x{scale:g}",
            }
            r.add(
                Row(
                    "I. upper limits from likelihood profiles",
                    name,
                    fluxds,
                    r.time(lambda ns=ns, ss=ss, n=n_sigma: bare_numpy_ul(ns, ss, n)),
                    r.gp(loop, scale=scale) if loop is not None else r.missing,
                    None,
                    how=how | {"baseline": "bare_numpy_ul: argmin, first scan point above the level, linear "
                               "interpolation (no interpolant, no extrapolation, no status)"},
                    goal=10.0,
                    note=note,
                )
            )  # fmt: skip
            r.add(
                Row(
                    "I. upper limits from likelihood profiles",
                    name + ", vs the same method",
                    fluxds,
                    r.time(lambda ns=ns, ss=ss, n=n_sigma: bare_numpy_same_ul(ns, ss, n)),
                    None,
                    None,
                    how=how | {"baseline": "bare_numpy_same_ul: fluxds's interpolant and crossing in the "
                               "least numpy (no checks, no status, no extrapolation, no xarray)"},
                )
            )  # fmt: skip


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 sources, fewer repeats")
    parser.add_argument("--gammapy-profiles", type=int, default=300, help="profiles gammapy is timed on")
    parser.add_argument("--no-gammapy", action="store_true")
    parser.add_argument(
        "--clock", choices=sorted(CLOCK), default="wall", help="cpu: this thread's CPU time (shared machines)"
    )
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCK[args.clock]
    n_source = 100 if args.quick else 1000
    repeat = 2 if args.quick else 5
    print(f"recompute_ul, {n_source} sources x 10 energy bins; best of {repeat}")
    head = ("sigma", "scan", "fluxds s", "numpy s", "same s", "gammapy s", "fluxds/numpy", "fluxds/same")
    head += ("gammapy/fluxds",)
    print("{:>5} {:>5} {:>10} {:>10} {:>10} {:>11} {:>13} {:>12} {:>15}".format(*head))
    accuracy = []
    for n_sigma in (3.0, 2.0):
        for n_scan in (11, 21):
            ds, truth = make(n_source, n_scan, n_sigma=n_sigma)
            ns, ss = ds.norm_scan.values, ds.stat_scan.values
            accuracy.append(f"{n_sigma:g} sigma, scan {n_scan}: " + check(ds, truth, n_sigma))
            t_fx = best(lambda ds=ds, n=n_sigma: ds.sed.recompute_ul(n_sigma_ul=n).norm_ul.values, repeat)
            t_np = best(lambda ns=ns, ss=ss, n=n_sigma: bare_numpy_ul(ns, ss, n), repeat)
            t_same = best(lambda ns=ns, ss=ss, n=n_sigma: bare_numpy_same_ul(ns, ss, n), repeat)
            t_gp = None if args.no_gammapy else gammapy_time(ds, args.gammapy_profiles, n_sigma)
            gp_text = "n/a" if t_gp is None else f"~{t_gp:.2f}"
            ratio = "n/a" if t_gp is None else f"{t_gp / t_fx:.0f}"
            print(
                f"{n_sigma:>5g} {n_scan:>5} {t_fx:>10.4f} {t_np:>10.4f} {t_same:>10.4f} {gp_text:>11} "
                f"{t_fx / t_np:>13.1f} {t_fx / t_same:>12.2f} {ratio:>15}"
            )
    print("\n".join(accuracy))


if __name__ == "__main__":
    main()
