"""Planning a case's notices, and queueing the jobs that deliver (`submit`), follow (`poll`) and
look up (`lookup`, a notice whose fate is unknown) them.

A case's listings are grouped by platform and split by the channel's batch size: each group is one
notice, `pending`, with a submit job queued beside it in the intake's transaction.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config.schema import AppConfig
from bot.delivery.adapters import adapter_class
from bot.jobs import payloads
from bot.jobs.payloads import LookupNotice, PollNotice, SubmitNotice
from storage.models import Notice
from storage.notices import PlannedNotice, insert_notices


async def plan_notices(
    session: AsyncSession, *, config: AppConfig, case_id: int, platforms: Sequence[str]
) -> list[int]:
    """Notices for a new case whose listings (not stored yet) are on `platforms`, by position:
    grouped by platform, split by the channel's batch size, a submit job queued for each.
    Returns each position's notice id, for the listings to be inserted with.

    Set-based, and before the listings, so they are written once: a 10,000-listing case's
    hundreds of notices and jobs cost two statements."""
    by_platform: dict[str, list[int]] = defaultdict(list)
    for position, platform in enumerate(platforms):
        by_platform[platform].append(position)
    planned: list[PlannedNotice] = []
    members: list[list[int]] = []  # the positions of each planned notice
    for platform, positions in by_platform.items():
        channel, entry = config.channel_for(platform)
        size = adapter_class(entry.adapter).max_batch
        for batch, start in enumerate(range(0, len(positions), size)):
            planned.append(
                PlannedNotice(
                    platform=platform,
                    channel=channel,
                    adapter=entry.adapter,
                    batch=batch,
                    idempotency_key=f"TD-{case_id}.{platform}.{batch}.{uuid.uuid4().hex[:12]}",
                )
            )
            members.append(positions[start : start + size])
    notice_ids = await insert_notices(session, case_id=case_id, planned=planned)
    await payloads.enqueue_many(
        session,
        [
            (SubmitNotice(notice_id=notice_id, case_id=case_id), f"submit:{notice_id}")
            for notice_id in notice_ids
        ],
    )
    notice_of = [0] * len(platforms)
    for notice_id, positions in zip(notice_ids, members, strict=True):
        for position in positions:
            notice_of[position] = notice_id
    return notice_of


async def enqueue_submit(session: AsyncSession, *, notice_id: int, case_id: int) -> None:
    """Queue one more submit job for a notice (a person sends it again)."""
    await payloads.enqueue(
        session,
        SubmitNotice(notice_id=notice_id, case_id=case_id),
        dedupe_key=f"submit:{notice_id}:{uuid.uuid4().hex[:8]}",
    )


# How often a held notice's platform is asked whether the notice arrived, once the submit job's
# own backoff has run out (`bot.delivery.lookup`). The platform was failing to answer for the whole
# backoff (about a day and a half by default), so a fast rate would only add load to an API in
# trouble and to our rate limit; a held notice is shown to people meanwhile, who may resolve it
# sooner. Every half hour settles a hold soon enough after the platform recovers.
LOOKUP_EVERY = timedelta(minutes=30)


async def enqueue_lookup(session: AsyncSession, notice: Notice, *, attempt: int) -> None:
    """Queue the next lookup of a held notice, `LOOKUP_EVERY` from now on the database's clock.
    `attempt` is the notice's count of sends when it was held: a later hold of it looks itself
    up."""
    assert notice.id is not None
    await payloads.enqueue(
        session,
        LookupNotice(notice_id=notice.id, case_id=notice.case_id, attempt=attempt),
        delay=LOOKUP_EVERY,
        dedupe_key=f"lookup:{notice.id}:{uuid.uuid4().hex[:8]}",
    )


async def enqueue_poll(session: AsyncSession, notice: Notice, *, config: AppConfig) -> None:
    """Queue the next poll of a sent notice, after its channel's `poll_every` (±10 %, so the
    polls of a bulk case spread out) counted on the database's clock: a host whose clock lags
    does not poll early."""
    _, entry = config.channel_for(notice.platform)
    delay = entry.poll_every.total_seconds() * random.uniform(0.9, 1.1)
    assert notice.id is not None
    await payloads.enqueue(
        session,
        PollNotice(notice_id=notice.id, case_id=notice.case_id),
        delay=timedelta(seconds=delay),
        dedupe_key=f"poll:{notice.id}:{uuid.uuid4().hex[:8]}",
    )
