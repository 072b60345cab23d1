"""fluxds.concat_files: many inputs as one Dataset along source or time, written incrementally (memory
bounded by one input, not the total), atomic, resumable, failures per file."""

from __future__ import annotations

import shutil
import tracemalloc

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from helpers import WRITTEN

import fluxds
from fluxds.cli import main


def _sed(index: float, seed: int, n_energy: int = 4, n_scan: int = 0) -> xr.Dataset:
    """A likelihood SED with a power-law reference of the given index (parabolic profiles when n_scan)."""
    rng = np.random.default_rng(seed)
    edges = np.geomspace(1, 16, n_energy + 1)
    norm = rng.normal(1, 0.2, n_energy)
    err = rng.uniform(0.05, 0.2, n_energy)
    extra = {}
    if n_scan:
        scan = np.linspace(0, 3, n_scan) * np.ones((n_energy, 1))
        extra = {
            "norm_scan": scan,
            "stat_scan": ((scan - norm[:, None]) / err[:, None]) ** 2,
            "stat": np.zeros(n_energy),
        }
    model = fluxds.models.PowerLaw(
        index=index, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV
    )
    return fluxds.from_likelihood(
        norm,
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=model,
        norm_err=err,
        ts=rng.uniform(0, 50, n_energy),
        **extra,
    )


