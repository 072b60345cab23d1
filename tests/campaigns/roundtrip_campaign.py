"""The thorough generated round-trip campaign (issue 7, item 1): many examples per format, in chunks.

Chunks go in rounds over the formats, so that every format advances alike whatever the time budget.
Each chunk is an independent hypothesis run of ``--chunk`` examples with its own seed (``seed * 100000 +
chunk``), through the same check as ``tests/campaigns/test_generated_roundtrips.py`` (the Dataset comes back
``xarray.testing.assert_identical``). Every chunk's outcome is appended to a JSON-lines ledger, so that
campaigns on several days or machines add up (``--examples`` is the total per format the ledger should
reach; a resumed campaign skips the seeds already there), and a chunk can be re-run from its seed::

    # from the repository root: every format, up to 10^4 examples each, two processes, 2 h budget
    nice -n 19 python tests/campaigns/roundtrip_campaign.py --examples 10000 --jobs 2 --max-minutes 120
    # the totals per format in the ledger
    python tests/campaigns/roundtrip_campaign.py --report

A failing chunk is recorded with hypothesis's shrunk falsifying example and the exception; the campaign
goes on with the next chunk.
"""

from __future__ import annotations

import argparse
import collections
import fcntl
import json
import multiprocessing as mp
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests/: ``campaigns.strategies``, ``helpers``
LEDGER = HERE.parents[1] / "docs" / "_data" / "roundtrip_campaign.jsonl"
ORDER = (
    "zarr",
    "healpix-map-fits",
    "h5netcdf",
    "flux-map-fits",
    "lightcurve-fits",
    "gadf-sed-fits",
    "profile-fits",
    "netcdf4",
    "lightcurve-ecsv",
    "gadf-sed-hdf5",
    "gadf-sed-ecsv",
)


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _append(ledger: Path, record: dict) -> None:
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with open(ledger, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.write(json.dumps(record) + "\n")
        handle.flush()
        fcntl.flock(handle, fcntl.LOCK_UN)


def run_chunk(fmt: str, seed: int, examples: int) -> dict:
    """One hypothesis run of ``examples`` round trips of format ``fmt``; returns its ledger record."""
    import warnings

    import xarray as xr
    from campaigns.strategies import datasets
    from campaigns.test_generated_roundtrips import FORMATS, _roundtrip
    from hypothesis import HealthCheck, given, settings
    from hypothesis import seed as hypothesis_seed

    kinds = collections.Counter()

    @hypothesis_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(item=datasets(kinds=FORMATS[fmt][2]))
    def check(item):
        kind, ds = item
        kinds[kind] += 1
        xr.testing.assert_identical(_roundtrip(ds, fmt), ds)

    start = time.time()
    failure = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            check()
        except Exception as exc:  # a failing round trip: recorded, the campaign goes on
            failure = f"{type(exc).__name__}: {exc}"[:4000] + "\n" + traceback.format_exc(limit=-6)[-4000:]
    return {
        "format": fmt,
        "seed": seed,
        "examples": sum(kinds.values()),
        "kinds": dict(kinds),
        "failure": failure,
        "seconds": round(time.time() - start, 1),
        "commit": _commit(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _chunk_task(task: tuple) -> dict | None:
    fmt, seed, examples, ledger, deadline = task
    if time.time() > deadline:
        return None
    record = run_chunk(fmt, seed, examples)
    _append(ledger, record)
    status = "FAILED" if record["failure"] else "ok"
    print(f"{fmt}: seed {seed} {record['examples']} examples {status} {record['seconds']} s", flush=True)
    return record


def _tasks(args, formats: list[str]) -> list[tuple]:
    """Chunks in rounds over the formats (every format advances alike), skipping the ledger's seeds."""
    records = _records(args.ledger)
    done = {f: sum(r["examples"] for r in records if r["format"] == f) for f in formats}
    used = {(r["format"], r["seed"]) for r in records}
    tasks = []
    for chunk in range(10**5):
        seed = args.seed * 100000 + chunk
        round_tasks = []
        for fmt in formats:
            if done[fmt] < args.examples and (fmt, seed) not in used:
                n = min(args.chunk, args.examples - done[fmt])
                done[fmt] += n
                round_tasks.append((fmt, seed, n, args.ledger, args.deadline))
        if not round_tasks and all(v >= args.examples for v in done.values()):
            break
        tasks.extend(round_tasks)
    return tasks


def _records(ledger: Path) -> list[dict]:
    if not ledger.exists():
        return []
    return [json.loads(line) for line in ledger.read_text().splitlines() if line.strip()]


def report(ledger: Path) -> dict:
    """Totals per format in ``ledger``: examples, failing chunks, seconds, commits."""
    totals: dict = {}
    for record in _records(ledger):
        entry = totals.setdefault(
            record["format"], {"examples": 0, "failing_chunks": 0, "seconds": 0.0, "commits": []}
        )
        entry["examples"] += record["examples"]
        entry["failing_chunks"] += bool(record["failure"])
        entry["seconds"] = round(entry["seconds"] + record["seconds"], 1)
        if record["commit"] not in entry["commits"]:
            entry["commits"].append(record["commit"])
    return totals


def markdown(totals: dict) -> str:
    """The totals as the Markdown table of the reliability page."""
    lines = [
        "| format | examples | failing chunks | wall time of its chunks (s) | commits |",
        "|---|---|---|---|---|",
    ]
    for fmt in ORDER:
        if fmt in totals:
            t = totals[fmt]
            commits = ", ".join(f"`{c}`" for c in t["commits"])
            row = (fmt, f"{t['examples']:,}", str(t["failing_chunks"]), f"{t['seconds']:,.0f}", commits)
            lines.append("| " + " | ".join(row) + " |")
    total = sum(t["examples"] for t in totals.values())
    lines.append(f"| **all** | **{total:,}** | {sum(t['failing_chunks'] for t in totals.values())} | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--formats", nargs="*", default=list(ORDER), choices=ORDER)
    parser.add_argument(
        "--examples", type=int, default=10_000, help="per format, counting those already in the ledger"
    )
    parser.add_argument("--chunk", type=int, default=500, help="examples per hypothesis run")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=1, help="formats run at once, one process each")
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--ledger", type=Path, default=LEDGER)
    parser.add_argument("--report", action="store_true", help="print the ledger's totals and stop")
    parser.add_argument("--markdown", action="store_true", help="with --report: a Markdown table")
    args = parser.parse_args(argv)
    if args.report:
        totals = report(args.ledger)
        print(markdown(totals) if args.markdown else json.dumps(totals, indent=1))
        return 1 if any(t["failing_chunks"] for t in totals.values()) else 0
    args.deadline = time.time() + 60 * args.max_minutes if args.max_minutes else float("inf")
    formats = [f for f in ORDER if f in args.formats]
    with mp.get_context("fork").Pool(args.jobs) as pool:
        for _ in pool.imap(_chunk_task, _tasks(args, formats), chunksize=1):
            pass
    totals = report(args.ledger)
    print(json.dumps(totals, indent=1))
    return 1 if any(t["failing_chunks"] for t in totals.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
