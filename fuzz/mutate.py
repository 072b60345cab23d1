"""Mutations of a file's bytes: flips, truncations, FITS header keyword and column-format edits, ECSV
header edits, huge declared dimensions.

Every mutation is a pure function of the input bytes and a :class:`random.Random`, so an input is
reproduced from its seed file and its integer seed (``python -m fuzz.run --replay SEED_FILE SEED``).
"""

from __future__ import annotations

import random
import re

__all__ = ["mutate", "MUTATIONS"]

CARD = 80
_FITS_VALUE_KEYS = re.compile(
    rb"^(NAXIS\d*|BITPIX|PCOUNT|GCOUNT|TFIELDS|THEAP|TFORM\d+|TDIM\d+|TTYPE\d+|TUNIT\d+|TNULL\d+|TSCAL\d+|"
    rb"TZERO\d+|BSCALE|BZERO|BUNIT|EXTNAME|SED_TYPE|UL_CONF|NSIDE|ORDERING|INDXSCHM|CRPIX\d|CDELT\d|"
    rb"CRVAL\d|CTYPE\d|WCSSHAPE|BANDSHDU|HPX_CONV|MJDREFI|MJDREFF|TIMEUNIT|ZNAXIS\d*|FDSATTRS|"
    rb"N_SIGMA|N_SIGMA_UL|TS_THRESHOLD_UL|SQRT_TS_THRESHOLD_UL|LASTPIX|FIRSTPIX|AXCOLS\d)\s*$"
)
_HUGE = ["1000000000000", "4294967296", "2147483648", "9223372036854775807", "-1", "0", "1"]
_TFORMS = [
    "'1000000000D'",
    "'0D'",
    "'-1E'",
    "'1Q'",
    "'2147483647K'",
    "'PD(1000000000)'",
    "'X'",
    "'1A'",
    "'9999999999999J'",
    "'D'",
    "'E'",
    "'L'",
    "'3J'",
    "'Z'",
]
_TDIMS = [
    "'(1000000,1000000)'",
    "'(0)'",
    "'(-1,2)'",
    "'(2147483647,2147483647,2147483647)'",
    "'('",
    "'(3,4)'",
    "'()'",
]
_STRINGS = [
    "'flux    '",
    "'dnde'",
    "'likelihood'",
    "'nonsense'",
    "''",
    "'TeV'",
    "'erg cm-2 s-1'",
    "'cm-2 s-1 TeV-1'",
    "'s'",
    "'(1,2)'",
    "'\x01\x02'",
    "'{\"a\": ['",
]
_FLOATS = ["NaN", "1E400", "-0.5", "0.95", "1.0", "1E-300", "-1E308", "0", "T", "F"]


def _cards(data: bytes) -> list[int]:
    """Offsets of header cards with a value (``KEYWORD = ...``) whose keyword the fuzzer edits."""
    out = []
    for offset in range(0, len(data) - CARD + 1, CARD):
        card = data[offset : offset + CARD]
        if card[8:10] == b"= " and _FITS_VALUE_KEYS.match(card[:8]):
            out.append(offset)
    return out


def _set_card(data: bytearray, offset: int, value: str) -> None:
    text = f"{value:>20}" if not value.startswith("'") else f"{value:<20}"
    card = (data[offset : offset + 10].decode("ascii", "replace") + text)[:CARD].ljust(CARD)
    data[offset : offset + CARD] = card.encode("latin-1", "replace")[:CARD]


def edit_keyword(data: bytes, rng: random.Random) -> bytes:
    cards = _cards(data)
    if not cards:
        return flip_bytes(data, rng)
    out = bytearray(data)
    for offset in rng.sample(cards, k=min(len(cards), rng.choice([1, 1, 1, 2, 3]))):
        key = bytes(out[offset : offset + 8]).strip()
        if key.startswith(b"TFORM"):
            value = rng.choice(_TFORMS)
        elif key.startswith(b"TDIM") or key == b"WCSSHAPE":
            value = rng.choice(_TDIMS)
        elif key.startswith((b"NAXIS", b"PCOUNT", b"GCOUNT", b"TFIELDS", b"THEAP", b"NSIDE", b"ZNAXIS")):
            value = rng.choice(_HUGE + [str(rng.randint(-5, 70000))])
        elif key == b"BITPIX":
            value = rng.choice(["8", "16", "32", "64", "-32", "-64", "7", "0", "-128"])
        else:
            value = rng.choice(_STRINGS + _FLOATS)
        _set_card(out, offset, value)
    return bytes(out)


