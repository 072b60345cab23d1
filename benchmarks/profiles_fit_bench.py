"""Time the profile consumers that evaluate interpolated profiles many times: variability and the castro fit.

Not run by pytest::

    python benchmarks/profiles_fit_bench.py            # 2000 sources x 10 time bins; 1000 SEDs x 8 bins
    python benchmarks/profiles_fit_bench.py --save out.npz   # also store the results (to compare runs)

- variability: ``ds.sed.variability("time")`` on 2000 sources x 10 time bins x 1 energy bin, 21-point
  skewed profiles (per-bin grids).
- castro fit: ``ds.sed.fit(PowerLaw)`` of 1000 noisy power-law SEDs x 8 bins, 21-point parabolic profiles.
"""

from __future__ import annotations

import argparse
import time

import astropy.units as u
import numpy as np

DNDE = u.Unit("cm-2 s-1 TeV-1")


def light_curves(n_source: int, n_time: int = 10, n_scan: int = 21, seed: int = 1):
    from fluxds.construct import from_likelihood
    from fluxds.models import PowerLaw

    rng = np.random.default_rng(seed)
    shape = (n_source, n_time, 1)
    mu = rng.uniform(0.5, 2.0, shape)
    sigma = rng.uniform(0.1, 0.5, shape)
    scan = mu[..., None] + sigma[..., None] * np.linspace(-5, 5, n_scan) * rng.uniform(0.9, 1.1, shape + (1,))
    stat = ((scan - mu[..., None]) / sigma[..., None]) ** 2 + 0.3 * np.abs(scan - mu[..., None]) ** 3
    pl = PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV)
    return from_likelihood(
        mu, norm_err=sigma, energy_min=[1] * u.TeV, energy_max=[10] * u.TeV, reference_model=pl,
        dims=("source", "time", "energy"), norm_scan=scan, stat_scan=stat,
    )  # fmt: skip


def seds(n_source: int, n_scan: int = 21, seed: int = 2024):
    from fluxds.construct import from_likelihood
    from fluxds.models import PowerLaw

    edges = np.geomspace(0.3, 30.0, 9)
    ref = PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV)

    def flux(a, g):
        return a / (1 - g) * (edges[1:] ** (1 - g) - edges[:-1] ** (1 - g))

    norm_true = flux(4e-11, 2.6) / flux(1e-12, 2.0)
    sigma = np.array([0.05, 0.05, 0.06, 0.08, 0.1, 0.15, 0.2, 0.3]) * norm_true
    norm_hat = norm_true + sigma * np.random.default_rng(seed).standard_normal((n_source, 8))
    scan = norm_hat[..., None] + sigma[:, None] * np.linspace(-5, 5, n_scan)
    return from_likelihood(
        norm_hat, norm_err=np.broadcast_to(sigma, norm_hat.shape), energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV, reference_model=ref, norm_scan=scan,
        stat_scan=((scan - norm_hat[..., None]) / sigma[:, None]) ** 2, dims=("source", "energy"),
    )  # fmt: skip


CLOCK = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = CLOCK["wall"]


def best(func, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        t0 = _clock()
        out = func()
        times.append(_clock() - t0)
    return min(times), out


def main(argv=None) -> None:
    from fluxds.models import PowerLaw

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--save", help="store the results in this .npz file")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--clock", choices=sorted(CLOCK), default="wall", help="cpu: this thread's CPU time (shared machines)"
    )
    args = parser.parse_args(argv)
    global _clock
    _clock = CLOCK[args.clock]
    lc = light_curves(2000)
    t_var, var = best(lambda: lc.sed.variability("time").compute(), args.repeat)
    print(f"variability, 2000 sources x 10 time bins x 21 scan points: {t_var:.3f} s (best of {args.repeat})")
    sd = seds(1000)
    start = PowerLaw(index=2.0, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    t_fit, fit = best(lambda: sd.sed.fit(start).compute(), args.repeat)
    print(
        f"castro fit, 1000 SEDs x 8 bins x 21 scan points (power law): {t_fit:.3f} s (best of {args.repeat})"
    )
    if args.save:
        keys = ("ts_var", "norm_const", "p_value")
        fit_keys = ("index", "amplitude", "index_err", "amplitude_err", "stat")
        np.savez(
            args.save,
            **{f"var_{k}": var[k].values for k in keys},
            **{f"fit_{k}": fit[k].values for k in fit_keys},
        )


if __name__ == "__main__":
    main()
