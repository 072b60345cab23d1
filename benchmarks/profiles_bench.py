"""Upper-limit recomputation from likelihood profiles: fluxds vs bare numpy vs gammapy 2.1.

1000 sources x 10 energy bins x S scan points (S = 11 and 21), seeded, per-bin scan grids. Prints the
time of each implementation and the ratios. Not run by pytest::

    python benchmarks/profiles_bench.py            # full sizes
    python benchmarks/profiles_bench.py --quick    # 100 sources

- fluxds: ``ds.sed.recompute_ul(n_sigma_ul=2)`` on the whole Dataset, ``.values`` taken (C1 piecewise
  cubics, exact minimum and crossings, status flags).
- bare numpy: the least a vectorised UL can do: argmin of the scan points, first point above
  ``stat_min + 4`` on the right, linear interpolation between it and its left neighbour (no smooth
  interpolant, no extrapolation).
- gammapy: the loop body of ``FluxPoints.recompute_ul`` (``stat_profile_ul_scipy`` on one profile; the
  method itself needs one grid for all bins), timed on ``--gammapy-profiles`` profiles and scaled to
  1000 x 10 (marked ``~``).
"""

from __future__ import annotations

import argparse
import time

import astropy.units as u
import numpy as np


def make(n_source: int, n_scan: int, seed: int = 0):
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
    # the true 2-sigma limit: mu + d with (d / sigma)**2 + 0.3 d**3 = 4 (Newton, converges from d = 2 sigma)
    d = 2.0 * sigma
    for _ in range(50):
        d = d - ((d / sigma) ** 2 + 0.3 * d**3 - 4.0) / (2 * d / sigma**2 + 0.9 * d**2)
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


def best(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        times.append(time.perf_counter() - t0)
    return min(times)


def gammapy_time(ds, n_profiles: int) -> float | None:
    """Seconds for 1000 x 10 profiles with gammapy's per-profile UL (timed on ``n_profiles``, scaled).

    ``FluxPoints.recompute_ul`` loops over the bins calling ``stat_profile_ul_scipy`` on each; it needs
    one norm grid for all bins, so its loop body is timed here directly on the per-bin grids.
    """
    try:
        from gammapy.modeling.scipy import stat_profile_ul_scipy
    except ImportError:
        return None
    ns = ds.norm_scan.values.reshape(-1, ds.sizes["scan"])[:n_profiles]
    ss = ds.stat_scan.values.reshape(-1, ds.sizes["scan"])[:n_profiles]

    def run():
        for x, y in zip(ns, ss, strict=True):
            try:
                stat_profile_ul_scipy(x, y, delta_ts=4.0)
            except (ValueError, RuntimeError):
                pass

    return best(run, 1) * 10_000 / n_profiles


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 sources, fewer repeats")
    parser.add_argument("--gammapy-profiles", type=int, default=300, help="profiles gammapy is timed on")
    parser.add_argument("--no-gammapy", action="store_true")
    args = parser.parse_args(argv)
    n_source = 100 if args.quick else 1000
    repeat = 2 if args.quick else 5
    print(f"recompute_ul, {n_source} sources x 10 energy bins, 2 sigma; best of {repeat}")
    head = ("scan", "fluxds s", "numpy s", "gammapy s", "fluxds/numpy", "gammapy/fluxds")
    print("{:>5} {:>10} {:>10} {:>11} {:>13} {:>15}".format(*head))
    accuracy = []
    for n_scan in (11, 21):
        ds, truth = make(n_source, n_scan)
        ns, ss = ds.norm_scan.values, ds.stat_scan.values
        out = ds.sed.recompute_ul(n_sigma_ul=2)
        inside = out.norm_ul_status.values == 0
        err_fx = np.max(np.abs(out.norm_ul.values / truth - 1)[inside])
        err_np = np.nanmax(np.abs(bare_numpy_ul(ns, ss) / truth - 1)[inside])
        accuracy.append(f"scan {n_scan}: max |UL/true - 1| fluxds {err_fx:.1e}, bare numpy {err_np:.1e}")
        t_fx = best(lambda ds=ds: ds.sed.recompute_ul(n_sigma_ul=2).norm_ul.values, repeat)
        t_np = best(lambda ns=ns, ss=ss: bare_numpy_ul(ns, ss), repeat)
        t_gp = None if args.no_gammapy else gammapy_time(ds, args.gammapy_profiles)
        t_gp = t_gp * n_source / 1000 if t_gp is not None else None
        gp_text = "n/a" if t_gp is None else f"~{t_gp:.2f}"
        ratio = "n/a" if t_gp is None else f"{t_gp / t_fx:.0f}"
        print(f"{n_scan:>5} {t_fx:>10.4f} {t_np:>10.4f} {gp_text:>11} {t_fx / t_np:>13.1f} {ratio:>15}")
    print("\n".join(accuracy))


if __name__ == "__main__":
    main()
