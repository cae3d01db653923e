"""The `submit` job: one notice delivered through its channel's adapter, exactly once.

A new case's notice first waits, briefly, for the evidence being kept for it (its captures, the
report form's files: `bot.delivery.evidence_wait`), before anything is marked.

Nothing is lost or sent twice:
- a notice is marked `sending` (committed) before its adapter is called; a run that finds a notice
  already `sending` knows an earlier run died mid-call. It asks a non-idempotent channel first
  (`find_existing`) and sends again only what the channel says it never got; an idempotent one is
  simply sent again;
- a run sends only a notice it could mark `sending`: one withdrawn (or delivered by another run)
  since the job read it is left alone, and one whose withdrawal was asked while an earlier run had
  it on its way is not sent again. Every status write is guarded (`bot.delivery.states`);
- transient errors are retried inside the run (tenacity), then by the job's durable backoff; after
  the last attempt a notice that never left is `failed` (the thread offers a Retry button), and
  one that may have arrived (the platform could not be asked) is *held*: people are shown it may
  have arrived, and the platform is asked again slowly (`bot.delivery.lookup`);
- the result, its events, its thread replies, the notice as sent (`bot.delivery.copies`) and the
  job's completion commit together (`bot.delivery.record`); what may have reached a platform when
  the outcome is unknown is kept first, as uncertain.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from bot.core.states import NOTICE_TRANSITIONS, NoticeState, sources
from bot.delivery.adapters.base import (
    Adapter,
    AmbiguousError,
    OutgoingNotice,
    PermanentError,
    Receipt,
    TransientError,
)
from bot.delivery.channel import adapter_for, call_channel, outgoing
from bot.delivery.copies import UNCERTAIN, keep_sent
from bot.delivery.elements import MissingElementError
from bot.delivery.evidence_wait import wait_for_evidence
from bot.delivery.record import (
    fail_notice,
    fresh,
    hold,
    record_awaiting_person,
    record_not_taken,
    record_sent,
    withdraw_unsent,
    withdrawal_asked,
)
from bot.delivery.sent_evidence import evidence_for
from bot.delivery.states import move_notices
from bot.jobs.coalesce import Missing
from bot.jobs.payloads import SubmitNotice
from bot.jobs.worker import JobContext, JobFailed, RetryLater
from bot.runtime import Runtime
from storage.jobs import ClaimedJob
from storage.models import Case, Listing, Notice
from storage.notices import NoticeBundle, lock_notice, notice_bundles

log = logging.getLogger("takedown.delivery")

N = NoticeState
# A submit job acts on a notice only while it waits to be sent, or was being sent when a run died.
SENDABLE = sources(NOTICE_TRANSITIONS, N.SENDING)


class _Settled(Exception):
    """This run is over: the notice was held, failed or withdrawn, or another writer moved it."""


async def load_for_job(rt: Runtime, notice_id: int) -> NoticeBundle:
    """The notice of a `submit`, `poll` or `lookup` job, read together with the other jobs'."""
    try:
        return await rt.loads.notice(notice_id)
    except Missing:
        raise JobFailed(f"notice {notice_id} does not exist") from None


async def run_submit(rt: Runtime, ctx: JobContext[SubmitNotice]) -> None:
    """The `submit` job: deliver one notice through its channel, exactly once."""
    notice, case, listings = await _bundle(rt, ctx.args.notice_id)
    if notice.status not in SENDABLE:
        return  # already delivered, held, failed or withdrawn: a duplicate job has nothing to do
    if notice.status != N.SENDING:  # not yet marked: it may wait for the case's evidence
        await wait_for_evidence(rt, case=case, listings=listings)
    adapter = adapter_for(rt, notice)
    assert case.id is not None
    items = await evidence_for(rt, case_id=case.id, listings=listings, adapter=adapter)
    try:
        out = outgoing(rt, notice, case, listings, evidence_items=items)
    except (MissingElementError, PermanentError) as exc:
        await fail_notice(rt, ctx, notice, str(exc), only_from=SENDABLE)
        return
    try:
        receipt = await _deliver(rt, ctx, notice, out, adapter)
    except _Settled:
        return
    await _record_receipt(rt, ctx, notice, out, receipt, adapter)


