"""The evidence that goes with a notice, read before it is built (`bot.delivery.submit`).

Which items: the case's files people added, and the captures of the notice's listings that show
the listing (`storage.evidence.items_for_notice`). Each gets a signed download link
(`bot.evidence.links`) when the bot can make one. A channel that attaches files (email,
`Adapter.attaches_files`) gets the bytes of as many as fit in `evidence.attach_max_mb`, in the
case's order; a WARC record is linked, never attached (a platform's reviewer cannot open one).
The adapters never read the database or the store: the bytes travel in the `OutgoingNotice`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from bot.delivery.adapters.base import Adapter, EvidenceRef
from bot.evidence.files import MB
from bot.evidence.links import evidence_links
from bot.evidence.store import EvidenceStoreError
from bot.runtime import Runtime
from storage import evidence
from storage.models import EvidenceItem, Listing

log = logging.getLogger("takedown.delivery")

NEVER_ATTACHED = frozenset({"capture"})  # WARC records: listed with their link only


async def evidence_for(
    rt: Runtime, *, case_id: int, listings: Sequence[Listing], adapter: Adapter
) -> tuple[EvidenceRef, ...]:
    """The evidence items that go with a notice on `listings`, linked, and attached where the
    channel attaches files and they fit."""
    async with rt.db.sessions() as session:
        items = await evidence.items_for_notice(
            session, case_id, [item.id for item in listings if item.id is not None]
        )
    links = evidence_links(rt.settings.env, days=rt.config.evidence.link_days)
    budget = int(rt.config.evidence.attach_max_mb * MB) if adapter.attaches_files else 0
    now = rt.clock()
    refs: list[EvidenceRef] = []
    seen: set[str] = set()
    for item in items:
        if item.sha256 in seen:
            continue
        seen.add(item.sha256)
        data = await _attachment(rt, item, budget)
        budget -= len(data or b"")
        made = links.link(item.sha256, now=now)
        refs.append(
            EvidenceRef(
                sha256=item.sha256,
                name=item.name,
                media_type=item.media_type,
                size=item.size,
                kind=item.kind,
                url=made[0] if made else None,
                expires_at=made[1] if made else None,
                data=data,
            )
        )
    return tuple(refs)


async def _attachment(rt: Runtime, item: EvidenceItem, budget: int) -> bytes | None:
    """The item's bytes if they are attached: within what is left of the budget, not a WARC,
    and readable from the store (one that is not goes as a link, and the log says why)."""
    if item.kind in NEVER_ATTACHED or item.size > budget:
        return None
    try:
        return await rt.evidence.get(item.sha256)
    except EvidenceStoreError as exc:
        log.warning("evidence %s not attached: %s", item.sha256, exc)
        return None
