"""Which case (and notice) a message from the mailbox is about, tried in this order:

1. `reply_header`: its In-Reply-To or References name an emailed notice's Message-ID (the one kept
   with the notice, or the deterministic one our email adapter makes from the notice's key);
2. `case_ref`: `TD-<n>` in its subject or text, for a case that exists;
3. `complaint_number`: a platform's complaint number that a person typed when confirming a portal
   submission (the notice's reference) appears in it as a word;
4. `listing`: listing URLs in it (read with the intake's parser) name open listings of one case;
5. `sender`: its sender's domain is a platform's (`phrases/*.yaml` `senders`), and exactly one
   notice to that platform awaits a decision.

The first rule that finds something decides; nothing found is `None` (triage).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.listings import ListingURLError, find_urls, parse_listing_url
from bot.delivery.adapters.email import MESSAGE_ID_DOMAIN
from bot.mailbox.classify import platforms_of_sender
from bot.mailbox.message import ReadMessage
from storage import mailbox as store
from storage.cases import get_case
from storage.models import Notice

_CASE_REF = re.compile(r"(?<![A-Za-z0-9])TD-(\d{1,12})(?![0-9])", re.IGNORECASE)
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{3,63}")
_MAX_TOKENS = 5_000
_MAX_URLS = 200


@dataclass(frozen=True)
class Match:
    case_id: int
    notice_id: int | None
    platform: str | None
    matched_by: str


def _of(notice: Notice, matched_by: str) -> Match:
    assert notice.id is not None
    return Match(notice.case_id, notice.id, notice.platform, matched_by)


async def match_message(session: AsyncSession, message: ReadMessage) -> Match | None:
    """The case `message` is about, by the first rule that finds one."""
    searched = f"{message.subject or ''}\n{message.text}"
    for rule in (_by_reply_header, _by_case_ref, _by_complaint_number, _by_listing, _by_sender):
        found = await rule(session, message, searched)
        if found is not None:
            return found
    return None


async def _by_reply_header(session: AsyncSession, message: ReadMessage, _text: str) -> Match | None:
    notices = await store.notices_by_message_id(session, message.answers)
    if not notices:
        suffix = f"@{MESSAGE_ID_DOMAIN}>"
        keys = [ident[1 : -len(suffix)] for ident in message.answers if ident.endswith(suffix)]
        notices = await store.notices_by_key(session, keys)
    return _of(notices[0], "reply_header") if notices else None


async def _by_case_ref(session: AsyncSession, message: ReadMessage, text: str) -> Match | None:
    for found in dict.fromkeys(int(m.group(1)) for m in _CASE_REF.finditer(text)):
        if await get_case(session, found) is None:
            continue
        notice, platform = await notice_in_case(session, found, sender=message.sender)
        return _of(notice, "case_ref") if notice else Match(found, None, platform, "case_ref")
    return None


async def notice_in_case(
    session: AsyncSession, case_id: int, *, sender: str | None
) -> tuple[Notice | None, str | None]:
    """Which of the case's notices an email from `sender` answers (the one to the sender's
    platform, or the only one; None if that leaves several), and its platform (else the
    sender's)."""
    notices = await store.notices_of_case(session, case_id)
    platforms = platforms_of_sender(sender)
    chosen = [n for n in notices if n.platform in platforms] or notices
    if len(chosen) == 1:
        return chosen[0], chosen[0].platform
    return None, platforms[0] if platforms else None


async def _by_complaint_number(
    session: AsyncSession, _message: ReadMessage, text: str
) -> Match | None:
    tokens = [t for t in _TOKEN.findall(text)[:_MAX_TOKENS] if any(c.isdigit() for c in t)]
    notices = await store.notices_by_reference(session, tokens)
    return _of(notices[0], "complaint_number") if notices else None


async def _by_listing(session: AsyncSession, _message: ReadMessage, text: str) -> Match | None:
    keys: list[str] = []
    for url in find_urls(text)[:_MAX_URLS]:
        try:
            keys.append(parse_listing_url(url).key)
        except ListingURLError:
            continue
    listings = await store.open_listings_by_key(session, keys)
    cases = {listing.case_id for listing in listings}
    if len(cases) != 1:
        return None
    notices = {listing.notice_id for listing in listings}
    notice_id = notices.pop() if len(notices) == 1 else None
    return Match(cases.pop(), notice_id, listings[0].platform, "listing")


async def _by_sender(session: AsyncSession, message: ReadMessage, _text: str) -> Match | None:
    platforms = platforms_of_sender(message.sender)
    if not platforms:
        return None
    notices = await store.notices_awaiting_on(session, platforms)
    return _of(notices[0], "sender") if len(notices) == 1 else None
