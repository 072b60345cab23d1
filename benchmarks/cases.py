"""The benchmark cases: data, the three implementations of each task, the agreement checks, the timings.

Every case first computes its result with fluxds, bare numpy and gammapy on the same data and asserts that
they agree (``numpy.testing.assert_allclose``); only then is it timed. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits

import fluxds
from fluxds.models import PowerLaw

try:  # run as ``python benchmarks/run.py`` (its folder on sys.path) or imported as ``benchmarks.cases``
    from benchmarks.harness import GAMMAPY_MISSING, Config, Row, Timing, measure
except ImportError:  # pragma: no cover
    from harness import GAMMAPY_MISSING, Config, Row, Timing, measure

from astropy.table import Table

try:
    from gammapy.estimators import FluxMaps, FluxPoints
    from gammapy.maps import LabelMapAxis, MapAxis, Maps, RegionGeom, RegionNDMap
    from gammapy.modeling.models import PowerLawSpectralModel, SkyModel

    HAVE_GAMMAPY = True
except ImportError:
    HAVE_GAMMAPY = False

__all__ = ["Plan", "run_all", "HAVE_GAMMAPY"]

REPO = Path(__file__).resolve().parent.parent
FP_LIKELIHOOD = REPO / "tests" / "data" / "gammapy-written" / "fp_likelihood.fits"

N_ENERGY = 10
EDGES = np.geomspace(0.1, 100.0, N_ENERGY + 1) * u.TeV
INDEX = 2.3
AMPLITUDE = 1e-12 * u.Unit("cm-2 s-1 TeV-1")
REFERENCE = 1.0 * u.TeV

SED_TYPES = ("dnde", "e2dnde", "flux", "eflux")
SUFFIXES = ("", "_err", "_ul")
NORMS = {"": "norm", "_err": "norm_err", "_ul": "norm_ul"}
# fluxds's default unit of each SED type (checked against the ``units`` attribute it returns)
UNITS = {
    "dnde": u.Unit("cm-2 s-1 TeV-1"),
    "e2dnde": u.Unit("erg cm-2 s-1"),
    "flux": u.Unit("cm-2 s-1"),
    "eflux": u.Unit("erg cm-2 s-1"),
}
WRITE_TYPES = ("likelihood", "dnde", "e2dnde", "flux", "eflux")
RTOL = 1e-9


@dataclass(frozen=True)
class Plan:
    """What to run.

    sizes : numbers of sources S of the S x 10 likelihood Datasets
    loop_sources : at most this many sources in gammapy's per-source loops (time scaled to S beyond)
    table_sources : the same, for the much slower per-source ``FluxPoints.to_table``
    multi_sources : sources (HDUs) in the multi-source FITS file of the reading benchmark
    check_sources : gammapy's per-source results are checked against fluxds's for this many sources
    timing : repeats, budget and sample length
    use_gammapy : False pretends gammapy is missing
    """

    sizes: tuple[int, ...] = (1000, 10000)
    loop_sources: int = 500
    table_sources: int = 100
    multi_sources: int = 100
    check_sources: int = 50
    timing: Config = Config(repeat=11, budget=5.0, min_time=0.05)
    use_gammapy: bool = True


QUICK = Plan(
    sizes=(1000,),
    loop_sources=100,
    table_sources=30,
    multi_sources=20,
    check_sources=20,
    timing=Config(repeat=3, budget=0.5, min_time=0.005),
)
FULL = Plan()


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Arrays:
    """Synthetic likelihood SEDs of S sources x 10 energy bins (plain float64 arrays)."""

    names: list[str]
    norm: np.ndarray
    norm_err: np.ndarray
    norm_ul: np.ndarray
    ts: np.ndarray

    def head(self, n: int) -> Arrays:
        return Arrays(self.names[:n], self.norm[:n], self.norm_err[:n], self.norm_ul[:n], self.ts[:n])


def make_arrays(n_sources: int, seed: int = 20240601) -> Arrays:
    rng = np.random.default_rng(seed)
    shape = (n_sources, N_ENERGY)
    norm = rng.lognormal(0.0, 0.4, shape)
    norm_err = norm * rng.uniform(0.05, 0.3, shape)
    norm_ul = norm + 2.0 * norm_err
    ts = rng.uniform(0.0, 100.0, shape)
    names = [f"src{i:05d}" for i in range(n_sources)]
    return Arrays(names, norm, norm_err, norm_ul, ts)


def fluxds_model() -> PowerLaw:
    return PowerLaw(index=INDEX, amplitude=AMPLITUDE, reference=REFERENCE)


def build_fluxds(a: Arrays, with_e_ref: bool = False):
    """The S-source Dataset, built from the edges (``with_e_ref``: also pass e_ref = sqrt(e_min e_max)
    explicitly, so that a file written from it holds an ``e_ref`` column)."""
    extra = {"energy_ref": np.sqrt(EDGES[:-1] * EDGES[1:])} if with_e_ref else {}
    return fluxds.from_likelihood(
        a.norm,
        dims=("source", "energy"),
        coords={"source": a.names},
        energy_min=EDGES[:-1],
        energy_max=EDGES[1:],
        reference_model=fluxds_model(),
        norm_err=a.norm_err,
        norm_ul=a.norm_ul,
        ts=a.ts,
        **extra,
    )


def _gammapy_model():
    return SkyModel(PowerLawSpectralModel(index=INDEX, amplitude=AMPLITUDE, reference=REFERENCE))


def build_gammapy_points(a: Arrays) -> list:
    """One ``FluxPoints`` per source: how gammapy holds the SEDs of many sources."""
    axis = MapAxis.from_energy_edges(EDGES)
    model = _gammapy_model()
    out = []
    for i in range(len(a.names)):
        geom = RegionGeom.create(None, axes=[axis])
        maps = Maps()
        for name in ("norm", "norm_err", "norm_ul", "ts"):
            maps[name] = RegionNDMap.from_geom(geom, data=getattr(a, name)[i].reshape(N_ENERGY, 1, 1).copy())
        out.append(FluxPoints.from_maps(maps, sed_type="likelihood", reference_model=model))
    return out


def build_gammapy_maps(a: Arrays):
    """One ``FluxMaps`` on a ``RegionGeom`` with axes (energy, source): gammapy's vectorised route."""
    geom = RegionGeom.create(
        None, axes=[MapAxis.from_energy_edges(EDGES), LabelMapAxis(a.names, name="source")]
    )
    maps = Maps()
    for name in ("norm", "norm_err", "norm_ul", "ts"):
        maps[name] = RegionNDMap.from_geom(geom, data=getattr(a, name).reshape(-1, N_ENERGY, 1, 1).copy())
    return FluxMaps.from_maps(maps, sed_type="likelihood", reference_model=_gammapy_model())