def test_sources_with_different_reference_models(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i in range(30):
        path = folder / f"src{i:02d}.fits"
        _sed(2.0 + 0.02 * i, seed=i).sed.write(path)
        paths.append(path)
    result = fluxds.concat_files(paths, tmp_path / "catalog.nc", dim="source", progress=False)
    assert result.ok and result.written == [tmp_path / "catalog.nc"]
    catalog = fluxds.read(tmp_path / "catalog.nc")
    assert list(catalog.source.values) == [p.stem for p in paths]  # named by file, in input order
    for path in paths[::7]:
        one = fluxds.read(path)
        for name in ("dnde", "flux", "e2dnde_err", "ts"):
            np.testing.assert_array_equal(
                catalog.sed.get(name).sel(source=path.stem).values, one.sed.get(name).values
            )
        # each source keeps its own reference model
        assert catalog.sed.reference_model[path.stem] == one.sed.reference_model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.nc", "in"]  # parts removed


def test_multi_source_files_and_duplicate_names(tmp_path):
    fm = fluxds.read(WRITTEN / "fm_excess.fits")
    from astropy.coordinates import SkyCoord

    positions = SkyCoord([0.0, 0.1, -0.1, 0.2], [0.0, 0.0, 0.05, 0.1], unit="deg", frame="galactic")
    seds = fm.sed.get_flux_points(positions, names=["a", "b", "c", "d"])
    seds.isel(source=[0, 1]).sed.write(tmp_path / "ab.nc")
    seds.isel(source=[2, 3]).sed.write(tmp_path / "cd.nc")
    fluxds.concat_files([tmp_path / "ab.nc", tmp_path / "cd.nc"], tmp_path / "all.nc", progress=False)
    # variables one file shares between its sources (the reference fluxes) gain the source dimension
    shared = [v for v in seds.data_vars if "source" not in seds[v].dims]
    assert shared  # the test is about them
    expected = seds.assign({v: seds[v].expand_dims(source=seds.source.values) for v in shared})
    xr.testing.assert_identical(fluxds.read(tmp_path / "all.nc"), expected)
    shutil.copyfile(tmp_path / "ab.nc", tmp_path / "ab-again.nc")
    with pytest.raises(fluxds.FluxdsError, match=r"duplicate source names .*'a'"):
        fluxds.concat_files(
            [tmp_path / "ab.nc", tmp_path / "ab-again.nc"], tmp_path / "dup.nc", progress=False
        )
    with pytest.raises(fluxds.FormatError, match="listed more than once"):
        fluxds.concat_files([tmp_path / "ab.nc", tmp_path / "ab.nc"], tmp_path / "dup.nc", progress=False)
    assert not (tmp_path / "dup.nc").exists()


def test_light_curve_nights_along_time_in_any_order(tmp_path):
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    assert lc.sizes["time"] == lc.sizes["gti"]  # one GTI per night in this file
    paths = []
    for i in range(lc.sizes["time"]):
        path = tmp_path / f"night{i}.fits"
        lc.isel(time=[i], gti=[i]).sed.write(path)
        paths.append(path)
    out = tmp_path / "long.zarr"
    result = fluxds.concat_files(paths[::-1], out, dim="time", progress=False)
    assert result.ok
    xr.testing.assert_identical(fluxds.read(out), lc)


def _peak_concat(folder, n: int, group_size: int) -> tuple[int, int]:
    """Peak numpy/Python memory traced while concatenating n inputs of ~0.64 MB of profiles each; and
    the size of one input."""
    folder.mkdir()
    paths = []
    for i in range(n):
        path = folder / f"s{i:03d}.nc"
        _sed(2.3, seed=i, n_energy=20, n_scan=2000).sed.write(path)
        paths.append(path)
    tracemalloc.start()
    try:
        result = fluxds.concat_files(paths, folder / "big.nc", progress=False, group_size=group_size)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.ok
    back = fluxds.open_dataset(folder / "big.nc", chunks={"source": 1})
    np.testing.assert_array_equal(
        back["stat_scan"].isel(source=n - 1).values, fluxds.read(paths[-1])["stat_scan"].values
    )
    return peak, fluxds.read(paths[0]).nbytes


def test_memory_bounded_by_the_group_not_the_total(tmp_path):
    """Four times more inputs, nearly the same peak memory: it is set by the group (4 inputs), not the
    total. What grows with the number of inputs is the bookkeeping of the parts (the dask graph, the
    lazily opened parts), a small fraction of an input's data per input."""
    _peak_concat(tmp_path / "warm", 8, group_size=4)  # first imports and caches, outside the comparison
    small, one = _peak_concat(tmp_path / "a", 20, group_size=4)
    large, _ = _peak_concat(tmp_path / "b", 80, group_size=4)
    # holding the inputs would add 60 inputs' data; the parts' bookkeeping adds < 1/5 of that
    assert large - small < 60 * one / 5, (small, large, one)
    assert large < 80 * one / 3, (large, one)


def test_failures_reported_nothing_written_and_rerun_resumes(tmp_path, monkeypatch):
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i in range(6):
        path = folder / f"s{i}.fits"
        _sed(2.3, seed=i).sed.write(path)
        paths.append(path)
    bad = folder / "bad.fits"
    bad.write_bytes(b"SIMPLE  = not FITS at all")
    out = tmp_path / "cat.nc"
    result = fluxds.concat_files([*paths, bad], out, progress=False, group_size=2)
    assert not result.ok and list(result.failed) == [bad] and "FormatError" in result.failed[bad]
    assert not out.exists()
    parts = sorted((tmp_path / ".cat.nc.parts").iterdir())
    assert len(parts) == 3  # the good groups' parts are kept for the re-run
    calls = []
    import fluxds.concat as concat

    original = concat._part_one
    monkeypatch.setattr(concat, "_part_one", lambda *a: calls.append(a) or original(*a))
    again = fluxds.concat_files(paths, out, progress=False, group_size=2)
    assert again.ok and out.exists() and calls == []  # nothing re-read
    assert fluxds.read(out).sizes["source"] == 6
    assert fluxds.concat_files(paths, out, progress=False).skipped == [out]  # exists: skipped


def test_bad_arguments(tmp_path):
    with pytest.raises(fluxds.FormatError, match="along 'energy'"):
        fluxds.concat_files([fluxds.demo_path()], tmp_path / "x.nc", dim="energy")
    with pytest.raises(fluxds.FormatError, match="netCDF or zarr"):
        fluxds.concat_files([fluxds.demo_path()], tmp_path / "x.fits", to="fits")
    with pytest.raises(fluxds.FormatError, match="no inputs"):
        fluxds.concat_files([], tmp_path / "x.nc")
    result = fluxds.concat_files([fluxds.demo_path()], tmp_path / "x.nc", dim="time", progress=False)
    assert "has no 'time' dimension" in result.failed[fluxds.demo_path()]


def test_cli_combine(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    paths = []
    for i in range(5):
        path = folder / f"s{i}.fits"
        _sed(2.3, seed=i).sed.write(path)
        paths.append(str(path))
    out = tmp_path / "catalog.nc"
    assert main(["batch", *paths, "--combine", "source", "--out", str(out), "--no-progress"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert fluxds.read(out).sizes["source"] == 5
    (folder / "junk.fits").write_bytes(b"\x00")
    out2 = tmp_path / "catalog2.nc"
    code = main(["batch", *paths, str(folder / "junk.fits"), "--combine", "source", "--out", str(out2)])
    assert code == 1 and not out2.exists()
    assert "junk.fits" in capsys.readouterr().err
