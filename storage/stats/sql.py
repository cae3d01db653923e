"""The SQL the figures need that SQLite and PostgreSQL spell differently, and small shared pieces."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, cast, func, literal, literal_column, text
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from storage.models import UTCDateTime


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970-01-01 UTC of a timestamp column (fraction truncated)."""

    type = BigInteger()
    name = "epoch_seconds"
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps naive UTC text ('YYYY-MM-DD HH:MM:SS.ffffff'); strftime('%s') reads it as UTC.
    (arg,) = element.clauses
    return compiler.process(cast(func.strftime("%s", arg), Integer), **kw)


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() is float8, EXTRACT numeric: the same whole second, at a fraction of the cost
    # over a million rows. The float is the microsecond count divided by 10^6, rounded once; a
    # fraction is at most .999999, 10^-6 below the next second, far more than that rounding can
    # move it before the year 2200, so floor() gives the same second as the exact value.
    (arg,) = element.clauses
    return compiler.process(cast(func.floor(func.date_part("epoch", arg)), BigInteger), **kw)


class json_text(FunctionElement[str]):
    """A top-level key of a JSON column as text: `column ->> 'key'` on PostgreSQL,
    `json_extract(column, '$.key')` on SQLite. The key is written into the SQL (it is one of
    ours, checked below), so a partial index on the same expression can serve the query."""

    type = String()
    name = "json_text"
    inherit_cache = True

    def __init__(self, column: Any, key: str) -> None:
        if not key.isidentifier():
            raise ValueError(f"unexpected JSON key {key!r}")
        super().__init__(col(column), literal_column(f"'{key}'"))


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = element.clauses
    path = "'$." + compiler.process(key, **kw).strip("'") + "'"
    return f"json_extract({compiler.process(column, **kw)}, {path})"


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column, key = element.clauses
    return f"({compiler.process(column, **kw)} ->> {compiler.process(key, **kw)})"


def timestamp(value: datetime) -> ColumnElement[datetime]:
    """A bound timestamp stored the way the columns store theirs (naive UTC text on SQLite)."""
    return literal(value, UTCDateTime())


def to_hours(seconds: int | None) -> float | None:
    return None if seconds is None else seconds / 3600


def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(sql_case((condition, 1), else_=0)), 0)


# p → the fraction `percentile_disc` is given. PostgreSQL takes the row at ceil(fraction · n) in
# float8; for these two that is exactly ceil(p · n / 100) for every n (0.5 is exact; the float
# nearest 0.9 exceeds it by less than the product's rounding can show). Another percentile needs
# the same check before it is added here.
NEAREST_RANK_FRACTIONS = {50: 0.5, 90: 0.9}


def nearest_rank(seconds: ColumnElement[int], percent: int) -> ColumnElement[int]:
    """PostgreSQL: the nearest-rank `percent`-th percentile of `seconds` in a group."""
    return func.percentile_disc(NEAREST_RANK_FRACTIONS[percent]).within_group(seconds)


async def no_jit(session: AsyncSession) -> None:
    """PostgreSQL: no JIT compilation for these statements (this transaction only). Their cost
    estimates sit near `jit_above_cost` at a million listings; past it, compiling adds about 0.3 s
    and saves nothing on scans this simple."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))
