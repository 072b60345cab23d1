"""Every ```python block of docs/*.md and README.md runs, so that the documentation stays true.

The blocks of one page run in order, in one namespace (a later block uses the names of an earlier one),
one test per page. The working directory is a temporary directory holding links ``tests``, ``docs`` and
``fluxds`` to the repository's: the blocks read ``tests/data/...`` as they would from the repository
root, and every file they write under a plain relative name (``copy.fits``, ``lc.ecsv`` ...) lands in
the temporary directory, never in the checkout (``test_blocks_write_relative_names_only`` checks that
no block writes through those links or to an absolute path).

A block that cannot run standalone (it needs data that is downloaded, a cluster, objects of a gammapy
analysis, or shows pseudo-code) says so on its first line::

    # doc-test: skip (the reason)

Nothing is skipped silently: each page's test prints how many blocks it ran and which it skipped with
their reasons, ``test_skip_markers_are_counted`` prints the total, and a malformed marker fails.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from helpers import ROOT

PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
MARKER = re.compile(r"^#\s*doc-test\b")
SKIP = re.compile(r"^#\s*doc-test:\s*skip\s*\((?P<reason>[^)]*\S[^)]*)\)\s*$")
LINKS = ("tests", "docs", "fluxds")


def blocks(page: Path) -> list[str]:
    """The ```python blocks of a page, in order."""
    return BLOCK.findall(page.read_text(encoding="utf-8"))


def skip_reason(source: str) -> str | None:
    """The reason of a ``# doc-test: skip (...)`` first line, else None (a malformed marker raises)."""
    lines = source.strip().splitlines()
    first = lines[0].strip() if lines else ""
    if not MARKER.match(first):
        return None
    match = SKIP.match(first)
    if match is None:
        raise ValueError(f"malformed doc-test marker {first!r}: expected '# doc-test: skip (reason)'")
    return match.group("reason").strip()


PAGES_WITH_BLOCKS = [page for page in PAGES if blocks(page)]


@pytest.mark.parametrize("page", PAGES_WITH_BLOCKS, ids=lambda p: p.name)
def test_page_code_blocks_run(page, tmp_path, monkeypatch, capsys):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for name in LINKS:
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"docs_{page.stem}"}
    run, skipped = 0, []
    try:
        for number, source in enumerate(blocks(page), start=1):
            reason = skip_reason(source)
            if reason is not None:
                skipped.append(f"block {number}: {reason}")
                continue
            code = compile(source, f"{page.name} [python block {number}]", "exec")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                exec(code, namespace)  # noqa: S102 - the documentation's own examples
            run += 1
    finally:
        plt.close("all")
    with capsys.disabled():
        print(f"\n{page.name}: {run} python block(s) run, {len(skipped)} marked skip", *skipped, sep="\n    ")
    assert run + len(skipped) == len(blocks(page))
    assert run > 0 or skipped


def test_skip_markers_are_counted(capsys):
    """Every marker is well formed and gives a reason; the skipped blocks are listed and are a minority."""
    total, skipped = 0, []
    for page in PAGES:
        for number, source in enumerate(blocks(page), start=1):
            total += 1
            reason = skip_reason(source)
            if reason is not None:
                skipped.append(f"{page.name} block {number}: {reason}")
    with capsys.disabled():
        print(
            f"\n{total} python blocks in docs/*.md and README.md, {len(skipped)} marked skip:",
            *skipped,
            sep="\n    ",
        )
    assert total >= 20
    assert len(skipped) * 4 < total


def test_blocks_write_relative_names_only():
    """A block writes under a plain relative name, never through the links into the checkout."""
    call = re.compile(
        r"""(?:write\w*|to_netcdf|to_zarr|savefig|concat_files)\(\s*(?:\w+\s*,\s*)?["']([^"']+)["']"""
    )
    for page in PAGES:
        for number, source in enumerate(blocks(page), start=1):
            for path in call.findall(source):
                assert not path.startswith(("/", "~", "..", *LINKS)), (page.name, number, path)
