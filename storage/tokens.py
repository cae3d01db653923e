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

With a `TokenCipher` (the caller's: storage holds no key), the tokens are kept encrypted, marked
`sealed:`. Tokens kept in plain text before a cipher was given, or sealed with a key that no
longer seals (a rotation), are sealed anew when next read, under the grant's lock. Tokens that
cannot be decrypted raise `TokensUnreadable`, which names the grant and its seed, so the caller
can tell tokens kept for a refresh token it no longer uses (replace them) from its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

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
SEALED = "sealed:"  # the mark of an encrypted value


class TokenCipher(Protocol):
    """What encrypts the tokens kept (the caller's keys; storage never sees them)."""

    def seal(self, plain: str) -> str:
        """`plain`, encrypted with the key that encrypts now."""
        ...

    def unseal(self, sealed: str) -> str:
        """What `seal` gave; ValueError when no key decrypts it."""
        ...

    def is_current(self, sealed: str) -> bool:
        """Whether `sealed` was sealed with the key that seals now (else: seal it again)."""
        ...


class TokensUnreadable(Exception):
    """The tokens kept for `key` are encrypted and cannot be decrypted (`reason`)."""

    def __init__(self, key: str, seed: str, reason: str) -> None:
        super().__init__(f"the OAuth tokens kept for {key} cannot be decrypted: {reason}")
        self.key, self.seed, self.reason = key, seed, reason


@dataclass(frozen=True, slots=True)
class HeldTokens:
    """What is kept for a grant. `seed` fingerprints the configured refresh token: when the
    configuration gives a new one, what was kept for the old one no longer counts."""

    seed: str
    refresh_token: str | None
    access_token: str | None
    good_until: float  # seconds since the epoch


def _open(value: str | None, cipher: TokenCipher | None, row: Any) -> tuple[str | None, bool]:
    """A kept value as plain text, and whether it should be sealed (again)."""
    if value is None:
        return None, False
    if not value.startswith(SEALED):
        return value, cipher is not None  # kept before a key was given
    if cipher is None:
        raise TokensUnreadable(row.key, row.seed, "they are encrypted, and no key was given")
    sealed = value.removeprefix(SEALED)
    try:
        plain = cipher.unseal(sealed)
    except ValueError:
        raise TokensUnreadable(row.key, row.seed, "none of the keys given decrypts them") from None
    return plain, not cipher.is_current(sealed)


def _held(row: Any, cipher: TokenCipher | None) -> tuple[HeldTokens | None, bool]:
    """The row's tokens, and whether they should be written again (sealed with the current key)."""
    if row is None:
        return None, False
    refresh, stale_refresh = _open(row.refresh_token, cipher, row)
    access, stale_access = _open(row.access_token, cipher, row)
    held = HeldTokens(
        seed=row.seed,
        refresh_token=refresh,
        access_token=access,
        good_until=row.good_until.timestamp() if row.good_until else 0.0,
    )
    return held, stale_refresh or stale_access


def _values(key: str, held: HeldTokens, cipher: TokenCipher | None) -> dict[str, Any]:
    def kept(value: str | None) -> str | None:
        if value is None or cipher is None:
            return value
        return SEALED + cipher.seal(value)

    return {
        "key": key,
        "seed": held.seed,
        "refresh_token": kept(held.refresh_token),
        "access_token": kept(held.access_token),
        "good_until": datetime.fromtimestamp(held.good_until, UTC),
        "updated_at": utcnow(),
    }


class _PostgresSlot:
    """Reads and writes in the transaction that holds the lock."""

    def __init__(self, conn: AsyncConnection, key: str, cipher: TokenCipher | None) -> None:
        self._conn, self._key, self._cipher = conn, key, cipher

    async def load(self) -> HeldTokens | None:
        found = await self._conn.execute(select(TOKENS).where(TOKENS.c.key == self._key))
        held, reseal = _held(found.first(), self._cipher)
        if held is not None and reseal:
            await self.save(held)
        return held

    async def save(self, held: HeldTokens) -> None:
        values = _values(self._key, held, self._cipher)
        statement = pg_insert(TOKENS).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=[TOKENS.c.key],
            set_={name: statement.excluded[name] for name in values if name != "key"},
        )
        await self._conn.execute(statement)


class _SqliteSlot:
    def __init__(self, db: Database, key: str, cipher: TokenCipher | None) -> None:
        self._db, self._key, self._cipher = db, key, cipher

    async def load(self) -> HeldTokens | None:
        async with self._db.reading() as session:
            found = await session.execute(select(TOKENS).where(TOKENS.c.key == self._key))
            held, reseal = _held(found.first(), self._cipher)
        if held is not None and reseal:
            await self.save(held)
        return held

    async def save(self, held: HeldTokens) -> None:
        values = _values(self._key, held, self._cipher)
        async with self._db.transaction() as session:
            row = await session.get(OAuthToken, self._key)
            if row is None:
                session.add(OAuthToken(**values))
                return
            for name, value in values.items():
                setattr(row, name, value)


class DatabaseTokens:
    """The `TokenStore` of a database: `exclusive(key)` holds the grant's lock and gives the slot
    its tokens are read and written through."""

    def __init__(self, db: Database, *, cipher: TokenCipher | None = None) -> None:
        self.db = db
        self.cipher = cipher  # None: kept in plain text
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
                    yield _PostgresSlot(conn, key, self.cipher)
                return
            if self._lock_file is None:
                yield _SqliteSlot(self.db, key, self.cipher)
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
                yield _SqliteSlot(self.db, key, self.cipher)
            finally:
                os.close(fd)  # releases the lock


@dataclass(frozen=True, slots=True)
class KeptTokens:
    """What `check_kept_tokens` found for one grant."""

    key: str
    state: Literal["plain", "encrypted", "older key", "unreadable"]
    problem: str | None = None  # why it cannot be read


async def check_kept_tokens(db: Database, cipher: TokenCipher | None) -> list[KeptTokens]:
    """Whether every grant's kept tokens can be read with `cipher` (`check-config`); changes
    nothing."""
    async with db.reading() as session:
        rows = (await session.execute(select(TOKENS).order_by(TOKENS.c.key))).all()
    found: list[KeptTokens] = []
    for row in rows:
        values = [v for v in (row.refresh_token, row.access_token) if v is not None]
        try:
            _, reseal = _held(row, cipher)
        except TokensUnreadable as exc:
            found.append(KeptTokens(row.key, "unreadable", exc.reason))
            continue
        if not any(value.startswith(SEALED) for value in values):
            found.append(KeptTokens(row.key, "plain"))
        else:
            found.append(KeptTokens(row.key, "older key" if reseal else "encrypted"))
    return found
