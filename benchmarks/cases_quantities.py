"""Cases A and B of issue 4: all 21 converted quantities (dnde, e2dnde, flux, eflux, each with _err,
_errp, _errn, _ul; and sqrt_ts) of a likelihood map (N x N pixels x 10 energies) and of S sources x 10
energies, with fluxds, bare numpy and gammapy (``FluxMaps`` on a ``WcsGeom``; one ``FluxPoints`` per source
and one ``FluxMaps`` on a ``RegionGeom`` with a source axis), agreement checked before timing.

The inputs hold ``success`` (~2 % False), so every implementation applies the success filter: NaN
where the fit failed in ``norm`` and ``norm_err`` and everything derived from them. The numpy limit
filters the two norms once per run of the 21 quantities (``np.where``), then every quantity is one
product; its ``sqrt_ts`` is NaN where the fit failed, as fluxds's. gammapy gives -sqrt(TS) there
(``docs/gammapy_differences.md`` section 9), so its ``sqrt_ts`` is compared where the fit succeeded only.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np

from benchmarks.harness import Row
from benchmarks.synthetic import EDGES, MODEL_ARGS, likelihood_arrays, map_dataset, sources_dataset

__all__ = ["QUANTITIES", "bench_map_quantities", "bench_source_quantities"]

SED_TYPES = ("dnde", "e2dnde", "flux", "eflux")
SUFFIXES = ("", "_err", "_errp", "_errn", "_ul")
QUANTITIES = tuple(f"{t}{s}" for t in SED_TYPES for s in SUFFIXES) + ("sqrt_ts",)
UNITS = {
    "dnde": u.Unit("cm-2 s-1 TeV-1"),
    "e2dnde": u.Unit("erg cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("erg cm-2 s-1"),
}
RTOL = 1e-9
FILTERED = ("", "_err")  # the norms the success filter sets to NaN where a fit failed (gammapy's rule)


def numpy_inputs(ds, energy_axis: int) -> dict:
    """The Dataset's own arrays and the constant unit factors, references shaped to broadcast along
    ``energy_axis`` of the norms (prepared outside the timings)."""
    ndim = ds["norm"].ndim
    shape = [1] * ndim
    shape[energy_axis] = -1

    def ref(name, target):
        return ds[name].values.reshape(shape) * u.Unit(ds[name].attrs["units"]).to(target)

    e_ref = ds["energy"].values.reshape(shape)
    k_e2 = (u.Unit(ds["ref_dnde"].attrs["units"]) * u.Unit(ds["energy"].attrs["units"]) ** 2).to(
        UNITS["e2dnde"]
    )
    return {
        "norm": {s: ds[f"norm{s}"].values for s in SUFFIXES},
        "success": ds["success"].values,
        "ts": ds["ts"].values,
        "ref": {
            "dnde": ref("ref_dnde", UNITS["dnde"]),
            "flux": ref("ref_flux", UNITS["flux"]),
            "eflux": ref("ref_eflux", UNITS["eflux"]),
        },
        "ref_dnde_raw": ds["ref_dnde"].values.reshape(shape),
        "e_ref": e_ref,
        "k_e2": k_e2,
    }


def numpy_quantities(inp: dict):
    """The 21 quantities with bare numpy, one at a time as (name, array): norm and norm_err filtered
    once (NaN where ``success`` is False), then norm<suffix> times the reference; sqrt_ts = sign(norm)
    sqrt(ts), NaN where the fit failed."""
    ok = inp["success"]
    norm = {s: np.where(ok, v, np.nan) if s in FILTERED else v for s, v in inp["norm"].items()}
    for sed in SED_TYPES:
        ref = inp["ref_dnde_raw"] * inp["e_ref"] ** 2 * inp["k_e2"] if sed == "e2dnde" else inp["ref"][sed]
        for s in SUFFIXES:
            yield f"{sed}{s}", norm[s] * ref
    root = np.sqrt(np.clip(inp["ts"], 0, None))
    sqrt_ts = np.where(inp["norm"][""] > 0, root, -root)
    sqrt_ts[~ok] = np.nan
    yield "sqrt_ts", sqrt_ts


def fluxds_quantities(ds):
    for name in QUANTITIES:
        yield name, ds.sed.get(name).values


def gammapy_quantities(obj):
    for name in QUANTITIES:
        yield name, getattr(obj, name).data


def drain(quantities) -> None:
    """Compute every quantity, keeping none (a 2000 x 2000 x 10 map has 21 x 320 MB of them)."""
    for _ in quantities:
        pass


def _unit(name: str):
    return UNITS.get(name.split("_")[0]) if name != "sqrt_ts" else u.one


def check(*sources, where: str) -> None:
    """The same 21 quantities, one at a time, from every source (iterables of (name, array))."""
    for items in zip(*sources, strict=True):
        names = {name for name, _ in items}
        assert names == {items[0][0]}, names
        for i, (name, array) in enumerate(items[1:], start=1):
            np.testing.assert_allclose(array, items[0][1], rtol=RTOL, err_msg=f"{where} #{i}: {name}")


def _gammapy_model():
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    return SkyModel(PowerLawSpectralModel(**MODEL_ARGS))


def gammapy_map(arrays: dict, n: int):
    """A gammapy FluxMaps on a WcsGeom (the same CAR grid) holding ``arrays`` (energy, lat, lon)."""
    from gammapy.estimators import FluxMaps
    from gammapy.maps import MapAxis, Maps, WcsGeom, WcsNDMap

    geom = WcsGeom.create(
        npix=n, binsz=0.02, frame="galactic", proj="CAR", axes=[MapAxis.from_energy_edges(EDGES)]
    )
    maps = Maps()
    for name, data in arrays.items():
        maps[name] = WcsNDMap(geom, data=data)
    return FluxMaps.from_maps(maps, sed_type="likelihood", reference_model=_gammapy_model())


def gammapy_region(arrays: dict, names: list[str]):
    """One FluxMaps on a RegionGeom with axes (energy, source): gammapy's vectorised many-source form."""
    from gammapy.estimators import FluxMaps
    from gammapy.maps import LabelMapAxis, MapAxis, Maps, RegionGeom, RegionNDMap

    geom = RegionGeom.create(
        None, axes=[MapAxis.from_energy_edges(EDGES), LabelMapAxis(names, name="source")]
    )
    maps = Maps()
    for name, data in arrays.items():
        maps[name] = RegionNDMap.from_geom(geom, data=data.reshape(*data.shape, 1, 1).copy())
    return FluxMaps.from_maps(maps, sed_type="likelihood", reference_model=_gammapy_model())


