"""Text in Block Kit: mrkdwn escaping, plain_text and mrkdwn objects, cutting to Slack's limits,
links to listings, context lines and buttons.

Every piece of text a user or a platform wrote goes through `escape` (mrkdwn) or into a
plain_text object, so `<!channel>` or `<https://evil|click>` can never become a ping or a link.
"""

from __future__ import annotations

import re
from typing import Any

from bot.core.listings import ListingURLError, parse_listing_url

Blocks = list[dict[str, Any]]


def escape(text: str) -> str:
    """Escape text for mrkdwn: `&`, `<`, `>` in that order (Slack's rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """`text` shortened to at most `limit` characters, ending in `…` when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The tail of a cut that would leave half an escape (`&am`) or half a mention or link (`<@U12`).
_BROKEN_TAIL = re.compile(r"&[a-z]{0,3}$|<[^<>]*$")


def cut_mrkdwn(text: str, limit: int) -> str:
    """Shorten mrkdwn to `limit` characters without splitting an escape, a mention or a link."""
    if len(text) <= limit:
        return text
    return _BROKEN_TAIL.sub("", text[: limit - 1]) + "…"


def escape_cut(text: str, limit: int) -> str:
    """`escape(text)`, shortened to at most `limit` characters (escaping can make text longer)."""
    return cut_mrkdwn(escape(text[:limit]), limit)


def plain(text: str, *, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": False}


def mrkdwn(text: str, *, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut_mrkdwn(text, limit) or " "}


def context(text: str) -> dict[str, Any]:
    """A context block (a small grey line) showing the mrkdwn `text` as given."""
    return {"type": "context", "elements": [mrkdwn(text)]}


def context_line(text: str) -> dict[str, Any]:
    """A small grey line; `text` is escaped."""
    return context(escape(text))


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A button element; `style` "primary" or "danger", `confirm` a confirmation dialog."""
    element: dict[str, Any] = {
        "type": "button",
        "text": plain(text, limit=75),
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def link_url(url: str) -> str:
    # Canonical URLs come from our own parser, but a `|` or `>` would still end the link early.
    return url.replace("|", "%7C").replace(">", "%3E").replace("<", "%3C")


def listing_link(url: str, label: str) -> str:
    """A link to a listing's page, labelled `label`. Only a URL the listing parser recognises
    becomes a link (to its canonical form); any other text is shown, escaped, not linked."""
    try:
        canonical = parse_listing_url(url).canonical_url
    except ListingURLError:
        return escape(label)
    return f"<{link_url(canonical)}|{escape(label)}>"


_WEB_URL = re.compile(r"https?://[^\s/?#]+\S*", re.IGNORECASE)
MAX_LINKED = 1000  # longer URLs are shown, cut, as text


def web_link(url: str, *, label_limit: int = 80) -> str:
    """A link to an http(s) address a person gave (evidence), labelled with the address cut to
    `label_limit`. Anything else, or an address too long to link, is shown escaped, not linked."""
    label = escape_cut(url, label_limit)
    if not _WEB_URL.fullmatch(url) or len(url) > MAX_LINKED:
        return label
    return f"<{escape(link_url(url))}|{label}>"


def packed(lines: list[str], *, limit: int = 3000, most: int | None = None) -> list[str]:
    """`lines` joined into as few texts of at most `limit` characters as hold each line whole (a
    longer line is cut with `cut_mrkdwn`); with `most`, at most that many texts, the last one
    ending with how many lines did not fit."""
    groups: list[list[str]] = []
    sizes: list[int] = []
    for line in (cut_mrkdwn(line, limit) for line in lines):
        if groups and sizes[-1] + 1 + len(line) <= limit:
            groups[-1].append(line)
            sizes[-1] += 1 + len(line)
        else:
            groups.append([line])
            sizes.append(len(line))
    if most is not None and len(groups) > most:
        kept = groups[:most]
        left = len(lines) - sum(len(group) for group in kept)
        last = kept[-1]
        while len(last) > 1 and len("\n".join(last)) + 30 > limit:
            last.pop()
            left += 1
        if len(last[0]) + 30 > limit:
            last[0] = cut_mrkdwn(last[0], limit - 30)
        last.append(f"… and {left:,} more")
        groups = kept
    return ["\n".join(group) for group in groups]
