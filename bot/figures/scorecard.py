"""The platform scorecard: per platform, how it answers the team's notices — as a Slack message
and as CSV. The figures come from `storage.stats.scorecard` (definitions in `storage.stats`).

Also the small formatting helpers the digest shares (hours, rates, changes, platform names) and
`sla_days_by_platform`, the SLA mapping both reports pass to the database.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import datetime

from bot.config.schema import AppConfig, PlatformConfig
from bot.core.platforms import PLATFORMS, platform_name
from bot.slack_ui.mail_blocks import sources_line
from bot.slack_ui.mrkdwn import Blocks, context, cut, escape, escape_cut, mrkdwn, plain
from storage.db import Database
from storage.stats.scorecard import PlatformScore, scorecard
from storage.stats.sources import decisions_by_source

MAX_TABLE_ROWS = 25  # keeps a preformatted table well inside a section's 3,000 characters
MAX_TABLE_TEXT = 3000  # a section's text
NAME_WIDTH = 14
DEFAULT_SLA_DAYS = PlatformConfig().sla_days  # a platform app.yaml does not list

CSV_COLUMNS = (
    "platform",
    "name",
    "notices_sent",
    "listings_reported",
    "removed",
    "rejected",
    "takedown_rate",
    "median_hours_to_removal",
    "p90_hours_to_removal",
    "sla_breaches",
    "needed_info",
    "needs_info_share",
)


def sla_days_by_platform(config: AppConfig) -> dict[str, int]:
    """Platform id → SLA days for every known platform (any other gets DEFAULT_SLA_DAYS)."""
    return {platform: config.sla_days(platform) for platform in PLATFORMS}


async def build_scorecard(
    db: Database, config: AppConfig, *, since: datetime | None, now: datetime
) -> list[PlatformScore]:
    """Every platform's record for listings reported since `since` (all time when None)."""
    async with db.sessions() as session:
        return await scorecard(
            session,
            since=since,
            now=now,
            sla=sla_days_by_platform(config),
            default_sla=DEFAULT_SLA_DAYS,
        )


async def decision_sources(
    db: Database, *, since: datetime | None, now: datetime
) -> dict[str, int]:
    """How many decisions since `since` came from the mailbox, from platforms' APIs, from people."""
    async with db.sessions() as session:
        return await decisions_by_source(session, since=since, until=now)


# -- formatting shared with the digest ------------------------------------------------------------


def platform_label(platform: str) -> str:
    """The display name of a platform id; unknown ids as given (not escaped)."""
    return platform_name(platform) if platform else "All platforms"


def format_hours(hours: float | None) -> str:
    """`45 min`, `5.5 h`, `36 h`, `4.5 d`; `—` for no value."""
    if hours is None:
        return "—"
    if hours < 1:
        return f"{round(hours * 60)} min"
    if hours < 10:
        return f"{hours:.1f} h".replace(".0 h", " h")
    if hours < 72:
        return f"{round(hours)} h"
    return f"{hours / 24:.1f} d".replace(".0 d", " d")


def format_rate(rate: float | None) -> str:
    return "—" if rate is None else f"{round(rate * 100)}%"


def change(current: float | None, previous: float | None, *, unit: str = "") -> str:
    """`▲ 12`, `▼ 3 h`, `±0` (or `—` when either side has no value)."""
    if current is None or previous is None:
        return "—"
    diff = current - previous
    if round(diff, 1) == 0:
        return "±0"
    amount = (
        f"{abs(diff):,.0f}" if abs(diff) >= 10 or float(diff).is_integer() else f"{abs(diff):.1f}"
    )
    return f"{'▲' if diff > 0 else '▼'} {amount}{unit}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A fixed-width table in a code block; the first column left-aligned, the rest right.

    Cells are raw text: they are padded first and escaped after, so `&` or `<` in a name does
    not shift the columns (Slack shows `&lt;` as one character)."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return escape("  ".join([first, *rest]).rstrip())

    return "```\n" + "\n".join(line(row) for row in [header, *rows]) + "\n```"


def short_name(platform: str) -> str:
    """A platform's display name for a table cell (raw), at most NAME_WIDTH characters."""
    return cut(platform_label(platform), NAME_WIDTH)


# -- the scorecard --------------------------------------------------------------------------------


def scorecard_blocks(
    scores: Sequence[PlatformScore],
    *,
    since: datetime | None,
    sources: Mapping[str, int] | None = None,
) -> tuple[str, Blocks]:
    """The scorecard as one message: a table of every platform (most listings first); with
    `sources`, a line saying where the decisions came from (`decision_sources`)."""
    scope = f"since {since:%Y-%m-%d}" if since is not None else "all time"
    blocks: Blocks = [
        {"type": "header", "text": plain(f"Platform scorecard ({scope})", limit=150)},
    ]
    if not scores:
        blocks.append({"type": "section", "text": mrkdwn(f"No listings reported {scope}.")})
        return f"Platform scorecard ({scope}): no listings reported.", blocks

    rows = [
        [
            short_name(score.platform),
            f"{score.notices_sent:,}",
            f"{score.reported:,}",
            f"{score.removed:,}/{score.decided:,}",
            format_rate(score.takedown_rate),
            format_hours(score.median_hours),
            format_hours(score.p90_hours),
            f"{score.sla_breaches:,}",
            format_rate(score.needs_info_share),
        ]
        for score in scores[:MAX_TABLE_ROWS]
    ]
    header = ["Platform", "Notices", "Listings", "Removed", "Rate", "Median", "p90", "Late", "Info"]
    while len(rows) > 1 and len(table(header, rows)) > MAX_TABLE_TEXT:
        rows.pop()  # names full of `&` or `<` escape wider: never let Slack's limit cut the table
    blocks.append({"type": "section", "text": mrkdwn(table(header, rows))})
    if len(scores) > len(rows):
        blocks.append(context(f"… and {len(scores) - len(rows)} more platforms in the CSV."))
    blocks.append(
        context(
            "Notices: sent. Removed: of the listings the platform decided (removed or rejected; "
            "relisted counts as removed). Median, p90: submission to removal. Late: decided after "
            "the platform's SLA, or still waiting past it. Info: share of listings the platform "
            "asked more information about."
        )
    )
    if sources is not None:
        blocks.append(context(sources_line(sources)))
    summary = "; ".join(
        f"{escape_cut(platform_label(score.platform), 40)} {format_rate(score.takedown_rate)} "
        "taken down, "
        f"median {format_hours(score.median_hours)}"
        for score in scores[:5]
    )
    return f"Platform scorecard ({scope}): {summary}", blocks


def scorecard_csv(scores: Sequence[PlatformScore]) -> str:
    """The scorecard as CSV (RFC 4180, a header row, one row per platform; empty = no value)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for score in scores:
        writer.writerow(
            [
                score.platform,
                platform_label(score.platform),
                score.notices_sent,
                score.reported,
                score.removed,
                score.rejected,
                _decimal(score.takedown_rate, 4),
                _decimal(score.median_hours, 2),
                _decimal(score.p90_hours, 2),
                score.sla_breaches,
                score.needed_info,
                _decimal(score.needs_info_share, 4),
            ]
        )
    return out.getvalue()


def _decimal(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"