def numpy_inputs(ds) -> dict:
    """The arrays bare numpy works on, taken from the Dataset, and the constant unit factors (outside
    the timings)."""
    ref_dnde_unit = u.Unit(ds["ref_dnde"].attrs["units"])
    energy_unit = u.Unit(ds["energy"].attrs["units"])
    return {
        "norms": {s: ds[NORMS[s]].values for s in SUFFIXES},
        "e_ref": ds["energy"].values,
        "ref": {
            "dnde": ds["ref_dnde"].values,
            "flux": ds["ref_flux"].values,
            "eflux": ds["ref_eflux"].values,
        },
        "k": {
            "dnde": ref_dnde_unit.to(UNITS["dnde"]),
            "e2dnde": (ref_dnde_unit * energy_unit**2).to(UNITS["e2dnde"]),
            "flux": u.Unit(ds["ref_flux"].attrs["units"]).to(UNITS["flux"]),
            "eflux": u.Unit(ds["ref_eflux"].attrs["units"]).to(UNITS["eflux"]),
        },
    }


def numpy_convert(inp: dict, sed: str) -> dict[str, np.ndarray]:
    """``<sed><suffix> = norm<suffix> * reference`` with bare numpy, the same arithmetic fluxds does."""
    k = inp["k"][sed]
    if sed == "e2dnde":
        ref = inp["ref"]["dnde"] * inp["e_ref"] ** 2 * k
    else:
        ref = inp["ref"][sed] * k
    return {f"{sed}{s}": inp["norms"][s] * ref for s in SUFFIXES}


