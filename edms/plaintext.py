"""What text a record may hold: valid Unicode in NFC, without control characters, and, on one line
(titles, names, single-line fields), without bidirectional controls or invisible characters.

A control character stored in a title breaks the record's DOCX rendition and its inspection export for
ever (XML 1.0 cannot carry it); a right-to-left override or a zero-width space makes what a signer reads
differ from what is stored and searched. Such text is refused with a message naming the character,
never silently changed. No Flask here: documents, users and cases call it.
"""
from __future__ import annotations

import unicodedata

from edms.errors import N_, UserError

# Explicit embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) and the implicit marks.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
# Characters that print as nothing: zero-width space, (non-)joiners, word joiner, BOM, soft hyphen...
INVISIBLE = frozenset("\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e\u034f")
MULTI_LINE_CONTROLS = frozenset("\n\t")


class UnsafeText(UserError):
    """Text a record must not hold; the message names the character by its code point."""


def _code(char: str) -> str:
    return f"U+{ord(char):04X}"


def check_text(text: str, *, multi_line: bool = False) -> None:
    """Refuse lone surrogates and control characters (but tab and line break where `multi_line`), and, on
    one line, bidirectional controls and invisible characters."""
    allowed = MULTI_LINE_CONTROLS if multi_line else frozenset()
    for char in text:
        category = unicodedata.category(char)
        if category == "Cs":
            raise UnsafeText(N_("Contains a lone surrogate (%(code)s), which is not valid Unicode text."), code=_code(char))
        if category == "Cc" and char not in allowed:
            raise UnsafeText(N_("Contains a control character (%(code)s)."), code=_code(char))
        if not multi_line and char in BIDI_CONTROLS:
            raise UnsafeText(N_("Contains a bidirectional control character (%(code)s), which makes text read "
                                "differently from what is stored."), code=_code(char))
        if not multi_line and char in INVISIBLE:
            raise UnsafeText(N_("Contains an invisible character (%(code)s)."), code=_code(char))


def clean_line(text: str) -> str:
    """One line of text as stored: stripped, NFC; raises UnsafeText."""
    check_text(text)
    return unicodedata.normalize("NFC", text.strip())


def has_surrogates(text: str) -> bool:
    return any("\ud800" <= char <= "\udfff" for char in text)
