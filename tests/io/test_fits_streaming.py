"""Issue 16, case E: FITS images written in big-endian slabs (byte-identical to astropy's ``writeto``),
read back in one pass (equal to astropy's ``hdu.data``), the file opened once per read, ``success`` stored
as bytes and read by gammapy, and the ``fsync`` opt-out of atomic writes."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import warnings

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from helpers import WRITTEN

import fluxds
import fluxds.io.fits_file as fits_file
from fluxds.errors import FormatError
from fluxds.io.detect import detect_format, fits_session, take_fits
from fluxds.io.fits_file import native_image, open_fits_file
from fluxds.io.output.atomic import atomic_path
from fluxds.io.output.fits_stream import streamable, write_fits


def _hdus() -> fits.HDUList:
    """Images of every plain pixel type (one transposed, one in the primary HDU), a scaled image, a
    table with a variable-length column: what astropy writes, byte for byte, is the reference."""
    rng = np.random.default_rng(16)
    primary = fits.PrimaryHDU(rng.normal(size=(3, 5)))
    primary.header["FDSATTRS"] = "{}"
    images = [
        fits.ImageHDU(rng.normal(size=(4, 7, 9)), name="F8"),
        fits.ImageHDU(rng.normal(size=(7, 9)).astype(np.float32), name="F4"),
        fits.ImageHDU(rng.integers(-(2**15), 2**15, (5, 6)).astype(np.int16), name="I2"),
        fits.ImageHDU(rng.integers(-(2**31), 2**31, (5, 6)).astype(np.int32), name="I4"),
        fits.ImageHDU(rng.integers(-(2**62), 2**62, (5, 6)), name="I8"),
        fits.ImageHDU((rng.random((3, 5, 6)) < 0.5).view(np.uint8), name="SUCCESS"),
        fits.ImageHDU(rng.normal(size=(6, 5, 4)).transpose(2, 0, 1), name="TRANSPOSED"),
        fits.ImageHDU(np.zeros((0, 3)), name="EMPTY"),
    ]
    scaled = fits.ImageHDU(rng.integers(0, 100, (4, 4)).astype(np.int16), name="SCALED")
    scaled.header["BSCALE"], scaled.header["BZERO"] = 0.5, 3.0
    vla = fits.Column("V", "PD()", array=[np.arange(2.0), np.arange(5.0), np.arange(1.0)])
    table = fits.BinTableHDU.from_columns([fits.Column("A", "D", array=np.arange(3.0)), vla], name="BANDS")
    return fits.HDUList([primary, *images, scaled, table])


@pytest.mark.parametrize("slab_bytes", [8, 1000, 1 << 20])
def test_streamed_file_is_astropys_byte_for_byte(tmp_path, slab_bytes):
    hdus = _hdus()
    before = [h.data.copy() if isinstance(h.data, np.ndarray) else None for h in hdus]
    reference = io.BytesIO()
    _hdus().writeto(reference)
    write_fits(hdus, tmp_path / "s.fits", slab_bytes=slab_bytes)
    assert (tmp_path / "s.fits").read_bytes() == reference.getvalue()
    assert [streamable(h) for h in hdus] == [True] * 9 + [False, False]
    for hdu, data in zip(hdus, before, strict=True):  # nothing swapped in place, not even for a while
        if data is not None:
            assert hdu.data.dtype == data.dtype and np.array_equal(hdu.data, data)


def test_streamed_write_refuses_what_writeto_refuses(tmp_path):
    hdus = fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(np.zeros(3))])
    hdus[1].header.append(fits.Card.fromstring("BAD KEY = 1"))  # an invalid keyword: verify raises
    with pytest.raises(fits.verify.VerifyError):
        write_fits(hdus, tmp_path / "bad.fits")
    assert not (tmp_path / "bad.fits").exists()


def test_native_image_equals_astropys_data(tmp_path):
    path = tmp_path / "s.fits"
    _hdus().writeto(path)
    with open_fits_file(path) as opened, fits.open(path, memmap=False) as reference:
        for hdu, ref in zip(opened.hdul, reference, strict=True):
            got = native_image(hdu, opened.handle, where=str(path), slab_bytes=24)
            if hdu.name in ("SCALED", "BANDS"):
                assert got is None  # scaled by BSCALE/BZERO, a table: astropy reads them
                continue
            assert got.dtype.isnative and got.dtype == ref.data.dtype.newbyteorder("=")
            np.testing.assert_array_equal(got, ref.data)


def test_native_image_leaves_a_gzip_file_to_astropy(tmp_path):
    path = tmp_path / "s.fits.gz"
    buffer = io.BytesIO()
    _hdus().writeto(buffer)
    path.write_bytes(gzip.compress(buffer.getvalue()))
    with open_fits_file(path) as opened:
        assert native_image(opened.hdul["F8"], opened.handle, where=str(path)) is None


def test_native_image_of_a_file_truncated_after_opening_is_refused(tmp_path):
    path = tmp_path / "s.fits"
    _hdus().writeto(path)
    with open_fits_file(path) as opened:
        hdu = opened.hdul["F8"]
        os.truncate(path, hdu.fileinfo()["datLoc"] + 100)
        with pytest.raises(FormatError, match="ends at byte .* inside the image data"):
            native_image(hdu, opened.handle, where=str(path))


def _map(tmp_path):
    path = tmp_path / "m.fits"
    shutil.copy(WRITTEN / "fm_excess.fits", path)
    shutil.copy(WRITTEN / "fm_excess_model.yaml", tmp_path)  # the model file its MODEL keyword names
    return path


def test_a_read_opens_the_file_once(tmp_path, monkeypatch):
    path = _map(tmp_path)
    opened = []
    real = fits_file.check_fits_sizes
    monkeypatch.setattr(fits_file, "check_fits_sizes", lambda p: opened.append(p) or real(p))
    ds = fluxds.read(path)
    assert opened == [path]  # detection opened it, the reader took it
    xr.testing.assert_identical(ds, fluxds.read(path, format="flux-map"))  # the reader opening it itself


def test_a_file_replaced_after_detection_is_opened_anew(tmp_path):
    path = _map(tmp_path)
    with fits_session():
        assert detect_format(path) == "flux-map"
        other = tmp_path / "other.fits"
        fits.HDUList([fits.PrimaryHDU()]).writeto(other)
        os.replace(other, path)
        assert take_fits(path) is None
    with fits_session():
        detect_format(path)
        with take_fits(path) as opened:  # handed over once
            assert opened.is_file(path) and take_fits(path) is None


def test_success_is_stored_as_bytes_and_read_back_as_booleans(tmp_path):
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    rng = np.random.default_rng(5)
    ds["success"] = ds["norm"].copy(data=rng.random(ds["norm"].shape) < 0.8)
    ds["success"].attrs = {"long_name": "fit success"}
    path = tmp_path / "m.fits"
    ds.sed.write(path)
    with fits.open(path) as hdul:
        assert hdul["SUCCESS"].header["BITPIX"] == 8
        np.testing.assert_array_equal(hdul["SUCCESS"].data, ds["success"].values.astype(np.uint8))
    back = fluxds.read(path)
    assert back["success"].dtype == bool
    np.testing.assert_array_equal(back["success"].values, ds["success"].values)


def test_gammapy_reads_success_bytes_as_booleans(tmp_path, monkeypatch):
    estimators = pytest.importorskip("gammapy.estimators")
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    success = np.random.default_rng(7).random(ds["norm"].shape) < 0.8
    ds["success"] = ds["norm"].copy(data=success)
    monkeypatch.chdir(tmp_path)  # gammapy finds the model file named in MODEL from here
    ds.sed.write("m.fits")
    maps = estimators.FluxMaps.read("m.fits")
    assert maps.success.data.dtype == bool
    np.testing.assert_array_equal(maps.success.data, success)
    np.testing.assert_array_equal(maps.norm.data, np.where(success, ds["norm"].values, np.nan))


@pytest.mark.parametrize("fsync", [True, False])
def test_fsync_can_be_turned_off(tmp_path, monkeypatch, fsync):
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    with atomic_path(tmp_path / "a.txt", fsync=fsync) as tmp:
        tmp.write_text("hello")
    assert (tmp_path / "a.txt").read_text() == "hello"
    assert bool(synced) == fsync
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    synced.clear()
    fluxds.write(ds, tmp_path / "m.fits", fsync=fsync, model_file=False)
    assert bool(synced) == fsync
    xr.testing.assert_identical(fluxds.read(tmp_path / "m.fits"), ds)


@pytest.mark.parametrize("name", ["sed.fits", "sed.ecsv", "sed.nc", "sed.zarr", "lc.fits"])
def test_fsync_off_for_every_writer(tmp_path, monkeypatch, name):
    """``fsync=False`` reaches every format's atomic write, for that write only."""
    synced = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real(fd))
    source = WRITTEN / ("lc_likelihood.fits" if name.startswith("lc") else "fp_likelihood.fits")
    ds = fluxds.read(source)
    fluxds.write(ds, tmp_path / name, fsync=False)
    assert not synced
    xr.testing.assert_identical(fluxds.read(tmp_path / name), ds)
    ds.sed.write(tmp_path / f"again_{name}")  # the default again: durable
    assert synced