# --- helpers ------------------------------------------------------------------------------------


class Runner:
    def __init__(self, plan: Plan, log: Callable[[str], None]):
        self.plan = plan
        self.log = log
        self.gammapy = HAVE_GAMMAPY and plan.use_gammapy
        self.missing = GAMMAPY_MISSING if not HAVE_GAMMAPY else "gammapy disabled"
        self.rows: list[Row] = []
        self._last = time.perf_counter()
        self._cache: dict[tuple, Timing] = {}

    def time(self, fn, scale: float = 1.0, key: tuple | None = None) -> Timing:
        """Time ``fn``; ``scale`` it to all sources (see :class:`Timing`). A ``key`` reuses an earlier
        measurement of the same callable on the same data: gammapy's per-source loops run over the same
        first sources for every S, so they are measured once and scaled for each S."""
        if key is not None and key in self._cache:
            t = self._cache[key]
        else:
            t = measure(fn, self.plan.timing)
            if key is not None:
                self._cache[key] = t
        return t.scaled(scale) if scale != 1.0 else t

    def gp(self, fn, scale: float = 1.0, key: tuple | None = None) -> Timing | str:
        """:meth:`time` for a gammapy callable, or the reason there is no gammapy timing."""
        return self.time(fn, scale, key) if self.gammapy else self.missing

    def add(self, row: Row) -> None:
        self.rows.append(row)
        now = time.perf_counter()
        self.log(f"  {row.section} | {row.name}: done ({now - self._last:.1f} s)")
        self._last = now


def _gp_values(m, unit) -> np.ndarray:
    """A gammapy Map's values in ``unit``, without the two spatial axes."""
    return m.quantity.to_value(unit)[..., 0, 0]


def _loop_note(n: int, s: int) -> str:
    return "" if n == s else f"; timed over the first {n} sources and scaled x{s / n:g}"


# --- 1 and 4: conversions -----------------------------------------------------------------------


def bench_convert(r: Runner, master: Arrays, fps_all: list | None) -> None:
    for n_sources in r.plan.sizes:
        _bench_convert_one(r, master.head(n_sources), fps_all)


