"""zarr stores from elsewhere (issue 12, item 3 and the zarr memory budget): links and special files inside
a store are refused, never followed or read; declared sizes are checked against the read budget before
anything is allocated; arrays fluxds does not need are not read at all."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

import fluxds
from fluxds.cli import main
from fluxds.io.guard.budget import BudgetError
from fluxds.models import PowerLaw

zarr = pytest.importorskip("zarr")
numcodecs = pytest.importorskip("numcodecs")

from fluxds.io.guard.zarr_safe import SafeLocalStore, read_entry, walk_store  # noqa: E402

SECRET = 1234.5  # a value that only the file outside the store holds


@pytest.fixture(autouse=True)
def _quiet_zarr():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="zarr")
        warnings.filterwarnings("ignore", message=".*[Cc]onsolidated metadata.*")
        yield


@pytest.fixture(scope="module")
def sed():
    model = PowerLaw(index=2.5, amplitude=1e-11 * u.Unit("cm-2 s-1 TeV-1"), reference=1 * u.TeV)
    return fluxds.from_likelihood(
        [1.1, 0.9, 0.7],
        energy_min=[1.0, 2.0, 4.0] * u.TeV,
        energy_max=[2.0, 4.0, 8.0] * u.TeV,
        reference_model=model,
        norm_err=[0.1, 0.1, 0.2],
    )


@pytest.fixture()
def store(tmp_path, sed) -> Path:
    path = tmp_path / "store.zarr"
    sed.sed.write(path)
    assert (path / "norm" / "c" / "0").is_file()
    return path


def _outside_chunk(tmp_path: Path) -> Path:
    """A file outside the store that is a *valid* chunk of ``norm`` (3 x SECRET, zstd as fluxds writes):
    following the link would read SECRET into the Dataset."""
    secret = tmp_path / "outside" / "secret.bin"
    secret.parent.mkdir()
    secret.write_bytes(numcodecs.Zstd(level=0).encode(np.full(3, SECRET).tobytes()))
    return secret


def _link(entry: Path, target: Path) -> None:
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink()
    entry.symlink_to(target)


def test_symlinked_chunk_outside_the_store_is_refused(tmp_path, store, capsys):
    secret = _outside_chunk(tmp_path)
    shutil.copy(secret, store / "norm" / "c" / "0")  # the same bytes as a regular file: read as data
    assert fluxds.read(store).norm.values.tolist() == [SECRET] * 3
    _link(store / "norm" / "c" / "0", secret)
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/c/0' is a symbolic link"):
        fluxds.read(store)
    # the command line of the report: nothing written, nothing of the outside file anywhere
    assert main(["convert", str(store), str(tmp_path / "out.nc")]) == 1
    assert "norm/c/0" in capsys.readouterr().err
    assert not (tmp_path / "out.nc").exists()


def test_chunk_linked_to_dev_zero_is_refused(store):
    _link(store / "norm" / "c" / "0", Path("/dev/zero"))
    with pytest.raises(fluxds.FormatError, match=r"'norm/c/0' is a symbolic link"):
        fluxds.read(store, max_bytes="64MiB")


def test_device_inside_the_store_is_refused(store):
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    (store / "norm" / "c" / "0").unlink()
    os.mknod(store / "norm" / "c" / "0", 0o600 | 0o020000, os.makedev(1, 5))  # /dev/zero's numbers
    with pytest.raises(fluxds.FormatError, match=r"'norm/c/0' is a character device"):
        fluxds.read(store)


def test_fifo_chunk_does_not_hang(tmp_path, store):
    """A FIFO chunk: refused by the walk, and the store class opens it without blocking (the check at
    read time, for a FIFO planted after the walk). In a child process with a time limit: a hang fails."""
    chunk = store / "norm" / "c" / "0"
    chunk.unlink()
    os.mkfifo(chunk)
    code = textwrap.dedent(
        f"""
        import fluxds
        from fluxds.io.guard.zarr_safe import read_entry
        for attempt in (lambda: fluxds.read({str(store)!r}), lambda: read_entry({str(store)!r}, "norm/c/0")):
            try:
                attempt()
                print("READ")
            except fluxds.FormatError as exc:
                print("REFUSED", exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 2 and all(line.startswith("REFUSED") for line in lines), done.stdout + done.stderr
    assert all("'norm/c/0' is a FIFO" in line for line in lines)


def test_symlinked_metadata_file_is_refused(tmp_path, store):
    outside = tmp_path / "outside.json"
    shutil.copy(store / "norm" / "zarr.json", outside)
    _link(store / "norm" / "zarr.json", outside)
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/zarr.json' is a symbolic link"):
        fluxds.read(store)
    shutil.copy(store / "zarr.json", tmp_path / "root.json")
    (store / "norm" / "zarr.json").unlink()
    shutil.copy(outside, store / "norm" / "zarr.json")
    _link(store / "zarr.json", tmp_path / "root.json")
    with pytest.raises(fluxds.FormatError, match=r"entry 'zarr.json' is a symbolic link"):
        fluxds.read(store)


def test_symlinked_subfolder_is_refused(tmp_path, store):
    outside = tmp_path / "outside_norm"
    shutil.copytree(store / "norm", outside)
    _link(store / "norm", outside)
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm' is a symbolic link"):
        fluxds.read(store)
    _link(store / "norm", Path("/"))  # a link to the whole file system is not walked either
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm' is a symbolic link"):
        fluxds.read(store)


def test_link_planted_after_the_walk_is_not_followed(tmp_path, store):
    """The store class checks each entry as it opens it (O_NOFOLLOW, fstat of the open file): a link
    that appears after the walk is refused, not followed; a link on the way to a chunk likewise."""
    secret = _outside_chunk(tmp_path)
    _link(store / "norm" / "c" / "0", secret)
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/c/0' is a symbolic link"):
        zarr.open_group(store=SafeLocalStore(store), mode="r")["norm"][:]
    _link(store / "norm" / "c", secret.parent)
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/c' is a symbolic link"):
        read_entry(store, "norm/c/0")
    with pytest.raises(fluxds.FormatError, match="not a plain path"):
        read_entry(store, "../outside/secret.bin")


def test_a_store_path_the_user_linked_is_read(tmp_path, store, sed):
    """The path given on the command line may be a link the user made; only entries inside may not."""
    (tmp_path / "mine.zarr").symlink_to(store)
    assert fluxds.read(tmp_path / "mine.zarr").norm.values.tolist() == sed.norm.values.tolist()


def test_absurd_number_of_entries_is_refused(store):
    n = len(walk_store(store))
    with pytest.raises(fluxds.FormatError, match="more than 5 entries"):
        walk_store(store, max_entries=5)
    assert n > 5
    with pytest.raises(fluxds.FormatError, match="nested deeper than 1 levels"):
        walk_store(store, max_depth=1)


def _add_array(store: Path, name: str, shape, chunks, dims) -> None:
    group = zarr.open_group(store, mode="r+")
    group.create_array(name, shape=shape, chunks=chunks, dtype="f8", dimension_names=dims, fill_value=0.0)
    zarr.consolidate_metadata(store)


def test_huge_junk_array_is_not_read(store, sed):
    """A 448 kB store declaring a 8 TB array nobody needs: read fine (eager and lazy), the array never
    allocated (the budget here is 64 MiB) and not in the Dataset; a warning names it."""
    _add_array(store, "junk", (10**12,), (10**6,), ["junk_dim"])
    with pytest.warns(UserWarning, match="not reading 'junk'"):
        ds = fluxds.read(store, max_bytes="64MiB")
    assert "junk" not in ds.variables and ds.norm.values.tolist() == sed.norm.values.tolist()
    with pytest.warns(UserWarning, match="not reading 'junk'"):
        lazy = fluxds.open_dataset(store, chunks={}, max_bytes="64MiB")
    assert "junk" not in lazy.variables


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_an_extra_variable_on_the_datasets_dimensions_is_kept(tmp_path, sed, suffix):
    """What is "not needed" is a variable with a dimension of its own: a user's own variable on the
    Dataset's dimensions (here a per-bin flag) is read back from zarr and netCDF alike, while a
    ``junk(junk)`` beside it is not loaded (zarr: not read at all; netCDF: left unread, lazily)."""
    flagged = sed.assign(my_flag=("energy", np.arange(sed.sizes["energy"]) % 2 == 0))
    path = tmp_path / f"flagged{suffix}"
    flagged.sed.write(path)
    back = fluxds.read(path)
    assert back["my_flag"].values.tolist() == flagged["my_flag"].values.tolist()


def test_huge_needed_variable_is_refused_before_allocation(store):
    group = zarr.open_group(store, mode="r+")
    del group["norm_err"]
    _add_array(store, "norm_err", (3, 10**6, 10**4), (3, 10**6, 10**4), ["energy", "y", "x"])  # 240 GB
    with pytest.raises(BudgetError, match=r"store\.zarr: variable 'norm_err': declared shape \(3, 1000000, "):
        fluxds.read(store)
    # lazily: one chunk of 240 GB is refused at open, before anything is computed
    with pytest.raises(BudgetError, match=r"variable 'norm_err': one chunk \(3, 1000000, 10000\)"):
        fluxds.open_dataset(store, chunks={"energy": 1})


def test_lazy_open_budget_is_per_chunk(store):
    """With chunks=, the declared size is checked per chunk: an array too large to load may be opened
    lazily if its chunks are small; an absurd chunk count is refused."""
    group = zarr.open_group(store, mode="r+")
    del group["norm_err"]
    _add_array(store, "norm_err", (3, 4000, 4000), (3, 400, 400), ["energy", "y", "x"])  # 384 MB
    with pytest.raises(BudgetError, match="variable 'norm_err'"):
        fluxds.read(store, max_bytes="64MiB")
    lazy = fluxds.open_dataset(store, chunks={}, max_bytes="64MiB")
    assert lazy["norm_err"].data.npartitions == 100
    del group["norm_err"]
    _add_array(store, "norm_err", (3, 10**6, 10**6), (3, 100, 100), ["energy", "y", "x"])
    with pytest.raises(BudgetError, match=r"100000000 chunks, more than the 1000000"):
        fluxds.open_dataset(store, chunks={})


def test_chunk_claiming_more_than_its_shape_is_refused(store):
    """A zstd chunk stating a decompressed size beyond the 24 bytes of norm's chunk shape (3 float64)
    is refused before the codec allocates it."""
    (store / "norm" / "c" / "0").write_bytes(numcodecs.Zstd(level=1).encode(bytes(10**7)))
    with pytest.raises(fluxds.FormatError, match=r"chunk 'norm/c/0' .* decompresses to 10000000 bytes"):
        fluxds.read(store)


@pytest.mark.parametrize("codec", ["gzip", "blosc"])
def test_gzip_and_blosc_chunks_are_bounded(tmp_path, codec):
    from zarr.codecs import BloscCodec, GzipCodec

    path = tmp_path / "a.zarr"
    compressor = GzipCodec() if codec == "gzip" else BloscCodec(cname="lz4")
    group = zarr.open_group(path, mode="w")
    group.create_array("a", shape=(8,), chunks=(8,), dtype="f8", compressors=compressor)[:] = np.arange(8.0)
    big = np.zeros(10**6).tobytes()
    chunk = gzip.compress(big) if codec == "gzip" else numcodecs.Blosc(cname="lz4").encode(big)
    store = SafeLocalStore(path)
    store.limit("a", 64, codec)  # as fluxds.io.cf.zarr_store registers the arrays it reads
    assert zarr.open_group(store, mode="r")["a"][:].tolist() == list(range(8))
    (path / "a" / "c" / "0").write_bytes(chunk)
    with pytest.raises(fluxds.FormatError, match=r"chunk 'a/c/0' of variable 'a'.* decompresses to"):
        zarr.open_group(store, mode="r")["a"][:]


def test_pickle_codec_check_reads_metadata_safely(tmp_path, store):
    """check_zarr_codecs reads only regular files inside the store: a metadata file linked to
    /dev/zero is refused, not read without end."""
    from fluxds.io.guard.untrusted import check_zarr_codecs

    _link(store / "norm" / "zarr.json", Path("/dev/zero"))
    with pytest.raises(fluxds.FormatError, match="symbolic link"):
        check_zarr_codecs(store)
    (store / "norm" / "zarr.json").unlink()
    (store / "norm" / "zarr.json").write_text(json.dumps({"codecs": [{"name": "pickle"}]}))
    with pytest.raises(fluxds.FormatError, match="pickle"):
        check_zarr_codecs(store)


def test_open_mfdataset_refuses_a_store_with_links(tmp_path, store):
    """fluxds.open_mfdataset goes through xarray's own zarr opener: the stores are walked first."""
    _link(store / "norm" / "c" / "0", _outside_chunk(tmp_path))
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/c/0' is a symbolic link"):
        fluxds.open_mfdataset([store])
    with pytest.raises(fluxds.FormatError, match=r"entry 'norm/c/0' is a symbolic link"):
        fluxds.open_mfdataset(str(tmp_path / "*.zarr"))
