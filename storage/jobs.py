"""The durable job queue. Every statement over the `jobs` table lives here (those built once
and kept, in `storage.job_statements`).

Two kinds of call, told apart by how they are reached:
- module functions take the caller's session and join its transaction: `enqueue`, `enqueue_many`,
  `complete`, `retry`, and the read `any_active`;
- `JobQueue(db)`'s methods run transactions of their own: `claim`, `heartbeat_many`,
  `complete_many`, `release`, `purge_done`, and the reads `counts`, `outstanding`, `oldest_due`.

- `enqueue` runs inside the caller's transaction (transactional outbox): a case and its first jobs
  commit together or not at all. A `dedupe_key` makes enqueueing idempotent (periodic runs).
- `JobQueue.claim` leases due jobs in one statement: `UPDATE … WHERE id IN (SELECT … FOR UPDATE
  SKIP LOCKED) RETURNING …` on PostgreSQL; on SQLite the same statement inside a `BEGIN IMMEDIATE`
  transaction, which makes it the only writer. Jobs whose lease expired (their worker died) are
  claimed by the same query, so stalled jobs need no separate sweeper.
- Jobs sharing a `serial_key` run one at a time, in id order: a case's thread replies stay ordered.
  On PostgreSQL `enqueue` takes a transaction-level advisory lock on the key, so ids of one key
  follow commit order (a smaller id committed later would otherwise run after a larger one).
- `complete`, `retry` and `release` only act while the caller still holds the lease, so a worker
  that lost its lease (paused too long) cannot overwrite the new owner's work.
- Every moment the queue compares is the database's (`now()` on PostgreSQL, SQLite's `'now'`):
  lease deadlines, claims, heartbeats, due times. Workers on hosts whose clocks disagree still
  agree on whose lease has run out and which job is due. A delay (a retry, a job queued for
  later) is added to the database's clock, never to the caller's.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from storage import job_statements as statements
from storage.clock import db_now
from storage.db import Database
from storage.job_statements import DEAD, QUEUED, RUNNING
from storage.models import Job, utcnow
from storage.prepared import built

DEFAULT_MAX_ATTEMPTS = 100  # a ceiling; the worker's backoff schedule decides the real number
# No delay is added beyond this, whatever a caller computed: a retry a week out is already one a
# person has to look at, and a date past the database's range would fail the write itself.
MAX_DELAY = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class ClaimedJob:
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    serial_key: str | None
    created_at: datetime

    @property
    def last_attempt(self) -> bool:
        return self.attempts >= self.max_attempts


# Over the caller's session: these join its transaction.


async def enqueue(
    session: AsyncSession,
    *,
    kind: str,
    payload: dict[str, Any],
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    serial_key: str | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job in the caller's transaction; returns its id, or None if `dedupe_key` existed.

    It is due at `run_at` if given (a scheduled moment), else `delay` (none: at once) after the
    database's clock."""
    values = _new_job(
        kind,
        payload,
        now=utcnow(),
        run_at=run_at,
        serial_key=serial_key,
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
    )
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    locked = serial_key is not None and dialect == "postgresql"
    timed = run_at is not None
    if not timed:
        values["delay_seconds"] = _seconds(delay)
    statement = built(
        ("enqueue", dialect, locked, dedupe_key is not None, timed),
        lambda: statements.insert_job(
            dialect, locked=locked, dedupe=dedupe_key is not None, timed=timed
        ),
    )
    result = await (await session.connection()).execute(statement, values)
    return result.scalar_one_or_none()


async def enqueue_many(
    session: AsyncSession, *, kind: str, jobs: Sequence[tuple[dict[str, Any], str]]
) -> None:
    """Add jobs of one kind, each (payload, dedupe_key), in the caller's transaction: one
    statement (batched by the driver) however many. A dedupe key that exists is skipped."""
    if not jobs:
        return
    now = utcnow()
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    statement = built(
        ("enqueue_many", dialect),
        lambda: statements.insert_job(
            dialect, locked=False, dedupe=True, timed=False, returning=False
        ),
    )
    await (await session.connection()).execute(
        statement,
        [
            {**_new_job(kind, payload, now=now, dedupe_key=dedupe_key), "delay_seconds": 0.0}
            for payload, dedupe_key in jobs
        ],
    )


