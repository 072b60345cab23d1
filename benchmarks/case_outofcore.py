"""Case G of issue 4: out-of-core conversion. A likelihood map cube whose data (norm, norm_err, norm_ul,
ts; float64) is 4x a memory cap is written to netCDF; a child process opens it with
``fluxds.open_dataset(path, chunks=...)``, converts it to dnde (``ds.sed.to_sed_type("dnde")``) plus
``e2dnde`` and writes it with ``fluxds.write`` (dask, chunk by chunk). The child reports its peak RSS
(``VmHWM``), which must stay under the cap. The raw limit does the same work
with h5py, one (10, 256, 256) block at a time, in a child of its own. Both outputs are compared.

Run alone: ``python benchmarks/case_outofcore.py --cap-mb 512`` (the child mode is internal).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.harness import Row, Timing  # noqa: E402

__all__ = ["bench_out_of_core", "make_input"]

VARS = ("norm", "norm_err", "norm_ul", "ts")
CHUNKS = {"energy": -1, "lat": 256, "lon": 256}
BLOCK = 256


def _side(cap_bytes: int, factor: float = 4.0) -> int:
    """N such that the 4 float64 (10, N, N) variables hold at least ``factor`` x ``cap_bytes``."""
    return int(np.ceil(np.sqrt(factor * cap_bytes / (len(VARS) * 10 * 8))))


def make_input(path: Path, n: int) -> int:
    """Write the (10, n, n) likelihood cube with fluxds (uncompressed, chunks (10, 256, 256)); returns the
    bytes of its data variables."""
    import fluxds
    from benchmarks.synthetic import likelihood_arrays, map_dataset

    arrays = {k: v for k, v in likelihood_arrays((10, n, n), seed=17).items() if k in VARS}
    ds = map_dataset(arrays)
    plain = {k: {"zlib": False, "shuffle": False} for k in VARS}
    fluxds.write(ds, path, overwrite=True, encoding=plain)
    return sum(v.nbytes for v in arrays.values())


def _child_fluxds(src: str, dst: str, engine: str | None = None) -> dict:
    import fluxds

    t0 = time.perf_counter()
    ds = fluxds.open_dataset(src, chunks=CHUNKS, **({"engine": engine} if engine else {}))
    out = ds.sed.to_sed_type("dnde")
    out["e2dnde"] = ds.sed.e2dnde
    fluxds.write(out, dst, overwrite=True)
    return {"seconds": time.perf_counter() - t0}


def _child_raw(src: str, dst: str) -> dict:
    """The same work with h5py and numpy, one (10, 256, 256) block at a time."""
    import astropy.units as u
    import h5py

    t0 = time.perf_counter()
    with h5py.File(src, "r") as f, h5py.File(dst, "w") as g:
        ref_unit = u.Unit(
            f["ref_dnde"].attrs["units"].decode()
            if isinstance(f["ref_dnde"].attrs["units"], bytes)
            else f["ref_dnde"].attrs["units"]
        )
        e_unit = u.Unit(
            f["energy"].attrs["units"].decode()
            if isinstance(f["energy"].attrs["units"], bytes)
            else f["energy"].attrs["units"]
        )
        k = ref_unit.to("cm-2 s-1 TeV-1")
        k2 = (ref_unit * e_unit**2).to("erg cm-2 s-1")
        ref = f["ref_dnde"][...][:, None, None]
        dnde_ref = ref * k
        e2_ref = ref * f["energy"][...][:, None, None] ** 2 * k2
        shape = f["norm"].shape
        opts = {
            "chunks": (shape[0], BLOCK, BLOCK),
            "compression": "gzip",
            "compression_opts": 1,
            "shuffle": True,
        }
        outs = {
            name: g.create_dataset(name, shape, dtype="f8", **opts)
            for name in ("dnde", "dnde_err", "dnde_ul", "e2dnde", "ts")
        }
        for y in range(0, shape[1], BLOCK):
            for x in range(0, shape[2], BLOCK):
                sl = (slice(None), slice(y, y + BLOCK), slice(x, x + BLOCK))
                norm = f["norm"][sl]
                outs["dnde"][sl] = norm * dnde_ref
                outs["e2dnde"][sl] = norm * e2_ref
                outs["dnde_err"][sl] = f["norm_err"][sl] * dnde_ref
                outs["dnde_ul"][sl] = f["norm_ul"][sl] * dnde_ref
                outs["ts"][sl] = f["ts"][sl]
    return {"seconds": time.perf_counter() - t0}


def _peak_rss() -> int:
    """This process's peak RSS in bytes: ``VmHWM`` (Linux; reset by exec, unlike ``ru_maxrss``, which
    keeps the high-water mark of the forked parent image), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _run_child(mode: str, src: Path, dst: Path) -> tuple[dict, float]:
    """Run a child; returns its report and its peak RSS in bytes (as the child measured it)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(src), str(dst)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"out-of-core child {mode} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, float(report["peak_rss"])


def _check(ours: Path, raw: Path, src: Path) -> None:
    """fluxds's output equals the raw one (every block), and dnde = norm * ref_dnde on a corner."""
    import h5py
    import xarray as xr

    with xr.open_dataset(ours, chunks={}) as a, h5py.File(raw, "r") as b:
        ny = a.sizes["iy"]
        for name in ("dnde", "dnde_err", "dnde_ul", "e2dnde", "ts"):
            for y in range(0, ny, 1024):
                got = a[name].transpose("energy", "iy", "ix")[:, y : y + 1024].values
                np.testing.assert_allclose(got, b[name][:, y : y + 1024], rtol=1e-14, err_msg=name)
    with xr.open_dataset(src) as s, xr.open_dataset(ours) as a:
        corner = {"iy": slice(0, 50), "ix": slice(0, 50)}
        want = s["norm"][corner].values * s["ref_dnde"].values[:, None, None]
        np.testing.assert_allclose(a["dnde"][corner].values, want, rtol=1e-14)


