"""Cases C, E and F of issue 4: light-curve FITS write/read (C), flux-map FITS write/read (E), and the
same map to and from netCDF (both engines) and zarr against raw h5py (F). Every file is read back by the
other implementations and compared before anything is timed.

C and E have three baselines each (issue 16): the **limit**, ``np.save``/``np.load`` of the same arrays
(the goals are ratios to it); the **format floor**, a one-pass numpy writer/reader of the same FITS
bytes (header blocks as they are, the data big-endian: images written with one byteswapped copy each and
read by a memory map converted to native order; a table as the row-interleaved big-endian record array
built once with a structured dtype, read back column by column), checked to write the identical file;
and bare ``astropy.io.fits``. The read of E also reports the peak memory of a child process (``VmHWM``)
for fluxds, ``np.load`` and gammapy.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from astropy.io import fits

import fluxds
from benchmarks.harness import Row
from benchmarks.synthetic import lightcurve_dataset, likelihood_arrays, map_dataset

__all__ = ["bench_lightcurve", "bench_map_fits", "bench_map_hdf"]

MAP_VARS = ("norm", "norm_err", "norm_ul", "ts", "success")
BLOCK = 2880  # the FITS block
ROOT = Path(__file__).resolve().parent.parent


def _raw_columns(path: Path) -> list[tuple[str, list]]:
    """Every table HDU of a FITS file as (name, fits.Column list with numpy arrays)."""
    out = []
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.BinTableHDU):
                cols = [
                    fits.Column(
                        name=c.name, format=c.format, unit=c.unit, dim=c.dim, array=np.array(hdu.data[c.name])
                    )
                    for c in hdu.columns
                ]
                out.append((hdu.name, cols))
    return out


def _raw_write(tables: list, path: Path) -> None:
    hdus = [fits.PrimaryHDU()] + [fits.BinTableHDU.from_columns(cols, name=name) for name, cols in tables]
    fits.HDUList(hdus).writeto(path, overwrite=True)


def _raw_read(path: Path) -> list[dict[str, np.ndarray]]:
    out = []
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.BinTableHDU):
                data = hdu.data
                out.append({n: data[n].astype(data[n].dtype.newbyteorder("=")) for n in data.names})
    return out


def _native(a: np.ndarray) -> np.ndarray:
    return a.astype(a.dtype.newbyteorder("="))


def _npy_save(arrays: dict[str, np.ndarray], paths: dict[str, Path]) -> None:
    """The limit's write: ``np.save`` of each array to its own ``.npy`` file."""
    for k, v in arrays.items():
        np.save(paths[k], v)


def _npy_load(paths: dict[str, Path]) -> dict[str, np.ndarray]:
    """The limit's read: ``np.load`` of each ``.npy`` file."""
    return {k: np.load(p) for k, p in paths.items()}


def _hdu_parts(path: Path) -> list[dict]:
    """Every HDU of a FITS file as the format floor sees it: its header bytes (as written), where its
    data starts, and its data: an image's dtype and shape; else the data bytes verbatim and, for a binary
    table, its record dtype (big-endian, row-interleaved) and row count."""
    raw = path.read_bytes()
    parts = []
    with fits.open(path, memmap=False) as hdul:
        for hdu in hdul:
            info = hdu.fileinfo()
            part = {
                "name": hdu.name,
                "header": raw[info["hdrLoc"] : info["datLoc"]],
                "offset": info["datLoc"],
            }
            end = info["datLoc"] + info["datSpan"]
            if hdu.is_image and hdu.header.get("NAXIS", 0):
                part["dtype"], part["shape"] = hdu.data.dtype, hdu.data.shape
                parts.append(part)
                continue
            part["raw"] = raw[info["datLoc"] : end]
            if isinstance(hdu, fits.BinTableHDU) and not hdu.header.get("PCOUNT", 0):
                part["records"], part["rows"] = hdu.data.view(np.ndarray).dtype, len(hdu.data)
            parts.append(part)
    return parts


def _padding(nbytes: int) -> bytes:
    return bytes(-nbytes % BLOCK)


