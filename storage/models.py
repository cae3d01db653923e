"""The tables: cases, listings, notices, events (append-only), jobs and platform OAuth tokens.

Table models only; the shapes handlers and adapters exchange live in `bot/`. Timestamps are stored
as timezone-aware UTC. The open-listing uniqueness rule is a partial unique index, so the database
itself refuses a second open report of the same listing key, whatever races above it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel
from typing_extensions import override

# The stored vocabulary: the values of `bot.core.states`' enums, which storage may not import.
# tests/test_vocabulary.py checks every copy here and in the queries against those enums.

# Listing statuses. Closed ones no longer block a new report of the same key.
LISTING_STATUSES = (
    "queued",
    "submitted",
    "in_review",
    "removed",
    "rejected",
    "needs_info",
    "failed",
    "withdrawn",
    "relisted",
)
CLOSED_STATUSES = ("removed", "rejected", "withdrawn", "relisted")
OPEN_STATUSES = tuple(s for s in LISTING_STATUSES if s not in CLOSED_STATUSES)
# Awaiting the platform: open, but not failed, which is ours to fix (SLA reminders, figures).
AWAITING_STATUSES = tuple(s for s in OPEN_STATUSES if s != "failed")
NOTICE_STATES = ("pending", "sending", "sent", "awaiting_person", "held", "failed", "withdrawn")
# Shown, never stored: a queued listing whose notice awaits a person (`storage.listings.shown_status`).
AWAITING_YOU = "awaiting_you"

_NEEDS_INFO_SQLITE = "kind = 'status_changed' AND json_extract(detail, '$.to') = 'needs_info'"
_NEEDS_INFO_POSTGRES = "kind = 'status_changed' AND (detail ->> 'to') = 'needs_info'"
_OPEN_PREDICATE = "status NOT IN ('removed', 'rejected', 'withdrawn', 'relisted')"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no zone; PostgreSQL uses timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    @override
    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_BIGINT = BigInteger().with_variant(Integer, "sqlite")


def _when(*, nullable: bool, index: bool = False) -> Any:
    if nullable:
        return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, index=index))
    return Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=index)
    )


class Case(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = ({"sqlite_autoincrement": True},)

    # The number in TD-<n>: the database allocates it (IDENTITY / AUTOINCREMENT), so two intakes
    # racing on two replicas can never get the same one.
    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    brand: str
    right_id: str
    infringement: str
    description: str = ""
    evidence: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    seller: str | None = None
    reporter_id: str = Field(index=True)
    team_id: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    # Filed from this private channel: only its members and the approvers may read the case.
    private_channel: str | None = Field(default=None, index=True)
    # Idempotency of intake: a redelivered or double-submitted modal carries the same key.
    intake_key: str | None = Field(default=None, unique=True)
    created_at: datetime = _when(nullable=False, index=True)
    updated_at: datetime = _when(nullable=False)


class Listing(SQLModel, table=True):
    __tablename__ = "listings"
    __table_args__ = (
        Index(
            "uq_listings_open_key",
            "key",
            unique=True,
            sqlite_where=text(_OPEN_PREDICATE),
            postgresql_where=text(_OPEN_PREDICATE),
        ),
        Index("ix_listings_platform_status", "platform", "status"),
        Index("ix_listings_status_created", "status", "created_at"),
        Index("ix_listings_created_at", "created_at"),  # the digest's period queries
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    position: int = 0
    platform: str
    key: str = Field(index=True)
    url: str
    submitted_url: str
    seller: str | None = None
    status: str = "queued"
    status_reason: str | None = None
    reference: str | None = None
    notice_id: int | None = Field(default=None, foreign_key="notices.id", index=True)
    relisted_from: int | None = None
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
    submitted_at: datetime | None = _when(nullable=True)
    decided_at: datetime | None = _when(nullable=True)
    # Each SLA threshold fires once per listing: the reminder in its thread, then the escalation.
    sla_reminded_at: datetime | None = _when(nullable=True)
    sla_escalated_at: datetime | None = _when(nullable=True)


class Notice(SQLModel, table=True):
    __tablename__ = "notices"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    platform: str
    channel: str
    adapter: str
    batch: int = 0
    # NOTICE_STATES; where each may go: bot.core.states.NOTICE_TRANSITIONS
    status: str = Field(default="pending", index=True)
    idempotency_key: str = Field(unique=True)
    reference: str | None = None
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
    sent_at: datetime | None = _when(nullable=True)
    reminded_at: datetime | None = _when(nullable=True)  # a portal notice not confirmed in 24 h


class NoticeRecord(SQLModel, table=True):
    """What went to a platform, kept exactly as it went: write-once (`storage.notice_records`).

    One row per delivery that reached, or may have reached, the platform: the notice itself
    (`kind` "notice") and a person's later answers to it (`kind` "answer"). `body` is the bytes as
    sent: an email's RFC 5322 message, a webhook's or API's JSON body, a portal guide's text and
    fields. `sha256` is of `body`; `config_sha256` of the configuration the notice was built from;
    `facts` are the notice's parts (rights holder, right, listings...) as they were, which exports
    read instead of today's app.yaml. The database refuses an UPDATE (a trigger, migration 0007).
    """

    __tablename__ = "notice_records"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    notice_id: int = Field(foreign_key="notices.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str = "notice"  # notice | answer
    # sent | awaiting_person (a portal guide shown) | uncertain (the send's outcome is unknown)
    outcome: str
    adapter: str
    channel: str
    media_type: str  # message/rfc822 | application/json | text/plain
    body: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str
    message_id: str | None = None  # an email's Message-ID
    in_reply_to: str | None = None  # an answer's: the Message-ID it answers
    path: str | None = None  # where it went: an API path, a webhook path, a portal's URL
    facts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    config_sha256: str
    actor: str = "bot"
    created_at: datetime = _when(nullable=False)


class EvidenceItem(SQLModel, table=True):
    """One piece of a case's evidence: a capture of a listing's page, a screenshot, a file a
    person added. The bytes are in the evidence store under `sha256` (`bot.evidence.store`);
    this row says what they are and whose they are. Rows are only ever inserted (a retention
    sweep deletes them with their bytes)."""

    __tablename__ = "evidence"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    case_id: int = Field(foreign_key="cases.id", index=True)
    listing_id: int | None = Field(default=None, foreign_key="listings.id", index=True)
    # capture (a WARC record of the page) | screenshot (PNG) | page_pdf | file (from a person)
    kind: str
    sha256: str = Field(index=True)
    media_type: str
    size: int
    name: str  # a file's name as given, or one the bot made (ebay-123456789012.warc.gz)
    source_url: str | None = None  # the page captured, or the Slack file it came from
    # What a capture found: listing | captcha | login | home_redirect | not_found | error;
    # None for files. Anything but `listing` is never shown as the listing.
    verdict: str | None = None
    note: str | None = None  # why a capture is not the listing, a file's comment
    added_by: str = "bot"  # a Slack user id, or "bot"
    created_at: datetime = _when(nullable=False)


class Event(SQLModel, table=True):
    """The audit trail. Rows are only ever inserted."""

    __tablename__ = "events"
    __table_args__ = (
        # The scorecard's "share needing clarification" looks up these events by listing.
        Index(
            "ix_events_needs_info",
            "listing_id",
            sqlite_where=text(_NEEDS_INFO_SQLITE),
            postgresql_where=text(_NEEDS_INFO_POSTGRES),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    case_id: int = Field(foreign_key="cases.id", index=True)
    listing_id: int | None = Field(default=None, index=True)
    notice_id: int | None = None
    actor: str
    kind: str
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _when(nullable=False, index=True)


def _partial(condition: str) -> dict[str, Any]:
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


class Job(SQLModel, table=True):
    """A durable unit of background work. All SQL over this table lives in `storage.jobs`."""

    __tablename__ = "jobs"
    # Partial indexes: a claim reads queued jobs in order and stops at its limit, and checks serial
    # keys among active jobs only, however many jobs have ever run (migration 0004).
    __table_args__ = (
        Index("ix_jobs_queued", "run_at", "id", **_partial("state = 'queued'")),
        Index("ix_jobs_leased", "lease_expires_at", **_partial("state = 'running'")),
        Index(
            "ix_jobs_serial_active",
            "serial_key",
            "id",
            **_partial("state IN ('queued', 'running')"),
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    kind: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    state: str = "queued"  # queued | running | done | dead
    run_at: datetime = _when(nullable=False)
    attempts: int = 0
    max_attempts: int = 7
    lease_owner: str | None = None
    lease_expires_at: datetime | None = _when(nullable=True)
    last_error: str | None = None
    # Jobs sharing a serial key run one at a time in id order (a case's thread replies stay in order).
    serial_key: str | None = None
    # Enqueueing the same dedupe key twice is a no-op (periodic runs, redelivered intake).
    dedupe_key: str | None = Field(default=None, unique=True)
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)


class OAuthToken(SQLModel, table=True):
    """A platform's current OAuth tokens, shared by every process (`storage.tokens`).

    Only for platforms whose refresh token changes with each use (Mercado Libre): the one in the
    environment works once, so the current one must be kept where every process finds it. `seed`
    is a SHA-256 of the refresh token the configuration gives, so a new one put there replaces
    what is kept. These are secrets: the database is guarded like the environment.
    """

    __tablename__ = "oauth_tokens"

    key: str = Field(primary_key=True)  # adapter and client id, e.g. mercadolibre:1234567890
    seed: str
    refresh_token: str | None = None
    access_token: str | None = None
    good_until: datetime | None = _when(nullable=True)
    updated_at: datetime = _when(nullable=False)


class MailboxCursor(SQLModel, table=True):
    """How far the mailbox reader got in one IMAP folder (`storage.mailbox`): the last UID it
    stored under the folder's UIDVALIDITY. A new UIDVALIDITY means the UIDs were renumbered: the
    folder is read again from the start, and the messages' SHA-256 keeps each stored once."""

    __tablename__ = "mailbox_cursors"

    folder: str = Field(primary_key=True)
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime = _when(nullable=False)


