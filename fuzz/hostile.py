"""Generated hostile inputs: files and zarr stores built to attack a reader, not mutated at random.

Each *family* is a function ``(rng) -> Input`` of a :class:`random.Random` only, so an input is rebuilt
from its run seed and number (``python -m fuzz.run --seed S --replay i``). The families (issue 12):

Inputs whose only bomb is a junk variable (``junk_*`` variants) may grow the reader's RSS by
:data:`JUNK_RSS_MIB` only: a variable that no reader needs must not be loaded at all.

``netcdf_bomb``
    netCDF-4 files (and one netCDF-3 file) that declare more than they hold: an unwritten junk variable
    of 2e7-2e8 values, a junk dimension of 1e12, or every fluxds variable on an ``energy`` dimension of
    2e6-1e12 with only 6 values written (the rest is fill value, materialised by a read).
``hdf5_bomb``
    an astropy HDF5 table (as ``fluxds.write(..., "x.h5")``) whose table dataset declares 1e6-1e10 rows
    (chunked, 6 rows written), or a junk dataset of 1e12 values beside it.
``zarr_bomb``
    zarr stores (format 3 with zstd, format 2 with blosc) with a huge declared shape, billions of
    one-value chunks, a junk array of 1e12 values, or a chunk whose compressed header claims a huge
    decompressed size (a zstd frame declaring 2^40 bytes, a blosc header declaring 2 GiB) or that
    really decompresses to 0.5-4 GiB (a zstd frame of RLE blocks: 4 bytes per 128 KiB).
``fits_image_bomb``
    a WCS flux map whose image HDUs declare huge NAXISn, and tile-compressed flux maps (BINTABLE with
    ``ZIMAGE = T``) whose ZNAXISn/ZTILEn declare 1-64 GiB: either from tiles that are too short, or for
    real, every tile row pointing at the same gzip stream in the heap (a few kB of file).
``fits_table_bomb``
    SED tables with NAXIS2 = 1e9-1e12, a TFORM/TDIM of 1e8-1e12 elements, or a variable-length column
    whose descriptors all point at one heap array (1e4 rows x 1e5 values from a 0.8 MB heap).
``healpix_bomb``
    HEALPix flux maps at NSIDE 4096 / 8192 / 65536: SPARSE all-sky (every pixel materialised), a
    ``HPX_REG = 'DISK(0,0,90)'`` region (half the sky: 2.6e10 pixels at NSIDE 65536), DISK_INC, or an
    IMPLICIT map declaring all pixels.
``ecsv_bomb``
    ECSV files whose YAML header holds a "billion laughs" (nested anchors and aliases expanding to
    1e6-1e12 nodes, in ``meta`` or in a column's description), or a column of declared shape
    ``float64[1000000,1000]``.
``zarr_links``
    zarr stores in which a chunk, an array's metadata, the root metadata or a whole array folder is a
    symlink to a file outside the store (a valid copy, so that following the link "works"), to
    ``/etc/passwd`` or ``/dev/zero``, dangling, or a loop; or a chunk that is a FIFO. Such a store must
    be refused (outcome ``accepted`` otherwise).
``model_path``
    a flux map whose ``MODEL`` keyword names an absolute path, ``../outside/...``, ``/etc/passwd``,
    ``/dev/zero``, ``/proc/self/environ`` or a directory. The files outside hold the text
    :data:`SECRET`: an outcome that shows it is a ``leak``.

Directory inputs are :class:`Tree`s: ``{relative path: bytes | Link | FIFO}``; a link target starting with
``{outside}`` points into the worker's folder beside the inputs (``outside/``), whose files
:func:`outside_files` lists.
"""

from __future__ import annotations

import ast
import copy
import functools
import gzip
import io
import json
import os
import random
import re
import struct
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FAMILIES",
    "Input",
    "Link",
    "FIFO",
    "SECRET",
    "generate",
    "variants",
    "materialise",
    "outside_files",
]

#: text in every file outside the inputs' folder: an outcome (message or Dataset) showing it is a leak
SECRET = "FUZZ_OUTSIDE_SECRET"
OUTSIDE = "{outside}"  # a link target's prefix: the worker's outside/ folder
#: RSS growth (MiB) allowed when reading an input whose only bomb is a variable no reader needs
JUNK_RSS_MIB = 64
_ROOT = Path(__file__).resolve().parent.parent
_WRITTEN = _ROOT / "tests" / "data" / "gammapy-written"


@dataclass(frozen=True)
class Link:
    """A symbolic link in a :class:`Tree` (``target`` may start with ``{outside}``)."""

    target: str


@dataclass(frozen=True)
class _Fifo:
    """A named pipe in a :class:`Tree` (opening it for reading blocks until a writer comes)."""


FIFO = _Fifo()
Tree = dict  # relative path -> bytes | Link | FIFO


