"""Fermi-LAT catalogs: ``fluxds.read`` of a whole catalog vs gammapy's catalog classes vs bare ``fits.open``.

The FSSC files in ``../shared/data/catalogs`` (3FGL ``gll_psc_v16``, 3FHL ``gll_psch_v13``, 2FGL
``gll_psc_v08``). Not run by pytest::

    python benchmarks/catalogs.py                 # all rows, gammapy on 100 sources per catalog
    python benchmarks/catalogs.py --quick         # fewer repeats, gammapy on 30 sources
    python benchmarks/catalogs.py --no-gammapy --markdown --json catalogs.json

Rows (one per catalog and product), columns as in ``benchmarks/harness.py``:

- fluxds: ``fluxds.read(path)`` (band SEDs of every source, dims ``(source, energy)``) or
  ``fluxds.read(path, product="lightcurve")`` (``(source, time, energy)``): detection, the read, the
  physics checks, every source's reference fluxes;
- numpy/raw: ``astropy.io.fits.open`` and every column the reader uses taken as numpy arrays (no SED logic,
  no reference model): the floor any reader pays for a gzip-compressed FITS table;
- gammapy loop: ``SourceCatalog3FGL(path)`` (``3FHL``) once, plus ``[cat[i].flux_points for i in sources]``
  (``.lightcurve()`` for the histories), timed on ``--sample`` point-like sources (gammapy's spatial model of
  an extended source needs template files) and scaled to the whole catalog: marked ``~``;
- gammapy vec/alt: ``SourceCatalog3FGL(path)`` alone (the table read, no SED yet).

Before timing, the fluxds Dataset is checked against the raw columns (band fluxes of every source equal).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from astropy.io import fits

import fluxds

try:  # run as ``python benchmarks/catalogs.py`` (its folder on sys.path) or imported as a package module
    from benchmarks.harness import (
        GAMMAPY_MISSING,
        Config,
        Row,
        Timing,
        environment,
        environment_line,
        format_table,
        measure,
        write_json,
    )
except ImportError:  # pragma: no cover
    from harness import (
        GAMMAPY_MISSING,
        Config,
        Row,
        Timing,
        environment,
        environment_line,
        format_table,
        measure,
        write_json,
    )

CATALOGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "catalogs"
FILES = {
    "3FGL": CATALOGS / "gll_psc_v16.fit.gz",
    "3FHL": CATALOGS / "gll_psch_v13.fit.gz",
    "2FGL": CATALOGS / "gll_psc_v08.fit.gz",
}
SECTION = "Fermi-LAT catalogs (FSSC files)"
_BAND_SUFFIXES = ("100_300", "300_1000", "1000_3000", "3000_10000", "10000_100000")


def _gammapy_class(name: str):
    try:
        from gammapy import catalog
    except ImportError:
        return None
    return {"3FGL": catalog.SourceCatalog3FGL, "3FHL": catalog.SourceCatalog3FHL}.get(name)


def _raw_columns(path: Path, product: str) -> list[np.ndarray]:
    """What a bare reader reads: ``fits.open`` and the reader's columns as numpy arrays."""
    with fits.open(path, memmap=False) as hdul:
        data = hdul[1].data
        names = set(data.columns.names)
        wanted = ["Source_Name", "RAJ2000", "DEJ2000", "GLON", "GLAT", "SpectrumType", "Pivot_Energy"]
        wanted += ["Flux_Density", "Spectral_Index", "PowerLaw_Index", "beta", "Cutoff", "Exp_Index"]
        if product == "lightcurve":
            wanted += ["Flux_History", "Unc_Flux_History", "Unc_Flag_History"]
            out = [np.asarray(hdul["Hist_Start"].data["Hist_Start"])]
        elif "Flux_Band" in names:
            wanted += ["Flux_Band", "Unc_Flux_Band", "nuFnu", "Sqrt_TS_Band"]
            out = [np.asarray(hdul["EnergyBounds"].data["LowerEnergy"])]
        else:
            wanted += [f"{p}{s}" for s in _BAND_SUFFIXES for p in ("Flux", "Unc_Flux", "nuFnu", "Sqrt_TS")]
            out = []
        out += [np.asarray(data[c]) for c in wanted if c in names]
    return out