def _bench_convert_one(r: Runner, a: Arrays, fps_all: list | None) -> None:
    S = len(a.names)
    ds = build_fluxds(a)
    inp = numpy_inputs(ds)
    n_loop = min(S, r.plan.loop_sources)
    fps = fps_all[:n_loop] if fps_all is not None else None
    fm = build_gammapy_maps(a) if r.gammapy else None
    n_check = min(n_loop, r.plan.check_sources)
    section = f"1. SED-type conversion, S={S} sources x {N_ENERGY} energies"

    # construction, for context
    r.add(
        Row(
            section,
            "build: from_likelihood",
            r.time(lambda: build_fluxds(a)),
            None,
            r.gp(lambda: build_gammapy_points(a.head(n_loop)), scale=S / n_loop, key=("build", n_loop)),
            r.gp(lambda: build_gammapy_maps(a)),
            how={
                "fluxds": "fluxds.from_likelihood(norm, dims=('source','energy'), ..., norm_ul, ts)",
                "gammapy": "one FluxPoints.from_maps(RegionNDMaps, PowerLaw) per source"
                + _loop_note(n_loop, S),
                "gammapy_alt": "FluxMaps.from_maps on RegionGeom(axes=[energy, LabelMapAxis source])",
            },
        )
    )

    rows = []
    for sed in SED_TYPES:
        names = [f"{sed}{s}" for s in SUFFIXES]
        # agreement first
        want = numpy_convert(inp, sed)
        for name in names:
            got = ds.sed.get(name)
            assert u.Unit(got.attrs["units"]) == UNITS[sed], (name, got.attrs["units"])
            np.testing.assert_allclose(got.transpose("source", "energy").values, want[name], rtol=RTOL)
            if r.gammapy:
                loop = np.stack([_gp_values(getattr(fp, name), UNITS[sed]) for fp in fps[:n_check]])
                np.testing.assert_allclose(loop, want[name][:n_check], rtol=RTOL, err_msg=name)
                vec = _gp_values(getattr(fm, name), UNITS[sed])
                np.testing.assert_allclose(vec, want[name], rtol=RTOL, err_msg=name)

        def f_fluxds(names=names):
            for name in names:
                ds.sed.get(name).values  # noqa: B018

        def f_numpy(sed=sed):
            numpy_convert(inp, sed)

        def f_loop(names=names):
            for fp in fps:
                for name in names:
                    getattr(fp, name).data  # noqa: B018

        def f_vec(names=names):
            for name in names:
                getattr(fm, name).data  # noqa: B018

        rows.append(
            Row(
                section,
                f"{sed}, {sed}_err, {sed}_ul",
                r.time(f_fluxds),
                r.time(f_numpy),
                r.gp(f_loop, scale=S / n_loop, key=(sed, n_loop)),
                r.gp(f_vec),
                how={
                    "fluxds": f"ds.sed.get(name).values for the 3 names (default unit {UNITS[sed]})",
                    "baseline": "norm<suffix> * reference (same arrays, same unit factors)",
                    "gammapy": "getattr(fp, name).data for each FluxPoints" + _loop_note(n_loop, S),
                    "gammapy_alt": "getattr(flux_maps, name).data on the (energy, source) FluxMaps",
                },
            )
        )
        r.add(rows[-1])
    r.add(Row(section, "sum of the 12 quantities", *_sums(rows), how={"all": "sum of the four rows above"}))

    # 4. to_sed_type("flux")
    n_table = min(S, r.plan.table_sources)
    want = numpy_convert(inp, "flux")
    out = ds.sed.to_sed_type("flux")
    for name in want:
        np.testing.assert_allclose(out[name].transpose("source", "energy").values, want[name], rtol=RTOL)
    if r.gammapy:
        for i, fp in enumerate(fps[: min(n_table, n_check)]):
            table = fp.to_table(sed_type="flux")
            for name in want:
                np.testing.assert_allclose(
                    table[name].quantity.to_value(UNITS["flux"]), want[name][i], rtol=RTOL
                )
        maps = fm.to_maps(sed_type="flux")
        for name in want:
            np.testing.assert_allclose(_gp_values(maps[name], UNITS["flux"]), want[name], rtol=RTOL)

    def f_fluxds_sed():
        for v in ds.sed.to_sed_type("flux").data_vars.values():
            v.values  # noqa: B018

    def f_table():
        for fp in fps[:n_table]:
            fp.to_table(sed_type="flux")

    r.add(
        Row(
            f"4. to_sed_type('flux'), S={S} sources x {N_ENERGY} energies",
            'to_sed_type("flux")',
            r.time(f_fluxds_sed),
            r.time(lambda: numpy_convert(inp, "flux")),
            r.gp(f_table, scale=S / n_table, key=("to_table", n_table)),
            r.gp(lambda: fm.to_maps(sed_type="flux")),
            how={
                "fluxds": "ds.sed.to_sed_type('flux') (flux, flux_err, flux_ul; ts kept)",
                "baseline": "flux<suffix> = norm<suffix> * ref_flux for the 3 suffixes",
                "gammapy": "fp.to_table(sed_type='flux') per source (also computes sqrt_ts, is_ul)"
                + _loop_note(n_table, S),
                "gammapy_alt": "flux_maps.to_maps(sed_type='flux') on the (energy, source) FluxMaps",
            },
        )
    )


