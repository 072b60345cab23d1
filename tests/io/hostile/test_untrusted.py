"""Untrusted input: nothing read from a file is unpickled or evaluated; decompression is bounded.

The pickles here carry a payload that would create a marker file if it were ever unpickled: every test
checks both the error and that the marker never appears.
"""

from __future__ import annotations

import ast
import gzip
import json
import pickle
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits
from helpers import GADF, KNOWN

import fluxds
from fluxds.io import format_names
from fluxds.io.guard.untrusted import decompression_limit, set_decompression_limit

PACKAGE = Path(fluxds.__file__).parent
TSCUBE_GZ = GADF / "tscube_lowts.fits.gz"


class _Payload:
    """Unpickling this touches ``marker``: the proof that something unpickled."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def limit():
    """Restore the decompression limit after a test changes it."""
    old = decompression_limit()
    yield set_decompression_limit
    set_decompression_limit(old)


def _fermipy_like_npy(path: Path, marker: Path) -> Path:
    # fermipy saves its light curve as a 0-d object array holding a dict: np.save pickles it
    np.save(path, np.array({"name": "4FGL J0534.5+2201", "flux": _Payload(marker)}, dtype=object))
    return path


def test_payload_really_runs_when_unpickled(tmp_path):
    """The guard's witness works: np.load(allow_pickle=True) of the file does create the marker."""
    marker = tmp_path / "unpickled"
    path = _fermipy_like_npy(tmp_path / "lc.npy", marker)
    np.load(path, allow_pickle=True)
    assert marker.exists()


@pytest.mark.parametrize("format", [None, *format_names()])
def test_npy_light_curve_is_refused_never_unpickled(tmp_path, format):
    marker = tmp_path / "unpickled"
    path = _fermipy_like_npy(tmp_path / "lc.npy", marker)
    if format is None:
        match = r"lc\.npy: a NumPy \.npy file.*never unpickles"
    else:
        match = r"lc\.npy"
    with pytest.raises(fluxds.FluxdsError, match=match):
        fluxds.read(path, format=format)
    assert not marker.exists()


def test_npy_refused_through_every_door(tmp_path):
    marker = tmp_path / "unpickled"
    path = _fermipy_like_npy(tmp_path / "lc.npy", marker)
    with pytest.raises(fluxds.FormatError, match="never unpickles"):
        fluxds.open_dataset(path, chunks={})
    with pytest.raises(fluxds.FormatError, match="never unpickles"):
        xr.open_dataset(path, engine="fluxds")
    renamed = tmp_path / "lc.fits"  # a misleading name does not help
    renamed.write_bytes(path.read_bytes())
    with pytest.raises(fluxds.FormatError, match=r"lc\.fits: a NumPy \.npy file"):
        fluxds.read(renamed)
    assert not marker.exists()


def test_plain_pickle_is_refused(tmp_path):
    marker = tmp_path / "unpickled"
    path = tmp_path / "sed.fits"
    path.write_bytes(pickle.dumps({"dnde": _Payload(marker)}, protocol=4))
    with pytest.raises(fluxds.FormatError, match=r"sed\.fits: a Python pickle \(protocol 4\)"):
        fluxds.read(path)
    assert not marker.exists()


def test_zarr_store_naming_the_pickle_codec_is_refused(tmp_path):
    marker = tmp_path / "unpickled"
    store = tmp_path / "sed.zarr"
    (store / "norm").mkdir(parents=True)
    (store / ".zgroup").write_text(json.dumps({"zarr_format": 2}))
    zarray = {
        "zarr_format": 2,
        "shape": [1],
        "chunks": [1],
        "dtype": "|O",
        "compressor": None,
        "fill_value": 0,
        "filters": [{"id": "pickle", "protocol": 5}],
        "order": "C",
    }
    (store / "norm" / ".zarray").write_text(json.dumps(zarray))
    (store / "norm" / "0").write_bytes(pickle.dumps(np.array([_Payload(marker)], dtype=object)))
    with pytest.raises(fluxds.FormatError, match=r"norm/\.zarray: names the 'pickle' codec"):
        fluxds.read(store)
    assert not marker.exists()


_DANGEROUS_CALLS = {
    ("pickle", "load"),
    ("pickle", "loads"),
    ("marshal", "loads"),
    ("yaml", "load"),
    ("yaml", "unsafe_load"),
    ("yaml", "full_load"),
    ("np", "load"),
    ("numpy", "load"),
}


