"""Slack side effects after the first reply, as durable `notify` jobs.

Every post to a case's thread and every update of its parent message is a job with the case's
serial key, so a Slack outage or rate limit delays messages but loses none, and a case's replies
arrive in the order they were written. Thread replies are rendered when the event happens (they
are history); the parent message is rendered from the database when the job runs (it is state).

A `notify` job's payload is one of four models told apart by `op` (`bot.jobs.payloads.Notify`):
a thread reply, the parent's first post, a parent update, or a post in another channel.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.jobs.backoff import is_transient, record_after_effect, retry_after, with_retries
from bot.jobs.coalesce import Missing
from bot.jobs.loaders import PARENT_PREVIEW
from bot.jobs.payloads import (
    CaseMessage,
    ChannelPost,
    Notify,
    PostParent,
    ThreadReply,
    UpdateParent,
    enqueue,
)
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from bot.slack_ui.case_message import case_message
from storage.cases import CaseSummary, case_summaries, set_thread
from storage.events import add_event
from storage.models import Case

log = logging.getLogger("takedown.notify")

Rendered = tuple[str, list[dict[str, Any]]]  # a message's text and blocks


def _serial(case_id: int) -> str:
    return f"case:{case_id}"


async def enqueue_thread_reply(
    session: AsyncSession,
    *,
    case_id: int,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    refresh_parent: bool = False,
) -> None:
    """Queue a reply in the case's status thread (in the caller's transaction); with
    `refresh_parent`, the same job then updates the parent message's summary."""
    reply = ThreadReply(case_id=case_id, text=text, blocks=blocks, refresh_parent=refresh_parent)
    await enqueue(session, reply, serial_key=_serial(case_id))


async def enqueue_parent_post(session: AsyncSession, *, case_id: int) -> None:
    """Queue the first post of a new case's parent message; queued before anything else of the
    case, it runs first, so the thread exists before any reply."""
    await enqueue(session, PostParent(case_id=case_id), serial_key=_serial(case_id))


async def enqueue_parent_update(session: AsyncSession, *, case_id: int) -> None:
    """Queue a refresh of the case's parent message (rendered from the database when it runs)."""
    await enqueue(session, UpdateParent(case_id=case_id), serial_key=_serial(case_id))


