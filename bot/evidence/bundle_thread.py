"""`/report-listing bundle TD-42`: the bundle is built by a `bundle` job (never within the
command's 3-second answer), uploaded into the case's thread, and its SHA-256 is said there, with a
`bundle_built` event, as a chain-of-custody anchor: whoever holds the ZIP can check it is the one
the bot built."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.evidence.bundle import Bundle, build_bundle
from bot.evidence.case_records import BundleError
from bot.evidence.files import megabytes
from bot.jobs.backoff import is_transient, retry_after, with_retries
from bot.jobs.notify import enqueue_thread_reply
from bot.jobs.payloads import BuildBundle, enqueue, evidence_serial_key
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.mrkdwn import escape
from storage.cases import get_case
from storage.events import add_event
from storage.jobs import ClaimedJob

log = logging.getLogger("takedown.evidence")


async def queue_bundle(session: AsyncSession, *, case_id: int, requested_by: str) -> None:
    """Queue the case's `bundle` job (in the caller's transaction)."""
    await enqueue(
        session,
        BuildBundle(case_id=case_id, requested_by=requested_by),
        serial_key=evidence_serial_key(case_id),  # after the files being added now
    )


async def run_bundle(rt: Runtime, ctx: JobContext[BuildBundle]) -> None:
    """The `bundle` job: build, upload into the thread, say its SHA-256."""
    args = ctx.args
    async with rt.db.sessions() as session:
        case = await get_case(session, args.case_id)
    if case is None:
        raise JobFailed(f"case {args.case_id} does not exist")
    if case.channel_id is None or case.thread_ts is None:
        raise RetryLater(f"{case_ref(args.case_id)}'s thread is not posted yet", delay=30)
    try:
        bundle = await build_bundle(rt.db, rt.evidence, rt.config, case_id=args.case_id)
    except BundleError as exc:
        await _say(
            rt,
            ctx,
            f":warning: <@{args.requested_by}>, the bundle could not be built: {escape(str(exc))}",
        )
        return
    try:
        await with_retries(
            lambda: rt.slack.files_upload_v2(
                channel=case.channel_id,
                thread_ts=case.thread_ts,
                content=bundle.data,
                filename=bundle.filename,
                title=f"{bundle.ref} evidence bundle",
            )
        )
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        if is_transient(exc):
            raise RetryLater(f"Slack: {error}", delay=retry_after(exc)) from None
        raise JobFailed(f"Slack refused {bundle.filename}: {error}") from None
    await _say(rt, ctx, anchor_text(bundle, by=args.requested_by), bundle=bundle)
    log.info("%s: bundle uploaded (%s)", bundle.ref, bundle.sha256)


def anchor_text(bundle: Bundle, *, by: str) -> str:
    return (
        f":package: {bundle.filename} ({megabytes(len(bundle.data))}), asked for by <@{by}>.\n"
        f"SHA-256 `{bundle.sha256}`\n"
        "Check a copy with `sha256sum`; inside, `sha256sum -c MANIFEST.sha256` checks every file."
    )


async def _say(
    rt: Runtime, ctx: JobContext[BuildBundle], text: str, *, bundle: Bundle | None = None
) -> None:
    args = ctx.args
    async with rt.db.transaction() as session:
        if bundle is not None:
            detail = {"sha256": bundle.sha256, "size": len(bundle.data), "file": bundle.filename}
            await add_event(
                session,
                case_id=args.case_id,
                actor=args.requested_by,
                kind="bundle_built",
                detail=detail,
            )
        await enqueue_thread_reply(session, case_id=args.case_id, text=text)
        await ctx.complete(session)


async def on_bundle_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """A bundle that could not be uploaded after every try is said in the thread."""
    case_id, by = int(job.payload["case_id"]), str(job.payload.get("requested_by") or "")
    text = (
        f":warning: <@{by}>, {case_ref(case_id)}'s bundle could not be uploaded: "
        f"{escape(rt.scrub(error))}. `takedown-bot bundle {case_ref(case_id)}` builds it too."
    )
    async with rt.db.transaction() as session:
        await enqueue_thread_reply(session, case_id=case_id, text=text)