def _floor_write(parts: list[dict], data: dict, path: Path, fsync: bool) -> None:
    """The format floor's write: each header as it is, each image with one byteswapped copy
    (``astype('>f8').tofile``; booleans as bytes), each table of ``data`` (HDU name -> column name ->
    native array) as its record array built once and written whole; other HDUs' data verbatim. Into a
    new file renamed over ``path``, as fluxds writes (truncating a file whose blocks are on disk costs
    the block discards inside the write, renaming over it frees them in the rename: both like fluxds)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        for part in parts:
            f.write(part["header"])
            if "dtype" in part:
                a = data[part["name"].lower()]
                out = a.view(np.uint8) if a.dtype == bool else a.astype(a.dtype.newbyteorder(">"))
            elif "records" in part and part["name"] in data:
                out = np.empty(part["rows"], part["records"])
                for name, column in data[part["name"]].items():
                    out[name] = column
            else:
                f.write(part["raw"])
                continue
            out.tofile(f)
            f.write(_padding(out.nbytes))
        if fsync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)  # as fluxds replaces a file (the old one freed here): a new file each time


def _floor_read_images(path: Path, parts: list[dict]) -> dict[str, np.ndarray]:
    """The format floor's read of images: a memory map at each data offset, converted to native order
    in one pass (``astype``)."""
    out = {}
    for part in parts:
        if "dtype" in part:
            m = np.memmap(path, dtype=part["dtype"], mode="r", offset=part["offset"], shape=part["shape"])
            out[part["name"].lower()] = m.astype(m.dtype.newbyteorder("="))
    return out


def _floor_read_tables(path: Path, parts: list[dict]) -> list[dict[str, np.ndarray]]:
    """The format floor's read of tables: the record array read at its data offset (``np.fromfile``),
    then every column to a native array, one at a time."""
    out = []
    with open(path, "rb") as f:
        for part in parts:
            if "records" in part:
                f.seek(part["offset"])
                rec = np.fromfile(f, dtype=part["records"], count=part["rows"])
                out.append({name: _native(rec[name]) for name in rec.dtype.names})
    return out


def _table_columns(parts: list[dict], path: Path) -> dict[str, dict[str, np.ndarray]]:
    """The columns of every table of a file as native arrays (the inputs of the limit and the floor)."""
    tables = _floor_read_tables(path, parts)
    names = [p["name"] for p in parts if "records" in p]
    return dict(zip(names, tables, strict=True))


def _floor_rows(r, section: str, label: str, fluxds_fn, floor_fn, how: dict, note: str = "") -> None:
    r.add(
        Row(
            section,
            f"{label} vs format floor",
            r.time(fluxds_fn),
            r.time(floor_fn),
            None,
            None,
            how=how,
            goal=1.3,
            note=note,
        )
    )


def bench_lightcurve(r, n_time: int, gp_bins: int, tmp: Path) -> None:
    """Case C: a light curve of n_time bins x 3 energies x 11 scan points, FITS (gammapy's layout)."""
    lc = lightcurve_dataset(n_time)
    ours, raw, theirs = tmp / f"lc_{n_time}.fits", tmp / f"lc_raw_{n_time}.fits", tmp / f"lc_gp_{n_time}.fits"
    floor = tmp / f"lc_floor_{n_time}.fits"
    fluxds.write(lc, ours, overwrite=True)
    tables = _raw_columns(ours)
    _raw_write(tables, raw)
    back = fluxds.read(ours)
    for name in ("norm", "norm_err", "norm_ul", "ts", "stat_scan"):
        np.testing.assert_array_equal(back[name].values, lc[name].values, err_msg=name)
    np.testing.assert_array_equal(_raw_read(raw)[0]["norm"], lc["norm"].values)
    parts = _hdu_parts(ours)
    columns = _table_columns(parts, ours)
    flat = {f"{t}.{c}": v for t, cols in columns.items() for c, v in cols.items()}
    npy = {k: tmp / f"lc_{n_time}_{k}.npy" for k in flat}
    _npy_save(flat, npy)
    for k, v in _npy_load(npy).items():
        np.testing.assert_array_equal(v, flat[k], err_msg=k)
    _floor_write(parts, columns, floor, fsync=True)
    assert floor.read_bytes() == ours.read_bytes(), "the format floor writes other bytes than fluxds"
    gp_sub = None
    if r.gammapy:
        from gammapy.estimators import FluxPoints

        n_gp = min(n_time, gp_bins)
        gp_sub = fluxds.to_gammapy(lc.isel(time=slice(0, n_gp)))
        gp_sub.write(theirs, format="lightcurve", overwrite=True)
        mine = fluxds.read(theirs)
        np.testing.assert_allclose(mine["norm"].values, lc["norm"].values[:n_gp], rtol=1e-12)
        gp_read = FluxPoints.read(ours, format="lightcurve")
        np.testing.assert_array_equal(gp_read.norm.data[..., 0, 0], lc["norm"].values)
    section = "C. light curve FITS, T time bins x 3 energies x 11 scan points"
    scale = n_time / min(n_time, gp_bins)
    note = "" if scale == 1 else f"; timed over the first {min(n_time, gp_bins)} bins, scaled x{scale:g}"

    def gp_write():
        gp_sub.write(theirs, format="lightcurve", overwrite=True)

    def gp_read_file():
        from gammapy.estimators import FluxPoints

        return FluxPoints.read(ours, format="lightcurve")

    def write():
        fluxds.write(lc, ours, overwrite=True)

    def read():
        return fluxds.read(ours)

    limit = f"np.save / np.load of the {len(flat)} column arrays fluxds writes (one .npy each)"
    r.add(
        Row(
            section,
            f"write, T = {n_time:g}",
            r.time(write),
            r.time(lambda: _npy_save(flat, npy)),
            r.gp(gp_write, scale=scale),
            None,
            how={
                "fluxds": "fluxds.write(lc, 'x.fits', overwrite=True) (gammapy's lightcurve layout, atomic)",
                "baseline": limit,
                "gammapy": "FluxPoints.write(path, format='lightcurve')" + note,
            },
            goal=5.0,
        )
    )
    _floor_rows(
        r,
        section,
        f"write, T = {n_time:g}",
        write,
        lambda: _floor_write(parts, columns, floor, fsync=True),
        {
            "baseline": "header bytes + the big-endian record array built once (structured dtype) + fsync, "
            "renamed over the old file"
        },
    )
    r.add(
        Row(
            section,
            f"write, T = {n_time:g}, vs bare astropy",
            r.time(write),
            r.time(lambda: _raw_write(tables, raw)),
            None,
            None,
            how={"baseline": "BinTableHDU.from_columns(the columns fluxds wrote) + writeto (no fsync)"},
        )
    )
    r.add(
        Row(
            section,
            f"read, T = {n_time:g}",
            r.time(read),
            r.time(lambda: _npy_load(npy)),
            r.gp(gp_read_file),
            None,
            how={
                "fluxds": "fluxds.read(path)",
                "baseline": limit,
                "gammapy": "FluxPoints.read(path, format='lightcurve')",
            },
            goal=3.0,
        )
    )
    _floor_rows(
        r,
        section,
        f"read, T = {n_time:g}",
        read,
        lambda: _floor_read_tables(ours, parts),
        {"baseline": "np.fromfile of the record array at its offset, then each column to native order"},
    )
    r.add(
        Row(
            section,
            f"read, T = {n_time:g}, vs bare astropy",
            r.time(read),
            r.time(lambda: _raw_read(ours)),
            None,
            None,
            how={"baseline": "fits.open + every column to a native numpy array"},
        )
    )


def _map(n: int):
    arrays = {k: v for k, v in likelihood_arrays((10, n, n), seed=5).items() if k in MAP_VARS}
    return arrays, map_dataset(arrays)


_CHILD = """
import json, sys
sys.path.insert(0, {root!r})
{imports}


def status(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))


{warm}
before = status("VmRSS:")
result = {call}
print(json.dumps({{"before": before, "peak": status("VmHWM:")}}))
"""


def _child_peak(imports: str, call: str, cwd: Path, warm: str = "") -> dict[str, int]:
    """Peak RSS (``VmHWM``, bytes) of a fresh Python process that runs ``imports``, ``warm`` (the same
    call on a tiny file: every module a read imports lazily is loaded) and ``call``, and its RSS before
    the call (the share of the interpreter and its modules)."""
    code = _CHILD.format(root=str(ROOT), imports=imports, call=call, warm=warm)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"peak-memory child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _read_peaks(ours: Path, npy: dict[str, Path], gammapy: bool, tmp: Path) -> str:
    """The note on the read's peak memory: fluxds, np.load and gammapy, each in a child process, as the
    peak RSS and as the peak over the RSS before the read (the data a read materialises; each child
    first reads a tiny file of the same kind, so that the modules a read imports are loaded)."""
    arrays, ds = _map(4)
    small, small_npy = tmp / "map_small.fits", {k: tmp / f"map_small_{k}.npy" for k in arrays}
    ds.sed.write(small, overwrite=True)
    _npy_save(arrays, small_npy)
    paths, small_paths = [str(p) for p in npy.values()], [str(p) for p in small_npy.values()]
    load, small_load = f"[np.load(p) for p in {paths!r}]", f"[np.load(p) for p in {small_paths!r}]"
    peaks = {
        "fluxds": _child_peak(
            "import fluxds", f"fluxds.read({str(ours)!r})", tmp, f"fluxds.read({str(small)!r})"
        ),
        "np.load": _child_peak("import numpy as np", load, tmp, small_load),
    }
    if gammapy:
        peaks["gammapy"] = _child_peak(
            "from gammapy.estimators import FluxMaps",
            f"FluxMaps.read({str(ours)!r})",
            tmp,
            f"FluxMaps.read({str(small)!r})",
        )
    mib = 2**20
    text = "; ".join(
        f"{k} {v['peak'] / mib:.0f} MiB ({(v['peak'] - v['before']) / mib:.0f} over the RSS before the read)"
        for k, v in peaks.items()
    )
    ratio = (peaks["fluxds"]["peak"] - peaks["fluxds"]["before"]) / (
        peaks["np.load"]["peak"] - peaks["np.load"]["before"]
    )
    verdict = "met" if ratio <= 1.1 else "MISSED"
    return (
        f"peak RSS (child VmHWM): {text}; fluxds/np.load over the RSS before the read {ratio:.2f}x "
        f"(goal <= 1.1x: {verdict})"
    )


def bench_map_fits(r, n: int, tmp: Path) -> None:
    """Case E: a likelihood flux map (norm, norm_err, norm_ul, ts: 10 x n x n float64; success) to and
    from FITS. Run from ``tmp``: gammapy looks for the model file named in ``MODEL`` relative to the
    working directory."""
    with contextlib.chdir(tmp):
        _bench_map_fits(r, n, tmp)


def _astropy_write(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Bare astropy: one ImageHDU per array (booleans as bytes) + writeto."""
    hdus = [fits.PrimaryHDU()] + [
        fits.ImageHDU(v.view(np.uint8) if v.dtype == bool else v, name=k.upper()) for k, v in arrays.items()
    ]
    fits.HDUList(hdus).writeto(path, overwrite=True)


def _astropy_read(path: Path) -> dict[str, np.ndarray]:
    """Bare astropy: fits.open + every image to a native numpy array."""
    with fits.open(path, memmap=False) as hdul:
        return {h.name.lower(): _native(h.data) for h in hdul if h.is_image and h.header.get("NAXIS", 0)}


def _check_map_files(r, ds, arrays, ours: Path, theirs: Path, floor: Path, parts, npy) -> object:
    """Every implementation reads what the others wrote, the floor writes fluxds's bytes; gammapy's
    FluxMaps (or None)."""
    back = fluxds.read(ours)
    loaded = _npy_load(npy)
    floor_back = _floor_read_images(ours, parts)
    for k in arrays:
        np.testing.assert_array_equal(back[k].values, arrays[k], err_msg=k)
        np.testing.assert_array_equal(loaded[k], arrays[k], err_msg=k)
        np.testing.assert_array_equal(floor_back[k].astype(arrays[k].dtype), arrays[k], err_msg=k)
    _floor_write(parts, arrays, floor, fsync=False)
    assert floor.read_bytes() == ours.read_bytes(), "the format floor writes other bytes than fluxds"
    if not r.gammapy:
        return None
    from gammapy.estimators import FluxMaps

    fm = fluxds.to_gammapy(ds)
    fm.write(theirs, overwrite=True)
    gp = FluxMaps.read(ours)
    np.testing.assert_array_equal(gp.success.data, arrays["success"])
    # gammapy's FluxMaps hides the norms of failed fits (filter_success_nan), and writes them so
    shown = np.where(arrays["success"], arrays["norm"], np.nan)
    np.testing.assert_array_equal(gp.norm.data, shown)
    np.testing.assert_array_equal(fluxds.read(theirs)["norm"].values, shown)
    return fm


def _bench_map_fits(r, n: int, tmp: Path) -> None:
    arrays, ds = _map(n)
    ours, theirs, floor = tmp / f"map_{n}.fits", tmp / f"map_gp_{n}.fits", tmp / f"map_floor_{n}.fits"
    bare = tmp / f"map_astropy_{n}.fits"
    npy = {k: tmp / f"map_{n}_{k}.npy" for k in arrays}
    ds.sed.write(ours, overwrite=True)
    _npy_save(arrays, npy)
    parts = _hdu_parts(ours)
    fm = _check_map_files(r, ds, arrays, ours, theirs, floor, parts, npy)
    _astropy_write(arrays, bare)
    section = f"E. flux map FITS, {len(arrays)} maps of 10 x {n} x {n} (float64; success bool)"
    limit = f"np.save / np.load of the {len(arrays)} arrays (.npy files)"

    def write(fsync: bool = True):
        ds.sed.write(ours, overwrite=True, fsync=fsync)

    def read():
        return fluxds.read(ours)

    def gp_read():
        from gammapy.estimators import FluxMaps

        return FluxMaps.read(ours)

    t_write, t_nosync = r.time(write), r.time(lambda: write(fsync=False))
    share = 1 - t_nosync.seconds / t_write.seconds
    sync_note = f"fsync share of fluxds's write: {share:.0%} (fsync=False: {t_nosync.seconds * 1e3:.0f} ms)"
    fluxds_how = "ds.sed.write('x.fits', overwrite=True) (atomic, fsync)"
    r.add(
        Row(
            section,
            "write",
            t_write,
            r.time(lambda: _npy_save(arrays, npy)),
            r.gp(lambda: fm.write(theirs, overwrite=True)),
            None,
            how={"baseline": limit, "fluxds": fluxds_how, "gammapy": "FluxMaps.write"},
            goal=1.5,
            note=sync_note,
        )
    )
    r.add(
        Row(
            section,
            "write, fsync=False",
            t_nosync,
            r.time(lambda: _npy_save(arrays, npy)),
            None,
            None,
            how={"baseline": limit, "fluxds": "ds.sed.write('x.fits', overwrite=True, fsync=False)"},
            goal=1.5,
        )
    )
    _floor_rows(
        r,
        section,
        "write",
        write,
        lambda: _floor_write(parts, arrays, floor, fsync=True),
        {"baseline": "header bytes + astype('>f8').tofile per image + fsync, renamed over the old file"},
    )
    _floor_rows(
        r,
        section,
        "write, fsync=False",
        lambda: write(fsync=False),
        lambda: _floor_write(parts, arrays, floor, fsync=False),
        {"baseline": "header bytes + astype('>f8').tofile per image, renamed over the old file"},
    )
    r.add(
        Row(
            section,
            "write vs bare astropy",
            t_write,
            r.time(lambda: _astropy_write(arrays, bare)),
            None,
            None,
            how={"baseline": "ImageHDU per array + HDUList.writeto (no fsync)"},
        )
    )
    r.add(
        Row(
            section,
            "read",
            r.time(read),
            r.time(lambda: _npy_load(npy)),
            r.gp(gp_read),
            None,
            how={
                "baseline": limit,
                "fluxds": "fluxds.read('x.fits') (all data in memory)",
                "gammapy": "FluxMaps.read",
            },
            goal=1.3,
            note=_read_peaks(ours, npy, r.gammapy, tmp),
        )
    )
    _floor_rows(
        r,
        section,
        "read",
        read,
        lambda: _floor_read_images(ours, parts),
        {"baseline": "np.memmap at each image's data offset + astype to native order (headers known)"},
    )
    r.add(
        Row(
            section,
            "read vs bare astropy",
            r.time(read),
            r.time(lambda: _astropy_read(ours)),
            None,
            None,
            how={"baseline": "fits.open(memmap=False) + every image to a native numpy array"},
        )
    )


def _h5_write(path: Path, arrays: dict, compressed: bool) -> None:
    """The arrays to HDF5 with h5py: zlib 1 + shuffle in (10, 256, 256) chunks (fluxds's netCDF default)
    or contiguous and uncompressed."""
    with h5py.File(path, "w") as f:
        for k, v in arrays.items():
            if compressed:
                chunks = (v.shape[0], min(256, v.shape[1]), min(256, v.shape[2]))
                f.create_dataset(
                    k, data=v, chunks=chunks, compression="gzip", compression_opts=1, shuffle=True
                )
            else:
                f.create_dataset(k, data=v)


def _h5_read(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {k: f[k][...] for k in f}


def bench_map_hdf(r, n: int, tmp: Path) -> None:
    """Case F: the case-E map to and from netCDF (netcdf4 and h5netcdf engines) and zarr, vs raw h5py."""
    arrays, ds = _map(n)
    section = f"F. flux map netCDF/zarr, 4 maps of 10 x {n} x {n} float64, vs raw h5py"
    plain = {k: {"zlib": False, "chunksizes": None, "contiguous": True, "shuffle": False} for k in arrays}
    raw_c, raw_u = tmp / "raw_c.h5", tmp / "raw_u.h5"
    for path, compressed in ((raw_c, True), (raw_u, False)):
        _h5_write(path, arrays, compressed)
        for k, v in _h5_read(path).items():
            np.testing.assert_array_equal(v, arrays[k], err_msg=k)
    cases = [
        ("netcdf4", tmp / "m4.nc", {"engine": "netcdf4"}, raw_c, True),
        ("h5netcdf", tmp / "mh.nc", {"engine": "h5netcdf"}, raw_c, True),
        ("netcdf4, uncompressed", tmp / "m4u.nc", {"engine": "netcdf4", "encoding": plain}, raw_u, False),
        ("zarr", tmp / "m.zarr", {}, raw_c, True),
    ]
    for label, path, options, raw, compressed in cases:
        fluxds.write(ds, path, overwrite=True, **options)
        back = fluxds.read(path)
        for k in arrays:
            np.testing.assert_array_equal(back[k].values, arrays[k], err_msg=f"{label}: {k}")
        how = {
            "fluxds": f"fluxds.write(ds, path, overwrite=True, {', '.join(f'{k}=...' for k in options)})"
            " / fluxds.read",
            "baseline": "h5py create_dataset per array, "
            + ("gzip 1 + shuffle, chunks (10, 256, 256)" if compressed else "contiguous, uncompressed")
            + " / f[name][...]",
        }
        r.add(
            Row(
                section,
                f"write {label}",
                r.time(lambda path=path, options=options: fluxds.write(ds, path, overwrite=True, **options)),
                r.time(lambda raw=raw, compressed=compressed: _h5_write(raw, arrays, compressed)),
                None,
                None,
                how=how,
                goal=1.5,
            )
        )
        r.add(
            Row(
                section,
                f"read {label}",
                r.time(lambda path=path: fluxds.read(path)),
                r.time(lambda raw=raw: _h5_read(raw)),
                None,
                None,
                how=how,
                goal=1.5,
            )
        )
