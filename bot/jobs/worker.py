"""The job worker: claims due jobs, runs them concurrently, reschedules failures, dead-letters.

It writes no SQL itself (`storage.jobs` does). It runs the kinds it is given, each with a
`JobHandler` (the bot's come from `bot.jobs.registry`): the handler's model reads the claimed job's
payload first (`JobContext.args`), and a payload that does not fit is dead-lettered at once,
naming its kind, without running. A job runner is an async function of the job's context; it
finishes the job by calling `JobContext.complete(session)` inside the transaction that
records its result (so "done" and the result commit together), or raises:
- `RetryLater(message, delay=…)`: reschedule (transient trouble); the durable backoff applies
  when no delay is given, and the last attempt dead-letters the job. A delay the other side
  asked for (Retry-After) is kept within `max_retry_after`, whatever number arrives (`inf`,
  NaN, a date in 9999), so no answer can keep a job from being rescheduled;
- `NotYet(message, delay=…)`: nothing went wrong, the job is early (a notice waiting for its
  case's evidence): run it again `delay` seconds later, the run not counted as an attempt and
  no error kept. The runner bounds its own waiting: the worker never dead-letters for it;
- `JobFailed(message)`: dead-letter now (retrying cannot help);
- anything else: treated like RetryLater with the error's text.

On stop (SIGTERM) it claims nothing more, lets running jobs finish for a grace period, then
releases the ones still running so another worker takes them at once.

Every error kept on a job (`jobs.last_error`) and handed to a dead-letter handler goes through
`scrub` first (the bot's secret scrubber), so no token of ours is stored with it.

Times the queue compares (leases, due times) are the database's (`storage.jobs`): the worker
hands over durations, never moments of its own host's clock.

A job runs only while its lease holds. One task renews the leases of all the worker's running
jobs (one statement per round, however many jobs); when a job's lease is found taken, or cannot
be renewed before most of it has run out (the database is away), its run is cancelled before
another worker may take the job over, and `complete` refuses (rolling back the job's transaction)
if the lease was lost anyway. So a worker cut off from the database never keeps posting or
recording alongside the job's new owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar, cast

from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.jobs.backoff import bounded_delay, is_transient, record_after_effect
from bot.jobs.coalesce import Coalescer
from storage import jobs
from storage.db import Database
from storage.jobs import ClaimedJob, JobQueue

log = logging.getLogger("takedown.worker")


class RetryLater(Exception):
    def __init__(self, message: str, *, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


class NotYet(Exception):
    """The job is early, not failing: run it again `delay` seconds later, as if this run had not
    happened (no attempt counted, no error kept). Its runner must bound how long it waits."""

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class JobFailed(Exception):
    """Retrying cannot help; the job is dead-lettered with this message."""


class BadPayload(JobFailed):
    """The job's payload does not fit its kind's model: no run can help, so it is dead-lettered."""


class LeaseLost(Exception):
    """This worker no longer holds the job's lease: another worker has it; record nothing."""


# A run is cancelled when its lease could not be renewed for this share of the lease, so it stops
# before the lease runs out and another worker may take the job.
FENCE = 0.75


P = TypeVar("P")


@dataclass
class JobContext(Generic[P]):
    job: ClaimedJob  # as claimed: its payload is the stored dict
    args: P  # the payload as its kind's model read it
    owner: str
    db: Database
    completed: bool = False
    # No retry follows this run if it fails: the job's last attempt under the backoff schedule.
    last_attempt: bool = False

    async def complete(self, session: AsyncSession) -> bool:
        """Mark the job done in `session`'s transaction.

        Raises LeaseLost if another worker took the job meanwhile, so the caller's transaction
        (the job's result) rolls back instead of overwriting the new owner's work.
        """
        if not await jobs.complete(session, job_id=self.job.id, owner=self.owner):
            raise LeaseLost(f"job {self.job.id}: the lease was lost before it completed")
        self.completed = True
        return True


@dataclass
class _Lease:
    """A running job as the lease renewal sees it."""

    attempt: asyncio.Task[None]
    context: JobContext
    renewed: float = field(default_factory=time.monotonic)  # when it was last known extended
    fenced: str | None = None  # why its run was cancelled, if it was

    def fence(self, reason: str) -> None:
        self.fenced = reason
        self.attempt.cancel()


DeadHandler = Callable[[ClaimedJob, str], Awaitable[None]]


