"""Block Kit builders: the report modal, a case's parent message, help and status answers.

Every piece of text a user or a platform wrote goes through `escape` (mrkdwn) or into a
plain_text object, so `<!channel>` or `<https://evil|click>` can never become a ping or a link.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.schema import INFRINGEMENT_TYPES, AppConfig
from bot.core.cases import MAX_LISTINGS_PER_CASE, case_state, summarise
from bot.core.listings import ListingURLError, parse_listing_url
from bot.core.platforms import PLATFORMS
from bot.manifest import COMMAND

Blocks = list[dict[str, Any]]

REPORT_CALLBACK = "report_listing"
FILE_FIELD = "url_file"  # the report form's file input (a bulk report's URL file)
MAX_LISTINGS_SHOWN = 15
STATUS_EMOJI = {
    "queued": ":hourglass_flowing_sand:",
    "submitted": ":outbox_tray:",
    "in_review": ":mag:",
    "removed": ":white_check_mark:",
    "rejected": ":x:",
    "needs_info": ":question:",
    "failed": ":warning:",
    "withdrawn": ":leftwards_arrow_with_hook:",
    "relisted": ":repeat:",
}

# Block and action ids of the report modal; handlers and tests read values by these.
URLS, BRAND, RIGHT, TYPE, DESCRIPTION, EVIDENCE, SELLER = (
    "urls",
    "brand",
    "right",
    "type",
    "description",
    "evidence",
    "seller",
)


def escape(text: str) -> str:
    """Escape text for mrkdwn: `&`, `<`, `>` in that order (Slack's rule)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, *, limit: int = 3000) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit) or " ", "emoji": False}


def mrkdwn(text: str, *, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": cut_mrkdwn(text, limit) or " "}


def _cut(text: str, limit: int) -> str:
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


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, limit=75), "value": value[:150]}


def _metadata(metadata: Mapping[str, Any] | None) -> str:
    """The form's private_metadata: compact JSON, never cut (a cut would not parse back)."""
    text = json.dumps(dict(metadata or {}), separators=(",", ":"))
    if len(text) > 3000:
        raise ValueError(f"private_metadata of {len(text)} characters; Slack takes at most 3,000")
    return text


