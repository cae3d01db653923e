"""Slack side effects after the first reply, as durable `notify` jobs.

Every post to a case's thread and every update of its parent message is a job with the case's
serial key, so a Slack outage or rate limit delays messages but loses none, and a case's replies
arrive in the order they were written. Thread replies are rendered when the event happens (they
are history); the parent message is rendered from the database when the job runs (it is state).

A `notify` job's payload is one of four models told apart by `op` (`bot.jobs.payloads.Notify`):
a thread reply, the parent's first post, a parent update, or a post in another channel.

A case's thread lives where its `channel_id` and `thread_ts` say. When Slack will not take the
bot's posts in the case's channel (another person's DM, a private channel the bot is not in, an
archived channel), the thread starts, or continues, in the reporter's DM, whose first reply says
why; every later post reads the case and follows it there.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.cases import case_ref
from bot.jobs.backoff import is_transient, record_after_effect, retry_after, with_retries
from bot.jobs.coalesce import Missing
from bot.jobs.loaders import PARENT_PREVIEW
from bot.jobs.parent_details import case_details, listing_lines
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
    """The case's parent message: what it is, who reported it, its listings' figures, its
    evidence, sellers and notes, and who acted last."""
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
        listings=listing_lines(summary),
        description=case.description,
        details=case_details(case, summary),
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


# What Slack answers for a channel the bot cannot post in: one it cannot see (a private channel it
# is not in, a DM between other people), one it is not a member of, one that is archived. A case's
# thread then lives in its reporter's DM (`_post_parent`, `_move_thread`): the reporter was told
# the case is open, and its notices wait on people who must read that thread.
UNREACHABLE = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


def _unreachable(exc: SlackApiError) -> str | None:
    error = exc.response.get("error")
    return str(error) if error in UNREACHABLE else None


async def _post_to_channel(rt: Runtime, post: ChannelPost) -> None:
    try:
        await _post_in_channel(rt, channel=post.channel, text=post.text, blocks=post.blocks or [])
    except SlackApiError as exc:
        if (error := _unreachable(exc)) is not None:
            # chat:write.public covers public channels; a private one needs an invitation.
            raise JobFailed(
                f"cannot post in channel {post.channel} ({error}): invite the bot there "
                "(/invite @takedown-bot), or name another channel in app.yaml"
            ) from None
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
                await _update_parent_or_move(rt, case, parent)
            case ThreadReply():
                await _reply_in_thread(rt, message, case, parent)
    except SlackApiError as exc:
        raise _failure(exc, f"Slack refused {message.op} for {case_ref(case_id)}") from None


async def _reply_in_thread(rt: Runtime, reply: ThreadReply, case: Case, parent: Rendered) -> None:
    """Post the reply in the case's thread (the parent first, if it is not out yet); with
    `refresh_parent`, then update the parent's summary. A thread whose channel no longer takes
    the bot's posts moves to the reporter's DM first."""
    if case.thread_ts is None:
        case = await _post_parent(rt, None, case, parent)
    try:
        await _post_reply(rt, case, reply)
    except SlackApiError as exc:
        if (error := _unreachable(exc)) is None:
            raise
        case = await _move_thread(rt, case, error)
        await _post_reply(rt, case, reply)
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


async def _post_reply(rt: Runtime, case: Case, reply: ThreadReply) -> None:
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


def _failure(exc: SlackApiError, refused: str) -> RetryLater | JobFailed:
    """What a Slack error makes of the job: a later try if it is transient, else dead-lettered."""
    error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
    if is_transient(exc):
        return RetryLater(f"Slack: {error}", delay=retry_after(exc))
    return JobFailed(f"{refused}: {error}")


async def _post_parent(
    rt: Runtime, ctx: JobContext[Notify] | None, case: Case, parent: Rendered
) -> Case:
    """Post the case's parent message once and remember its ts (a retried job does not post
    again): in the case's channel, or in the reporter's DM when the case names none or the bot
    cannot post there (and then says so in the thread)."""
    if case.thread_ts is not None:
        return case
    if case.channel_id is None:
        dm = await _dm_channel(rt, case.reporter_id)
        return await _start_thread(rt, ctx, case, parent, channel=dm, refused=None)
    try:
        return await _start_thread(rt, ctx, case, parent, channel=case.channel_id, refused=None)
    except SlackApiError as exc:
        if (error := _unreachable(exc)) is None:
            raise
        refused = _Refused(case.channel_id, error, None)
    return await _start_thread_in_dm(rt, ctx, case, parent, refused)


async def _update_parent_or_move(rt: Runtime, case: Case, parent: Rendered) -> None:
    """Refresh the parent message; if its channel no longer takes the bot's posts, the thread
    moves to the reporter's DM (with a fresh parent message, so nothing is left to refresh)."""
    try:
        await _update_parent(rt, case, parent)
    except SlackApiError as exc:
        if (error := _unreachable(exc)) is None:
            raise
        await _move_thread(rt, case, error)


@dataclass(frozen=True)
class _Refused:
    """Where a case's thread could not go, and why (Slack's error)."""

    channel: str
    error: str
    thread_ts: str | None  # the thread already there, when it is moved


