"""SQLite connections for the async engine: aiosqlite's thread, one trip per statement.

aiosqlite runs each call on the connection's own thread, and SQLAlchemy's adapter makes four
calls for a statement (open a cursor, execute, fetch the rows, close the cursor): four trips from
the event loop to that thread and back, each a wake-up of both. SQLite answers our statements in
microseconds, so the trips were most of their cost (a worker spent more CPU in them than in
SQLite). Here a cursor makes one trip: execute, the first rows and the figures (description,
rowcount, lastrowid) come back together, and the cursor is closed on the way when that was all.
A longer result stays open on the thread and is read in steps, so streamed reads (the CSV
export) still hold only a step of rows.

SQLAlchemy connects through `connect` (its documented `async_creator`); everything else is
aiosqlite's connection and SQLAlchemy's adapter as they are.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite

STEP = 256  # rows a trip brings back


def _run(
    conn: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> tuple[Any, list[Any], int, int | None, sqlite3.Cursor | None]:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, parameters)
        rows = cursor.fetchmany(STEP) if cursor.description else []
    except BaseException:
        cursor.close()
        raise
    exhausted = cursor.description is None or len(rows) < STEP
    figures = (cursor.description, rows, cursor.rowcount, cursor.lastrowid)
    if exhausted:
        cursor.close()
        return (*figures, None)
    return (*figures, cursor)


def _more(cursor: sqlite3.Cursor, size: int | None) -> tuple[list[Any], int, bool]:
    rows = cursor.fetchall() if size is None else cursor.fetchmany(size)
    exhausted = size is None or len(rows) < size
    if exhausted:
        cursor.close()
    return rows, cursor.rowcount, exhausted


class Cursor:
    """The part of aiosqlite's cursor SQLAlchemy's adapter uses."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._open: sqlite3.Cursor | None = None  # a result longer than one step
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _start(self, sql: str, parameters: Any, many: bool) -> Cursor:
        await self.close()
        (
            self.description,
            self._rows,
            self.rowcount,
            self.lastrowid,
            self._open,
        ) = await self._connection._execute(
            _run, self._connection._conn, sql, () if parameters is None else parameters, many
        )
        return self

    async def execute(self, sql: str, parameters: Any = None) -> Cursor:
        return await self._start(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Sequence[Any]) -> Cursor:
        return await self._start(sql, parameters, True)

    async def _fetch(self, size: int | None) -> list[Any]:
        """Up to `size` rows (all when None): the buffered ones first, then from the thread."""
        wanted = len(self._rows) if size is None else size
        if self._open is not None and (size is None or len(self._rows) < size):
            more, self.rowcount, exhausted = await self._connection._execute(
                _more, self._open, None if size is None else max(size - len(self._rows), STEP)
            )
            if exhausted:
                self._open = None
            self._rows.extend(more)
            wanted = len(self._rows) if size is None else size
        rows, self._rows = self._rows[:wanted], self._rows[wanted:]
        return rows

    async def fetchall(self) -> list[Any]:
        return await self._fetch(None)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return await self._fetch(self.arraysize if size is None else size)

    async def fetchone(self) -> Any:
        rows = await self._fetch(1)
        return rows[0] if rows else None

    async def close(self) -> None:
        self._rows = []
        if self._open is not None:
            cursor, self._open = self._open, None
            await self._connection._execute(cursor.close)


class Connection(aiosqlite.Connection):
    def cursor(self) -> Cursor:  # type: ignore[override]
        return Cursor(self)


async def connect(database: str, **kwargs: Any) -> Connection:
    """An open connection to `database` (sqlite3.connect's keyword arguments)."""
    connection = Connection(lambda: sqlite3.connect(database, **kwargs), 64)
    connection._thread.daemon = True  # as SQLAlchemy does: an unclosed connection cannot hang exit
    await connection  # starts the thread, which opens the file
    return connection
