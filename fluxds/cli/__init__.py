"""The ``fluxds`` command line: ``info``, ``convert``, ``batch``, ``plot``, ``demo``.

Everything it prints passes through one function, :func:`say`, which escapes control characters
(:func:`fluxds.terminal.escape_controls`): a file or source name with an ANSI escape sequence is shown, not
obeyed. Paths and values from files are escaped completely, newlines too; and every line after the first of
a message is indented, so that nothing from a file (a file name holding a newline) can start a line of
its own and pass for one of fluxds's (a summary, an error line).

Exit status: 0 done; 1 a file was refused or a conversion failed (``fluxds: error: ...``); 2 the command
line is wrong (a bad option value, a path that does not exist or cannot be written, output names
that collide, an unreachable scheduler: ``fluxds: error: ...``, no traceback); 130 interrupted; 141 the
reader of the output went away (``fluxds info X | head -1``), quietly.

The modules: :mod:`.parser` (the argparse parser), :mod:`.value_types` (its option types),
:mod:`.read_options` (the read options every subcommand shares), :mod:`.products` (``--product``: the
formats whose files hold several products), :mod:`.dispatch` (errors to exit statuses), :mod:`.commands`
and :mod:`.batch` (the subcommands), :mod:`.info` (the ``info`` text), :mod:`.catalog_info` (the ``info``
text of catalogs, collections and one source), :mod:`.sources` (``--source``: one source by name, close
names suggested), :mod:`.plot_source` (``plot --source``), :mod:`.paths` (input and output checks),
:mod:`.printing` (:func:`say`), :mod:`.usage_error`.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence

from fluxds.cli.dispatch import dispatch
from fluxds.cli.info import info_text
from fluxds.cli.parser import build_parser
from fluxds.cli.printing import quiet_stdout, say, show_warning
from fluxds.cli.usage_error import UsageError

__all__ = ["main", "info_text", "say", "UsageError"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 done, 1 a file refused or a conversion failed,
    2 a usage error; the message on stderr as ``fluxds: error: ...``)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)
            warnings.showwarning = show_warning
            try:
                args = build_parser().parse_args(argv)
            except SystemExit as exc:
                return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
            return dispatch(args)
    except BrokenPipeError:
        quiet_stdout()
        return 141
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            say("fluxds: interrupted", err=True)
        return 130