@dataclass(frozen=True)
class JobHandler(Generic[P]):
    """How the worker runs one kind of job: the model its payload is read with (none: the runner
    gets the stored dict), the runner, and who to tell when a job of it is dead-lettered (not
    for a payload that does not fit: the handler could not read it either)."""

    run: Callable[[JobContext[P]], Awaitable[None]]
    payload: TypeAdapter[P] | None = None
    on_dead: DeadHandler | None = None

    def read(self, job: ClaimedJob) -> P:
        """The job's payload as its model reads it; BadPayload if it does not fit."""
        if self.payload is None:
            return cast(P, job.payload)
        try:
            return self.payload.validate_python(job.payload)
        except ValidationError as exc:
            problems = "; ".join(
                ": ".join(filter(None, (".".join(map(str, error["loc"])), error["msg"])))
                for error in exc.errors(include_url=False)
            )
            raise BadPayload(f"not a valid {job.kind} payload: {problems}") from None


@dataclass
class Worker:
    db: Database
    kinds: Mapping[str, JobHandler[Any]]  # the kinds this worker claims, each with its handler
    backoff: Sequence[timedelta] = field(
        default_factory=lambda: [timedelta(minutes=m) for m in (1, 5, 30, 120, 360, 1440)]
    )
    lease: timedelta = timedelta(minutes=5)
    concurrency: int = 16
    poll_interval: float = 1.0
    claim_gap: float = 0.02
    grace: float = 20.0
    owner: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(24):06x}"
    )
    max_retry_after: timedelta = timedelta(hours=1)  # the longest Retry-After honoured
    scrub: Callable[[str], str] = lambda text: text  # secrets out of errors kept on jobs
    observe: Callable[[str, str, float], None] = lambda _kind, _outcome, _seconds: None  # metrics

    def __post_init__(self) -> None:
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._running: dict[int, asyncio.Task[None]] = {}
        self._leases: dict[int, _Lease] = {}
        self._renewer: asyncio.Task[None] | None = None
        self._queue = JobQueue(self.db)
        # Jobs whose run wrote nothing else are marked done together: one statement for all.
        self._complete: Coalescer[int, bool] = Coalescer(self._complete_many)

    async def _complete_many(self, job_ids: list[int]) -> dict[int, bool]:
        done = await self._queue.complete_many(job_ids=job_ids, owner=self.owner)
        return {job_id: job_id in done for job_id in job_ids}

    @property
    def max_attempts(self) -> int:
        return len(self.backoff) + 1

    def _attempts_for(self, job: ClaimedJob) -> int:
        """How many runs `job` gets: its own ceiling, or the schedule's if that is lower."""
        return min(job.max_attempts, self.max_attempts)

    def wake(self) -> None:
        """Look for work now (a job was just enqueued in this process)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        """Claim and run jobs until `stop()`; then drain and release."""
        log.info("worker %s started", self.owner)
        try:
            while not self._stopping.is_set():
                free = self.concurrency - len(self._running)
                claimed: list[ClaimedJob] = []
                if free > 0:
                    try:
                        claimed = await self._queue.claim(
                            owner=self.owner,
                            limit=free,
                            lease=self.lease,
                            kinds=tuple(self.kinds),
                        )
                    except Exception:
                        log.exception("claiming jobs failed; the database may be restarting")
                        await self._sleep(min(5.0, self.poll_interval * 5))
                        continue
                for job in claimed:
                    task = asyncio.create_task(self._run_one(job), name=f"job-{job.id}-{job.kind}")
                    self._running[job.id] = task
                    task.add_done_callback(functools.partial(self._forget, job.id))
                if not claimed or free <= len(claimed):
                    await self._sleep(self.poll_interval)
                # Let finished jobs gather before the next claim: one claim statement for many
                # free slots costs far less than one per finished job.
                await asyncio.sleep(self.claim_gap)
        finally:
            await self._drain()
            log.info("worker %s stopped", self.owner)

    def _forget(self, job_id: int, _task: asyncio.Task[None]) -> None:
        self._running.pop(job_id, None)

    async def run_until_idle(self, *, timeout: float = 30.0) -> None:  # noqa: ASYNC109 (a deadline across many runs)
        """Run jobs until none is due or running (tests, the CLI's one-shot commands)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            claimed = await self._queue.claim(
                owner=self.owner,
                limit=self.concurrency,
                lease=self.lease,
                kinds=tuple(self.kinds),
            )
            if not claimed:
                return
            await asyncio.gather(*(self._run_one(job) for job in claimed))
        raise TimeoutError("jobs still due after the timeout")

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)
        self._wake.clear()

    async def _drain(self) -> None:
        if not self._running:
            return
        tasks = list(self._running.values())
        _, pending = await asyncio.wait(tasks, timeout=self.grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _attempt(self, job: ClaimedJob, context: JobContext) -> None:
        """The job's run and its completion: the part that may only happen under the lease."""
        if job.attempts > self._attempts_for(job):
            raise JobFailed(
                f"gave up after {self._attempts_for(job)} attempts (its worker stopped each time)"
            )
        await self.kinds[job.kind].run(context)
        if not context.completed:
            # The run did its work (a Slack message may be out): a database restart now must not
            # make the job run again.
            if not await record_after_effect(lambda: self._complete(job.id)):
                raise LeaseLost(f"job {job.id}: the lease was lost before it completed")
            context.completed = True

    async def _run_one(self, job: ClaimedJob) -> None:
        started = time.monotonic()
        try:
            args = self.kinds[job.kind].read(job)
        except BadPayload as exc:
            # Every run would fail the same way: said once, and dead-lettered without a run.
            log.error("job %s (%s) dead-lettered: %s", job.id, job.kind, exc)
            await self._reschedule(job, str(exc), None, tell=False)
            self._finished(job, "dead", started)
            return
        context = JobContext(
            job=job,
            args=args,
            owner=self.owner,
            db=self.db,
            last_attempt=job.attempts >= self._attempts_for(job),
        )
        attempt = asyncio.create_task(self._attempt(job, context), name=f"attempt-{job.id}")
        lease = self._leases[job.id] = _Lease(attempt, context)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew_leases(), name="lease-renewal")
        outcome = "done"
        try:
            await attempt
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if lease.fenced is None or (current is not None and current.cancelling()):
                # This worker is stopping: give the job back for another worker to take at once.
                outcome = "released"
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._queue.release(job_id=job.id, owner=self.owner))
                raise
            # Not released: the lease runs out on its own, and the next run counts as an attempt.
            outcome = "lease_lost"
            log.warning("job %s (%s) stopped: %s", job.id, job.kind, lease.fenced)
        except LeaseLost as exc:
            outcome = "lease_lost"
            log.warning("job %s (%s): %s; its result was not recorded", job.id, job.kind, exc)
        except NotYet as exc:
            outcome = await self._not_yet(job, exc)
        except JobFailed as exc:
            outcome = "dead"
            await self._reschedule(job, str(exc), None)
        except Exception as exc:
            outcome = await self._failed(job, exc)
        finally:
            if self._leases.get(job.id) is lease:
                del self._leases[job.id]
            if not self._leases and self._renewer is not None:
                self._renewer.cancel()  # nothing left to renew; the next job starts another
                self._renewer = None
            self._finished(job, outcome, started)

    async def _failed(self, job: ClaimedJob, exc: Exception) -> str:
        """Retry a run that failed (`RetryLater`, or an error), or dead-letter it after its last
        attempt; the outcome."""
        if isinstance(exc, RetryLater):
            outcome = await self._retry(job, str(exc), exc.delay)
            self._expected_failure(job, str(exc), outcome)
            return outcome
        reason = _reason(exc)
        if is_transient(exc):
            # Slack or a platform away for a while (refused, timed out, 5xx): expected, and
            # said in one line; a traceback here would repeat for every job until it is back.
            outcome = await self._retry(job, reason, None)
            self._expected_failure(job, reason, outcome)
            return outcome
        log.exception("job %s (%s) raised", job.id, job.kind, exc_info=exc)
        return await self._retry(job, reason, None)

    def _expected_failure(self, job: ClaimedJob, reason: str, outcome: str) -> None:
        then = "will be retried" if outcome == "retry" else "dead-lettered"
        log.warning("job %s (%s) failed, %s: %s", job.id, job.kind, then, self.scrub(reason))

    def _finished(self, job: ClaimedJob, outcome: str, started: float) -> None:
        self._wake.set()  # a slot is free, and the job's serial successor may now be due
        self.observe(job.kind, outcome, time.monotonic() - started)
        duration_ms = round((time.monotonic() - started) * 1000)
        log.info(
            "job %s kind=%s attempt=%s outcome=%s duration_ms=%s",
            job.id,
            job.kind,
            job.attempts,
            outcome,
            duration_ms,
            extra={
                "job_id": job.id,
                "kind": job.kind,
                "attempt": job.attempts,
                "outcome": outcome,
                "duration_ms": duration_ms,
            },
        )

    async def _not_yet(self, job: ClaimedJob, early: NotYet) -> str:
        """Give the job back for `early.delay` seconds, the run not counted (see `NotYet`)."""
        wait = timedelta(seconds=max(early.delay, 0.0))
        log.info("job %s (%s) not yet: %s", job.id, job.kind, self.scrub(str(early)))
        try:
            await self._queue.release(job_id=job.id, owner=self.owner, delay=wait)
        except Exception:
            # The lease will expire and the job runs again (that run counts as an attempt).
            log.exception("could not give job %s back", job.id)
        return "waiting"

    async def _retry(self, job: ClaimedJob, error: str, delay: float | None) -> str:
        # The schedule decides how many runs a job gets: one more than its backoff steps.
        if job.attempts >= self._attempts_for(job):
            await self._reschedule(job, error, None)
            return "dead"
        wait = bounded_delay(delay, ceiling=self.max_retry_after.total_seconds())
        if wait is None:
            step = self.backoff[min(job.attempts - 1, len(self.backoff) - 1)]
            wait = step.total_seconds() * random.uniform(0.9, 1.1)
        await self._reschedule(job, error, timedelta(seconds=wait))
        return "retry"

    async def _reschedule(
        self, job: ClaimedJob, error: str, delay: timedelta | None, *, tell: bool = True
    ) -> None:
        """Queue the job again `delay` from now (the database's now), or dead-letter it (None)
        and, with `tell`, call its kind's dead-letter handler. The error is scrubbed first."""
        error = self.scrub(error)
        try:
            async with self.db.transaction() as session:
                held = await jobs.retry(
                    session, job_id=job.id, owner=self.owner, error=error, delay=delay
                )
        except Exception:
            # The lease will expire and another worker retries the job: nothing is lost.
            log.exception("could not reschedule job %s", job.id)
            return
        on_dead = self.kinds[job.kind].on_dead if tell else None
        if held and delay is None and on_dead is not None:
            try:
                await on_dead(job, error)
            except Exception:
                log.exception("dead-letter handler for job %s failed", job.id)

    async def _renew_leases(self) -> None:
        """Renew the leases of the running jobs, one statement per round, while there are any.

        A run whose lease was taken is cancelled at once; one whose lease could not be renewed
        (the database is away or too slow) is cancelled once FENCE of the lease has passed, so it
        stops before the lease runs out and another worker may take the job.
        """
        lease = self.lease.total_seconds()
        interval = max(lease / 3, 0.05)

        def running() -> dict[int, _Lease]:
            return {
                job_id: item
                for job_id, item in self._leases.items()
                if not (item.attempt.done() or item.fenced or item.context.completed)
            }

        while self._leases:
            wait = interval
            if waiting := running():
                earliest = min(item.renewed for item in waiting.values())
                wait = min(interval, earliest + lease * FENCE - time.monotonic())
            await asyncio.sleep(max(0.0, wait))
            now = time.monotonic()
            live: dict[int, _Lease] = {}
            for job_id, item in running().items():
                if now >= item.renewed + lease * FENCE:
                    item.fence(f"its lease could not be renewed for {now - item.renewed:.1f}s")
                else:
                    live[job_id] = item
            if not live:
                continue
            deadline = min(item.renewed for item in live.values()) + lease * FENCE
            try:
                held = await asyncio.wait_for(
                    self._queue.heartbeat_many(
                        job_ids=list(live), owner=self.owner, lease=self.lease
                    ),
                    timeout=max(deadline - now, 0.01),
                )
            except Exception as exc:
                log.warning(
                    "renewing %s lease(s) failed: %s", len(live), str(exc) or type(exc).__name__
                )
                continue
            for job_id, item in live.items():
                if job_id in held:
                    item.renewed = now
                elif not (item.attempt.done() or item.context.completed):
                    item.fence("its lease was lost to another worker")


def _reason(exc: BaseException) -> str:
    """An exception as one line: its type, and its message when it has one."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
