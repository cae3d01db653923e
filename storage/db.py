"""The async engine: SQLite (aiosqlite, WAL) by default, PostgreSQL (asyncpg) for production.

`Database` owns one engine and its session factory; nothing here is module-level, so tests and the
shell can open as many databases as they need. Schema changes go through Alembic (`migrate`), and
`schema_status` tells `serve` whether it may start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver

MIGRATIONS = Path(__file__).parent / "migrations"
_READ_ONLY = "takedown_read_only"  # execution option: a transaction that only reads
_writing: ContextVar[bool] = ContextVar("takedown_sqlite_writing", default=False)


class DatabaseError(Exception):
    """The database cannot be used as it is; the message says what to do."""


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str

    @property
    def ok(self) -> bool:
        return self.current == self.head

    def problem(self) -> str | None:
        if self.ok:
            return None
        if self.current is None:
            return "the database has no schema yet: run `takedown-bot migrate`"
        return (
            f"the database schema is at {self.current}, this version needs {self.head}: "
            "run `takedown-bot migrate`"
        )


def normalise_url(url: str) -> str:
    """Accept the usual spellings (`postgresql://`, `postgres://`, `sqlite:///`) and pick async drivers."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif parsed.drivername in ("sqlite", "sqlite+pysqlite"):
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    return parsed.render_as_string(hide_password=False)


class Database:
    """One engine and its sessions."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int = 20,
        pool_timeout: float = 30.0,
        connect_timeout: float = 10.0,
        busy_timeout_ms: int = 15000,
    ) -> None:
        self.url = normalise_url(url)
        parsed = make_url(self.url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                private_sqlite_file(Path(parsed.database))
            if parsed.database and parsed.database != ":memory:" and not parsed.query:
                # One trip to aiosqlite's thread per statement (storage/sqlite_driver.py). A
                # local file does not drop its connections, so there is nothing to pre-ping.
                kwargs["async_creator"] = functools.partial(
                    sqlite_driver.connect,
                    os.path.abspath(parsed.database),  # as SQLAlchemy's own connect does
                    timeout=busy_timeout_ms / 1000,
                    check_same_thread=False,
                )
            else:
                kwargs["connect_args"] = {"timeout": busy_timeout_ms / 1000}
        elif self.dialect == "postgresql":
            kwargs.update(
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_timeout=pool_timeout,
                connect_args={"timeout": connect_timeout, "command_timeout": 60},
            )
        else:
            raise DatabaseError(
                f"unsupported database {parsed.drivername!r}: use sqlite or postgresql"
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_pragmas(self.engine, busy_timeout_ms)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writer = asyncio.Lock()  # SQLite: this process's writers, one at a time
        # Sessions that only read: on SQLite they begin DEFERRED, so they do not queue behind
        # (or hold up) writers; a write in one would fail. The same pool and connections.
        self._reads = async_sessionmaker(
            self.engine.execution_options(**{_READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error.

        On SQLite, one writer at a time: this process's writers queue on a lock, woken the moment
        the previous one commits, rather than on SQLite's busy handler, which sleeps in steps of
        up to 100 ms however soon the database is free (other processes still meet the busy
        timeout). A transaction opened inside another of the same task does not queue again."""
        if self.dialect != "sqlite" or _writing.get():
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._writer:
            token = _writing.set(True)
            try:
                async with self.sessions() as session, session.begin():
                    yield session
            finally:
                _writing.reset(token)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only (the worker's batched loads)."""
        async with self._reads() as session:
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def schema_status(self) -> SchemaStatus:
        head = ScriptDirectory.from_config(_alembic_config(self.url)).get_current_head()
        assert head is not None

        def current(conn: Connection) -> str | None:
            return MigrationContext.configure(conn).get_current_revision()

        async with self.engine.connect() as conn:
            return SchemaStatus(current=await conn.run_sync(current), head=head)

    async def require_schema(self) -> None:
        """Raise DatabaseError unless the schema is at this version's head."""
        problem = (await self.schema_status()).problem()
        if problem:
            raise DatabaseError(problem)

    async def migrate(self, revision: str = "head") -> None:
        """Apply the Alembic migrations up to `revision`."""
        config = _alembic_config(self.url)

        def upgrade(conn: Connection) -> None:
            config.attributes["connection"] = conn
            command.upgrade(config, revision)

        async with self.engine.begin() as conn:
            await conn.run_sync(upgrade)

    async def dispose(self) -> None:
        await self.engine.dispose()


# What SQLite keeps beside a database file, and our lock file (storage/tokens.py): each holds
# the database's pages or sits beside them. SQLite creates its own with the database file's mode.
_COMPANIONS = ("-wal", "-shm", "-journal", "-oauth.lock")


def private_sqlite_file(path: Path) -> None:
    """Make the SQLite database at `path` its owner's alone, before SQLite opens it: directories
    it creates 0700, the file 0600 (an empty file is an empty database), so its `-wal` and `-shm`
    files, which SQLite creates with the database's mode, are 0600 too. A file that exists
    already and that this user owns loses any group or other permission, as do its companions;
    a directory that exists is left as it is (it may be shared, like the working directory)."""
    if str(path).startswith("file:"):
        return  # a URI: SQLite resolves it, and its options say how to open it
    for directory in reversed([*path.parents]):
        if not directory.exists():
            with contextlib.suppress(FileExistsError):
                directory.mkdir(mode=0o700)
                directory.chmod(0o700)  # whatever the umask
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, *(path.with_name(path.name + suffix) for suffix in _COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            status = file.stat()
            if status.st_uid == os.getuid() and status.st_mode & 0o077:
                file.chmod(stat.S_IMODE(status.st_mode) & 0o700)


def _alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _sqlite_pragmas(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves, so every transaction takes the write lock up front:
        # SQLite's single writer then queues on busy_timeout instead of failing to upgrade a lock.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
