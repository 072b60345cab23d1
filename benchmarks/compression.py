"""Compression and chunking of flux maps in netCDF and zarr, measured (issue 4, item 1).

For a (energy=10, lat=N, lon=N) map, float32 and float64, of two kinds of content:

- ``flux``: a realistic flux map, smooth sources on a diffuse background times Poisson-like noise, NaN
  outside a circular footprint and in a few masked regions (~35 % NaN);
- ``noise``: every pixel a random float (the worst case for any compressor),

it writes the map with xarray to netCDF-4 (netcdf4 engine) for each compression setting (none; zlib
levels 1/4/9, with and without the shuffle filter) and each chunk shape, and to zarr with the default
compressor and with zstd / blosc-lz4; then reports write time, full read time, the time to read one
energy plane and one 100 x 100 cutout across all energies, and the file size relative to the raw bytes.

Usage::

    python benchmarks/compression.py             # N = 1000 (the measurement in docs/performance.md)
    python benchmarks/compression.py --quick     # N = 300, for trying things out
    python benchmarks/compression.py --json benchmarks/compression.json
    python benchmarks/compression.py --show benchmarks/compression.json   # re-print saved results
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["make_map", "netcdf_configs", "zarr_configs", "run", "main"]

N_ENERGY = 10


def make_map(n: int, dtype: str, kind: str, seed: int = 7) -> np.ndarray:
    """A seeded (energy, lat, lon) map: ``kind`` ``flux`` (smooth + noise + NaN regions) or ``noise``."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        return rng.random((N_ENERGY, n, n)).astype(dtype)
    y, x = np.mgrid[0:n, 0:n] / n
    sky = 0.2 + 0.5 * np.exp(-(((y - 0.5) / 0.05) ** 2))  # a galactic-plane-like band
    for cy, cx, w, a in rng.uniform([0.1, 0.1, 0.005, 1], [0.9, 0.9, 0.03, 20], (30, 4)):
        sky = sky + a * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * w**2))
    spectrum = np.geomspace(1.0, 1e-4, N_ENERGY)[:, None, None]
    mean = 1e-11 * sky[None] * spectrum
    flux = mean * rng.gamma(20.0, 1 / 20.0, (N_ENERGY, n, n))  # ~22 % relative noise
    outside = (y - 0.5) ** 2 + (x - 0.5) ** 2 > 0.45**2
    for cy, cx, r in rng.uniform([0.2, 0.2, 0.02], [0.8, 0.8, 0.08], (5, 3)):
        outside |= (y - cy) ** 2 + (x - cx) ** 2 < r**2
    flux[:, outside] = np.nan
    return flux.astype(dtype)


def netcdf_configs(n: int) -> list[tuple[str, dict]]:
    """(label, encoding of the map variable): the compression sweep at chunks (energy, 256, 256), then
    the chunk sweep at zlib 1 + shuffle."""
    c = min(256, n)
    base = (N_ENERGY, c, c)
    out: list[tuple[str, dict]] = [("none, contiguous", {"contiguous": True})]
    out.append((f"none, chunks {base}", {"chunksizes": base}))
    for level in (1, 4, 9):
        for shuffle in (False, True):
            label = f"zlib {level}{' + shuffle' if shuffle else ''}, chunks {base}"
            out.append((label, {"zlib": True, "complevel": level, "shuffle": shuffle, "chunksizes": base}))
    for chunks in (
        (1, n, n),
        (N_ENERGY, min(128, n), min(128, n)),
        (1, c, c),
        (N_ENERGY, min(512, n), min(512, n)),
    ):
        label = f"zlib 1 + shuffle, chunks {chunks}"
        out.append((label, {"zlib": True, "complevel": 1, "shuffle": True, "chunksizes": chunks}))
    return out


