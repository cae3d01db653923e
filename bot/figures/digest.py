"""The weekly digest: the last 7 days' figures as one Block Kit message, and a chart.

**The period.** A digest built at `now` covers [now - 7 days, now) in the team's wall-clock time
(`team.timezone`): the same local time a week earlier, converted to UTC with zoneinfo. A week that
crosses a daylight-saving change is 167 or 169 hours long, and consecutive digests tile time with
no gap and no overlap. A start wall time that does not exist (inside a spring-forward gap) is
read with the offset in force before the change. The scheduler passes the scheduled moment as
`now`, so a digest sent late still covers its own week. Every figure is compared with the 7 days
before, computed as of that week's end (the figures last week's digest showed).

The figures themselves are SQL aggregates (`storage.stats.period`, definitions in `storage.stats`).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.config.schema import AppConfig
from bot.core.cases import case_ref, thread_link
from bot.core.states import AWAITING_YOU, ListingStatus
from bot.figures.scorecard import (
    DEFAULT_SLA_DAYS,
    build_scorecard,
    change,
    format_hours,
    format_rate,
    platform_label,
    short_name,
    sla_days_by_platform,
    table,
)
from bot.slack_ui.mail_blocks import sources_line
from bot.slack_ui.mrkdwn import Blocks, context, cut, escape, link_url, mrkdwn, plain
from storage.db import Database
from storage.mail_handling import unread_count, waiting_count
from storage.stats.period import OldListing, PeriodFigures, PlatformFigures, period_figures
from storage.stats.scorecard import PlatformScore
from storage.stats.sources import decisions_by_source

DIGEST_DAYS = 7
MAX_TABLE_ROWS = 20
MAX_CHART_PLATFORMS = 15
MAX_SELLER = 80
MAX_LINKED_URL = 400  # longer listing URLs are shown by key only
STATUS_WORDS: dict[str, str] = {
    ListingStatus.IN_REVIEW: "in review",
    ListingStatus.NEEDS_INFO: "needs info",
    AWAITING_YOU: "awaiting you",
}


@dataclass(frozen=True)
class Digest:
    """One digest: `text` is the notification fallback, `blocks` the message, `chart_png` the
    picture for its thread (None when nothing was reported). Period bounds are aware UTC."""

    text: str
    blocks: Blocks
    chart_png: bytes | None
    period_start: datetime
    period_end: datetime
    figures: PeriodFigures
    previous: PeriodFigures


def digest_period(
    now: datetime, zone: ZoneInfo, *, days: int = DIGEST_DAYS
) -> tuple[datetime, datetime]:
    """[now - `days` days in `zone`'s wall-clock time, now), both as aware UTC datetimes."""
    if now.tzinfo is None:
        raise ValueError("digest_period needs an aware datetime")
    local = now.astimezone(zone)
    start = (local.replace(tzinfo=None) - timedelta(days=days)).replace(tzinfo=zone)
    return start.astimezone(UTC), now.astimezone(UTC)


async def build_digest(
    db: Database, config: AppConfig, *, now: datetime, chart: bool = True
) -> Digest:
    """The digest for the 7 days before `now` (the scheduled moment), with last week's changes.

    `chart=False` skips the picture (an ephemeral answer has nowhere to put it)."""
    zone = config.team.zone
    start, end = digest_period(now, zone)
    previous_start, _ = digest_period(start, zone)
    sla = sla_days_by_platform(config)
    async with db.sessions() as session:
        current = await period_figures(
            session, start=start, end=end, now=end, sla=sla, default_sla=DEFAULT_SLA_DAYS
        )
        previous = await period_figures(
            session,
            start=previous_start,
            end=start,
            now=start,
            sla=sla,
            default_sla=DEFAULT_SLA_DAYS,
        )
        sources = await decisions_by_source(session, since=start, until=end)
        waiting = await waiting_count(session)
        unread = await unread_count(session)
    png = await asyncio.to_thread(render_chart, current, zone=zone) if chart else None
    text, blocks = digest_blocks(current, previous, zone=zone, sla=sla, chart=png is not None)
    # Where this week's decisions came from, and the platforms' emails no case was found for
    # (or kept but not read).
    line = sources_line(sources, waiting=waiting, unread=unread)
    blocks.insert(len(blocks) - 1, {"type": "section", "text": mrkdwn(line)})
    return Digest(
        text=text,
        blocks=blocks,
        chart_png=png,
        period_start=start,
        period_end=end,
        figures=current,
        previous=previous,
    )


async def load_scores(
    db: Database, config: AppConfig, *, now: datetime, since: datetime | None = None
) -> list[PlatformScore]:
    """The platform scorecard's figures (App Home); the same as `bot.figures.scorecard.build_scorecard`."""
    return await build_scorecard(db, config, since=since, now=now)


# -- the message ----------------------------------------------------------------------------------


def digest_blocks(
    current: PeriodFigures,
    previous: PeriodFigures,
    *,
    zone: ZoneInfo,
    sla: Mapping[str, int],
    chart: bool = False,
) -> tuple[str, Blocks]:
    """The digest as one message (fallback text, blocks). Pure: every figure is given.

    Within Slack's limits whatever the data: a handful of blocks, ≤ 10 fields, the platform table
    capped at MAX_TABLE_ROWS rows; every name a user or platform wrote is escaped."""
    total = current.total
    start, end = current.start.astimezone(zone), current.end.astimezone(zone)
    title = f"Takedown digest · {_day(start)} – {_day(end)} {end.year}"
    blocks: Blocks = [
        {"type": "header", "text": plain(title, limit=150)},
        context(
            f"{start:%a} {_day(start)} {start:%H:%M} – {end:%a} {_day(end)} {end:%H:%M} "
            f"{end:%Z} ({escape(zone.key)}) · ▲▼ against the 7 days before"
        ),
        *({"type": "section", "fields": fields} for fields in _headline_fields(current, previous)),
        {"type": "section", "text": mrkdwn(_platform_table(current, previous))},
    ]
    if current.past_sla_total:
        blocks.append({"type": "section", "text": mrkdwn(_past_sla(current, sla))})
    if current.oldest_open:
        blocks.append({"type": "section", "text": mrkdwn(_oldest(current, zone))})
    if current.top_sellers:
        lines = [
            f"{rank}. {escape(cut(item.seller, MAX_SELLER))} — {item.listings:,}"
            for rank, item in enumerate(current.top_sellers, start=1)
        ]
        sellers = _within("*Top sellers* (listings reported)", lines)
        blocks.append({"type": "section", "text": mrkdwn(sellers)})
    notes = [
        "Awaiting you (You): a portal notice's listings nobody has filed on the platform's form "
        "yet; still open: the other undecided ones. "
        "Rate: removed / decided (relisted counts as removed). Times: submission to removal, "
        "nearest-rank median and p90. Relisted: reported again after a removal."
    ]
    if chart:
        notes.append("Chart in the thread.")
    blocks.append(context(" ".join(notes)))

    text = (
        f"Takedown digest {_day(start)} – {_day(end)}: {total.reported:,} listings reported in "
        f"{current.cases:,} cases, {total.removed:,} removed, {total.rejected:,} rejected, "
        f"takedown rate {format_rate(total.takedown_rate)}, {current.past_sla_total:,} past SLA."
    )
    if total.awaiting_you:
        text += f" {total.awaiting_you:,} awaiting you."
    return text, blocks


def _headline_fields(current: PeriodFigures, previous: PeriodFigures) -> list[list[dict[str, Any]]]:
    """The headline figures, each with its change against the week before: where the listings
    stand (a section of 8 fields), then how fast and how well (3; Slack allows 10 a section)."""
    total, before = current.total, previous.total

    def field(label: str, value: str, delta: str) -> dict[str, Any]:
        return mrkdwn(f"*{label}*\n{value}   {delta} vs last week")

    awaiting = total.awaiting_you
    standing = [
        field("Cases reported", f"{current.cases:,}", change(current.cases, previous.cases)),
        field("Listings reported", f"{total.reported:,}", change(total.reported, before.reported)),
        field("Removed", f"{total.removed:,}", change(total.removed, before.removed)),
        field("Rejected", f"{total.rejected:,}", change(total.rejected, before.rejected)),
        field("Needs info", f"{total.needs_info:,}", change(total.needs_info, before.needs_info)),
        field("Awaiting you", f"{awaiting:,}", change(awaiting, before.awaiting_you)),
        field("Still open", f"{total.open:,}", change(total.open, before.open)),
        field("Relisted", f"{total.relisted:,}", change(total.relisted, before.relisted)),
    ]
    pace = [
        field(
            "Takedown rate",
            format_rate(total.takedown_rate),
            change(_percent(total.takedown_rate), _percent(before.takedown_rate), unit=" pp"),
        ),
        field(
            "Time to removal",
            f"median {format_hours(total.median_hours)} · p90 {format_hours(total.p90_hours)}",
            "median " + change(total.median_hours, before.median_hours, unit=" h"),
        ),
        field(
            "Past SLA",
            f"{current.past_sla_total:,}",
            change(current.past_sla_total, previous.past_sla_total),
        ),
    ]
    return [standing, pace]


def _platform_table(current: PeriodFigures, previous: PeriodFigures) -> str:
    before = {item.platform: item for item in previous.platforms}
    now = {item.platform: item for item in current.platforms}
    order = [item.platform for item in current.platforms]
    order += [item.platform for item in previous.platforms if item.platform not in now]
    if not order:
        return "*By platform*\nNo listings reported in this period or the one before."
    empty = PlatformFigures("", 0, 0, 0, 0, 0, 0, 0, None, None, 0)
    rows = []
    for platform in order[:MAX_TABLE_ROWS]:
        item, last = now.get(platform, empty), before.get(platform, empty)
        rows.append(
            [
                short_name(platform),
                f"{item.reported:,}",
                _compact(change(item.reported, last.reported)),
                f"{item.removed:,}",
                f"{item.rejected:,}",
                f"{item.needs_info:,}",
                f"{item.awaiting_you:,}",
                f"{item.open:,}",
                format_rate(item.takedown_rate),
                _compact(change(_percent(item.takedown_rate), _percent(last.takedown_rate))),
                format_hours(item.median_hours),
                format_hours(item.p90_hours),
            ]
        )
    header = [
        "Platform", "Rep", "", "Rem", "Rej", "Info", "You", "Open", "Rate", "", "Median", "p90"
    ]  # fmt: skip
    more = len(order) - MAX_TABLE_ROWS
    tail = f"\n… and {more} more platforms" if more > 0 else ""
    return "*By platform*\n" + table(header, rows) + tail


def _past_sla(current: PeriodFigures, sla: Mapping[str, int]) -> str:
    noun = "listing" if current.past_sla_total == 1 else "listings"
    head = (
        f":alarm_clock: *{current.past_sla_total:,} {noun} past their SLA*, still waiting for the "
        "platform"
    )
    parts = [
        f"{escape(cut(platform_label(platform), 40))} {count:,} "
        f"({sla.get(platform, DEFAULT_SLA_DAYS)} d SLA)"
        for platform, count in sorted(current.past_sla.items(), key=lambda kv: (-kv[1], kv[0]))
    ]
    return _within(head, parts, separator=" · ")


def _oldest(current: PeriodFigures, zone: ZoneInfo) -> str:
    lines = []
    for item in current.oldest_open:
        ref = case_ref(item.case_id)
        if item.channel_id and item.thread_ts:
            ref = f"<{thread_link(item.channel_id, item.thread_ts)}|{ref}>"
        key = escape(cut(item.key, 80))
        url = link_url(item.url)
        listing = f"<{url}|{key}>" if len(url) <= MAX_LINKED_URL else key
        days = (current.now - item.created_at).days
        reported = item.created_at.astimezone(zone)
        lines.append(
            f"• {ref} · {escape(cut(platform_label(item.platform), 40))} · {listing} — "
            f"{_status_words(item)}, reported {_day(reported)} "
            f"{reported.year} ({days:,} day{'s' if days != 1 else ''} ago)"
        )
    return _within("*Oldest open listings*", lines)


def _status_words(item: OldListing) -> str:
    if item.awaiting_you:
        return STATUS_WORDS[AWAITING_YOU]
    return STATUS_WORDS.get(item.status, item.status)


def _within(head: str, items: Sequence[str], *, separator: str = "\n", limit: int = 3000) -> str:
    """`head`, a line break and as many whole `items` as fit in `limit` characters (never cut
    inside one, so no link or escape is left half-written), then `…` if some did not fit."""
    text = head + "\n"
    for n, item in enumerate(items):
        piece = (separator if n else "") + item
        if len(text) + len(piece) + len(separator) + 1 > limit:
            return text + separator + "…"
        text += piece
    return text


def _compact(delta: str) -> str:
    """A change for a table cell: `▲12`, `▼3`, `` for none."""
    return "" if delta in ("±0", "—") else delta.replace(" ", "")


def _percent(rate: float | None) -> float | None:
    return None if rate is None else rate * 100


def _day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


# -- the chart ------------------------------------------------------------------------------------


def render_chart(figures: PeriodFigures, *, zone: ZoneInfo | None = None) -> bytes | None:
    """A PNG of listings reported vs removed per platform (grouped bars); None when nothing was
    reported. Uses matplotlib's Agg canvas on a private Figure: no pyplot, no global state."""
    platforms = [item for item in figures.platforms if item.reported][:MAX_CHART_PLATFORMS]
    if not platforms:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [cut(platform_label(item.platform), 20).replace("$", r"\$") for item in platforms]
    positions = list(range(len(platforms)))
    width = 0.38
    figure = Figure(figsize=(max(6.0, 1.0 + 0.9 * len(platforms)), 3.8), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    reported = axes.bar(
        [x - width / 2 for x in positions],
        [item.reported for item in platforms],
        width,
        label="Reported",
        color="#9aa5b1",
    )
    removed = axes.bar(
        [x + width / 2 for x in positions],
        [item.removed for item in platforms],
        width,
        label="Removed",
        color="#2e7d32",
    )
    axes.bar_label(reported, padding=2, fontsize=8)
    axes.bar_label(removed, padding=2, fontsize=8)
    axes.set_xticks(
        positions,
        names,
        rotation=30 if len(platforms) > 6 else 0,
        ha="right" if len(platforms) > 6 else "center",
    )
    axes.set_ylabel("Listings")
    start = figures.start.astimezone(zone or UTC)
    end = figures.end.astimezone(zone or UTC)
    axes.set_title(f"Reported vs removed by platform, {_day(start)} – {_day(end)} {end.year}")
    axes.spines[["top", "right"]].set_visible(False)
    axes.margins(y=0.15)
    axes.legend(frameon=False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