async def enqueue_channel_post(
    session: AsyncSession, *, channel: str, text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Queue a message to a channel that is not a case thread (escalations, digests' text)."""
    post = ChannelPost(channel=channel, text=text, blocks=blocks)
    await enqueue(session, post, serial_key=f"channel:{channel}")


def render_parent(rt: Runtime, case: Case, summary: CaseSummary) -> Rendered:
    """The case's parent message: what it is, who reported it, its listings' figures."""
    assert case.id is not None
    found = rt.config.right(case.right_id)
    return case_message(
        ref=case_ref(case.id),
        brand=case.brand,
        right_label=found[1].label() if found else case.right_id,
        infringement=case.infringement,
        reporter_id=case.reporter_id,
        created_at=case.created_at,
        zone=rt.config.team.zone,
        counts=summary.counts,
        listings=[(item.platform, item.url, item.status) for item in summary.listings],
        description=case.description,
    )


async def parent_message(rt: Runtime, session: AsyncSession, case: Case) -> Rendered:
    """The case's parent message as it stands in the database now."""
    assert case.id is not None
    summaries = await case_summaries(session, [case.id], preview=PARENT_PREVIEW)
    return render_parent(rt, case, summaries[case.id])


async def run_notify(rt: Runtime, ctx: JobContext[Notify]) -> None:
    """The `notify` job: a post in a channel, or a case's parent message or thread reply."""
    if isinstance(ctx.args, ChannelPost):
        await _post_to_channel(rt, ctx.args)
    else:
        await _post_to_case(rt, ctx, ctx.args)


async def _post_to_channel(rt: Runtime, post: ChannelPost) -> None:
    try:
        await _post_in_channel(rt, channel=post.channel, text=post.text, blocks=post.blocks or [])
    except SlackApiError as exc:
        raise _failure(exc, f"Slack refused a post in {post.channel}") from None


async def _post_to_case(rt: Runtime, ctx: JobContext[Notify], message: CaseMessage) -> None:
    case_id = message.case_id
    # Read together with the other notify jobs running now (one statement for all of them).
    try:
        case = await rt.loads.case(case_id)
    except Missing:
        raise JobFailed(f"case {case_id} does not exist") from None
    # The parent is rendered only when it is posted or updated (a reply needs only its ts).
    needs_parent = (
        not isinstance(message, ThreadReply) or case.thread_ts is None or message.refresh_parent
    )
    parent = render_parent(rt, case, await rt.loads.summary(case_id)) if needs_parent else ("", [])
    try:
        match message:
            case PostParent():
                await _post_parent(rt, ctx, case, parent)
            case UpdateParent() if case.thread_ts is None:
                await _post_parent(rt, ctx, case, parent)
            case UpdateParent():
                await _update_parent(rt, case, parent)
            case ThreadReply():
                await _reply_in_thread(rt, message, case, parent)
    except SlackApiError as exc:
        raise _failure(exc, f"Slack refused {message.op} for {case_ref(case_id)}") from None


async def _reply_in_thread(rt: Runtime, reply: ThreadReply, case: Case, parent: Rendered) -> None:
    """Post the reply in the case's thread (the parent first, if it is not out yet); with
    `refresh_parent`, then update the parent's summary."""
    if case.thread_ts is None:
        case = await _post_parent(rt, None, case, parent)
    assert case.channel_id is not None and case.thread_ts is not None
    await _slack(
        rt,
        "chat_postMessage",
        channel=case.channel_id,
        thread_ts=case.thread_ts,
        text=reply.text,
        blocks=reply.blocks,
        unfurl_links=False,
        unfurl_media=False,
    )
    if reply.refresh_parent:
        # Posted, so never post it again on a retry: a failed refresh is only logged; the next
        # change refreshes the summary anyway.
        try:
            await _update_parent(rt, case, parent)
        except SlackApiError as exc:
            log.warning(
                "could not refresh %s's parent message: %s",
                case_ref(reply.case_id),
                exc.response.get("error"),
            )


def _failure(exc: SlackApiError, refused: str) -> RetryLater | JobFailed:
    """What a Slack error makes of the job: a later try if it is transient, else dead-lettered."""
    error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
    if is_transient(exc):
        return RetryLater(f"Slack: {error}", delay=retry_after(exc))
    return JobFailed(f"{refused}: {error}")


async def _post_parent(
    rt: Runtime, ctx: JobContext[Notify] | None, case: Case, parent: Rendered
) -> Case:
    """Post the case's parent message once and remember its ts (a retried job does not post again)."""
    assert case.id is not None
    if case.thread_ts is not None:
        return case
    channel = case.channel_id or await _dm_channel(rt, case.reporter_id)
    text, blocks = parent
    response = await _post_in_channel(rt, channel=channel, text=text, blocks=blocks)
    ts = str(response["ts"])
    channel = str(response.get("channel") or channel)
    assert case.id is not None
    case_id = case.id

    async def record() -> None:
        async with rt.db.transaction() as session:
            await set_thread(session, case_id=case_id, channel_id=channel, thread_ts=ts)
            await add_event(
                session,
                case_id=case_id,
                actor="bot",
                kind="thread_started",
                detail={"channel": channel, "ts": ts},
            )
            if ctx is not None:
                await ctx.complete(session)

    await record_after_effect(record)  # posted: never post it again for a database restart
    case.channel_id, case.thread_ts = channel, ts
    return case


async def _update_parent(rt: Runtime, case: Case, parent: Rendered) -> None:
    """Replace the case's parent message with its current rendering."""
    assert case.channel_id is not None and case.thread_ts is not None
    text, blocks = parent
    await _slack(
        rt, "chat_update", channel=case.channel_id, ts=case.thread_ts, text=text, blocks=blocks
    )


async def _post_in_channel(
    rt: Runtime, *, channel: str, text: str, blocks: list[dict[str, Any]]
) -> Any:
    try:
        return await _slack(
            rt, "chat_postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False
        )
    except SlackApiError as exc:
        if exc.response.get("error") in ("not_in_channel", "channel_not_found"):
            # chat:write.public covers public channels; a private one needs an invitation.
            raise JobFailed(
                f"cannot post in channel {channel}: invite the bot there (/invite @takedown-bot) "
                "or set team.report_channel"
            ) from None
        raise


async def _dm_channel(rt: Runtime, user_id: str) -> str:
    response = await _slack(rt, "conversations_open", users=user_id)
    return str(response["channel"]["id"])


async def _slack(rt: Runtime, method: str, **kwargs: Any) -> Any:
    call = getattr(rt.slack, method)
    return await with_retries(lambda: call(**kwargs), attempts=3, cap=10.0)
