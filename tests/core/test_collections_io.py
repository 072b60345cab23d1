"""Collections in files: GADF SED tables (FITS, ECSV, HDF5) with the member label as a text column, netCDF
and zarr; FITS files with one SED HDU per source and their own bins; many files with different bins
(``concat_files``, ``fluxds batch --combine source``); ``columns=`` on every table reader and ``--columns``.

Expected numbers come from the arrays written (or astropy's reading of the raw file), not from fluxds.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import Table
from helpers import WRITTEN

import fluxds
from fluxds import collection
from fluxds.cli import main
from fluxds.construct import from_sed

DNDE = u.Unit("cm-2 s-1 TeV-1")
# member names a table must keep exactly: blanks, non-ASCII, quotes, empty
LABELS = ["hess", "hess", "hess", " magic ", "Müller 2004", '"q"', ""]
ENERGIES = np.array([1.0, 2.0, 4.0, 1.5, 3.0, 1.0, 1.0])


def _collection() -> xr.Dataset:
    n = ENERGIES.size
    ds = from_sed(
        "dnde",
        {
            "dnde": np.linspace(1, 2, n) * 1e-12 * DNDE,
            "dnde_errp": np.full(n, 1e-13) * DNDE,
            "dnde_errn": np.full(n, 2e-13) * DNDE,
        },
        energy_ref=ENERGIES * u.TeV,
        coords={"paper": ("energy", LABELS)},
    )
    return ds.assign_coords(
        ra=("energy", np.arange(n) * 10.0, {"units": "deg", "long_name": "right ascension"}),
        n_obs=("energy", np.arange(n)),
    )


@pytest.mark.parametrize("ext", ["fits", "ecsv", "h5", "nc", "zarr"])
def test_collection_roundtrip_exact(tmp_path, ext):
    ds = _collection()
    path = tmp_path / f"papers.{ext}"
    fluxds.write(ds, path)
    back = fluxds.read(path)
    xr.testing.assert_identical(back, ds)
    assert back["paper"].dtype.kind == "U"  # text, not Python objects (netCDF gives objects back)
    assert back["paper"].values.tolist() == LABELS
    assert back["n_obs"].dtype == np.int64
    assert collection.member_label(back) == "paper"
    assert collection.members(back) == ["hess", " magic ", "Müller 2004", '"q"', ""]


def test_fits_table_of_a_collection_is_one_row_per_point(tmp_path):
    path = tmp_path / "papers.fits"
    fluxds.write(_collection(), path)
    with fits.open(path) as hdul:
        hdu = hdul["FLUXPOINTS"]
        assert hdu.columns["paper"].format.startswith("A") or "A" in hdu.columns["paper"].format
        raw = [v.decode() if isinstance(v, bytes) else v for v in hdu.data["paper"]]
        e_ref = hdu.data["e_ref"]
        ra_unit = hdu.columns["ra"].unit
    assert len(raw) == ENERGIES.size
    np.testing.assert_array_equal(e_ref, ENERGIES)
    # text a FITS column keeps as it is stays plain; the rest is a JSON string literal
    assert raw[:3] == ["hess"] * 3
    assert raw[3:] == ['" magic "', '"M\\u00fcller 2004"', '"\\"q\\""', '""']
    assert ra_unit == "deg"


def test_foreign_text_column_with_repeated_energies_is_a_collection(tmp_path):
    table = Table(
        {
            "e_ref": [1.0, 2.0, 1.5, 3.0] * u.TeV,
            "dnde": [1e-11, 2e-12, 8e-12, 1e-12] * DNDE,
            "dnde_err": [1e-12, 2e-13, 8e-13, 1e-13] * DNDE,
            "Instrument": ["HESS", "HESS", "MAGIC", "MAGIC"],
        }
    )
    for ext in ("fits", "ecsv"):
        path = tmp_path / f"compilation.{ext}"
        table.write(path)
        ds = fluxds.read(path)
        assert collection.member_label(ds) == "instrument"  # lower case, as every GADF column is read
        assert collection.members(ds) == ["HESS", "MAGIC"]
        np.testing.assert_array_equal(ds["energy"].values, [1.0, 2.0, 1.5, 3.0])
        # norm = dnde / ref_dnde of the default reference (E^-2, 1e-12 at 1 TeV): by hand
        np.testing.assert_allclose(ds["norm"].values, [10.0, 8.0, 18.0, 9.0], rtol=1e-12)


def test_text_column_with_increasing_energies_is_still_a_label(tmp_path):
    """The rule: any text column of a GADF SED table that is not a GADF column is a coordinate along
    energy (the first is the member label), whatever the order of the energies."""
    path = tmp_path / "one.ecsv"
    Table(
        {"e_ref": [1.0, 2.0] * u.TeV, "e2dnde": [1e-12, 2e-12] * u.Unit("TeV cm-2 s-1"), "ref": ["A", "B"]}
    ).write(path)
    ds = fluxds.read(path)
    assert ds["ref"].dims == ("energy",) and ds["ref"].values.tolist() == ["A", "B"]
    assert collection.members(ds) == ["A", "B"]


def test_text_in_a_gadf_column_is_still_refused(tmp_path):
    path = tmp_path / "bad.ecsv"
    Table({"e_ref": [1.0, 2.0] * u.TeV, "dnde": ["x", "y"]}).write(path)
    with pytest.raises(fluxds.FormatError, match="column 'dnde' holds text"):
        fluxds.read(path)


def test_foreign_collection_with_a_member_out_of_order_is_refused(tmp_path):
    path = tmp_path / "bad.ecsv"
    Table(
        {"e_ref": [1.0, 2.0, 1.5] * u.TeV, "dnde": [1e-12, 2e-12, 3e-12] * DNDE, "paper": ["a", "a", "a"]}
    ).write(path)
    with pytest.raises(fluxds.SchemaError) as info:
        fluxds.read(path)
    assert "within each 'paper'" in str(info.value)


def _hdu(name, e_min, e_max, dnde):
    table = Table(
        {"e_min": e_min * u.TeV, "e_max": e_max * u.TeV, "dnde": dnde * DNDE, "dnde_err": 0.1 * dnde * DNDE}
    )
    hdu = fits.table_to_hdu(table)
    hdu.name = name
    return hdu


def test_fits_with_one_sed_hdu_per_source_and_their_own_bins(tmp_path):
    path = tmp_path / "catalog.fits"
    crab = (np.array([1.0, 2.0, 4.0]), np.array([2.0, 4.0, 8.0]), np.array([3e-11, 1e-11, 2e-12]))
    vela = (np.array([0.5, 5.0]), np.array([5.0, 50.0]), np.array([1e-11, 1e-13]))
    fits.HDUList([fits.PrimaryHDU(), _hdu("CRAB", *crab), _hdu("VELA", *vela)]).writeto(path)
    ds = fluxds.read(path)
    assert collection.member_label(ds) == "source"
    assert ds["source"].values.tolist() == ["CRAB"] * 3 + ["VELA"] * 2
    np.testing.assert_array_equal(ds["energy_min"].values, np.r_[crab[0], vela[0]])
    np.testing.assert_allclose(ds.sed.dnde.values, np.r_[crab[2], vela[2]], rtol=1e-15)
    # e_ref derived: the log centre of each bin, by hand
    np.testing.assert_allclose(ds["energy"].values, np.sqrt(np.r_[crab[0] * crab[1], vela[0] * vela[1]]))
    np.testing.assert_allclose(collection.member(ds, "VELA").sed.dnde_err.values, 0.1 * vela[2])
    # written back: one HDU holding every point, the source as a column; read back the same
    fluxds.write(ds, tmp_path / "back.fits")
    xr.testing.assert_identical(fluxds.read(tmp_path / "back.fits"), ds)


def test_collection_with_reference_models_by_member_roundtrips(tmp_path):
    model = fluxds.models.PowerLaw(index=2.5, amplitude=1e-11 * DNDE, reference=1 * u.TeV)
    a = from_sed(
        "dnde",
        {"dnde": [1e-11, 2e-12] * DNDE, "dnde_err": [1e-12, 1e-13] * DNDE},
        energy_min=[1, 2] * u.TeV,
        energy_max=[2, 4] * u.TeV,
        reference_model=model,
        coords={"source": "A"},
    )
    b = from_sed(
        "dnde",
        {"dnde": [3e-11, 2e-12, 1e-13] * DNDE, "dnde_err": [1e-12, 1e-13, 1e-14] * DNDE},
        energy_min=[0.5, 1.5, 3] * u.TeV,
        energy_max=[1.5, 3, 9] * u.TeV,
        coords={"source": "B"},
    )
    col = collection.stack_members([a, b])
    assert '"by_source"' in col.attrs["reference_model"]
    for ext in ("fits", "ecsv", "h5"):
        path = tmp_path / f"ab.{ext}"
        fluxds.write(col, path)
        xr.testing.assert_identical(fluxds.read(path), col)


# --- many files with different bins ----------------------------------------------------------------------


def _source_file(folder, i: int, n: int, lo: float, index: float):
    edges = np.geomspace(lo, 20.0, n + 1)
    ds = fluxds.from_likelihood(
        np.linspace(1.0, 2.0, n),
        energy_min=edges[:-1] * u.TeV,
        energy_max=edges[1:] * u.TeV,
        reference_model=fluxds.models.PowerLaw(index=index, amplitude=1e-11 * DNDE, reference=1 * u.TeV),
        norm_err=np.full(n, 0.1 + 0.01 * i),
        coords={"source": f"S{i}"},
    )
    path = folder / f"s{i}.fits"
    ds.sed.write(path)
    return path, ds


def test_concat_files_with_different_bins_gives_a_collection(tmp_path):
    made = [_source_file(tmp_path, i, 3 + i % 3, 0.5 + 0.1 * i, 2.0 + 0.1 * i) for i in range(5)]
    paths = [p for p, _ in made]
    result = fluxds.concat_files(paths, tmp_path / "all.nc", progress=False, group_size=2)
    assert result.ok, result.failed
    out = fluxds.read(tmp_path / "all.nc")
    assert collection.member_label(out) == "source"
    assert collection.members(out) == [f"S{i}" for i in range(5)]
    assert out.sizes["energy"] == sum(ds.sizes["energy"] for _, ds in made)
    models = fluxds.construct.reference_model_of(out)
    for (_, ds), name in zip(made, collection.members(out), strict=True):
        one = collection.member(out, name)
        np.testing.assert_array_equal(one["energy_min"].values, ds["energy_min"].values)
        np.testing.assert_array_equal(one["norm_err"].values, ds["norm_err"].values)
        np.testing.assert_allclose(one.sed.dnde.values, ds.sed.dnde.values, rtol=1e-15)
        assert models[name] == fluxds.construct.reference_model_of(ds)


def test_concat_files_same_bins_keeps_the_grid(tmp_path):
    made = [_source_file(tmp_path, i, 4, 1.0, 2.0 + 0.1 * i) for i in range(4)]
    fluxds.concat_files([p for p, _ in made], tmp_path / "grid.nc", progress=False, group_size=3)
    out = fluxds.read(tmp_path / "grid.nc")
    assert out["source"].dims == ("source",) and not collection.is_collection(out)
    assert out.sizes["source"] == 4 and out.sizes["energy"] == 4
    for i, (_, ds) in enumerate(made):
        np.testing.assert_array_equal(out.sel(source=f"S{i}")["norm_err"].values, ds["norm_err"].values)


def test_concat_files_refuses_duplicate_members_and_mixed_edges(tmp_path):
    a, _ = _source_file(tmp_path, 0, 3, 0.5, 2.0)
    other = tmp_path / "other"
    other.mkdir()
    b, _ = _source_file(other, 0, 4, 0.7, 2.0)  # the same source name, other bins
    result = fluxds.concat_files([a, b], tmp_path / "dup.nc", progress=False)
    assert not result.ok and "duplicate source names ['S0']" in " ".join(result.failed.values())
    eref = tmp_path / "eref.ecsv"
    from_sed("dnde", {"dnde": [1e-12, 1e-13] * DNDE}, energy_ref=[1.0, 3.0] * u.TeV).sed.write(eref)
    result = fluxds.concat_files([a, eref], tmp_path / "mixed.nc", progress=False)
    assert "--derive-edges" in " ".join(result.failed.values())
    result = fluxds.concat_files(
        [a, eref], tmp_path / "mixed.nc", progress=False, read_options={"derive_edges": True}
    )
    assert result.ok
    out = fluxds.read(tmp_path / "mixed.nc")
    assert collection.members(out) == ["S0", "eref"]  # named by its file


def test_concat_sources_in_memory_with_different_bins():
    a = fluxds.read(WRITTEN / "fp_likelihood.fits").assign_coords(source="A")
    b = a.isel(energy=[1, 3, 4]).assign_coords(source="B")
    out = fluxds.concat_sources([a, b])
    assert collection.members(out) == ["A", "B"]
    assert out.sizes["energy"] == a.sizes["energy"] + 3
    np.testing.assert_array_equal(collection.member(out, "B")["stat_scan"].values, b["stat_scan"].values)


def test_light_curves_of_sources_with_their_own_time_bins(tmp_path):
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    lc.isel(time=[0, 1, 2], gti=[0, 1, 2]).assign_coords(source="A").sed.write(tmp_path / "a.fits")
    lc.isel(time=[1, 3], gti=[1, 3]).assign_coords(source="B").sed.write(tmp_path / "b.fits")
    result = fluxds.concat_files(
        [tmp_path / "a.fits", tmp_path / "b.fits"], tmp_path / "ab.nc", progress=False
    )
    assert result.ok, result.failed
    out = fluxds.read(tmp_path / "ab.nc")
    assert collection.member_label(out, "time") == "source"
    assert out["source"].values.tolist() == ["A", "A", "A", "B", "B"]
    np.testing.assert_array_equal(out["time_min"].values, lc["time_min"].values[[0, 1, 2, 1, 3]])
    np.testing.assert_array_equal(
        collection.member(out, "B")["norm"].values, lc["norm"].isel(time=[1, 3]).values
    )


def _light_curve_collection() -> xr.Dataset:
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    a = lc.isel(time=[0, 1, 2], gti=[0, 1, 2]).assign_coords(source="A")
    b = lc.isel(time=[1, 3], gti=[1, 3]).assign_coords(source="B")
    return fluxds.concat_sources([a, b])


@pytest.mark.parametrize(
    ("name", "options"),
    [("lc.fits", {}), ("lc.ecsv", {}), ("gadf.fits", {"layout": "gadf"}), ("lc.nc", {})],
)
def test_light_curve_collection_roundtrips_exactly(tmp_path, name, options):
    lc = _light_curve_collection()
    assert lc["time_min"].values[3] < lc["time_min"].values[2]  # B's first bin is before A's last
    fluxds.write(lc, tmp_path / name, **options)
    back = fluxds.read(tmp_path / name)
    assert collection.member_label(back, "time") == "source"
    xr.testing.assert_identical(back, lc)


def test_light_curve_collection_table_has_a_label_column(tmp_path):
    lc = _light_curve_collection()
    lc.sed.write(tmp_path / "gadf.fits", layout="gadf")
    with fits.open(tmp_path / "gadf.fits") as hdul:
        tables = [Table.read(h) for h in hdul if h.name == "LIGHTCURVE"]
    assert len(tables) == lc.sizes["energy"]
    for table in tables:  # one GADF table per energy band, the label beside TIME_MIN
        assert [str(v) for v in table["source"]] == ["A", "A", "A", "B", "B"]
        np.testing.assert_array_equal(np.asarray(table["TIME_MIN"]), lc["time_min"].values)


def test_light_curve_table_from_elsewhere_with_a_source_column(tmp_path):
    lc = fluxds.read(WRITTEN / "lc_likelihood.fits")
    with fits.open(WRITTEN / "lc_likelihood.fits") as hdul:
        table = Table.read(hdul["FLUXPOINTS"])
    order = [2, 3, 0, 1]  # two sources, each with its own bins in increasing order
    table = table[order]
    table["object"] = ["X", "X", "Y", "Y"]
    table.write(tmp_path / "two.fits")
    ds = fluxds.read(tmp_path / "two.fits")
    assert collection.members(ds) == ["X", "Y"]
    np.testing.assert_array_equal(ds["time_min"].values, lc["time_min"].values[order])
    np.testing.assert_array_equal(collection.member(ds, "Y")["norm"].values, lc["norm"].values[[0, 1]])

    table["object"] = ["X", "Y", "Y", "Y"]  # Y's bins 3, 0, 1: out of order within Y
    table.write(tmp_path / "bad.fits")
    with pytest.raises(fluxds.FluxdsError, match=r"within each member.*bin 2"):
        fluxds.read(tmp_path / "bad.fits")


def test_concat_files_of_light_curves_to_fits(tmp_path):
    lc = _light_curve_collection()
    for name in ("A", "B"):
        collection.member(lc, name).drop_vars(["gti_start", "gti_stop"]).sed.write(tmp_path / f"{name}.fits")
    result = fluxds.concat_files(
        [tmp_path / "A.fits", tmp_path / "B.fits"], tmp_path / "ab.fits", progress=False
    )
    assert result.ok, result.failed
    back = fluxds.read(tmp_path / "ab.fits")
    assert back["source"].values.tolist() == ["A", "A", "A", "B", "B"]
    np.testing.assert_array_equal(back["norm"].values, lc["norm"].values)


def test_phase_curve_collection_roundtrips(tmp_path):
    from fluxds.axes import binned_coords
    from fluxds.models import PowerLaw

    lo = np.array([0.0, 0.2, 0.5, 0.7])
    one = fluxds.from_likelihood(
        np.array([[1.0, 2.0], [0.5, 1.5], [3.0, 0.2], [1.1, 0.9]]),
        norm_err=np.full((4, 2), 0.2),
        energy_min=[0.1, 1.0] * u.TeV,
        energy_max=[1.0, 10.0] * u.TeV,
        reference_model=PowerLaw(index=2.0, amplitude=1e-12 * DNDE, reference=1 * u.TeV),
        dims=("phase", "energy"),
        coords=binned_coords("phase", lo=lo, hi=lo + 0.1),
    )
    a = one.assign_coords(pulsar="J0534")
    b = one.isel(phase=[0, 1]).assign_coords(pulsar="J0835")
    pc = collection.stack_members([a, b], label="pulsar", dim="phase")
    pc.sed.write(tmp_path / "pc.fits")
    back = fluxds.read(tmp_path / "pc.fits")
    assert collection.members(back) == ["J0534", "J0835"]
    xr.testing.assert_identical(back, pc)


def test_batch_combine_source_with_different_bins(tmp_path, capsys):
    paths = [_source_file(tmp_path, i, 2 + i, 0.5 * (i + 1), 2.2)[0] for i in range(3)]
    out = tmp_path / "combined.nc"
    argv = ["batch", *map(str, paths), "--out", str(out), "--combine", "source", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    ds = fluxds.read(out)
    assert collection.members(ds) == ["S0", "S1", "S2"] and ds.sizes["energy"] == 2 + 3 + 4


# --- columns= on every table reader ----------------------------------------------------------------------

RAW = Table(
    {
        "E": [1.0, 2.0, 4.0] * u.TeV,
        "Flux": [3e-11, 1e-11, 2e-12] * DNDE,
        "Flux_Err": [3e-12, 1e-12, 2e-13] * DNDE,
    }
)
MAPPING = {"E": "e_ref", "Flux": "dnde", "Flux_Err": "dnde_err"}


@pytest.mark.parametrize(
    ("ext", "options"), [("fits", {}), ("ecsv", {}), ("h5", {"path": "sed", "serialize_meta": True})]
)
def test_columns_on_gadf_sed_tables(tmp_path, ext, options):
    path = tmp_path / f"renamed.{ext}"
    RAW.write(path, **options)
    ds = fluxds.read(path, columns=MAPPING)
    np.testing.assert_array_equal(ds["energy"].values, [1.0, 2.0, 4.0])
    np.testing.assert_allclose(ds.sed.dnde.values, [3e-11, 1e-11, 2e-12], rtol=1e-15)
    np.testing.assert_allclose(ds.sed.dnde_err.values, [3e-12, 1e-12, 2e-13], rtol=1e-15)
    with pytest.raises(fluxds.FormatError) as info:
        fluxds.read(path, columns={"E": "e_ref", "Nope": "dnde"})
    assert str(path) in str(info.value) and "'Nope'" in str(info.value)


def test_columns_on_light_curves_and_flux_profiles(tmp_path):
    lc = Table.read(WRITTEN / "lc_flux.fits", hdu=1)
    lc.rename_columns(["time_min", "time_max"], ["TSTART", "TSTOP"])
    for ext in ("fits", "ecsv"):
        path = tmp_path / f"lc.{ext}"
        lc.write(path)
        # detection sees the mapped names: a light curve, not an SED table
        ds = fluxds.read(path, columns={"TSTART": "time_min", "TSTOP": "time_max"})
        np.testing.assert_array_equal(ds["time_min"].values, np.asarray(lc["TSTART"]))
        assert ds.sizes["time"] == len(lc)
    with fits.open(WRITTEN / "profile_likelihood.fits") as hdul:
        hdul[1].columns.change_name("x_min", "R_LO")
        hdul.writeto(tmp_path / "profile.fits")
    expected = fluxds.read(WRITTEN / "profile_likelihood.fits")
    back = fluxds.read(tmp_path / "profile.fits", columns={"R_LO": "x_min"})
    np.testing.assert_array_equal(back["x_min"].values, expected["x_min"].values)
    with pytest.raises(fluxds.FormatError, match=r"profile\.fits: columns= names the column 'x_lo'"):
        fluxds.read(tmp_path / "profile.fits", columns={"x_lo": "x_min"})


def test_columns_is_not_for_netcdf(tmp_path):
    path = tmp_path / "a.nc"
    fluxds.write(_collection(), path)
    with pytest.raises(fluxds.FormatError, match="is for tables"):
        fluxds.read(path, columns={"a": "b"})


@pytest.mark.parametrize("sub", ["info", "convert", "plot", "batch"])
def test_cli_columns_on_a_fits_table(sub, tmp_path, capsys):
    path = tmp_path / "renamed.fits"
    RAW.write(path)
    mapping = ",".join(f"{k}={v}" for k, v in MAPPING.items())
    out = {"convert": tmp_path / "out.nc", "plot": tmp_path / "out.png", "batch": tmp_path / "many"}.get(sub)
    argv = {
        "info": ["info", str(path)],
        "convert": ["convert", str(path), str(out)],
        "plot": ["plot", str(path), "-o", str(out)],
        "batch": ["batch", str(path), "--out", str(out), "--no-progress"],
    }[sub]
    assert main([*argv, "--columns", mapping]) == 0, capsys.readouterr().err
    if sub == "info":
        assert "energy range:  1 - 4 TeV" in capsys.readouterr().out
    elif sub in ("convert", "batch"):
        written = out if sub == "convert" else next(out.iterdir())
        np.testing.assert_allclose(fluxds.read(written).sed.dnde.values, [3e-11, 1e-11, 2e-12], rtol=1e-15)
    else:
        assert out.stat().st_size > 0
    if sub in ("convert", "plot", "batch"):  # a fresh output (batch skips an up-to-date one)
        argv = [str(tmp_path / "again" / out.name) if a == str(out) else a for a in argv]
        (tmp_path / "again").mkdir()
    assert main([*argv, "--columns", "E=e_ref,Nope=dnde"]) == 1
    assert "'Nope'" in capsys.readouterr().err
