"""The notebooks in notebooks/ run from top to bottom without an error, fast, and end with a figure.

Each notebook runs with notebooks/ as its working directory (as in Jupyter), and finds its data through
``../tests/data`` (or ``tests/data`` when started from the repository root).
"""

from __future__ import annotations

import time

import pytest
from helpers import ROOT

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"quickstart", "flux_maps", "light_curves", "collections", "batch_and_netcdf"}
# Each notebook must stay small and fast: 3-9 s each on the 2-core development machine when idle
# (kernel start included); the bound leaves room for a loaded CI machine.
MAX_SECONDS = 60.0


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
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
