"""Delivery: a case's listings become notices, one per platform channel and batch, each sent by
its adapter through a durable `submit` job.
"""

from __future__ import annotations

import uuid
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters import adapter_class
from bot.config import AppConfig
from storage import jobs, queries
from storage.models import Notice


async def plan_notices(session: AsyncSession, *, config: AppConfig, case_id: int) -> list[int]:
    """Group a new case's listings by platform, split by the channel's batch size, queue a submit each."""
    by_platform: dict[str, list[int]] = defaultdict(list)
    for listing in await queries.case_listings(session, case_id):
        assert listing.id is not None
        by_platform[listing.platform].append(listing.id)
    notice_ids = []
    for platform, listing_ids in by_platform.items():
        channel, entry = config.channel_for(platform)
        size = adapter_class(entry.adapter).max_batch
        for batch, start in enumerate(range(0, len(listing_ids), size)):
            notice = await queries.insert_notice(
                session,
                Notice(
                    case_id=case_id,
                    platform=platform,
                    channel=channel,
                    adapter=entry.adapter,
                    batch=batch,
                    idempotency_key=f"TD-{case_id}.{platform}.{batch}.{uuid.uuid4().hex[:12]}",
                ),
                listing_ids[start : start + size],
            )
            assert notice.id is not None
            await jobs.enqueue(
                session,
                kind="submit",
                payload={"notice_id": notice.id, "case_id": case_id},
                dedupe_key=f"submit:{notice.id}",
            )
            notice_ids.append(notice.id)
    return notice_ids
