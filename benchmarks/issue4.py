"""The cases A-H of issue 4 and case I of issue 16 (see ``benchmarks/README.md``): what each run mode
measures, and the loop that runs the selected cases into table rows."""

from __future__ import annotations

import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.harness import Config, Row

__all__ = ["Plan4", "QUICK4", "FULL4", "CASES", "run_cases"]

CASES = ("A", "B", "C", "D", "E", "F", "G", "H", "I")


@dataclass(frozen=True)
class Plan4:
    """Sizes of the issue-4 cases.

    map_sizes : N of case A (10 x N x N maps)
    sources : S of case B; loop_sources : gammapy's per-source loop timed over this many (scaled to S)
    lc_bins : T of case C; gp_bins : gammapy's per-bin light-curve writer timed over this many bins
    points_map, points : case D's map side and numbers of positions; gp_positions as loop_sources
    io_map : N of cases E and F
    ooc_cap_mb : case G's memory cap (MiB); the data is 4x this; ooc_engines : G's open_dataset engines
    import_repeat : case H's best-of count
    ul_sources, ul_scans, ul_sigmas : case I's sources (x 10 energy bins), scan points and limits (sigma);
    ul_gp_profiles : gammapy's per-profile loop timed over this many profiles (scaled to all)
    timing : repeats, budget and sample length of every timing
    """

    map_sizes: tuple[int, ...] = (500, 1000, 2000)
    sources: int = 1000
    loop_sources: int = 100
    lc_bins: tuple[int, ...] = (10_000, 100_000)
    gp_bins: int = 200
    points_map: int = 500
    points: tuple[int, ...] = (1, 100, 1000)
    gp_positions: int = 50
    io_map: int = 1000
    ooc_cap_mb: int = 512
    ooc_engines: tuple[str, ...] = ("netcdf4", "h5netcdf")
    import_repeat: int = 7
    ul_sources: int = 1000
    ul_scans: tuple[int, ...] = (11, 21)
    ul_sigmas: tuple[float, ...] = (3.0, 2.0)
    ul_gp_profiles: int = 300
    timing: Config = field(default_factory=lambda: Config(repeat=7, budget=4.0, min_time=0.05))
    use_gammapy: bool = True


QUICK4 = Plan4(
    map_sizes=(500,),
    loop_sources=30,
    lc_bins=(10_000,),
    gp_bins=50,
    gp_positions=10,
    io_map=500,
    ooc_cap_mb=256,
    ooc_engines=("h5netcdf",),
    import_repeat=3,
    ul_scans=(11,),
    ul_sigmas=(3.0,),
    ul_gp_profiles=50,
    timing=Config(repeat=3, budget=0.5, min_time=0.005),
)
FULL4 = Plan4()


def run_cases(plan: Plan4, cases: tuple[str, ...] = CASES, log: Callable[[str], None] = print) -> list[Row]:
    """Run the selected cases of ``plan``; the rows in case order."""
    from benchmarks import (
        case_import,
        case_outofcore,
        cases_io,
        cases_points,
        cases_quantities,
        profiles_bench,
    )
    from benchmarks.cases import FULL, Runner

    r = Runner(FULL, log)
    r.plan = plan  # Runner reads plan.timing and use_gammapy
    r.gammapy = r.gammapy and plan.use_gammapy
    tmp = Path(tempfile.mkdtemp(prefix="fluxds-bench4-"))
    quiet = logging.getLogger("gammapy")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if "A" in cases:
                for n in plan.map_sizes:
                    log(f"A. N = {n} ...")
                    cases_quantities.bench_map_quantities(r, n)
            if "B" in cases:
                log("B ...")
                cases_quantities.bench_source_quantities(r, plan.sources, plan.loop_sources)
            if "C" in cases:
                for t in plan.lc_bins:
                    log(f"C. T = {t} ...")
                    cases_io.bench_lightcurve(r, t, plan.gp_bins, tmp)
            if "D" in cases:
                log("D ...")
                cases_points.bench_flux_points(r, plan.points_map, plan.points, plan.gp_positions)
            if "E" in cases:
                log("E ...")
                cases_io.bench_map_fits(r, plan.io_map, tmp)
            if "F" in cases:
                log("F ...")
                cases_io.bench_map_hdf(r, plan.io_map, tmp)
            if "G" in cases:
                log("G ...")
                case_outofcore.bench_out_of_core(r, plan.ooc_cap_mb, tmp, plan.ooc_engines, log=log)
            if "H" in cases:
                log("H ...")
                case_import.bench_import(r, plan.import_repeat)
            if "I" in cases:
                log("I ...")
                profiles_bench.bench_profile_limits(
                    r, plan.ul_sources, plan.ul_scans, plan.ul_sigmas, plan.ul_gp_profiles
                )
    finally:
        quiet.setLevel(level)
        shutil.rmtree(tmp, ignore_errors=True)
    return r.rows
