"""A case's parent message in the team channel: what was reported, by whom, and where each
listing stands. Its thread holds the updates (`bot.slack_ui.notice_blocks`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config.schema import INFRINGEMENT_TYPES
from bot.core.cases import case_state, summarise
from bot.core.platforms import platform_name
from bot.core.states import ListingStatus
from bot.slack_ui.evidence_form import evidence_button
from bot.slack_ui.mrkdwn import (
    Blocks,
    context,
    cut,
    escape,
    escape_cut,
    listing_link,
    mrkdwn,
    plain,
)

MAX_LISTINGS_SHOWN = 15
STATUS_EMOJI: dict[str, str] = {
    ListingStatus.QUEUED: ":hourglass_flowing_sand:",
    ListingStatus.SUBMITTED: ":outbox_tray:",
    ListingStatus.IN_REVIEW: ":mag:",
    ListingStatus.REMOVED: ":white_check_mark:",
    ListingStatus.REJECTED: ":x:",
    ListingStatus.NEEDS_INFO: ":question:",
    ListingStatus.FAILED: ":warning:",
    ListingStatus.WITHDRAWN: ":leftwards_arrow_with_hook:",
    ListingStatus.RELISTED: ":repeat:",
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
        lines = _listing_lines(listings)
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines) or " ")})
    else:
        blocks.append({"type": "section", "text": mrkdwn("\n".join(_platform_lines(counts)))})
    blocks.append(evidence_button(ref))
    opened = created_at.astimezone(zone)
    blocks.append(context(f"Opened {opened:%Y-%m-%d %H:%M %Z} · updates in this thread"))
    return text, blocks


def _listing_lines(listings: Sequence[tuple[str, str, str]]) -> list[str]:
    """One line per listing: its status, platform and link."""
    return [
        f"{STATUS_EMOJI.get(status, '')} {escape_cut(platform_name(platform), 100)}: "
        f"{listing_link(url, cut(url, 80))} — {status.replace('_', ' ')}"
        for platform, url, status in listings
    ]


def _platform_lines(counts: Mapping[tuple[str, str], int]) -> list[str]:
    """A bulk case's summary: one line per platform, the one with most listings first."""
    platforms: dict[str, dict[str, int]] = {}
    for (platform, status), count in counts.items():
        platforms.setdefault(platform, {})[status] = count
    return [
        f"*{escape_cut(platform_name(platform), 100)}* ({sum(c.values()):,}): {summarise(c)}"
        for platform, c in sorted(platforms.items(), key=lambda item: -sum(item[1].values()))
    ]