def gammapy_points(arrays: dict, n: int) -> list:
    """One FluxPoints per source for the first ``n`` sources (gammapy's usual many-source form)."""
    from gammapy.estimators import FluxPoints
    from gammapy.maps import MapAxis, Maps, RegionGeom, RegionNDMap

    axis = MapAxis.from_energy_edges(EDGES)
    model = _gammapy_model()
    out = []
    for i in range(n):
        geom = RegionGeom.create(None, axes=[axis])
        maps = Maps()
        for name, data in arrays.items():
            maps[name] = RegionNDMap.from_geom(geom, data=data[i].reshape(-1, 1, 1).copy())
        out.append(FluxPoints.from_maps(maps, sed_type="likelihood", reference_model=model))
    return out


def _in_unit(obj, name: str) -> np.ndarray:
    """gammapy's quantity in the benchmark's unit; its ``sqrt_ts`` NaN where the fit failed (gammapy
    gives -sqrt(TS) there, fluxds and the limit NaN: ``docs/gammapy_differences.md`` section 9)."""
    m = getattr(obj, name)
    if name != "sqrt_ts":
        return m.quantity.to_value(_unit(name))
    return np.where(obj.success.data, m.data, np.nan)


def labelled_floor(ds, inp: dict):
    """The least a labelled result per quantity costs: the numpy limit's arrays, each wrapped as a
    DataArray with the stored variable's coordinates (``ds[stored].copy(data=...)``), as (name, array)."""
    for name, values in numpy_quantities(inp):
        stored = "ts" if name == "sqrt_ts" else "norm" + (name[name.index("_") :] if "_" in name else "")
        yield name, ds[stored].copy(data=values).values


