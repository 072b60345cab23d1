"""The big fuzz run: ``nice -n 19 python -m fuzz.run --inputs 100000 --workers 2`` (from the repository root).

Input ``i`` of a run with ``--seed S`` is either a generated hostile input (with probability
``--hostile``, default 0.25: a family of :mod:`fuzz.hostile` drawn uniformly from ``--families``, then its
variant, all from ``random.Random(f"{S}-{i}-hostile")``) or, otherwise, a seed file and mutations drawn
from ``random.Random(f"{S}-{i}")`` (so ``--hostile 0`` rebuilds the inputs of the earlier runs).
``python -m fuzz.run --seed S --replay i`` (with the same ``--hostile``/``--families``) rebuilds it, writes
it to ``fuzz/crashes/`` and reads it in this process (for a traceback), under the same read budget and
time limit. Failures are saved there too; a JSON summary goes to ``--out``, with the outcomes per
family (``mutation`` for the mutated seeds) and per variant of each hostile family, and the budget.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from fuzz import hostile
from fuzz.mutate import mutate
from fuzz.seeds import kind_of, seeds
from fuzz.worker import DEFAULT_BUDGET_MIB, DEFAULT_MARGIN_MIB, GOOD, Worker, classify_here, warm_up

HERE = Path(__file__).resolve().parent
#: share of the inputs that are generated hostile inputs (the rest: mutated seeds)
HOSTILE_FRACTION = 0.25
#: share of the hostile files (not directories) that get 1-3 random mutations on top
MUTATE_HOSTILE = 0.25


_GENERATING = threading.Lock()


def make_input(
    corpus: dict[str, bytes],
    seed: int,
    i: int,
    hostile_fraction: float = 0.0,
    families: tuple[str, ...] = tuple(hostile.FAMILIES),
) -> dict:
    """Input ``i`` of run ``seed``: a dict with ``family`` (``mutation`` or a :mod:`fuzz.hostile`
    family), ``variant``, ``seed_file``, ``mutations``, ``name`` (what the reader sees), ``data`` (bytes or
    a tree) and ``must_refuse``."""
    pick = random.Random(f"{seed}-{i}-hostile")
    if families and pick.random() < hostile_fraction:
        family = pick.choice(sorted(families))
        with _GENERATING:  # the generators write with netCDF4/h5py, which are not thread-safe
            made = hostile.generate(family, pick)
        applied = []
        if isinstance(made.data, bytes) and pick.random() < MUTATE_HOSTILE:
            made.data, applied = mutate(made.data, kind_of(made.name), pick)
        return {
            "family": family,
            "variant": made.variant,
            "seed_file": None,
            "mutations": applied,
            "notes": made.notes,
            "name": f"in{i}_{made.name}",
            "data": made.data,
            "must_refuse": made.must_refuse,
            "rss_limit_mib": made.rss_limit_mib,
        }
    rng = random.Random(f"{seed}-{i}")
    name = rng.choice(sorted(corpus))
    data, applied = mutate(corpus[name], kind_of(name), rng)
    return {
        "family": "mutation",
        "variant": kind_of(name),
        "seed_file": name,
        "mutations": applied,
        "notes": {},
        "name": f"in{i}_{Path(name).name}",
        "data": data,
        "must_refuse": False,
        "rss_limit_mib": None,
    }


def _save(made: dict, folder: Path) -> Path:
    """Write an input into ``folder`` (links to outside point at ``folder/outside``); return its path."""
    folder.mkdir(exist_ok=True)
    outside = folder / "outside"
    if not outside.exists():
        outside.mkdir()
        hostile.write_outside(outside)
    path = folder / made["name"]
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()
    hostile.materialise(made["data"], path, outside)
    return path


def _run_share(corpus, seed, indices, args, counts, failures, lock, progress) -> None:
    with Worker(
        seconds=args.seconds,
        memory_mib=args.memory_mib,
        budget_mib=args.budget_mib,
        margin_mib=args.margin_mib,
    ) as worker:
        for i in indices:
            if time.time() > args.deadline:
                break
            made = make_input(corpus, seed, i, args.hostile, args.families)
            outcome, detail = worker.read(
                made["name"], made["data"], made["must_refuse"], made["rss_limit_mib"]
            )
            with lock:
                counts[outcome] += 1
                args.per_family[made["family"]][outcome] += 1
                if made["family"] != "mutation":
                    args.per_variant[f"{made['family']}/{made['variant']}"][outcome] += 1
                progress[0] += 1
                if outcome not in GOOD:
                    failures.append(
                        {
                            "i": i,
                            "family": made["family"],
                            "variant": made["variant"],
                            "seed_file": made["seed_file"],
                            "mutations": made["mutations"],
                            "notes": made["notes"],
                            "outcome": outcome,
                            "detail": detail[-1500:],
                        }
                    )
                    if len(failures) <= args.keep:
                        _save(made, args.crashes)
        with lock:
            counts["worker_restarts"] += worker.restarts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per input")
    parser.add_argument(
        "--memory-mib",
        type=int,
        default=None,
        help="address space per worker beyond its start size (default: budget + margin + 512 MiB)",
    )
    parser.add_argument(
        "--budget-mib",
        type=int,
        default=DEFAULT_BUDGET_MIB,
        help="read budget of each read (FLUXDS_MAX_READ_BYTES)",
    )
    parser.add_argument(
        "--margin-mib",
        type=int,
        default=DEFAULT_MARGIN_MIB,
        help="RSS growth allowed above the budget before a read counts as over_budget",
    )
    parser.add_argument(
        "--hostile",
        type=float,
        default=HOSTILE_FRACTION,
        help="share of generated hostile inputs (fuzz/hostile.py) among the mutated seeds",
    )
    parser.add_argument(
        "--families",
        default=",".join(hostile.FAMILIES),
        help=f"comma-separated hostile families to draw from: {', '.join(hostile.FAMILIES)}",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--keep", type=int, default=200, help="failing inputs saved to --crashes")
    parser.add_argument("--crashes", type=Path, default=HERE / "crashes", help="where failing inputs go")
    parser.add_argument("--replay", type=int, default=None)
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop early; inputs done are reported"
    )
    args = parser.parse_args(argv)
    args.families = tuple(f for f in args.families.split(",") if f)
    unknown = [f for f in args.families if f not in hostile.FAMILIES]
    if unknown or not 0 <= args.hostile <= 1:
        parser.error(f"unknown families {unknown} or --hostile outside [0, 1]")
    args.deadline = time.time() + 60 * args.max_minutes if args.max_minutes else float("inf")
    args.per_family = collections.defaultdict(collections.Counter)
    args.per_variant = collections.defaultdict(collections.Counter)
    corpus = seeds()
    if args.replay is not None:
        made = make_input(corpus, args.seed, args.replay, args.hostile, args.families)
        path = _save(made, args.crashes)
        shown = {k: v for k, v in made.items() if k != "data"}
        print(f"input {args.replay}: {shown} -> {path}")
        warm_up()  # imports and caches, so that the RSS growth measured is the read's
        margin = args.margin_mib if made["rss_limit_mib"] is None else made["rss_limit_mib"] - args.budget_mib
        outcome, detail = classify_here(path, args.seconds, args.budget_mib, margin)
        if made["must_refuse"] and outcome == "ok":
            outcome = "accepted"
        print(outcome, detail)
        return 0
    counts: collections.Counter = collections.Counter()
    failures: list[dict] = []
    lock, progress = threading.Lock(), [0]
    start = time.time()
    shares = [range(k, args.inputs, args.workers) for k in range(args.workers)]
    threads = [
        threading.Thread(
            target=_run_share, args=(corpus, args.seed, s, args, counts, failures, lock, progress)
        )
        for s in shares
    ]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(30)
        print(f"{progress[0]}/{args.inputs} {dict(counts)} {time.time() - start:.0f} s", flush=True)
    summary = {
        "commit": subprocess.run(
            ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip(),
        "inputs": progress[0],
        "inputs_asked": args.inputs,
        "seed": args.seed,
        "seed_files": len(corpus),
        "seconds_per_input_limit": args.seconds,
        "read_budget_bytes": args.budget_mib * 2**20,
        "rss_margin_bytes": args.margin_mib * 2**20,
        "memory_mib": args.memory_mib
        if args.memory_mib is not None
        else args.budget_mib + args.margin_mib + 512,
        "hostile_fraction": args.hostile,
        "families": list(args.families),
        "wall_seconds": round(time.time() - start, 1),
        "outcomes": {k: v for k, v in counts.items() if k != "worker_restarts"},
        "per_family": {f: dict(c) for f, c in sorted(args.per_family.items())},
        "per_variant": {f: dict(c) for f, c in sorted(args.per_variant.items())},
        "worker_restarts": counts["worker_restarts"],
        "failures": failures,
    }
    args.out.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
