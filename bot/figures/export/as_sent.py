"""A notice as it was sent, as the exports show it: its kept record (`storage.notice_records`).

`as_sent` is null for a notice with no kept record: never sent, or sent before the bot kept
notices. An export never fills that gap with today's app.yaml silently (docs/export.md).
"""

from __future__ import annotations

import base64
from typing import Any

from bot.figures.export.records import iso
from storage.models import NoticeRecord


def as_sent(kept: NoticeRecord | None, *, content: bool) -> dict[str, Any] | None:
    """The record's identity (time, outcome, adapter, SHA-256s, Message-ID or path) and, with
    `content`, the notice's facts and its exact bytes (`body`: UTF-8 text when the bytes are
    UTF-8, else base64, as `body_encoding` says)."""
    if kept is None:
        return None
    out: dict[str, Any] = {
        "record_id": kept.id,
        "kept_at": iso(kept.created_at),
        "outcome": kept.outcome,
        "adapter": kept.adapter,
        "channel": kept.channel,
        "media_type": kept.media_type,
        "sha256": kept.sha256,
        "config_sha256": kept.config_sha256,
        "message_id": kept.message_id,
        "path": kept.path,
    }
    if content:
        out["facts"] = kept.facts
        out.update(_body(kept.body))
    return out


def _body(raw: bytes) -> dict[str, str]:
    try:
        return {"body": raw.decode("utf-8"), "body_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(raw).decode("ascii"), "body_encoding": "base64"}
