"""Sphinx extension: draw the plot gallery (``docs/gallery/make_gallery.py``) when the build starts, so the
PNGs on the gallery page always come from the current code."""

from __future__ import annotations

import runpy
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "gallery" / "make_gallery.py"


def _make_gallery(app) -> None:
    make_gallery = runpy.run_path(str(SCRIPT), run_name="fluxds_gallery")["make_gallery"]
    paths = make_gallery()
    app.verbosity and print(f"fluxds gallery: {len(paths)} images")  # noqa: T201


def setup(app):
    app.connect("builder-inited", _make_gallery)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
