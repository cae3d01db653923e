"""The body of the webhook channel's answer message (`POST {base_url}/notices/{reference}/messages`):
a person's answer to the receiver's request for information, as docs/webhook.md describes it."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

from bot.delivery.adapters.base import OutgoingAnswer, OutgoingNotice


def answer_payload(notice: OutgoingNotice, answer: OutgoingAnswer) -> dict[str, Any]:
    """The JSON body of `POST /notices/{reference}/messages` (documented in docs/webhook.md)."""
    return {
        "kind": "answer",
        "answer_id": answer.answer_id,
        "idempotency_key": answer.idempotency_key,
        "notice_id": notice.notice_id,
        "reference": notice.reference,
        "case": answer.case_ref,
        "message": answer.message,
        "evidence": list(answer.evidence),
        "listings": [
            {"listing_id": item.listing_id, "key": item.key, "url": item.url}
            for item in answer.listings
        ],
        "files": [
            {
                "name": item.name,
                "media_type": item.media_type,
                "size": len(item.data),
                "sha256": hashlib.sha256(item.data).hexdigest(),
                "content_base64": base64.b64encode(item.data).decode("ascii"),
            }
            for item in answer.files
        ],
        "text": answer.text,
        "sent_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