ENGINES = {
    "netcdf4": ("fluxds", "default engine (netcdf4)"),
    "h5netcdf": ("fluxds:h5netcdf", "engine='h5netcdf'"),
}


def bench_out_of_core(r, cap_mb: int, tmp: Path, engines=("netcdf4", "h5netcdf"), log=print) -> None:
    cap = cap_mb * 2**20
    n = _side(cap)
    src, ours, raw = tmp / "cube.nc", tmp / "cube_dnde.nc", tmp / "cube_raw.h5"
    log(f"  G: writing the {n} x {n} x 10 input cube ...")
    nbytes = make_input(src, n)
    rep_raw, rss_raw = _run_child("raw", src, raw)
    for mode, label in (ENGINES[e] for e in engines):
        rep, rss = _run_child(mode, src, ours)
        _check(ours, raw, src)
        under = rss < cap
        note = (
            f"peak RSS {rss / 2**20:.0f} MiB ({'under' if under else 'OVER'} the {cap_mb} MiB cap; data "
            f"{nbytes / 2**20:.0f} MiB = {nbytes / cap:.1f}x the cap; raw child {rss_raw / 2**20:.0f} MiB)"
        )
        r.add(
            Row(
                "G. out-of-core: netCDF cube 4x the memory cap -> dnde + e2dnde -> netCDF",
                f"N = {n}, open_dataset {label}",
                Timing(rep["seconds"], 1, 1),
                Timing(rep_raw["seconds"], 1, 1),
                None,
                None,
                how={
                    "fluxds": f"child: fluxds.open_dataset(path, chunks={CHUNKS}"
                    + ("" if mode == "fluxds" else ", engine='h5netcdf'")
                    + "); to_sed_type('dnde') + e2dnde; fluxds.write(out, 'x.nc') (dask, threads)",
                    "baseline": "child: h5py + numpy, one (10, 256, 256) block at a time, gzip 1 + shuffle",
                },
                note=("met: " if under else "MISSED: ") + note,
            )
        )
    for p in (src, ours, raw):
        p.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", nargs=3, metavar=("MODE", "SRC", "DST"), help=argparse.SUPPRESS)
    parser.add_argument("--cap-mb", type=int, default=512)
    args = parser.parse_args(argv)
    if args.child:
        mode, src, dst = args.child
        if mode == "raw":
            report = _child_raw(src, dst)
        else:
            report = _child_fluxds(src, dst, engine=None if mode == "fluxds" else mode.split(":")[1])
        print(json.dumps({**report, "peak_rss": _peak_rss()}))
        return 0
    import tempfile

    from benchmarks.cases import QUICK, Runner
    from benchmarks.harness import format_table

    r = Runner(QUICK, print)
    with tempfile.TemporaryDirectory(prefix="fluxds-ooc-") as tmp:
        bench_out_of_core(r, args.cap_mb, Path(tmp))
    print(format_table(r.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
