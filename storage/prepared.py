"""Statements built once and reused: the worker's hot path.

Building a SQLAlchemy statement (coercing every operand) and computing its cache key cost more
CPU than running the statement does; on the worker's hot path that was a quarter of its time.
`built(key, build)` builds a statement the first time its shape (`key`) is asked for, with a bind
parameter for every value, and hands back the same object afterwards, whose cache key SQLAlchemy
then keeps. Statements are immutable, so sharing them is safe.

Also here: the bound on IN lists every module batches by, and the by-id reads they share.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, bindparam, select

from storage.models import Case, Event, Job, Listing, Notice

T = TypeVar("T")

_BUILT: dict[Hashable, Any] = {}

# The tables' own columns: cheaper to build with than the ORM's instrumented attributes.
CASES: Table = Case.__table__  # type: ignore[attr-defined]
LISTINGS: Table = Listing.__table__  # type: ignore[attr-defined]
NOTICES: Table = Notice.__table__  # type: ignore[attr-defined]
EVENTS: Table = Event.__table__  # type: ignore[attr-defined]
JOBS: Table = Job.__table__  # type: ignore[attr-defined]


def built(key: Hashable, build: Callable[[], T]) -> T:
    """The statement of this shape, built on first use."""
    statement = _BUILT.get(key)
    if statement is None:
        statement = _BUILT[key] = build()
    return statement


# SQLite allows 32,766 bound parameters per statement; stay well below on every database.
IN_CHUNK = 900


def chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    """`items` in slices of at most IN_CHUNK, one statement each."""
    for start in range(0, len(items), IN_CHUNK):
        yield items[start : start + IN_CHUNK]


def few(ids: Sequence[int]) -> list[int]:
    """Distinct ids for one IN list (callers batch at most a few hundred)."""
    unique = list(dict.fromkeys(ids))
    if len(unique) > IN_CHUNK:
        raise ValueError(f"at most {IN_CHUNK} ids per batch, got {len(unique)}")
    return unique


def by_ids(model: type[Any]) -> Any:
    """SELECT model WHERE id IN :ids (built once per model)."""
    return built(
        ("by_ids", model.__name__),
        lambda: select(model).where(model.id.in_(bindparam("ids", expanding=True))),
    )
