"""YAML from files made elsewhere: the safe loader only, bounded alias expansion and nesting, and error
messages that never echo the file's content.

A YAML document can name one node many times through anchors and aliases (``&a`` ... ``*a``); PyYAML
builds the aliased object once and shares it, but anything that walks the result (a copy, a dump, a
conversion to a table's metadata) walks it as expanded: ten lines of nested aliases ("billion laughs")
expand to 10^9 nodes. Deep nesting (``[[[[...]]]]``) exhausts the stack: PyYAML's C parser
(``CSafeLoader``) then crashes the process, which no ``except`` catches. So fluxds reads YAML only
through this module:

- the pure-Python :class:`yaml.SafeLoader` (no ``!!python/...`` tags, no code run; not the C loader);
- nesting deeper than ``max_depth`` (default :data:`MAX_DEPTH`) is refused while composing;
- the size of the document *as expanded* (every alias counted as a copy of what it names) is counted on
  the composed node graph before anything is constructed; more than ``max_nodes`` (default
  :data:`MAX_NODES`) nodes, or a recursive alias (an anchor used inside itself), is refused; the expanded
  size is also checked against the read budget (:func:`fluxds.io.guard.budget.check_allocation`, at
  :data:`BYTES_PER_NODE` bytes a node);
- a syntax error is reported with its line and column and the kind of problem, never with the text of
  the offending line (the YAML may be a file that was not meant to be shown, e.g. named by a hostile
  ``MODEL`` keyword).

:func:`load_yaml` loads a document; :func:`check_yaml` only checks one (for text that another library,
such as astropy's ECSV reader, will parse with its own safe loader).
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from fluxds.errors import FormatError
from fluxds.io.guard.budget import check_allocation

__all__ = ["MAX_NODES", "MAX_DEPTH", "BYTES_PER_NODE", "load_yaml", "check_yaml"]

#: the default largest number of nodes a document may have once its aliases are expanded
MAX_NODES = 1_000_000
#: the default deepest nesting of sequences and mappings
MAX_DEPTH = 100
#: the memory one expanded node is counted at, for the read budget (a small Python object and its slot)
BYTES_PER_NODE = 100

_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")


class _TooDeep(Exception):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """The pure-Python safe loader, refusing nesting deeper than ``max_depth`` while composing."""

    max_depth = MAX_DEPTH

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 (PyYAML's signature)
        self._depth += 1
        try:
            if self._depth > self.max_depth:
                raise _TooDeep(self._depth)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _problem(exc: yaml.YAMLError) -> str:
    """What a YAML error says, without the file's text: the kind of problem, the line and the column."""
    parts = []
    for text in (getattr(exc, "context", None), getattr(exc, "problem", None)):
        if text:
            text = _QUOTED.sub("…", str(text))
            parts.append("".join(c if c.isprintable() else "?" for c in text)[:120])
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    what = ", ".join(parts) or type(exc).__name__
    return f"{what}{where}"


