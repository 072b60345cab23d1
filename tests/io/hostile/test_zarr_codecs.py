"""Attack review of issue 12: a zarr chunk compressed with a codec fluxds does not bound (bz2, lzma ...)
is decompressed in full, whatever the read budget says.

``SafeLocalStore._check_chunk`` bounds only blosc, zstd, gzip and zlib chunks
(``zarr_store._compressor`` returns None for any other codec, and then nothing is checked); numcodecs'
bz2 inflates ~81 bytes into 50 MB of zeros, so a 1.6 kB chunk file became 1 GB (2 GB peak resident
memory) under ``FLUXDS_MAX_READ_BYTES=64MiB`` before the read failed on a reshape.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fluxds

pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

_CHILD = textwrap.dedent(
    """
    import resource, sys, warnings
    # a regression must fail here, not take gigabytes of a shared machine
    resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))
    warnings.simplefilter("ignore")
    import fluxds
    fluxds.read(fluxds.demo_path()).load()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        fluxds.read(sys.argv[1])
        outcome = "read"
    except fluxds.FluxdsError as exc:
        outcome = "refused: " + str(exc)[:400]
    except BaseException as exc:
        outcome = "raw " + type(exc).__name__
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
    print(grew)
    print(outcome)
    """
)


def _bomb(path, codec: dict, chunk: bytes) -> None:
    ds = fluxds.read(fluxds.demo_path())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fluxds.write(ds, path)
    codecs = [{"name": "bytes", "configuration": {"endian": "little"}}, codec]
    meta_path = path / "norm" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["codecs"] = codecs
    meta_path.write_text(json.dumps(meta))
    top = json.loads((path / "zarr.json").read_text())
    top["consolidated_metadata"]["metadata"]["norm"]["codecs"] = codecs
    (path / "zarr.json").write_text(json.dumps(top))
    (path / "norm" / "c" / "0").write_bytes(chunk)


def test_bz2_chunk_bomb_is_refused_within_the_budget(tmp_path):
    store = tmp_path / "bomb.zarr"
    one = bz2.compress(b"\0" * 50_000_000, 9)  # 81 bytes
    _bomb(store, {"name": "numcodecs.bz2", "configuration": {"level": 9}}, one * 20)  # 1 GB inflated
    assert (store / "norm" / "c" / "0").stat().st_size < 4096
    env = {**os.environ, "FLUXDS_MAX_READ_BYTES": "64MiB"}
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(store)], capture_output=True, text=True, env=env, timeout=300
    )
    grew, outcome = run.stdout.strip().splitlines()[-2:]
    assert outcome.startswith("refused"), outcome
    # the budget is 64 MiB: the read must not have materialised the 1 GB the chunk inflates to
    assert int(grew) < 256 * 2**20, f"peak resident memory grew by {int(grew) / 2**20:.0f} MiB: {outcome}"
    assert "norm" in outcome and str(store) in outcome, outcome


def _run(store, budget="64MiB"):
    env = {**os.environ, "FLUXDS_MAX_READ_BYTES": budget}
    run = subprocess.run(
        [sys.executable, "-c", _CHILD, str(store)], capture_output=True, text=True, env=env, timeout=300
    )
    grew, outcome = run.stdout.strip().splitlines()[-2:]
    assert int(grew) < 256 * 2**20, f"peak resident memory grew by {int(grew) / 2**20:.0f} MiB: {outcome}"
    return outcome


def _zstd(data):
    return numcodecs.Zstd(level=1).encode(data)


def _many(compress, n=20):
    return compress(b"\0" * 50_000_000) * n  # concatenated streams: 1 GB inflated


@pytest.mark.parametrize(
    ("codec", "chunk"),
    [
        ({"name": "numcodecs.lzma", "configuration": {}}, lambda: _many(lzma.compress)),
        ({"name": "gzip", "configuration": {"level": 9}}, lambda: _many(gzip.compress)),
        # a first zstd frame stating 0 bytes, then 300 MB more (numcodecs decodes every frame of a chunk)
        ({"name": "zstd", "configuration": {"level": 1}}, lambda: _zstd(b"") + _many(_zstd, 6)),
        # lz4 states the size it allocates: 2 GB
        (
            {"name": "numcodecs.lz4", "configuration": {}},
            lambda: (2**31 - 1).to_bytes(4, "little") + b"\0" * 64,
        ),
    ],
    ids=["lzma", "gzip-members", "zstd-frames", "lz4"],
)
def test_other_codec_chunk_bombs_are_refused(tmp_path, codec, chunk):
    store = tmp_path / "bomb.zarr"
    _bomb(store, codec, chunk())
    outcome = _run(store)
    assert outcome.startswith("refused") and "norm/c/0" in outcome and str(store) in outcome, outcome


@pytest.mark.parametrize(
    "codecs",
    [
        [{"name": "numcodecs.bz2", "configuration": {"level": 1}}, {"name": "zstd", "configuration": {}}],
        [{"name": "numcodecs.shuffle", "configuration": {"elementsize": 8}}],
    ],
    ids=["two-compressors", "unknown-codec"],
)
def test_codec_chains_fluxds_cannot_bound_are_refused(tmp_path, codecs):
    store = tmp_path / "chain.zarr"
    _bomb(store, codecs[0], b"")
    codecs = [{"name": "bytes", "configuration": {"endian": "little"}}, *codecs]
    for meta_path, key in ((store / "norm" / "zarr.json", None), (store / "zarr.json", "norm")):
        meta = json.loads(meta_path.read_text())
        (meta["consolidated_metadata"]["metadata"][key] if key else meta)["codecs"] = codecs
        meta_path.write_text(json.dumps(meta))
    with pytest.raises(fluxds.FormatError, match=r"variable 'norm' is stored with the codecs") as info:
        fluxds.read(store)
    assert str(store) in str(info.value)


@pytest.mark.parametrize("codec", ["numcodecs.bz2", "numcodecs.lzma", "numcodecs.lz4", "numcodecs.zlib"])
def test_bounded_codecs_still_read(tmp_path, codec):
    """A chunk within its shape reads back under every codec fluxds bounds."""
    store = tmp_path / "ok.zarr"
    ds = fluxds.read(fluxds.demo_path())
    encoder = {
        "numcodecs.bz2": numcodecs.BZ2(),
        "numcodecs.lzma": numcodecs.LZMA(),
        "numcodecs.lz4": numcodecs.LZ4(),
        "numcodecs.zlib": numcodecs.Zlib(),
    }[codec]
    _bomb(store, {"name": codec, "configuration": {}}, encoder.encode(ds["norm"].values.tobytes()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(fluxds.read(store)["norm"].values, ds["norm"].values)