def huge_dimension(data: bytes, rng: random.Random) -> bytes:
    """Declare an enormous NAXISn (rows of a table, pixels of an image) or TDIM."""
    cards = [
        o
        for o in _cards(data)
        if re.match(rb"(NAXIS[12]|TDIM\d+|NSIDE|WCSSHAPE)\s*$", data[o : o + 8])
        and data[o : o + 6] != b"NAXIS "
    ]
    if not cards:
        return truncate(data, rng)
    out = bytearray(data)
    offset = rng.choice(cards)
    key = bytes(out[offset : offset + 8]).strip()
    if key.startswith(b"TDIM") or key == b"WCSSHAPE":
        _set_card(out, offset, rng.choice(_TDIMS[:1] + _TDIMS[3:4]))
    else:
        _set_card(out, offset, rng.choice(["1000000000000", "4294967296", "2147483648", "100000000"]))
    return bytes(out)


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 4, 16])):
        i = rng.randrange(len(out))
        out[i] ^= 1 << rng.randrange(8) if rng.random() < 0.5 else rng.randrange(1, 256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    if rng.random() < 0.5:  # at a FITS block or card boundary, where readers are least suspicious
        step = rng.choice([2880, CARD])
        cut = step * rng.randrange(0, max(1, len(data) // step))
    else:
        cut = rng.randrange(len(data))
    return data[:cut]


def splice(data: bytes, rng: random.Random) -> bytes:
    """Insert, duplicate or delete a chunk."""
    if len(data) < 2:
        return data + bytes(rng.randrange(256) for _ in range(8))
    i = rng.randrange(len(data))
    n = rng.choice([1, 8, CARD, 2880])
    choice = rng.random()
    if choice < 0.33:
        return data[:i] + data[i : i + n] + data[i:]
    if choice < 0.66:
        return data[:i] + data[i + n :]
    return data[:i] + bytes(rng.randrange(256) for _ in range(min(n, 64))) + data[i:]


def edit_text(data: bytes, rng: random.Random) -> bytes:
    """ECSV/text: change a datatype, a unit, a name or a value token; delete or duplicate a line."""
    lines = data.split(b"\n")
    if len(lines) < 2:
        return flip_bytes(data, rng)
    i = rng.randrange(len(lines))
    line = lines[i]
    op = rng.random()
    if op < 0.15:
        del lines[i]
    elif op < 0.25:
        lines.insert(i, line)
    elif b"datatype:" in line and op < 0.6:
        line = re.sub(
            rb"datatype: \w+",
            b"datatype: "
            + rng.choice([b"string", b"int8", b"bool", b"float16", b"complex128", b"object", b"x"]),
            line,
        )
        lines[i] = line
    elif b"unit:" in line and op < 0.6:
        lines[i] = re.sub(
            rb"unit: [^,}]+",
            b"unit: " + rng.choice([b"erg", b"cm-2 s-1", b"TeV-1", b"'??'", b"m", b"s"]),
            line,
        )
    elif b"subtype:" in line or b"shape" in line:
        lines[i] = re.sub(
            rb"\[[^\]]*\]", rng.choice([b"[1000000000000]", b"[null]", b"[-1]", b"[2, 3]"]), line
        )
    else:
        tokens = line.split(b" ")
        j = rng.randrange(len(tokens))
        tokens[j] = rng.choice(
            [
                b"nan",
                b"inf",
                b"-inf",
                b"-1",
                b"0",
                b"1e400",
                b"x",
                b"",
                b'"',
                b"{",
                b"---",
                b"1e-300",
                b"9" * 400,
            ]
        )
        lines[i] = b" ".join(tokens)
    return b"\n".join(lines)


MUTATIONS = {
    "flip_bytes": flip_bytes,
    "truncate": truncate,
    "edit_keyword": edit_keyword,
    "huge_dimension": huge_dimension,
    "splice": splice,
    "edit_text": edit_text,
}
_FITS_WEIGHTS = {"flip_bytes": 3, "truncate": 2, "edit_keyword": 6, "huge_dimension": 2, "splice": 1}
_TEXT_WEIGHTS = {"flip_bytes": 2, "truncate": 2, "edit_text": 6, "splice": 1}
_BINARY_WEIGHTS = {"flip_bytes": 5, "truncate": 3, "splice": 2}


def mutate(data: bytes, kind: str, rng: random.Random) -> tuple[bytes, list[str]]:
    """Apply 1-3 mutations suited to ``kind`` ("fits", "text" or "binary"); return the bytes and their
    names."""
    weights = {"fits": _FITS_WEIGHTS, "text": _TEXT_WEIGHTS}.get(kind, _BINARY_WEIGHTS)
    names, w = list(weights), list(weights.values())
    applied = []
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        name = rng.choices(names, weights=w)[0]
        data = MUTATIONS[name](data, rng)
        applied.append(name)
    return data, applied