def _expanded_size(root: yaml.Node, limit: int) -> int | None:
    """Nodes in the document with every alias expanded (stops once past ``limit``); None for a cycle."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            sizes[key] = 1
            continue
        if done:
            busy.discard(key)
            sizes[key] = min(1 + sum(sizes[id(child)] for child in children), limit + 1)
            continue
        if key in sizes:
            continue
        if key in busy:
            return None
        busy.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in busy:
                return None
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _compose(
    text: str, *, path: str | os.PathLike, what: str, max_nodes: int, max_depth: int
) -> tuple[_BoundedLoader, yaml.Node | None, int]:
    where = f"{path}: {what}"
    loader = _BoundedLoader(text)
    loader.max_depth = max_depth
    try:
        node = loader.get_single_node()
    except _TooDeep:
        loader.dispose()
        raise FormatError(f"{where}: YAML nested deeper than {max_depth} levels") from None
    except RecursionError:
        loader.dispose()
        raise FormatError(f"{where}: YAML nested too deeply to read") from None
    except yaml.YAMLError as exc:
        loader.dispose()
        raise FormatError(f"{where}: not valid YAML ({_problem(exc)})") from None
    if node is None:
        return loader, None, 0
    size = _expanded_size(node, max_nodes)
    if size is None:
        loader.dispose()
        raise FormatError(f"{where}: a YAML alias refers to a node that contains it (a recursive alias)")
    if size > max_nodes:
        loader.dispose()
        raise FormatError(
            f"{where}: YAML aliases expand the document to more than {max_nodes} nodes (anchors used as "
            "a 'billion laughs' bomb?); fluxds refuses it"
        )
    try:
        check_allocation(size * BYTES_PER_NODE, path=path, variable=what, what=f"YAML of {size} nodes")
    except Exception:
        loader.dispose()
        raise
    return loader, node, size


def check_yaml(
    text: str,
    *,
    path: str | os.PathLike,
    what: str,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> int:
    """Check a YAML document (syntax, nesting, alias expansion) without constructing anything.

    For text that another library parses afterwards with its own safe loader (astropy's ECSV header):
    the document is composed (tags are not interpreted) and its expanded size counted.

    Parameters
    ----------
    text : str
        The YAML document.
    path : str or path-like
        The file it comes from, for messages.
    what : str
        What the YAML is (``"reference-model YAML"``, ``"ECSV header"``), for messages.
    max_nodes : int
        The largest number of nodes (scalars, sequences, mappings) the document may have with every
        alias expanded.
    max_depth : int
        The deepest nesting of sequences and mappings.

    Returns
    -------
    int
        The number of nodes with aliases expanded (0 for an empty document).

    Raises
    ------
    FormatError
        Naming ``path`` and ``what``: a syntax error (line and column, never the line's text), nesting
        deeper than ``max_depth``, more than ``max_nodes`` expanded nodes, or a recursive alias.
    fluxds.errors.BudgetError
        If the expanded document exceeds the read budget (:data:`BYTES_PER_NODE` bytes a node).

    Examples
    --------
    >>> check_yaml("a: [1, 2]", path="m.yaml", what="model")
    5
    >>> bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\\n" + "".join(
    ...     f"{k}: &{k} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\\n"
    ...     for p, k in zip("abcdefgh", "bcdefghi")
    ... )
    >>> check_yaml(bomb, path="bomb.yaml", what="model")
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: bomb.yaml: model: YAML aliases expand the document to more than 1000000 ...
    """
    loader, _, size = _compose(text, path=path, what=what, max_nodes=max_nodes, max_depth=max_depth)
    loader.dispose()
    return size


def load_yaml(
    text: str,
    *,
    path: str | os.PathLike,
    what: str,
    max_nodes: int = MAX_NODES,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Load one YAML document with the safe loader, refusing alias bombs and deep nesting first.

    Parameters
    ----------
    text : str
        The YAML document.
    path : str or path-like
        The file it comes from, for messages.
    what : str
        What the YAML is (``"reference-model YAML"``), for messages.
    max_nodes : int
        The largest number of nodes the document may have with every alias expanded.
    max_depth : int
        The deepest nesting of sequences and mappings.

    Returns
    -------
    object
        Plain Python data (dict, list, str, int, float, bool, None, datetime, bytes, set); ``None`` for
        an empty document.

    Raises
    ------
    FormatError
        As :func:`check_yaml`, and for a tag the safe loader does not construct (``!!python/object``...),
        or several documents in ``text``; messages never quote the file's text.

    Examples
    --------
    >>> load_yaml("components: [{name: crab}]", path="m.yaml", what="model")
    {'components': [{'name': 'crab'}]}
    >>> load_yaml("a: [1, 2\\nb: 3", path="m.yaml", what="model")
    Traceback (most recent call last):
    ...
    fluxds.errors.FormatError: m.yaml: model: not valid YAML (while parsing a flow sequence, expected ...
    """
    loader, node, _ = _compose(text, path=path, what=what, max_nodes=max_nodes, max_depth=max_depth)
    where = f"{path}: {what}"
    try:
        return None if node is None else loader.construct_document(node)
    except RecursionError:
        raise FormatError(f"{where}: YAML nested too deeply to read") from None
    except yaml.YAMLError as exc:
        raise FormatError(f"{where}: cannot construct the YAML ({_problem(exc)})") from None
    finally:
        loader.dispose()
