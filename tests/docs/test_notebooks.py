"""The notebooks in notebooks/ run from top to bottom without an error, fast, and end with a figure.

Each notebook runs with notebooks/ as its working directory (as in Jupyter), and finds its data through
``../tests/data`` (or ``tests/data`` when started from the repository root). ``catalogs.ipynb`` reads the
catalog excerpts in ``notebooks/data`` (the published files with the rows near the Crab only), checked here
against the full catalogs when those are at hand (``$FLUXDS_SHARED_DATA/catalogs``, default
``../shared/data/catalogs`` beside the repository).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import ROOT, SHARED

NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = {"quickstart", "flux_maps", "light_curves", "collections", "batch_and_netcdf", "catalogs"}
SHARED_DATA = Path(os.environ["FLUXDS_SHARED_DATA"]) if "FLUXDS_SHARED_DATA" in os.environ else SHARED
EXCERPTS = NOTEBOOK_DIR / "data"
# A notebook that hangs fails through nbclient's per-cell timeout; speed itself is measured in benchmarks/,
# never asserted by a test (each runs in 3-9 s on the 2-core development machine when idle).


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path):
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK_DIR)}}
    ).execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
    last = notebook.cells[-1]["outputs"]
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in last)


@pytest.mark.parametrize(
    ("name", "product"),
    [("gll_psc_v16.fit.gz", None), ("gll_psc_v16.fit.gz", "lightcurve"), ("gll_psch_v13.fit.gz", None)],
)
def test_catalog_excerpts_hold_the_published_rows(name, product):
    """The notebook's excerpts read exactly as the same sources of the full catalogs (to 1 ulp: the
    catalog's spectral models are integrated in one batch, whose sums round by batch)."""
    import numpy as np
    from astropy.coordinates import SkyCoord

    import fluxds

    full_path = SHARED_DATA / "catalogs" / name
    if not full_path.exists():
        pytest.skip(f"the full catalog {full_path} is not here (set FLUXDS_SHARED_DATA)")
    options = {} if product is None else {"product": product}
    part = fluxds.read(EXCERPTS / name, **options)
    full = fluxds.read(full_path, **options)
    crab = SkyCoord(83.633, 22.0145, unit="deg")
    near = SkyCoord(full["ra"].values, full["dec"].values, unit="deg").separation(crab).deg < 10.0
    assert part["source"].values.tolist() == full["source"].values[near].tolist()
    full = full.isel(source=near)
    for name_, var in part.variables.items():
        expected = full.variables[name_]
        if var.dtype.kind == "f":
            np.testing.assert_allclose(var.values, expected.values, rtol=1e-15, atol=0, err_msg=name_)
        else:
            np.testing.assert_array_equal(var.values, expected.values, err_msg=name_)
