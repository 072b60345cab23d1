"""The documentation builds with warnings as errors (Sphinx, in a subprocess), the gallery and the
notebook pages included; every page of the toctree exists."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import ROOT


def test_docs_build_with_warnings_as_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "docs", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    index = (ROOT / "docs" / "index.md").read_text()
    toctree = re.search(r"```\{toctree\}(.*?)```", index, re.S).group(1)
    lines = [line.strip() for line in toctree.splitlines()]
    pages = [line for line in lines if line and not line.startswith(":")]
    assert len(pages) >= 10
    for page in pages:
        assert (tmp_path / f"{page}.html").exists(), page
    gallery = (tmp_path / "gallery.html").read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', gallery)
    assert len(images) >= 5
    for image in images:
        assert (tmp_path / image).exists(), image
