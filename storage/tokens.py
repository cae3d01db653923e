"""Platform OAuth tokens kept in the database for every process (a `TokenStore` for
`bot.delivery.adapters.oauth`).

Only grants whose refresh token changes with each use are kept here (Mercado Libre). A refresh
holds the grant's lock across processes while it asks the platform, so no two processes spend the
same refresh token:
- PostgreSQL: a transaction-level advisory lock, and the tokens read and written in that same
  transaction: the commit keeps the new tokens and releases the lock in one step, and a lock lost
  with its connection makes the save fail instead of letting another process in unnoticed;
- SQLite: an exclusive `flock` on a file beside the database (every process using a SQLite file
  runs on its machine), tried without blocking the event loop, given up after LOCK_WAIT; the
  tokens are read without the write lock and written in one short transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from storage.db import Database
from storage.models import OAuthToken, utcnow

LOCK_SPACE = 0x7E  # advisory-lock namespace (first key) of the OAuth token locks
LOCK_WAIT = 60.0  # seconds to wait for another process's refresh (SQLite lock file)
_POLL = 0.05  # seconds between tries of a lock file another process holds
TOKENS = OAuthToken.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class HeldTokens:
    """What is kept for a grant. `seed` fingerprints the configured refresh token: when the
    configuration gives a new one, what was kept for the old one no longer counts."""

    seed: str
    refresh_token: str | None
    access_token: str | None
    good_until: float  # seconds since the epoch


def _held(row: Any) -> HeldTokens | None:
    if row is None:
        return None
    return HeldTokens(
        seed=row.seed,
        refresh_token=row.refresh_token,
        access_token=row.access_token,
        good_until=row.good_until.timestamp() if row.good_until else 0.0,
    )


def _values(key: str, held: HeldTokens) -> dict[str, Any]:
    return {
        "key": key,
        "seed": held.seed,
        "refresh_token": held.refresh_token,
        "access_token": held.access_token,
        "good_until": datetime.fromtimestamp(held.good_until, UTC),
        "updated_at": utcnow(),
    }


class _PostgresSlot:
    """Reads and writes in the transaction that holds the lock."""

    def __init__(self, conn: AsyncConnection, key: str) -> None:
        self._conn, self._key = conn, key

    async def load(self) -> HeldTokens | None:
        found = await self._conn.execute(select(TOKENS).where(TOKENS.c.key == self._key))
        return _held(found.first())

    async def save(self, held: HeldTokens) -> None:
        values = _values(self._key, held)
        statement = pg_insert(TOKENS).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[TOKENS.c.key],
            set_={name: statement.excluded[name] for name in values if name != "key"},
        )
        await self._conn.execute(statement)


class _SqliteSlot:
    def __init__(self, db: Database, key: str) -> None:
        self._db, self._key = db, key

    async def load(self) -> HeldTokens | None:
        async with self._db.reading() as session:
            found = await session.execute(select(TOKENS).where(TOKENS.c.key == self._key))
            return _held(found.first())

    async def save(self, held: HeldTokens) -> None:
        async with self._db.transaction() as session:
            row = await session.get(OAuthToken, self._key)
            if row is None:
                session.add(OAuthToken(**_values(self._key, held)))
                return
            for name, value in _values(self._key, held).items():
                setattr(row, name, value)


class DatabaseTokens:
    """The `TokenStore` of a database: `exclusive(key)` holds the grant's lock and gives the slot
    its tokens are read and written through."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._local = asyncio.Lock()  # this process's refreshes, one at a time
        database = make_url(db.url).database if not db.is_postgres else None
        self._lock_file = (
            f"{os.path.abspath(database)}-oauth.lock"
            if database and database != ":memory:"
            else None
        )

    @contextlib.asynccontextmanager
    async def exclusive(self, key: str) -> AsyncIterator[_PostgresSlot | _SqliteSlot]:
        async with self._local:
            if self.db.is_postgres:
                async with self.db.engine.begin() as conn:
                    await conn.execute(
                        select(func.pg_advisory_xact_lock(LOCK_SPACE, func.hashtext(key)))
                    )
                    yield _PostgresSlot(conn, key)
                return
            if self._lock_file is None:
                yield _SqliteSlot(self.db, key)
                return
            import fcntl  # POSIX; SQLite's processes share a machine

            fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                deadline = time.monotonic() + LOCK_WAIT
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise TimeoutError(
                                f"another process held {self._lock_file} for {LOCK_WAIT:g} s"
                            ) from None
                        await asyncio.sleep(_POLL)
                yield _SqliteSlot(self.db, key)
            finally:
                os.close(fd)  # releases the lock
