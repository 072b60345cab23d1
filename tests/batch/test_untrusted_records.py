"""Attack review of issue 12 (item 6): ``batch`` trusts an output's record of its input, whoever wrote it.

An existing output is skipped when its attributes say it was made from this input with this content
(``fluxds_batch_input`` and ``..._sha256``). Those attributes prove nothing: another user of a shared
output folder who can read the input (to hash it) plants ``crab.nc`` with the record and numbers of their
choosing; ``batch`` then reports it as skipped (up to date), exit status 0, and the user takes the
planted numbers for the conversion of their input. (The planted file is also read in the batch process
itself, outside ``isolate=``.)
"""

from __future__ import annotations

import os
import shutil
import warnings

import numpy as np
import pytest

import fluxds
from fluxds.parallel import DIGEST_ATTR, INPUT_ATTR, OPTIONS_ATTR, batch, content_digest, options_record


@pytest.mark.skipif(os.geteuid() != 0, reason="needs to give the planted file to another user")
def test_an_output_planted_by_another_user_is_not_taken_as_up_to_date(tmp_path):
    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    source = tmp_path / "in" / "crab.fits"
    shutil.copy(fluxds.demo_path(), source)
    ds = fluxds.read(source)
    fake = ds.assign(norm=ds.norm * 1000).assign_attrs(
        {INPUT_ATTR: str(source), DIGEST_ATTR: content_digest(source)}
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(fake, out / "crab.nc")
    os.chown(out / "crab.nc", 65534, 65534)  # the folder's other user (nobody) owns it
    result = batch([source], out)
    assert out / "crab.nc" not in result.skipped, "a planted output was reported as up to date"
    if out / "crab.nc" in result.written:
        np.testing.assert_allclose(fluxds.read(out / "crab.nc").norm.values, ds.norm.values, equal_nan=True)
    else:
        assert source in result.failed


def _planted(tmp_path, mode: int, factor: float = 1000):
    """An input, and an output beside it recording that input, with norm x ``factor`` and file mode
    ``mode``."""
    (tmp_path / "in").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    source = tmp_path / "in" / "crab.fits"
    shutil.copy(fluxds.demo_path(), source)
    ds = fluxds.read(source)
    record = {
        INPUT_ATTR: str(source),
        DIGEST_ATTR: content_digest(source),
        OPTIONS_ATTR: options_record(None, None),
    }
    fake = ds.assign(norm=ds.norm * factor).assign_attrs(record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(fake, out / "crab.nc")
    os.chmod(out / "crab.nc", mode)
    return source, out


def test_a_group_writable_output_is_neither_trusted_nor_read(tmp_path, monkeypatch):
    """Another member of the group could have written it: reported as failed, left alone, never read."""
    source, out = _planted(tmp_path, 0o664)
    before = (out / "crab.nc").read_bytes()
    read = []
    real_read = fluxds.read

    def spy(path, *args, **kwargs):
        read.append(os.path.abspath(path))
        return real_read(path, *args, **kwargs)

    monkeypatch.setattr(fluxds, "read", spy)
    result = batch([source], out, progress=False)
    assert not result.written and not result.skipped
    assert "was not written by you" in result.failed[source] and "writable by group" in result.failed[source]
    assert str(out / "crab.nc") not in read
    assert (out / "crab.nc").read_bytes() == before


def test_an_own_output_is_still_skipped(tmp_path):
    source, out = _planted(tmp_path, 0o644, factor=1)
    assert batch([source], out, progress=False).skipped == [out / "crab.nc"]


def test_a_zarr_store_is_trusted_only_if_its_whole_tree_is_yours(tmp_path):
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "crab.fits"
    shutil.copy(fluxds.demo_path(), source)
    out = tmp_path / "out"
    assert batch([source], out, to="zarr", progress=False).written == [out / "crab.zarr"]
    inner = next(p for p in (out / "crab.zarr").rglob("*") if p.is_file())
    mode = inner.stat().st_mode
    os.chmod(inner, mode | 0o002)  # one entry deep inside writable by anybody
    again = batch([source], out, to="zarr", progress=False)
    assert not again.skipped and not again.written
    assert str(inner) in again.failed[source] and "was not written by you" in again.failed[source]
    os.chmod(inner, mode)
    assert batch([source], out, to="zarr", progress=False).skipped == [out / "crab.zarr"]


def test_a_symbolic_link_inside_a_zarr_store_is_not_trusted(tmp_path):
    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "crab.fits"
    shutil.copy(fluxds.demo_path(), source)
    out = tmp_path / "out"
    batch([source], out, to="zarr", progress=False)
    (out / "crab.zarr" / "extra").symlink_to(tmp_path / "in")
    result = batch([source], out, to="zarr", progress=False)
    assert "is a symbolic link" in result.failed[source]


def test_an_output_made_with_other_read_options_is_converted_again(tmp_path):
    """Resuming with other read options (or SED type) must not keep outputs converted with the old ones."""
    source, out = _planted(tmp_path, 0o644, factor=1)
    assert batch([source], out, progress=False).skipped == [out / "crab.nc"]
    again = batch([source], out, progress=False, read_options={"sed_type": "likelihood"})
    assert again.written == [out / "crab.nc"] and not again.skipped
    made = fluxds.read(out / "crab.nc")
    assert made.attrs[OPTIONS_ATTR] == options_record({"sed_type": "likelihood"}, None)
    assert batch([source], out, progress=False, read_options={"sed_type": "likelihood"}).skipped == [
        out / "crab.nc"
    ]


def test_an_output_of_a_fluxds_that_recorded_no_options_is_converted_again(tmp_path):
    source, out = _planted(tmp_path, 0o644, factor=1000)
    ds = fluxds.read(out / "crab.nc")
    old = ds.copy()
    old.attrs = {k: v for k, v in ds.attrs.items() if k != OPTIONS_ATTR}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(old, out / "crab.nc", overwrite=True)
    result = batch([source], out, progress=False)
    assert result.written == [out / "crab.nc"]  # its own output (this input): replaced, not skipped
    np.testing.assert_allclose(
        fluxds.read(out / "crab.nc").norm.values, fluxds.read(source).norm.values, equal_nan=True
    )


def test_options_records_are_exact():
    """Options that differ in the 10th digit, or in one element of a long array, record different text
    (``repr`` would round and summarise them); options without an exact spelling never match."""
    import astropy.units as u

    assert options_record({"energy_min": 1.0 * u.TeV}, None) != options_record(
        {"energy_min": 1.0000000001 * u.TeV}, None
    )
    long = np.linspace(1.0, 2.0, 2000)
    changed = long.copy()
    changed[1000] += 1e-12
    assert options_record({"energy_ref": long * u.TeV}, None) != options_record(
        {"energy_ref": changed * u.TeV}, None
    )
    assert options_record({"energy_ref": long * u.TeV}, "dnde") == options_record(
        {"energy_ref": long.copy() * u.TeV}, "dnde"
    )
    odd = object()
    assert options_record({"x": odd}, None) != options_record({"x": odd}, None)