async def complete(session: AsyncSession, *, job_id: int, owner: str) -> bool:
    """Mark done in the caller's transaction (with the job's own writes); False if the lease was lost."""
    postgres = _is_postgres(session)
    result = await (await session.connection()).execute(
        built(("finish", False, postgres), lambda: statements.finish(False, postgres=postgres)),
        {"job_id": job_id, "owner": owner},
    )
    return bool(result.rowcount)


async def retry(
    session: AsyncSession, *, job_id: int, owner: str, error: str, delay: timedelta | None
) -> bool:
    """Queue the job again `delay` after the database's clock (at most MAX_DELAY, at least now),
    or dead-letter it when `delay` is None."""
    postgres = _is_postgres(session)
    values: dict[str, Any] = {
        "lease_owner": None,
        "lease_expires_at": None,
        "last_error": error[:2000],
        "updated_at": db_now(postgres),
    }
    if delay is None:
        values.update(state=DEAD)
    else:
        values.update(state=QUEUED, run_at=db_now(postgres, _seconds(delay)))
    result = await session.execute(update(Job).where(_held(job_id, owner)).values(**values))
    return bool(result.rowcount)


async def any_active(
    session: AsyncSession, *, dedupe_keys: Sequence[str], serial_key: str, kinds: Sequence[str]
) -> bool:
    """Whether a job is queued or running that has one of `dedupe_keys`, or has `serial_key` and
    is of one of `kinds`. Each half reads an index: the unique one on dedupe keys, and the
    partial one on active jobs' serial keys."""
    active = col(Job.state).in_((QUEUED, RUNNING))
    by_key = exists().where(col(Job.dedupe_key).in_(list(dedupe_keys)), active)
    by_serial = exists().where(
        col(Job.serial_key) == serial_key, col(Job.kind).in_(list(kinds)), active
    )
    return bool(await session.scalar(select(or_(by_key, by_serial))))


# Over a Database: each call runs its own transaction.