async def _bundle(rt: Runtime, notice_id: int) -> tuple[Notice, Case, list[Listing]]:
    found = await load_for_job(rt, notice_id)
    return found.notice, found.case, found.listings


async def _deliver(
    rt: Runtime, ctx: JobContext, notice: Notice, out: OutgoingNotice, adapter: Adapter
) -> Receipt:
    """The channel's receipt for the notice: found after a run that died mid-call, or sent now."""
    assert notice.id is not None
    if notice.status == N.SENDING:
        # An earlier run died after marking it: ask the channel before sending anything again.
        if not adapter.idempotent:
            found = await _reconcile(rt, ctx, notice, out, adapter)
            if found is not None:
                return found
        if not await _send_again(rt, ctx, notice, adapter):
            raise _Settled
    elif not await rt.loads.mark_sending(notice.id):  # committed before the channel is called
        log.info("notice %s: no longer waiting to be sent; not sending it", notice.id)
        raise _Settled
    try:
        return await call_channel(rt, notice, lambda: adapter.submit(out), cap=30.0)
    except TransientError as exc:
        if not await record_not_taken(rt, notice, str(exc)):
            raise _Settled from None
        raise RetryLater(f"{notice.platform}: {exc}", delay=exc.retry_after) from None
    except PermanentError as exc:
        await fail_notice(rt, ctx, notice, str(exc), only_from={N.SENDING})
        raise _Settled from None
    except Exception as exc:  # AmbiguousError, or a failure we cannot classify
        return await _after_ambiguous(rt, ctx, notice, out, adapter, exc)


async def _send_again(rt: Runtime, ctx: JobContext, notice: Notice, adapter: Adapter) -> bool:
    """A notice an earlier run left `sending`, which the channel does not have (or may safely be
    sent again): mark it for this run's send, unless its withdrawal was asked meanwhile.

    Under the notice's row lock, which a person's Withdraw takes too: a withdrawal pressed just
    now is seen here, not after the send."""
    assert notice.id is not None
    async with rt.db.transaction() as session:
        if await lock_notice(session, notice.id) != N.SENDING:
            return False
        now = await fresh(session, notice.id)
        if not withdrawal_asked(now.listings):
            marked = await move_notices(
                session, [notice.id], N.SENDING, only_from={N.SENDING}, count_attempt=True
            )
            return notice.id in marked
        if not adapter.idempotent:  # the channel said it never got it
            why = f"it never reached {notice.platform}"
            await withdraw_unsent(session, now.notice, now.case, was=N.SENDING, why=why)
            await ctx.complete(session)
            return False
    # An idempotent channel cannot be asked, and sending it again to find out is what was
    # withdrawn: a person settles it.
    await hold(rt, ctx, notice, "a run died while sending it", look_up=False)
    return False


async def _reconcile(
    rt: Runtime, ctx: JobContext, notice: Notice, out: OutgoingNotice, adapter: Adapter
) -> Receipt | None:
    """Ask the channel whether it already has the notice; hold it when the channel cannot tell.
    While it cannot be asked, the job's backoff asks again; after the last try the notice is held
    and asked about slowly (`on_submit_dead`)."""
    try:
        return await call_channel(rt, notice, lambda: adapter.find_existing(out))
    except TransientError as exc:
        raise RetryLater(
            f"reconciling with {notice.platform}: {exc}", delay=exc.retry_after
        ) from None
    except Exception as exc:
        await hold(rt, ctx, notice, str(exc), look_up=False)
        raise _Settled from None


