"""The read budget for FITS (images, tables, tile compression, variable-length arrays), HEALPix maps and
ECSV (issue 12, "Memory"): each bomb is a small file declaring a huge size, refused with a BudgetError
naming the file, the HDU/column, the size and the budget before anything is allocated; what no reader
needs (an extra JUNK HDU) is never read.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from helpers import DATA

import fluxds
from fluxds.errors import FluxdsError, FormatError
from fluxds.io.guard.budget import BudgetError, budget_scope
from fluxds.io.guard.fits_sizes import check_fits_hdu, check_fits_sizes, fits_data_bytes
from fluxds.io.guard.untrusted import decompression_limit, set_decompression_limit

FLUX_MAP = DATA / "gammapy-written" / "fm_excess.fits"
HPX = DATA / "gammapy-written" / "fm_hpx.fits"
SED = DATA / "gammapy-written" / "fp_dnde.fits"
SED_ECSV = DATA / "gammapy-written" / "fp_dnde.ecsv"
PEAK_MB = 200  # largest growth of the peak resident memory a refusal may cost


@pytest.fixture(autouse=True)
def _default_limit():
    """Every test starts from the default decompression limit (the read budget)."""
    old = set_decompression_limit(None)
    yield
    set_decompression_limit(old)


def _card(raw: bytes, key: str, value, start: int = 0) -> bytes:
    """``raw`` with the first card ``key`` at or after ``start`` given ``value`` (FITS fixed format)."""
    data = bytearray(raw)
    i = data.index(key.ljust(8).encode() + b"=", start)
    text = f"'{value}'".ljust(20) if isinstance(value, str) else str(value).rjust(20)
    data[i : i + 80] = (key.ljust(8) + "= " + text).ljust(80).encode()
    return bytes(data)


def _peak_of(code: str, tmp_path: Path, env: dict | None = None) -> dict:
    """Run ``code`` in a fresh Python: the peak resident memory it adds (MB) and what it prints as JSON."""
    script = textwrap.dedent(
        """
        import json, resource, sys
        import fluxds, fluxds.io.healpix_map.read, fluxds.io.wcs_map.read, fluxds.io.sed_table.files
        import fluxds.io.flux_profile.read
        import fluxds.io.lightcurve.files
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        out = {}
        try:
        {code}
        except Exception as exc:
            out["error"] = type(exc).__name__
            out["message"] = str(exc)
        out["peak_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        print(json.dumps(out))
        """
    ).replace("{code}", textwrap.indent(textwrap.dedent(code), "    "))
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------------
# the decompression limit and the budget


def test_decompression_limit_env_accepts_sizes_and_defaults_to_the_budget(monkeypatch):
    monkeypatch.setenv("FLUXDS_MAX_DECOMPRESSED_BYTES", "1MiB")  # int("1MiB") crashed before
    assert decompression_limit() == 1024**2
    monkeypatch.setenv("FLUXDS_MAX_DECOMPRESSED_BYTES", "lots")
    with pytest.raises(FormatError, match="FLUXDS_MAX_DECOMPRESSED_BYTES"):
        decompression_limit()
    monkeypatch.delenv("FLUXDS_MAX_DECOMPRESSED_BYTES")
    with budget_scope("3MiB"):
        assert decompression_limit() == 3 * 1024**2  # one budget: the limit follows it
    set_decompression_limit("2MiB")
    with budget_scope("3MiB"):
        assert decompression_limit() == 2 * 1024**2  # unless set apart


# ---------------------------------------------------------------------------------------------------
# tile-compressed images


def _compressed_bomb(path: Path, rows: int = 2500, width: int = 1 << 16) -> Path:
    """The flux map ``fm_excess.fits`` with its NORM image replaced by a tile-compressed one of
    ``3 x rows x width`` int32 pixels: every tile (one image row) is the same compressed row of zeros,
    stored once in the heap, so the file stays < 100 kB while the image declares 1.97 GB. NORM is the
    only map (the bands tables of the others stay)."""
    src = fits.open(FLUX_MAP)
    norm_header = src["NORM"].header.copy()
    small = np.zeros((3, 2, width), np.int32)
    for key in ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3"):
        del norm_header[key]
    comp = fits.CompImageHDU(
        small, header=norm_header, name="NORM", compression_type="GZIP_1", tile_shape=(1, 1, width)
    )
    tmp = path.with_suffix(".small.fits")
    fits.HDUList([fits.PrimaryHDU(), comp]).writeto(tmp, overwrite=True)
    with fits.open(tmp, disable_image_compression=True) as raw_hdul:
        table = raw_hdul[1]
        header = table.header.copy()
        info = table.fileinfo()
        raw = tmp.read_bytes()
        width_bytes, nrows = header["NAXIS1"], header["NAXIS2"]
        body = raw[info["datLoc"] : info["datLoc"] + nrows * width_bytes]
        row0 = body[:width_bytes]
        count = int(np.frombuffer(row0[:4], ">i4")[0])  # the first descriptor: (count, offset 0)
        heap_start = info["datLoc"] + header.get("THEAP", nrows * width_bytes)
        heap = raw[heap_start : heap_start + count]
    n_tiles = 3 * rows
    header["NAXIS2"] = n_tiles
    header["PCOUNT"] = len(heap)
    header["THEAP"] = n_tiles * width_bytes
    header["ZNAXIS2"] = rows
    data = row0 * n_tiles + heap
    data += b"\0" * (-len(data) % 2880)
    # the other maps (32 x 20 pixels) are left out: the reader compares every map's size before reading
    # any, and would refuse the bomb for its size alone
    others = [h.copy() for h in src if h.name not in ("PRIMARY", "NORM") and not h.is_image]
    rest_path = path.with_suffix(".rest.fits")
    fits.HDUList([src[0].copy(), *others]).writeto(rest_path, overwrite=True)
    rest = rest_path.read_bytes()
    primary_end = len(src[0].header.tostring())  # an empty primary HDU: its header only
    path.write_bytes(rest[:primary_end] + header.tostring().encode("ascii") + data + rest[primary_end:])
    shutil.copy(FLUX_MAP.parent / "fm_excess_model.yaml", path.parent / "fm_excess_model.yaml")
    src.close()
    return path


@pytest.fixture(scope="module")
def compressed_bomb(tmp_path_factory) -> Path:
    return _compressed_bomb(tmp_path_factory.mktemp("tiles") / "bomb.fits")


def test_tile_compressed_bomb_is_small_and_declares_gigabytes(compressed_bomb):
    assert compressed_bomb.stat().st_size < 500_000
    check_fits_sizes(compressed_bomb)  # what the file holds fits in it: only the declaration is huge
    with fits.open(compressed_bomb) as hdul:
        nbytes, decompressed, what = fits_data_bytes(hdul["NORM"])
    assert decompressed == 3 * 2500 * (1 << 16) * 4 == 1_966_080_000


def test_tile_compressed_bomb_refused_by_the_decompression_limit(compressed_bomb, monkeypatch):
    monkeypatch.setenv("FLUXDS_MAX_DECOMPRESSED_BYTES", "1MiB")
    with pytest.raises(BudgetError) as info:
        fluxds.read(compressed_bomb)
    message = str(info.value)
    assert str(compressed_bomb) in message and "'NORM'" in message and "1966080000 bytes" in message
    assert "1048576 bytes" in message and "FLUXDS_MAX_DECOMPRESSED_BYTES" in message


def test_tile_compressed_bomb_refused_by_the_budget(compressed_bomb):
    for chunks in (None, {"energy": 1}):  # lazily too: astropy decompresses the whole image at once
        with pytest.raises(BudgetError, match=r"NORM.*more than the limit for compressed inputs of 67108864"):
            fluxds.open_dataset(compressed_bomb, chunks=chunks, max_bytes="64MiB") if chunks else fluxds.read(
                compressed_bomb, max_bytes="64MiB"
            )


def test_tile_compressed_bomb_peak_memory(compressed_bomb, tmp_path):
    out = _peak_of(
        f"fluxds.read({str(compressed_bomb)!r})", tmp_path, {"FLUXDS_MAX_DECOMPRESSED_BYTES": "1MiB"}
    )
    assert out["error"] == "BudgetError", out
    assert out["peak_mb"] < PEAK_MB, out


def test_compressed_dimension_of_1e12_is_a_budget_error(tmp_path):
    path = tmp_path / "znaxis.fits"
    base = _compressed_bomb(tmp_path / "base.fits", rows=20, width=32)  # the bomb's make, at a sane size
    assert fluxds.read(base)["norm"].shape == (3, 20, 32)  # a valid flux map: it reads
    raw = base.read_bytes()
    path.write_bytes(_card(raw, "ZNAXIS1", 10**12))
    with pytest.raises(BudgetError, match=r"znaxis\.fits: HDU 'NORM'"):
        fluxds.read(path)


# ---------------------------------------------------------------------------------------------------
# plain images and tables


def test_declared_dimension_of_1e12_is_a_budget_error_in_every_fits_reader(tmp_path):
    raw = SED.read_bytes()
    path = tmp_path / "rows.fits"
    path.write_bytes(_card(raw, "NAXIS2", 10**12, start=2880))
    for fmt in (None, "gadf-sed", "lightcurve", "profile", "flux-map", "healpix-map", "tscube"):
        with pytest.raises(
            BudgetError, match=r"rows\.fits: HDU 1 declares \d+ bytes of data, more than the read"
        ):
            fluxds.read(path, format=fmt)
    image = tmp_path / "image.fits"
    image.write_bytes(_card(FLUX_MAP.read_bytes(), "NAXIS3", 10**12, start=2880))
    with pytest.raises(BudgetError, match=r"image\.fits: HDU 1 declares"):
        fluxds.read(image)


def test_table_and_image_hdus_are_checked_against_the_budget_before_reading(tmp_path):
    with budget_scope(1000):
        with fits.open(SED) as hdul, pytest.raises(BudgetError, match=r"HDU FLUXPOINTS.*read budget of 1000"):
            check_fits_hdu(hdul[1], SED)
        with fits.open(FLUX_MAP) as hdul, pytest.raises(BudgetError, match=r"32 pixels of 4 bytes"):
            check_fits_hdu(hdul["NORM"], FLUX_MAP)
    with pytest.raises(BudgetError, match=r"fp_dnde\.fits.*FLUXPOINTS.*max_bytes"):
        fluxds.read(SED, max_bytes=1000)
    with pytest.raises(BudgetError, match=r"fm_excess\.fits.*NORM"):
        fluxds.read(FLUX_MAP, max_bytes=5000)
    assert "norm" in fluxds.read(FLUX_MAP, max_bytes="1MiB")


def _vla_sed(path: Path, *, rows_point_to_same: bool = True, outside: bool = False) -> Path:
    """fp_dnde.fits with a JUNK variable-length column: each row's descriptor points to one 1 MiB array
    stored once in the heap (the heap is 1 MiB, the arrays the rows name add up to rows x 1 MiB)."""
    with fits.open(SED) as hdul:
        table = hdul[1]
        n = len(table.data)
        junk = np.empty(n, dtype=object)
        for i in range(n):
            junk[i] = np.zeros(1 if i else 131072, np.float64)
        cols = table.columns + fits.ColDefs([fits.Column("JUNK", "PD()", array=junk)])
        new = fits.BinTableHDU.from_columns(cols, header=table.header)
        fits.HDUList([hdul[0].copy(), new]).writeto(path, overwrite=True)
    raw = bytearray(path.read_bytes())
    with fits.open(path) as hdul:
        header, info = hdul[1].header, hdul[1].fileinfo()
        offsets = hdul[1].columns.names.index("JUNK")
        dtype = hdul[1].data.view(np.ndarray).dtype
    start = info["datLoc"]
    table_bytes = np.frombuffer(
        bytes(raw[start : start + header["NAXIS1"] * header["NAXIS2"]]), dtype=dtype
    ).copy()
    descriptors = table_bytes[dtype.names[offsets]]
    descriptors[:, 0] = 131072
    descriptors[:, 1] = 2 * 1024**2 if outside else 0
    table_bytes[dtype.names[offsets]] = descriptors
    raw[start : start + header["NAXIS1"] * header["NAXIS2"]] = table_bytes.tobytes()
    path.write_bytes(bytes(raw))
    return path


def test_variable_length_arrays_counted_against_the_budget(tmp_path):
    path = _vla_sed(tmp_path / "vla.fits")
    with fits.open(path) as hdul:
        rows, heap = hdul[1].header["NAXIS2"], hdul[1].header["PCOUNT"]
    assert rows > 3 and heap < 1.1 * 1024**2
    with pytest.raises(BudgetError, match=r"vla\.fits.*variable-length arrays of 1 column"):
        fluxds.read(path, max_bytes="3MiB")  # the heap fits; the arrays its rows name do not


def test_variable_length_array_outside_the_heap_is_refused(tmp_path):
    path = _vla_sed(tmp_path / "vla_out.fits", outside=True)
    with pytest.raises(
        FormatError, match=r"column 'JUNK', row 0: a variable-length array .* outside the heap"
    ):
        fluxds.read(path)


# ---------------------------------------------------------------------------------------------------
# variables no reader needs


@pytest.fixture(scope="module")
def junk_map(tmp_path_factory) -> Path:
    """fm_excess.fits with an extra JUNK image declaring 2 GiB, which the file holds (a sparse file)."""
    folder = tmp_path_factory.mktemp("junk")
    path = folder / "junk.fits"
    shutil.copy(FLUX_MAP, path)
    shutil.copy(FLUX_MAP.parent / "fm_excess_model.yaml", folder / "fm_excess_model.yaml")
    header = fits.ImageHDU(name="JUNK").header
    header["BITPIX"] = -64
    header["NAXIS"] = 2
    header["NAXIS1"] = header["NAXIS2"] = 16384
    size = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(header.tostring().encode("ascii"))
        handle.truncate(size + len(header.tostring()) + 16384 * 16384 * 8)  # sparse: nothing on disk
    return path


def test_junk_hdu_is_not_read(junk_map, tmp_path):
    check_fits_sizes(junk_map)  # the file holds what it declares
    with fits.open(junk_map) as hdul, budget_scope("256MiB"), pytest.raises(BudgetError, match="JUNK"):
        check_fits_hdu(hdul["JUNK"], junk_map)  # had a reader touched it, the budget would refuse it
    ds = fluxds.read(junk_map, max_bytes="256MiB")
    assert "norm" in ds and "junk" not in ds
    out = _peak_of(
        f"ds = fluxds.read({str(junk_map)!r}, max_bytes='256MiB'); out['vars'] = list(ds)", tmp_path
    )
    assert "error" not in out and "junk" not in out["vars"], out
    assert out["peak_mb"] < PEAK_MB, out


# ---------------------------------------------------------------------------------------------------
# HEALPix


def _sparse_hpx(path: Path, nside: int, region: str = "", n_values: int = 200) -> Path:
    """A HEALPix SPARSE (explicit-index) likelihood map: a few hundred values at NSIDE ``nside``."""
    with fits.open(HPX) as src:
        bands = src["NORM_BANDS"].copy()
    n = min(n_values, 12 * nside**2)
    pix = np.arange(n, dtype=np.int64)
    if region:
        from fluxds.healpix import region_pixels

        pix = region_pixels(nside, "nested", "galactic", region)[:n] if nside <= 1024 else pix[:0]
    hdus = [fits.PrimaryHDU()]
    hdus[0].header["SED_TYPE"] = "likelihood"
    for name in ("NORM", "NORM_ERR", "TS"):
        cols = [
            fits.Column("PIX", "K", array=pix),
            fits.Column("CHANNEL", "I", array=np.zeros(pix.size, np.int16)),
            fits.Column("VALUE", "E", array=np.ones(pix.size, np.float32)),
        ]
        hdu = fits.BinTableHDU.from_columns(cols, name=name)
        for key, value in (
            ("PIXTYPE", "HEALPIX"),
            ("ORDERING", "NESTED"),
            ("COORDSYS", "GAL"),
            ("INDXSCHM", "SPARSE"),
            ("NSIDE", nside),
            ("BANDSHDU", f"{name}_BANDS"),
        ):
            hdu.header[key] = value
        if region:
            hdu.header["HPX_REG"] = region
        ref = fits.Column("REF_DNDE", "D", unit="cm-2 s-1 TeV-1", array=np.full(len(bands.data), 1e-12))
        b = fits.BinTableHDU.from_columns(bands.columns + fits.ColDefs([ref]), name=f"{name}_BANDS")
        hdus += [hdu, b]
    fits.HDUList(hdus).writeto(path, overwrite=True)
    return path


def test_sparse_healpix_control_reads(tmp_path):
    ds = fluxds.read(_sparse_hpx(tmp_path / "ok.fits", 64), max_bytes="64MiB")
    assert ds.sizes["pixel"] == 12 * 64**2 and float(ds["norm"].sum()) == 200


def test_sparse_healpix_bomb_nside_4096(tmp_path):
    path = _sparse_hpx(tmp_path / "hpx_bomb.fits", 4096)
    assert path.stat().st_size < 40_000
    with pytest.raises(BudgetError) as info:
        fluxds.read(path, max_bytes="1GiB")
    message = str(info.value)
    assert "hpx_bomb.fits" in message and "NORM" in message and "201326592 pixels" in message
    assert "NSIDE 4096" in message and "max_bytes" in message
    out = _peak_of(f"fluxds.read({str(path)!r}, max_bytes='1GiB')", tmp_path)
    assert out["error"] == "BudgetError" and out["peak_mb"] < PEAK_MB, out


def test_healpix_disk_region_at_nside_65536_refused_without_listing(tmp_path):
    path = _sparse_hpx(tmp_path / "disk.fits", 65536, region="DISK(0.,0.,10.)")
    out = _peak_of(f"fluxds.read({str(path)!r}, max_bytes='1GiB')", tmp_path)
    assert out["error"] == "BudgetError" and "pixels" in out["message"], out
    assert "NSIDE 65536" in out["message"] and out["peak_mb"] < PEAK_MB, out


def test_healpix_small_regions_at_nside_65536_read(tmp_path):
    from fluxds.healpix import region_pixels

    pixels = region_pixels(65536, "nested", "galactic", "HPX_PIXEL(NESTED,16384,5)")  # listed the sky before
    assert np.array_equal(pixels, np.arange(5 * 16, 6 * 16))
    assert region_pixels(65536, "ring", "galactic", "DISK(0.,0.,0.01)").size > 0
    with pytest.raises(BudgetError, match=r"HPX_REG 'DISK\(0,0,30\)'.*NSIDE 65536"):
        with budget_scope("1GiB"):
            region_pixels(65536, "nested", "galactic", "DISK(0,0,30)")


@pytest.mark.parametrize(("nside", "error"), [(3000, FormatError), (2**29, BudgetError)])
def test_healpix_nside_not_a_power_of_two_or_absurd(tmp_path, nside, error):
    path = _sparse_hpx(tmp_path / "nside.fits", 64)
    with fits.open(path) as hdul:
        for hdu in hdul[1:]:
            if "NSIDE" in hdu.header:
                hdu.header["NSIDE"] = nside
        hdul.writeto(tmp_path / "nside2.fits")
    with pytest.raises(error, match=r"nside2\.fits"):
        fluxds.read(tmp_path / "nside2.fits")


# ---------------------------------------------------------------------------------------------------
# ECSV


def _ecsv_with(path: Path, header_extra: list[str] = (), column_line: str | None = None, rows=None) -> Path:
    lines = SED_ECSV.read_text().splitlines()
    header = [line for line in lines if line.startswith("#")]
    body = [line for line in lines if not line.startswith("#")]
    if column_line is not None:
        i = max(k for k, line in enumerate(header) if line.startswith("# - {name:"))
        header.insert(i + 1, column_line)
        body = [body[0] + " junk"] + [row + (' ""' if rows is None else f" {rows}") for row in body[1:]]
    if header_extra:
        i = next(k for k, line in enumerate(header) if line.startswith("# meta"))
        header[i + 1 : i + 1] = header_extra
    path.write_text("\n".join(header + body) + "\n")
    return path


def test_ecsv_control_reads():
    assert "dnde" in fluxds.read(SED_ECSV) or "norm" in fluxds.read(SED_ECSV)


def test_ecsv_billion_laughs_refused(tmp_path):
    levels = ["# - {l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]}"] + [
        f"# - {{l{k}: &l{k} [{', '.join([f'*l{k - 1}'] * 10)}]}}" for k in range(1, 9)
    ]  # in the table's meta (an !!omap): 10**9 'lol's once expanded
    path = _ecsv_with(tmp_path / "laughs.ecsv", header_extra=levels)
    assert path.stat().st_size < 10_000
    for fmt in ("ecsv", "lightcurve", "profile"):
        with pytest.raises(FluxdsError, match=r"laughs\.ecsv: ECSV header: YAML aliases expand"):
            fluxds.read(path, format=fmt)
    out = _peak_of(f"fluxds.read({str(path)!r})", tmp_path)
    assert out["error"] in ("FormatError", "BudgetError") and out["peak_mb"] < PEAK_MB, out


@pytest.mark.parametrize("size", [10**9, 10**12])
def test_ecsv_huge_declared_shape_is_a_budget_error(tmp_path, size):
    line = f"# - {{name: junk, datatype: string, subtype: 'float64[{size}]'}}"
    path = _ecsv_with(tmp_path / "shape.ecsv", column_line=line)
    for fmt in ("ecsv", "lightcurve", "profile"):
        with pytest.raises(BudgetError, match=r"shape\.ecsv: variable 'junk': \d+ rows of cells of shape"):
            fluxds.read(path, format=fmt)
    out = _peak_of(f"fluxds.read({str(path)!r})", tmp_path)
    assert out["error"] == "BudgetError" and out["peak_mb"] < PEAK_MB, out


def test_ecsv_huge_datatype_is_a_budget_error(tmp_path):
    line = "# - {name: junk, datatype: <U100000000}"  # 400 MB a row (a string of 10**8 characters)
    path = _ecsv_with(tmp_path / "wide.ecsv", column_line=line, rows="x")
    with pytest.raises(BudgetError, match=r"wide\.ecsv: variable 'junk'"):
        fluxds.read(path, max_bytes="1GiB")


def test_ecsv_bad_shape_is_a_format_error(tmp_path):
    line = "# - {name: junk, datatype: string, subtype: 'float64[-3]'}"
    with pytest.raises(FormatError, match=r"column 'junk'.*non-negative integers"):
        fluxds.read(_ecsv_with(tmp_path / "neg.ecsv", column_line=line))


# ---------------------------------------------------------------------------------------------------
# the budget is for the whole read (issue 12; fuzz family fits_image_bomb, variant tile_shared_heap)


def test_charge_keeps_a_running_total_per_read():
    from fluxds.io.guard.budget import charge, charged

    with budget_scope(100):
        charge(60, path="a.fits", variable="HDU NORM", key=("a", 1))
        charge(60, path="a.fits", variable="HDU NORM", key=("a", 1))  # the same part: counted once
        assert charged() == 60
        with pytest.raises(BudgetError) as info:
            charge(60, path="a.fits", variable="HDU NORM_ERR", what="reading an image")
        message = str(info.value)
        assert "a.fits" in message and "'HDU NORM_ERR'" in message and "120 bytes" in message
        assert "read budget of 100 bytes" in message and "max_bytes" in message
        assert charged() == 60  # a refused part is not counted
        with budget_scope(None):  # a read inside a read counts on its own
            charge(90, path="b.fits", variable="HDU NORM")
        charge(40, path="a.fits", variable="HDU TS")
    assert charged() == 0
    charge(50, path="a.fits", variable="HDU NORM")  # outside a read: each size on its own
    charge(50, path="a.fits", variable="HDU NORM")
    with (
        budget_scope(10),
        pytest.raises(BudgetError, match=r"a\.fits: variable 'HDU NORM'.*read budget of 10"),
    ):
        charge(50, path="a.fits", variable="HDU NORM")


def _big_flux_map(
    path: Path, compressed: bool, size: int = 128, odd_last: bool = False
) -> tuple[Path, list[int]]:
    """fm_excess.fits with every map enlarged to 3 x size x size pixels of zeros (tile-compressed: each
    map is a few hundred bytes in the file), the model YAML beside it; and what each map costs. With
    ``odd_last`` the last map (COUNTS) is one pixel wider than the others."""
    with fits.open(FLUX_MAP) as src:
        hdus = [src[0].copy()]
        for hdu in src[1:]:
            if hdu.is_image:
                odd = odd_last and hdu.name == "COUNTS"
                data = np.zeros((3, size, size + odd), hdu.data.dtype)
                header = hdu.header.copy()
                if compressed:
                    for key in ("BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3"):
                        del header[key]
                    hdus.append(
                        fits.CompImageHDU(
                            data,
                            header=header,
                            name=hdu.name,
                            compression_type="GZIP_1",
                            tile_shape=(1, size, size),
                        )
                    )
                else:
                    hdus.append(fits.ImageHDU(data, header=header, name=hdu.name))
            else:
                hdus.append(hdu.copy())
        fits.HDUList(hdus).writeto(path, overwrite=True)
    shutil.copy(FLUX_MAP.parent / "fm_excess_model.yaml", path.parent / "fm_excess_model.yaml")
    with fits.open(path) as hdul:
        costs = [fits_data_bytes(hdu)[0] for hdu in hdul[1:] if hdu.is_image]
    return path, costs


@pytest.mark.parametrize("compressed", [True, False], ids=["tile-compressed", "plain"])
def test_maps_each_under_the_budget_but_above_it_together_are_refused(tmp_path, compressed):
    path, costs = _big_flux_map(tmp_path / "maps.fits", compressed)
    if compressed:
        assert path.stat().st_size < 200_000
    budget = 3 * max(costs)  # every map fits on its own: the old per-HDU check read them all
    assert sum(costs) > 3 * budget
    with pytest.raises(BudgetError) as info:
        fluxds.read(path, max_bytes=budget)
    message = str(info.value)
    assert str(path) in message and "which brings this read to" in message, message
    assert f"read budget of {budget} bytes" in message and "for the whole read" in message
    assert fluxds.read(path, max_bytes=2 * sum(costs) + 1_000_000)["norm"].shape == (3, 128, 128)


def test_map_sizes_checked_before_any_map_is_decompressed(tmp_path):
    """The fuzz bomb's shape: every map but the last declares the same size; the last differs. All the
    sizes are compared (from the headers) before the first map is decompressed: a budget too small for
    one map does not come into it."""
    path, costs = _big_flux_map(tmp_path / "odd.fits", compressed=True, odd_last=True)
    with pytest.raises(FormatError, match=r"odd\.fits\[COUNTS\]: WCS or image size differs") as info:
        fluxds.read(path, max_bytes=min(costs) // 2)
    assert not isinstance(info.value, BudgetError)


def test_bands_table_shared_by_several_maps_is_counted_once(tmp_path, monkeypatch):
    """A map written by fluxds: 12 images naming one BANDS table, which the reader checks for each. The
    read is charged what it holds, each HDU once: the 12 images and the BANDS table."""
    import fluxds.io.guard.fits_sizes as fits_sizes
    from fluxds.io.guard import budget

    path = tmp_path / "shared.fits"
    fluxds.write(fluxds.read(FLUX_MAP), path)
    calls, totals = [], []

    def spy(nbytes, **kwargs):
        budget.charge(nbytes, **kwargs)
        calls.append(kwargs["variable"])
        totals.append(budget.charged())

    monkeypatch.setattr(fits_sizes, "charge", spy)
    fluxds.read(path)
    with fits.open(path) as hdul:
        expected = sum(fits_data_bytes(hdu)[0] for hdu in hdul[1:])
        assert [h.name for h in hdul].count("BANDS") == 1
    assert calls.count("HDU BANDS") == 12 and totals[-1] == expected


# ---------------------------------------------------------------------------------------------------
# binary-table columns against the row width (fuzz family fits_table_bomb, variant tform_tdim)


def _sed_with_column(path: Path, tform: str, tdim: str | None = None) -> Path:
    """fp_dnde.fits with the TFORMn (and TDIMn) of its first array column (column 16, ``11D``, TDIM16 =
    ``(11)``) replaced; NAXIS1 unchanged."""
    raw = SED.read_bytes()
    with fits.open(SED) as hdul:
        header = hdul[1].header
        k = next(i for i in range(1, header["TFIELDS"] + 1) if header[f"TFORM{i}"] == "11D")  # a TDIM too
        start = hdul[1].fileinfo()["hdrLoc"]
    raw = _card(raw, f"TFORM{k}", tform, start=start)
    if tdim is not None:
        raw = _card(raw, f"TDIM{k}", tdim, start=start)
    path.write_bytes(raw)
    return path


@pytest.mark.parametrize(
    ("tform", "tdim"), [("100000000D", "(10000,10000)"), ("1000000000000D", "(1000000,1000000)")]
)
def test_tform_declaring_more_than_the_row_width_is_refused(tmp_path, tform, tdim):
    path = _sed_with_column(tmp_path / "tform.fits", tform, tdim)
    with pytest.raises(FormatError) as info:
        check_fits_sizes(path)  # the header walk, before astropy sees the file
    message = str(info.value)
    assert "tform.fits[HDU 1]" in message and f"TFORM16 = '{tform}'" in message and "NAXIS1 = 302" in message
    with pytest.raises(FormatError, match=r"tform\.fits.*column 16 .*NAXIS1 = 302"):
        fluxds.read(path)
    with fits.open(path) as hdul, pytest.raises(FormatError, match=r"HDU 'FLUXPOINTS': column 16 .*NAXIS1"):
        check_fits_hdu(hdul[1], path)  # a reader handed an open HDU: the same check, no allocation


def test_tform_smaller_than_the_row_width_and_tdim_above_the_repeat_are_refused(tmp_path):
    with pytest.raises(FormatError, match=r"columns \(TFORMn\) add up to 294 bytes a row, but NAXIS1 = 302"):
        check_fits_sizes(_sed_with_column(tmp_path / "narrow.fits", "10D", "(10)"))
    with pytest.raises(
        FormatError, match=r"TDIM16 = '\(11,1000\)' declares 11000 elements, more than the 11"
    ):
        check_fits_sizes(_sed_with_column(tmp_path / "tdim.fits", "11D", "(11,1000)"))


def test_valid_table_with_descriptors_bits_and_tdim_still_reads(tmp_path):
    """P and Q descriptors (8 and 16 bytes whatever the repeat), bits, complex, strings with TDIM, a TDIM
    of fewer elements than the repeat (the rest is fill: FITS 4.0 sec. 7.3.2), scaled and unsigned
    columns: valid, so neither the header walk nor the HDU check refuses them; astropy reads them, and
    fluxds reads the SED beside them (its table reader takes numeric columns only: they are in a table of
    their own, EXTRAS)."""
    n = 6
    vla = np.empty(n, dtype=object)
    for i in range(n):
        vla[i] = np.arange(i + 1, dtype=np.float64)
    columns = [
        fits.Column("J_P", "PD()", array=vla),
        fits.Column("J_Q", "QD()", array=vla),
        fits.Column("J_0P", "0PJ()"),
        fits.Column("J_X", "13X", array=np.zeros((n, 13), bool)),
        fits.Column("J_C", "2C", array=np.ones((n, 2), np.complex64)),
        fits.Column("J_M", "M", array=np.ones(n, np.complex128)),
        fits.Column("J_A", "6A", dim="(3,2)", array=np.array([["abc", "def"]] * n)),
        fits.Column("J_FILL", "7E", dim="(2,3)", array=np.ones((n, 3, 2), np.float32)),
        fits.Column("J_B", "B", array=np.arange(n, dtype=np.uint8)),
        fits.Column("J_U", "J", bzero=2**31, array=np.arange(n, dtype=np.uint32)),
        fits.Column("J_S", "I", array=np.arange(n, dtype=np.int16)),
        fits.Column("J_L", "2L", array=np.ones((n, 2), bool)),
    ]
    with fits.open(SED) as hdul:
        extras = fits.BinTableHDU.from_columns(columns, name="EXTRAS")
        fits.HDUList([*(h.copy() for h in hdul), extras]).writeto(tmp_path / "valid.fits")
    path = tmp_path / "valid.fits"
    with fits.open(path, mode="update") as hdul:
        hdul["EXTRAS"].header["TSCAL11"] = 0.5  # J_S: read as float64
    with fits.open(path) as hdul:
        header, data = hdul["EXTRAS"].header, hdul["EXTRAS"].data
        forms = [header[f"TFORM{k}"] for k in range(1, header["TFIELDS"] + 1)]
        assert (
            forms[:4] == ["PD(6)", "QD(6)", "0PJ(0)", "13X"]
            and header["NAXIS1"] == 8 + 16 + 8 + 2 + 16 + 16 + 6 + 28 + 1 + 4 + 2 + 2
        )
        assert header["TDIM7"] == "(3,2)" and header["TDIM8"] == "(2,3)" and header["TTYPE11"] == "J_S"
        assert data["J_A"].shape == (n, 2) and data["J_FILL"].shape == (n, 3, 2)  # a TDIM below the repeat
        assert list(data["J_Q"][5]) == list(range(6)) and data["J_S"].dtype.kind == "f"
    check_fits_sizes(path)
    with fits.open(path) as hdul:
        check_fits_hdu(hdul["EXTRAS"], path)
        nbytes, _, what = fits_data_bytes(hdul["EXTRAS"])
        rows, width, heap = header["NAXIS2"], header["NAXIS1"], header["PCOUNT"]
        # besides the rows: 13 booleans for the bits, 2 for the logicals, 8 for the scaled I column
        assert nbytes == rows * (width + 13 + 2 + 8) + heap, what
    ds = fluxds.read(path)
    reference = fluxds.read(SED)
    assert set(ds.data_vars) == set(reference.data_vars)
    np.testing.assert_array_equal(ds["norm"].values, reference["norm"].values)


def test_table_with_naxis_1_and_a_huge_naxis2_is_refused(tmp_path):
    """fuzz seed 5, input 36107: a BINTABLE saying NAXIS = 1 passed the header walk as a one-row-wide HDU
    while astropy sized it by NAXIS2 = 10**8 and allocated 3.8 GiB; a table must say NAXIS = 2."""
    raw = (DATA / "gadf-spec" / "flux_points.fits").read_bytes()
    table = raw.index(b"XTENSION= 'BINTABLE'")
    bomb = _card(_card(raw, "NAXIS", 1, table), "NAXIS2", 10**8, table)
    path = tmp_path / "naxis1.fits"
    path.write_bytes(bomb)
    with pytest.raises(FormatError, match=r"naxis1\.fits\[HDU 1\]: a BINTABLE extension has NAXIS = 2"):
        check_fits_sizes(path)
    with pytest.raises(FormatError, match="found NAXIS = 1"):
        fluxds.read(path)
