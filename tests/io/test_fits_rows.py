"""One-pass FITS binary tables (``fluxds.io.fits_rows``): the light-curve writer's bytes against astropy's
own writer (``table_to_hdu`` + ``HDUList.writeto``), the one-pass reader against ``Table.read``, the
tables either one hands back to astropy, and the light-curve read/write paths that use them."""

from __future__ import annotations

import io
import warnings

import astropy.units as u
import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from astropy.table import MaskedColumn, Table
from helpers import WRITTEN

import fluxds
from fluxds.errors import FormatError
from fluxds.io import fits_rows
from fluxds.io.keywords import table_hdu
from fluxds.models import PowerLaw
from fluxds.timeaxis import time_coords


def _astropy_bytes(tables: list[tuple[Table, str, int | None]]) -> bytes:
    """The file astropy writes: an empty primary HDU and ``table_hdu`` of each table, named."""
    hdus = [fits.PrimaryHDU()]
    for table, name, ver in tables:
        hdu = table_hdu(table)
        hdu.name = name
        if ver is not None:
            hdu.ver = ver
        hdus.append(hdu)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits.HDUList(hdus).writeto(buffer)
    return buffer.getvalue()


def _ours(tmp_path, tables, name="ours.fits", **options) -> bytes:
    parts = [fits_rows.encode_table(t, name=n, ver=v) for t, n, v in tables]
    assert all(p is not None for p in parts)
    path = tmp_path / name
    fits_rows.write_table_file(path, parts, **options)
    return path.read_bytes()


def _every_kind(n: int) -> Table:
    rng = np.random.default_rng(3)
    table = Table()
    table["time_min"] = rng.uniform(0, 1e5, n)
    table["time_min"].unit = "d"
    table["e_ref"] = np.broadcast_to([1.0, 2.0, 3.0], (n, 3))  # a read-only view, as the writer gives
    table["e_ref"].unit = "TeV"
    table["e_ref"].info.description = "derived: log-centre, with a 'quote' and more text " * 2
    table["norm"] = rng.normal(size=(n, 3))
    table["norm"][:1, 0] = np.nan
    table["scan"] = rng.normal(size=(n, 3, 11))
    table["one"] = rng.normal(size=(n, 1))
    table["ref_dnde"] = rng.uniform(size=(n, 3)).astype(np.float32)
    table["ref_dnde"].unit = "cm-2 s-1 TeV-1"
    table["is_ul"] = rng.uniform(size=(n, 3)) > 0.5
    table["flag"] = rng.uniform(size=n) > 0.5
    table["counts"] = rng.integers(0, 100, (n, 3)).astype(np.int64)
    table["npix"] = rng.integers(0, 100, n).astype(np.int32)
    table["nbin"] = rng.integers(0, 100, n).astype(np.int16)
    table["byte"] = rng.integers(0, 255, n).astype(np.uint8)
    table["paper"] = np.array([f"paper {i % 7}" + " " * (i % 3) for i in range(n)])
    table["label"] = np.array([f"b{i % 5}".encode() for i in range(n)])
    table.meta.update(
        {
            "SED_TYPE": "likelihood",
            "MJDREFI": 0,
            "MJDREFF": 0.000742,
            "UL_CONF": 0.95,
            "TIMESYS": "tt",
            "E_REF": "derived: sqrt(e_min e_max), not measured",
            "FIT_NORM_ERR": 1.5,  # HIERARCH
            "GOOD": True,
            "EMPTY": "",
            "FDSATTRS": '{"a": "' + "x" * 300 + '"}',  # CONTINUE cards
        }
    )
    return table


@pytest.mark.parametrize("n", [0, 1, 7, 5000])
def test_written_bytes_are_astropys(tmp_path, n):
    table = _every_kind(n)
    expected = _astropy_bytes([(table, "FLUXPOINTS", None)])
    assert _ours(tmp_path, [(table, "FLUXPOINTS", None)]) == expected
    # slabs of a few rows: the same bytes
    assert _ours(tmp_path, [(table, "FLUXPOINTS", None)], name="slabs.fits", slab_bytes=1000) == expected


def test_several_tables_with_versions_are_astropys(tmp_path):
    one, two = _every_kind(11), _every_kind(4)
    tables = [(one, "LIGHTCURVE", 1), (two, "lightcurve", 2)]
    assert _ours(tmp_path, tables) == _astropy_bytes(tables)


