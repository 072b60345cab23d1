"""Benchmarks of fluxds against gammapy and bare numpy: the cases A-H of issue 4, case I of issue 16 and
the SED sections.

Usage::

    python benchmarks/run.py            # full run: cases A-I and the SED sections, ~20 min (shared 2 cores)
    python benchmarks/run.py --quick    # smaller sizes, fewer repeats, all but G, under 2 minutes
    python benchmarks/run.py --cases A,B,H         # some cases only ("sed" for the SED sections)
    python benchmarks/run.py --json benchmarks/results.json --markdown
    python benchmarks/run.py --show benchmarks/results.json [--markdown]   # re-print saved results

Importable: ``from benchmarks.run import main, run`` (``run(quick=True)`` returns the rows).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

if __package__ in (None, ""):  # ``python benchmarks/run.py``: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.cases import FULL, HAVE_GAMMAPY, QUICK, Plan, run_all  # noqa: E402
from benchmarks.harness import (  # noqa: E402
    Row,
    environment,
    environment_line,
    format_table,
    read_json,
    write_json,
)
from benchmarks.issue4 import CASES, FULL4, QUICK4, run_cases  # noqa: E402

__all__ = ["main", "run", "plan_for"]

LEGEND = """\
Times are the best of N (reps: fluxds/numpy/gammapy loop/gammapy alt), per call of the whole task.
Cases A-I (issues 4, 16): numpy/raw is the bare-numpy or raw-I/O limit named in each case (README); the
gammapy column is gammapy's way of doing the task (FluxMaps for A, a per-source/bin/position/profile loop
for B, C, D, I; FluxMaps/FluxPoints I/O for C, E); goal = the issue's bound on fluxds/numpy, met or MISSED.
numpy/raw: bare numpy doing the same arithmetic on the same arrays (sections 1, 4); bare astropy.io.fits
moving the same columns as numpy arrays, no SED logic (sections 2, 3).
gammapy loop: one FluxPoints per source in a Python loop. gammapy vec/alt: one FluxMaps on a RegionGeom
with a source axis (sections 1, 4); one fits.open for all HDUs (section 2).
Ratios: gp loop/fluxds > 1 means fluxds is faster; fluxds/numpy is fluxds's overhead over bare numpy.
'~': gammapy loop timed over a subsample of the sources and scaled linearly to S."""


def plan_for(quick: bool, no_gammapy: bool = False) -> Plan:
    plan = QUICK if quick else FULL
    return replace(plan, use_gammapy=not no_gammapy)


ALL = (*CASES, "sed")


def run(quick: bool = False, no_gammapy: bool = False, log=print, cases: tuple[str, ...] = ALL) -> list[Row]:
    """Run the benchmarks (cases A-I, then the SED sections ``sed``); returns the table rows."""
    rows = []
    selected = tuple(c for c in cases if c in CASES)
    if selected:
        plan4 = replace(QUICK4 if quick else FULL4, use_gammapy=not no_gammapy)
        rows += run_cases(plan4, selected, log=log)
    if "sed" in cases:
        rows += run_all(plan_for(quick, no_gammapy), log=log)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats (< 2 min)")
    parser.add_argument(
        "--cases",
        default=None,
        help=f"comma-separated cases to run, of {','.join(ALL)} (default: all; with --quick all but G, "
        "the out-of-core case, which takes ~1.5 min on its own)",
    )
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON to PATH")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    parser.add_argument("--no-gammapy", action="store_true", help="skip gammapy even if installed")
    parser.add_argument("--show", metavar="PATH", help="print the table of a saved JSON file; run nothing")
    args = parser.parse_args(argv)

    if args.show:
        rows, env, config = read_json(args.show)
        print(f"fluxds benchmarks ({config.get('mode', '?')} run, wall time {config.get('wall_seconds')} s)")
        print(environment_line(env))
        print()
        print(format_table(rows, markdown=args.markdown))
        return 0

    env = environment()
    if args.cases is None:
        cases = tuple(c for c in ALL if not (args.quick and c == "G"))
    else:
        cases = tuple(c.strip() for c in args.cases.split(",") if c.strip())
    unknown = [c for c in cases if c not in ALL]
    if unknown:
        parser.error(f"unknown case(s) {unknown}; expected some of {','.join(ALL)}")
    plan = plan_for(args.quick, args.no_gammapy)
    plan4 = replace(QUICK4 if args.quick else FULL4, use_gammapy=not args.no_gammapy)
    print(f"fluxds benchmarks ({'quick' if args.quick else 'full'} run)")
    print(environment_line(env))
    if not HAVE_GAMMAPY:
        print("gammapy not installed: the gammapy columns are empty")
    sys.stdout.flush()
    start = time.perf_counter()
    rows = run(
        args.quick, args.no_gammapy, log=lambda msg: print(msg, file=sys.stderr, flush=True), cases=cases
    )
    elapsed = time.perf_counter() - start
    print()
    print(format_table(rows, markdown=args.markdown))
    print()
    print(LEGEND)
    print(f"\nwall time {elapsed:.0f} s")
    if args.json:
        mode = "quick" if args.quick else "full"
        config = {
            "mode": mode,
            "wall_seconds": round(elapsed, 1),
            "cases": list(cases),
            "sed_plan": asdict(plan),
            "issue4_plan": asdict(plan4),
        }
        write_json(args.json, rows, env, config)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
