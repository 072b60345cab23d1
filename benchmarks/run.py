"""Benchmarks of fluxds against gammapy and bare numpy.

Usage::

    python benchmarks/run.py            # full run (S = 1000 and 10000 sources), about 2 minutes
    python benchmarks/run.py --quick    # S = 1000, fewer repeats, under 30 s
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

__all__ = ["main", "run", "plan_for"]

LEGEND = """\
Times are the best of N (reps: fluxds/numpy/gammapy loop/gammapy alt), per call of the whole task.
numpy/raw: bare numpy doing the same arithmetic on the same arrays (sections 1, 4); bare astropy.io.fits
moving the same columns as numpy arrays, no SED logic (sections 2, 3).
gammapy loop: one FluxPoints per source in a Python loop. gammapy vec/alt: one FluxMaps on a RegionGeom
with a source axis (sections 1, 4); one fits.open for all HDUs (section 2).
Ratios: gp loop/fluxds > 1 means fluxds is faster; fluxds/numpy is fluxds's overhead over bare numpy.
'~': gammapy loop timed over a subsample of the sources and scaled linearly to S."""


def plan_for(quick: bool, no_gammapy: bool = False) -> Plan:
    plan = QUICK if quick else FULL
    return replace(plan, use_gammapy=not no_gammapy)


def run(quick: bool = False, no_gammapy: bool = False, log=print) -> list[Row]:
    """Run the benchmarks; returns the table rows."""
    return run_all(plan_for(quick, no_gammapy), log=log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="S=1000 only, fewer repeats (< 30 s)")
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
    plan = plan_for(args.quick, args.no_gammapy)
    print(f"fluxds benchmarks ({'quick' if args.quick else 'full'} run)")
    print(environment_line(env))
    if not HAVE_GAMMAPY:
        print("gammapy not installed: the gammapy columns are empty")
    sys.stdout.flush()
    start = time.perf_counter()
    rows = run_all(plan, log=lambda msg: print(msg, file=sys.stderr, flush=True))
    elapsed = time.perf_counter() - start
    print()
    print(format_table(rows, markdown=args.markdown))
    print()
    print(LEGEND)
    print(f"\nwall time {elapsed:.0f} s")
    if args.json:
        mode = "quick" if args.quick else "full"
        config = {"mode": mode, "wall_seconds": round(elapsed, 1), **asdict(plan)}
        write_json(args.json, rows, env, config)
        print(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