@pytest.mark.parametrize(
    ("keyword", "value", "comment"),
    [
        ("TTYPE1", "time_min", None),
        ("TFORM13", "33D", None),
        ("TUNIT9", "TeV-1 s-1 cm-2", None),
        ("EXTNAME", "FLUXPOINTS", "extension name"),
        ("NAXIS2", 100000, "length of dimension 2"),
        ("X", "", None),
        ("X", "it's", None),
        ("X", "a" * 67, None),
        ("X", "a" * 69, None),
        ("X", "a" * 300, None),
        ("X", -12, None),
        ("X", 0.1, None),
        ("X", 1e-300, None),
        ("X", True, None),
        ("LONGERKEYWORD", "v", None),
        ("X", "text", "a comment " * 10),
    ],
)
def test_card_images_are_astropys(keyword, value, comment):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = fits.Card(keyword, value, comment).image
    assert fits_rows.card_image(keyword, value, comment) == expected


def _with(column_or_meta) -> Table:
    table = Table({"a": np.arange(3.0)})
    column_or_meta(table)
    return table


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t.replace_column("a", MaskedColumn([1.0, 2.0, 3.0], mask=[0, 1, 0])),
        lambda t: t.add_column(np.arange(3, dtype=np.uint16), name="u"),
        lambda t: t.add_column(np.arange(3, dtype=np.int8), name="i8"),
        lambda t: t.add_column(np.arange(3, dtype=np.complex128), name="c"),
        lambda t: t.add_column(np.array([["a", "b"]] * 3), name="texts"),
        lambda t: setattr(t["a"].info, "format", ".3f"),
        lambda t: t.meta.update(comments=["a comment"]),
        lambda t: t.meta.update(TTYPE1="clash"),
        lambda t: t.meta.update(EXTNAME="X"),
        lambda t: t.meta.update(X=[1, 2]),
        lambda t: t.meta.update(X={"a": 1}),
        lambda t: t.meta.update(X=float("nan")),
        lambda t: t.meta.update(X="caf\u00e9"),
        lambda t: t.meta.update(X="two\nlines"),
        lambda t: t.add_column(np.array(["caf\u00e9", "b", "c"]), name="text"),
        lambda t: setattr(t["a"].info, "description", "two\nlines"),
    ],
)
def test_other_tables_are_left_to_astropy(change):
    assert fits_rows.encode_table(_with(change), name="X") is None


def _read_both(path, index=1):
    with fits.open(path, memmap=False) as hdul:
        ours = fits_rows.read_rows(hdul[index], str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = Table.read(path, hdu=index, character_as_bytes=False)
    return ours, theirs


@pytest.mark.parametrize("n", [0, 7, 5000])
def test_read_rows_is_table_read(tmp_path, n):
    path = tmp_path / "t.fits"
    path.write_bytes(_astropy_bytes([(_every_kind(n), "FLUXPOINTS", None)]))
    ours, theirs = _read_both(path)
    assert ours.colnames == theirs.colnames
    assert dict(ours.meta) == dict(theirs.meta)
    for name in theirs.colnames:
        mine, ref = ours[name], theirs[name]
        assert mine.dtype == ref.dtype and mine.shape == ref.shape  # big-endian numbers, as astropy
        assert mine.unit == ref.unit
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(ref), err_msg=name)
    if n > 2:
        assert ours["paper"][2] == "paper 2"  # trailing blanks removed, as astropy does


UNSIGNED = np.arange(3, dtype=np.uint16)


@pytest.mark.parametrize(
    "hdu",
    [
        fits.BinTableHDU.from_columns([fits.Column("a", "J", array=np.arange(3), null=-1)]),
        fits.BinTableHDU.from_columns(
            [fits.Column("a", "I", array=np.arange(3, dtype=np.uint16), bzero=32768)]
        ),
        fits.BinTableHDU.from_columns([fits.Column("a", "PD()", array=[np.arange(2.0), np.arange(3.0)])]),
        fits.BinTableHDU.from_columns([fits.Column("a", "D", array=np.arange(3.0), disp="F8.3")]),
        fits.BinTableHDU.from_columns([fits.Column("a", "2X", array=np.zeros((3, 2), bool))]),
    ],
)
def test_read_rows_leaves_special_tables_to_astropy(tmp_path, hdu):
    path = tmp_path / "t.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path) as hdul:
        assert fits_rows.read_rows(hdul[1], str(path)) is None
    commented = tmp_path / "c.fits"
    table = fits.BinTableHDU.from_columns([fits.Column("a", "D", array=np.arange(3.0))])
    table.header["COMMENT"] = "a comment"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(commented)
    with fits.open(commented) as hdul:
        assert fits_rows.read_rows(hdul[1], str(commented)) is None


