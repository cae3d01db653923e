"""`since`: the first day a figure counts, as a person writes it (`2026-11-01`), in the team's
time zone. Shared by the command line (`--since`) and the slash command."""

from __future__ import annotations

from datetime import date, datetime, time

from bot.config.schema import AppConfig


class BadSince(ValueError):
    """A `since` that is not a date the figures can start from; the message says why."""


EARLIEST_SINCE = date(1970, 1, 1)  # nothing the bot stores is older; earlier years overflow UTC


def read_since(
    text: str | None, config: AppConfig, *, today: date | None = None
) -> datetime | None:
    """`2026-11-01` → that day's start in the team's time zone. A day before 1970-01-01 or after
    `today` (the team's today, by default) is refused: it cannot hold a takedown, and the year 1
    or 9999 does not even convert to UTC."""
    if not text:
        return None
    try:
        day = datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise BadSince(f"--since {text!r}: expected a date such as 2026-11-01") from None
    zone = config.team.zone
    last = today or datetime.now(zone).date()
    if not EARLIEST_SINCE <= day <= last:
        raise BadSince(
            f"--since {text!r}: expected a date from {EARLIEST_SINCE.isoformat()} "
            f"to today ({last.isoformat()})"
        )
    return datetime.combine(day, time.min, tzinfo=zone)
