"""`GET /evidence/{sha256}?exp=…&sig=…`: an evidence item's bytes, for whoever holds a link the
bot made (`bot.evidence.links`) and sent with a notice.

Refusals say nothing of why: a bad or expired link is 403, a well-signed link to bytes that are
no evidence item of any case (or no longer in the store) is 404, each with a fixed body. Only
items the bot could have sent are served (`storage.evidence.item_by_sha256`): files people added
and captures, never a notice or a message. The bytes go out as an attachment with the item's
media type, `nosniff`, so a browser never renders an uploaded HTML file as a page of the bot.
"""

from __future__ import annotations

import logging

from aiohttp import web

from bot.evidence.links import evidence_links
from bot.evidence.store import EvidenceStoreError, check_digest
from bot.runtime import Runtime
from storage.evidence import item_by_sha256

log = logging.getLogger("takedown.evidence")

_NOT_ALLOWED = "this link is not valid\n"
_NOT_FOUND = "not found\n"


def _filename(name: str) -> str:
    """A Content-Disposition filename: one line, no quotes or backslashes, ASCII (the original
    is in the bundle and the notice)."""
    safe = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
    return safe.strip()[:150] or "evidence"


def _media_type(text: str) -> str:
    kind = text.split(";")[0].strip().lower()
    main, _, sub = kind.partition("/")
    if not (main and sub and kind.isascii() and kind.isprintable() and " " not in kind):
        return "application/octet-stream"
    return kind


async def serve_evidence(rt: Runtime, request: web.Request) -> web.StreamResponse:
    sha256 = request.match_info.get("sha256", "")
    try:
        check_digest(sha256)
    except EvidenceStoreError:
        return web.Response(status=404, text=_NOT_FOUND)
    links = evidence_links(rt.settings.env, days=rt.config.evidence.link_days)
    query = request.query
    if not links.valid(sha256, exp=query.get("exp", ""), sig=query.get("sig", ""), now=rt.clock()):
        return web.Response(status=403, text=_NOT_ALLOWED)
    async with rt.db.sessions() as session:
        item = await item_by_sha256(session, sha256)
    if item is None:
        return web.Response(status=404, text=_NOT_FOUND)
    try:
        data = await rt.evidence.get(sha256)
    except EvidenceStoreError as exc:
        log.warning("evidence link to %s: %s", sha256, exc)
        return web.Response(status=404, text=_NOT_FOUND)
    return web.Response(
        body=data,
        headers={
            "Content-Type": _media_type(item.media_type),
            "Content-Disposition": f'attachment; filename="{_filename(item.name)}"',
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