def bench_map_quantities(r, n: int) -> None:
    """Case A at N = n."""
    arrays = likelihood_arrays((10, n, n))
    ds = map_dataset(arrays)
    inp = numpy_inputs(ds, energy_axis=0)
    fm = gammapy_map(arrays, n) if r.gammapy else None
    sources = [numpy_quantities(inp), fluxds_quantities(ds)]
    if fm is not None:
        sources.append((q, _in_unit(fm, q)) for q in QUANTITIES)
    check(*sources, where=f"A, N = {n} (numpy, fluxds, gammapy)")
    r.add(
        Row(
            "A. 21 quantities of a likelihood map (10 energies x N x N)",
            f"N = {n}",
            r.time(lambda: drain(fluxds_quantities(ds))),
            r.time(lambda: drain(numpy_quantities(inp))),
            r.gp(lambda: drain(gammapy_quantities(fm))),
            None,
            how={
                "fluxds": "ds.sed.get(name).values for the 21 names",
                "baseline": "norm, norm_err filtered once (np.where success), norm<suffix> * ref "
                "(energy, 1, 1), np.where for sqrt_ts",
                "gammapy": "getattr(flux_maps, name).data on a FluxMaps on a WcsGeom",
            },
            goal=1.3,
        )
    )


def bench_source_quantities(r, n_sources: int, loop_sources: int) -> None:
    """Case B: S sources x 10 energies."""
    arrays = likelihood_arrays((n_sources, 10), seed=20240602)
    ds = sources_dataset(arrays)
    inp = numpy_inputs(ds, energy_axis=1)
    want = dict(numpy_quantities(inp))
    check(want.items(), fluxds_quantities(ds), where=f"B, S = {n_sources} (numpy, fluxds)")
    n_loop = min(n_sources, loop_sources)
    fm = fps = None
    if r.gammapy:
        names = [str(s) for s in ds["source"].values]
        fm = gammapy_region(arrays, names)
        check(want.items(), ((q, _in_unit(fm, q)[..., 0, 0]) for q in QUANTITIES), where="B, FluxMaps")
        fps = gammapy_points(arrays, n_loop)
        k = min(n_loop, 50)
        loop = ((q, np.stack([_in_unit(fp, q)[:, 0, 0] for fp in fps[:k]])) for q in QUANTITIES)
        check(((q, v[:k]) for q, v in want.items()), loop, where="B, FluxPoints")

    def f_loop():
        for fp in fps:
            drain(gammapy_quantities(fp))

    scale = n_sources / n_loop
    r.add(
        Row(
            "B. 21 quantities, S sources x 10 energies",
            f"S = {n_sources}",
            r.time(lambda: drain(fluxds_quantities(ds))),
            r.time(lambda: drain(numpy_quantities(inp))),
            r.gp(f_loop, scale=scale),
            r.gp(lambda: drain(gammapy_quantities(fm))),
            how={
                "fluxds": "ds.sed.get(name).values for the 21 names, Dataset (source, energy)",
                "baseline": "norm, norm_err filtered once (np.where success), norm<suffix> * ref "
                "(1, energy), np.where for sqrt_ts",
                "gammapy": "getattr(fp, name).data for one FluxPoints per source"
                + ("" if scale == 1 else f"; timed over {n_loop} sources, scaled x{scale:g}"),
                "gammapy_alt": "getattr(flux_maps, name).data, FluxMaps on RegionGeom(energy, source)",
            },
            goal=3.0,
        )
    )
    check(want.items(), labelled_floor(ds, inp), where=f"B, S = {n_sources} (labelled floor)")
    r.add(
        Row(
            "B. 21 quantities, S sources x 10 energies",
            f"S = {n_sources}, vs the labelled-result floor",
            r.time(lambda: drain(fluxds_quantities(ds))),
            r.time(lambda: drain(labelled_floor(ds, inp))),
            how={
                "fluxds": "as above",
                "baseline": "the numpy limit plus one DataArray per quantity: ds[stored].copy(data=...) "
                "(xarray's cost of a labelled result, no fluxds logic)",
            },
            note="not a goal of the issue: what remains of B's distance once xarray's share is taken out",
        )
    )
