"""The seed files of the fuzzer: the real files in tests/data (and ../shared/data), plus netCDF and HDF5
files written by fluxds from one of them."""

from __future__ import annotations

import tempfile
from pathlib import Path

__all__ = ["seeds", "kind_of", "sidecars"]

ROOT = Path(__file__).resolve().parent.parent
DATA_DIRS = (ROOT / "tests" / "data", ROOT.parent / "shared" / "data")
_SUFFIXES = (".fits", ".fits.gz", ".ecsv")
_NOT_FLUXDS = ("wcs_ccube.fits",)  # a counts cube (the GADF map example), not a flux estimate


def sidecars() -> dict[str, bytes]:
    """The reference-model YAML files the map seeds name in their MODEL keyword."""
    folder = DATA_DIRS[0] / "gammapy-written"
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*_model.yaml"))}


def kind_of(name: str) -> str:
    """ "fits", "text" or "binary": which mutations suit a file."""
    lower = name.lower()
    if lower.endswith((".fits", ".fits.gz")):
        return "fits" if lower.endswith(".fits") else "binary"
    return "text" if lower.endswith(".ecsv") else "binary"


def seeds(include_shared: bool = True) -> dict[str, bytes]:
    """Seed name (``<dir>/<file>``) -> bytes, deduplicated by content."""
    import fluxds

    found: dict[str, bytes] = {}
    contents = set()
    for folder in DATA_DIRS[: 2 if include_shared else 1]:
        for path in sorted(folder.rglob("*")):
            if not path.is_file() or not path.name.lower().endswith(_SUFFIXES) or path.name in _NOT_FLUXDS:
                continue
            data = path.read_bytes()
            if data in contents:
                continue
            contents.add(data)
            found[f"{path.parent.name}/{path.name}"] = data
    ds = fluxds.read(DATA_DIRS[0] / "gammapy-written" / "fp_likelihood.fits")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("written.nc", "written.h5"):
            fluxds.write(ds, Path(tmp) / name)
            found[f"fluxds/{name}"] = (Path(tmp) / name).read_bytes()
    return found