def test_read_rows_refuses_a_file_ending_inside_the_rows(tmp_path):
    path = tmp_path / "t.fits"
    path.write_bytes(_astropy_bytes([(_every_kind(5000), "FLUXPOINTS", None)]))
    with fits.open(path, memmap=False) as hdul:
        hdu = hdul[1]
        start = hdu.fileinfo()["datLoc"]
        with open(path, "r+b") as handle:
            handle.truncate(start + 1000)
        with pytest.raises(FormatError, match="ends inside the table"):
            fits_rows.read_rows(hdu, str(path))


def _light_curve(n: int = 50) -> xr.Dataset:
    rng = np.random.default_rng(5)
    norm = rng.uniform(0.5, 1.5, (n, 3))
    start = 60000.0 + np.arange(n) / 24.0
    scan = np.broadcast_to(np.linspace(0.2, 5.0, 11), (n, 3, 11)).copy()
    return fluxds.from_likelihood(
        norm,
        dims=("time", "energy"),
        coords=time_coords(time_min=start, time_max=start + 1 / 24.0, scale="tt"),
        energy_min=[1.0, 3.0, 10.0] * u.TeV,
        energy_max=[3.0, 10.0, 30.0] * u.TeV,
        reference_model=PowerLaw(index=2.3, amplitude=1e-12 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV),
        norm_err=0.1 * norm,
        norm_ul=norm + 0.3,
        ts=rng.uniform(0, 25, (n, 3)),
        is_ul=rng.uniform(size=(n, 3)) > 0.7,
        norm_scan=scan,
        stat_scan=(scan - norm[..., None]) ** 2,
    )


@pytest.mark.parametrize("layout", ["gammapy", "gadf"])
def test_writing_leaves_the_dataset_alone(tmp_path, layout):
    """The tables hold views of the Dataset's arrays (no copy): the GADF writer's NaN for upper limits
    must not reach the Dataset."""
    ds = _light_curve()
    before = ds.copy(deep=True)
    fluxds.write(ds, tmp_path / "lc.fits", layout=layout)
    xr.testing.assert_identical(ds, before)
    back = fluxds.read(tmp_path / "lc.fits")
    np.testing.assert_array_equal(back["norm"].values, ds["norm"].values)


@pytest.mark.parametrize("name", ["lc_likelihood.fits", "lc_flux.fits", "lc_1bin_likelihood.fits"])
def test_one_pass_read_gives_the_dataset_of_astropys_reader(monkeypatch, name):
    fast = fluxds.read(WRITTEN / name)
    monkeypatch.setattr("fluxds.io.fits_tables.read_rows", lambda hdu, where: None)  # Table.read
    xr.testing.assert_identical(fast, fluxds.read(WRITTEN / name))


def test_a_read_opens_the_file_once(tmp_path, monkeypatch):
    path = tmp_path / "lc.fits"
    fluxds.write(_light_curve(), path)
    opened = []
    original = fits.open

    def counting(*args, **kwargs):
        opened.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(fits, "open", counting)
    fluxds.read(path)
    assert len(opened) == 1


def test_tables_astropy_refuses_are_not_written_in_one_pass():
    """A column name longer than one card, or cells of zero width: astropy refuses them, so the one-pass
    writer must not write them (it leaves them to astropy, which says why)."""
    long = Table({"x" * 75: [1.0, 2.0]})
    assert fits_rows.encode_table(long) is None
    empty_cells = Table({"a": np.zeros((3, 0))})
    assert fits_rows.encode_table(empty_cells) is None


def test_a_dataset_with_a_name_too_long_for_fits_is_a_clear_error(tmp_path):
    ds = fluxds.read(WRITTEN / "lc_likelihood.fits")
    ds["x" * 75] = ds["norm"] * 0 + 1
    with pytest.raises(fluxds.FormatError, match=r"lc\.fits\[FLUXPOINTS\].*too long for a FITS column"):
        fluxds.write(ds, tmp_path / "lc.fits")
    assert not (tmp_path / "lc.fits").exists()
