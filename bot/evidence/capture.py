"""The `capture` job: a listing's page fetched once after the report is filed, kept as evidence.

Intake queues one job per listing whose platform has `capture: true` (`bot.intake.cases`), in the
case's own transaction. A job fetches the page under the short-link guard (`bot.evidence.fetch`),
within the platform's concurrency and rate limits (the channels' `max_concurrency` and
`rate_per_minute`, counted apart from deliveries), judges what came back (`bot.evidence.verdicts`),
keeps the exchange as a WARC in the evidence store and records an `EvidenceItem` (kind `capture`)
with the verdict. With `evidence.screenshot: true`, a listing's page is also rendered to a PNG and
a PDF (`bot.evidence.screenshot`).

A fetch is made once: what it found (a captcha, an error) is the record, not retried. A run that
finds its listing already captured (its worker died after recording it) records nothing again.
The captures of one case record their results one at a time (a lock on the case's row), so the one
that records the last of them knows it, and queues the case's one thread line saying how they went.
"""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.platforms import platform_name
from bot.evidence.fetch import PageFetch, decoded_body, decoded_text, fetch_page
from bot.evidence.screenshot import Rendering, render_page
from bot.evidence.verdicts import SAID, Judgement, Verdict, judge
from bot.evidence.warc import MEDIA_TYPE, capture_warc
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import CaptureListing
from bot.jobs.worker import JobContext
from bot.runtime import Runtime
from storage import evidence
from storage.models import EvidenceItem, Listing

log = logging.getLogger("takedown.evidence")


def judged(platform: str, fetch: PageFetch) -> Judgement:
    """The verdict on a fetch: a fetch that stopped short is an error, whatever it got so far."""
    last = fetch.last
    if last is None or fetch.problem:
        return Judgement(Verdict.ERROR, fetch.problem or "nothing was fetched")
    judgement = judge(
        platform=platform,
        requested_url=fetch.requested_url,
        final_url=fetch.final_url,
        status=last.status,
        page=decoded_text(last),
    )
    if last.truncated:
        cut = "the page was larger than the capture's limit; only its beginning is kept"
        return Judgement(judgement.verdict, f"{judgement.note}; {cut}" if judgement.note else cut)
    return judgement


def _item(listing: Listing, kind: str, **fields: object) -> EvidenceItem:
    assert listing.id is not None
    return EvidenceItem(
        case_id=listing.case_id,
        listing_id=listing.id,
        kind=kind,
        source_url=listing.url,
        **fields,  # type: ignore[arg-type]
    )


async def run_capture(rt: Runtime, ctx: JobContext[CaptureListing]) -> None:
    """Capture one listing's page (see the module's docstring)."""
    args = ctx.args
    async with rt.db.reading() as session:
        listing = await evidence.listing_at(session, args.case_id, args.position)
        done = (
            listing is None or listing.id is None or await evidence.has_capture(session, listing.id)
        )
    if listing is None or done or not rt.config.captures(listing.platform):
        async with rt.db.transaction() as session:
            await ctx.complete(session)
        return
    channel, entry = rt.config.channel_for(listing.platform)
    assert rt.capture_limits is not None
    async with rt.capture_limits.slot(channel, entry):
        fetch = await fetch_page(listing.url, http=rt.http, policy=rt.capture_hosts)
    judgement = judged(listing.platform, fetch)
    kept = await rt.evidence.put(capture_warc(fetch, judgement))
    items = [
        _item(
            listing,
            "capture",
            sha256=kept.sha256,
            size=kept.size,
            media_type=MEDIA_TYPE,
            name=f"{listing.platform}-{_safe(listing.key)}.warc.gz",
            verdict=str(judgement.verdict),
            note=judgement.note,
        )
    ]
    if rt.config.evidence.screenshot and judgement.verdict is Verdict.LISTING:
        rendered, problem = await _renderings(rt, listing, fetch)
        items += rendered
        if problem:
            items[0].note = f"no screenshot: {problem}"
    log.info("captured %s: %s", listing.url, judgement.verdict)
    async with rt.db.transaction() as session:
        await evidence.lock_case_captures(session, args.case_id)
        if not await evidence.has_capture(session, items[0].listing_id or 0):
            for item in items:
                await evidence.add_item(session, item)
            await _say_when_all_done(rt, session, args.case_id)
        await ctx.complete(session)


async def _renderings(
    rt: Runtime, listing: Listing, fetch: PageFetch
) -> tuple[list[EvidenceItem], str | None]:
    """The page's screenshot and PDF as items, or why there are none (Chromium is missing or
    failed: the capture stands without them, and its note says so)."""
    last = fetch.last
    assert last is not None
    rendering: Rendering = await render_page(decoded_body(last))
    if rendering.problem:
        log.warning("no screenshot of %s: %s", listing.url, rendering.problem)
        return [], rendering.problem
    items = []
    stem = f"{listing.platform}-{_safe(listing.key)}"
    note = "rendered from the captured page, without loading anything else"
    cut_at = rendering.cut_at
    cut = f"; the screenshot stops at {cut_at:,} px (the PDF has it all)" if cut_at else ""
    for kind, data, media_type, suffix, more in (
        ("screenshot", rendering.png, "image/png", "png", cut),
        ("page_pdf", rendering.pdf, "application/pdf", "pdf", ""),
    ):
        kept = await rt.evidence.put(data)
        items.append(
            _item(
                listing,
                kind,
                sha256=kept.sha256,
                size=kept.size,
                media_type=media_type,
                name=f"{stem}.{suffix}",
                verdict=str(Verdict.LISTING),
                note=note + more,
            )
        )
    return items, None


def _safe(key: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in key)[:80]


async def _say_when_all_done(rt: Runtime, session: AsyncSession, case_id: int) -> None:
    platforms = await evidence.listing_platforms(session, case_id)
    expected = sum(count for platform, count in platforms.items() if rt.config.captures(platform))
    if await evidence.capture_count(session, case_id) == expected:
        verdicts = await evidence.capture_verdicts(session, case_id)
        await enqueue_thread_reply(session, case_id=case_id, text=capture_line(verdicts))


def capture_line(verdicts: list[tuple[str, str]]) -> str:
    """The thread's line once a case's captures are done: "Captured 3 of 4 listings; 1 was a
    captcha page (Taobao)". `verdicts`: (platform, verdict) of each capture."""
    total = len(verdicts)
    good = sum(1 for _, verdict in verdicts if verdict == Verdict.LISTING)
    line = f"Captured {good} of {total} listing{'s' if total != 1 else ''} as evidence"
    others = Counter(
        (Verdict(verdict), platform) for platform, verdict in verdicts if verdict != Verdict.LISTING
    )
    parts = []
    for verdict in SAID:
        platforms = [platform for (said, platform) in others if said is verdict]
        count = sum(others[(verdict, platform)] for platform in platforms)
        if count:
            one, several = SAID[verdict]
            names = ", ".join(sorted({platform_name(p) for p in platforms}))
            parts.append(f"{count} {one if count == 1 else several} ({names})")
    if parts:
        line += "; " + "; ".join(parts) + ". Those pages are kept but not shown as the listing"
    return line + "."
