"""Timing, result rows, the printed table and the JSON record of the fluxds benchmarks.

Timing is ``timeit``'s: each sample runs the callable ``number`` times with the garbage collector off,
``number`` chosen (1, 2, 5, 10, 20, ...) so that one sample lasts at least ``min_time``; the result is the
best sample divided by ``number``. Samples stop at ``repeat``, or earlier once ``budget`` seconds have
been spent (slow gammapy loops), and never below one sample.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = [
    "Config",
    "Timing",
    "Row",
    "measure",
    "format_seconds",
    "format_table",
    "environment",
    "write_json",
    "read_json",
    "GAMMAPY_MISSING",
    "NOT_APPLICABLE",
]

GAMMAPY_MISSING = "gammapy not installed"
NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Config:
    """How hard to time: ``repeat`` samples at most, ``budget`` seconds per measurement at most,
    samples of at least ``min_time`` seconds."""

    repeat: int = 7
    budget: float = 6.0
    min_time: float = 0.02


@dataclass
class Timing:
    """Best time of one call, in seconds.

    ``scale`` > 1 means the callable ran over a subsample (``1/scale`` of the sources) and the time was
    scaled up linearly: used for gammapy's per-source Python loops, whose cost is the same for every
    source, where running all sources would blow the time budget.
    """

    seconds: float
    repeats: int
    number: int
    scale: float = 1.0

    @property
    def extrapolated(self) -> bool:
        return self.scale != 1.0

    def scaled(self, factor: float) -> Timing:
        return Timing(self.seconds * factor, self.repeats, self.number, self.scale * factor)


Cell = Timing | str | None


def measure(fn: Callable[[], object], config: Config) -> Timing:
    """Best-of-N time of ``fn()`` (see the module docstring)."""
    timer = timeit.Timer(fn)
    spent = 0.0
    samples: list[float] = []
    # calibration, which also warms up (first-call caches, imports)
    number = 1
    while True:
        t = timer.timeit(number)
        spent += t
        if t >= config.min_time:
            break
        number = _next_number(number)
    if number == 1 and t >= 0.25:
        samples.append(t)  # a slow call: the calibration run is a sample, not a wasted pass
    while len(samples) < config.repeat and (not samples or spent < config.budget):
        t = timer.timeit(number)
        spent += t
        samples.append(t / number)
    return Timing(min(samples), len(samples), number)


def _next_number(n: int) -> int:
    digits = len(str(n)) - 1
    lead = n // 10**digits
    return {1: 2, 2: 5, 5: 10}[lead] * 10**digits


@dataclass
class Row:
    """One line of the table.

    ``baseline`` is bare numpy for the arithmetic benchmarks and bare ``astropy.io.fits`` (columns in and
    out as numpy arrays, no SED logic) for the I/O ones; ``gammapy`` is what a gammapy user writes for
    many sources (a Python loop over ``FluxPoints``), ``gammapy_alt`` a vectorised or smarter gammapy
    route where one exists.
    """

    section: str
    name: str
    fluxds: Cell
    baseline: Cell = None
    gammapy: Cell = None
    gammapy_alt: Cell = None
    how: dict[str, str] = field(default_factory=dict)
    goal: float | None = None  # issue 4's goal: fluxds/baseline at most this
    note: str = ""  # what a ratio does not say (peak memory, a goal that is not a ratio ...)

    def verdict(self) -> str:
        """``met`` / ``missed (ratio)`` against :attr:`goal`; empty without a goal."""
        if self.goal is None:
            return ""
        r = self.ratio("fluxds", "baseline")
        if r is None:
            return f"<={self.goal:g}x: not measured"
        return f"<={self.goal:g}x " + ("met" if r <= self.goal else f"MISSED ({r / self.goal:.2g}x over)")

    def ratio(self, num: str, den: str) -> float | None:
        a, b = getattr(self, num), getattr(self, den)
        if isinstance(a, Timing) and isinstance(b, Timing) and b.seconds > 0:
            return a.seconds / b.seconds
        return None


def format_seconds(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:.3g} µs"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def _cell(c: Cell) -> str:
    if isinstance(c, Timing):
        return ("~" if c.extrapolated else "") + format_seconds(c.seconds)
    if c is None:
        return NOT_APPLICABLE
    return c


def _ratio_cell(row: Row, num: str, den: str) -> str:
    r = row.ratio(num, den)
    if r is not None:
        approx = any(isinstance(getattr(row, k), Timing) and getattr(row, k).extrapolated for k in (num, den))
        return ("~" if approx else "") + (f"{r:.3g}x" if r < 100 else f"{r:.0f}x")
    missing = [getattr(row, k) for k in (num, den) if isinstance(getattr(row, k), str)]
    return missing[0] if missing else NOT_APPLICABLE


def _reps(row: Row) -> str:
    cells = [c for c in (row.fluxds, row.baseline, row.gammapy, row.gammapy_alt) if isinstance(c, Timing)]
    if cells and all(c.repeats == 0 for c in cells):
        return "(sum)"
    return "/".join(
        str(c.repeats) if isinstance(c, Timing) else "-"
        for c in (row.fluxds, row.baseline, row.gammapy, row.gammapy_alt)
    )


COLUMNS = (
    "benchmark",
    "fluxds",
    "numpy/raw",
    "gammapy loop",
    "gammapy vec/alt",
    "gp loop/fluxds",
    "gp alt/fluxds",
    "fluxds/numpy",
    "goal",
    "reps",
)


def table_rows(rows: list[Row]) -> list[list[str]]:
    out = []
    for r in rows:
        out.append(
            [
                r.name,
                _cell(r.fluxds),
                _cell(r.baseline),
                _cell(r.gammapy),
                _cell(r.gammapy_alt),
                _ratio_cell(r, "gammapy", "fluxds"),
                _ratio_cell(r, "gammapy_alt", "fluxds"),
                _ratio_cell(r, "fluxds", "baseline"),
                "; ".join(x for x in (r.verdict(), r.note) if x),
                _reps(r),
            ]
        )
    return out


def format_table(rows: list[Row], markdown: bool = False) -> str:
    """The table as fixed-width text (or a Markdown table), one block per section."""
    body = table_rows(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(COLUMNS)]
    lines = []

    def line(cells):
        if markdown:
            return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    lines.append(line(COLUMNS))
    if markdown:
        rules = [("-" * (w + 1) + ":") if i else ("-" * (w + 2)) for i, w in enumerate(widths)]
        lines.append("|" + "|".join(rules) + "|")
    else:
        lines.append("  ".join("-" * w for w in widths))
    section = None
    for r, cells in zip(rows, body, strict=True):
        if r.section != section:
            section = r.section
            if markdown:
                lines.append(line([f"**{section}**"] + [""] * (len(COLUMNS) - 1)))
            else:
                lines.append(f"[{section}]")
        lines.append(line(cells))
    return "\n".join(lines)


def _version(module: str) -> str | None:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return getattr(mod, "__version__", "?")


def _cpu_model() -> str:
    try:
        for text in Path("/proc/cpuinfo").read_text().splitlines():
            if text.startswith("model name"):
                return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(
            ["git", *args],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def _git_commit() -> str | None:
    """The commit of the checkout, with ``+dirty`` when ``fluxds/`` has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD")
    if not commit:
        return None
    dirty = _git("status", "--porcelain", "--", str(Path(__file__).resolve().parent.parent / "fluxds"))
    return commit + ("+dirty" if dirty else "")


