"""Case H of issue 4: the cost of ``import fluxds`` over ``import xarray``, in fresh interpreters.

Two measurements: the wall time of ``python -c "import X"`` (best of ``repeat``, minus that of
``python -c "pass"``), and the cumulative self-reported time of ``python -X importtime -c "import X"``
(best of ``repeat``), whose largest entries name what fluxds's import pulls in beyond xarray.
"""

from __future__ import annotations

import subprocess
import sys
import time

from benchmarks.harness import Row, Timing

__all__ = ["import_times", "bench_import", "GOAL_SECONDS"]

GOAL_SECONDS = 0.15


def _wall(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t0


def _importtime(module: str) -> tuple[float, list[tuple[float, str]]]:
    """(cumulative seconds of ``module``, the 8 largest self times as (seconds, module))."""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        check=True,
        capture_output=True,
        text=True,
    ).stderr
    total, selfs = 0.0, []
    for line in out.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
        selfs.append((int(own) / 1e6, name.strip()))
        if name.strip() == module:
            total = int(cumulative) / 1e6
    return total, sorted(selfs, reverse=True)[:8]


def import_times(repeat: int = 5) -> dict:
    """Best-of-``repeat`` import costs (seconds) of xarray and fluxds, and fluxds's largest imports."""
    bare = min(_wall("pass") for _ in range(repeat))
    wall = {m: min(_wall(f"import {m}") for _ in range(repeat)) - bare for m in ("xarray", "fluxds")}
    cum = {}
    heaviest = []
    for m in ("xarray", "fluxds"):
        runs = [_importtime(m) for _ in range(repeat)]
        best = min(runs, key=lambda t: t[0])
        cum[m] = best[0]
        if m == "fluxds":
            heaviest = best[1]
    return {"wall": wall, "importtime": cum, "heaviest": heaviest}


def bench_import(r, repeat: int) -> dict:
    t = import_times(repeat)
    extra = t["wall"]["fluxds"] - t["wall"]["xarray"]
    met = extra <= GOAL_SECONDS
    heavy = ", ".join(f"{name} {s * 1e3:.0f} ms" for s, name in t["heaviest"][:5])
    r.add(
        Row(
            "H. import time (fresh interpreter, minus python -c pass)",
            "import fluxds vs import xarray",
            Timing(t["wall"]["fluxds"], repeat, 1),
            Timing(t["wall"]["xarray"], repeat, 1),
            None,
            None,
            how={
                "fluxds": "python -c 'import fluxds' (wall, best of N, minus python -c pass)",
                "baseline": "python -c 'import xarray' (same)",
                "importtime": f"-X importtime cumulative: xarray {t['importtime']['xarray'] * 1e3:.0f} ms, "
                f"fluxds {t['importtime']['fluxds'] * 1e3:.0f} ms; largest self times: {heavy}",
            },
            note=f"{'met' if met else 'MISSED'}: {extra:+.3f} s over xarray (goal <= {GOAL_SECONDS} s); "
            f"-X importtime: {t['importtime']['fluxds'] - t['importtime']['xarray']:+.3f} s",
        )
    )
    return t
