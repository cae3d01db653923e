"""User-written text made fit for a legal notice: plain lines, no control characters.

Nothing is escaped: the notice is plain text and its words must reach the platform unchanged; what
is removed is what could make a text read differently from what it says.
"""

from __future__ import annotations

import re
import unicodedata

# Bidirectional overrides and isolates can make a text read differently from what it says.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_LINE_BREAKS = re.compile(r"\r\n?|[\u2028\u2029\x85\x0b\x0c]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def clean_line(value: str | None) -> str:
    """One line of user-written text: no control characters, no line breaks, single spaces."""
    spaced = "".join(" " if ch.isspace() else ch for ch in value or "")
    return " ".join(_strip_controls(spaced, keep="").split())


def clean_text(value: str | None) -> str:
    """User-written prose: line breaks and tabs kept, every other control character removed."""
    text = _LINE_BREAKS.sub("\n", value or "")
    text = _strip_controls(text, keep="\n\t")
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip()


def _strip_controls(text: str, *, keep: str) -> str:
    return "".join(
        ch
        for ch in text
        if ch in keep or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
    )
