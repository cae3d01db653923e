"""`/report-listing list [open|mine|<platform>]`: cases as an ephemeral, paged list with thread links."""

from __future__ import annotations

import json
from typing import Any

from bot.config.schema import INFRINGEMENT_TYPES
from bot.core.cases import case_ref, thread_link
from bot.core.platforms import PLATFORMS, platform_name
from bot.core.states import AWAITING_YOU
from bot.runtime import Runtime
from bot.slack_ui.case_message import STATUS_EMOJI
from bot.slack_ui.mrkdwn import Blocks, button, escape, mrkdwn
from storage.cases import list_cases, private_channels

PAGE_SIZE = 10
PAGE_ACTION = "cases_page"


class ListFilterError(ValueError):
    """The filter word is not `open`, `mine`, `all` or a platform id."""


def parse_filter(words: list[str]) -> tuple[str, int]:
    """→ (filter, page). Filter: open (default), mine, all, or a platform id; page from 1."""
    what, page = "open", 1
    for word in words:
        lowered = word.lower()
        if lowered.isdigit():
            page = max(1, int(lowered))
        elif lowered in ("open", "mine", "all") or lowered in PLATFORMS:
            what = lowered
        else:
            raise ListFilterError(
                f"`{escape(word[:40])}` is not a list filter: use `open`, `mine`, `all` or a platform id "
                f"({', '.join(PLATFORMS)})"
            )
    return what, page


async def list_answer(rt: Runtime, *, user_id: str, what: str, page: int) -> tuple[str, Blocks]:
    """The page of cases matching `what` that `user_id` may read, newest first, with buttons to
    page through. Raises AccessDenied for a person who may not read cases (`access.viewers`)."""
    await rt.access.require_viewer(user_id)
    async with rt.db.sessions() as session:
        channels = await private_channels(session)
    readable = await rt.access.readable_channels(user_id, channels) if channels else None
    async with rt.db.sessions() as session:
        rows, total = await list_cases(
            session,
            open_only=what != "all",
            reporter_id=user_id if what == "mine" else None,
            platform=what if what in PLATFORMS else None,
            private_channels=readable,
            offset=(page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
    pages = max(1, -(-total // PAGE_SIZE))
    title = {"open": "Open cases", "mine": "Your open cases", "all": "All cases"}.get(
        what, f"Open cases on {platform_name(what)}"
    )
    if not rows:
        text = (
            f"{title}: none." if page == 1 else f"{title}: there is no page {page} (last: {pages})."
        )
        return text, [{"type": "section", "text": mrkdwn(escape(text))}]
    lines = []
    for row in rows:
        ref = case_ref(row.id)
        if row.channel_id and row.thread_ts:
            ref = f"<{thread_link(row.channel_id, row.thread_ts)}|{ref}>"
        kind = INFRINGEMENT_TYPES.get(row.infringement, row.infringement)
        awaiting = (
            f" ({STATUS_EMOJI[AWAITING_YOU]} {row.awaiting_you:,} awaiting you)"
            if row.awaiting_you
            else ""
        )
        lines.append(
            f"*{ref}* · {escape(row.brand)} · {escape(kind)} · {row.open_listings:,} open of {row.listings:,}{awaiting}"
            f" · <@{row.reporter_id}> · {row.created_at.astimezone(rt.config.team.zone):%Y-%m-%d}"
        )
    blocks: Blocks = [
        {
            "type": "section",
            "text": mrkdwn(f"*{escape(title)}* ({total:,}) — page {page} of {pages}"),
        },
        *({"type": "section", "text": mrkdwn(text)} for text in _packed(lines)),
    ]
    buttons: list[dict[str, Any]] = []
    if page > 1:
        buttons.append(_page_button("← Previous", what, page - 1))
    if page < pages:
        buttons.append(_page_button("Next →", what, page + 1))
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    return f"{title}: {total} (page {page} of {pages})", blocks


def _packed(lines: list[str], limit: int = 3000) -> list[str]:
    """The lines joined into as few section texts of at most `limit` characters as hold every
    line whole (escaped brand names can be five times as long as typed)."""
    texts: list[str] = []
    for line in lines:
        if texts and len(texts[-1]) + 1 + len(line) <= limit:
            texts[-1] += "\n" + line
        else:
            texts.append(line)
    return texts


def _page_button(text: str, what: str, page: int) -> dict[str, Any]:
    return button(text, f"{PAGE_ACTION}:{page}", json.dumps({"what": what, "page": page}))