@dataclass
class Input:
    """One generated input: the name the reader sees, its bytes (a file) or tree (a directory)."""

    name: str
    data: bytes | Tree
    family: str
    variant: str
    #: the input must end as a FluxdsError: a Dataset read from it is the failure ``accepted``
    must_refuse: bool = False
    #: RSS growth allowed for this input (MiB) instead of budget + margin: a junk variable no reader
    #: needs must not be loaded at all
    rss_limit_mib: int | None = None
    notes: dict = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- bases
def _pick(rng: random.Random, forced: str | None, options: list[str]) -> str:
    """A variant drawn from ``options`` (the draw is made even when ``forced``, so that the rest of the
    input is drawn as it would be)."""
    drawn = rng.choice(options)
    if forced is None:
        return drawn
    if forced not in options:
        raise ValueError(f"unknown variant {forced!r}; expected one of {sorted(set(options))}")
    return forced


def variants(family: str) -> list[str]:
    """The variants of a family (read from its source: the options of its ``_pick``)."""
    import inspect

    source = inspect.getsource(FAMILIES[family])
    found = re.search(r"_pick\(\s*rng,\s*variant,\s*(\[.*?\])", source, re.S)
    return sorted(set(ast.literal_eval(found.group(1))))


def _quiet():
    return warnings.catch_warnings()


@functools.lru_cache(maxsize=1)
def _dataset():
    import fluxds

    with _quiet():
        warnings.simplefilter("ignore")
        return fluxds.read(_WRITTEN / "fp_likelihood.fits")


@functools.cache
def _written(suffix: str) -> bytes:
    """The base SED Dataset written by fluxds as ``.nc`` or ``.h5``."""
    import fluxds

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"base{suffix}"
        fluxds.write(_dataset(), path)
        return path.read_bytes()


def read_tree(folder: Path) -> Tree:
    """A directory's regular files as a :class:`Tree` (symlinks and special files are not followed)."""
    tree: Tree = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            tree[path.relative_to(folder).as_posix()] = path.read_bytes()
    return tree


@functools.cache
def _zarr_base(zarr_format: int) -> tuple[tuple[str, bytes], ...]:
    """The base SED Dataset as a zarr store (format 3: fluxds.write; format 2: xarray with blosc)."""
    import fluxds
    from fluxds.io.cf.encoding import encode

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "base.zarr"
        with _quiet():
            warnings.simplefilter("ignore")
            if zarr_format == 3:
                fluxds.write(_dataset(), path)
            else:
                encode(_dataset()).to_zarr(path, mode="w", zarr_format=2, consolidated=True)
        return tuple(read_tree(path).items())


def _zarr_tree(zarr_format: int) -> Tree:
    return dict(_zarr_base(zarr_format))


def outside_files() -> dict[str, bytes]:
    """Files the worker puts in ``outside/`` (beside, not inside, the inputs' folder): link targets."""
    model = (
        "components:\n"
        f"- name: {SECRET}\n"
        "  type: SkyModel\n"
        "  spectral:\n"
        "    type: PowerLawSpectralModel\n"
        "    parameters:\n"
        "    - {name: index, value: 4.2424242}\n"
        "    - {name: amplitude, value: 4.2424242e-11, unit: cm-2 s-1 TeV-1}\n"
        "    - {name: reference, value: 1.0, unit: TeV}\n"
    )
    tree = _zarr_tree(3)
    files = {
        "secret_model.yaml": model.encode(),
        "secret_broken.yaml": f"components: [\n{SECRET}: {{unclosed: [\n".encode(),
        "secret.txt": (SECRET + "\n").encode() * 8,
        # valid copies of a store's parts: following a link to them "works" unless the reader refuses it
        "norm_chunk": tree["norm/c/0"],
        "norm_zarr.json": tree["norm/zarr.json"],
        "root_zarr.json": tree["zarr.json"],
    }
    for name, data in tree.items():
        if name.startswith("norm/"):
            files["norm_dir/" + name[len("norm/") :]] = data
    return files


def materialise(data: bytes | Tree, path: Path, outside: Path) -> None:
    """Write an input at ``path``: a file, or a directory tree with its links and FIFOs."""
    if isinstance(data, bytes):
        path.write_bytes(_fill_outside(data, outside))
        return
    path.mkdir()
    for rel, entry in sorted(data.items()):
        target = path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(entry, Link):
            os.symlink(entry.target.replace(OUTSIDE, str(outside)), target)
        elif isinstance(entry, _Fifo):
            os.mkfifo(target)
        else:
            target.write_bytes(entry)


def _fill_outside(data: bytes, outside: Path) -> bytes:
    """Replace ``{outside}`` in the FITS header cards of ``data`` by the real folder (cards stay 80 long)."""
    marker = OUTSIDE.encode()
    out = bytearray(data)
    start = out.find(marker)
    while start >= 0:
        card = start - start % 80
        key = bytes(out[card : card + 8]).decode("ascii", "replace").rstrip()
        text = bytes(out[card + 10 : card + 80]).decode("ascii", "replace")
        value = text.strip().split("'")[1] if text.strip().startswith("'") else text.strip()
        out[card : card + 80] = _card(key, value.replace(OUTSIDE, str(outside)))
        start = out.find(marker, card + 80)
    return bytes(out)