def zarr_configs(n: int) -> list[tuple[str, dict]]:
    """(label, encoding) for zarr v3 stores at chunks (energy, 256, 256)."""
    from zarr.codecs import BloscCodec, ZstdCodec

    c = min(256, n)
    chunks = (N_ENERGY, c, c)
    return [
        (f"zarr default, chunks {chunks}", {"chunks": chunks}),
        (f"zarr none, chunks {chunks}", {"chunks": chunks, "compressors": None}),
        (f"zarr zstd 1, chunks {chunks}", {"chunks": chunks, "compressors": [ZstdCodec(level=1)]}),
        (f"zarr zstd 5, chunks {chunks}", {"chunks": chunks, "compressors": [ZstdCodec(level=5)]}),
        (
            f"zarr blosc lz4 + shuffle, chunks {chunks}",
            {"chunks": chunks, "compressors": [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]},
        ),
        (
            f"zarr blosc zstd 1 + shuffle, chunks {chunks}",
            {"chunks": chunks, "compressors": [BloscCodec(cname="zstd", clevel=1, shuffle="shuffle")]},
        ),
    ]


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _best(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _measure(ds: xr.Dataset, path: Path, store: str, encoding: dict, repeat: int) -> dict:
    n = ds.sizes["lat"]
    half = n // 2
    if store == "netcdf":

        def write():
            ds.to_netcdf(path, engine="netcdf4", encoding={"flux": encoding})

        def opened():
            return xr.open_dataset(path, engine="netcdf4", cache=False)

    else:

        def write():
            if path.exists():
                shutil.rmtree(path)
            ds.to_zarr(path, mode="w", encoding={"flux": encoding}, consolidated=True, zarr_format=3)

        def opened():
            return xr.open_zarr(path, consolidated=True, chunks=None)

    def read(sel=None):
        with opened() as f:
            var = f["flux"] if sel is None else f["flux"][sel]
            return var.values

    t_write = _best(write, repeat)
    back = read()
    np.testing.assert_array_equal(back, ds["flux"].values)  # lossless, NaNs included
    return {
        "write_s": t_write,
        "read_s": _best(read, repeat),
        "read_plane_s": _best(lambda: read({"energy": 5}), repeat),
        "read_cutout_s": _best(
            lambda: read({"lat": slice(half, half + 100), "lon": slice(half, half + 100)}), repeat
        ),
        "size_bytes": _size(path),
        "raw_bytes": ds["flux"].nbytes,
    }


def run(n: int = 1000, repeat: int = 2, log=print) -> list[dict]:
    """Every (content, dtype, store, setting) measured; one dict per measurement."""
    tmp = Path(tempfile.mkdtemp(prefix="fluxds-compress-"))
    rows = []
    try:
        for kind in ("flux", "noise"):
            for dtype in ("float32", "float64"):
                data = make_map(n, dtype, kind)
                ds = xr.Dataset({"flux": (("energy", "lat", "lon"), data)})
                configs = [("netcdf", label, enc) for label, enc in netcdf_configs(n)]
                configs += [("zarr", label, enc) for label, enc in zarr_configs(n)]
                for i, (store, label, enc) in enumerate(configs):
                    path = tmp / f"m{i}.{'nc' if store == 'netcdf' else 'zarr'}"
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        got = _measure(ds, path, store, enc, repeat)
                    rows.append({"content": kind, "dtype": dtype, "store": store, "setting": label, **got})
                    log(_line(rows[-1]))
                    if path.is_dir():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


HEADER = "| content | dtype | setting | write | read | read 1 plane | read 100x100 cutout | size / raw |"


def _line(r: dict) -> str:
    return (
        f"| {r['content']} | {r['dtype']} | {r['setting']} | {r['write_s'] * 1e3:.0f} ms | "
        f"{r['read_s'] * 1e3:.0f} ms | {r['read_plane_s'] * 1e3:.1f} ms | "
        f"{r['read_cutout_s'] * 1e3:.1f} ms | "
        f"{r['size_bytes'] / r['raw_bytes']:.3f} |"
    )


def table(rows: list[dict]) -> str:
    """The measurements as a Markdown table."""
    return "\n".join([HEADER, "|---|---|---|--:|--:|--:|--:|--:|", *(_line(r) for r in rows)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="N = 300 instead of 1000")
    parser.add_argument("--n", type=int, default=None, help="map size N (N x N x 10)")
    parser.add_argument("--repeat", type=int, default=2, help="best of this many timings")
    parser.add_argument("--json", metavar="PATH", help="also write the measurements as JSON")
    parser.add_argument("--show", metavar="PATH", help="print the table of a saved JSON file; run nothing")
    args = parser.parse_args(argv)
    if args.show:
        saved = json.loads(Path(args.show).read_text())
        print(f"flux map {N_ENERGY} x {saved['n']} x {saved['n']}; best of {saved['repeat']}")
        print(table(saved["rows"]))
        return 0
    n = args.n or (300 if args.quick else 1000)
    print(f"flux map {N_ENERGY} x {n} x {n}; best of {args.repeat}", flush=True)
    print(HEADER + "\n|---|---|---|--:|--:|--:|--:|--:|", flush=True)
    start = time.perf_counter()
    rows = run(n, args.repeat, log=lambda s: print(s, flush=True))
    print(f"\nwall time {time.perf_counter() - start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": n, "repeat": args.repeat, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
