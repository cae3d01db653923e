"""Correcting a recorded decision: the form **Correct decision…** opens (which listings, the state
they go to, the reason) and the thread's reply saying what changed, who decided each and why.
`bot.delivery.corrections` checks and records the correction."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.platforms import platform_name
from bot.core.states import CORRECTION_TARGETS, ListingStatus
from bot.slack_ui.mrkdwn import Blocks, context, escape, escape_cut, listing_link, mrkdwn, plain
from bot.slack_ui.notice_outcomes import PERSON_STATUSES

CORRECTION_VIEW = "notice_correction"  # the form's callback id
LISTINGS, STATUS, REASON = "listings", "status", "reason"  # its blocks (and their action ids)
MAX_LISTINGS = 100  # a select's options
REASON_LENGTH = 1000

_CHOICES = {
    ListingStatus.IN_REVIEW: "In review again (reopen)",
    ListingStatus.REMOVED: "Removed",
    ListingStatus.REJECTED: "Rejected",
    ListingStatus.NEEDS_INFO: "Needs information",
}
_SHOWN = 10
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def label(status: str) -> str:
    return PERSON_STATUSES.get(status, status.replace("_", " "))


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": plain(text, limit=75), "value": value}


def correction_view(
    *, notice_id: int, platform: str, listings: Sequence[tuple[int, str, str]]
) -> dict[str, Any]:
    """The form: which decided listings (id, key, status), the state they go to (in review by
    default) and the reason, required. It remembers each offered listing's status, so a listing
    decided again since is not corrected on what the form showed."""
    offered = list(listings)[:MAX_LISTINGS]
    options = [
        _option(f"{key} — {label(status)}", str(listing_id)) for listing_id, key, status in offered
    ]
    chosen: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": LISTINGS,
        "options": options,
    }
    if len(options) == 1:
        chosen["initial_options"] = options
    targets = [_option(_CHOICES[status], status) for status in CORRECTION_TARGETS]
    metadata = {"notice_id": notice_id, "statuses": {str(i): s for i, _, s in offered}}
    return {
        "type": "modal",
        "callback_id": CORRECTION_VIEW,
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "title": plain("Correct decision", limit=24),
        "submit": plain("Correct", limit=24),
        "close": plain("Cancel", limit=24),
        "blocks": [
            context(
                f"A decision recorded for {escape(platform_name(platform))} by mistake: put it "
                "back in review, or record what was decided instead. The thread keeps both "
                "decisions, who made each and why."
            ),
            {
                "type": "input",
                "block_id": LISTINGS,
                "label": plain("Listings to correct", limit=2000),
                "element": chosen,
            },
            {
                "type": "input",
                "block_id": STATUS,
                "label": plain("They go to", limit=2000),
                "element": {
                    "type": "static_select",
                    "action_id": STATUS,
                    "options": targets,
                    "initial_option": targets[0],
                },
            },
            {
                "type": "input",
                "block_id": REASON,
                "label": plain("Why (required; shown in the thread)", limit=2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON,
                    "multiline": True,
                    "max_length": REASON_LENGTH,
                },
            },
        ],
    }


def opened_with(private_metadata: str) -> dict[int, str]:
    """Listing id → the status the form showed it in, from the form's metadata (empty if absent)."""
    try:
        statuses = json.loads(private_metadata or "{}").get("statuses") or {}
        return {int(listing_id): str(status) for listing_id, status in statuses.items()}
    except (ValueError, AttributeError, TypeError):
        return {}


@dataclass(frozen=True, slots=True)
class Corrected:
    """One listing's correction: the decision it had, and who recorded it when."""

    listing_id: int
    notice_id: int | None
    platform: str
    url: str
    key: str
    old: str
    previous_event: int | None  # the `status_changed` event that recorded the old decision
    previous_actor: str | None  # who recorded it: a user id, "platform:ebay", "bot"
    previous_at: datetime | None


def _who(actor: str) -> str:
    if actor.startswith("platform:"):
        return escape(platform_name(actor.removeprefix("platform:")))
    if _USER_ID.fullmatch(actor):
        return f"<@{actor}>"
    return "the bot" if actor == "bot" else escape(actor[:100])


def _recorded(item: Corrected) -> str:
    """Who recorded the decision being corrected, and when (unsaid if no event records it)."""
    said = f", recorded by {_who(item.previous_actor)}" if item.previous_actor else ""
    if item.previous_at is not None:
        said += f" on {item.previous_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
    return said


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" for line in escape_cut(text, REASON_LENGTH).splitlines() or [""])


def correction_posted(
    *,
    platform: str,
    to: str,
    reason: str,
    actor: str,
    reporter_id: str,
    items: Sequence[Corrected],
    checked: bool = False,
) -> tuple[str, Blocks]:
    """The thread's reply: which listings, the decision each had and who recorded it when, the
    state they go to, who corrected them and why (escaped); for reopened listings, what now
    (`checked`: the platform is asked again for its decision)."""
    name = escape_cut(platform_name(platform), 100)
    lines = [
        f"{listing_link(item.url, item.key[:100])}: was *{label(item.old)}*{_recorded(item)}"
        for item in items[:_SHOWN]
    ]
    if len(items) > _SHOWN:
        lines.append(f"… and {len(items) - _SHOWN:,} more")
    head = (
        f"<@{reporter_id}>\n:memo: *Decision corrected on {name}*: now *{label(to)}*"
        f" ({len(items):,} listing{'s' if len(items) != 1 else ''})"
    )
    blocks: Blocks = [
        {"type": "section", "text": mrkdwn("\n".join([head, *lines]))},
        {"type": "section", "text": mrkdwn(f"*Why*\n{_quote(reason)}")},
    ]
    after = f"Corrected by {_who(actor)}."
    if ListingStatus(to).is_open:
        after += " Record decision… and Withdraw work for these listings again."
    if checked:
        after += f" {name} is checked again for them, and its next answer is recorded."
    blocks.append(context(after))
    text = f"Decision corrected on {name}: now {label(to)}"
    return text, blocks