class MailMessage(SQLModel, table=True):
    """A message read from the team's mailbox, kept once as its raw RFC 5322 bytes, write-once
    like `notice_records` (an UPDATE is refused by a trigger, migration 0009).

    `state` says what the reader made of it: `matched` (to `case_id`, and `notice_id` when known,
    by `matched_by`), `unmatched` (for triage), `skipped` (a message the reader would not read:
    `note` says why), `loop` (one of our own notices come back). `suggestions` are the outcome
    read per listing, `[{"listing_id": 7, "outcome": "removed"}]`.
    """

    __tablename__ = "mail_messages"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    sha256: str = Field(unique=True)
    raw: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    folder: str
    uidvalidity: int = Field(sa_column=Column(BigInteger, nullable=False))
    uid: int = Field(sa_column=Column(BigInteger, nullable=False))
    message_id: str | None = Field(default=None, index=True)
    sender: str | None = None
    subject: str | None = None
    state: str = Field(index=True)  # matched | unmatched | skipped | loop
    note: str | None = None
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    notice_id: int | None = Field(default=None, foreign_key="notices.id")
    platform: str | None = None
    matched_by: str | None = None  # reply_header | case_ref | complaint_number | listing | sender
    outcome: str | None = None  # the message's outcome as a whole
    suggestions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = _when(nullable=False)


class MailHandling(SQLModel, table=True):
    """What became of a message from the mailbox (`storage.mail_handling`), beside the write-once
    `mail_messages` row: `suggested` in case `case_id`'s thread, `applied` (by `actor`; `mailbox`
    when applied automatically), `inbox` (waiting for triage), or `dismissed`; a message the reader
    skipped has none until an approver attaches or dismisses it. `suggestions` are
    the outcomes per listing now proposed for the case; `source` is `mailbox` or `slack` (the
    Record platform reply shortcut). Changed only by guarded writes, so a press acts once."""

    __tablename__ = "mail_handling"

    mail_id: int = Field(
        sa_column=Column(
            _BIGINT, ForeignKey("mail_messages.id"), primary_key=True, autoincrement=False
        )
    )
    state: str = Field(index=True)  # suggested | applied | inbox | dismissed
    source: str  # mailbox | slack
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    notice_id: int | None = Field(default=None, foreign_key="notices.id")
    matched_by: str | None = None  # as in mail_messages, or `person` when attached from triage
    suggestions: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    actor: str | None = None
    created_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False)
