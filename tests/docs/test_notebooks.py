"""The notebooks in notebooks/ run from top to bottom without an error, fast, and end with a figure.

Each notebook runs with notebooks/ as its working directory (as in Jupyter), and finds its data through
``../tests/data`` (or ``tests/data`` when started from the repository root). ``catalogs.ipynb`` reads the
Fermi-LAT and gamma-cat catalogs, too large to ship: from ``$FLUXDS_SHARED_DATA/catalogs`` (default
``../shared/data/catalogs`` beside the repository); it is skipped when they are absent.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from helpers import ROOT, SHARED

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"quickstart", "flux_maps", "light_curves", "collections", "batch_and_netcdf", "catalogs"}
SHARED_DATA = Path(os.environ["FLUXDS_SHARED_DATA"]) if "FLUXDS_SHARED_DATA" in os.environ else SHARED
# notebooks that read data not shipped with fluxds: the files each needs under SHARED_DATA
NEEDS_SHARED = {
    "catalogs": ["catalogs/gammacat.fits.gz", "catalogs/gll_psc_v16.fit.gz", "catalogs/gll_psch_v13.fit.gz"],
}
# Each notebook must stay small and fast: 3-9 s each on the 2-core development machine when idle
# (kernel start included); the bound leaves room for a loaded CI machine.
MAX_SECONDS = 60.0


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    missing = [name for name in NEEDS_SHARED.get(path.stem, []) if not (SHARED_DATA / name).exists()]
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)} under {SHARED_DATA} (set FLUXDS_SHARED_DATA)")
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    ).execute()
    elapsed = time.perf_counter() - start
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    assert elapsed < MAX_SECONDS, f"{path.name} took {elapsed:.1f} s"
    last = notebook.cells[-1]["outputs"]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in last)