def test_no_pickle_eval_or_unsafe_yaml_in_the_package():
    """A static check of every module: no eval/exec, no pickle/marshal/shelve import, no yaml.load or
    np.load (yaml.safe_load is the one YAML entry)."""
    found = []
    for module in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            where = f"{module.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Name) and func.id in ("eval", "exec", "__import__"):
                    found.append(f"{where} {func.id}()")
                if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
                    if (func.value.id, func.attr) in _DANGEROUS_CALLS:
                        found.append(f"{where} {func.value.id}.{func.attr}()")
                for kw in node.keywords:
                    if kw.arg == "allow_pickle":
                        found.append(f"{where} allow_pickle=")
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(
                    n.split(".")[0] in ("pickle", "marshal", "shelve", "dill", "cloudpickle") for n in names
                ):
                    found.append(f"{where} import {names}")
    assert found == []


def _gzip_bomb(path: Path, decompressed_mib: int) -> Path:
    """A gzip file of a valid FITS header followed by ``decompressed_mib`` MiB of zeros (~1000:1)."""
    header = fits.PrimaryHDU(np.zeros((1, 1), np.float32)).header
    header["NAXIS1"] = header["NAXIS2"] = 1024 * 16  # declares 16384**2 float32 = 1 GiB
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip stream
    chunk = bytes(1 << 20)
    with open(path, "wb") as out:
        out.write(compressor.compress(header.tostring().encode("ascii")))
        for _ in range(decompressed_mib):
            out.write(compressor.compress(chunk))
        out.write(compressor.flush())
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = _gzip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.fits.gz", 128)
    assert path.stat().st_size < 1024**2  # small on disk ...
    with gzip.open(path) as handle:  # ... but inflating beyond the limit the tests set
        assert len(handle.read(32 * 1024**2 + 1)) > 32 * 1024**2
    return path


@pytest.mark.parametrize("format", [None, "gadf-sed", "flux-map", "profile", "tscube", "lightcurve"])
def test_gzip_bomb_is_refused(bomb, limit, format):
    path = bomb
    limit(32 * 1024**2)
    start = time.perf_counter()
    with pytest.raises(fluxds.FormatError, match=r"bomb\.fits\.gz: decompresses to more than 33554432 bytes"):
        fluxds.read(path, format=format)
    assert time.perf_counter() - start < 20  # stopped at the limit, not after inflating everything


def test_decompression_limit_applies_to_real_files(tmp_path, limit):
    ds = fluxds.read(TSCUBE_GZ)
    assert "norm" in ds
    with gzip.open(TSCUBE_GZ) as handle:
        size = len(handle.read())
    limit(size)  # exactly the decompressed size: accepted
    xr.testing.assert_identical(fluxds.read(TSCUBE_GZ), ds)
    limit(size - 1)
    with pytest.raises(fluxds.FormatError, match=f"decompresses to more than {size - 1} bytes"):
        fluxds.read(TSCUBE_GZ)


def test_damaged_gzip_is_a_format_error(tmp_path):
    data = TSCUBE_GZ.read_bytes()
    path = tmp_path / "cut.fits.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(fluxds.FormatError, match=r"cut\.fits\.gz: a damaged gzip file"):
        fluxds.read(path)


def test_limit_must_be_positive(limit):
    with pytest.raises(ValueError, match="must be > 0 bytes, found 0"):
        limit(0)


@pytest.mark.parametrize("name", sorted(p.name for p in KNOWN.glob("*.h5")))
def test_damaged_hdf5_compound_types_are_refused_before_the_c_library_reads_them(name):
    """The fuzzer's HDF5 tables whose compound members were made to overlap (a byte flip in the type
    message) aborted the process inside HDF5 ("double free or corruption"). Read in a subprocess, so that
    a regression kills the child, not the test run: the child must exit normally with a FormatError."""
    import subprocess
    import sys

    code = (
        "import sys, fluxds\n"
        "try:\n"
        "    fluxds.read(sys.argv[1])\n"
        "except fluxds.FormatError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(KNOWN / name)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert name in done.stdout and "overlaps member" in done.stdout and "damaged" in done.stdout


def test_intact_hdf5_layouts_pass_the_check(tmp_path):
    """The layout check accepts what astropy and fluxds write, including a compound with a
    variable-length string member (16 bytes in HDF5, 8 in NumPy) and a chunked, compressed dataset."""
    import h5py

    from fluxds.io.guard.hdf5_layout import check_hdf5_layout

    path = tmp_path / "ok.h5"
    record = np.dtype([("x", "<f8"), ("name", h5py.string_dtype()), ("flag", "?")])
    with h5py.File(path, "w") as f:
        f.create_dataset("table", data=np.array([(1.0, "a", True), (2.0, "bb", False)], dtype=record))
        f.create_dataset("chunked", data=np.arange(1000.0), chunks=(100,), compression="gzip")
        f.create_dataset("empty", shape=(0,), dtype="f8")
    with h5py.File(path, "r") as f:
        check_hdf5_layout(f, str(path))  # raises if anything is judged damaged
    ds = fluxds.read(GADF / "flux_points.fits")
    fluxds.write(ds, tmp_path / "sed.h5")
    assert fluxds.read(tmp_path / "sed.h5").sizes == ds.sizes
