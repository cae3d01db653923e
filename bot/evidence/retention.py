"""Retention: evidence older than `evidence.keep_days` is deleted, its rows and then its bytes.

The scheduler queues the `evidence_sweep` job hourly when `keep_days` is set (`bot.jobs.schedule`,
exactly once across workers). A sweep deletes the old items' rows (committed first: a row never
names bytes that are gone), then removes from the store each of their objects that no remaining
item names (two items may share bytes: the store is content-addressed). A sweep that dies between
the two leaves bytes no row names, which the next sweeps do not see: room lost, no evidence lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.jobs.payloads import SweepEvidence
from bot.jobs.worker import JobContext
from bot.runtime import Runtime
from storage import evidence

log = logging.getLogger("takedown.evidence")


async def sweep_evidence(rt: Runtime, *, now: datetime) -> tuple[int, int]:
    """Delete the evidence older than `keep_days` at `now`: (items deleted, objects removed)."""
    keep_days = rt.config.evidence.keep_days
    if not keep_days:
        return 0, 0
    async with rt.db.transaction() as session:
        old = await evidence.items_older_than(session, now - timedelta(days=keep_days))
        await evidence.delete_items(session, [item.id for item in old if item.id is not None])
        digests = sorted({item.sha256 for item in old})
        kept = await evidence.still_used(session, digests)
    gone = [digest for digest in digests if digest not in kept]
    for digest in gone:
        await rt.evidence.remove(digest)
    return len(old), len(gone)


async def run_evidence_sweep(rt: Runtime, ctx: JobContext[SweepEvidence]) -> None:
    """The hourly `evidence_sweep` job."""
    items, objects = await sweep_evidence(rt, now=rt.clock())
    if items:
        log.info("evidence retention: deleted %s item(s) and %s object(s)", items, objects)
    async with rt.db.transaction() as session:
        await ctx.complete(session)