async def _after_ambiguous(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    out: OutgoingNotice,
    adapter: Adapter,
    exc: Exception,
) -> Receipt:
    """The send may have reached the channel: send again where that is harmless, else ask."""
    if adapter.idempotent:
        if not await record_not_taken(rt, notice, str(exc)):
            raise _Settled from None
        raise RetryLater(f"{notice.platform}: {exc}") from None
    log.warning("notice %s: outcome unknown (%s)", notice.id, exc)
    await _keep_uncertain(rt, notice, out, adapter, exc)
    try:
        receipt = await call_channel(rt, notice, lambda: adapter.find_existing(out))
    except Exception as reconcile_error:
        # Could not be asked (look it up again later), or cannot tell (a person decides).
        look_up = isinstance(reconcile_error, TransientError)
        await hold(rt, ctx, notice, f"{exc} ({reconcile_error})", look_up=look_up)
        raise _Settled from None
    if receipt is None:  # the platform says it never got it: safe to send again
        if not await record_not_taken(rt, notice, str(exc)):
            raise _Settled from None
        raise RetryLater(
            f"{notice.platform}: {exc}; not received, sending again", delay=5
        ) from None
    return replace(receipt, copy=None)  # what arrived is the uncertain copy, kept already


async def _keep_uncertain(
    rt: Runtime, notice: Notice, out: OutgoingNotice, adapter: Adapter, exc: Exception
) -> None:
    """Keep what may have reached the platform, before it is asked about: the record of a send
    whose outcome nobody knows yet. Settled as arrived, this record is what arrived; sent again,
    that send keeps its own."""
    copy = exc.copy if isinstance(exc, AmbiguousError) else None
    if copy is None:
        return
    async with rt.db.transaction() as session:
        await keep_sent(
            session, case_id=notice.case_id, out=out, adapter=adapter, copy=copy, outcome=UNCERTAIN
        )


async def _record_receipt(
    rt: Runtime,
    ctx: JobContext,
    notice: Notice,
    out: OutgoingNotice,
    receipt: Receipt,
    adapter: Adapter,
) -> None:
    """The channel has the notice: record it (sent, or awaiting a person on a portal)."""
    outcome = N.AWAITING_PERSON if receipt.awaiting_person else N.SENT
    async with rt.db.transaction() as session:
        rt.metrics.submissions.labels(notice.platform, outcome).inc()
        if receipt.awaiting_person:
            recorded = await record_awaiting_person(session, notice, out, receipt, adapter)
        else:
            recorded = await record_sent(
                rt,
                session,
                notice,
                receipt,
                adapter,
                only_from={N.SENDING},
                context=f"Notice sent through {adapter.name}",
            )
        if not recorded:
            log.warning(
                "notice %s: the channel has it (reference %s) but another writer moved it meanwhile",
                notice.id,
                receipt.reference,
            )
        if receipt.copy is not None:  # kept even when another writer moved it: it did go out
            await keep_sent(
                session,
                case_id=notice.case_id,
                out=out,
                adapter=adapter,
                copy=receipt.copy,
                outcome=outcome,
            )
        await ctx.complete(session)


async def on_submit_dead(rt: Runtime, job: ClaimedJob, error: str) -> None:
    """After the last attempt: a notice that never left fails (with the platform's last error and
    a Retry button); one that may have arrived, on a channel that cannot be resent safely, is held
    and looked up slowly until the platform answers."""
    notice_id = int(job.payload["notice_id"])
    async with rt.db.sessions() as session:
        found = (await notice_bundles(session, [notice_id])).get(notice_id)
    if found is None:
        log.warning("submit job %s died for notice %s, which does not exist", job.id, notice_id)
        return
    notice = found.notice
    if notice.status == N.SENDING and not adapter_for(rt, notice).idempotent:
        await hold(rt, None, notice, error or notice.last_error or "", look_up=True)
    elif notice.status in SENDABLE:
        await fail_notice(rt, None, notice, notice.last_error or error, only_from=SENDABLE)
