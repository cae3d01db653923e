"""What each kind of job carries: one pydantic model per payload, and `enqueue`, which queues a
job from its model in the caller's transaction.

The worker reads a claimed job's payload with its kind's model (`bot.jobs.registry`) before the
runner sees it, so a runner works with checked fields and a payload that does not fit is
dead-lettered at once. A model stores exactly the JSON its kind stored before the models existed:
jobs queued by an older version read the same, and keys a model does not know are ignored.

`notify` has one payload per operation, told apart by `op` (`Notify`): a reply in a case's thread,
the first post or an update of a case's parent message, a post in another channel.

This module imports nothing from `bot.delivery`, so delivery can queue its own jobs with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.states import JobKind
from storage import jobs

# A moment, kept in UTC and stored as its ISO text ("2026-11-30T08:00:00+00:00").
UtcTime = Annotated[
    AwareDatetime,
    AfterValidator(lambda moment: moment.astimezone(UTC)),
    PlainSerializer(lambda moment: moment.isoformat(), return_type=str),
]
Blocks = list[dict[str, Any]] | None  # Block Kit, as Slack takes it


class JobPayload(BaseModel):
    """A job's payload; `kind` says which job kind carries it."""

    model_config = ConfigDict(frozen=True)
    kind: ClassVar[JobKind]

    def stored(self) -> dict[str, Any]:
        """The payload as the `jobs` table keeps it (JSON)."""
        return self.model_dump(mode="json")


class SubmitNotice(JobPayload):
    """Send one notice to its platform."""

    kind: ClassVar[JobKind] = JobKind.SUBMIT
    notice_id: int
    case_id: int


class PollNotice(JobPayload):
    """Ask a platform where a sent notice's listings stand."""

    kind: ClassVar[JobKind] = JobKind.POLL
    notice_id: int
    case_id: int


class LookupNotice(JobPayload):
    """Ask a platform whether a held notice arrived (its fate was unknown after the send's
    `attempt`, the notice's count of sends then)."""

    kind: ClassVar[JobKind] = JobKind.LOOKUP
    notice_id: int
    case_id: int
    attempt: int


class AnswerNotice(JobPayload):
    """Send a person's answer to the platform's request for information on a notice; the answer
    itself (text, links, files, listings, who) is its `answer_requested` event, `answer_id`."""

    kind: ClassVar[JobKind] = JobKind.ANSWER
    notice_id: int
    case_id: int
    answer_id: int


class ThreadReply(JobPayload):
    """A reply in the case's thread (rendered when it was queued: it is history); with
    `refresh_parent`, the parent message's summary is then updated too."""

    kind: ClassVar[JobKind] = JobKind.NOTIFY
    op: Literal["thread"] = "thread"
    case_id: int
    text: str
    blocks: Blocks = None
    # Stored only when set, as before this model.
    refresh_parent: bool = Field(default=False, exclude_if=lambda refresh: not refresh)


class PostParent(JobPayload):
    """The case's parent message, posted once (rendered from the database when the job runs)."""

    kind: ClassVar[JobKind] = JobKind.NOTIFY
    op: Literal["post_parent"] = "post_parent"
    case_id: int


class UpdateParent(JobPayload):
    """The case's parent message as it stands now (posted if it is not out yet)."""

    kind: ClassVar[JobKind] = JobKind.NOTIFY
    op: Literal["update_parent"] = "update_parent"
    case_id: int


class ChannelPost(JobPayload):
    """A message in a channel that is not a case thread (escalations)."""

    kind: ClassVar[JobKind] = JobKind.NOTIFY
    op: Literal["post"] = "post"
    channel: str
    text: str
    blocks: Blocks = None


CaseMessage = ThreadReply | PostParent | UpdateParent
Notify = Annotated[CaseMessage | ChannelPost, Field(discriminator="op")]


class PostDigest(JobPayload):
    """The weekly digest of one channel, with the figures up to its scheduled moment."""

    kind: ClassVar[JobKind] = JobKind.DIGEST
    channel: str
    scheduled_at: UtcTime


class SweepReminders(JobPayload):
    """The hourly SLA sweep (and the queue's housekeeping)."""

    kind: ClassVar[JobKind] = JobKind.REMIND
    scheduled_at: UtcTime


class ReadMailbox(JobPayload):
    """One period's read of the team's mailbox."""

    kind: ClassVar[JobKind] = JobKind.MAILBOX
    scheduled_at: UtcTime


class CaptureListing(JobPayload):
    """Fetch one listing's page (the case's listing at `position`) and keep it as evidence."""

    kind: ClassVar[JobKind] = JobKind.CAPTURE
    case_id: int
    position: int


def capture_key(case_id: int, position: int) -> str:
    """The dedupe key of the capture of the case's listing at `position`: one per listing, and
    how a notice finds the captures it waits for (`bot.delivery.evidence_wait`)."""
    return f"capture:{case_id}:{position}"


def evidence_serial_key(case_id: int) -> str:
    """The serial key of a case's `keep_files` and `bundle` jobs: they run one at a time, so the
    case's file limit holds and a bundle holds the files added before it was asked for."""
    return f"evidence:{case_id}"


class SweepEvidence(JobPayload):
    """The hourly retention sweep of evidence (`evidence.keep_days`)."""

    kind: ClassVar[JobKind] = JobKind.EVIDENCE_SWEEP
    scheduled_at: UtcTime


class KeepFiles(JobPayload):
    """Files a person added as a case's evidence (the report form, **Add evidence**): each a
    Slack file object, cut to what fetching it needs."""

    kind: ClassVar[JobKind] = JobKind.KEEP_FILES
    case_id: int
    added_by: str
    files: list[dict[str, Any]]
    note: str = ""


class BuildBundle(JobPayload):
    """A case's evidence bundle, asked for by `requested_by`, uploaded into its thread."""

    kind: ClassVar[JobKind] = JobKind.BUNDLE
    case_id: int
    requested_by: str


async def enqueue(
    session: AsyncSession,
    payload: JobPayload,
    *,
    run_at: datetime | None = None,
    delay: timedelta | None = None,
    serial_key: str | None = None,
    dedupe_key: str | None = None,
) -> int | None:
    """Queue a job of `payload`'s kind in the caller's transaction, due at `run_at`, or `delay`
    after the database's clock (neither: at once); returns its id, or None if a job with
    `dedupe_key` exists."""
    return await jobs.enqueue(
        session,
        kind=str(payload.kind),
        payload=payload.stored(),
        run_at=run_at,
        delay=delay,
        serial_key=serial_key,
        dedupe_key=dedupe_key,
    )


async def enqueue_many(session: AsyncSession, payloads: Sequence[tuple[JobPayload, str]]) -> None:
    """Queue jobs, each (payload, dedupe_key), in the caller's transaction: one statement per
    kind however many. A dedupe key that exists is skipped."""
    by_kind: dict[JobKind, list[tuple[dict[str, Any], str]]] = {}
    for payload, dedupe_key in payloads:
        by_kind.setdefault(payload.kind, []).append((payload.stored(), dedupe_key))
    for kind, batch in by_kind.items():
        await jobs.enqueue_many(session, kind=str(kind), jobs=batch)
