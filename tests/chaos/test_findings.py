"""Regressions for what the chaos run found (tests/chaos/test_chaos.py), each in isolation.

1. On PostgreSQL a case's thread replies could be posted out of order: jobs sharing a serial key
   run one at a time in id order, but ids are handed out at insert time, so a transaction that
   took a smaller id and committed later had its job claimed after, and alongside, a larger one.
   `storage.jobs.enqueue` now serialises the enqueuers of one key until they commit.
2. A worker cut off from the database for longer than the lease went on with its job after
   another worker had taken it over (a reply posted late, out of order; a notice recorded `sent`
   over the new owner's `held`). The worker now cancels a run whose lease it cannot renew in
   time or finds taken, and `JobContext.complete` rolls the result back if the lease was lost.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.jobs.worker import JobContext, JobHandler, Worker
from storage import jobs
from storage.db import Database
from storage.jobs import JobQueue
from storage.models import Job


async def _enqueue(db: Database, payload: dict[str, object], serial_key: str | None = None) -> int:
    async with db.transaction() as session:
        job_id = await jobs.enqueue(session, kind="work", payload=payload, serial_key=serial_key)
    assert job_id is not None
    return job_id


async def _job(db: Database, job_id: int) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


@pytest.mark.postgres
async def test_serial_jobs_take_ids_in_commit_order(postgres_url: str) -> None:
    db = Database(postgres_url)
    try:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql(
                "TRUNCATE events, listings, notices, jobs, cases RESTART IDENTITY CASCADE"
            )
        first_inserted = asyncio.Event()
        committed: list[tuple[str, int]] = []

        async def first() -> None:
            async with db.transaction() as session:
                job_id = await jobs.enqueue(
                    session, kind="notify", payload={"n": 1}, serial_key="case:1"
                )
                first_inserted.set()
                await asyncio.sleep(0.3)  # still open while the second enqueues and commits
            assert job_id is not None
            committed.append(("first", job_id))

        async def second() -> None:
            await first_inserted.wait()
            job_id = await _enqueue(db, {"n": 2}, serial_key="case:1")
            committed.append(("second", job_id))
            # A worker claiming now must not run the second job before the first.
            claimed = await JobQueue(db).claim(owner="w1", limit=10, lease=timedelta(minutes=1))
            assert [job.payload["n"] for job in claimed] == [1]

        await asyncio.wait_for(asyncio.gather(first(), second()), timeout=10)
        (name_a, id_a), (name_b, id_b) = committed
        assert id_a < id_b, f"{name_a} committed first with id {id_a}, {name_b} later with {id_b}"
        # One at a time: while the first runs, the second waits.
        assert await JobQueue(db).claim(owner="w2", limit=10, lease=timedelta(minutes=1)) == []
    finally:
        await db.dispose()


async def test_a_run_whose_lease_is_taken_is_stopped(db: Database) -> None:
    job_id = await _enqueue(db, {})
    started, stopped = asyncio.Event(), asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped.set()
            raise

    worker = Worker(db=db, kinds={"work": JobHandler(slow)}, lease=timedelta(seconds=0.6))
    run = asyncio.create_task(worker.run_until_idle(timeout=20))
    await asyncio.wait_for(started.wait(), timeout=10)
    async with db.transaction() as session:  # another worker takes the job over
        await session.execute(update(Job).where(Job.id == job_id).values(lease_owner="other"))
    await asyncio.wait_for(stopped.wait(), timeout=5)
    await asyncio.wait_for(run, timeout=10)
    job = await _job(db, job_id)
    assert (job.state, job.lease_owner) == ("running", "other")  # the new owner's, untouched


async def test_a_run_that_cannot_renew_its_lease_stops_before_it_runs_out(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await _enqueue(db, {})
    stopped_after: list[float] = []

    async def slow(ctx: JobContext) -> None:
        began = asyncio.get_running_loop().time()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            stopped_after.append(asyncio.get_running_loop().time() - began)
            raise

    async def unreachable(*_args: object, **_kwargs: object) -> bool:
        raise ConnectionRefusedError("the database is away")

    monkeypatch.setattr(JobQueue, "heartbeat_many", unreachable)
    worker = Worker(db=db, kinds={"work": JobHandler(slow)}, lease=timedelta(seconds=1))
    await asyncio.wait_for(worker.run_until_idle(timeout=20), timeout=20)
    assert stopped_after and stopped_after[0] < 1.0, stopped_after  # before the 1 s lease ran out
    assert (await _job(db, job_id)).state == "running"  # left for the lease to expire, then retried


async def test_a_result_recorded_after_the_lease_was_lost_is_rolled_back(db: Database) -> None:
    job_id = await _enqueue(db, {})
    marker = await _enqueue(db, {"touched": False})

    async def records(ctx: JobContext) -> None:
        async with db.transaction() as session:  # another worker took the job meanwhile
            await session.execute(update(Job).where(Job.id == job_id).values(lease_owner="other"))
        async with db.transaction() as session:
            await session.execute(
                update(Job).where(Job.id == marker).values(payload={"touched": True})
            )
            await ctx.complete(session)

    worker = Worker(db=db, kinds={"work": JobHandler(records)}, lease=timedelta(minutes=1))
    claimed = await JobQueue(db).claim(
        owner=worker.owner, limit=1, lease=worker.lease, kinds=("work",)
    )
    assert [job.id for job in claimed] == [job_id]
    await worker._run_one(claimed[0])
    async with db.sessions() as session:
        payload = (await session.execute(select(Job.payload).where(Job.id == marker))).scalar_one()
    assert payload == {"touched": False}
    job = await _job(db, job_id)
    assert (job.state, job.lease_owner) == ("running", "other")
