"""Text made safe for a terminal: control characters shown escaped, never sent raw.

File names, source names and attributes come from files made elsewhere; printed raw, an ANSI escape
sequence in them (``ESC ] 0 ; title BEL``, ``ESC [ 2 J``) sets the terminal's title, clears the screen
or worse, and a bidirectional override (U+202E) makes text read differently from what it is.
:func:`escape_controls` replaces every such character by its Python escape (``\\x1b``, ``\\u202e``), so the
command line shows what is there without the terminal acting on it.
"""

from __future__ import annotations

from functools import lru_cache

__all__ = ["escape_controls", "CONTROL_CODEPOINTS"]

# C0 controls, DEL, C1 controls; the bidirectional marks, embeddings, overrides and isolates (U+061C,
# U+200E-200F, U+202A-202E, U+2066-2069); the line and paragraph separators; lone surrogates (how Python
# holds the bytes of a file name that are not UTF-8; they cannot be encoded for output)
CONTROL_CODEPOINTS: frozenset[int] = frozenset(
    [
        *range(0x00, 0x20),
        0x7F,
        *range(0x80, 0xA0),
        0x061C,
        0x200E,
        0x200F,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        0x2028,
        0x2029,
        *range(0xD800, 0xE000),
    ]
)


def _escape(codepoint: int) -> str:
    return f"\\x{codepoint:02x}" if codepoint < 0x100 else f"\\u{codepoint:04x}"


@lru_cache(maxsize=8)
def _table(keep: str) -> dict[int, str]:
    return {c: _escape(c) for c in CONTROL_CODEPOINTS if chr(c) not in keep}


def escape_controls(text: str, keep: str = "\n\t") -> str:
    """``text`` with every control character escaped (``"\\x1b"`` for ESC, ``"\\u202e"`` for U+202E).

    Parameters
    ----------
    text : str
    keep : str
        Control characters to pass through unchanged (default: newline and tab, the layout of a
        multi-line message). Pass ``""`` to escape a single value (a file or source name) completely.

    Returns
    -------
    str
        Text with no C0/C1 control, DEL, bidirectional control, line separator or lone surrogate, except
        those in ``keep``.
    """
    return text.translate(_table(keep))
