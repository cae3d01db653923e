"""The durable job queue and the worker, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from bot.jobs.worker import JobContext, JobFailed, JobHandler, NotYet, RetryLater, Worker
from storage import jobs
from storage.db import Database
from storage.jobs import JobQueue
from storage.models import Job, utcnow


async def _enqueue(db: Database, kind: str = "notify", **kwargs: object) -> int | None:
    async with db.transaction() as session:
        return await jobs.enqueue(
            session, kind=kind, payload=dict(kwargs.pop("payload", {}) or {}), **kwargs
        )  # type: ignore[arg-type]


async def _expire_leases(db: Database) -> None:
    """Every running job's lease has run out (its worker died a while ago)."""
    async with db.transaction() as session:
        await session.execute(
            update(Job)
            .where(Job.state == "running")
            .values(lease_expires_at=utcnow() - timedelta(hours=1))
        )


async def _job(db: Database, job_id: int) -> Job:
    async with db.sessions() as session:
        job = await session.get(Job, job_id)
        assert job is not None
        return job


async def test_enqueue_with_same_dedupe_key_is_a_no_op(db: Database) -> None:
    first = await _enqueue(db, dedupe_key="digest:C1:2026-W48")
    second = await _enqueue(db, dedupe_key="digest:C1:2026-W48")
    assert first is not None and second is None
    async with db.sessions() as session:
        assert len((await session.execute(select(Job))).scalars().all()) == 1


async def test_two_claimers_never_share_a_job(db: Database) -> None:
    for n in range(40):
        await _enqueue(db, payload={"n": n})
    lease = timedelta(minutes=1)
    batches = await asyncio.gather(
        *(JobQueue(db).claim(owner=f"w{i}", limit=7, lease=lease) for i in range(4)),
    )
    claimed = [job.id for batch in batches for job in batch]
    assert len(claimed) == len(set(claimed)) == 28


async def test_expired_lease_is_taken_over_by_another_worker(db: Database) -> None:
    job_id = await _enqueue(db)
    [job] = await JobQueue(db).claim(owner="dead-worker", limit=5, lease=timedelta(minutes=1))
    assert await JobQueue(db).claim(owner="other", limit=5, lease=timedelta(minutes=1)) == []
    await _expire_leases(db)
    [taken] = await JobQueue(db).claim(owner="other", limit=5, lease=timedelta(minutes=1))
    assert taken.id == job.id == job_id and taken.attempts == 2
    async with db.transaction() as session:  # the dead worker's late completion does not count
        assert not await jobs.complete(session, job_id=job.id, owner="dead-worker")
        assert await jobs.complete(session, job_id=job.id, owner="other")
    assert (await _job(db, job.id)).state == "done"


async def test_a_claim_takes_expired_leases_first_then_queued_jobs_in_order(db: Database) -> None:
    stalled = await _enqueue(db, payload={"n": "stalled"})
    await JobQueue(db).claim(owner="dead-worker", limit=1, lease=timedelta(minutes=1))
    queued = [await _enqueue(db, payload={"n": n}) for n in range(3)]
    await _expire_leases(db)
    first = await JobQueue(db).claim(owner="w", limit=2, lease=timedelta(minutes=1))
    assert [job.id for job in first] == [stalled, queued[0]]
    rest = await JobQueue(db).claim(owner="w", limit=5, lease=timedelta(minutes=1))
    assert [job.id for job in rest] == queued[1:]


async def test_completing_many_jobs_reports_the_ones_whose_lease_was_lost(db: Database) -> None:
    ids = [await _enqueue(db, payload={"n": n}) for n in range(3)]
    await JobQueue(db).claim(owner="w1", limit=3, lease=timedelta(minutes=1))
    await _expire_leases(db)
    [taken] = await JobQueue(db).claim(owner="w2", limit=1, lease=timedelta(minutes=1))
    done = await JobQueue(db).complete_many(job_ids=ids, owner="w1")  # type: ignore[arg-type]
    assert done == set(ids) - {taken.id}
    assert (await _job(db, taken.id)).state == "running"


async def test_jobs_with_one_serial_key_run_one_at_a_time_in_order(db: Database) -> None:
    a = await _enqueue(db, serial_key="case:1")
    b = await _enqueue(db, serial_key="case:1")
    c = await _enqueue(db, serial_key="case:2")
    first = await JobQueue(db).claim(owner="w", limit=10, lease=timedelta(minutes=1))
    assert [job.id for job in first] == [a, c]
    async with db.transaction() as session:
        await jobs.complete(session, job_id=a, owner="w")  # type: ignore[arg-type]
    second = await JobQueue(db).claim(owner="w", limit=10, lease=timedelta(minutes=1))
    assert [job.id for job in second] == [b]


async def test_worker_retries_with_backoff_then_dead_letters(db: Database) -> None:
    job_id = await _enqueue(db, kind="flaky")
    assert job_id is not None
    seen: list[int] = []
    dead: list[str] = []

    async def flaky(ctx: JobContext) -> None:
        seen.append(ctx.job.attempts)
        raise RetryLater("platform down", delay=0)

    async def on_dead(job: object, error: str) -> None:
        dead.append(error)

    worker = Worker(
        db=db, kinds={"flaky": JobHandler(flaky, on_dead=on_dead)}, backoff=[timedelta(0)] * 2
    )
    async with db.transaction() as session:  # max_attempts follows the configured schedule
        await session.execute(update(Job).values(max_attempts=worker.max_attempts))
    await worker.run_until_idle(timeout=10)
    job = await _job(db, job_id)
    assert seen == [1, 2, 3]
    assert job.state == "dead" and job.last_error == "platform down"
    assert dead == ["platform down"]