def _sums(rows: list[Row]) -> list[Timing | str]:
    """Column sums of timed rows (a derived row: repeats and number 0)."""
    out = []
    for key in ("fluxds", "baseline", "gammapy", "gammapy_alt"):
        cells = [getattr(row, key) for row in rows]
        if all(isinstance(c, Timing) for c in cells):
            out.append(Timing(sum(c.seconds for c in cells), 0, 0, max(c.scale for c in cells)))
        else:
            out.append(next(c for c in cells if not isinstance(c, Timing)))
    return out


# --- 2: reading ---------------------------------------------------------------------------------


def _raw_read(path: Path) -> list[dict[str, np.ndarray]]:
    """Every SED table HDU's columns as native numpy arrays: the floor of any FITS reader."""
    out = []
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.BinTableHDU) and hdu.name != "GTI":
                data = hdu.data
                out.append({n: data[n].astype(data[n].dtype.newbyteorder("=")) for n in data.names})
    return out


def bench_read(r: Runner, master: Arrays, tmp: Path) -> None:
    section = "2. reading FITS"
    # a. gammapy's own single-source file
    ds = fluxds.read(FP_LIKELIHOOD)
    if r.gammapy:
        fp = FluxPoints.read(FP_LIKELIHOOD)
        np.testing.assert_allclose(fp.norm.data[:, 0, 0], ds["norm"].values, rtol=RTOL)
        np.testing.assert_allclose(_gp_values(fp.dnde, UNITS["dnde"]), ds.sed.dnde.values, rtol=RTOL)
    r.add(
        Row(
            section,
            "fp_likelihood.fits (1 source)",
            r.time(lambda: fluxds.read(FP_LIKELIHOOD)),
            r.time(lambda: _raw_read(FP_LIKELIHOOD)),
            r.gp(lambda: FluxPoints.read(FP_LIKELIHOOD)),
            None,
            how={
                "fluxds": "fluxds.read(path)",
                "baseline": "astropy.io.fits.open + every column to a native numpy array",
                "gammapy": "FluxPoints.read(path)",
            },
        )
    )

    # b. a multi-source file fluxds writes: one HDU per source
    n = r.plan.multi_sources
    path = tmp / f"multi_{n}.fits"
    # with an explicit e_ref: fluxds omits the e_ref column when e_ref was derived from the edges, and
    # gammapy 2.1 cannot read a likelihood SED without one (KeyError: 'e_ref'; see README)
    build_fluxds(master.head(n), with_e_ref=True).sed.write(path, overwrite=True)
    names = master.names[:n]
    ds = fluxds.read(path)
    assert list(ds["source"].values) == names
    np.testing.assert_array_equal(ds["norm"].transpose("source", "energy").values, master.norm[:n])

    def gp_loop(names=names):
        return [FluxPoints.read(path, table_format="fits", hdu=name) for name in names]

    def gp_alt(names=names):
        with fits.open(path, memmap=False) as hdul:
            return [FluxPoints.from_table(Table.read(hdul[name])) for name in names]

    if r.gammapy:
        # checked on the first and the last HDUs (gammapy's loop is slow)
        k = min(n, r.plan.check_sources) // 2 or 1
        pick = list(range(k)) + list(range(n - k, n))
        dnde = ds.sed.dnde.transpose("source", "energy").values
        for got in (gp_loop([names[i] for i in pick]), gp_alt([names[i] for i in pick])):
            norm = np.stack([p.norm.data[:, 0, 0] for p in got])
            np.testing.assert_allclose(norm, master.norm[pick], rtol=RTOL)
            gp_dnde = np.stack([_gp_values(p.dnde, UNITS["dnde"]) for p in got])
            np.testing.assert_allclose(gp_dnde, dnde[pick], rtol=RTOL)
    r.add(
        Row(
            section,
            f"{n} sources, one HDU each",
            r.time(lambda: fluxds.read(path)),
            r.time(lambda: _raw_read(path)),
            r.gp(gp_loop),
            r.gp(gp_alt),
            how={
                "fluxds": "fluxds.read(path): all HDUs joined along 'source'",
                "baseline": "astropy.io.fits.open + every column of every HDU to numpy",
                "gammapy": "FluxPoints.read(path, table_format='fits', hdu=name) per source "
                "(re-opens the file each time)",
                "gammapy_alt": "one fits.open, FluxPoints.from_table(Table.read(hdul[name])) per source",
            },
        )
    )


