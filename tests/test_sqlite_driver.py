"""The SQLite connections (storage/sqlite_driver.py) on real SQLite files, through the engine.

A statement makes one trip to aiosqlite's thread; results longer than a trip's step are read in
steps (streamed, fetched in part or whole) and give every row once, in order."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from storage import sqlite_driver
from storage.db import Database


@pytest.fixture
async def sqlite(tmp_path: Path) -> Any:
    db = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
    yield db
    await db.dispose()


async def _fill(db: Database, count: int) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO t (id, name) VALUES (:id, :name)"),
            [{"id": n, "name": f"n{n}"} for n in range(1, count + 1)],
        )


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The calls sent to the connections' threads, by function name."""
    seen: list[str] = []
    original = sqlite_driver.Connection._execute

    async def counted(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.Connection, "_execute", counted)
    return seen


async def test_the_engine_uses_the_one_trip_connections(sqlite: Database) -> None:
    async with sqlite.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_driver.Connection)


async def test_a_statement_costs_one_trip_to_the_thread(sqlite: Database, trips: list[str]) -> None:
    await _fill(sqlite, 3)
    async with sqlite.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))  # the transaction's BEGIN is a statement of its own
        trips.clear()
        rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
        assert [tuple(row) for row in rows] == [(1, "n1"), (2, "n2"), (3, "n3")]
        assert trips == ["_run"]
        trips.clear()
        result = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 1"))
        assert result.rowcount == 2
        assert trips == ["_run"]
        trips.clear()
        returned = await conn.execute(text("DELETE FROM t WHERE id = 3 RETURNING id, name"))
        assert [tuple(row) for row in returned] == [(3, "n3!")]
        assert trips == ["_run"]
        await conn.rollback()


async def test_long_results_are_read_in_steps_and_whole(sqlite: Database, trips: list[str]) -> None:
    count = sqlite_driver.STEP * 3 + 7
    await _fill(sqlite, count)
    async with sqlite.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
        trips.clear()
        rows = (await conn.execute(text("SELECT id FROM t ORDER BY id"))).scalars().all()
        assert rows == list(range(1, count + 1))
        assert trips == ["_run", "_more"]  # the first step, then the rest at once
        trips.clear()
        streamed: list[int] = []
        result = await conn.stream(text("SELECT id FROM t ORDER BY id"))
        async for part in result.scalars().partitions(100):
            streamed.extend(part)
        assert streamed == list(range(1, count + 1))
        assert trips.count("_more") >= 3, trips  # streamed in steps, not all at once
        result = await conn.stream(text("SELECT id FROM t ORDER BY id"))
        trips.clear()
        assert (await result.scalars().first()) == 1
        assert "close" in trips  # what it left unread was closed on the thread
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == count


async def test_a_result_of_exactly_one_step(sqlite: Database) -> None:
    await _fill(sqlite, sqlite_driver.STEP)
    async with sqlite.engine.connect() as conn:
        rows = (await conn.execute(text("SELECT id FROM t ORDER BY id"))).scalars().all()
    assert rows == list(range(1, sqlite_driver.STEP + 1))


async def test_errors_come_back_as_sqlites_and_the_connection_goes_on(sqlite: Database) -> None:
    await _fill(sqlite, 1)
    with pytest.raises(IntegrityError) as raised:
        async with sqlite.engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (id, name) VALUES (2, 'n1')"))
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)
    async with sqlite.transaction() as session:
        await session.execute(text("INSERT INTO t (id, name) VALUES (2, 'n2')"))
    async with sqlite.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar() == 2


async def test_a_memory_database_keeps_aiosqlites_own_connection() -> None:
    db = Database("sqlite:///:memory:")
    try:
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            assert not isinstance(raw.driver_connection, sqlite_driver.Connection)
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.dispose()