def environment() -> dict:
    """The machine and the library versions the numbers belong to."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": usable,
        "cpu": _cpu_model(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "numpy": _version("numpy"),
        "xarray": _version("xarray"),
        "astropy": _version("astropy"),
        "gammapy": _version("gammapy"),
        "fluxds": _version("fluxds"),
        "fluxds_commit": _git_commit(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
    }


def environment_line(env: dict) -> str:
    return (
        f"{env['date']}; nproc={env['nproc']} ({env['cpu']}); Python {env['python']}, numpy {env['numpy']}, "
        f"xarray {env['xarray']}, astropy {env['astropy']}, gammapy {env['gammapy'] or 'not installed'}, "
        f"fluxds {env['fluxds']} ({env['fluxds_commit'] or 'no git'})"
    )


def _json_cell(c: Cell):
    if isinstance(c, Timing):
        return asdict(c)
    return c


def _cell_from_json(c) -> Cell:
    return Timing(**c) if isinstance(c, dict) else c


def read_json(path: str | os.PathLike) -> tuple[list[Row], dict, dict]:
    """Rows, environment and configuration from a file :func:`write_json` wrote."""
    payload = json.loads(Path(path).read_text())
    rows = [
        Row(
            r["section"],
            r["name"],
            *(_cell_from_json(r[k]) for k in ("fluxds", "baseline", "gammapy", "gammapy_alt")),
            how=r.get("how", {}),
            goal=r.get("goal"),
            note=r.get("note", ""),
        )
        for r in payload["results"]
    ]
    return rows, payload["environment"], payload["config"]


def write_json(path: str | os.PathLike, rows: list[Row], env: dict, config: dict) -> None:
    """The results as JSON: environment, configuration and one record per row (seconds, repeats,
    number of calls per sample, extrapolation scale, ratios)."""
    records = []
    for r in rows:
        records.append(
            {
                "section": r.section,
                "name": r.name,
                "fluxds": _json_cell(r.fluxds),
                "baseline": _json_cell(r.baseline),
                "gammapy": _json_cell(r.gammapy),
                "gammapy_alt": _json_cell(r.gammapy_alt),
                "ratio_gammapy_over_fluxds": r.ratio("gammapy", "fluxds"),
                "ratio_gammapy_alt_over_fluxds": r.ratio("gammapy_alt", "fluxds"),
                "ratio_fluxds_over_baseline": r.ratio("fluxds", "baseline"),
                "how": r.how,
                "goal": r.goal,
                "verdict": r.verdict(),
                "note": r.note,
            }
        )
    payload = {"environment": env, "config": config, "results": records}
    Path(path).write_text(json.dumps(payload, indent=2) + "\n")
