"""The exchange of an overwrite (``renameat2(RENAME_EXCHANGE)``) puts the old entry in the private
directory to check it: whatever the check raises (an I/O error, an interrupt), the old entry is swapped
back under the target name before the exception propagates, never removed with the private directory."""

from __future__ import annotations

import os

import pytest

from fluxds.errors import WriteError
from fluxds.io.output import atomic, placing

MAGIC = b"\x89HDF\r\n\x1a\n"  # a file fluxds may replace with another of its kind


def _old_file(tmp_path):
    target = tmp_path / "o.h5"
    target.write_bytes(MAGIC + b"old content")
    return target


def _check_raises(exc):
    def check(*args, **kwargs):
        raise exc

    return check


def _write(target):
    with atomic.atomic_path(target, overwrite=True) as tmp:
        tmp.write_bytes(MAGIC + b"new content")


@pytest.fixture
def exchange(tmp_path):
    """Skip where the filesystem has no atomic exchange (the check then runs before the replacement)."""
    a, b = tmp_path / ".a", tmp_path / ".b"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        if not placing.renameat2(fd, ".a", b, 2):
            pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    finally:
        os.close(fd)
    a.unlink()
    b.unlink()


@pytest.mark.parametrize("exc", [OSError(5, "Input/output error"), KeyboardInterrupt(), RuntimeError("x")])
def test_a_failing_check_puts_the_old_file_back(tmp_path, monkeypatch, exchange, exc):
    target = _old_file(tmp_path)
    monkeypatch.setattr(placing, "kind_refusal", _check_raises(exc))
    with pytest.raises(BaseException) as raised:  # noqa: PT011 - the check's own exception, or a WriteError
        _write(target)
    assert raised.value is exc or isinstance(raised.value, WriteError)
    assert target.read_bytes() == MAGIC + b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["o.h5"]  # the new output removed, nothing else left


def test_a_failing_check_and_a_failing_swap_back_keep_the_old_file(tmp_path, monkeypatch, exchange):
    """If even the swap back fails, the old file is kept in the private directory and the error says
    where; it is never deleted."""
    target = _old_file(tmp_path)
    monkeypatch.setattr(placing, "kind_refusal", _check_raises(OSError(5, "Input/output error")))
    real = placing.renameat2
    calls = []

    def renameat2(src_fd, src, dst, flags):
        calls.append(flags)
        if flags == 2 and calls.count(2) == 2:  # the swap back
            raise OSError(5, "Input/output error", str(dst))
        return real(src_fd, src, dst, flags)

    monkeypatch.setattr(placing, "renameat2", renameat2)
    with pytest.raises(WriteError, match=r"checking it failed .*could not be put back.* kept as kept"):
        _write(target)
    (kept,) = tmp_path.glob(".o.h5.*.tmp/kept")
    assert kept.read_bytes() == MAGIC + b"old content"
    assert target.read_bytes() == MAGIC + b"new content"
