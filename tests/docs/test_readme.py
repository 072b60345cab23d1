"""The Python examples in README.md run as written (from a folder that holds the repository's tests/)."""

from __future__ import annotations

import re

import pytest
from helpers import ROOT

BLOCKS = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code, tmp_path, monkeypatch):
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the project's own README, not a file read
    written = {p.name for p in tmp_path.iterdir()} - {"tests"}
    assert written <= {"crab_flux.fits", "crab.nc", "two_sources.fits"}
    if "ds" in namespace:
        assert namespace["ds"].sed.validate() is namespace["ds"]
