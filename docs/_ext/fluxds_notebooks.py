"""Sphinx extension: execute the notebooks of ``notebooks/`` when the build starts and render each one as a
MyST page ``docs/notebooks/<name>.md`` (code, text outputs and PNG figures), so that the pages always
show what the current code gives.

The notebooks run with ``notebooks/`` as working directory (as in Jupyter and in
``tests/docs/test_notebooks.py``). A notebook that raises fails the build. Outputs are rendered from their
``text/plain`` and ``image/png`` forms only (no raw HTML). Pages and images are rewritten only when their
content changed, so an incremental build stays incremental.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
FENCE = "````"  # longer than any ``` fence an output could contain


def _write_if_changed(path: Path, data: bytes) -> None:
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)


def _text_block(text: str) -> str:
    text = ANSI.sub("", text).rstrip("\n")
    return f"{FENCE}text\n{text}\n{FENCE}\n" if text.strip() else ""


def _outputs(cell, stem: str, index: int, images: Path) -> list[str]:
    """The outputs of one code cell as MyST blocks; PNGs are written beside the page."""
    blocks = []
    for k, output in enumerate(cell.get("outputs", [])):
        kind = output.get("output_type")
        if kind == "stream":
            blocks.append(_text_block(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "image/png" in data:
                name = f"{stem}_cell{index:02d}_{k}.png"  # unique names: sphinx copies all to _images/
                _write_if_changed(images / name, base64.b64decode(data["image/png"]))
                blocks.append(f"![output of cell {index}]({stem}_files/{name})\n")
            elif "text/plain" in data:
                blocks.append(_text_block(data["text/plain"]))
        elif kind == "error":  # nbclient raises first; kept for notebooks executed elsewhere
            raise RuntimeError(f"notebooks/{stem}.ipynb, cell {index}: {output.get('ename')}")
    return [b for b in blocks if b]


def notebook_to_myst(notebook, stem: str, out_dir: Path) -> str:
    """The MyST text of an executed notebook; its figures go to ``out_dir/<stem>_files/``."""
    images = out_dir / f"{stem}_files"
    images.mkdir(parents=True, exist_ok=True)
    note = (
        f"```{{note}}\nThis page is the notebook `notebooks/{stem}.ipynb`, executed when the documentation "
        "was built. Run it yourself with `jupyter lab notebooks/` from the repository root.\n```\n"
    )
    parts, noted = [], False
    for index, cell in enumerate(notebook.cells):
        source = cell.source.rstrip("\n")
        if cell.cell_type == "markdown":
            parts.append(source + "\n")
            if not noted:  # after the page title
                parts.append(note)
                noted = True
        elif cell.cell_type == "code" and source.strip():
            parts.append(f"{FENCE}ipython3\n{source}\n{FENCE}\n")
            parts.extend(_outputs(cell, stem, index, images))
    text = "\n".join(parts)
    for stale in images.glob("*.png"):  # figures of cells that no longer draw one
        if f"({stem}_files/{stale.name})" not in text:
            stale.unlink()
    return text


def render_notebooks(out_dir: Path, timeout: int = 300) -> list[Path]:
    """Execute every notebook of ``notebooks/`` and write its page into ``out_dir``; return the pages."""
    import nbformat
    from nbclient import NotebookClient

    out_dir.mkdir(parents=True, exist_ok=True)
    pages = []
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        NotebookClient(
            notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
        page = out_dir / f"{path.stem}.md"
        _write_if_changed(page, notebook_to_myst(notebook, path.stem, out_dir).encode())
        pages.append(page)
    return pages


def _render(app) -> None:
    pages = render_notebooks(Path(app.srcdir) / "notebooks")
    app.verbosity and print(f"fluxds notebooks: {len(pages)} pages")  # noqa: T201


def setup(app):
    app.connect("builder-inited", _render)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
