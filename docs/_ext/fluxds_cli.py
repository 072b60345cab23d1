"""Sphinx extension: the directive ``fluxds-cli-help`` shows the ``--help`` text of the ``fluxds`` command
or of one subcommand, taken from the argparse parser of :mod:`fluxds.cli`, so the CLI page cannot drift
from the code.

Usage in MyST::

    ```{fluxds-cli-help} batch
    ```

Without an argument: the help of ``fluxds`` itself.
"""

from __future__ import annotations

import argparse
import os

from docutils import nodes
from sphinx.util.docutils import SphinxDirective

WIDTH = "100"  # argparse wraps at $COLUMNS


def cli_help(command: str | None = None) -> str:
    """The ``fluxds [command] --help`` text."""
    from fluxds.cli.parser import build_parser

    parser = build_parser()
    if command:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        choices = actions[0].choices if actions else {}
        if command not in choices:
            raise ValueError(f"fluxds has no subcommand {command!r} (it has {sorted(choices)})")
        parser = choices[command]
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return parser.format_help()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


class CliHelp(SphinxDirective):
    optional_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        command = self.arguments[0] if self.arguments else None
        try:
            text = cli_help(command)
        except ValueError as exc:
            raise self.error(str(exc)) from None
        block = nodes.literal_block(text, text, language="text")
        return [block]


def setup(app):
    app.add_directive("fluxds-cli-help", CliHelp)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
