"""A case's parent message in the team channel: what was reported, by whom, and where each
listing stands. Its thread holds the updates (`bot.slack_ui.notice_blocks`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config.schema import INFRINGEMENT_TYPES
from bot.core.cases import case_state, summarise
from bot.core.platforms import platform_name
from bot.core.states import AWAITING_YOU, ListingStatus
from bot.slack_ui.case_details import (
    CaseDetails,
    ListingLine,
    evidence_texts,
    last_act_text,
    sellers_text,
)
from bot.slack_ui.evidence_form import evidence_button
from bot.slack_ui.mrkdwn import (
    Blocks,
    context,
    cut,
    escape,
    escape_cut,
    listing_link,
    mrkdwn,
    packed,
    plain,
)

MAX_LISTINGS_SHOWN = 15
MAX_LISTING_SECTIONS = 8
MAX_NOTE_SECTIONS = 3
NOTE_SHOWN = 300  # characters of a listing's note
STATUS_EMOJI: dict[str, str] = {
    ListingStatus.QUEUED: ":hourglass_flowing_sand:",
    AWAITING_YOU: ":raising_hand:",
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
    listings: Sequence[ListingLine],
    description: str = "",
    details: CaseDetails | None = None,
) -> tuple[str, Blocks]:
    """A case's parent message: fallback text and blocks.

    `counts` is (platform, shown status) → number; `listings` the first few. A bulk case shows a
    summary per platform and status instead of every URL, with its sellers and latest notes.
    Within Slack's limits whatever the case holds (at most 17 blocks).
    """
    details = details or CaseDetails()
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
    fields = [
        mrkdwn(f"*IP right*\n{escape(right_label)}", limit=2000),
        mrkdwn(f"*Reported by*\n<@{reporter_id}>", limit=2000),
        mrkdwn(f"*Listings*\n{total:,}", limit=2000),
        mrkdwn(f"*Status*\n{state}: {summarise(by_status)}", limit=2000),
    ]
    if details.seller:
        fields.append(mrkdwn(f"*Seller*\n{escape_cut(details.seller, 200)}", limit=2000))
    if details.last_act is not None:
        fields.append(mrkdwn(f"*Last action*\n{last_act_text(details.last_act, zone)}", limit=2000))
    blocks: Blocks = [
        {"type": "header", "text": plain(f"{ref} · {brand} · {type_label}", limit=150)},
        {"type": "section", "fields": fields},
    ]
    if description:
        blocks.append(
            {"type": "section", "text": mrkdwn(f"*Description*\n{escape(description)}", limit=2000)}
        )
    blocks += _sections(evidence_texts(details.evidence))
    if total <= MAX_LISTINGS_SHOWN:
        lines = [_listing_line(item, case_seller=details.seller) for item in listings]
        blocks += _sections(packed(lines, most=MAX_LISTING_SECTIONS) or [" "])
    else:
        blocks.append({"type": "section", "text": mrkdwn("\n".join(_platform_lines(counts)))})
        if details.seller_count:
            blocks.append(
                {
                    "type": "section",
                    "text": mrkdwn(sellers_text(details.sellers, details.seller_count)),
                }
            )
        blocks += _sections(_notes(details))
    blocks.append(evidence_button(ref))
    opened = created_at.astimezone(zone)
    blocks.append(context(f"Opened {opened:%Y-%m-%d %H:%M %Z} · updates in this thread"))
    return text, blocks


def _sections(texts: Sequence[str]) -> Blocks:
    return [{"type": "section", "text": mrkdwn(text)} for text in texts]


def _listing_line(item: ListingLine, *, case_seller: str | None = None) -> str:
    """One listing: its status, platform and link; its seller if not the case's; its note."""
    line = (
        f"{STATUS_EMOJI.get(item.status, '')} {escape_cut(platform_name(item.platform), 100)}: "
        f"{listing_link(item.url, cut(item.url, 80))} — {item.status.replace('_', ' ')}"
    )
    if item.seller and item.seller.strip() != (case_seller or "").strip():
        line += f" · seller {escape_cut(item.seller, 80)}"
    if item.note and item.note.strip():
        line += f"\n> {escape_cut(' '.join(item.note.split()), NOTE_SHOWN)}"
    return line


def _notes(details: CaseDetails) -> list[str]:
    """A bulk case's latest notes on its listings."""
    if not details.notes:
        return []
    shown = len(details.notes)
    head = "*Latest notes*"
    if details.noted > shown:
        head += f" ({shown} of {details.noted:,} listings with one; every note is in the thread)"
    lines = [_listing_line(item, case_seller=details.seller) for item in details.notes]
    return packed([head, *lines], most=MAX_NOTE_SECTIONS)


def _platform_lines(counts: Mapping[tuple[str, str], int]) -> list[str]:
    """A bulk case's summary: one line per platform, the one with most listings first."""
    platforms: dict[str, dict[str, int]] = {}
    for (platform, status), count in counts.items():
        platforms.setdefault(platform, {})[status] = count
    return [
        f"*{escape_cut(platform_name(platform), 100)}* ({sum(c.values()):,}): {summarise(c)}"
        for platform, c in sorted(platforms.items(), key=lambda item: -sum(item[1].values()))
    ]