def test_blank_integer_images_read_as_astropy_does(tmp_path):
    """An integer image with BLANK: astropy gives floats with NaN at the blank pixels; so does fluxds
    (the one-pass reader leaves such images to astropy)."""
    with fits.open(WRITTEN / "fm_excess.fits") as hdul:
        counts = hdul["COUNTS"].data.astype(np.int32)
        counts[0, 0, 0] = -1
        hdul["COUNTS"].data = counts
        hdul["COUNTS"].header["BLANK"] = -1
        hdul.writeto(tmp_path / "blank.fits")
    with fits.open(tmp_path / "blank.fits") as hdul:
        expected = hdul["COUNTS"].data.astype(float)
    assert np.isnan(expected[0, 0, 0])
    shutil.copy(WRITTEN / "fm_excess_model.yaml", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = fluxds.read(tmp_path / "blank.fits")
    values = ds["counts"].transpose(*ds["counts"].dims).values
    np.testing.assert_array_equal(values.reshape(expected.shape), expected)


def test_booleans_beyond_the_data_model_stay_int64(tmp_path):
    ds = fluxds.read(WRITTEN / "fm_excess.fits")
    ds["flag"] = ds["norm"].copy(data=ds["norm"].values > 1)
    ds["flag"].attrs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, tmp_path / "m.fits", model_file=False)
    with fits.open(tmp_path / "m.fits") as hdul:
        assert hdul["FLAG"].header["BITPIX"] == 64 and hdul["IS_UL"].header["BITPIX"] == 8
    back = fluxds.read(tmp_path / "m.fits")
    assert back["is_ul"].dtype == bool and back["flag"].dtype == np.int64
    np.testing.assert_array_equal(back["flag"].values, ds["flag"].values.astype(np.int64))