def write_outside(outside: Path) -> None:
    """Create the ``outside/`` folder of :func:`outside_files`."""
    for rel, data in outside_files().items():
        (outside / rel).parent.mkdir(parents=True, exist_ok=True)
        (outside / rel).write_bytes(data)


# ------------------------------------------------------------------------------------------ netCDF
def _netcdf_bomb(rng: random.Random, variant: str | None = None) -> Input:
    import netCDF4

    variant = _pick(
        rng, variant, ["junk_variable", "junk_dimension", "huge_energy", "huge_energy", "classic_dim"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.nc"
        if variant in ("junk_variable", "junk_dimension"):
            path.write_bytes(_written(".nc"))
            n = rng.choice([2 * 10**7, 2 * 10**8]) if variant == "junk_variable" else 10**12
            with netCDF4.Dataset(path, "a") as nc:
                nc.createDimension("junk", n)
                nc.createVariable("junk", "f8", ("junk",), chunksizes=(min(n, 1 << 20),))
            note = {"declared": n}
        elif variant == "huge_energy":
            n = rng.choice([2 * 10**6, 3 * 10**7, 2 * 10**8, 10**12])
            _netcdf_huge_dim(path, n, rng.choice(["energy", "scan"]))
            note = {"declared": n}
        else:
            n = rng.choice([2**31 - 1, 10**9, 2 * 10**8])
            _netcdf_classic(path, n)
            note = {"declared": n}
        junk = JUNK_RSS_MIB if variant.startswith("junk") else None
        return Input("bomb.nc", path.read_bytes(), "netcdf_bomb", variant, notes=note, rss_limit_mib=junk)


def _netcdf_huge_dim(path: Path, n: int, dim: str) -> None:
    """The base file with dimension ``dim`` declared ``n`` long; only the real values are written."""
    import netCDF4

    src_path = path.with_name("src.nc")
    src_path.write_bytes(_written(".nc"))
    with netCDF4.Dataset(src_path) as src, netCDF4.Dataset(path, "w") as dst:
        dst.setncatts({k: src.getncattr(k) for k in src.ncattrs()})
        for name, d in src.dimensions.items():
            dst.createDimension(name, n if name == dim else len(d))
        for name, var in src.variables.items():
            attrs = {k: var.getncattr(k) for k in var.ncattrs()}
            fill = attrs.pop("_FillValue", None)
            if var.dtype is str or var.dtype.kind in "SUO":
                continue
            chunks = tuple(min(256, n) if d == dim else len(src.dimensions[d]) for d in var.dimensions)
            out = dst.createVariable(
                name, var.dtype, var.dimensions, fill_value=fill, chunksizes=chunks or None, zlib=True
            )
            out.setncatts(attrs)
            index = tuple(slice(0, len(src.dimensions[d])) for d in var.dimensions)
            out[index] = var[:]


def _netcdf_classic(path: Path, n: int) -> None:
    """A netCDF-3 (64-bit offset) file whose ``energy`` dimension's length is patched to ``n``."""
    from fluxds.io.cf.encoding import encode

    encoded = encode(_dataset())
    with _quiet():
        warnings.simplefilter("ignore")
        encoded.to_netcdf(path, format="NETCDF3_64BIT", engine="netcdf4")
    data = bytearray(path.read_bytes())
    name = b"energy"
    i = data.find(struct.pack(">i", len(name)) + name)
    if i >= 0:
        end = i + 4 + len(name) + (-len(name)) % 4
        data[end : end + 4] = struct.pack(">i", min(n, 2**31 - 1))
    path.write_bytes(bytes(data))


# -------------------------------------------------------------------------------------------- HDF5
def _hdf5_bomb(rng: random.Random, variant: str | None = None) -> Input:
    import h5py

    variant = _pick(rng, variant, ["huge_table", "huge_table", "junk_dataset"])
    n = rng.choice([10**6, 3 * 10**7, 2 * 10**8, 10**10]) if variant == "huge_table" else 10**12
    with tempfile.TemporaryDirectory() as tmp:
        src_path, path = Path(tmp) / "src.h5", Path(tmp) / "x.h5"
        src_path.write_bytes(_written(".h5"))
        with h5py.File(src_path, "r") as src, h5py.File(path, "w") as dst:
            for key, obj in src.items():
                if isinstance(obj, h5py.Dataset) and obj.dtype.names and variant == "huge_table":
                    rows = obj[()]
                    out = dst.create_dataset(
                        key,
                        shape=(n,),
                        maxshape=(None,),
                        dtype=obj.dtype,
                        chunks=(min(n, 64),),
                        compression="gzip",
                    )
                    out[: len(rows)] = rows
                else:
                    src.copy(obj, dst, name=key)
                for k, v in obj.attrs.items():
                    dst[key].attrs[k] = v
            if variant == "junk_dataset":
                dst.create_dataset("junk", shape=(n,), dtype="f8", chunks=(1 << 16,))
        junk = JUNK_RSS_MIB if variant.startswith("junk") else None
        return Input(
            "bomb.h5", path.read_bytes(), "hdf5_bomb", variant, notes={"declared": n}, rss_limit_mib=junk
        )


# -------------------------------------------------------------------------------------------- zarr
def _zstd_frame(content_size: int, real_size: int) -> bytes:
    """A zstd frame declaring ``content_size`` bytes, made of RLE blocks of zeros giving ``real_size``."""
    out = bytearray(b"\x28\xb5\x2f\xfd" + bytes([0xE0]) + struct.pack("<Q", content_size))
    block = 128 * 1024
    left = real_size
    while True:
        size = min(block, left)
        left -= size
        last = 1 if left == 0 else 0
        out += struct.pack("<I", last | (1 << 1) | (size << 3))[:3] + b"\x00"
        if last:
            return bytes(out)


def _blosc_lie(nbytes: int, payload: bytes) -> bytes:
    """A blosc (1.x) chunk header claiming ``nbytes`` decompressed bytes, followed by ``payload``."""
    header = struct.pack("<BBBBIII", 2, 1, 0x03, 8, nbytes, min(nbytes, 1 << 16), 16 + len(payload))
    return header + payload


def _set_shape(meta: dict, shape: list[int], chunks: list[int] | None = None) -> None:
    if "chunk_grid" in meta:  # format 3
        meta["shape"] = shape
        if chunks is not None:
            meta["chunk_grid"]["configuration"]["chunk_shape"] = chunks
    else:
        meta["shape"] = shape
        if chunks is not None:
            meta["chunks"] = chunks


def _dims_of(meta: dict, attrs: dict | None) -> list[str]:
    if "dimension_names" in meta:
        return list(meta["dimension_names"] or [])
    return list((attrs or {}).get("_ARRAY_DIMENSIONS", []))


class _ZarrEditor:
    """Edits of a zarr store's metadata kept consistent between the per-array files and the
    consolidated copy (format 3: ``zarr.json`` inline; format 2: ``.zmetadata``)."""

    def __init__(self, zarr_format: int):
        self.fmt = zarr_format
        self.tree = _zarr_tree(zarr_format)
        if zarr_format == 3:
            self.root = json.loads(self.tree["zarr.json"])
            self.consolidated = self.root["consolidated_metadata"]["metadata"]
        else:
            self.root = json.loads(self.tree[".zmetadata"])
            self.consolidated = self.root["metadata"]

    def arrays(self) -> list[str]:
        if self.fmt == 3:
            return sorted(k for k, v in self.consolidated.items() if v.get("node_type") == "array")
        return sorted(k[: -len("/.zarray")] for k in self.consolidated if k.endswith("/.zarray"))

    def meta(self, name: str) -> dict:
        return self.consolidated[name] if self.fmt == 3 else self.consolidated[f"{name}/.zarray"]

    def attrs(self, name: str) -> dict:
        if self.fmt == 3:
            return self.consolidated[name].get("attributes", {})
        return self.consolidated.get(f"{name}/.zattrs", {})

    def dims(self, name: str) -> list[str]:
        return _dims_of(self.meta(name), self.attrs(name))

    def edit(self, name: str, fn) -> None:
        fn(self.meta(name))
        key = f"{name}/zarr.json" if self.fmt == 3 else f"{name}/.zarray"
        meta = json.loads(self.tree[key])
        fn(meta)
        self.tree[key] = json.dumps(meta).encode()

    def add_array(self, name: str, like: str, shape: list[int], chunks: list[int], dims: list[str]) -> None:
        meta = copy.deepcopy(self.meta(like))
        _set_shape(meta, shape, chunks)
        if self.fmt == 3:
            meta["dimension_names"] = dims
            meta.setdefault("attributes", {}).pop("coordinates", None)
            self.consolidated[name] = meta
            self.tree[f"{name}/zarr.json"] = json.dumps(meta).encode()
        else:
            attrs = {"_ARRAY_DIMENSIONS": dims}
            self.consolidated[f"{name}/.zarray"] = meta
            self.consolidated[f"{name}/.zattrs"] = attrs
            self.tree[f"{name}/.zarray"] = json.dumps(meta).encode()
            self.tree[f"{name}/.zattrs"] = json.dumps(attrs).encode()

    def chunk_keys(self, name: str) -> list[str]:
        return sorted(
            k
            for k in self.tree
            if k.startswith(name + "/") and not k.split("/")[-1].startswith((".", "zarr.json"))
        )

    def done(self) -> Tree:
        key = "zarr.json" if self.fmt == 3 else ".zmetadata"
        self.tree[key] = json.dumps(self.root).encode()
        return self.tree


def _zarr_bomb(rng: random.Random, variant: str | None = None) -> Input:
    fmt = rng.choice([3, 3, 2])
    z = _ZarrEditor(fmt)
    variant = _pick(
        rng,
        variant,
        ["huge_shape", "billions_of_chunks", "junk_array", "chunk_claims_huge", "chunk_really_huge"],
    )
    notes: dict = {"zarr_format": fmt}
    if variant in ("huge_shape", "billions_of_chunks"):
        n = rng.choice([3 * 10**6, 3 * 10**7, 2 * 10**8, 10**12])
        for name in z.arrays():
            dims = z.dims(name)
            if "energy" in dims:
                old = z.meta(name)["shape"]
                shape = [n if d == "energy" else s for d, s in zip(dims, old, strict=False)]
                chunks = [
                    1 if d == "energy" else s for d, s in zip(dims, z.meta(name)["shape"], strict=False)
                ]
                z.edit(
                    name,
                    lambda m, s=shape, c=chunks: _set_shape(m, s, c if variant != "huge_shape" else None),
                )
        notes["declared"] = n
    elif variant == "junk_array":
        n = rng.choice([10**8, 10**12])
        z.add_array("junk", "norm", [n], [rng.choice([1, 1 << 20])], ["junk"])
        notes["declared"] = n
    else:
        name = rng.choice(["norm", "energy", "norm_err", "ts"])
        key = z.chunk_keys(name)[0]
        if variant == "chunk_claims_huge":
            size = rng.choice([2**31 - 1, 2**40, 2**62])
            if fmt == 3:
                z.tree[key] = _zstd_frame(size, 48)
            else:
                z.tree[key] = _blosc_lie(min(size, 2**31 - 1), bytes(48))
        else:  # a real zstd bomb; for format 2 the codec becomes zstd
            size = rng.choice([2**29, 2**31, 2**32])
            z.tree[key] = _zstd_frame(size, size)
            if fmt == 2:
                z.edit(name, lambda m: m.update(compressor={"id": "zstd", "level": 0}))
        notes.update(array=name, claimed=size)
    junk = JUNK_RSS_MIB if variant.startswith("junk") else None
    return Input("bomb.zarr", z.done(), "zarr_bomb", f"{variant}-v{fmt}", notes=notes, rss_limit_mib=junk)


def _zarr_links(rng: random.Random, variant: str | None = None) -> Input:
    tree = _zarr_tree(3)
    variant = _pick(
        rng,
        variant,
        [
            "chunk_to_outside_copy",
            "chunk_to_etc_passwd",
            "chunk_to_dev_zero",
            "chunk_fifo",
            "array_meta_to_outside_copy",
            "root_meta_to_outside_copy",
            "array_dir_to_outside_copy",
            "chunk_dangling",
            "chunk_loop",
            "chunk_relative_escape",
        ],
    )
    chunk = "norm/c/0"
    if variant == "chunk_to_outside_copy":
        tree[chunk] = Link(f"{OUTSIDE}/norm_chunk")
    elif variant == "chunk_to_etc_passwd":
        tree[chunk] = Link("/etc/passwd")
    elif variant == "chunk_to_dev_zero":
        tree[chunk] = Link("/dev/zero")
    elif variant == "chunk_fifo":
        tree[chunk] = FIFO
    elif variant == "array_meta_to_outside_copy":
        tree["norm/zarr.json"] = Link(f"{OUTSIDE}/norm_zarr.json")
    elif variant == "root_meta_to_outside_copy":
        tree["zarr.json"] = Link(f"{OUTSIDE}/root_zarr.json")
    elif variant == "array_dir_to_outside_copy":
        for key in [k for k in tree if k.startswith("norm/")]:
            del tree[key]
        tree["norm"] = Link(f"{OUTSIDE}/norm_dir")
    elif variant == "chunk_dangling":
        tree[chunk] = Link(f"{OUTSIDE}/no_such_file")
    elif variant == "chunk_loop":
        tree[chunk] = Link("0")
    else:  # relative: norm/c/0 -> ../../../outside/norm_chunk (the store sits in in/, beside outside/)
        tree[chunk] = Link("../../../../outside/norm_chunk")
    return Input("links.zarr", tree, "zarr_links", variant, must_refuse=True)


# -------------------------------------------------------------------------------------------- FITS
def _card(key: str, value) -> bytes:
    if isinstance(value, bool):
        text = f"{'T' if value else 'F':>20}"
    elif isinstance(value, (int, float)):
        text = f"{value:>20}"
    else:
        text = "'" + str(value).replace("'", "''").ljust(8) + "'"
    return f"{key:<8}= {text}".ljust(80)[:80].encode("ascii")


def _header_bytes(cards: list[bytes]) -> bytes:
    raw = b"".join(cards) + b"END".ljust(80)
    return raw + b" " * ((-len(raw)) % 2880)


def _pad(data: bytes) -> bytes:
    return data + b"\0" * ((-len(data)) % 2880)


def _hdus(data: bytes) -> list[tuple[bytes, bytes]]:
    """(header bytes, data bytes) of each HDU of a FITS file (headers parsed just enough)."""
    from astropy.io import fits

    out = []
    with fits.open(io.BytesIO(data)) as hdul:
        for hdu in hdul:
            info = hdu.fileinfo()
            out.append((info["hdrLoc"], info["datLoc"], info["datSpan"]))
    return [(data[h:d], data[d : d + span]) for h, d, span in out]


def _set_cards(header: bytes, values: dict[str, object]) -> bytes:
    """``header`` with the cards in ``values`` replaced (or added before END)."""
    cards = [header[i : i + 80] for i in range(0, len(header), 80)]
    cards = [c for c in cards if c.strip() and c[:8].rstrip() != b"END"]
    done = set()
    for k, card in enumerate(cards):
        key = card[:8].decode("ascii", "replace").rstrip()
        if key in values:
            cards[k] = _card(key, values[key])
            done.add(key)
    cards += [_card(k, v) for k, v in values.items() if k not in done]
    return _header_bytes(cards)


def _fits_image_bomb(rng: random.Random, variant: str | None = None) -> Input:
    base = (_WRITTEN / "fm_ts.fits").read_bytes()
    hdus = _hdus(base)
    variant = _pick(rng, variant, ["naxis", "tile_short", "tile_shared_heap", "tile_shared_heap"])
    nx = rng.choice([4096, 16384, 65536, 10**6])
    ny = rng.choice([1024, 16384, 65536])
    out = bytearray()
    images = 0
    for _k, (header, data) in enumerate(hdus):
        is_image = b"XTENSION= 'IMAGE   '" in header[:80] and b"NAXIS   =                    3" in header
        images += is_image
        if not is_image:
            out += header + data
        elif variant == "naxis":
            out += _set_cards(header, {"NAXIS1": nx, "NAXIS2": ny, "WCSSHAPE": f"({nx},{ny},2)"}) + data
        else:
            out += _tile_compressed(header, nx, ny, shared=variant == "tile_shared_heap")
    return Input(
        "bomb.fits",
        bytes(out),
        "fits_image_bomb",
        variant,
        notes={"declared_bytes_per_hdu": nx * ny * 2 * 8, "declared_bytes": nx * ny * 2 * 8 * images},
    )


def _tile_compressed(image_header: bytes, nx: int, ny: int, shared: bool) -> bytes:
    """A tile-compressed (GZIP_1) 3-D float64 image ``(2, ny, nx)`` in place of an image HDU: tiles of
    one row; with ``shared`` every tile's descriptor points at the same gzip stream of a row of zeros (a
    real image of 16 nx ny bytes), otherwise at a stream of 8 bytes (tiles too short)."""
    from astropy.io import fits

    header = fits.Header.fromstring(image_header.decode("ascii", "replace"))
    rows = max(1, min(ny, (1 << 20) // nx))  # tiles of ``rows`` image rows, <= 8 MiB each
    row = gzip.compress(bytes(8 * nx * rows if shared else 8), mtime=0)
    ntiles = -(-ny // rows) * 2
    heap = row
    table = struct.pack(">ii", len(row), 0) * ntiles
    cards = [
        _card("XTENSION", "BINTABLE"),
        _card("BITPIX", 8),
        _card("NAXIS", 2),
        _card("NAXIS1", 8),
        _card("NAXIS2", ntiles),
        _card("PCOUNT", len(heap)),
        _card("GCOUNT", 1),
        _card("TFIELDS", 1),
        _card("TTYPE1", "COMPRESSED_DATA"),
        _card("TFORM1", f"1PB({len(row)})"),
        _card("ZIMAGE", True),
        _card("ZBITPIX", -64),
        _card("ZNAXIS", 3),
        _card("ZNAXIS1", nx),
        _card("ZNAXIS2", ny),
        _card("ZNAXIS3", 2),
        _card("ZTILE1", nx),
        _card("ZTILE2", rows),
        _card("ZTILE3", 1),
        _card("ZCMPTYPE", "GZIP_1"),
    ]
    for key in header:
        if key.startswith(
            ("CRPIX", "CDELT", "CUNIT", "CTYPE", "CRVAL", "LONPOLE", "LATPOLE", "WCSAXES")
        ) or key in (
            "BANDSHDU",
            "BUNIT",
            "EXTNAME",
            "AXCOLS1",
            "INTERP1",
        ):
            cards.append(_card(key, header[key]))
    cards.append(_card("WCSSHAPE", f"({nx},{ny},2)"))
    return _header_bytes(cards) + _pad(table + heap)


def _fits_table_bomb(rng: random.Random, variant: str | None = None) -> Input:
    name = rng.choice(["fp_likelihood.fits", "lc_likelihood.fits", "profile_likelihood.fits"])
    base = (_WRITTEN / name).read_bytes()
    hdus = _hdus(base)
    variant = _pick(rng, variant, ["naxis2", "tform_tdim", "vla_shared_heap", "vla_shared_heap"])
    header, data = hdus[1]
    notes: dict = {"seed": name}
    if variant == "naxis2":
        n = rng.choice([10**9, 10**12, 2**31])
        header = _set_cards(header, {"NAXIS2": n})
        notes["declared"] = n
    elif variant == "tform_tdim":
        from astropy.io import fits

        h = fits.Header.fromstring(header.decode("ascii", "replace"))
        col = next((k for k in h if k.startswith("TDIM")), None)
        k = col[4:] if col else "1"
        a, b = rng.choice([(10**4, 10**4), (10**6, 10**6), (10**5, 10**3)])
        header = _set_cards(header, {f"TFORM{k}": f"{a * b}D", f"TDIM{k}": f"({a},{b})"})
        notes["declared"] = a * b
    else:
        rows, per_row = rng.choice([(10**4, 10**5), (10**3, 10**6), (10**5, 10**4)])
        header, data = _vla_table(header, data, rows, per_row)
        notes["declared_values"] = rows * per_row
    out = hdus[0][0] + hdus[0][1] + header + data + b"".join(h + d for h, d in hdus[2:])
    return Input(f"bomb_{name}", out, "fits_table_bomb", variant, notes=notes)


def _vla_table(header: bytes, data: bytes, rows: int, per_row: int) -> tuple[bytes, bytes]:
    """The SED table with its first column replaced by a variable-length double column (``1PD``) of
    ``rows`` rows, each descriptor pointing at the same ``per_row`` values in the heap."""
    from astropy.io import fits

    h = fits.Header.fromstring(header.decode("ascii", "replace"))
    table = fits.BinTableHDU(data=None, header=h)
    names = [h[f"TTYPE{i}"] for i in range(1, h["TFIELDS"] + 1)]
    cols = [fits.Column(name=names[0], format=f"1PD({per_row})")]
    cols += [
        fits.Column(name=n, format="D")
        for n in names[1:]
        if h.get(f"TFORM{names.index(n) + 1}", "").strip() == "D"
    ]
    row_bytes = 8 + 8 * (len(cols) - 1)
    heap = bytes(8 * per_row)
    body = (struct.pack(">ii", per_row, 0) + bytes(row_bytes - 8)) * rows
    cards = [
        _card("XTENSION", "BINTABLE"),
        _card("BITPIX", 8),
        _card("NAXIS", 2),
        _card("NAXIS1", row_bytes),
        _card("NAXIS2", rows),
        _card("PCOUNT", len(heap)),
        _card("GCOUNT", 1),
        _card("TFIELDS", len(cols)),
    ]
    for i, c in enumerate(cols, 1):
        cards += [_card(f"TTYPE{i}", c.name), _card(f"TFORM{i}", c.format)]
    for key in ("EXTNAME", "SED_TYPE", "UL_CONF"):
        if key in h:
            cards.append(_card(key, h[key]))
    del table
    return _header_bytes(cards), _pad(body + heap)


# ----------------------------------------------------------------------------------------- HEALPix
def _healpix_bomb(rng: random.Random, variant: str | None = None) -> Input:
    from astropy.io import fits

    variant = _pick(rng, variant, ["sparse_allsky", "sparse_region", "sparse_region_inc", "implicit_allsky"])
    nside = (
        rng.choice([4096, 8192, 65536]) if variant != "sparse_region" else rng.choice([4096, 65536, 65536])
    )
    region = {
        "sparse_allsky": "",
        "sparse_region": rng.choice(["DISK(0,0,90)", "DISK(0.,0.,90.)", "DISK(10,-5,180)"]),
        "sparse_region_inc": "DISK_INC(0,0,120,64)",
        "implicit_allsky": "",
    }[variant]
    with fits.open(_WRITTEN / "fm_hpx.fits") as hdul:
        out = fits.HDUList([hdul[0].copy()])
        for hdu in hdul[1:]:
            if hdu.header.get("PIXTYPE", "").strip() != "HEALPIX":
                out.append(hdu.copy())
                continue
            h = hdu.header.copy()
            for key in ("NAXIS1", "NAXIS2", "TFIELDS", "PCOUNT", "GCOUNT") + tuple(
                k for k in h if k.startswith(("TTYPE", "TFORM", "TUNIT", "TDIM"))
            ):
                h.remove(key, ignore_missing=True, remove_all=True)
            if variant == "implicit_allsky":
                cols = [fits.Column(name="CHANNEL1", format="E", array=[1.0, 2.0])]
                h["INDXSCHM"] = "IMPLICIT"
            else:
                pix = [0, 1, 12 * nside * nside - 1]
                cols = [
                    fits.Column(name="PIX", format="K", array=pix),
                    fits.Column(name="CHANNEL", format="I", array=[0, 1, 0]),
                    fits.Column(name="VALUE", format="E", array=[1.0, 2.0, 3.0]),
                ]
                h["INDXSCHM"] = "SPARSE"
            h["NSIDE"] = nside
            h["ORDER"] = nside.bit_length() - 1
            h["LASTPIX"] = 12 * nside * nside - 1
            if region:
                h["HPX_REG"] = region
            else:
                h.remove("HPX_REG", ignore_missing=True)
            new = fits.BinTableHDU.from_columns(cols, header=h)
            out.append(new)
        buffer = io.BytesIO()
        out.writeto(buffer)
    return Input(
        "bomb_hpx.fits", buffer.getvalue(), "healpix_bomb", variant, notes={"nside": nside, "region": region}
    )


# -------------------------------------------------------------------------------------------- ECSV
def _laughs(width: int, depth: int, indent: str) -> list[str]:
    lines = [f"{indent}lol0: &a0 [{', '.join(['lol'] * width)}]"]
    for d in range(1, depth):
        lines.append(f"{indent}lol{d}: &a{d} [{', '.join([f'*a{d - 1}'] * width)}]")
    return lines


def _ecsv_bomb(rng: random.Random, variant: str | None = None) -> Input:
    name = rng.choice(["fp_likelihood.ecsv", "lc_likelihood.ecsv", "profile_likelihood.ecsv"])
    text = (_WRITTEN / name).read_text()
    lines = text.split("\n")
    variant = _pick(rng, variant, ["laughs_meta", "laughs_meta", "laughs_description", "huge_subtype"])
    width, depth = rng.choice([(10, 9), (10, 12), (100, 6), (32, 4), (2, 40)])
    notes: dict = {"seed": name}
    if variant == "laughs_meta":
        i = next((k for k, line in enumerate(lines) if line.startswith("# meta:")), None)
        if i is None:  # no meta yet: one before the schema line
            i = next(k for k, line in enumerate(lines) if line.startswith("# schema:"))
            lines.insert(i, "# meta:")
        rest = [line for line in lines[i + 1 :] if line.startswith("# - {")]
        lines[i : i + 1 + len(rest)] = (
            ["# meta:"]
            + ["#   " + item[len("# - {") : -1].replace(": ", ": ", 1) for item in rest]
            + ["#" + line for line in _laughs(width, depth, "   ")]
        )
        notes["expands_to"] = width**depth
    elif variant == "laughs_description":
        i = next(k for k, line in enumerate(lines) if line.startswith("# datatype:"))
        anchors = _laughs(width, depth, "")
        # anchors defined in a throw-away top-level key, used in a column description
        lines.insert(i, "# lols: {" + ", ".join(a.replace(": ", ": ", 1) for a in anchors) + "}")
        j = next(k for k, line in enumerate(lines) if "{name: norm," in line)
        lines[j] = lines[j].replace("{name: norm,", f"{{name: norm, description: *a{depth - 1},")
        notes["expands_to"] = width**depth
    else:
        j = next((k for k, line in enumerate(lines) if "subtype: 'float64[11]'" in line), None)
        shape = rng.choice(["1000000,1000", "1000000000", "100000,100000"])
        if j is None:
            j = next(k for k, line in enumerate(lines) if "{name: norm," in line)
            lines[j] = lines[j].replace(
                "datatype: float64}", f"datatype: string, subtype: 'float64[{shape}]'}}"
            )
        else:
            lines[j] = lines[j].replace("float64[11]", f"float64[{shape}]")
        notes["shape"] = shape
    return Input(f"bomb_{name}", "\n".join(lines).encode(), "ecsv_bomb", variant, notes=notes)


# ------------------------------------------------------------------------------------ MODEL keyword
def _model_path(rng: random.Random, variant: str | None = None) -> Input:
    seed = rng.choice(["fm_ts.fits", "fm_hpx.fits"])
    variant = _pick(
        rng,
        variant,
        [
            "absolute_outside",
            "relative_up",
            "etc_passwd",
            "dev_zero",
            "proc_environ",
            "directory",
            "broken_outside",
        ],
    )
    target = {
        "absolute_outside": f"{OUTSIDE}/secret_model.yaml",
        "relative_up": "../outside/secret_model.yaml",
        "etc_passwd": "/etc/passwd",
        "dev_zero": "/dev/zero",
        "proc_environ": "/proc/self/environ",
        "directory": "/etc",
        "broken_outside": f"{OUTSIDE}/secret_broken.yaml",
    }[variant]
    data = (_WRITTEN / seed).read_bytes()
    header, body = data[:2880], data[2880:]
    return Input(
        f"model_{seed}",
        _set_cards(header, {"MODEL": target}) + body,
        "model_path",
        variant,
        notes={"MODEL": target},
    )


FAMILIES = {
    "netcdf_bomb": _netcdf_bomb,
    "hdf5_bomb": _hdf5_bomb,
    "zarr_bomb": _zarr_bomb,
    "fits_image_bomb": _fits_image_bomb,
    "fits_table_bomb": _fits_table_bomb,
    "healpix_bomb": _healpix_bomb,
    "ecsv_bomb": _ecsv_bomb,
    "zarr_links": _zarr_links,
    "model_path": _model_path,
}


def generate(family: str, rng: random.Random, variant: str | None = None) -> Input:
    """One input of ``family`` (a key of :data:`FAMILIES`) drawn with ``rng`` (of ``variant`` if given:
    see :func:`variants`)."""
    return FAMILIES[family](rng, variant)
