"""The job queue's statements, each built once (`storage.prepared.built`) and run by
`storage.jobs`: inserting a job, claiming due jobs, finishing them, purging old ones.

Only `storage.jobs` uses them; together the two modules hold every statement over `jobs`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    String,
    and_,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.clock import db_now
from storage.prepared import JOBS

QUEUED, RUNNING, DONE, DEAD = "queued", "running", "done", "dead"
SERIAL_LOCK_SPACE = 0x7D  # advisory-lock namespace (first key) of the serial-key locks


def insert_job(
    dialect: str, *, locked: bool, dedupe: bool, timed: bool, returning: bool = True
) -> Any:
    """The insert of a job row; unless `timed` (a `run_at` given), it is due `delay_seconds`
    after the database's clock."""
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    postgres = dialect == "postgresql"
    names = [name for name in JOB_VALUES]

    def value(name: str) -> Any:
        if name == "run_at" and not timed:
            return db_now(postgres, bindparam("delay_seconds", type_=Float))
        return bindparam(name, type_=JOBS.c[name].type)

    if locked:
        # A serial key's jobs run in id order, so their ids must follow commit order. PostgreSQL
        # hands out an id at insert time: a transaction holding a smaller id that commits later
        # would have its job claimed after (and alongside) a later one. A transaction-level
        # advisory lock on the key, taken in the same statement before the row (and its id) is
        # made, makes the next enqueuer of the key take its id after this commit.
        # (SQLite needs none: BEGIN IMMEDIATE already serialises writers.)
        lock = select(
            func.pg_advisory_xact_lock(
                SERIAL_LOCK_SPACE, func.hashtext(bindparam("serial_key", type_=String))
            ).label("held")
        ).subquery("serial_lock")
        row = select(*(value(name) for name in names))
        statement = insert(JOBS).from_select(names, row.select_from(lock))
    else:
        statement = insert(JOBS).values({name: value(name) for name in names})
    if dedupe:
        statement = statement.on_conflict_do_nothing(index_elements=["dedupe_key"])
    return statement.returning(JOBS.c.id) if returning else statement


JOB_VALUES = (
    "kind",
    "payload",
    "state",
    "run_at",
    "attempts",
    "max_attempts",
    "serial_key",
    "dedupe_key",
    "created_at",
    "updated_at",
)


def claim_due(part: str, *, postgres: bool, by_kind: bool) -> Any:
    """Lease the first due jobs of one part: `expired` leases, or `queued` jobs in order."""
    c = JOBS.c
    now = db_now(postgres)
    if part == "expired":
        due, order = and_(c.state == RUNNING, c.lease_expires_at < now), (c.lease_expires_at, c.id)
    else:
        due, order = and_(c.state == QUEUED, c.run_at <= now), (c.run_at, c.id)
    earlier = JOBS.alias("earlier")
    blocked = exists().where(
        earlier.c.serial_key == c.serial_key,
        earlier.c.id < c.id,
        earlier.c.state.in_((QUEUED, RUNNING)),
    )
    candidates = (
        select(c.id)
        .where(due, or_(c.serial_key.is_(None), ~blocked))
        .order_by(*order)
        .limit(bindparam("limit", type_=Integer))
    )
    if by_kind:
        candidates = candidates.where(c.kind.in_(bindparam("kinds", expanding=True)))
    if postgres:
        candidates = candidates.with_for_update(skip_locked=True, of=JOBS)
    return (
        update(JOBS)
        .where(c.id.in_(candidates.scalar_subquery()))
        .values(
            state=RUNNING,
            lease_owner=bindparam("owner"),
            lease_expires_at=db_now(postgres, bindparam("lease_seconds", type_=Float)),
            attempts=c.attempts + 1,
            updated_at=now,
        )
        .returning(c.id, c.kind, c.payload, c.attempts, c.max_attempts, c.serial_key, c.created_at)
    )


def finish(many: bool, *, postgres: bool) -> Any:
    """Mark `owner`'s running job(s) done; with `many`, returning the ids marked."""
    c = JOBS.c
    which = c.id.in_(bindparam("ids", expanding=True)) if many else c.id == bindparam("job_id")
    statement = (
        update(JOBS)
        .where(which, c.state == RUNNING, c.lease_owner == bindparam("owner"))
        .values(
            state=DONE,
            lease_owner=None,
            lease_expires_at=None,
            last_error=None,
            updated_at=db_now(postgres),
        )
    )
    return statement.returning(c.id) if many else statement


def purge_done() -> Any:
    """Delete up to `batch` jobs of `kinds` done before `before`."""
    c = JOBS.c
    return delete(JOBS).where(
        c.id.in_(
            select(c.id)
            .where(
                c.state == DONE,
                c.kind.in_(bindparam("kinds", expanding=True)),
                c.updated_at < bindparam("before", type_=c.updated_at.type),
            )
            .limit(bindparam("batch", type_=Integer))
            .scalar_subquery()
        )
    )