async def _move_thread(rt: Runtime, case: Case, error: str) -> Case:
    """The case's thread, refused (`error`) in its channel, continues in the reporter's DM."""
    assert case.id is not None and case.channel_id is not None
    refused = _Refused(case.channel_id, error, case.thread_ts)
    parent = render_parent(rt, case, await rt.loads.summary(case.id))
    return await _start_thread_in_dm(rt, None, case, parent, refused)


async def _start_thread_in_dm(
    rt: Runtime, ctx: JobContext[Notify] | None, case: Case, parent: Rendered, refused: _Refused
) -> Case:
    ref = case_ref(case.id or 0)
    log.warning(
        "%s: cannot post in channel %s (%s); its thread goes to the reporter's DM",
        ref,
        refused.channel,
        refused.error,
    )
    dm = await _dm_channel(rt, case.reporter_id)
    if dm == refused.channel:
        raise JobFailed(f"cannot post {ref}'s thread in the reporter's DM {dm}: {refused.error}")
    try:
        case = await _start_thread(rt, ctx, case, parent, channel=dm, refused=refused)
    except SlackApiError as exc:
        if (error := _unreachable(exc)) is None:
            raise
        raise JobFailed(
            f"cannot post {ref}'s thread in channel {refused.channel} ({refused.error}) "
            f"nor in the reporter's DM {dm} ({error})"
        ) from None
    await _tell_where(rt, case, refused)
    return case


async def _start_thread(
    rt: Runtime,
    ctx: JobContext[Notify] | None,
    case: Case,
    parent: Rendered,
    *,
    channel: str,
    refused: _Refused | None,
) -> Case:
    """Post the parent message in `channel` and record there the case's thread (with `ctx`, the
    job completes in the same transaction)."""
    assert case.id is not None
    case_id = case.id
    text, blocks = parent
    response = await _post_in_channel(rt, channel=channel, text=text, blocks=blocks)
    ts = str(response["ts"])
    channel = str(response.get("channel") or channel)
    detail: dict[str, Any] = {"channel": channel, "ts": ts}
    if refused is not None:
        detail["refused"] = {"channel": refused.channel, "error": refused.error}
        if refused.thread_ts is not None:
            detail["refused"]["ts"] = refused.thread_ts
    kind = "thread_moved" if refused is not None and refused.thread_ts else "thread_started"

    async def record() -> None:
        async with rt.db.transaction() as session:
            await set_thread(session, case_id=case_id, channel_id=channel, thread_ts=ts)
            await add_event(session, case_id=case_id, actor="bot", kind=kind, detail=detail)
            if ctx is not None:
                await ctx.complete(session)

    await record_after_effect(record)  # posted: never post it again for a database restart
    case.channel_id, case.thread_ts = channel, ts
    return case


async def _tell_where(rt: Runtime, case: Case, refused: _Refused) -> None:
    """Say in the case's new thread why it is in the reporter's DM. Posted at once, to come
    before the thread's other replies; if Slack refuses now, queued instead of lost. Never
    raises: the thread is recorded, and the job must not run again for this note."""
    assert case.id is not None and case.channel_id is not None and case.thread_ts is not None
    case_id, text = case.id, where_text(case_ref(case.id), refused.channel, refused.error)
    try:
        await _slack(
            rt,
            "chat_postMessage",
            channel=case.channel_id,
            thread_ts=case.thread_ts,
            text=text,
            unfurl_links=False,
        )
        return
    except SlackApiError as exc:
        log.warning("%s: could not say where its thread is now: %s", case_ref(case_id), exc)

    async def queue() -> None:
        async with rt.db.transaction() as session:
            await enqueue_thread_reply(session, case_id=case_id, text=text)

    try:
        await record_after_effect(queue)
    except Exception:
        log.exception("%s: could not queue the note on where its thread is", case_ref(case_id))


def where_text(ref: str, channel: str, error: str) -> str:
    """Why the case's thread is in the reporter's DM, and what would bring threads back."""
    named = f"<#{channel}>" if _CHANNEL_ID.fullmatch(channel) else "the channel"
    if channel.startswith("D"):  # a DM the bot is not part of
        why, fix = f"You filed {ref} from a direct message I am not part of", ""
    elif error == "is_archived":
        why, fix = f"{named} is archived", ""
    else:
        why = (
            f"I am not a member of {named}"
            if error == "not_in_channel"
            else f"I cannot see {named}"
        )
        fix = " To have threads there, invite me: `/invite @takedown-bot`."
    return f"{why}, so {ref}'s status thread is here, in our direct messages.{fix}"


_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]{2,}")


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
    return await _slack(
        rt, "chat_postMessage", channel=channel, text=text, blocks=blocks, unfurl_links=False
    )


async def _dm_channel(rt: Runtime, user_id: str) -> str:
    """The bot's DM with `user_id` (conversations.open, scope im:write)."""
    response = await _slack(rt, "conversations_open", users=user_id)
    return str(response["channel"]["id"])


async def _slack(rt: Runtime, method: str, **kwargs: Any) -> Any:
    call = getattr(rt.slack, method)
    return await with_retries(lambda: call(**kwargs), attempts=3, cap=10.0)
