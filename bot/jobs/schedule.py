"""Periodic work, exactly once however many workers run: the weekly digest, the hourly SLA sweep
and the mailbox read (every `mailbox.every`, run key `mailbox:<period start in UTC>`).

Every worker runs a `Scheduler`. On each tick it works out the latest scheduled moment of each
schedule (cron in `team.timezone`, DST-correct through zoneinfo) and enqueues that run's job with
a unique run key (`digest:C0123:2026-11-30T09:00+01:00`); the database keeps the first and ignores
the rest, so several workers, restarts and catch-up never send a digest twice. A digest missed
while the bot was down is sent at the next start if its period is still current (the next
scheduled moment has not come yet).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import AppConfig
from bot.jobs.payloads import PostDigest, ReadMailbox, SweepEvidence, SweepReminders, enqueue
from storage.db import Database
from storage.models import utcnow

log = logging.getLogger("takedown.schedule")

SLA_SWEEP = "0 * * * *"  # hourly


def latest_run(expression: str, *, zone: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """The latest scheduled moment at or before `now`, and the one after it (both aware, local)."""
    local_now = now.astimezone(zone)
    # croniter iterates in the zone of its start time; it handles DST gaps and repeats.
    itr = croniter(expression, local_now + timedelta(seconds=1))
    previous = itr.get_prev(datetime)
    following = croniter(expression, previous).get_next(datetime)
    return previous.astimezone(zone), following.astimezone(zone)


@dataclass
class Scheduler:
    db: Database
    config: AppConfig
    clock: Callable[[], datetime] = utcnow
    interval: float = 30.0
    wake_worker: Callable[[], None] = lambda: None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def tick(self) -> int:
        """Enqueue every due run not yet enqueued; returns how many were new."""
        now = self.clock()
        zone = self.config.team.zone
        new = 0
        async with self.db.transaction() as session:
            digest = self.config.team.digest
            if digest.channels:
                # Only the latest run counts: its period is the current one. An older run that was
                # missed is not sent late; one missed in the current period is sent now, once.
                scheduled, _ = latest_run(digest.schedule, zone=zone, now=now)
                for channel in digest.channels:
                    job = await enqueue(
                        session,
                        PostDigest(channel=channel, scheduled_at=scheduled),
                        dedupe_key=f"digest:{channel}:{scheduled.isoformat()}",
                    )
                    new += job is not None
            hour, _ = latest_run(SLA_SWEEP, zone=zone, now=now)
            job = await enqueue(
                session,
                SweepReminders(scheduled_at=hour),
                dedupe_key=f"remind:{hour.astimezone(UTC).isoformat()}",
            )
            new += job is not None
            new += await self._mailbox(session, now)
            if self.config.evidence.keep_days:
                job = await enqueue(
                    session,
                    SweepEvidence(scheduled_at=hour),
                    dedupe_key=f"evidence_sweep:{hour.astimezone(UTC).isoformat()}",
                )
                new += job is not None
        if new:
            log.info("scheduled %s periodic job(s)", new)
            self.wake_worker()
        return new

    async def _mailbox(self, session: AsyncSession, now: datetime) -> int:
        """This period's mailbox read, once: periods are counted from the epoch in UTC."""
        mailbox = self.config.mailbox
        if mailbox is None:
            return 0
        every = mailbox.every.total_seconds()
        slot = datetime.fromtimestamp(now.timestamp() // every * every, UTC)
        job = await enqueue(
            session,
            ReadMailbox(scheduled_at=slot),
            dedupe_key=f"mailbox:{slot.isoformat()}",
            serial_key="mailbox",  # one read at a time, however many workers
        )
        return int(job is not None)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("scheduling failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=self.interval)
