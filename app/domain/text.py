"""What free text SiteFlow accepts: people's names, and every other text that reaches a
screen, a report or an export (reasons, notes, site and user names).

Text is normalised to Unicode NFC and trimmed. Refused: control characters, format
characters (zero-width spaces and joiners, bidirectional overrides and isolates, the BOM),
private-use code points, surrogates and noncharacters (U+FDD0-U+FDEF and U+xFFFE/U+xFFFF,
which also corrupt an XLSX file). Letters, marks and punctuation of every script are kept:
买买提·艾力, O'Brien, Jean-Luc, محمد, བཀྲ་ཤིས, Nguyễn.

A name is 1-64 characters after trimming. Notes may span lines (a line break is the only
control character they may hold).
"""
from __future__ import annotations

import unicodedata

NAME_MAX = 64
REFUSED_CATEGORIES = {"Cc": "a control character", "Cf": "an invisible formatting character",
                      "Co": "a private-use character", "Cs": "a surrogate"}


def normalised(value: str) -> str:
    """NFC, trimmed: the form every accepted text is stored in."""
    return unicodedata.normalize("NFC", value).strip()


def _noncharacter(code: int) -> bool:
    return 0xFDD0 <= code <= 0xFDEF or (code & 0xFFFE) == 0xFFFE


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """Why this text is refused (a message naming the character), or None."""
    for char in value:
        if multiline and char == "\n":
            continue
        code = ord(char)
        kind = "a noncharacter" if _noncharacter(code) else REFUSED_CATEGORIES.get(unicodedata.category(char))
        if kind is not None:
            return f"must not contain {kind} (U+{code:04X})"
    return None


def name_problem(value: str, *, max_length: int = NAME_MAX) -> str | None:
    """Why this name is refused, or None; `value` as normalised()."""
    if not 1 <= len(value) <= max_length:
        return f"must be 1 to {max_length} characters"
    return text_problem(value)