class JobQueue:
    """The queue's operations that run in transactions of their own, over `db`: claiming, lease
    renewal, completion of jobs that wrote nothing else, release, housekeeping and figures."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self,
        *,
        owner: str,
        limit: int,
        lease: timedelta,
        kinds: tuple[str, ...] | None = None,
    ) -> list[ClaimedJob]:
        """Lease up to `limit` due jobs (jobs whose lease expired first) for `owner`, until
        `lease` after the database's clock.

        Two statements in one transaction, each reading an index that holds only what it looks for
        (migration 0004): jobs whose worker died (`running`, lease expired), then queued jobs in
        (run_at, id) order, the scan stopping once `limit` are found.
        """
        claimed: list[ClaimedJob] = []
        params: dict[str, Any] = {"owner": owner, "lease_seconds": lease.total_seconds()}
        if kinds:
            params["kinds"] = list(kinds)
        async with self.db.transaction() as session:
            connection = await session.connection()
            for part in ("expired", "queued"):
                wanted = limit - len(claimed)
                if wanted <= 0:
                    break
                statement = built(
                    ("claim", part, self.db.is_postgres, bool(kinds)),
                    functools.partial(
                        statements.claim_due,
                        part,
                        postgres=self.db.is_postgres,
                        by_kind=bool(kinds),
                    ),
                )
                rows = await connection.execute(statement, {**params, "limit": wanted})
                claimed.extend(ClaimedJob(*row) for row in rows.all())
        claimed.sort(key=lambda job: job.id)
        return claimed

    async def heartbeat_many(
        self, *, job_ids: Sequence[int], owner: str, lease: timedelta
    ) -> set[int]:
        """Extend the leases of `owner`'s running jobs among `job_ids` to `lease` after the
        database's clock, in one statement; returns the ids extended (a missing id's lease was lost
        to another worker, or the job has finished)."""
        if not job_ids:
            return set()
        postgres = self.db.is_postgres
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Job)
                .where(Job.id.in_(list(job_ids)), Job.state == RUNNING, Job.lease_owner == owner)
                .values(
                    lease_expires_at=db_now(postgres, _seconds(lease)),
                    updated_at=db_now(postgres),
                )
                .returning(Job.id),
                execution_options={"synchronize_session": False},
            )
            return {row[0] for row in result.all()}

    async def complete_many(self, *, job_ids: Sequence[int], owner: str) -> set[int]:
        """Mark `owner`'s jobs among `job_ids` done in one transaction of their own (jobs whose run
        wrote nothing else); returns the ids completed (a missing one's lease was lost)."""
        if not job_ids:
            return set()
        postgres = self.db.is_postgres
        async with self.db.transaction() as session:
            result = await (await session.connection()).execute(
                built(
                    ("finish", True, postgres), lambda: statements.finish(True, postgres=postgres)
                ),
                {"ids": list(job_ids), "owner": owner},
            )
            return {row[0] for row in result.all()}

    async def release(self, *, job_id: int, owner: str, delay: timedelta | None = None) -> bool:
        """Give a job back untouched, due again `delay` after the database's clock (none: at
        once): queued, the attempt not counted, its last error kept. A worker that stops gives
        its running jobs back; a run that found its job not yet due (`NotYet`) gives it back
        for later."""
        postgres = self.db.is_postgres
        async with self.db.transaction() as session:
            result = await session.execute(
                update(Job)
                .where(_held(job_id, owner))
                .values(
                    state=QUEUED,
                    lease_owner=None,
                    lease_expires_at=None,
                    attempts=Job.attempts - 1,
                    run_at=db_now(postgres, _seconds(delay)),
                    updated_at=db_now(postgres),
                )
            )
        return bool(result.rowcount)

    async def purge_done(
        self, *, kinds: Sequence[str], older_than: datetime, batch: int = 5000
    ) -> int:
        """Delete jobs of `kinds` done before `older_than`, `batch` at a time (each batch its own
        short transaction); returns how many. Claims never read them, but the table would grow."""
        statement = built("purge_done", statements.purge_done)
        removed = 0
        while True:
            async with self.db.transaction() as session:
                result = await (await session.connection()).execute(
                    statement, {"kinds": list(kinds), "before": older_than, "batch": batch}
                )
            removed += result.rowcount
            if result.rowcount < batch:
                return removed

    async def counts(self) -> dict[tuple[str, str], int]:
        """Jobs by (kind, state)."""
        async with self.db.sessions() as session:
            rows = (
                await session.execute(
                    select(Job.kind, Job.state, func.count()).group_by(Job.kind, Job.state)
                )
            ).all()
        return {(kind, state): count for kind, state, count in rows}

    async def outstanding(self) -> tuple[int, datetime | None]:
        """How many jobs are running, and when the next queued one is due, read together: a job
        claimed between two separate reads would be in neither."""
        running = func.sum(case((Job.state == RUNNING, 1), else_=0))
        due = func.min(case((Job.state == QUEUED, Job.run_at), else_=None))
        async with self.db.sessions() as session:
            count, next_due = (
                await session.execute(
                    select(running, due.label("due")).where(Job.state.in_((QUEUED, RUNNING)))
                )
            ).one()
        if isinstance(next_due, str):  # SQLite hands back MIN over a CASE as text
            next_due = datetime.fromisoformat(next_due)
        if next_due is not None and next_due.tzinfo is None:
            next_due = next_due.replace(tzinfo=UTC)
        return int(count or 0), next_due

    async def oldest_due(self) -> datetime | None:
        """When the longest-waiting due job became due (queue age)."""
        due = Job.run_at <= db_now(self.db.is_postgres)
        async with self.db.sessions() as session:
            oldest = (
                await session.execute(select(func.min(Job.run_at)).where(Job.state == QUEUED, due))
            ).scalar()
        if isinstance(oldest, str):  # SQLite hands back MIN over text as text
            oldest = datetime.fromisoformat(oldest)
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        return oldest


# Rows and conditions.


def _new_job(
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    run_at: datetime | None = None,
    serial_key: str | None = None,
    dedupe_key: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> dict[str, Any]:
    """A queued job's row (the values `job_statements.insert_job` binds)."""
    return {
        "kind": kind,
        "payload": payload,
        "state": QUEUED,
        "run_at": run_at or now,
        "attempts": 0,
        "max_attempts": max_attempts,
        "serial_key": serial_key,
        "dedupe_key": dedupe_key,
        "created_at": now,
        "updated_at": now,
    }


def _is_postgres(session: AsyncSession) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _seconds(delay: timedelta | None) -> float:
    """A delay as seconds the database adds to its clock: none is 0, and it is kept within
    [0, MAX_DELAY] whatever the caller computed."""
    if delay is None:
        return 0.0
    return min(max(delay.total_seconds(), 0.0), MAX_DELAY.total_seconds())


def _held(job_id: int, owner: str) -> Any:
    return and_(Job.id == job_id, Job.state == RUNNING, Job.lease_owner == owner)