# --- 3: writing ---------------------------------------------------------------------------------


def _raw_columns(path: Path) -> list:
    """The columns of a written SED table as ``fits.Column`` objects holding numpy arrays."""
    with fits.open(path, memmap=False) as hdul:
        hdu = hdul["FLUXPOINTS"]
        return [
            fits.Column(
                name=c.name, format=c.format, unit=c.unit, dim=c.dim, array=np.array(hdu.data[c.name])
            )
            for c in hdu.columns
        ]


def bench_write(r: Runner, tmp: Path) -> None:
    ds = fluxds.read(FP_LIKELIHOOD)
    fp = FluxPoints.read(FP_LIKELIHOOD) if r.gammapy else None
    for sed in WRITE_TYPES:
        _bench_write_one(r, ds, fp, sed, tmp)


def _bench_write_one(r: Runner, ds, fp, sed: str, tmp: Path) -> None:
    ours, theirs, raw = tmp / f"fd_{sed}.fits", tmp / f"gp_{sed}.fits", tmp / f"raw_{sed}.fits"
    ds.sed.write(ours, sed_type=sed, overwrite=True)
    columns = _raw_columns(ours)
    if r.gammapy:
        fp.write(theirs, sed_type=sed, overwrite=True)
        if sed in ("likelihood", "dnde", "e2dnde"):
            # both files read back by gammapy give the same numbers (flux/eflux are not compared:
            # gammapy re-integrates a template for this likelihood SED, see docs/gammapy_differences)
            a, b = FluxPoints.read(ours), FluxPoints.read(theirs)
            name = "norm" if sed == "likelihood" else sed
            np.testing.assert_allclose(getattr(a, name).quantity, getattr(b, name).quantity, rtol=RTOL)

    def f_raw():
        hdu = fits.BinTableHDU.from_columns(columns, name="FLUXPOINTS")
        fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(raw, overwrite=True)

    r.add(
        Row(
            "3. writing FITS, fp_likelihood.fits as each SED type",
            f"sed_type={sed}",
            r.time(lambda: ds.sed.write(ours, sed_type=sed, overwrite=True)),
            r.time(f_raw),
            r.gp(lambda: fp.write(theirs, sed_type=sed, overwrite=True)),
            None,
            how={
                "fluxds": "ds.sed.write(path, sed_type=t, overwrite=True) (atomic: temp file, fsync, rename)",
                "baseline": "BinTableHDU.from_columns(the columns fluxds wrote) + HDUList.writeto",
                "gammapy": "FluxPoints.write(path, sed_type=t, overwrite=True)",
            },
        )
    )


# --- all ----------------------------------------------------------------------------------------


def run_all(plan: Plan, log: Callable[[str], None] = print) -> list[Row]:
    """Run every benchmark of ``plan``; returns the rows in table order (sections 1, 4, 2, 3 sorted)."""
    r = Runner(plan, log)
    tmp = Path(tempfile.mkdtemp(prefix="fluxds-bench-"))
    gammapy_log = logging.getLogger("gammapy")
    level = gammapy_log.level
    gammapy_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            master = make_arrays(max(plan.sizes))
            fps = None
            if r.gammapy:
                n = min(max(plan.sizes), plan.loop_sources)
                log(f"building {n} gammapy FluxPoints (one per source) ...")
                fps = build_gammapy_points(master.head(n))
            log("1/4. conversions ...")
            bench_convert(r, master, fps)
            log("2. reading ...")
            bench_read(r, master, tmp)
            log("3. writing ...")
            bench_write(r, tmp)
    finally:
        gammapy_log.setLevel(level)
        shutil.rmtree(tmp, ignore_errors=True)
    order = {s: i for i, s in enumerate(sorted({row.section for row in r.rows}))}
    return sorted(r.rows, key=lambda row: order[row.section])
