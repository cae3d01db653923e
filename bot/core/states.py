"""Statuses, states and job kinds, and where each may go next.

The stored strings are the enum values, so rows written before these enums existed read the same.
`storage` may not import this module and keeps copies of the strings it queries by;
tests/test_vocabulary.py checks that they equal these values.

A status changes only through one guarded write per entity (`bot.delivery.states`): the allowed
sources for a target come from the tables here, so a write that raced with another (a withdrawal
between loading a notice and sending it) changes nothing and says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar


class ListingStatus(StrEnum):
    """Where one listing stands with its platform."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    REMOVED = "removed"
    REJECTED = "rejected"
    NEEDS_INFO = "needs_info"
    FAILED = "failed"
    WITHDRAWN = "withdrawn"
    RELISTED = "relisted"

    @property
    def is_open(self) -> bool:
        """Open listings block a new report of the same listing; closed ones do not."""
        return self not in CLOSED_LISTING_STATUSES


CLOSED_LISTING_STATUSES = frozenset(
    {
        ListingStatus.REMOVED,
        ListingStatus.REJECTED,
        ListingStatus.WITHDRAWN,
        ListingStatus.RELISTED,
    }
)
# In lifecycle order, as lists and summaries show them.
OPEN_LISTING_STATUSES = tuple(s for s in ListingStatus if s not in CLOSED_LISTING_STATUSES)
CLOSED_IN_ORDER = tuple(s for s in ListingStatus if s in CLOSED_LISTING_STATUSES)
# What a platform can decide about a listing; the bot and people set the others.
DECISIONS = frozenset(
    {
        ListingStatus.SUBMITTED,
        ListingStatus.IN_REVIEW,
        ListingStatus.REMOVED,
        ListingStatus.REJECTED,
        ListingStatus.NEEDS_INFO,
    }
)


# Shown, never stored: a `queued` listing whose notice is `awaiting_person` (its portal guide is
# posted and nobody has confirmed filing it) waits for a person, not for the bot, and every surface
# says so. Derived where it is shown (`shown_status`; in SQL, `storage.listings.shown_status`), so
# the stored statuses and their transitions stay as they are.
AWAITING_YOU = "awaiting_you"
# Open listing statuses as people see them, in lifecycle order.
SHOWN_OPEN_STATUSES: tuple[str, ...] = (
    ListingStatus.QUEUED,
    AWAITING_YOU,
    *(s for s in OPEN_LISTING_STATUSES if s != ListingStatus.QUEUED),
)
SHOWN_IN_ORDER: tuple[str, ...] = (*SHOWN_OPEN_STATUSES, *CLOSED_IN_ORDER)


class NoticeState(StrEnum):
    """Where one notice (one submission to one channel) stands."""

    PENDING = "pending"  # queued to be sent
    SENDING = "sending"  # a worker is sending it, or died while doing so
    SENT = "sent"  # the platform has it
    AWAITING_PERSON = "awaiting_person"  # portal: a person files it and confirms
    HELD = "held"  # its fate is unknown; a person decides
    FAILED = "failed"  # refused, or out of tries
    WITHDRAWN = "withdrawn"  # the team took it back before it was sent


class CaseState(StrEnum):
    """A case's state, derived from its listings: open while any listing is."""

    OPEN = "open"
    CLOSED = "closed"


class JobKind(StrEnum):
    """Every kind of durable job; `bot.jobs.registry` maps each to its runner and payload."""

    SUBMIT = "submit"
    POLL = "poll"
    LOOKUP = "lookup"  # asks a platform, slowly, whether a held notice arrived
    ANSWER = "answer"  # sends a person's answer to a platform's request for information
    NOTIFY = "notify"
    DIGEST = "digest"
    REMIND = "remind"
    MAILBOX = "mailbox"  # reads the team's mailbox (bot.mailbox.reader)
    CAPTURE = "capture"  # a listing's page kept as evidence (bot.evidence.capture)
    EVIDENCE_SWEEP = "evidence_sweep"  # hourly: evidence older than evidence.keep_days deleted
    KEEP_FILES = "keep_files"  # files a person added as evidence, fetched from Slack and kept
    BUNDLE = "bundle"  # a case's evidence bundle, built and uploaded into its thread


