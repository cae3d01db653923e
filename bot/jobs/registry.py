"""The job registry: every `JobKind` with the model its payload is read with, its runner, and who
is told when one of its jobs is dead-lettered. The kinds that act for a notice (submit, poll,
lookup, answer) each have a dead-letter handler, so none dies without a word in the case's
thread.

The bot's worker runs exactly these kinds (`bound_to`), each bound to the bot's runtime. A new
kind of job is a `JobKind` member, a payload model in `bot.jobs.payloads`, a runner, and a line
here.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from bot.core.states import JobKind
from bot.delivery.answers.send import on_answer_dead, run_answer
from bot.delivery.lookup import on_lookup_dead, run_lookup
from bot.delivery.poll import on_poll_dead, run_poll
from bot.delivery.submit import on_submit_dead, run_submit
from bot.evidence.added import on_keep_files_dead, run_keep_files
from bot.evidence.bundle_thread import on_bundle_dead, run_bundle
from bot.evidence.capture import run_capture
from bot.evidence.retention import run_evidence_sweep
from bot.jobs.notify import run_notify
from bot.jobs.payloads import (
    AnswerNotice,
    BuildBundle,
    CaptureListing,
    KeepFiles,
    LookupNotice,
    Notify,
    PollNotice,
    PostDigest,
    ReadMailbox,
    SubmitNotice,
    SweepEvidence,
    SweepReminders,
)
from bot.jobs.publish import run_digest, run_remind
from bot.jobs.worker import JobContext, JobHandler
from bot.mailbox.reader import run_mailbox
from bot.runtime import Runtime
from storage.jobs import ClaimedJob

P = TypeVar("P")


@dataclass(frozen=True)
class JobType(Generic[P]):
    """One kind of job: its payload's model, its runner, and its dead-letter handler, if any."""

    payload: TypeAdapter[P]
    run: Callable[[Runtime, JobContext[P]], Awaitable[None]]
    on_dead: Callable[[Runtime, ClaimedJob, str], Awaitable[None]] | None = None

    def bind(self, rt: Runtime) -> JobHandler[P]:
        """This kind as the worker runs it for the bot of `rt`."""
        return JobHandler(
            run=functools.partial(self.run, rt),
            payload=self.payload,
            on_dead=functools.partial(self.on_dead, rt) if self.on_dead is not None else None,
        )


JOB_TYPES: Mapping[JobKind, JobType[Any]] = MappingProxyType(
    {
        JobKind.SUBMIT: JobType(TypeAdapter(SubmitNotice), run_submit, on_dead=on_submit_dead),
        JobKind.POLL: JobType(TypeAdapter(PollNotice), run_poll, on_dead=on_poll_dead),
        JobKind.LOOKUP: JobType(TypeAdapter(LookupNotice), run_lookup, on_dead=on_lookup_dead),
        JobKind.ANSWER: JobType(TypeAdapter(AnswerNotice), run_answer, on_dead=on_answer_dead),
        JobKind.NOTIFY: JobType(TypeAdapter(Notify), run_notify),
        JobKind.DIGEST: JobType(TypeAdapter(PostDigest), run_digest),
        JobKind.REMIND: JobType(TypeAdapter(SweepReminders), run_remind),
        JobKind.MAILBOX: JobType(TypeAdapter(ReadMailbox), run_mailbox),
        JobKind.CAPTURE: JobType(TypeAdapter(CaptureListing), run_capture),
        JobKind.EVIDENCE_SWEEP: JobType(TypeAdapter(SweepEvidence), run_evidence_sweep),
        JobKind.KEEP_FILES: JobType(
            TypeAdapter(KeepFiles), run_keep_files, on_dead=on_keep_files_dead
        ),
        JobKind.BUNDLE: JobType(TypeAdapter(BuildBundle), run_bundle, on_dead=on_bundle_dead),
    }
)


def bound_to(rt: Runtime) -> dict[str, JobHandler[Any]]:
    """Every kind of job, bound to the bot of `rt`: what its worker is built with."""
    return {str(kind): job_type.bind(rt) for kind, job_type in JOB_TYPES.items()}
