"""Sphinx configuration of the fluxds documentation.

Build: ``python -m sphinx -W -b html docs /tmp/docs-html`` (packages in ``docs/requirements.txt``).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # fluxds itself, also when it is not installed

import fluxds  # noqa: E402

project = "fluxds"
author = "the fluxds developers"
copyright = "the fluxds developers"  # noqa: A001
release = fluxds.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "fluxds_schema",
    "fluxds_gallery",
    "fluxds_notebooks",  # H6: notebooks/*.ipynb executed and rendered as docs/notebooks/*.md
    "fluxds_cli",  # H6: the fluxds-cli-help directive (argparse help of each subcommand)
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "requirements.txt", "_ext"]

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3

# numpydoc-style docstrings, read by napoleon
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_ivar = True  # "Attributes" sections as fields: no duplicate object descriptions
napoleon_use_rtype = False

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_default_options = {"show-inheritance": True}

html_theme = "alabaster"
html_title = f"fluxds {release}"
html_static_path: list[str] = []