def _check(ds, path: Path, product: str) -> None:
    with fits.open(path) as hdul:
        data = hdul[1].data
        if product == "lightcurve":
            flux = data["Flux_History"].astype(float)
        elif "Flux_Band" in data.columns.names:
            flux = data["Flux_Band"].astype(float)
        else:
            flux = np.stack([data[f"Flux{s}"].astype(float) for s in _BAND_SUFFIXES], axis=1)
    got = ds.sed.get("flux", "cm-2 s-1").values.reshape(flux.shape)
    stored = np.isfinite(got)  # 2FGL: a band upper limit is no flux
    np.testing.assert_allclose(got[stored], flux[stored], rtol=1e-14)


def _gammapy(name: str, path: Path, product: str, sample: int, config: Config) -> tuple:
    cls = _gammapy_class(name)
    if cls is None:
        missing = _gammapy_class("3FGL") is None and name != "2FGL"
        return (GAMMAPY_MISSING if missing else "no gammapy class"), None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load = measure(lambda: cls(path), config)
        cat = cls(path)
        n = len(cat.table)
        picks = [i for i in range(n) if cat[i].is_pointlike][:: max(1, n // sample)][:sample]

        def per_source():
            for i in picks:
                src = cat[i]
                result = src.lightcurve() if product == "lightcurve" else src.flux_points
                result.flux.data  # noqa: B018 - what a user looks at

        loop = measure(per_source, Config(repeat=1, budget=config.budget, min_time=0.0))
    scale = n / len(picks)
    total = Timing(load.seconds + loop.seconds * scale, min(load.repeats, loop.repeats), 1, scale)
    return total, load


def run(quick: bool = False, gammapy: bool = True, sample: int | None = None) -> list[Row]:
    config = Config(repeat=3, budget=2.0, min_time=0.02)
    if not quick:
        config = Config(repeat=7, budget=6.0, min_time=0.05)
    sample = sample or (30 if quick else 100)
    rows = []
    cases = [("3FGL", "sed"), ("3FGL", "lightcurve"), ("3FHL", "sed")]
    cases += [("2FGL", "sed"), ("2FGL", "lightcurve")]
    for name, product in cases:
        path = FILES[name]
        if not path.exists():
            print(f"{path} is missing: row skipped", file=sys.stderr)
            continue
        options = {"product": product} if product != "sed" else {}
        ds = fluxds.read(path, **options)
        _check(ds, path, product)
        shape = " x ".join(str(v) for k, v in ds.sizes.items() if k in ("source", "time", "energy"))
        t_fluxds = measure(lambda path=path, options=options: fluxds.read(path, **options), config)
        t_raw = measure(lambda path=path, product=product: _raw_columns(path, product), config)
        if gammapy:
            t_gp, t_load = _gammapy(name, path, product, sample, config)
        else:
            t_gp, t_load = "gammapy disabled", None
        what = "band SEDs" if product == "sed" else "flux histories"
        rows.append(
            Row(
                SECTION,
                f"{name} {what} ({shape})",
                t_fluxds,
                t_raw,
                t_gp,
                t_load if t_load is not None else t_gp if isinstance(t_gp, str) else None,
                how={
                    "fluxds": f"fluxds.read(path{', product=' + repr(product) if options else ''})",
                    "numpy/raw": "fits.open + the reader's columns as numpy arrays",
                    "gammapy": f"catalog class + {'.lightcurve()' if options else '.flux_points'} of "
                    f"{sample} point-like sources, scaled to all (~)",
                    "gammapy alt": "catalog class alone (the table, no SED)",
                },
                goal=None,
                note="goal: fluxds < 0.3 s"
                + (" (met)" if t_fluxds.seconds < 0.3 else f" (MISSED: {t_fluxds.seconds:.2f} s)"),
            )
        )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, gammapy on 30 sources")
    parser.add_argument("--no-gammapy", action="store_true")
    parser.add_argument("--sample", type=int, default=None, help="sources gammapy is timed on (default 100)")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", help="write the results (with the environment) to this file")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick, gammapy=not args.no_gammapy, sample=args.sample)
    env = environment()
    print(environment_line(env))
    print(format_table(rows, markdown=args.markdown))
    if args.json:
        write_json(args.json, rows, env, {"quick": args.quick, "sample": args.sample})


if __name__ == "__main__":
    main()
