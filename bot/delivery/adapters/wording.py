"""The words the API adapters (eBay VeRO, Mercado Libre) put in a platform's free-text fields:
the right as a seller reads it, and text clipped to a field's limit."""

from __future__ import annotations

from bot.delivery.adapters.base import OutgoingNotice


def clip(text: str, limit: int) -> str:
    """`text` on one line (runs of whitespace become one space), at most `limit` characters,
    ending in `…` when it was cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def right_words(notice: OutgoingNotice) -> str:
    """The right as a seller reads it: `trademark ACME 018123456 (EUIPO)`, `copyright in <work>`."""
    right = notice.right
    if right.kind == "copyright":
        return f"copyright in {right.work}" if right.work else "copyright"
    words = " ".join(part for part in (right.kind, right.mark, right.number) if part)
    return f"{words} ({right.office})" if right.office else words
