"""Sphinx directive that renders the vocabulary tables of :mod:`fluxds.schema`.

The tables in the docs are generated from the schema at build time, so the documentation cannot hold
a second, drifting list of names (``schema.py``: "no second list of column names exists anywhere").

Usage (MyST)::

    ```{fluxds-schema-table} variables
    ```

Tables: ``dims``, ``suffixes``, ``sed-types``, ``variables``, ``attrs``, ``aliases``, ``quantities``.
"""

from __future__ import annotations

import re

from docutils import nodes
from docutils.parsers.rst import Directive

_CODE = re.compile(r"``(.+?)``")


def _code(text: str) -> str:
    return f"``{text}``" if text else ""


def _rows(kind: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, rows and relative column widths; ``code`` spans are marked with double backquotes."""
    from fluxds import schema

    if kind == "dims":
        rows = [[str(i + 1), _code(d)] for i, d in enumerate(schema.DIMS)]
        return ["#", "dimension"], rows, [1, 3]
    if kind == "suffixes":
        rows = [[_code(s) if s else "(none)", m] for s, m in schema.MEASUREMENT_SUFFIXES.items()]
        return ["suffix", "meaning"], rows, [1, 3]
    if kind == "sed-types":
        rows = [
            [
                _code(t.name),
                _code(t.unit) if t.unit else "dimensionless",
                _code(t.reference) if t.reference else "(none)",
                str(t.energy_power),
                "yes" if t.needs_edges else "no",
                t.long_name,
            ]
            for t in schema.SED_TYPES.values()
        ]
        head = ["type", "default unit", "reference", "power of e_ref", "needs edges", "meaning"]
        return head, rows, [1, 2, 2, 1, 1, 3]
    if kind == "variables":
        rows = []
        for v in schema.VARIABLES.values():
            unit = "(none)" if v.unit is None else (_code(v.unit) if v.unit else "dimensionless")
            extra = _code(v.extra_dim) if v.extra_dim else ""
            rows.append([_code(v.name), unit, v.dtype, extra, v.long_name])
        return ["variable", "default unit", "dtype", "extra dim", "meaning"], rows, [2, 2, 1, 1, 4]
    if kind == "attrs":
        rows = [[_code(k), m] for k, m in schema.ATTRS.items()]
        return ["attribute", "meaning"], rows, [1, 3]
    if kind == "aliases":
        rows = [[_code(k), _code(v)] for k, v in schema.COLUMN_ALIASES.items()]
        return ["column in the file", "read as"], rows, [1, 1]
    if kind == "quantities":
        rows = [[", ".join(_code(q) for q in schema.QUANTITY_NAMES)]]
        return ["quantity names (fluxds.schema.QUANTITY_NAMES)"], rows, [1]
    raise ValueError(f"unknown fluxds schema table {kind!r}")


def _inline(text: str) -> list[nodes.Node]:
    out: list[nodes.Node] = []
    pos = 0
    for match in _CODE.finditer(text):
        if match.start() > pos:
            out.append(nodes.Text(text[pos : match.start()]))
        out.append(nodes.literal(match.group(1), match.group(1)))
        pos = match.end()
    if pos < len(text):
        out.append(nodes.Text(text[pos:]))
    return out


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for cell in cells:
        entry = nodes.entry()
        entry += nodes.paragraph("", "", *_inline(cell))
        row += entry
    return row


class SchemaTable(Directive):
    """Render one table of :mod:`fluxds.schema` as a docutils table."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        kind = self.arguments[0].strip()
        try:
            head, rows, widths = _rows(kind)
        except ValueError as exc:
            return [self.state.document.reporter.error(str(exc), line=self.lineno)]
        table = nodes.table(classes=["fluxds-schema", kind])
        group = nodes.tgroup(cols=len(head))
        table += group
        for width in widths:
            group += nodes.colspec(colwidth=10 * width)
        thead = nodes.thead()
        thead += _row(head)
        group += thead
        body = nodes.tbody()
        for cells in rows:
            body += _row(cells)
        group += body
        return [table]


def setup(app):
    app.add_directive("fluxds-schema-table", SchemaTable)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
