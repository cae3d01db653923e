"""Platform OAuth tokens kept in the database for every process (a `TokenStore` for
`bot.adapters.oauth`).

Only grants whose refresh token changes with each use are kept here (Mercado Libre). A refresh
holds the key's lock across processes while it asks the platform, so no two processes spend the
same refresh token: on PostgreSQL a transaction-level advisory lock (released with the
transaction, even if the process dies); on SQLite an exclusive `flock` on a file beside the
database (every process using a SQLite file runs on its machine). The lock is taken without
blocking the event loop and gives up nothing when its task is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from storage.db import Database
from storage.models import OAuthToken, utcnow


@dataclass(frozen=True, slots=True)
class HeldTokens:
    """What is kept for a grant. `seed` fingerprints the configured refresh token: when the
    configuration gives a new one, what was kept for the old one no longer counts."""

    seed: str
    refresh_token: str | None
    access_token: str | None
    good_until: float  # seconds since the epoch


LOCK_SPACE = 0x7E  # advisory-lock namespace (first key) of the OAuth token locks
_POLL = 0.05  # seconds between tries of a SQLite lock file another process holds


class DatabaseTokens:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._local = asyncio.Lock()  # this process's refreshes, one at a time
        database = make_url(db.url).database if not db.is_postgres else None
        self._lock_file = f"{database}-oauth.lock" if database and database != ":memory:" else None

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[None]:
        async with self._local:
            if self.db.is_postgres:
                async with self.db.engine.begin() as conn:
                    await conn.execute(
                        select(func.pg_advisory_xact_lock(LOCK_SPACE, func.hashtext(key)))
                    )
                    yield
                return
            if self._lock_file is None:
                yield
                return
            fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        await asyncio.sleep(_POLL)
                yield
            finally:
                os.close(fd)  # releases the lock

    async def load(self, key: str) -> HeldTokens | None:
        async with self.db.sessions() as session:
            row = await session.get(OAuthToken, key)
        if row is None:
            return None
        return HeldTokens(
            seed=row.seed,
            refresh_token=row.refresh_token,
            access_token=row.access_token,
            good_until=row.good_until.timestamp() if row.good_until else 0.0,
        )

    async def save(self, key: str, held: HeldTokens) -> None:
        good_until = datetime.fromtimestamp(held.good_until, UTC)
        async with self.db.transaction() as session:
            row = await session.get(OAuthToken, key, with_for_update=self.db.is_postgres)
            if row is None:
                row = OAuthToken(key=key, seed=held.seed)
                session.add(row)
            row.seed = held.seed
            row.refresh_token = held.refresh_token
            row.access_token = held.access_token
            row.good_until = good_until
            row.updated_at = utcnow()
