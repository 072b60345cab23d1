"""The big fuzz run: ``nice -n 19 python -m fuzz.run --inputs 100000 --workers 2`` (from the repository root).

Input ``i`` of a run with ``--seed S`` is the seed file and mutations drawn from
``random.Random(f"{S}-{i}")``: ``python -m fuzz.run --seed S --replay i`` rebuilds it, writes it to
``fuzz/crashes/`` and reads it in
this process (for a traceback). Failures are saved there too; a JSON summary goes to ``--out``.
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from fuzz.mutate import mutate
from fuzz.seeds import kind_of, seeds
from fuzz.worker import GOOD, Worker, classify_read

HERE = Path(__file__).resolve().parent


def make_input(corpus: dict[str, bytes], seed: int, i: int) -> tuple[str, str, bytes, list[str]]:
    """(seed name, file name for the reader, mutated bytes, mutations) of input ``i``."""
    rng = random.Random(f"{seed}-{i}")
    name = rng.choice(sorted(corpus))
    data, applied = mutate(corpus[name], kind_of(name), rng)
    return name, f"in{i}_{Path(name).name}", data, applied


def _run_share(corpus, seed, indices, args, counts, failures, lock, progress) -> None:
    with Worker(seconds=args.seconds, memory_mib=args.memory_mib) as worker:
        for i in indices:
            if time.time() > args.deadline:
                break
            name, filename, data, applied = make_input(corpus, seed, i)
            outcome, detail = worker.read(filename, data)
            with lock:
                counts[outcome] += 1
                progress[0] += 1
                if outcome not in GOOD:
                    failures.append(
                        {
                            "i": i,
                            "seed_file": name,
                            "mutations": applied,
                            "outcome": outcome,
                            "detail": detail[-1500:],
                        }
                    )
                    if len(failures) <= args.keep:
                        (HERE / "crashes").mkdir(exist_ok=True)
                        (HERE / "crashes" / filename).write_bytes(data)
        with lock:
            counts["worker_restarts"] += worker.restarts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per input")
    parser.add_argument("--memory-mib", type=int, default=1536, help="address space per worker beyond start")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--keep", type=int, default=200, help="failing inputs saved to fuzz/crashes/")
    parser.add_argument("--replay", type=int, default=None)
    parser.add_argument(
        "--max-minutes", type=float, default=None, help="stop early; inputs done are reported"
    )
    args = parser.parse_args(argv)
    args.deadline = time.time() + 60 * args.max_minutes if args.max_minutes else float("inf")
    corpus = seeds()
    if args.replay is not None:
        name, filename, data, applied = make_input(corpus, args.seed, args.replay)
        (HERE / "crashes").mkdir(exist_ok=True)
        path = HERE / "crashes" / filename
        path.write_bytes(data)
        print(f"input {args.replay}: {name} with {applied} -> {path}")
        print(classify_read(path))
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
        time.sleep(30)
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
        "memory_mib": args.memory_mib,
        "wall_seconds": round(time.time() - start, 1),
        "outcomes": {k: v for k, v in counts.items() if k != "worker_restarts"},
        "worker_restarts": counts["worker_restarts"],
        "failures": failures,
    }
    args.out.write_text(json.dumps(summary, indent=1))
    print(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
