"""A link as a person pasted it, made ready to parse.

Links come from messages, documents and spreadsheets with what surrounded them: sentence
punctuation ("see https://….", "(https://…)."), quotes (straight, curly, «guillemets»), Slack's
``<url|label>`` wrapping and its ``&amp;``/``&lt;``/``&gt;`` escapes, chat markup (``*…*``), and
characters nobody sees: direction marks from right-to-left text (U+200E, U+200F, U+202A to U+202E,
U+2066 to U+2069), zero-width spaces some apps put into long links (U+200B), byte-order marks
(U+FEFF). `tidy_link` takes all of that away, and keeps a closing bracket the URL opened itself
(``https://en.wikipedia.org/wiki/Foo_(bar)``). It works in one pass, however long the text.
"""

from __future__ import annotations

import re

_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
_QUOTES = "\"'`\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"
_OPENING = _QUOTES + "([{*_~"  # before a link: never part of it
_CLOSING = _QUOTES + ".,;:!?*"  # after a link: sentence punctuation and quotes
_CLOSERS = {")": "(", "]": "[", "}": "{"}  # kept when the URL opened them itself
_PAIRED = "_~"  # chat markup a URL may end with: dropped only after one dropped before it
_BEFORE = frozenset(_OPENING + "<")
_AFTER = _CLOSING + ">"
# Slack's wrapping, among what may surround it: "(<https://…|label>)."
_WRAPPED = re.compile(
    f"[{re.escape(_OPENING)}]*<([^<>|]*)(?:\\|[^<>]*)?>[{re.escape(_CLOSING + ')]}')}]*"
)


def strip_invisible(text: str) -> str:
    """`text` without direction marks, zero-width characters and byte-order marks."""
    return _INVISIBLE.sub("", text)


def unescape_slack(text: str) -> str:
    """Undo Slack's escapes (all message text has them); `&amp;` last so "&amp;lt;" stays "&lt;"."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def tidy_link(text: str) -> str:
    """The link in `text`, as pasted: without invisible characters, surrounding whitespace,
    quotes, brackets and punctuation, Slack's wrapping and escapes."""
    url = strip_invisible(text).strip()
    if wrapped := _WRAPPED.fullmatch(url):
        url = wrapped[1].strip()
    return _peel(unescape_slack(url))


def _peel(text: str) -> str:
    start = 0
    while start < len(text) and text[start] in _BEFORE:
        start += 1
    closing = _AFTER + "".join(set(text[:start]) & set(_PAIRED)) if start else _AFTER
    url = text[start:]
    # Counted once, then kept up to date: linear even for ")))…".
    opened = {closer: url.count(opener) for closer, opener in _CLOSERS.items()}
    closed = {closer: url.count(closer) for closer in _CLOSERS}
    end = len(url)
    while end:
        last = url[end - 1]
        if last in _CLOSERS and closed[last] > opened[last]:
            closed[last] -= 1
        elif last not in closing:
            break
        end -= 1
    return url[:end]
