"""Case D of issue 4: flux points from a 10 x 500 x 500 likelihood map at M sky positions, fluxds's
``ds.sed.get_flux_points`` against plain numpy fancy indexing at the same pixels and gammapy's
``FluxMaps.get_flux_points`` (one position per call).

Both sides take every map of :func:`benchmarks.synthetic.likelihood_arrays` (norm, norm_err, norm_errp,
norm_errn, norm_ul, ts and the boolean success) as they are: fluxds's side reads the raw variables
(``fp[name].values``), not the success-filtered ``fp.sed.get``, so the limit applies no filter either."""

from __future__ import annotations

import numpy as np
import xarray as xr
from astropy.coordinates import SkyCoord

from benchmarks.harness import Row
from benchmarks.synthetic import BINSZ, likelihood_arrays, map_dataset

__all__ = ["bench_flux_points"]


def _positions(m: int, n: int, seed: int = 3) -> SkyCoord:
    """M seeded positions inside the map (galactic, within 80 % of its half-width)."""
    rng = np.random.default_rng(seed)
    half = 0.4 * n * BINSZ
    return SkyCoord(rng.uniform(-half, half, m), rng.uniform(-half, half, m), unit="deg", frame="galactic")


def bench_flux_points(r, n: int, sizes: tuple[int, ...], gp_positions: int) -> None:
    arrays = likelihood_arrays((10, n, n), seed=9)
    ds = map_dataset(arrays)
    fm = None
    if r.gammapy:
        from benchmarks.cases_quantities import gammapy_map

        fm = gammapy_map(arrays, n)
    from fluxds.wcs import cached_wcs

    wcs = cached_wcs(ds)
    for m in sizes:
        pos = _positions(m, n)
        x, y = wcs.world_to_pixel_values(pos.l.deg, pos.b.deg)
        iy, ix = np.floor(y + 0.5).astype(int), np.floor(x + 0.5).astype(int)

        def fancy(iy=iy, ix=ix):
            return {k: v[:, iy, ix] for k, v in arrays.items()}

        got = ds.sed.get_flux_points(pos)
        want = fancy()
        for k in arrays:
            np.testing.assert_array_equal(got[k].transpose("source", "energy").values, want[k].T, err_msg=k)
        n_gp = min(m, gp_positions)
        if r.gammapy:
            for i in range(min(n_gp, 5)):
                fp = fm.get_flux_points(pos[i])
                # gammapy's norm is success-filtered (NaN where the fit failed)
                norm = np.where(want["success"][:, i], want["norm"][:, i], np.nan)
                np.testing.assert_array_equal(fp.norm.data[:, 0, 0], norm)

        def f_fluxds(pos=pos):
            out = ds.sed.get_flux_points(pos)
            return {k: out[k].values for k in arrays}

        def f_gammapy(pos=pos, n_gp=n_gp):
            return [fm.get_flux_points(pos[i]) for i in range(n_gp)]

        template = ds.sed.get_flux_points(pos)

        def floor(pos=pos, template=template):
            """Sky geometry on plain arrays, fancy indexing, one new Dataset of the same variables."""
            px, py = wcs.world_to_pixel_values(pos.l.deg, pos.b.deg)
            jy, jx = np.floor(np.ravel(py) + 0.5).astype(int), np.floor(np.ravel(px) + 0.5).astype(int)
            taken = {k: v[:, jy, jx].T for k, v in arrays.items()}
            variables = template.data_vars.items()
            data = {k: (v.dims, taken[k] if k in taken else v.values, v.attrs) for k, v in variables}
            out = xr.Dataset(data, coords={k: v.variable for k, v in template.coords.items()})
            return {k: out[k].values for k in arrays}

        for k, v in floor().items():
            np.testing.assert_array_equal(template[k].transpose("source", "energy").values, v, err_msg=k)
        scale = m / n_gp
        r.add(
            Row(
                f"D. flux points from a 10 x {n} x {n} map at M positions",
                f"M = {m}",
                r.time(f_fluxds),
                r.time(fancy),
                r.gp(f_gammapy, scale=scale),
                None,
                how={
                    "fluxds": f"ds.sed.get_flux_points(SkyCoord[M]) and the {len(arrays)} variables' .values",
                    "baseline": f"arr[:, iy, ix] for the {len(arrays)} maps ({', '.join(arrays)}), pixel "
                    "indices computed beforehand",
                    "gammapy": "FluxMaps.get_flux_points(position) per position"
                    + ("" if scale == 1 else f"; timed over {n_gp} positions, scaled x{scale:g}"),
                },
                goal=10.0,
            )
        )
        r.add(
            Row(
                f"D. flux points from a 10 x {n} x {n} map at M positions",
                f"M = {m}, vs the labelled-result floor",
                r.time(f_fluxds),
                r.time(floor),
                how={
                    "fluxds": "as above",
                    "baseline": "wcs.world_to_pixel_values of the positions, arr[:, iy, ix] for the maps, "
                    "and a new xr.Dataset of the result's variables and coordinates",
                },
                note="not a goal of the issue: what remains once xarray's cost of a Dataset is taken out",
            )
        )