def report_modal(
    config: AppConfig, *, urls: Sequence[str] = (), metadata: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The report form, prefilled with `urls` (one per line). A file of URLs (CSV or TXT) may
    come instead of, or besides, the typed ones (`bot.intake.bulk` reads it)."""
    rights = [
        _option(f"{brand.name}: {right.label()}", right.id)
        for brand in config.brands
        for right in brand.rights
    ]
    url_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": URLS,
        "multiline": True,
        "max_length": 3000,
        "placeholder": plain("https://www.ebay.com/itm/123456789012"),
    }
    prefill = "\n".join(urls)
    if prefill:
        url_input["initial_value"] = prefill[:3000]
    brand_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": BRAND,
        "options": [_option(brand.name, brand.name) for brand in config.brands][:100],
    }
    if len(config.brands) == 1:
        brand_select["initial_option"] = brand_select["options"][0]
    return {
        "type": "modal",
        "callback_id": REPORT_CALLBACK,
        "title": plain("Report listings", limit=24),
        "submit": plain("File report", limit=24),
        "close": plain("Cancel", limit=24),
        "private_metadata": _metadata(metadata),
        "blocks": [
            _input(URLS, "Listing URLs, one per line", url_input, optional=True),
            _input(BRAND, "Brand", brand_select),
            _input(
                RIGHT,
                "IP right",
                {"type": "static_select", "action_id": RIGHT, "options": rights[:100]},
            ),
            _input(
                TYPE,
                "Infringement type",
                {
                    "type": "static_select",
                    "action_id": TYPE,
                    "options": [_option(label, key) for key, label in INFRINGEMENT_TYPES.items()],
                },
            ),
            _input(
                DESCRIPTION,
                "Why these listings infringe",
                {
                    "type": "plain_text_input",
                    "action_id": DESCRIPTION,
                    "multiline": True,
                    "max_length": 3000,
                },
                optional=True,
            ),
            _input(
                EVIDENCE,
                "Evidence links (test buys, screenshots), one per line",
                {
                    "type": "plain_text_input",
                    "action_id": EVIDENCE,
                    "multiline": True,
                    "max_length": 3000,
                },
                optional=True,
            ),
            _input(
                SELLER,
                "Seller (optional)",
                {"type": "plain_text_input", "action_id": SELLER, "max_length": 200},
                optional=True,
            ),
            # Last, so the form keeps its order for those who type URLs.
            {
                **_input(
                    FILE_FIELD,
                    "Listing URLs from a file",
                    {
                        "type": "file_input",
                        "action_id": FILE_FIELD,
                        "filetypes": ["csv", "txt"],
                        "max_files": 1,
                    },
                    optional=True,
                ),
                "hint": plain(
                    "Instead of or besides the URLs above. TXT: one URL per line. CSV: a url "
                    "column; seller and evidence columns optional. Up to "
                    f"{MAX_LISTINGS_PER_CASE:,} listings in one report.",
                    limit=2000,
                ),
            },
        ],
    }


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False
) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": plain(label, limit=2000),
        "element": element,
        "optional": optional,
    }


def case_message(
    *,
    ref: str,
    brand: str,
    right_label: str,
    infringement: str,
    reporter_id: str,
    created_at: datetime,
    zone: ZoneInfo,
    counts: Mapping[tuple[str, str], int],
    listings: Sequence[tuple[str, str, str]],
    description: str = "",
) -> tuple[str, Blocks]:
    """A case's parent message: fallback text and blocks.

    `counts` is (platform, status) → number; `listings` the first few (platform, url, status).
    A bulk case shows a summary per platform and status instead of every URL.
    """
    total = sum(counts.values())
    by_status: dict[str, int] = {}
    for (_, status), count in counts.items():
        by_status[status] = by_status.get(status, 0) + count
    state = case_state(by_status)
    type_label = INFRINGEMENT_TYPES.get(infringement, infringement)
    text = (
        f"{ref}: {escape_cut(type_label, 100)}, {escape_cut(brand, 100)}, "
        f"{total:,} listing{'s' if total != 1 else ''} ({state})"
    )
    blocks: Blocks = [
        {"type": "header", "text": plain(f"{ref} · {brand} · {type_label}", limit=150)},
        {
            "type": "section",
            "fields": [
                mrkdwn(f"*IP right*\n{escape(right_label)}", limit=2000),
                mrkdwn(f"*Reported by*\n<@{reporter_id}>", limit=2000),
                mrkdwn(f"*Listings*\n{total:,}", limit=2000),
                mrkdwn(f"*Status*\n{state}: {summarise(by_status)}", limit=2000),
            ],
        },
    ]
    if description:
        blocks.append(
            {"type": "section", "text": mrkdwn(f"*Description*\n{escape(description)}", limit=2000)}
        )
    if total <= MAX_LISTINGS_SHOWN:
        lines = [
            f"{STATUS_EMOJI.get(status, '')} {escape_cut(PLATFORMS.get(platform, platform), 100)}: "
            f"{listing_link(url, _cut(url, 80))} — {status.replace('_', ' ')}"
            for platform, url, status in listings
        ]
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines) or " ")})
    else:
        platforms: dict[str, dict[str, int]] = {}
        for (platform, status), count in counts.items():
            platforms.setdefault(platform, {})[status] = count
        lines = [
            f"*{escape_cut(PLATFORMS.get(platform, platform), 100)}* ({sum(c.values()):,}): {summarise(c)}"
            for platform, c in sorted(platforms.items(), key=lambda item: -sum(item[1].values()))
        ]
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines))})
    blocks.append(
        {
            "type": "context",
            "elements": [
                mrkdwn(
                    f"Opened {created_at.astimezone(zone):%Y-%m-%d %H:%M %Z} · updates in this thread"
                )
            ],
        }
    )
    return text, blocks


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


def help_blocks(*, unknown: str | None = None) -> tuple[str, Blocks]:
    lines = [
        f"`{COMMAND}` — open the report form",
        f"`{COMMAND} {escape('<url> [<url> …]')}` — open the form with these listings filled in",
        f"`{COMMAND} status TD-42` — where a case stands",
        f"`{COMMAND} list {escape('[open|mine|all|<platform>]')}` — cases, newest first",
        f"`{COMMAND} digest` — this week's figures (only you see them)",
        f"`{COMMAND} scorecard [--since 2026-11-01]` — each platform's responsiveness",
        f"`{COMMAND} help` — this message",
    ]
    blocks: Blocks = []
    if unknown is not None:
        blocks.append(
            {
                "type": "section",
                "text": mrkdwn(f":thinking_face: I did not understand `{escape(unknown[:100])}`."),
            }
        )
    blocks.append(
        {"type": "section", "text": mrkdwn("*Report infringing listings*\n" + "\n".join(lines))}
    )
    supported = ", ".join(PLATFORMS.values())
    blocks.append({"type": "context", "elements": [mrkdwn(f"Platforms: {escape(supported)}")]})
    text = f"I did not understand `{escape(unknown[:100])}`. " if unknown else ""
    return (
        text
        + f"Usage: {COMMAND} [help | status TD-42 | list | digest | scorecard | {escape('<url>')} …]",
        blocks,
    )


def notice_text(text: str) -> tuple[str, Blocks]:
    """A short ephemeral answer."""
    return text, [{"type": "section", "text": mrkdwn(text)}]


def case_filed_view(ref: str, listings: int, created: bool) -> dict[str, Any]:
    """What the form turns into once the case is open."""
    what = (
        f"*{escape(ref)}* is open with {listings:,} listing{'s' if listings != 1 else ''}."
        if created
        else f"*{escape(ref)}* was already filed."
    )
    return {
        "type": "modal",
        "title": plain("Report filed", limit=24),
        "close": plain("Done", limit=24),
        "blocks": [
            {"type": "section", "text": mrkdwn(f":white_check_mark: {what}")},
            {
                "type": "context",
                "elements": [mrkdwn("Its status thread follows in the team channel.")],
            },
        ],
    }


def context_line(text: str) -> dict[str, Any]:
    """A small grey line; `text` is escaped."""
    return {"type": "context", "elements": [mrkdwn(escape(text))]}
