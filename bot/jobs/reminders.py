"""SLA reminders and escalations, run by the hourly `remind` job.

Per platform `sla_days`: a listing still undecided past its SLA gets one reminder in its case's
thread, mentioning the reporter; past twice the SLA, one post in `team.escalation_channel`. A
portal notice nobody confirmed within 24 hours gets its own reminder. Each threshold fires once
(the listing or notice is marked in the same transaction that queues the message).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref, thread_link
from bot.core.platforms import PLATFORMS, platform_name
from bot.jobs.notify import enqueue_channel_post, enqueue_thread_reply
from bot.runtime import Runtime
from bot.slack_ui.mrkdwn import escape, escape_cut, mrkdwn
from storage.cases import get_case
from storage.listings import listings_past, mark_listings
from storage.models import Case, Listing
from storage.notices import mark_notice_reminded, notices_awaiting_person

PORTAL_REMINDER_AFTER = timedelta(hours=24)
MAX_ESCALATED_CASES = 40
MAX_ESCALATION_TEXT = 3000  # a section's text: longer would be cut mid-list by Slack's limit


def _sla_groups(rt: Runtime) -> dict[int, list[str]]:
    """SLA days → the platforms that have it."""
    groups: dict[int, list[str]] = defaultdict(list)
    for platform in PLATFORMS:
        groups[rt.config.sla_days(platform)].append(platform)
    return groups


async def sweep(rt: Runtime, *, now: datetime) -> dict[str, int]:
    """Send every reminder and escalation due at `now`; returns how many of each were queued."""
    sent = {"reminders": 0, "escalations": 0, "portal_reminders": 0}
    for days, platforms in _sla_groups(rt).items():
        sent["reminders"] += await _remind(rt, platforms=platforms, days=days, now=now)
        sent["escalations"] += await _escalate(rt, platforms=platforms, days=days, now=now)
    sent["portal_reminders"] = await _remind_portal_notices(rt, now=now)
    if any(sent.values()):
        rt.wake_worker()
    return sent


async def _remind(rt: Runtime, *, platforms: list[str], days: int, now: datetime) -> int:
    """One reminder per case in its thread about its listings past the SLA; how many."""
    reminded = 0
    async with rt.db.transaction() as session:
        due = await listings_past(
            session,
            platforms=platforms,
            older_than=now - timedelta(days=days),
            unmarked="sla_reminded_at",
        )
        # Mark first, then queue: the listing rows are locked before the cases' serial-key
        # locks, the order a poll recording a decision takes them (no deadlock between them).
        due = await _mark(session, due, column="sla_reminded_at", now=now)
        for case, listings in _by_case(due):
            assert case.id is not None
            text, blocks = _reminder(case, listings, days)
            await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)
            reminded += 1
    return reminded


async def _escalate(rt: Runtime, *, platforms: list[str], days: int, now: datetime) -> int:
    """One post in the escalation channel about the listings past twice the SLA; how many (0, 1)."""
    escalation_channel = rt.config.team.escalation_channel
    if escalation_channel is None:
        return 0
    async with rt.db.transaction() as session:
        due = await listings_past(
            session,
            platforms=platforms,
            older_than=now - timedelta(days=2 * days),
            unmarked="sla_escalated_at",
        )
        due = await _mark(session, due, column="sla_escalated_at", now=now)
        if not due:
            return 0
        cases = _by_case(due)
        # A private case is readable only in its channel (and by the approvers): its escalation
        # goes into its own thread, never into the escalation channel.
        public = [(case, items) for case, items in cases if case.private_channel is None]
        for case, items in cases:
            if case.private_channel is not None and case.id is not None:
                text, blocks = _escalation([(case, items)], days)
                await enqueue_thread_reply(session, case_id=case.id, text=text, blocks=blocks)
        if public:
            text, blocks = _escalation(public, days)
            await enqueue_channel_post(
                session, channel=escalation_channel, text=text, blocks=blocks
            )
    return 1


async def _mark(
    session: AsyncSession, due: list[tuple[Listing, Case]], *, column: str, now: datetime
) -> list[tuple[Listing, Case]]:
    """Mark the due listings' threshold as passed; those still awaiting the platform (one decided
    since it was read is left out)."""
    marked = await mark_listings(
        session, listing_ids=[item.id for item, _ in due if item.id], column=column, when=now
    )
    return [(item, case) for item, case in due if item.id in marked]


async def _remind_portal_notices(rt: Runtime, *, now: datetime) -> int:
    """A reminder in its thread about each portal notice nobody filed within 24 hours."""
    reminded = 0
    async with rt.db.transaction() as session:
        for notice in await notices_awaiting_person(
            session, older_than=now - PORTAL_REMINDER_AFTER
        ):
            assert notice.id is not None
            if not await mark_notice_reminded(session, notice.id, when=now):
                continue
            owner = await get_case(session, notice.case_id)
            assert owner is not None and owner.id is not None
            platform = escape(platform_name(notice.platform))
            text = f"<@{owner.reporter_id}> the {platform} notice of {case_ref(owner.id)} is still waiting to be filed on the platform's form. File it and press *Submitted…* above, or *Could not submit*."
            await enqueue_thread_reply(
                session,
                case_id=owner.id,
                text=f"Reminder: file the {platform} notice",
                blocks=[{"type": "section", "text": mrkdwn(f":alarm_clock: {text}")}],
            )
            reminded += 1
    return reminded


def _by_case(rows: list[tuple[Listing, Case]]) -> list[tuple[Case, list[Listing]]]:
    grouped: dict[int, tuple[Case, list[Listing]]] = {}
    for listing, case in rows:
        assert case.id is not None
        grouped.setdefault(case.id, (case, []))[1].append(listing)
    return list(grouped.values())


def _reminder(case: Case, listings: list[Listing], days: int) -> tuple[str, list[dict[str, Any]]]:
    platforms = sorted({platform_name(item.platform) for item in listings})
    count = len(listings)
    what = f"{count:,} listing{'s' if count != 1 else ''} on {escape(', '.join(platforms))}"
    text = f"<@{case.reporter_id}> {what} still undecided after the {days}-day SLA. Chase the platform or record its decision."
    return f"SLA passed: {count} listings undecided after {days} days", [
        {"type": "section", "text": mrkdwn(f":alarm_clock: {text}")}
    ]


def _escalation(
    cases: list[tuple[Case, list[Listing]]], days: int
) -> tuple[str, list[dict[str, object]]]:
    text = f":rotating_light: *Past twice the {days}-day SLA* — still undecided:"
    shown = 0
    for case, listings in cases[:MAX_ESCALATED_CASES]:
        assert case.id is not None
        where = case_ref(case.id)
        if case.channel_id and case.thread_ts:
            where = f"<{thread_link(case.channel_id, case.thread_ts)}|{where}>"
        platforms = ", ".join(sorted({platform_name(item.platform) for item in listings}))
        line = f"• {where}: {len(listings):,} on {escape_cut(platforms, 400)} (reported by <@{case.reporter_id}>)"
        if len(text) + 1 + len(line) > MAX_ESCALATION_TEXT - 40:  # room for the "… more" line
            break
        text += "\n" + line
        shown += 1
    if len(cases) > shown:
        text += f"\n… and {len(cases) - shown:,} more cases"
    return f"{len(cases)} cases past twice their SLA", [{"type": "section", "text": mrkdwn(text)}]