class JobState(StrEnum):
    """Where a durable job stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


L, N = ListingStatus, NoticeState

# Where a listing may go from each status. Platform answers only move a listing forward; a removed
# listing reported again becomes `relisted` (a new listing takes its place).
LISTING_TRANSITIONS: Mapping[ListingStatus, frozenset[ListingStatus]] = {
    L.QUEUED: frozenset(
        {L.SUBMITTED, L.IN_REVIEW, L.REMOVED, L.REJECTED, L.NEEDS_INFO, L.FAILED, L.WITHDRAWN}
    ),
    L.SUBMITTED: frozenset(
        {L.IN_REVIEW, L.REMOVED, L.REJECTED, L.NEEDS_INFO, L.FAILED, L.WITHDRAWN}
    ),
    L.IN_REVIEW: frozenset({L.REMOVED, L.REJECTED, L.NEEDS_INFO, L.WITHDRAWN}),
    L.NEEDS_INFO: frozenset({L.SUBMITTED, L.IN_REVIEW, L.REMOVED, L.REJECTED, L.WITHDRAWN}),
    L.FAILED: frozenset({L.QUEUED, L.SUBMITTED, L.IN_REVIEW, L.WITHDRAWN}),
    L.REMOVED: frozenset({L.RELISTED}),
    L.REJECTED: frozenset(),
    L.WITHDRAWN: frozenset(),
    L.RELISTED: frozenset(),
}

# A person (an approver) recording a decision may also move an open listing from one decision to
# another (in review back to submitted). A closed decision is left only by a correction (below).
LISTING_TRANSITIONS_BY_PERSON: Mapping[ListingStatus, frozenset[ListingStatus]] = {
    source: targets
    | (DECISIONS - {source} if source in DECISIONS and source.is_open else frozenset())
    for source, targets in LISTING_TRANSITIONS.items()
}

# A correction: an approver, giving a reason, puts a recorded decision back in review or records
# another decision instead. Removed and rejected listings become open again this way (only this
# way); relisted (reported again: its new case tracks it), withdrawn and failed are not decisions.
CORRECTABLE = (L.REMOVED, L.REJECTED, L.NEEDS_INFO)
CORRECTION_TARGETS = (L.IN_REVIEW, *CORRECTABLE)
LISTING_CORRECTIONS: Mapping[ListingStatus, frozenset[ListingStatus]] = {
    source: frozenset(CORRECTION_TARGETS) - {source} if source in CORRECTABLE else frozenset()
    for source in ListingStatus
}

# Where a notice may go from each state, each arrow a write the code makes:
# - pending → sending: a submit job hands it to its channel (sending → sending: again, after a run
#   died mid-call and the channel is idempotent or says it never got it);
# - sending → pending: a temporary error, or the channel never got it: the job tries again;
# - sending → sent | awaiting_person | held: the channel's receipt, or its fate is unknown;
# - pending | sending → failed: the notice cannot be built, the channel refused it, or the job's
#   tries ran out; awaiting_person → failed: the reporter could not file it on the portal;
# - awaiting_person | held | failed → sent: a person confirms it arrived, with the platform's number;
# - held | failed → pending: a person sends it again (Retry);
# - pending | awaiting_person | held | failed → withdrawn: the team takes it back.
NOTICE_TRANSITIONS: Mapping[NoticeState, frozenset[NoticeState]] = {
    N.PENDING: frozenset({N.SENDING, N.FAILED, N.WITHDRAWN}),
    N.SENDING: frozenset({N.SENDING, N.PENDING, N.SENT, N.AWAITING_PERSON, N.HELD, N.FAILED}),
    N.SENT: frozenset(),
    N.AWAITING_PERSON: frozenset({N.SENT, N.FAILED, N.WITHDRAWN}),
    N.HELD: frozenset({N.PENDING, N.SENT, N.WITHDRAWN}),
    N.FAILED: frozenset({N.PENDING, N.SENT, N.WITHDRAWN}),
    N.WITHDRAWN: frozenset(),
}

S = TypeVar("S", ListingStatus, NoticeState)


def sources(table: Mapping[S, frozenset[S]], target: S) -> frozenset[S]:
    """Every status from which `table` allows a move to `target`: the guard of a status write."""
    return frozenset(source for source, targets in table.items() if target in targets)


def allowed(table: Mapping[S, frozenset[S]], source: str, target: str) -> bool:
    """May a row in `source` (a stored string) move to `target`?"""
    return any(target in targets for state, targets in table.items() if state == source)


def in_order(statuses: Iterable[str]) -> list[ListingStatus]:
    """Listing statuses in lifecycle order, open ones first."""
    given = set(statuses)
    return [s for s in (*OPEN_LISTING_STATUSES, *CLOSED_IN_ORDER) if s in given]


def shown_status(listing_status: str, notice_status: str | None) -> str:
    """A listing's status as people see it: `awaiting_you` while its portal notice waits for a
    person to file it, else its stored status."""
    if listing_status == ListingStatus.QUEUED and notice_status == NoticeState.AWAITING_PERSON:
        return AWAITING_YOU
    return listing_status