async def test_worker_reschedules_by_the_durable_backoff(db: Database) -> None:
    job_id = await _enqueue(db, kind="flaky")
    assert job_id is not None

    async def flaky(ctx: JobContext) -> None:
        raise ConnectionError("reset by peer")

    worker = Worker(
        db=db,
        kinds={"flaky": JobHandler(flaky)},
        backoff=[timedelta(minutes=5), timedelta(hours=1)],
    )
    before = utcnow()
    await worker.run_until_idle(timeout=10)
    job = await _job(db, job_id)
    assert job.state == "queued" and job.attempts == 1
    assert "reset by peer" in (job.last_error or "")
    assert timedelta(minutes=4) < job.run_at - before < timedelta(minutes=6)


async def test_job_failed_dead_letters_at_once(db: Database) -> None:
    job_id = await _enqueue(db, kind="bad")
    assert job_id is not None

    async def bad(ctx: JobContext) -> None:
        raise JobFailed("no such case")

    await Worker(db=db, kinds={"bad": JobHandler(bad)}).run_until_idle(timeout=10)
    job = await _job(db, job_id)
    assert (job.state, job.attempts, job.last_error) == ("dead", 1, "no such case")


async def test_not_yet_runs_the_job_again_later_without_counting_an_attempt_or_an_error(
    db: Database,
) -> None:
    """A job that is early (a notice waiting for its evidence) is not failing: however often it
    is given back, it never reaches its last attempt, and its last error stays what it was."""
    job_id = await _enqueue(db, kind="early")
    assert job_id is not None
    seen: list[int] = []

    async def early(ctx: JobContext) -> None:
        seen.append(ctx.job.attempts)
        if len(seen) < 5:  # more runs than its one attempt
            raise NotYet("its evidence is still being kept", delay=0)

    worker = Worker(db=db, kinds={"early": JobHandler(early)}, backoff=[])
    assert worker.max_attempts == 1
    await worker.run_until_idle(timeout=10)
    job = await _job(db, job_id)
    assert seen == [1, 1, 1, 1, 1]
    assert (job.state, job.attempts) == ("done", 1)

    later = await _enqueue(db, kind="early")
    assert later is not None
    async with db.transaction() as session:
        await session.execute(update(Job).where(Job.id == later).values(last_error="it failed"))

    async def waits(ctx: JobContext) -> None:
        raise NotYet("not yet", delay=300)

    before = utcnow()
    await Worker(db=db, kinds={"early": JobHandler(waits)}).run_until_idle(timeout=10)
    job = await _job(db, later)
    assert (job.state, job.attempts, job.last_error) == ("queued", 0, "it failed")
    assert job.run_at - before > timedelta(minutes=4)


async def test_stopping_worker_releases_unfinished_jobs(db: Database) -> None:
    job_id = await _enqueue(db, kind="slow")
    assert job_id is not None
    started = asyncio.Event()

    async def slow(ctx: JobContext) -> None:
        started.set()
        await asyncio.sleep(60)

    worker = Worker(db=db, kinds={"slow": JobHandler(slow)}, poll_interval=0.02, grace=0.2)
    task = asyncio.create_task(worker.run())
    await asyncio.wait_for(started.wait(), 10)
    worker.stop()
    await asyncio.wait_for(task, 10)
    job = await _job(db, job_id)
    assert (job.state, job.attempts, job.lease_owner) == ("queued", 0, None)


async def test_a_serial_keys_next_job_waits_for_the_earlier_enqueuer_to_commit(
    db: Database,
) -> None:
    """Ids of one serial key follow commit order: an enqueuer of the key waits until an earlier,
    still open transaction that enqueued for the same key commits (else its job could run first)."""
    async with db.transaction() as first:
        earlier = await jobs.enqueue(first, kind="notify", payload={}, serial_key="case:7")
        second = asyncio.ensure_future(_enqueue(db, serial_key="case:7"))
        if db.is_postgres:  # another key does not wait (SQLite has one writer at a time anyway)
            assert await asyncio.wait_for(_enqueue(db, serial_key="case:8"), timeout=10)
        await asyncio.sleep(0.3)
        assert not second.done(), "the second enqueuer of case:7 went ahead of an open transaction"
    later = await asyncio.wait_for(second, timeout=10)
    assert earlier is not None and later is not None and later > earlier


async def test_outstanding_reads_running_and_next_due_together(db: Database) -> None:
    assert await JobQueue(db).outstanding() == (0, None)
    later = utcnow() + timedelta(seconds=30)
    await _enqueue(db, payload={"n": 1})
    await _enqueue(db, payload={"n": 2}, run_at=later)
    assert len(await JobQueue(db).claim(owner="w", limit=1, lease=timedelta(minutes=1))) == 1
    running, due = await JobQueue(db).outstanding()
    assert running == 1 and due is not None
    assert abs((due - later).total_seconds()) < 0.001 and due.tzinfo is not None
