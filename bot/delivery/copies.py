"""The notice as sent, kept: what a delivery writes to `notice_records`.

Each record carries the bytes that left (the adapter's `SentCopy`), their SHA-256, the notice's
facts as they were when it was built (so exports show what was sent, whatever app.yaml says
today), and a SHA-256 of the configuration it was built from (the rights holder, the right and
the channel's options, secrets masked), so a reader can tell two notices built from different
settings apart without the settings themselves.

Who keeps what: `bot.delivery.submit` the adapter's copy of a delivered notice (outcome `sent`)
and of a send whose outcome is unknown (`uncertain`, kept once: settled as arrived, it is what
arrived); `bot.delivery.record.record_awaiting_person` a portal's guide (`guide_copy`, outcome
`awaiting_person`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import platform_name
from bot.delivery.adapters.base import Adapter, OutgoingNotice, SentCopy
from storage import notice_records
from storage.models import NoticeRecord

# A record's `outcome` beside the notice states it was kept in (`sent`, `awaiting_person`): the
# send's outcome was unknown when it was kept (`bot.delivery.submit`).
UNCERTAIN = "uncertain"


def notice_facts(out: OutgoingNotice) -> dict[str, Any]:
    """The notice's parts as they were sent, JSON-ready."""
    return {
        "case": out.case_ref,
        "notice_id": out.notice_id,
        "platform": out.platform,
        "channel": out.channel,
        "brand": out.brand,
        "rights_holder": out.rights_holder.model_dump(mode="json"),
        "right": out.right.model_dump(mode="json"),
        "infringement": out.infringement,
        "description": out.description,
        "evidence": list(out.evidence),
        "evidence_items": [
            {
                "sha256": item.sha256,
                "name": item.name,
                "size": item.size,
                "media_type": item.media_type,
                "attached": item.attached,
            }
            for item in out.evidence_items
        ],
        "listings": [asdict(item) for item in out.listings],
        "subject": out.subject,
        "text": out.text,
        "eu": out.eu,
    }


def guide_copy(
    out: OutgoingNotice, fields: list[tuple[str, str]], *, portal: str, url: str
) -> SentCopy:
    """A portal guide as the person is shown it (`bot.delivery.record.record_awaiting_person`):
    where to file it, then every field as `label: value` (a value of several lines under its
    label, each line indented), in the guide's order."""
    count = len(out.listings)
    lines = [
        f"File this notice on {portal}" + (f": {url}" if url else ""),
        f"{count} {platform_name(out.platform)} listing{'s' if count != 1 else ''}. Copy each "
        "field into the form, then confirm with the complaint number.",
        "",
    ]
    for label, value in fields:
        if "\n" in value:
            lines += [f"{label}:", *(f"  {line}" for line in value.splitlines())]
        else:
            lines.append(f"{label}: {value}")
    return SentCopy("text/plain", ("\n".join(lines) + "\n").encode(), path=url or None)


def config_digest(out: OutgoingNotice, adapter: Adapter) -> str:
    """SHA-256 of the settings the notice was built from; secrets are masked by their types."""
    settings = {
        "rights_holder": out.rights_holder.model_dump(mode="json"),
        "right": out.right.model_dump(mode="json"),
        "channel": out.channel,
        "adapter": adapter.name,
        "options": adapter.options.model_dump(mode="json"),
    }
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def keep_sent(
    session: AsyncSession,
    *,
    case_id: int,
    out: OutgoingNotice,
    adapter: Adapter,
    copy: SentCopy,
    outcome: str,
    kind: str = "notice",
    facts: dict[str, Any] | None = None,
    actor: str = "bot",
) -> NoticeRecord:
    """Keep the notice as it went (or may have gone) to the platform; an answer to it is kept
    the same way, as kind "answer" with its own facts and the person who wrote it."""
    return await notice_records.keep(
        session,
        notice_records.NewRecord(
            notice_id=out.notice_id,
            case_id=case_id,
            kind=kind,
            outcome=outcome,
            adapter=adapter.name,
            channel=out.channel,
            media_type=copy.media_type,
            body=copy.body,
            message_id=copy.message_id,
            in_reply_to=copy.in_reply_to,
            path=copy.path,
            facts=notice_facts(out) if facts is None else facts,
            config_sha256=config_digest(out, adapter),
            actor=actor,
        ),
    )
