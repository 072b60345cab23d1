"""Cases C, E and F of issue 4: light-curve FITS write/read (C), flux-map FITS write/read against
np.save/np.load (E), and the same map to and from netCDF (both engines) and zarr against raw h5py (F).
Every file is read back by the other implementations and compared before anything is timed."""

from __future__ import annotations

import contextlib
from pathlib import Path

import h5py
import numpy as np
from astropy.io import fits

import fluxds
from benchmarks.harness import Row
from benchmarks.synthetic import lightcurve_dataset, likelihood_arrays, map_dataset

__all__ = ["bench_lightcurve", "bench_map_fits", "bench_map_hdf"]

MAP_VARS = ("norm", "norm_err", "norm_ul", "ts")


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


def bench_lightcurve(r, n_time: int, gp_bins: int, tmp: Path) -> None:
    """Case C: a light curve of n_time bins x 3 energies x 11 scan points, FITS (gammapy's layout)."""
    lc = lightcurve_dataset(n_time)
    ours, raw, theirs = tmp / f"lc_{n_time}.fits", tmp / f"lc_raw_{n_time}.fits", tmp / f"lc_gp_{n_time}.fits"
    fluxds.write(lc, ours, overwrite=True)
    tables = _raw_columns(ours)
    _raw_write(tables, raw)
    back = fluxds.read(ours)
    for name in ("norm", "norm_err", "norm_ul", "ts", "stat_scan"):
        np.testing.assert_array_equal(back[name].values, lc[name].values, err_msg=name)
    np.testing.assert_array_equal(_raw_read(raw)[0]["norm"], lc["norm"].values)
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

    r.add(
        Row(
            section,
            f"write, T = {n_time:g}",
            r.time(lambda: fluxds.write(lc, ours, overwrite=True)),
            r.time(lambda: _raw_write(tables, raw)),
            r.gp(gp_write, scale=scale),
            None,
            how={
                "fluxds": "fluxds.write(lc, 'x.fits', overwrite=True) (gammapy's lightcurve layout, atomic)",
                "baseline": "BinTableHDU.from_columns(the columns fluxds wrote) + writeto",
                "gammapy": "FluxPoints.write(path, format='lightcurve')" + note,
            },
            goal=5.0,
        )
    )

    def gp_read_file():
        from gammapy.estimators import FluxPoints

        return FluxPoints.read(ours, format="lightcurve")

    r.add(
        Row(
            section,
            f"read, T = {n_time:g}",
            r.time(lambda: fluxds.read(ours)),
            r.time(lambda: _raw_read(ours)),
            r.gp(gp_read_file),
            None,
            how={
                "fluxds": "fluxds.read(path)",
                "baseline": "fits.open + every column to a native numpy array",
                "gammapy": "FluxPoints.read(path, format='lightcurve')",
            },
            goal=3.0,
        )
    )


def _map(n: int):
    arrays = {k: v for k, v in likelihood_arrays((10, n, n), seed=5).items() if k in MAP_VARS}
    return arrays, map_dataset(arrays)


def bench_map_fits(r, n: int, tmp: Path) -> None:
    """Case E: a likelihood flux map (norm, norm_err, norm_ul, ts; 10 x n x n float64) to and from FITS.
    Run from ``tmp``: gammapy looks for the model file named in ``MODEL`` relative to the working
    directory."""
    with contextlib.chdir(tmp):
        _bench_map_fits(r, n, tmp)


def _bench_map_fits(r, n: int, tmp: Path) -> None:
    arrays, ds = _map(n)
    ours, theirs = tmp / f"map_{n}.fits", tmp / f"map_gp_{n}.fits"
    npy = {k: tmp / f"map_{n}_{k}.npy" for k in arrays}

    def np_save():
        for k, v in arrays.items():
            np.save(npy[k], v)

    def np_load():
        return {k: np.load(p) for k, p in npy.items()}

    ds.sed.write(ours, overwrite=True)
    np_save()
    back = fluxds.read(ours)
    loaded = np_load()
    for k in arrays:
        np.testing.assert_array_equal(back[k].values, arrays[k], err_msg=k)
        np.testing.assert_array_equal(loaded[k], arrays[k], err_msg=k)
    fm = None
    if r.gammapy:
        from gammapy.estimators import FluxMaps

        fm = fluxds.to_gammapy(ds)
        fm.write(theirs, overwrite=True)
        np.testing.assert_array_equal(FluxMaps.read(ours).norm.data, arrays["norm"])
        np.testing.assert_array_equal(fluxds.read(theirs)["norm"].values, arrays["norm"])
    section = f"E. flux map FITS, 4 maps of 10 x {n} x {n} float64"
    how = {"baseline": "np.save / np.load of the 4 arrays (.npy files)"}
    r.add(
        Row(
            section,
            "write",
            r.time(lambda: ds.sed.write(ours, overwrite=True)),
            r.time(np_save),
            r.gp(lambda: fm.write(theirs, overwrite=True)),
            None,
            how={**how, "fluxds": "ds.sed.write('x.fits', overwrite=True)", "gammapy": "FluxMaps.write"},
            goal=1.5,
        )
    )

    def gp_read():
        from gammapy.estimators import FluxMaps

        return FluxMaps.read(ours)

    r.add(
        Row(
            section,
            "read",
            r.time(lambda: fluxds.read(ours)),
            r.time(np_load),
            r.gp(gp_read),
            None,
            how={**how, "fluxds": "fluxds.read('x.fits') (all data in memory)", "gammapy": "FluxMaps.read"},
            goal=1.3,
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
