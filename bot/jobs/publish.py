"""The scheduled jobs' runners: post the weekly digest (message, then its chart in the thread)
and run the SLA sweep."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.states import JobKind
from bot.figures.digest import Digest, build_digest
from bot.jobs import reminders
from bot.jobs.backoff import is_transient, retry_after, with_retries
from bot.jobs.payloads import PostDigest, SweepReminders
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from storage.jobs import JobQueue

# Finished ones are deleted after keep_done_jobs.
PURGED_KINDS = tuple(
    str(kind)
    for kind in (
        JobKind.SUBMIT,
        JobKind.POLL,
        JobKind.LOOKUP,
        JobKind.ANSWER,
        JobKind.NOTIFY,
        JobKind.MAILBOX,
        JobKind.CAPTURE,
    )
)

log = logging.getLogger("takedown.publish")


async def post_digest(slack: AsyncWebClient, *, channel: str, digest: Digest) -> str:
    """Post the digest to `channel` and its chart into the message's thread; returns the ts."""
    posted = await with_retries(
        lambda: slack.chat_postMessage(
            channel=channel, text=digest.text, blocks=digest.blocks, unfurl_links=False
        )
    )
    ts = str(posted["ts"])
    if digest.chart_png:
        png = digest.chart_png
        await with_retries(
            lambda: slack.files_upload_v2(
                channel=channel,
                thread_ts=ts,
                content=png,
                filename="takedowns-by-platform.png",
                title="Reported vs removed, by platform",
            )
        )
    return ts


async def run_digest(rt: Runtime, ctx: JobContext[PostDigest]) -> None:
    """The `digest` job: the figures up to its scheduled moment, posted once to its channel."""
    channel = ctx.args.channel
    digest = await build_digest(rt.db, rt.config, now=ctx.args.scheduled_at)
    try:
        await post_digest(rt.slack, channel=channel, digest=digest)
    except SlackApiError as exc:
        error = exc.response.get("error") or f"HTTP {exc.response.status_code}"
        if is_transient(exc):
            raise RetryLater(f"Slack: {error}", delay=retry_after(exc)) from None
        raise JobFailed(f"Slack refused the digest for {channel}: {error}") from None


async def run_remind(rt: Runtime, _ctx: JobContext[SweepReminders]) -> None:
    """The hourly `remind` job."""
    # Due at the clock's now, not at the hour the run was scheduled for (its payload's
    # `scheduled_at` is its run key): a late run still sends everything due by then.
    now = rt.clock()
    sent = await reminders.sweep(rt, now=now)
    log.info("SLA sweep: %s", sent)
    # Housekeeping in the same hourly run: finished delivery and message jobs are kept a while
    # (to look into), then deleted. Periodic runs are kept: their run keys make them run once.
    purged = await JobQueue(rt.db).purge_done(
        kinds=PURGED_KINDS, older_than=now - rt.config.delivery.keep_done_jobs
    )
    if purged:
        log.info("deleted %s finished job(s)", purged)
