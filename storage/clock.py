"""The database's clock, as SQL: the moment every host agrees on.

Lease deadlines, claims, heartbeats and due times are compared with it (`storage.jobs`), so
workers on hosts whose clocks disagree still agree on whose lease has run out and which job is
due. A host's own clock is for what only that host reads.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, func, literal, literal_column


def db_now(postgres: bool, seconds: Any = None) -> Any:
    """The database's clock, plus `seconds` (a number or a bound parameter) when given.

    PostgreSQL's `now()` is the transaction's start. SQLite's `'now'` has milliseconds; three
    zeros make it the text SQLAlchemy stores datetimes as (`2026-06-15 07:00:00.123000`), so the
    two compare as text exactly as the moments do."""
    if seconds is not None and not hasattr(seconds, "type"):
        seconds = literal(float(seconds), Float)
    if postgres:
        now = func.now()
        return now if seconds is None else now + seconds * literal_column("interval '1 second'")
    moment = func.strftime("%Y-%m-%d %H:%M:%f", "now")
    if seconds is not None:
        moment = func.strftime("%Y-%m-%d %H:%M:%f", "now", func.printf("%+.3f seconds", seconds))
    return moment.concat("000")
